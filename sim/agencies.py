"""Agencies: children's social care, CAMHS, education, police, youth justice and the secure-bed unit.

Each agency is a Mesa agent with its own ``flexibility`` and ``risk_tolerance`` (0..1, set per agency
type and varied per agent), a finite weekly capacity and a budget.  Agencies act on the children they
are responsible for.  So that a national run stays fast, an agency *type* acts on all its agents' children
at once: the per-agent attributes are gathered into arrays (``Roster``) and indexed by each child's
LA or region.  Lower risk tolerance lowers the distress at which an agency escalates; lower flexibility
means fewer tailored responses (support that holds a placement, specialist care) and more
pathway-bound ones (a move up the ladder).

Whom each weekly mechanism acts on is selected by one compiled loop over the children (the end of this
module says why); what the agencies then do with those children is whole-array NumPy.
"""

from __future__ import annotations

import math

import mesa
import numba
import numpy as np

from sim.config import AgencyType, CarePathwaysConfig
from sim.placements import rank_within_groups

# Areas an agency covers.
PER_LA, PER_REGION, NATIONAL = "la", "region", "national"


class Agency(mesa.Agent):
    """An agency: its attitudes, its weekly capacity and its budget."""

    kind = "agency"
    label = "Agency"
    covers = PER_REGION
    payer = "local_authority"

    def __init__(self, model: mesa.Model, area: int, name: str, flexibility: float, risk_tolerance: float,
                 weekly_capacity: float, annual_budget: float, notice_probability: float):
        super().__init__(model)
        self.area = area
        self.name = name
        self.flexibility = flexibility
        self.risk_tolerance = risk_tolerance
        self.weekly_capacity = weekly_capacity
        self.annual_budget = annual_budget
        self.notice_probability = notice_probability
        self.spend_this_year = 0.0

    @property
    def decisions(self) -> int:
        """How many decisions the agency has made (counted for all agents of its type by the ``Roster``)."""
        return int(self.model.roster.decisions[self.kind][self.area])

    def __repr__(self) -> str:
        return f"{self.label}({self.name}, flexibility={self.flexibility:.2f}, risk_tolerance={self.risk_tolerance:.2f})"


class ChildrensSocialCare(Agency):
    """The local authority's children's social care: the corporate parent, one per LA."""

    kind, label, covers, payer = "childrens_social_care", "Children's social care", PER_LA, "local_authority"


class Camhs(Agency):
    """NHS children and young people's mental health services, per region: community care and Tier 4."""

    kind, label, covers, payer = "camhs", "CAMHS", PER_REGION, "nhs"


class Education(Agency):
    """Schools and SEND services, per region: notice crises at the edge of care and may offer support;
    co-fund placements for children with autism or a learning disability."""

    kind, label, covers, payer = "education", "Education", PER_REGION, "education"


class Police(Agency):
    """Police, per region: notice missing episodes and crises, arrest children who harm others."""

    kind, label, covers, payer = "police", "Police", PER_REGION, "justice"


class YouthJusticeService(Agency):
    """Youth justice, per region: bail support in the community (if flexible) or remand."""

    kind, label, covers, payer = "youth_justice", "Youth justice", PER_REGION, "justice"


class FamilyCourt(Agency):
    """The family court, per region: s25 secure accommodation applications and renewals."""

    kind, label, covers, payer = "family_court", "Family court", PER_REGION, "justice"


class HighCourt(Agency):
    """The High Court (national DoL court): DoL orders under the inherent jurisdiction."""

    kind, label, covers, payer = "high_court", "High Court", NATIONAL, "justice"


class SecureWelfareCoordinationUnit(Agency):
    """Allocates the national pool of secure children's home welfare places."""

    kind, label, covers, payer = "secure_welfare_unit", "Secure Welfare Coordination Unit", NATIONAL, "local_authority"


AGENCY_CLASSES = (ChildrensSocialCare, Camhs, Education, Police, YouthJusticeService, FamilyCourt, HighCourt,
                  SecureWelfareCoordinationUnit)


class Roster:
    """Per-type arrays of agency attributes, indexed by area, so decisions are vectorised."""

    def __init__(self, model: mesa.Model, cfg: CarePathwaysConfig, n_la: int, n_regions: int,
                 children_by_la: np.ndarray, region_names: tuple[str, ...], la_names: list[str]):
        self.model = model
        self.by_kind: dict[str, list[Agency]] = {}
        rng = model.streams.generator("agencies")
        la_region = model.geo.la_region
        children_by_region = np.bincount(la_region, weights=children_by_la, minlength=n_regions)
        for cls in AGENCY_CLASSES:
            if cls is SecureWelfareCoordinationUnit:
                params = AgencyType(flexibility=0.5, risk_tolerance=0.5, spread=0.0,
                                    weekly_capacity_per_1000_children=0.0, annual_budget_gbp_per_child=0.0,
                                    notice_probability=1.0)
            else:
                params = getattr(cfg.agencies, cls.kind)
            if cls.covers == PER_LA:
                areas, names, sizes = range(n_la), la_names, children_by_la
            elif cls.covers == PER_REGION:
                areas, names, sizes = range(n_regions), list(region_names), children_by_region
            else:
                areas, names, sizes = range(1), ["england"], np.array([children_by_la.sum()])
            agents = []
            for a in areas:
                jitter = rng.uniform(-params.spread, params.spread, 2)
                agents.append(cls(
                    model, a, names[a],
                    flexibility=float(np.clip(params.flexibility + jitter[0], 0, 1)),
                    risk_tolerance=float(np.clip(params.risk_tolerance + jitter[1], 0, 1)),
                    weekly_capacity=params.weekly_capacity_per_1000_children * sizes[a] / 1000.0,
                    annual_budget=params.annual_budget_gbp_per_child * sizes[a],
                    notice_probability=params.notice_probability,
                ))
            self.by_kind[cls.kind] = agents
        self.decisions = {kind: np.zeros(len(agents), np.int64) for kind, agents in self.by_kind.items()}
        self.refresh()

    def refresh(self) -> None:
        """Re-read the agents' attributes (after a scenario changes them)."""
        self.flexibility, self.risk_tolerance, self.capacity, self.budget, self.notice, self.uid = ({}, {}, {}, {},
                                                                                                     {}, {})
        for kind, agents in self.by_kind.items():
            self.flexibility[kind] = np.array([a.flexibility for a in agents])
            self.risk_tolerance[kind] = np.array([a.risk_tolerance for a in agents])
            self.capacity[kind] = np.array([a.weekly_capacity for a in agents])
            self.budget[kind] = np.array([a.annual_budget for a in agents])
            self.notice[kind] = np.array([a.notice_probability for a in agents])
            self.uid[kind] = np.array([a.unique_id for a in agents])
        self.remaining = {k: np.zeros(len(v)) for k, v in self.capacity.items()}
        self.pressure = {k: np.zeros(len(v)) for k, v in self.capacity.items()}
        self.spent = {k: np.array([a.spend_this_year for a in self.by_kind[k]]) for k in self.by_kind}

    def new_week(self) -> None:
        # Unused fractional capacity carries over (up to one slot), so small agencies at a reduced
        # population scale still get their share of slots over time.
        for k, cap in self.capacity.items():
            self.remaining[k] = np.minimum(self.remaining[k] + cap, cap + 1.0)

    def area_of(self, kind: str, la: np.ndarray, region: np.ndarray) -> np.ndarray:
        covers = self.by_kind[kind][0].covers
        if covers == PER_LA:
            return la
        if covers == PER_REGION:
            return region
        return np.zeros_like(la)

    def effective_flexibility(self, kind: str) -> np.ndarray:
        """Flexibility, less what budget pressure takes away."""
        loss = self.model.cfg.agencies.budget_pressure_flexibility_loss
        return self.flexibility[kind] * (1.0 - loss * self.pressure[kind])

    def ration(self, kind: str, area: np.ndarray, priority: np.ndarray) -> np.ndarray:
        """Grant requests within each agency's remaining weekly capacity, most urgent first."""
        if len(area) == 0:
            return np.zeros(0, bool)
        return _within_capacity(rank_within_groups(area, priority), area, self.remaining[kind])

    def book_spend(self, kind: str, spend_by_area: np.ndarray, week_of_year: int) -> None:
        """Add a week's spend; budget pressure is how far spend runs ahead of the budget so far."""
        self.spent[kind] += spend_by_area
        spent = self.spent[kind]
        so_far = self.budget[kind] * (week_of_year + 1) / 52.0
        with np.errstate(divide="ignore", invalid="ignore"):
            self.pressure[kind] = np.where(so_far > 0, np.clip(spent / so_far - 1.0, 0.0, 1.0), 0.0)

    def new_year(self) -> None:
        self.sync_agents()
        for k in self.spent:
            self.spent[k][:] = 0.0

    def sync_agents(self) -> None:
        """Copy the year's spend back onto the agents (kept in arrays during the year for speed)."""
        for kind, agents in self.by_kind.items():
            for a, s in zip(agents, self.spent[kind]):
                a.spend_this_year = float(s)

    def count_decisions(self, kind: str, area: np.ndarray) -> None:
        """One decision more for the agent of each area given."""
        if len(area):
            self.decisions[kind] += np.bincount(area, minlength=len(self.decisions[kind]))

    def threshold(self, kind: str, base: float) -> np.ndarray:
        """Distress at which each agency of a kind escalates (by area): lower when it tolerates less risk."""
        shift = self.model.cfg.pathway.risk_tolerance_shift
        return base + shift * (self.risk_tolerance[kind] - 0.5)


# ============================================================================ weekly mechanisms
# Each acts on all children at once; the deciding agency is the one responsible for the child.
from sim.children import (  # noqa: E402
    DOL, EXIT_NEEDS_MET, MHA, NEED, NEVER, NO_BASIS, NOT_LOOKED_AFTER, REMAND, S25, WEEKS_PER_YEAR,
)
from sim.config import schedule_value  # noqa: E402
from sim.placements import (  # noqa: E402
    CUSTODY, FAMILY, FOSTER_AGENCY, FOSTER_INHOUSE, MARKET, PLACEMENT_TYPES, RESIDENTIAL, SECURE, SUPPORTED,
    THERAPEUTIC, TIER4, UNREGISTERED, of_type,
)
from sim.randomness import hash_child  # noqa: E402

CSC = "childrens_social_care"
PAYER_INDEX = {"local_authority": 0, "nhs": 1, "justice": 2, "education": 3}


def la_will_fund(model, idx: np.ndarray, decision: str) -> np.ndarray:
    """Whether each child's LA takes on a cost it would otherwise not carry, this week.

    An LA running over its budget is less ready to fund a place the NHS is paying for meanwhile (a
    Tier 4 patient ready for discharge): each agency weighs its own payer's cost.
    """
    ch = model.children
    pressure = model.roster.pressure[CSC][ch.la[idx]]
    loss = model.cfg.agencies.budget_pressure_flexibility_loss * model.levers.own_cost_weight
    return model.streams.uniform(decision, model.week, idx) >= loss * pressure
RESTRICTIVE = (TIER4, SECURE, CUSTODY)


def pathway_placement(model, idx: np.ndarray, w: int) -> np.ndarray:
    """The placement children's social care seeks for each child, by distress on the pathway.

    Below the residential threshold: a foster home (or supported accommodation for some 16-17s);
    above it: a registered children's home.  The threshold is lower where the LA tolerates less risk.
    """
    ch = model.children
    return _pathway_types(idx, ch.distress, *model._thresholds["residential"], ch.birth_week, w,
                          model.streams.key("pathway", w), model.cfg.pathway.supported_accommodation_share)


def edge_hazard_scale(model) -> tuple[np.ndarray, float]:
    """Scale of the weekly entry hazard, per age band, so that entries from the edge match T2-017.

    Entries from the pool are ``edge_share_of_entries`` of the 10-15 and 16-17 starts (T2-017) at the
    start year's distress; afterwards the hazard follows each child's distress, so a scenario that
    lowers distress lowers entries.  Returns (scale for 10-15, scale for 16-17) and the reference distress.
    """
    ch, pop = model.children, model.cfg.population
    act = model.present_children()
    pool = act[ch.legal[act] == NOT_LOOKED_AFTER]
    if len(pool) == 0:
        return np.zeros(2), 0.0
    d = ch.distress[pool]
    ref = float(d.mean())
    weight = np.exp(pop.edge_entry_distress_slope * (d - ref))
    older = ch.age_years(pool, model.week) >= 16
    starts = schedule_value(pop.starts_by_year, model.cfg.start_year) * pop.edge_share_of_entries * model.scale
    target = np.array([pop.start_share_10_to_15, pop.start_share_16_17]) * starts / WEEKS_PER_YEAR
    have = np.array([weight[~older].sum(), weight[older].sum()])
    return np.divide(target, have, out=np.zeros(2), where=have > 0), ref


def edge_of_care(model, w: int) -> None:
    """Children on the edge of care: crises noticed by police or school bring some into care; others
    leave the edge as their needs are met."""
    ch, pop, streams = model.children, model.cfg.population, model.streams
    scale, ref = model.edge_hazard_scale
    slope = pop.edge_entry_distress_slope
    may_enter, exponent, band_scale, draw, noticed, leaving = _edge_pool(
        model.edge_of_care_children(), ch.legal, ch.placement, ch.birth_week, ch.distress, w, scale, slope, ref,
        _above_exp(max(slope * (1.0 - ref), slope * (0.0 - ref))), streams.key("edge_entry", w),
        model.cfg.distress.crisis_threshold, ch.support_until, ch.region, model.roster.notice["education"],
        streams.key("school_notice", w), pop.return_home_max_distress, streams.key("edge_leave", w),
        pop.edge_pool_leave_per_year / WEEKS_PER_YEAR)
    # The hazard's exponential is NumPy's (its vectorised exp can differ in the last bit from a compiled
    # one), for the children whose draw could fall below the hazard.
    p = np.minimum(band_scale * np.exp(exponent), 1.0)
    enter = may_enter[draw < p]  # draw: streams.uniform("edge_entry", w, may_enter), from _edge_pool
    # Schools notice distress at the edge of care; a flexible education service may offer support
    # (within its weekly capacity), which lowers distress and so later entries.
    noticed = _without(noticed, enter)
    _offer_support(model, "education", noticed, "school_offer", "support_until")
    noticed_by_police = ch.has("going_missing", enter) | ch.has("risk_to_others", enter)
    agency = np.where(noticed_by_police, model.agency_uid("police", enter), model.agency_uid("education", enter))
    model.enter_care(enter, "crisis", agency)
    leave = leaving[ch.legal[leaving] == NOT_LOOKED_AFTER]  # not just taken into care
    model.events.add(w, leave, "leaves_edge_of_care", from_type=FAMILY, reason="needs_met",
                     agency=model.agency_uid(CSC, leave))
    model.depart(leave, EXIT_NEEDS_MET)


def _offer_support(model, kind: str, idx: np.ndarray, decision: str, until_attr: str) -> np.ndarray:
    """A flexible agency offers community support (within its weekly capacity); returns who got it."""
    ch, w, roster = model.children, model.week, model.roster
    if len(idx) == 0:
        return np.zeros(0, bool)
    until = getattr(ch, until_attr)
    boost = model.levers.flexibility_boost
    child_area = ch.la if roster.by_kind[kind][0].covers == PER_LA else ch.region  # LA or regional agencies
    willing, area = _willing(idx, child_area, roster.effective_flexibility(kind), boost is not None,
                             _NO_BOOST if boost is None else boost, until, w, model.streams.key(decision, w))
    got = np.zeros(len(idx), bool)
    got[willing] = roster.ration(kind, area[willing], ch.distress[idx[willing]])
    sel, area = idx[got], area[got]
    until[sel] = w + model.cfg.distress.support_weeks
    roster.count_decisions(kind, area)
    if until_attr == "support_until":
        # Who pays for the package: the offering agency's payer.
        ch.support_payer[sel] = PAYER_INDEX[roster.by_kind[kind][0].payer]
    model.events.add(w, sel, "support", basis=ch.basis[sel], from_type=ch.placement[sel], reason=SUPPORT_REASON[kind],
                     agency=roster.uid[kind][area])
    model.tally.add(SUPPORT_TALLY[kind], len(sel))
    return got


_NO_BOOST = np.zeros(0)


SUPPORT_REASON = {CSC: "flexible_support", "camhs": "camhs_support", "education": "school_support",
                  "youth_justice": "bail_support"}
SUPPORT_TALLY = {CSC: "flexible_support_packages", "camhs": "camhs_support_packages",
                 "education": "education_support_packages", "youth_justice": "bail_support_packages"}


def placement_breakdowns(model, w: int) -> None:
    """Placements break down more often as distress outgrows what a placement can hold.  A flexible LA
    may hold the placement with community support; otherwise the child moves on the pathway."""
    ch = model.children
    broke = _breakdowns(model.in_care_children(), ch.placement, ch.distress, model.breakdown_base,
                        model.breakdown_tolerance, model.cfg.breakdown.distress_slope,
                        model.streams.key("breakdown", w))
    held = _offer_support(model, CSC, broke, "hold_placement", "support_until")
    moving = broke[~held]
    model.place(moving, pathway_placement(model, moving, w), "breakdown", may_wait=True)


def escalate_crises(model, w: int) -> None:
    """At high distress agencies escalate: CAMHS offers community support or refers to Tier 4; children's
    social care offers support or refers for a secure bed, or seeks specialist therapeutic care; police
    arrest children who harm others and youth justice may remand them."""
    ch, cfg, roster = model.children, model.cfg, model.roster
    needs = {name: ch.needs[NEED[name]] for name in ("mental_health", "trauma", "risk_to_others", "exploitation",
                                                     "going_missing")}
    # Who each agency would act on, from one pass over the present children (see _crises).
    (tier4_threshold, tier4_area), (secure_threshold, secure_area) = model._thresholds["tier4"], model._thresholds["secure"]
    lowest = np.min((cfg.distress.crisis_threshold, model.lowest_threshold["tier4"],
                     model.lowest_threshold["secure"]))
    camhs_noticed, csc_noticed, home_crisis, arrested = _crises(
        model.present_children(), ch.legal, ch.placement, ch.basis, ch.distress, cfg.distress.crisis_threshold, lowest,
        **needs, tier4_threshold=tier4_threshold, tier4_area=tier4_area, secure_threshold=secure_threshold,
        secure_area=secure_area,
        tier4_referral_week=ch.tier4_referral_week, secure_referral_week=ch.secure_referral_week,
        region=ch.region, la=ch.la, camhs_notice=roster.notice["camhs"], csc_notice=roster.notice[CSC],
        camhs_key=model.streams.key("camhs_notice", w), csc_key=model.streams.key("csc_notice", w),
        arrest_scale=cfg.youth_justice.arrest_per_week_at_crisis * 2, police_tolerance=roster.risk_tolerance["police"],
        police_notice=roster.notice["police"], arrest_key=model.streams.key("arrest", w))

    # Tier 4: mental-health crises, judged by CAMHS against its own risk tolerance.
    supported = _offer_support(model, "camhs", camhs_noticed, "camhs_offer", "camhs_until")
    refer = camhs_noticed[~supported]
    if model.levers.tier4_alternative > 0 and len(refer):
        # Community therapeutic provision with integrated mental-health teams, instead of Tier 4.
        redirect = (model.streams.uniform("tier4_alternative", w, refer) < model.levers.tier4_alternative) & (
            ch.pending_type[refer] < 0)
        request_package(model, refer[redirect], THERAPEUTIC)
        refer = refer[~redirect]
    ch.tier4_referral_week[refer] = w
    model.tier4_referrals_changed(refer)
    model.events.add(w, refer, "tier4_referral", from_type=ch.placement[refer], to_type=TIER4, reason="crisis",
                     agency=model.agency_uid("camhs", refer))
    model.tally.add("tier4_referrals", len(refer))

    # Secure welfare bed: risk of serious harm (to others, from exploitation, from going missing).
    supported = _offer_support(model, CSC, csc_noticed, "crisis_support", "support_until")
    refer = csc_noticed[~supported]
    ch.secure_referral_week[refer] = w
    model.events.add(w, refer, "secure_referral", basis=ch.basis[refer], from_type=ch.placement[refer],
                     to_type=SECURE, reason="crisis", agency=model.agency_uid(CSC, refer))
    model.tally.add("secure_referrals", len(refer))

    # Specialist therapeutic care: a tailored response a flexible LA seeks for a child in crisis in a home
    # (not one with a request or a secure referral, the ones just made included).
    boost = model.levers.flexibility_boost
    preference = min(cfg.pathway.therapeutic_preference + model.levers.therapeutic_preference_boost, 1.0)
    seek = _seeking(home_crisis, ch.pending_type, ch.secure_referral_week, ch.la, roster.effective_flexibility(CSC),
                    boost is not None, _NO_BOOST if boost is None else boost, preference,
                    model.streams.key("therapeutic", w))
    request_package(model, seek, THERAPEUTIC)

    # Police and youth justice: arrest at crisis (``arrested``, drawn in _crises), then remand to custody or not.
    # A flexible youth justice service offers bail support in the community instead of remand.
    bailed = _offer_support(model, "youth_justice", arrested, "bail_offer", "support_until")
    arrested = arrested[~bailed]
    p_remand = cfg.youth_justice.remand_probability * 2 * (1 - roster.risk_tolerance["youth_justice"][ch.region[arrested]])
    remanded = arrested[model.streams.uniform("remand", w, arrested) < p_remand]
    if len(remanded):
        found = model.capacity.find(CUSTODY, ch.la[remanded], ch.distress[remanded], national_only=True)
        got = remanded[found.placed]
        from sim.courts import _geometric, end_orders

        end_orders(model, got[ch.basis[got] == DOL], "discharge", "custody")
        model.move(got, CUSTODY, found.la[found.placed], found.provider[found.placed], "custody",
                   model.agency_uid("youth_justice", got))
        model.set_basis(got, REMAND, until=w + _geometric(model, "remand_length", got,
                                                          cfg.youth_justice.remand_weeks_mean))
        model.events.add(w, got, "remand", order_id=ch.order_id[got], basis=REMAND, to_type=CUSTODY,
                         reason="custody", agency=model.agency_uid("youth_justice", got))
        model.tally.add("waiting_youth_custody", len(remanded) - len(got))


def request_package(model, idx: np.ndarray, ptype: int) -> None:
    """Seek a placement; one that needs two payers starts only after a funding-agreement delay."""
    ch, w = model.children, model.week
    if len(idx) == 0:
        return
    two = model.prices.two_payers(np.full(len(idx), ptype), ch.has("autism_ld", idx))
    ch.pending_type[idx] = ptype
    model.requests_changed(idx)
    delay = model.cfg.funding.funding_agreement_weeks * model.levers.funding_delay_factor
    if model.levers.child_delay_factor is not None:
        delay = delay * model.levers.child_delay_factor[idx]
    ch.pending_week[idx] = np.where(two, w + np.round(delay).astype(np.int64), w)


def tier4_admissions(model, w: int) -> None:
    """Referred children are admitted when a Tier 4 bed is free: in region first, then anywhere."""
    ch, cfg = model.children, model.cfg
    withdrawn, waiting = _referral_queue(model.tier4_referred_children(), ch.tier4_referral_week, ch.placement,
                                         TIER4, ch.distress, *model._thresholds["tier4"],
                                         cfg.pathway.step_down_margin, IS_RESTRICTIVE)
    ch.tier4_referral_week[withdrawn] = NEVER
    model.tier4_referrals_changed(withdrawn)
    model.events.add(w, withdrawn, "withdrawal", to_type=TIER4, reason="distress_fell",
                     agency=model.agency_uid("camhs", withdrawn))
    found = model.capacity.find(TIER4, ch.la[waiting], ch.distress[waiting])
    got = waiting[found.placed]
    model.tally.add("waiting_tier4", len(waiting) - len(got))
    if len(got) == 0:
        return
    from sim.courts import end_orders

    model.move(got, TIER4, found.la[found.placed], found.provider[found.placed], "escalation",
               model.agency_uid("camhs", got))
    ch.tier4_referral_week[got] = NEVER
    model.tier4_referrals_changed(got)
    ch.ready_for_discharge_week[got] = NEVER
    model.tally.add("tier4_admissions", len(got))
    detained = got[model.streams.uniform("mha", w, got) < cfg.orders.mha_detention_share]
    end_orders(model, detained[ch.basis[detained] == DOL], "discharge", "escalation")
    model.set_basis(detained, MHA)
    model.events.add(w, got, "admission", order_id=ch.order_id[got], basis=ch.basis[got], to_type=TIER4,
                     placement_la=ch.placement_la[got], weekly_cost=ch.weekly_cost[got], reason="escalation",
                     agency=model.agency_uid("camhs", got))


def allocate_secure_beds(model, w: int) -> None:
    """The Secure Welfare Coordination Unit offers free welfare places nationally; a home accepts with a
    probability that falls with the child's risk to others; the LA then applies for an s25 order.

    DoL orders are sought on two routes: a child still without a secure bed after a set number of weeks,
    and a child in a children's home or an unregistered setting whose care needs restrictions that amount
    to a deprivation of liberty (distress at the DoL threshold).  Either way the LA applies with the year's
    propensity (the legal setting: Re D, the national DoL court), and a child granted an order leaves the
    secure queue (the order authorises the placement the LA found)."""
    from sim.courts import end_orders, grant_event, hear

    ch, cfg = model.children, model.cfg
    sw, o = cfg.secure_welfare, cfg.orders
    # The secure queue, and the children whose care needs restrictions (the second route to a DoL order),
    # from one pass: secure beds go to children in the queue, who are then in a secure home, and nothing
    # else changes what the second selection reads (placement, legal basis, distress) before it is used.
    withdrawn, waiting, confined = _secure_queue(
        model.in_care_children(), ch.secure_referral_week, ch.placement, ch.distress, *model._thresholds["secure"],
        cfg.pathway.step_down_margin, ch.basis, *model._thresholds["dol"], model.lowest_threshold["dol"])
    ch.secure_referral_week[withdrawn] = NEVER
    model.events.add(w, withdrawn, "withdrawal", to_type=SECURE, reason="distress_fell",
                     agency=model.agency_uid(CSC, withdrawn))
    swcu = model.roster.uid["secure_welfare_unit"][0]

    free = int(model.capacity.free_market(SECURE).sum())
    if free > 0 and len(waiting):
        priority = ch.distress[waiting] + 0.01 * (w - ch.secure_referral_week[waiting])
        # Homes are asked in order of priority; only as many as there are free places are considered.
        considered = waiting[np.argsort(-priority, kind="stable")[:free * 3]]
        p_accept = sw.acceptance_base * (1 - sw.acceptance_risk_to_others_penalty
                                         * ch.has("risk_to_others", considered))
        accept = model.streams.uniform("secure_accept", w, considered) < p_accept
        refused = considered[~accept]
        model.events.add(w, refused, "secure_refusal", basis=ch.basis[refused], from_type=ch.placement[refused],
                         to_type=SECURE, reason="refused_by_home", agency=swcu)
        model.tally.add("secure_refusals", len(refused))
        accepted = considered[accept]
        found = model.capacity.find(SECURE, ch.la[accepted], ch.distress[accepted], national_only=True)
        offered = accepted[found.placed]
        model.events.add(w, offered, "secure_offer", from_type=ch.placement[offered], to_type=SECURE,
                         placement_la=found.la[found.placed], reason="secure_bed", agency=swcu)
        granted, _ = hear(model, "family_court", "s25", offered, o.s25_grant_probability)
        g = offered[granted]
        g_la, g_prov = found.la[found.placed][granted], found.provider[found.placed][granted]
        # A place offered but not authorised by the court goes back to the pool.
        model.capacity.occupy(np.full((~granted).sum(), SECURE), found.la[found.placed][~granted],
                              found.provider[found.placed][~granted], -1)
        end_orders(model, g[ch.basis[g] == DOL], "discharge", "secure_bed")
        model.move(g, SECURE, g_la, g_prov, "secure_bed", np.full(len(g), swcu))
        model.set_basis(g, S25, until=w + o.s25_initial_weeks)
        grant_event(model, g, "s25")
        ch.secure_referral_week[g] = NEVER
        confined = _without(confined, np.sort(g))  # in a secure home now
        waiting = waiting[ch.secure_referral_week[waiting] != NEVER]
    model.tally.add("waiting_secure_home", len(waiting))

    # Not offered a secure bed in time, or restrictions needed where the child lives: a DoL application.
    # The LA applies with the year's propensity, unless refused within the review period (one compiled pass).
    apply = _dol_applications(waiting, confined, ch.secure_referral_week, ch.basis, sw.weeks_before_dol_application,
                              ch.dol_refused_week, w, o.dol_review_weeks, model.streams.key("dol_apply", w),
                              schedule_value(o.dol_propensity_by_year, model.year))
    granted, heard = hear(model, "high_court", "dol", apply, o.dol_grant_probability)
    ch.dol_refused_week[apply[heard & ~granted]] = w  # unheard applications are made again next week
    g = apply[granted]
    model.set_basis(g, DOL, until=w + o.dol_review_weeks)
    queued = g[ch.secure_referral_week[g] != NEVER]
    ch.secure_referral_week[queued] = NEVER
    model.events.add(w, queued, "withdrawal", to_type=SECURE, reason="order_made", agency=model.agency_uid(CSC, queued))
    elsewhere = g[~of_type(ch.placement[g], RESIDENTIAL, THERAPEUTIC, UNREGISTERED)]
    model.place(elsewhere, np.full(len(elsewhere), RESIDENTIAL), "order_made")
    grant_event(model, g, "dol")
    # An independent registered home may not hold the restrictions the order authorises: it gives notice,
    # and a child no registered home will take goes to an unregistered setting (T7-006, T7-015).
    in_market_home = g[of_type(ch.placement[g], RESIDENTIAL, THERAPEUTIC) & (ch.provider[g] == MARKET)]
    notice = np.zeros(len(in_market_home), bool)
    for ptype in (RESIDENTIAL, THERAPEUTIC):
        here = ch.placement[in_market_home] == ptype
        notice[here] = model.provider_refuses(ptype, in_market_home[here])
    leaving = in_market_home[notice]
    model.place(leaving, np.full(len(leaving), RESIDENTIAL), "refused_by_home", may_wait=True)


def funding_agreements(model, w: int) -> None:
    """Requests waiting for a place: packages that waited for a funding agreement start if a place of the
    agreed type is free; children waiting for a foster home or supported accommodation take one as soon
    as one (or, failing that, a children's home) is free."""
    ch = model.children
    # A package no longer needed is cancelled (a child waiting for a foster home still needs one); of the
    # rest, those due are tried (see _requests).
    packages, others, waiting, n_requests, cancelled = _requests(
        model.requesting_children(), ch.pending_type, ch.pending_week, ch.placement, ch.distress,
        *model._thresholds["residential"], model.cfg.pathway.step_down_margin, w)
    model.requests_changed(cancelled)
    if n_requests == 0:
        return
    model.tally.add("funding_agreement_waits", waiting)
    for sel, exact, reason in ((packages, True, "funding_agreed"), (others, False, "placement_found")):
        if len(sel):
            # A child placed from home (a new entry who waited) has a first placement, not a move.
            moved = model.place(sel, ch.pending_type[sel].astype(np.int64), reason, planned=True, exact=exact,
                                count_as_move=exact | (ch.placement[sel] != FAMILY))
            ch.pending_type[sel[moved]] = -1
            model.requests_changed(sel[moved])


def step_down(model, w: int) -> None:
    """Step-down: once distress has stayed low for some weeks and a suitable place exists, children move
    to a less restrictive place; children in unregistered settings move to a registered home when one
    is free."""
    ch, pw = model.children, model.cfg.pathway
    ready, unregistered = _calm_weeks(model.in_care_children(), ch.distress, *model._thresholds["residential"],
                                      pw.step_down_margin, ch.calm_weeks, pw.step_down_weeks, ch.placement,
                                      ch.basis, ch.pending_type)
    model.place(ready, pathway_placement(model, ready, w), "step_down", planned=True)
    unregistered = unregistered[ch.placement[unregistered] == UNREGISTERED]  # not just stepped down
    model.place(unregistered, np.full(len(unregistered), RESIDENTIAL), "out_of_registered", planned=True)


def returns_home(model, w: int) -> None:
    """Settled looked-after children return home and leave care (they stay on the edge of care)."""
    ch, pop = model.children, model.cfg.population
    going = _settled(model.in_care_children(), ch.basis, ch.placement, ch.distress, pop.return_home_max_distress,
                     ch.pending_type, ch.secure_referral_week, ch.tier4_referral_week,
                     model.streams.key("return_home", w), pop.return_home_per_year / WEEKS_PER_YEAR)
    model.leave_care(going, "return_home", "settled")
    at_placement = going[ch.placement[going] != FAMILY]
    model.place(at_placement, np.full(len(at_placement), FAMILY), "settled", count_as_move=False)
    ch.support_until[going] = NEVER


# ============================================================================ compiled selections
# Who a mechanism acts on is a handful of children among 50,000-110,000 present; selecting them as
# whole-array NumPy took a dozen passes (gathers, masks, thresholds, draws), each making a temporary
# array.  Each selection below is one compiled loop (numba, ``cache=True`` as in ``sim.placements``) over
# the present or looked-after ids that returns the candidates in the order of those ids, as the
# NumPy masks did; what a mechanism then does with them stays in NumPy.  The arithmetic and
# comparisons are those of the NumPy form, in its order (no fast-math), so results are the same bit
# for bit; a draw is ``Streams.uniform``'s for the same key and child (``_draw``), which depends on
# nothing else (so a draw the NumPy form did not make changes nothing).  Exponentials stay in NumPy:
# its vectorised exp differs from libm's in the last bit for some arguments.
_TO_UNIT = 2.0 ** -53  # a 53-bit integer to [0, 1)
_S11 = np.uint64(11)
_EVERY_TYPE = np.arange(len(PLACEMENT_TYPES))
IS_RESTRICTIVE = of_type(_EVERY_TYPE, *RESTRICTIVE)
IN_TIER4_OR_CUSTODY = of_type(_EVERY_TYPE, TIER4, CUSTODY)
IS_CRISIS_HOME = of_type(_EVERY_TYPE, RESIDENTIAL, UNREGISTERED)  # where therapeutic care is sought
IS_HOME = of_type(_EVERY_TYPE, RESIDENTIAL, THERAPEUTIC, UNREGISTERED)
IS_SETTLED = of_type(_EVERY_TYPE, FAMILY, FOSTER_INHOUSE, FOSTER_AGENCY, RESIDENTIAL, SUPPORTED)


@numba.njit(cache=True)
def _draw(key, child):
    """The draw ``Streams.uniform`` gives ``child`` for ``key``: the top 53 bits of its hash, in [0, 1)."""
    return np.float64(hash_child(key, child) >> _S11) * _TO_UNIT


@numba.njit(cache=True)
def _pathway_types(idx, distress, threshold, area, birth_week, week, key, supported_share):
    """``pathway_placement``: a registered home at the residential threshold, else supported
    accommodation (16-17, with the ``supported_share`` of the draw) or a foster home (in-house or agency,
    half and half by the same draw).  Compiled because it runs for every batch of moves."""
    out = np.empty(len(idx), np.int64)
    for i in range(len(idx)):
        c = idx[i]
        u = _draw(key, c)
        if distress[c] >= threshold[area[c]]:
            out[i] = RESIDENTIAL
        elif (week - birth_week[c]) // WEEKS_PER_YEAR >= 16 and u < supported_share:
            out[i] = SUPPORTED
        else:
            out[i] = FOSTER_INHOUSE if u < 0.5 else FOSTER_AGENCY
    return out


def _above_exp(z: float) -> float:
    """A number above exp(z) as libm or NumPy computes it (they may differ by an ulp or two)."""
    return math.exp(z) * (1.0 + 1e-9) if z < 700.0 else math.inf


@numba.njit(cache=True)
def _edge_pool(act, legal, placement, birth_week, distress, week, band_scale, slope, ref, exp_top, entry_key,
               crisis_threshold, support_until, region, notice, notice_key, max_distress, leave_key, p_leave):
    """Of the edge-of-care pool (present, not looked after, living with family), who may enter care, who
    the school notices at crisis, and who may leave the pool this week.

    Entry: the weekly hazard is min(scale of the age band * exp(slope * (distress - ref)), 1), with NumPy's
    exp (not libm's).  A child whose draw is below the band's scale times ``exp_top`` (above the exp of
    any distress in [0, 1]) may enter: returned with the exponent, scale and draw, for the hazard to be
    computed and compared as before; the draw of every other child (most) is above its hazard.  Noticed: distress at the crisis
    threshold, no support, and a draw below the region's notice probability.  Leaving: distress below
    ``max_distress`` and a draw below ``p_leave``.  Children who then enter care are neither noticed nor
    leave the pool: the caller removes them.

    ``act``: the children to look at, in id order; the caller gives the edge-of-care pool's own list
    (``edge_of_care_children``) rather than everyone present, where whether a child is looked after is a
    coin toss to the processor, and the pass took twice as long."""
    n = len(act)
    may_enter, exponent, scale = np.empty(n, np.int64), np.empty(n, np.float64), np.empty(n, np.float64)
    draw = np.empty(n, np.float64)
    noticed, leaving = np.empty(n, np.int64), np.empty(n, np.int64)
    n_enter = n_noticed = n_leaving = 0
    for c in act:
        if legal[c] != NOT_LOOKED_AFTER or placement[c] != FAMILY:
            continue
        d = distress[c]
        band = band_scale[1 if (week - birth_week[c]) // WEEKS_PER_YEAR >= 16 else 0]
        u = _draw(entry_key, c)
        if not (0.0 <= d <= 1.0) or u < band * exp_top:
            may_enter[n_enter] = c
            exponent[n_enter] = slope * (d - ref)
            scale[n_enter] = band
            draw[n_enter] = u
            n_enter += 1
        if d >= crisis_threshold and support_until[c] <= week and _draw(notice_key, c) < notice[region[c]]:
            noticed[n_noticed] = c
            n_noticed += 1
        if d < max_distress and _draw(leave_key, c) < p_leave:
            leaving[n_leaving] = c
            n_leaving += 1
    return (may_enter[:n_enter].copy(), exponent[:n_enter].copy(), scale[:n_enter].copy(), draw[:n_enter].copy(),
            noticed[:n_noticed].copy(), leaving[:n_leaving].copy())


@numba.njit(cache=True)
def _breakdowns(ic, placement, distress, base, tolerance, slope, key):
    """Looked-after children whose placement breaks down: a draw below base + slope * max(distress -
    tolerance, 0) of the placement type, for types that can break down (base > 0).

    Distress is at most 1 (it is clipped whenever it changes), so no chance exceeds the highest over the
    types at distress 1: a child whose draw is at or above it (most) is passed over before anything is read."""
    top = -np.inf if slope >= 0.0 else np.inf
    for t in range(len(base)):
        if base[t] > 0:
            excess = 1.0 - tolerance[t]
            if excess < 0.0:
                excess = 0.0
            top = max(top, base[t] + slope * excess)
    broke = np.empty(len(ic), np.int64)
    n = 0
    for c in ic:
        u = _draw(key, c)
        if u >= top:
            continue
        t = placement[c]
        if base[t] > 0:
            excess = distress[c] - tolerance[t]
            if excess < 0.0:  # np.maximum(excess, 0.0) (a NaN stays)
                excess = 0.0
            if u < base[t] + slope * excess:
                broke[n] = c
                n += 1
    return broke[:n].copy()


@numba.njit(cache=True)
def _crises(act, legal, placement, basis, distress, crisis_threshold, lowest_threshold, mental_health, trauma,
            risk_to_others, exploitation, going_missing, tier4_threshold, tier4_area, secure_threshold, secure_area,
            tier4_referral_week,
            secure_referral_week, region, la, camhs_notice, csc_notice, camhs_key, csc_key, arrest_scale,
            police_tolerance, police_notice, arrest_key):
    """Whom ``escalate_crises`` acts on, from the state at the start of the mechanism.

    Of the looked-after children outside Tier 4, secure homes and custody: those CAMHS notices in a
    mental-health crisis (distress at the Tier 4 threshold, not yet referred); those children's social
    care notices at risk of serious harm (a risk to others, exploitation or going missing; distress at
    the secure threshold; not referred, not on an s25 order); those at crisis in a children's home or an
    unregistered setting with mental-health needs or trauma (therapeutic care).  Of all present children:
    those at crisis who are a risk to others, outside custody and not on an s25 or MHA basis, whom the
    police arrest: a draw below ``arrest_scale`` * (1 - the region's police risk tolerance) * its notice
    probability (the same products, in the same order, as NumPy's).  Nothing the arrest reads changes
    before the caller acts on it (the support offers and referrals in between change none of distress,
    placement, basis, needs or the police's attributes).

    Each needs distress at the crisis threshold or the agency's own: most children, below the lowest of
    these (``lowest_threshold``), are passed over after reading their distress alone."""
    n = len(act)
    tier4, secure, in_home, arrested = (np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64),
                                       np.empty(n, np.int64))
    n_tier4 = n_secure = n_home = n_arrested = 0
    for c in act:
        d = distress[c]
        if d < lowest_threshold:
            continue
        t, b = placement[c], basis[c]
        if legal[c] != NOT_LOOKED_AFTER and not IS_RESTRICTIVE[t]:
            if (mental_health[c] and d >= tier4_threshold[tier4_area[c]] and tier4_referral_week[c] == NEVER
                    and _draw(camhs_key, c) < camhs_notice[region[c]]):
                tier4[n_tier4] = c
                n_tier4 += 1
            if ((risk_to_others[c] or exploitation[c] or going_missing[c]) and d >= secure_threshold[secure_area[c]]
                    and secure_referral_week[c] == NEVER and b != S25 and _draw(csc_key, c) < csc_notice[la[c]]):
                secure[n_secure] = c
                n_secure += 1
            if IS_CRISIS_HOME[t] and (mental_health[c] or trauma[c]) and d >= crisis_threshold:
                in_home[n_home] = c
                n_home += 1
        if risk_to_others[c] and d >= crisis_threshold and t != CUSTODY and b != S25 and b != MHA:
            r = region[c]
            if _draw(arrest_key, c) < arrest_scale * (1.0 - police_tolerance[r]) * police_notice[r]:
                arrested[n_arrested] = c
                n_arrested += 1
    return tier4[:n_tier4].copy(), secure[:n_secure].copy(), in_home[:n_home].copy(), arrested[:n_arrested].copy()


@numba.njit(cache=True)
def _seeking(home_crisis, pending_type, secure_referral_week, la, flexibility, boosted, boost, preference, key):
    """Of the children at crisis in a home (``_crises``), those with no request and no secure referral whose
    LA seeks specialist therapeutic care: a draw below its flexibility (plus the child's ``boost``, at most
    1, if ``boosted``) times ``preference``, as NumPy computed it."""
    out = np.empty(len(home_crisis), np.int64)
    n = 0
    for c in home_crisis:
        if pending_type[c] < 0 and secure_referral_week[c] == NEVER:
            f = flexibility[la[c]]
            if boosted:
                f = f + boost[c]
                if f > 1.0:  # np.minimum(f, 1.0): NaN stays
                    f = 1.0
            if _draw(key, c) < f * preference:
                out[n] = c
                n += 1
    return out[:n].copy()


@numba.njit(cache=True)
def _referral_queue(ic, referral_week, placement, ptype, distress, threshold, area, margin, blocked):
    """Children referred for a place of type ``ptype`` and not in one: those whose distress fell below
    their threshold less ``margin`` (the referral is withdrawn), and the others, unless in a ``blocked``
    placement type (still waiting, and free to take a place).

    Only looked-after children are referred, and a child leaving care has none (see ``_requests``), so
    the looked-after ids (about half the present ones) hold every referral; so does a list of the
    referred alone (``tier4_referred_children``), which the model passes, in id order."""
    withdrawn = np.empty(len(ic), np.int64)
    waiting = np.empty(len(ic), np.int64)
    n_withdrawn = n_waiting = 0
    for c in ic:
        if referral_week[c] != NEVER and placement[c] != ptype:
            if distress[c] < threshold[area[c]] - margin:
                withdrawn[n_withdrawn] = c
                n_withdrawn += 1
            elif not blocked[placement[c]]:
                waiting[n_waiting] = c
                n_waiting += 1
    return withdrawn[:n_withdrawn].copy(), waiting[:n_waiting].copy()


@numba.njit(cache=True)
def _secure_queue(ic, referral_week, placement, distress, threshold, area, margin, basis, dol_threshold, dol_area,
                  lowest_dol):
    """``allocate_secure_beds``' one pass: the secure queue (``_referral_queue`` for a secure home, Tier 4
    and custody blocked), and the children whose care in a home needs a deprivation of liberty:
    looked-after children in a children's home or an unregistered setting, with no order, whose distress
    is at the DoL threshold (most children, below the lowest, ``lowest_dol``, are passed over after
    reading their distress alone)."""
    withdrawn = np.empty(len(ic), np.int64)
    waiting = np.empty(len(ic), np.int64)
    confined = np.empty(len(ic), np.int64)
    n_withdrawn = n_waiting = n_confined = 0
    for c in ic:
        d = distress[c]
        if referral_week[c] != NEVER and placement[c] != SECURE:
            if d < threshold[area[c]] - margin:
                withdrawn[n_withdrawn] = c
                n_withdrawn += 1
            elif not IN_TIER4_OR_CUSTODY[placement[c]]:
                waiting[n_waiting] = c
                n_waiting += 1
        if d >= lowest_dol and d >= dol_threshold[dol_area[c]] and IS_HOME[placement[c]] and basis[c] == NO_BASIS:
            confined[n_confined] = c
            n_confined += 1
    return withdrawn[:n_withdrawn].copy(), waiting[:n_waiting].copy(), confined[:n_confined].copy()


@numba.njit(cache=True)
def _requests(ic, pending_type, pending_week, placement, distress, threshold, area, margin, week):
    """``funding_agreements``' requests (a pending type), from one pass over ``ic``, in id order: the
    looked-after children, or any list of them holding every request (``requesting_children``).

    A package (therapeutic care) whose child's distress fell below the residential threshold less
    ``margin`` is cancelled here (its pending type set to -1).  Of the other requests, of children outside
    Tier 4, secure homes and custody, returns the packages and the other requests due (``pending_week``
    at or before ``week``), in id order, then the number of packages still waiting for a funding
    agreement, the number of requests found (cancelled ones included), and the cancelled.

    Requests and referrals are made only for looked-after children (``escalate_crises`` selects them
    among those, ``request_package`` and a waiting ``place`` act on children in care or entering it); a
    child leaves care with none (``returns_home`` takes only children without, ``_ageing_out`` departs
    them and ``depart`` clears them).  So no child outside care has one."""
    packages = np.empty(len(ic), np.int64)
    others = np.empty(len(ic), np.int64)
    cancelled = np.empty(len(ic), np.int64)
    n_packages = n_others = waiting = n_requests = n_cancelled = 0
    for c in ic:
        t = pending_type[c]
        if t < 0:
            continue
        n_requests += 1
        if t == THERAPEUTIC and distress[c] < threshold[area[c]] - margin:
            pending_type[c] = -1
            cancelled[n_cancelled] = c
            n_cancelled += 1
        elif not IS_RESTRICTIVE[placement[c]]:
            if pending_week[c] <= week:
                if t == THERAPEUTIC:
                    packages[n_packages] = c
                    n_packages += 1
                else:
                    others[n_others] = c
                    n_others += 1
            elif t == THERAPEUTIC:
                waiting += 1
    return (packages[:n_packages].copy(), others[:n_others].copy(), waiting, n_requests,
            cancelled[:n_cancelled].copy())


@numba.njit(cache=True)
def _calm_weeks(ic, distress, threshold, area, margin, calm_weeks, weeks_needed, placement, basis, pending_type):
    """Count weeks of calm (distress below the residential threshold less ``margin``; a week that is not
    calm starts the count again) and return who may move: children in a home, with no order or
    pending request, calm for ``weeks_needed`` weeks (step-down); children in an unregistered setting
    who are not calm (to a registered home)."""
    ready = np.empty(len(ic), np.int64)
    unregistered = np.empty(len(ic), np.int64)
    n_ready = n_unregistered = 0
    # Without branches (whether a child is calm is a coin toss to the processor): every child is written
    # after the last selected one, and counted only if selected.
    for c in ic:
        calm = distress[c] < threshold[area[c]] - margin
        weeks = (calm_weeks[c] + 1) * calm
        calm_weeks[c] = weeks
        t = placement[c]
        ready[n_ready] = c
        n_ready += IS_HOME[t] & (basis[c] == NO_BASIS) & (pending_type[c] < 0) & (weeks >= weeks_needed)
        unregistered[n_unregistered] = c
        n_unregistered += (t == UNREGISTERED) & (not calm)
    return ready[:n_ready].copy(), unregistered[:n_unregistered].copy()


@numba.njit(cache=True)
def _settled(ic, basis, placement, distress, max_distress, pending_type, secure_referral_week,
             tier4_referral_week, key, p_return):
    """Looked-after children who return home this week: no order, living at home, in foster care, a
    children's home or supported accommodation, distress below ``max_distress``, no pending request or
    referral, and a draw below ``p_return``.  The draw comes first: it reads nothing and passes over most."""
    out = np.empty(len(ic), np.int64)
    n = 0
    for c in ic:
        if (_draw(key, c) < p_return and basis[c] == NO_BASIS and IS_SETTLED[placement[c]]
                and distress[c] < max_distress and pending_type[c] < 0 and secure_referral_week[c] == NEVER
                and tier4_referral_week[c] == NEVER):
            out[n] = c
            n += 1
    return out[:n].copy()


@numba.njit(cache=True)
def _within_capacity(rank, area, remaining):
    """``Roster.ration``'s grants: the requests whose rank within their area is below the area's remaining
    capacity (rounded down, before any is granted); each grant takes one from its area's capacity.  One
    compiled call instead of four NumPy ones (``np.subtract.at`` alone costs more than the work)."""
    ok = np.empty(len(area), np.bool_)
    for i in range(len(area)):
        ok[i] = rank[i] < np.floor(remaining[area[i]])
    for i in range(len(area)):
        if ok[i]:
            remaining[area[i]] -= 1
    return ok


@numba.njit(cache=True)
def _willing(idx, child_area, flexibility, boosted, boost, until, week, key):
    """``_offer_support``'s agencies willing to offer: each child's agency (its area, returned for every
    child) is willing with a draw below its flexibility (plus the child's ``boost``, at most 1, if
    ``boosted``), if the child has no support running (``until`` at or before ``week``).  Returns the
    positions in ``idx`` of the willing, and the areas.  Compiled: it runs five times a week on a few
    hundred children, where each of the dozen NumPy calls it replaces costs more than the work."""
    n = len(idx)
    area = np.empty(n, np.int64)
    willing = np.empty(n, np.int64)
    n_willing = 0
    for i in range(n):
        c = idx[i]
        area[i] = child_area[c]
        f = flexibility[area[i]]
        if boosted:
            f = f + boost[c]
            if f > 1.0:  # np.minimum(f, 1.0): NaN stays
                f = 1.0
        if _draw(key, c) < f and until[c] <= week:
            willing[n_willing] = i
            n_willing += 1
    return willing[:n_willing].copy(), area


@numba.njit(cache=True)
def _without(ids, removed):
    """``ids`` less those in ``removed``, in their order (``ids[~np.isin(ids, removed)]``), by one merge:
    both are in id order (selected from the present children, ``present_children``, in that order)."""
    out = np.empty(len(ids), np.int64)
    n = j = 0
    for c in ids:
        while j < len(removed) and removed[j] < c:
            j += 1
        if j < len(removed) and removed[j] == c:
            continue
        out[n] = c
        n += 1
    return out[:n].copy()



@numba.njit(cache=True)
def _union(a, b):
    """``np.union1d(a, b)`` of two arrays of distinct ids each in id order, by one merge (union1d sorts)."""
    out = np.empty(len(a) + len(b), np.int64)
    n = i = j = 0
    while i < len(a) and j < len(b):
        if a[i] < b[j]:
            out[n] = a[i]
            i += 1
        elif b[j] < a[i]:
            out[n] = b[j]
            j += 1
        else:
            out[n] = a[i]
            i += 1
            j += 1
        n += 1
    while i < len(a):
        out[n] = a[i]
        i += 1
        n += 1
    while j < len(b):
        out[n] = b[j]
        j += 1
        n += 1
    return out[:n].copy()


@numba.njit(cache=True)
def _dol_applications(waiting, confined, secure_referral_week, basis, weeks_before, refused_week, week, review_weeks,
                      key, propensity):
    """``allocate_secure_beds``' DoL applications: of the children still waiting for a secure bed (all
    referred) those waiting ``weeks_before`` weeks or more with no legal basis, united with the
    ``confined`` (``_union``: both in id order), less those refused an order within ``review_weeks``, with
    a draw below ``propensity``; in id order."""
    long_wait = np.empty(len(waiting), np.int64)
    n = 0
    for c in waiting:
        if week - secure_referral_week[c] >= weeks_before and basis[c] == NO_BASIS:
            long_wait[n] = c
            n += 1
    cand = _union(long_wait[:n], confined)
    out = np.empty(len(cand), np.int64)
    m = 0
    for c in cand:
        if refused_week[c] != NEVER and week - refused_week[c] < review_weeks:
            continue
        if _draw(key, c) < propensity:
            out[m] = c
            m += 1
    return out[:m].copy()

"""The care-pathways model: one week of the system, in the order written in ``step``.

The model is a Mesa ``Model`` seeded with ``rng=seed``; the agencies are Mesa agents; the children
are arrays (``sim.children``).  Every change to a child's placement goes through ``move`` (capacity,
costs, history and the event log stay consistent), every change of legal basis through ``set_basis``.
"""

from __future__ import annotations

import datetime as dt

import mesa
import numba
import numpy as np

from sim import agencies as ag
from sim import courts
from sim.children import (
    AGEING_IN_CARE, BASES, CARE_ORDER, DIRECT_ENTRY, DOL, FUTURE, GONE, INITIAL_EDGE, INITIAL_IN_CARE, JOINS_EDGE,
    LEGAL_STATUS, MHA, NEED, NEVER, NO_BASIS, NOT_LOOKED_AFTER, PRESENT, REMAND, S20, S25, SENTENCE, WEEKS_PER_YEAR,
    ChildList, PopulationCache, initial_placement_types, populate, weekly_dynamics,
)
from sim.config import REGIONS, CarePathwaysConfig, schedule_value
from sim.costs import Ledger, Prices, book_one, price_of
from sim.outputs import RS, Census, EventLog, MoveCounts, Tally, WeeklyTable, census
from sim.placements import (
    CUSTODY, FAMILY, FOSTER_AGENCY, FOSTER_INHOUSE, MARKET, NO_PROVIDER, PLACEMENT_TYPES, RESIDENTIAL, SECURE,
    SUPPORTED, THERAPEUTIC, TIER4, UNREGISTERED, Capacity, each_child, of_type, occupy_each, stochastic_round,
    DOL_HOMES,
)
from sim.placements import _place_along_chains, _settle
from sim.placements import PAYERS
from sim.randomness import Streams
from sim.scenarios import Levers

# Where to look next when no place of the wanted type is free (an unregistered setting is the last resort).
FALLBACK = {
    FOSTER_INHOUSE: (FOSTER_INHOUSE, FOSTER_AGENCY, RESIDENTIAL, UNREGISTERED),
    FOSTER_AGENCY: (FOSTER_AGENCY, FOSTER_INHOUSE, RESIDENTIAL, UNREGISTERED),
    SUPPORTED: (SUPPORTED, FOSTER_AGENCY, RESIDENTIAL, UNREGISTERED),
    RESIDENTIAL: (RESIDENTIAL, UNREGISTERED),
    THERAPEUTIC: (THERAPEUTIC, RESIDENTIAL, UNREGISTERED),
    UNREGISTERED: (UNREGISTERED,),
    FAMILY: (FAMILY,),
}
# Planned moves (step-down, discharge) wait for a registered place rather than take an unregistered one.
PLANNED = {k: tuple(t for t in v if t != UNREGISTERED) for k, v in FALLBACK.items()}


def _chain_table(chains: dict[int, tuple[int, ...]]) -> np.ndarray:
    """The chains as rows of a table (by wanted type, padded with -1), for the compiled search."""
    table = np.full((len(PLACEMENT_TYPES), max(map(len, chains.values()))), -1, np.int64)
    for want, chain in chains.items():
        table[want, :len(chain)] = chain
    return table


FALLBACK_CHAINS = _chain_table(FALLBACK)
PLANNED_CHAINS = _chain_table(PLANNED)
EXACT_CHAINS = _chain_table({k: (k,) for k in FALLBACK})  # an agreed package: the type wanted only
# Independent providers of these types may refuse a child; a refusal by a children's home (HOMES) is what
# lets a child who may wait take an unregistered setting instead (see ``place``).
MARKET_REFUSES = of_type(np.arange(len(PLACEMENT_TYPES)), FOSTER_AGENCY, RESIDENTIAL, THERAPEUTIC, SUPPORTED)
HOMES = of_type(np.arange(len(PLACEMENT_TYPES)), RESIDENTIAL, THERAPEUTIC)
_NOWHERE = np.zeros(0, np.int64)
NO_REGISTERED_PLACE = RS["no_registered_place"]


class CarePathwaysModel(mesa.Model):
    """Children in complex situations moving through care in England, week by week."""

    def __init__(self, cfg: CarePathwaysConfig, interventions=(), events: EventLog | MoveCounts | None = None,
                 populations: PopulationCache | None = None):
        """``events``: where transitions are logged (a new ``EventLog``, or ``MoveCounts`` to count moves only);
        ``populations``: where to take the LAs and children from, if they were made for another run with the
        same seed and synthesis inputs (a comparison's scenarios)."""
        super().__init__(rng=cfg.seed)
        self.cfg = cfg
        self.scale = cfg.population.scale
        self.n_weeks = int(round(cfg.horizon.years * WEEKS_PER_YEAR))
        # A burn-in runs first, at the start year's settings, and is discarded: weeks -burn_in..-1.
        self.burn_in = int(cfg.horizon.burn_in_years) * WEEKS_PER_YEAR
        self.start_date = dt.date(cfg.start_year, 4, 1)
        self.week = -self.burn_in
        self.year = cfg.start_year
        self.streams = Streams(cfg.seed, self.n_weeks, first_week=-self.burn_in)
        make = populate if populations is None else populations.populate
        self.geo, self.children, facts = make(cfg, self.streams, self.n_weeks, self.burn_in)
        self.facts = facts
        ch = self.children
        self.present = np.zeros(ch.n, bool)
        # Who is present, looked after, on the edge of care, on an order, waiting with a request, or referred
        # for Tier 4: kept as lists of ids (``ChildList``), from the children noted as changing in that respect.
        legal, present = ch.legal, self.present_children
        self._present = ChildList(lambda ids: self.present[ids], lambda: np.flatnonzero(self.present))
        self._in_care = ChildList(lambda ids: self.present[ids] & (legal[ids] != NOT_LOOKED_AFTER), present)
        self._at_edge = ChildList(lambda ids: self.present[ids] & (legal[ids] == NOT_LOOKED_AFTER), present)
        self._with_orders = ChildList(lambda ids: ch.basis[ids] != NO_BASIS, present)
        self._requesting = ChildList(lambda ids: ch.pending_type[ids] >= 0, present)
        self._tier4_referred = ChildList(lambda ids: ch.tier4_referral_week[ids] != NEVER, present)
        self._lists = (self._present, self._in_care, self._at_edge, self._with_orders, self._requesting,
                       self._tier4_referred)
        # Children by birth week (ties by id), and how many of them have come of age (``_ageing_out``).
        self._by_birth = np.argsort(ch.birth_week, kind="stable")
        self._birth_weeks = ch.birth_week[self._by_birth]
        self._come_of_age = 0
        self.capacity = Capacity(len(PLACEMENT_TYPES), self.geo.la_region, len(REGIONS))
        for t in PLACEMENT_TYPES:
            self.capacity.unlimited[PLACEMENT_TYPES.index(t)] = getattr(cfg.placements, t).unlimited
        self.prices = Prices(cfg)
        self.ledger = Ledger(self.geo.n_la, self.prices.mix_table)
        self.events = EventLog() if events is None else events
        self.weekly = WeeklyTable(self.n_weeks)
        self.tally = Tally()
        self._order_counter = 0
        self.fit = np.array([getattr(cfg.distress.placement_fit, t) for t in PLACEMENT_TYPES])
        self.containment = np.array([getattr(cfg.safety.containment, t) for t in PLACEMENT_TYPES])
        self.breakdown_base = np.array([getattr(cfg.breakdown.base_per_week, t) for t in PLACEMENT_TYPES])
        self.breakdown_tolerance = np.array([getattr(cfg.breakdown.tolerance, t) for t in PLACEMENT_TYPES])
        self.min_age = np.array([getattr(cfg.placements, t).min_age for t in PLACEMENT_TYPES])
        # Keys of the providers' refusal draws (``provider_refuses``), by placement type.
        self._refusal_keys = np.array([self.streams.key(f"provider_accepts:{t}", 0) if MARKET_REFUSES[t] else 0
                                       for t in range(len(PLACEMENT_TYPES))], np.uint64)
        children_by_la = self.geo.la_weight * (facts["n_care"] + facts["n_edge"])
        self.roster = ag.Roster(self, cfg, self.geo.n_la, len(REGIONS), children_by_la, REGIONS, self.geo.la_names)
        self.refresh_thresholds()
        las = np.arange(self.geo.n_la)
        self._uid_by_la = {kind: self.roster.uid[kind][self.roster.area_of(kind, las, self.geo.la_region)]
                           for kind in self.roster.by_kind}
        self.agency_names = {a.unique_id: f"{a.label}: {a.name}" for agents in self.roster.by_kind.values()
                             for a in agents}
        self.in_care_this_year = np.zeros(ch.n, bool)
        self.three_plus_by_year: list[tuple[int, int]] = []
        self.interventions = list(interventions)
        self.levers = Levers()
        loc = self.streams.generator("market_location")
        self.market_location = loc.lognormal(0.0, cfg.placements.market_location_spread,
                                             (len(PLACEMENT_TYPES), self.geo.n_la))
        self._apply_year(cfg.start_year)
        self._start_population()
        if not self.burn_in:
            self._start_interventions()

    def _start_interventions(self) -> None:
        for intervention in self.interventions:
            intervention.initialise(self)
        self.roster.refresh()
        self.refresh_thresholds()

    # ================================================================== the week
    def step(self) -> None:
        """One week. The order of the mechanisms is the model's specification."""
        w = self.week
        if w > -self.burn_in and (w + self.burn_in) % WEEKS_PER_YEAR == 0:
            self._new_year(self.cfg.start_year + max(w, 0) // WEEKS_PER_YEAR)
        if w == 0 and self.burn_in:
            self._end_burn_in()
        self.tally = Tally()
        self.capacity.settle()
        self.roster.new_week()
        if w >= 0:  # scenarios act from the run proper, not during a burn-in
            for intervention in self.interventions:
                intervention.apply(self, w)
        self._arrivals(w)                    # children entering care from outside the pool, ageing in
        self._ageing_out(w)                  # turning 18: leaving care, every order ends
        courts.review_orders(self, w)        # s25 expiry and renewal, DoL reviews, custody, Tier 4 discharge
        act = self.present_children()
        hurt = weekly_dynamics(self.cfg, self.children, act, w, self.streams, self.fit, self.containment,
                               self.levers)
        self.tally.add("harm_incidents", len(hurt))
        ag.edge_of_care(self, w)             # crises noticed at the edge of care: entries into care
        ag.placement_breakdowns(self, w)     # breakdowns: flexible support, or a move
        ag.escalate_crises(self, w)          # CAMHS support or Tier 4 referral; secure referral; arrest
        ag.tier4_admissions(self, w)
        ag.allocate_secure_beds(self, w)     # SWCU offers, s25 applications; long waits -> DoL applications
        ag.funding_agreements(self, w)       # two-payer packages start once funding is agreed
        ag.step_down(self, w)                # calmer children move to less restrictive places
        ag.returns_home(self, w)
        self._record(w)
        self.week += 1

    def run(self) -> "CarePathwaysModel":
        while self.week < self.n_weeks:
            self.step()
        self.finish()
        return self

    # ================================================================== primitives
    def present_children(self) -> np.ndarray:
        """Ids of children present now, in id order (kept up to date as children arrive and leave)."""
        return self._present.ids()

    def in_care_children(self) -> np.ndarray:
        """Ids of looked-after children present now, in id order (kept up to date as ``present_children``)."""
        return self._in_care.ids()

    def edge_of_care_children(self) -> np.ndarray:
        """Ids of present children not looked after (the edge-of-care pool), in id order (kept up to date as
        ``present_children``)."""
        return self._at_edge.ids()

    def children_with_orders(self) -> np.ndarray:
        """Ids of children on an order (a legal basis), in id order, kept up to date as ``set_basis`` changes
        bases.  All of them are present: ``depart`` ends every order."""
        return self._with_orders.ids()

    def requesting_children(self) -> np.ndarray:
        """Ids of children with a request waiting for a place (a pending type), in id order: a few thousand,
        all looked after (see ``agencies._requests``).  Kept up to date from ``requests_changed``."""
        return self._requesting.ids()

    def requests_changed(self, idx: np.ndarray) -> None:
        """Note children whose request (pending type) may have been made, met or cancelled."""
        self._requesting.note(idx)

    def tier4_referred_children(self) -> np.ndarray:
        """Ids of children referred for a Tier 4 bed, in id order (all looked after, see
        ``agencies._referral_queue``).  Kept up to date from ``tier4_referrals_changed``."""
        return self._tier4_referred.ids()

    def tier4_referrals_changed(self, idx: np.ndarray) -> None:
        """Note children whose Tier 4 referral may have been made or ended."""
        self._tier4_referred.note(idx)

    def changed_population(self, departed: np.ndarray | None = None, arrived: np.ndarray | None = None,
                           changed: np.ndarray | None = None) -> None:
        """Note the children who ``departed``, ``arrived`` or ``changed`` legal status, for the lists of ids
        to take in when next asked for (arrivals and departures in one pass, ``relisted``); with none given,
        every list is made afresh when next asked for."""
        if departed is None and arrived is None and changed is None:
            for kept in self._lists:
                kept.forget()
            return
        for ids in (departed, arrived):
            if ids is not None:
                self._present.note(ids)
        for ids in (departed, arrived, changed):
            if ids is not None:
                self._in_care.note(ids)
                self._at_edge.note(ids)

    def child_threshold(self, name: str, idx: np.ndarray) -> np.ndarray:
        """The distress at which the agency responsible for each child escalates (see Roster.threshold)."""
        table, area = self._thresholds[name]
        return table[area[idx]]

    def refresh_thresholds(self) -> None:
        """Each agency's thresholds (``Roster.threshold``), with the area of each child they apply to: a
        child's threshold is ``table[area[child]]``.  A table per agency, not a value per child: the weekly
        passes read a child's LA or region (one or two bytes) instead of four arrays of 8 bytes a child."""
        ch, pw, r = self.children, self.cfg.pathway, self.roster
        self._thresholds = {
            "residential": (r.threshold("childrens_social_care", pw.residential_threshold), ch.la),
            "secure": (r.threshold("childrens_social_care", pw.secure_threshold), ch.la),
            "tier4": (r.threshold("camhs", pw.tier4_threshold), ch.region),
            "dol": (r.threshold("childrens_social_care", self.cfg.orders.dol_threshold), ch.la),
        }
        # The lowest of each: the compiled selections pass over children below every threshold.
        self.lowest_threshold = {name: table.min() for name, (table, _) in self._thresholds.items()}

    def new_orders(self, n: int) -> np.ndarray:
        ids = np.arange(self._order_counter, self._order_counter + n)
        self._order_counter += n
        return ids

    def agency_uid(self, kind: str, idx: np.ndarray) -> np.ndarray:
        """The agent of a kind responsible for each child: by the child's LA (a child's region is its LA's)."""
        return self._uid_by_la[kind][self.children.la[idx]]

    def _prices(self) -> tuple:
        """This year's prices, as ``price_of`` takes them."""
        p = self.prices
        return p.base, p.index, p.dol_weekly_cost(), p.single_mix

    def _books(self) -> tuple:
        """The ledger's running totals, as ``book_one`` takes them."""
        return self.ledger.by_type_mix, self.ledger.la_share_by_la, self.ledger.mix_table

    def reprice(self, idx: np.ndarray) -> None:
        """Recompute weekly cost and payer mix (placement, DoL staffing, year's prices)."""
        if len(idx) == 0:
            return
        ch = self.children
        self.ledger.high_cost += _reprice(idx, ch.placement, ch.basis, ch.needs[NEED["autism_ld"]], ch.la,
                                          ch.weekly_cost, ch.payer_mix, *self._prices(), *self._books())

    def _move_state(self) -> tuple:
        """What a move reads and changes besides the children moved, as ``_move_children`` takes it."""
        ch, cap, dc = self.children, self.capacity, self.cfg.distress
        return (ch.placement, ch.placement_la, ch.provider, ch.placement_start, ch.calm_weeks, ch.basis,
                ch.needs[NEED["autism_ld"]], ch.la, ch.weekly_cost, ch.payer_mix, ch.moves, ch.moves_this_year,
                ch.distress, ch.scar, ch.weeks_by_placement, dc.move_shock, dc.out_of_area_shock, dc.scar_per_move,
                cap.unlimited, cap.in_house, cap.target_in_house, cap.used_in_house, cap.market, cap.target_market,
                cap.used_market, cap.external) + self._prices() + self._books()

    def _vacate(self, idx: np.ndarray) -> np.ndarray:
        """Children leave their current places: the place is freed, its cost unbooked, the spell closed."""
        ch, cap = self.children, self.capacity
        old, high_cost = _free_places(idx, self.week, ch.placement, ch.placement_la, ch.provider, ch.placement_start,
                                      ch.weekly_cost, ch.payer_mix, ch.la, ch.weeks_by_placement, cap.unlimited,
                                      cap.used_in_house, cap.used_market, *self._books())
        self.ledger.high_cost += high_cost
        cap.settle()  # a vacated place above a year's cut closes at once
        return old

    def move(self, idx: np.ndarray, new_type, new_la: np.ndarray, provider: np.ndarray, reason: str,
             agency: np.ndarray, count_as_move: bool | np.ndarray = True) -> None:
        """Move children to places already taken for them (capacity.find took them).

        ``count_as_move`` (one flag, or one per child): a first placement is not a move.  ``agency``, the
        agent moving each child, is for the event log (None if it keeps no details).
        """
        if len(idx) == 0:
            return
        new_type, counted = each_child(new_type, len(idx), np.int64), each_child(count_as_move, len(idx), bool)
        if not len(idx) == len(new_type) == len(new_la) == len(provider) == len(counted):
            raise ValueError("idx, new_type, new_la, provider and count_as_move differ in length")
        old, cost, mix, n_moves, high_cost = _move_children(idx, new_type, new_la, provider, counted, self.week,
                                                            *self._move_state())
        self._moved(idx, old, new_type, new_la, cost, mix, n_moves, high_cost, reason, agency)

    def _moved(self, idx, old, new_type, new_la, cost, mix, n_moves, high_cost, reason, agency) -> None:
        """What follows the compiled part of a move: the ledger's count of high-cost placements, the week's
        count of moves, and the event log (``_log_moves``)."""
        self.ledger.high_cost += high_cost
        if n_moves:
            self.tally.add("moves", n_moves)
        self._log_moves(idx, old, new_type, new_la, cost, self.prices.main_payer[mix], reason, agency)

    def _log_moves(self, idx, old, new_type, new_la, cost, payer, reason, agency) -> None:
        """The event log of a move, and a variation of the order for each child moved under a DoL order."""
        ch, w = self.children, self.week
        if not self.events.keeps_details:  # counting moves only (a comparison run): nothing else to gather
            self.events.add(w, idx, "move", from_type=old, to_type=new_type)
            return
        self.events.add(w, idx, "move", order_id=ch.order_id[idx], basis=ch.basis[idx], from_type=old,
                        to_type=new_type, placement_la=new_la, weekly_cost=cost, payer=payer, reason=reason,
                        agency=agency)
        dol_mask = ch.basis[idx] == DOL
        under_dol = idx[dol_mask]
        if isinstance(reason, np.ndarray):
            reason = reason[dol_mask]
        if len(under_dol):
            # The order follows the child to the new placement: the court varies it.
            self.events.add(w, under_dol, "variation", order_id=ch.order_id[under_dol], basis=DOL,
                            to_type=ch.placement[under_dol], placement_la=ch.placement_la[under_dol],
                            reason=reason, agency=self.agency_uid("high_court", under_dol))

    def set_basis(self, idx: np.ndarray, basis: int, until: np.ndarray | int = NEVER,
                  order_id: np.ndarray | None = None) -> None:
        """Change the legal basis on which children are deprived of liberty (or end it: NO_BASIS)."""
        if len(idx) == 0:
            return
        ch, w = self.children, self.week
        was_dol = _close_basis_spells(idx, w, ch.basis, ch.basis_start, ch.weeks_by_basis)
        ch.basis[idx] = basis
        self._with_orders.note(idx)
        ch.basis_start[idx] = w
        ch.order_until[idx] = until
        if basis == NO_BASIS:
            ch.order_id[idx] = -1
        else:
            ch.order_id[idx] = self.new_orders(len(idx)) if order_id is None else order_id
            ch.order_start[idx] = w
            ch.ever_deprived[idx] = True
        if was_dol or basis == DOL:
            self.reprice(idx)

    def provider_refuses(self, ptype: int, idx: np.ndarray) -> np.ndarray:
        """Whether an independent provider of a type refuses each child (or gives notice), with a probability
        market_refusal * distress^2, doubled for a risk to others.

        A provider judges a child by the history on the referral, which does not change from week to week:
        one draw per child and type (week 0), so a child refused at a given distress keeps being refused
        until calmer, and a provider that took a child gives notice if the child's distress rises past it.
        """
        return self.streams.uniform(f"provider_accepts:{ptype}", 0, idx) < self.refusal_probability(idx)

    def refusal_probability(self, idx: np.ndarray) -> np.ndarray:
        """The chance that an independent provider refuses each child (see ``provider_refuses``)."""
        ch = self.children
        return _refusal_chances(np.asarray(idx, np.int64), ch.distress, ch.needs[NEED["risk_to_others"]],
                                self._refusal_scale())

    def _refusal_scale(self) -> float:
        return self.cfg.placements.market_refusal * self.levers.market_refusal_factor

    def place(self, idx: np.ndarray, wanted: np.ndarray, reason: str, agency_kind: str = "childrens_social_care",
              planned: bool = False, count_as_move: bool | np.ndarray = True, exact: bool = False,
              may_wait: bool = False) -> np.ndarray:
        """Find places of the wanted types (with fallbacks) and move the children; return who moved.

        ``planned`` moves wait for a registered place rather than take an unregistered one; ``exact``
        ones (an agreed package) take only the type wanted.  With ``may_wait`` (a new entry at home, a
        placement that has broken down), children who find no registered place stay where they are with a
        request that is tried again each week (``funding_agreements``), unless registered children's homes
        refused them at the residential step of the chain: those take an unregistered one (T2-034, T2-048:
        about a thousand children a year, staying for months).
        """
        ch, cap, w = self.children, self.capacity, self.week
        if len(idx) == 0:
            return np.zeros(0, bool)
        chains = EXACT_CHAINS if exact else PLANNED_CHAINS if planned else FALLBACK_CHAINS
        idx = np.asarray(idx, np.int64)
        wanted = np.asarray(wanted, np.int64)
        counted = each_child(count_as_move, len(idx), bool)
        if not len(idx) == len(wanted) == len(counted):
            raise ValueError("idx, wanted and count_as_move differ in length")
        dol_seek = _NOWHERE
        if self.levers.dol_home_places > 0:
            dol_seek = np.flatnonzero((wanted == RESIDENTIAL) & (ch.basis[idx] == DOL))
        moved, m, new_type, new_la, reasons, old, cost, mix, waiting, n_moves, high_cost = _place_and_move(
            idx, wanted, chains, counted, may_wait, RS[reason], dol_seek, w, ch.birth_week,
            ch.needs[NEED["risk_to_others"]], self._refusal_scale(), self.min_age, self._refusal_keys, MARKET_REFUSES,
            HOMES, ch.pending_type, ch.pending_week, cap.la_region, cap.la_by_region, cap.region_start,
            cap.region_end, *self._move_state())
        for t, n_waiting in enumerate(waiting.tolist()):
            if n_waiting:
                self.tally.add(f"waiting_{PLACEMENT_TYPES[t]}", n_waiting)
        if may_wait and len(m) < len(idx):
            self.requests_changed(idx[~moved])  # a request, tried again each week
        if len(m):
            moving = idx[m]
            agency = self.agency_uid(agency_kind, moving) if self.events.keeps_details else None
            self._moved(moving, old, new_type, new_la, cost, mix, n_moves, high_cost, reasons, agency)
        return moved

    def enter_care(self, idx: np.ndarray, reason: str, agency: np.ndarray) -> None:
        """Children become looked after (s20 or a care order) and are placed by the pathway."""
        if len(idx) == 0:
            return
        ch, w = self.children, self.week
        s20 = self.streams.uniform("legal_status", w, idx) < self.cfg.population.s20_share
        ch.legal[idx] = np.where(s20, S20, CARE_ORDER)
        self.changed_population(changed=idx)
        first = idx[ch.entered_care_week[idx] == NEVER]
        ch.entered_care_week[first] = w
        ch.ever_in_care[idx] = True
        ch.care_entries[idx] += 1
        self.in_care_this_year[idx] = True
        self.tally.add("entries_to_care", len(idx))
        self.events.add(w, idx, "entry_to_care", from_type=ch.placement[idx], reason=reason, agency=agency)
        wanted = ag.pathway_placement(self, idx, w)
        self.place(idx, wanted, "entry", count_as_move=False, may_wait=True)

    def leave_care(self, idx: np.ndarray, event: str, reason: str) -> None:
        if len(idx) == 0:
            return
        ch, w = self.children, self.week
        ch.legal[idx] = NOT_LOOKED_AFTER
        ch.left_care_week[idx] = w
        self.changed_population(changed=idx)
        self.tally.add("exits_from_care", len(idx))
        self.events.add(w, idx, event, from_type=ch.placement[idx], to_type=FAMILY, reason=reason,
                        agency=self.agency_uid("childrens_social_care", idx))

    def depart(self, idx: np.ndarray, exit_reason: int) -> None:
        """Children leave the simulation: every place and order is given up."""
        if len(idx) == 0:
            return
        ch, w = self.children, self.week
        self.set_basis(idx[ch.basis[idx] != NO_BASIS], NO_BASIS)
        self._vacate(idx)
        ch.placement_start[idx] = w
        ch.provider[idx] = NO_PROVIDER
        ch.weekly_cost[idx] = 0.0
        ch.status[idx] = GONE
        ch.exit_week[idx] = w
        ch.exit_reason[idx] = exit_reason
        ch.secure_referral_week[idx] = NEVER
        ch.tier4_referral_week[idx] = NEVER
        ch.pending_type[idx] = -1
        self.requests_changed(idx)
        self.tier4_referrals_changed(idx)
        self.present[idx] = False
        self.changed_population(departed=idx)
        self.tally.add("departures", len(idx))

    # ================================================================== set-up and schedules
    def _apply_year(self, year: int) -> None:
        """Capacities, outside occupancy and prices for a calendar year (schedules in the config)."""
        cfg, cap = self.cfg, self.capacity
        self.year = year
        self.prices.set_year(year)
        w = self.geo.la_weight
        for i, t in enumerate(PLACEMENT_TYPES):
            p = getattr(cfg.placements, t)
            if p.unlimited:
                continue
            places = schedule_value(p.places_by_year, year)
            if i == SECURE:
                # Welfare places: approved places that are available, less those contracted to youth justice.
                places = places * cfg.secure_welfare.available_share - schedule_value(
                    cfg.secure_welfare.youth_justice_places_by_year, year)
            # One rounding draw per type for the whole run, so the split across LAs is stable by year.
            rng = self.streams.generator(f"capacity:{t}")
            if self.levers.extra_places:
                places += self.levers.extra_places.get(i, 0.0)  # added by a scenario
            national = max(places, 0.0) * self.scale
            in_house = stochastic_round(national * p.in_house_share * w, rng)
            market_w = w * self.market_location[i]
            market = stochastic_round(national * (1 - p.in_house_share) * market_w / market_w.sum(), rng)
            # Children from outside the population fill market places where those places are.
            ext = schedule_value(p.external_occupancy_by_year, year) if p.external_occupancy_by_year else 0.0
            share = market / max(market.sum(), 1)
            external = np.minimum(stochastic_round(ext * self.scale * share, self.streams.generator(f"external:{t}")),
                                  market)
            cap.set_places(i, in_house, market, external)
        # Registered homes reserved for children on DoL orders (a scenario; none in the baseline),
        # council-run in a fixed set of LAs (T5-023: about 200 places across 49 LAs).
        n_homes_la = min(49, self.geo.n_la)
        hosts = self.streams.generator("dol_home_hosts").choice(self.geo.n_la, n_homes_la, replace=False)
        weights = np.zeros(self.geo.n_la)
        weights[hosts] = 1.0 / n_homes_la
        homes = stochastic_round(self.levers.dol_home_places * self.scale * weights,
                                 self.streams.generator("capacity:dol_homes"))
        cap.set_places(DOL_HOMES, np.zeros(self.geo.n_la, np.int64), homes, np.zeros(self.geo.n_la, np.int64))

    def apply_schedules(self) -> None:
        """Re-apply this year's capacities (after a scenario changes places or where they are)."""
        self._apply_year(self.year)

    def _new_year(self, year: int) -> None:
        ch = self.children
        flagged = self.in_care_this_year
        self.three_plus_by_year.append((int((flagged & (ch.moves_this_year >= 3)).sum()), int(flagged.sum())))
        ch.moves_this_year[:] = 0
        self.in_care_this_year = np.zeros(ch.n, bool)
        ic = self.in_care_children()
        self.in_care_this_year[ic] = True
        self.roster.new_year()
        old_index = self.prices.index
        self._apply_year(year)
        if self.prices.index != old_index:
            self.reprice(self.present_children())

    def _start_population(self) -> None:
        ch, cfg = self.children, self.cfg
        # The starting population; later arrivals (even in the first week) arrive through _arrivals.
        start = np.flatnonzero(np.isin(ch.arrival_kind, (INITIAL_IN_CARE, INITIAL_EDGE)))
        ch.status[start] = PRESENT
        self.present[start] = True
        self.changed_population()
        ch.placement[start] = FAMILY
        ch.placement_la[start] = ch.la[start]
        ch.provider[start] = MARKET
        care = start[ch.arrival_kind[start] == INITIAL_IN_CARE]
        rng = self.streams.generator("initial_placements")
        types = initial_placement_types(cfg, ch, care, self.week, rng)
        s20 = rng.random(len(care)) < cfg.population.s20_share
        ch.legal[care] = np.where(s20, S20, CARE_ORDER)
        ch.ever_in_care[care] = True
        self.changed_population()
        ch.entered_care_week[care] = self.week - 1 - rng.integers(0, 4 * WEEKS_PER_YEAR, len(care))
        self.in_care_this_year[care] = True
        for t in np.unique(types):
            group = care[types == t]
            # Where the LA has no place of the type, the child starts where the pathway would have put
            # it instead (the fallback chain), an unregistered setting as the last resort.
            for ptype in FALLBACK.get(int(t), (int(t), UNREGISTERED)):
                if len(group) == 0:
                    break
                found = self.capacity.find(ptype, ch.la[group], ch.distress[group])
                got = group[found.placed]
                ch.placement[got] = ptype
                ch.placement_la[got] = found.la[found.placed]
                ch.provider[got] = found.provider[found.placed]
                group = group[~found.placed]
        ch.placement_start[start] = self.week - rng.integers(0, WEEKS_PER_YEAR, len(start))
        # Start children in care near the distress their placement implies (its unmet needs), keeping
        # each child's own deviation, so the run does not open with a drift.
        dc = cfg.distress
        settled = dc.baseline + ch.need_load[care] * (1 - self.fit[ch.placement[care]])
        deviation = ch.distress[care] - (dc.baseline + ch.need_load[care])
        ch.distress[care] = np.clip(settled + deviation, 0, 1)
        # Legal bases at the start (order terms part-way through).
        o = cfg.orders
        in_secure = care[ch.placement[care] == SECURE]
        w0 = self.week
        self.set_basis(in_secure, S25, until=w0 + rng.integers(1, o.s25_initial_weeks + 1, len(in_secure)))
        in_tier4 = care[ch.placement[care] == TIER4]
        detained = in_tier4[rng.random(len(in_tier4)) < o.mha_detention_share]
        self.set_basis(detained, MHA)
        custody = care[ch.placement[care] == CUSTODY]
        remand = rng.random(len(custody)) < 0.5
        self.set_basis(custody[remand], REMAND, until=w0 + rng.integers(1, 13, int(remand.sum())))
        self.set_basis(custody[~remand], SENTENCE, until=w0 + rng.integers(1, 26, int((~remand).sum())))
        # Children already under DoL orders (T7-015: at least 1,000, about half in unregistered settings).
        n_dol = int(round(o.initial_dol_children * self.scale))
        homes = care[of_type(ch.placement[care], RESIDENTIAL, THERAPEUTIC, UNREGISTERED)]
        chosen = homes[np.argsort(-ch.distress[homes])[:n_dol]]
        self.set_basis(chosen, DOL, until=w0 + rng.integers(1, o.dol_review_weeks + 1, len(chosen)))
        for b in (S25, MHA, REMAND, SENTENCE, DOL):
            ch.basis_start[start[ch.basis[start] == b]] = w0
        self.reprice(start)
        self._next_arrival = len(start)  # the starting population has the lowest ids
        self.edge_hazard_scale = ag.edge_hazard_scale(self)

    def _arrivals(self, w: int) -> None:
        ch = self.children
        # The week as the arrival weeks' type: a Python int would make searchsorted convert the whole array.
        end = int(np.searchsorted(ch.arrival_week, ch.arrival_week.dtype.type(w), side="right"))
        new = np.arange(self._next_arrival, end)
        self._next_arrival = end
        joiners = new[ch.arrival_kind[new] == JOINS_EDGE]
        if len(joiners):
            # The edge of care is kept at its stated size: joiners arrive only while there is room.
            room = max(self.facts["n_edge"] - len(self.edge_of_care_children()), 0)
            new = np.concatenate([new[ch.arrival_kind[new] != JOINS_EDGE], joiners[:room]])
        if len(new) == 0:
            return
        ch.status[new] = PRESENT
        self.present[new] = True
        self.changed_population(arrived=new)
        ch.placement[new] = FAMILY
        ch.placement_la[new] = ch.la[new]
        ch.provider[new] = MARKET
        ch.placement_start[new] = w
        self.tally.add("arrivals", len(new))
        entering = new[ch.arrival_kind[new] == DIRECT_ENTRY]
        self.enter_care(entering, "entry", self.agency_uid("childrens_social_care", entering))
        # Ageing in: children already looked after turn 10 and join the simulated population in care.
        ageing_in = new[ch.arrival_kind[new] == AGEING_IN_CARE]
        if len(ageing_in):
            s20 = self.streams.uniform("legal_status", w, ageing_in) < self.cfg.population.s20_share
            ch.legal[ageing_in] = np.where(s20, S20, CARE_ORDER)
            ch.ever_in_care[ageing_in] = True
            self.tally.add("ageing_in_care", len(ageing_in))
            self.changed_population(changed=ageing_in)
            self.in_care_this_year[ageing_in] = True
            self.place(ageing_in, ag.pathway_placement(self, ageing_in, w), "entry", count_as_move=False,
                       may_wait=True)

    def _ageing_out(self, w: int) -> None:
        """Children turning 18 leave: those born by week ``w - 18 years`` not yet of age (by birth week,
        from where last week stopped), who are present.  Each week all of them leave, and every child
        arrives younger than 18, so these are all the present children 18 or older."""
        born_by = np.searchsorted(self._birth_weeks, self._birth_weeks.dtype.type(w - 18 * WEEKS_PER_YEAR),
                                  side="right")
        coming = self._by_birth[self._come_of_age:born_by]
        self._come_of_age = born_by
        self._turn_18(w, np.sort(coming[self.present[coming]]))

    def _turn_18(self, w: int, turning: np.ndarray) -> None:
        """Children turning 18 leave care and the simulation; every order they are under expires."""
        if len(turning) == 0:
            return
        ch = self.children
        with_order = turning[ch.basis[turning] != NO_BASIS]
        self.events.add(w, with_order, "expiry", order_id=ch.order_id[with_order], basis=ch.basis[with_order],
                        from_type=ch.placement[with_order], reason="age_18")
        in_care = turning[ch.legal[turning] != NOT_LOOKED_AFTER]
        self.events.add(w, in_care, "ageing_out", from_type=ch.placement[in_care], reason="age_18",
                        agency=self.agency_uid("childrens_social_care", in_care))
        ch.legal[in_care] = NOT_LOOKED_AFTER
        ch.left_care_week[in_care] = w
        self.changed_population(changed=in_care)
        self.tally.add("exits_from_care", len(in_care))
        self.depart(turning, 1)

    # ================================================================== records
    def _record(self, w: int) -> None:
        ch, cap, s = self.children, self.capacity, 1.0 / self.scale
        act = self.present_children()
        k = census(ch, act, self.in_care_children(), w, FAMILY, TIER4, len(PLACEMENT_TYPES), len(BASES),
                   len(LEGAL_STATUS), self.geo.n_la, len(REGIONS), len(PAYERS))
        ic = k.in_care
        self._book_budgets(w, k)
        if w < 0:  # burn-in: budgets still count, nothing is recorded
            return
        self.in_care_this_year[ic] = True
        table, n_types = self.weekly, len(PLACEMENT_TYPES)
        by_type = k.by_type
        table.put_each(w, "children_", PLACEMENT_TYPES, by_type * s)
        table.put_each(w, "capacity_", PLACEMENT_TYPES, cap.places_by_type()[:n_types] * s)
        occupied = np.where(cap.unlimited[:n_types], by_type, cap.occupied_by_type()[:n_types])
        table.put_each(w, "occupancy_", PLACEMENT_TYPES, occupied * s)
        table.put_each(w, "legal_", BASES, k.by_basis * s)
        table.put_each(w, "looked_after_", LEGAL_STATUS[1:], k.by_legal[1:] * s)
        table.put_each(w, "region_", REGIONS, k.by_region * s)
        by_payer, community_cost = self._spend_by_payer(k)
        table.put_each(w, "spend_", PLACEMENT_TYPES, self.ledger.spend_by_type() * s)
        table.put_each(w, "spend_", PAYERS, by_payer * s)
        if self.interventions:
            implementation = sum(i.weekly_cost(self) for i in self.interventions)
            table.put_each(w, "implementation_", PAYERS, np.asarray(implementation) * s)
        table.put(w, {
            "week": w, "year": self.year, "children_present": len(act) * s, "children_in_care": len(ic) * s,
            "edge_of_care": (len(act) - len(ic)) * s, "out_of_area": float(k.out_of_area) * s,
            "spend_community_support": community_cost * s, "spend_total": by_payer.sum() * s,
            "placements_10k_plus": self.ledger.high_cost * s, "capacity_dol_homes": cap.places(DOL_HOMES) * s,
            "occupancy_dol_homes": cap.occupied(DOL_HOMES) * s,
        })
        # The week's counts of decisions.
        table.put(w, {key: value * s for key, value in self.tally.values.items()})

    def _spend_by_payer(self, k: Census) -> tuple[np.ndarray, float]:
        """The week's spend by payer (placements from the running ledger, plus the community support and
        CAMHS packages active this week, in ``k``) and the spend on those packages alone."""
        f = self.cfg.funding
        support_by_payer = k.support_by_payer * (f.community_support_weekly_cost_gbp * self.prices.index)
        support_cost = support_by_payer.sum()
        camhs_cost = int(k.camhs_by_region.sum()) * f.camhs_support_weekly_cost_gbp * self.prices.index
        by_payer = self.ledger.spend_by_payer() + support_by_payer
        by_payer[1] += camhs_cost
        return by_payer, support_cost + camhs_cost

    def _book_budgets(self, w: int, k: Census) -> None:
        """Each LA's share of spend, and each region's NHS spend on CAMHS and Tier 4, against budgets
        (``k``: this week's census of the children present)."""
        f = self.cfg.funding
        package = f.community_support_weekly_cost_gbp * self.prices.index
        la_spend = self.ledger.la_share_by_la + k.support_by_payer_la[0] * package
        week_of_year = (w + self.burn_in) % WEEKS_PER_YEAR
        for kind, payer in (("education", 3), ("youth_justice", 2)):
            self.roster.book_spend(kind, k.support_by_payer_region[payer] * package, week_of_year)
        self.roster.book_spend("childrens_social_care", la_spend, week_of_year)
        nhs_region = k.camhs_by_region * f.camhs_support_weekly_cost_gbp * self.prices.index
        nhs_region = nhs_region + k.tier4_cost_by_region
        self.roster.book_spend("camhs", nhs_region, week_of_year)

    def _end_burn_in(self) -> None:
        """The burn-in is over: histories start afresh, so every output covers the run proper only."""
        ch, act = self.children, self.present_children()
        ch.moves[:] = 0
        ch.moves_this_year[:] = 0
        ch.weeks_by_placement[:] = 0
        ch.weeks_by_basis[:] = 0
        ch.harm_incidents[:] = 0
        ch.care_entries[:] = 0
        ch.placement_start[act] = 0
        ch.basis_start[act] = 0
        ch.ever_deprived[:] = False
        ch.ever_deprived[act[ch.basis[act] != NO_BASIS]] = True
        ch.ever_in_care[:] = False
        ch.ever_in_care[act[ch.legal[act] != NOT_LOOKED_AFTER]] = True
        self.three_plus_by_year = []
        self.in_care_this_year = np.zeros(ch.n, bool)
        self.in_care_this_year[act[ch.legal[act] != NOT_LOOKED_AFTER]] = True
        self._start_interventions()

    def finish(self) -> None:
        """Close open spells so per-child totals cover the whole horizon."""
        ch, w = self.children, self.n_weeks
        act = self.present_children()
        ch.weeks_by_placement[act, ch.placement[act].astype(np.int64)] += w - ch.placement_start[act]
        ch.placement_start[act] = w
        b = ch.basis[act].astype(np.int64)
        ch.weeks_by_basis[act, b] += np.where(b != NO_BASIS, w - ch.basis_start[act], 0)
        ch.basis_start[act] = w
        flagged = self.in_care_this_year  # the last (possibly part) year
        self.three_plus_by_year.append((int((flagged & (ch.moves_this_year >= 3)).sum()), int(flagged.sum())))
        self.roster.sync_agents()

    # ================================================================== invariants (used by tests)
    def census(self) -> dict[str, int]:
        ch = self.children
        return {
            "present": int(self.present.sum()),
            "arrived": int((ch.status != FUTURE).sum()),
            "gone": int((ch.status == GONE).sum()),
            "in_care": int((self.present & (ch.legal != NOT_LOOKED_AFTER)).sum()),
            "edge": int((ch.arrival_kind == INITIAL_EDGE).sum()),
        }


# ==================================================================== compiled moves and changes of basis
# A move (some 16 times a week) or a change of legal basis (15) touches a few children's places, costs,
# spells and counts: each of these loops replaces a dozen or more small NumPy calls (a fixed cost of
# microseconds each).  The order of the additions to the running totals is the children's order, as
# ``np.add.at`` took them, so the totals are the same bit for bit.  Compiled as in ``sim.placements``
# (cached, bounds checked).
_jit = numba.njit(cache=True, boundscheck=True)


@_jit
def _free_places(idx, week, placement, placement_la, provider, placement_start, weekly_cost, payer_mix, la,
                 weeks_by_placement, unlimited, used_in_house, used_market, by_type_mix, la_share_by_la, mix_table):
    """Free the children's places (without settling capacity), unbook their costs and close their
    spells (``CarePathwaysModel._vacate``); returns their placement types and the change in the
    number of high-cost placements."""
    old = placement[idx]
    occupy_each(unlimited, used_in_house, used_market, old, placement_la[idx], provider[idx], -1)
    high_cost = 0
    for c in idx:
        high_cost -= book_one(by_type_mix, la_share_by_la, mix_table, placement[c], payer_mix[c], weekly_cost[c],
                              la[c], -1)
    for i in range(len(idx)):
        c = idx[i]
        weeks_by_placement[c, old[i]] += week - placement_start[c]
    return old, high_cost


@_jit
def _settle_in(idx, new_type, new_la, new_provider, counted, week, placement, placement_la, provider,
               placement_start, calm_weeks, basis, autism_ld, la, weekly_cost, payer_mix, moves, moves_this_year,
               distress, scar, move_shock, out_of_area_shock, scar_per_move, base, index, dol_weekly_cost,
               single_mix, by_type_mix, la_share_by_la, mix_table):
    """Children (already out of their old places) take the places found for them: placement, price
    and books, and for a ``counted`` move the count, the shock to distress (more out of area) and the
    scar.  Returns each child's weekly cost and payer mix, the number of counted moves and the change
    in the number of high-cost placements."""
    n = len(idx)
    cost = np.empty(n, np.float64)
    mix = np.empty(n, np.int64)
    n_moves = 0
    high_cost = 0
    for i in range(n):
        c = idx[i]
        placement[c] = new_type[i]
        placement_la[c] = new_la[i]
        provider[c] = new_provider[i]
        placement_start[c] = week
        cost[i], mix[i] = price_of(new_type[i], basis[c] == DOL, autism_ld[c], base, index, dol_weekly_cost,
                                   single_mix)
        weekly_cost[c] = cost[i]
        payer_mix[c] = mix[i]
        high_cost += book_one(by_type_mix, la_share_by_la, mix_table, new_type[i], mix[i], cost[i], la[c], 1)
        calm_weeks[c] = 0
        if counted[i]:
            n_moves += 1
            moves[c] += 1
            moves_this_year[c] += 1
            out_of_area = 1.0 if placement_la[c] != la[c] else 0.0
            # Moves break relationships (learning point 5): distress now, a lasting scar later.
            shocked = distress[c] + move_shock + out_of_area_shock * out_of_area
            distress[c] = 1.0 if shocked > 1.0 else shocked  # np.minimum(shocked, 1): NaN stays NaN
            scar[c] += scar_per_move
    return cost, mix, n_moves, high_cost


@_jit
def _refusal_chances(idx, distress, risk_to_others, scale):
    """An independent provider's chance of refusing each child: ``scale`` (market_refusal times the
    scenario's factor) * distress^2, doubled for a risk to others; the products of the NumPy form
    ``scale * distress**2 * (1 + risk)``, in its order."""
    out = np.empty(len(idx), np.float64)
    for i in range(len(idx)):
        c = idx[i]
        out[i] = scale * (distress[c] * distress[c]) * (2.0 if risk_to_others[c] else 1.0)
    return out


@_jit
def _move_children(idx, new_type, new_la, new_provider, counted, week, placement, placement_la, provider,
                   placement_start, calm_weeks, basis, autism_ld, la, weekly_cost, payer_mix, moves, moves_this_year,
                   distress, scar, weeks_by_placement, move_shock, out_of_area_shock, scar_per_move, unlimited,
                   in_house, target_in_house, used_in_house, market, target_market, used_market, external, base,
                   index, dol_weekly_cost, single_mix, by_type_mix, la_share_by_la, mix_table):
    """A move in one call: the old places freed and their spells closed (``_free_places``), vacated places
    above the year's cut closed (``Capacity.settle``), the new places taken (``_settle_in``).  Returns the
    old types, each child's weekly cost and payer mix, the number of counted moves and the change in the
    number of high-cost placements."""
    old, vacated = _free_places(idx, week, placement, placement_la, provider, placement_start, weekly_cost,
                                payer_mix, la, weeks_by_placement, unlimited, used_in_house, used_market, by_type_mix,
                                la_share_by_la, mix_table)
    _settle(in_house, target_in_house, used_in_house, market, target_market, used_market, external)
    cost, mix, n_moves, taken = _settle_in(
        idx, new_type, new_la, new_provider, counted, week, placement, placement_la, provider, placement_start,
        calm_weeks, basis, autism_ld, la, weekly_cost, payer_mix, moves, moves_this_year, distress, scar, move_shock,
        out_of_area_shock, scar_per_move, base, index, dol_weekly_cost, single_mix, by_type_mix, la_share_by_la,
        mix_table)
    return old, cost, mix, n_moves, vacated + taken


@_jit
def _place_and_move(idx, wanted, chains, counted, may_wait, reason, dol_seek, week, birth_week, risk_to_others,
                    refusal_scale, min_age, refusal_keys, refusable, homes, pending_type, pending_week, la_region,
                    la_by_region, region_start, region_end, placement, placement_la, provider, placement_start,
                    calm_weeks, basis, autism_ld, la, weekly_cost, payer_mix, moves, moves_this_year, distress, scar,
                    weeks_by_placement, move_shock, out_of_area_shock, scar_per_move, unlimited, in_house,
                    target_in_house, used_in_house, market, target_market, used_market, external, base, index,
                    dol_weekly_cost, single_mix, by_type_mix, la_share_by_la, mix_table):
    """``place`` in one call: the requests' LA, priority (distress), age and providers' refusal chance, the
    search along the chains (``_place_along_chains``), a request for those who may wait and found nothing,
    and the move of those placed (``_move_children``), with the reason of each move (``no_registered_place``
    for an unregistered setting not wanted).  Returns who was placed, their positions in ``idx``, their new
    type and LA, reasons, old types, costs and payer mixes, the number left waiting by wanted type, the
    number of counted moves and the change in the number of high-cost placements."""
    n = len(idx)
    child_la = np.empty(n, np.int64)
    priority = np.empty(n, np.float64)
    age = np.empty(n, np.int64)
    for i in range(n):
        c = idx[i]
        child_la[i] = la[c]
        priority[i] = distress[c]
        age[i] = (week - birth_week[c]) // WEEKS_PER_YEAR
    refusal_p = _refusal_chances(idx, distress, risk_to_others, refusal_scale)
    moved, new_type, new_la, new_provider, waiting = _place_along_chains(
        wanted, chains, child_la, priority, age, min_age, idx, refusal_p, refusal_keys, refusable, homes,
        UNREGISTERED if may_wait else -1, dol_seek, unlimited, in_house, used_in_house, market, used_market,
        external, la_region, la_by_region, region_start, region_end)
    if may_wait:
        for i in range(n):
            if not moved[i]:
                pending_type[idx[i]] = wanted[i]
                pending_week[idx[i]] = week + 1
    m = np.flatnonzero(moved)
    k = len(m)
    reasons = np.full(k, reason, np.int8)
    for j in range(k):
        if new_type[m[j]] == UNREGISTERED and wanted[m[j]] != UNREGISTERED:
            reasons[j] = NO_REGISTERED_PLACE
    moving, to_type, to_la = idx[m], new_type[m], new_la[m]
    old, cost, mix, n_moves, high_cost = _move_children(
        moving, to_type, to_la, new_provider[m], counted[m], week, placement, placement_la, provider,
        placement_start, calm_weeks, basis, autism_ld, la, weekly_cost, payer_mix, moves, moves_this_year, distress,
        scar, weeks_by_placement, move_shock, out_of_area_shock, scar_per_move, unlimited, in_house,
        target_in_house, used_in_house, market, target_market, used_market, external, base, index,
        dol_weekly_cost, single_mix, by_type_mix, la_share_by_la, mix_table)
    return moved, m, to_type, to_la, reasons, old, cost, mix, waiting, n_moves, high_cost


@_jit
def _close_basis_spells(idx, week, basis, basis_start, weeks_by_basis):
    """Add the weeks each child has been on its current legal basis (if any) to its history; returns
    whether any of them was on a DoL order (``set_basis``: one pass instead of a 2-D scatter and three
    gathers)."""
    was_dol = False
    for c in idx:
        b = basis[c]
        if b != NO_BASIS:
            weeks_by_basis[c, b] += week - basis_start[c]
        was_dol = was_dol or b == DOL
    return was_dol


@_jit
def _reprice(idx, placement, basis, autism_ld, la, weekly_cost, payer_mix, base, index, dol_weekly_cost, single_mix,
             by_type_mix, la_share_by_la, mix_table):
    """Unbook the children's costs, price their placements again and book them (all unbooked first,
    as the totals took them); returns the change in the number of high-cost placements."""
    high_cost = 0
    for c in idx:
        high_cost -= book_one(by_type_mix, la_share_by_la, mix_table, placement[c], payer_mix[c], weekly_cost[c],
                              la[c], -1)
    for c in idx:
        weekly_cost[c], payer_mix[c] = price_of(placement[c], basis[c] == DOL, autism_ld[c], base, index,
                                                dol_weekly_cost, single_mix)
        high_cost += book_one(by_type_mix, la_share_by_la, mix_table, placement[c], payer_mix[c], weekly_cost[c],
                              la[c], 1)
    return high_cost


__all__ = ["CarePathwaysModel"]

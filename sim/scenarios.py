"""Scenarios: policy changes plugged into the model as small intervention objects.

An intervention acts on the model's agents and on a few *levers* the mechanisms read (neutral in the
baseline), reaches only the children it says it reaches, and declares what it costs and who pays.
Each takes a ``strength`` (0 = no change at all, 1 = as described), so a modeller can sweep it.

    initialise(model)      after the population is built, before week 0
    apply(model, week)     at the start of each week
    weekly_cost(model)     implementation cost this week, by payer (model units, before scaling)

The passages of the domain brief each one comes from are in its YAML file under scenarios/scenario/.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import REGIONS, CarePathwaysConfig, ConfigError, schedule_value
from sim.placements import PAYERS, RESIDENTIAL, SECURE, THERAPEUTIC

WEEKS_PER_YEAR = 52


@dataclass
class Levers:
    """Per-child and system-wide settings the mechanisms read; all neutral unless an intervention acts."""

    flexibility_boost: np.ndarray | None = None  # added to agencies' flexibility for this child
    crisis_penalty_factor: np.ndarray | None = None  # multiplies the crisis response penalty for this child
    child_delay_factor: np.ndarray | None = None  # multiplies the funding-agreement delay for this child
    extra_support: np.ndarray | None = None  # support from an intervention, in community-support packages
    funding_delay_factor: float = 1.0  # multiplies every funding-agreement delay
    own_cost_weight: float = 1.0  # how far an LA weighs its own budget against a step-down place
    therapeutic_preference_boost: float = 0.0
    tier4_alternative: float = 0.0  # share of Tier 4 referrals met by community therapeutic provision
    market_refusal_factor: float = 1.0  # multiplies providers' refusals of complex children
    extra_places: dict | None = None  # placement type -> extra national places (scale 1)
    dol_home_places: float = 0.0  # registered places reserved for children on DoL orders (scale 1)

    def array(self, name: str, n: int, fill: float) -> np.ndarray:
        arr = getattr(self, name)
        if arr is None:
            arr = np.full(n, fill, np.float64)
            setattr(self, name, arr)
        return arr


class Intervention:
    """A policy change: a mechanism acting on parameters, agents and levers."""

    name = "intervention"

    def __init__(self, params):
        self.p = params
        self.strength = float(params.strength)

    def initialise(self, model) -> None:
        pass

    def apply(self, model, week: int) -> None:
        pass

    def weekly_cost(self, model) -> np.ndarray:
        return np.zeros(len(PAYERS))

    def _cost(self, amount_per_week: float, payer: str) -> np.ndarray:
        out = np.zeros(len(PAYERS))
        out[PAYERS.index(payer)] = amount_per_week
        return out


class _Caseload(Intervention):
    """Shared by interventions with workers who each hold a caseload of children (re-allocated monthly)."""

    def initialise(self, model) -> None:
        # Strength is the share of the stated workforce deployed: reach and cost scale with it, and each
        # child held gets the full effect.
        self.assigned = np.zeros(model.children.n, bool)
        self.places = int(round(self.p.workers * self.p.caseload * model.scale * self.strength))

    def eligible(self, model, act: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def reallocate(self, model, week: int) -> np.ndarray:
        """Keep children who still qualify; fill free places with the most distressed who qualify."""
        ch = model.children
        act = model.present_children()
        ok = np.zeros(ch.n, bool)
        ok[act[self.eligible(model, act)]] = True
        self.assigned &= ok
        free = self.places - int(self.assigned.sum())
        if free > 0:
            cand = np.flatnonzero(ok & ~self.assigned)
            take = cand[np.argsort(-ch.distress[cand], kind="stable")[:free]]
            self.assigned[take] = True
        return np.flatnonzero(self.assigned)


class SystemIntegrators(_Caseload):
    """Honest brokers between the agencies known to a child: shared understanding, faster joint plans,
    agencies able to flex for the children an integrator holds."""

    name = "system_integrators"

    def eligible(self, model, act):
        ch = model.children
        return (ch.legal[act] != 0) & (ch.distress[act] >= self.p.min_distress)

    def initialise(self, model) -> None:
        super().initialise(model)
        n = model.children.n
        lv = model.levers
        self.flex = lv.array("flexibility_boost", n, 0.0)
        self.penalty = lv.array("crisis_penalty_factor", n, 1.0)
        self.delay = lv.array("child_delay_factor", n, 1.0)

    def apply(self, model, week: int) -> None:
        if week % 4 or self.places == 0:
            return
        before = self.assigned.copy()
        held = self.reallocate(model, week)
        s = 1.0  # full effect for each child held (strength sets how many are held)
        gone = np.flatnonzero(before & ~self.assigned)
        self.flex[gone] -= s * self.p.flexibility_boost
        self.penalty[gone] /= max(1 - s * self.p.crisis_penalty_reduction, 1e-9)
        self.delay[gone] /= max(1 - s * self.p.funding_delay_reduction, 1e-9)
        new = held[~before[held]]
        self.flex[new] += s * self.p.flexibility_boost
        self.penalty[new] *= 1 - s * self.p.crisis_penalty_reduction
        self.delay[new] *= 1 - s * self.p.funding_delay_reduction

    def weekly_cost(self, model):
        workers = self.places / max(self.p.caseload, 1)
        return self._cost(workers * self.p.annual_cost_per_worker_gbp / WEEKS_PER_YEAR, self.p.payer)


class EarlyHelp(_Caseload):
    """Earlier support for children on the edge of care and below crisis, slowing escalation."""

    name = "early_help"

    def eligible(self, model, act):
        ch = model.children
        d = ch.distress[act]
        return (d >= self.p.min_distress) & (d < model.cfg.distress.crisis_threshold) & (ch.basis[act] == 0)

    def initialise(self, model) -> None:
        super().initialise(model)
        self.support = model.levers.array("extra_support", model.children.n, 0.0)

    def apply(self, model, week: int) -> None:
        if week % 4 or self.places == 0:
            return
        before = self.assigned.copy()
        self.reallocate(model, week)
        self.support[before & ~self.assigned] -= self.p.support_packages
        self.support[self.assigned & ~before] += self.p.support_packages

    def weekly_cost(self, model):
        return self._cost(int(self.assigned.sum()) * self.p.weekly_cost_per_child_gbp, self.p.payer)


class PooledFunding(Intervention):
    """Health, social care and education fund places from one pot: no delay or dispute over who pays,
    decisions weigh whole-system cost, joint packages become possible."""

    name = "pooled_funding"

    def initialise(self, model) -> None:
        s = self.strength
        model.levers.funding_delay_factor *= 1 - s
        model.levers.own_cost_weight *= 1 - s
        model.levers.therapeutic_preference_boost += s * self.p.joint_package_boost

    def weekly_cost(self, model):
        if self.strength == 0:
            return np.zeros(len(PAYERS))
        return self._cost(self.strength * model.geo.n_la * self.p.annual_cost_per_la_gbp * model.scale
                          / WEEKS_PER_YEAR, self.p.payer)


class RegionalCareCooperative(Intervention):
    """LAs in a region plan and commission places together: places where the region's children are,
    commissioned for the needs the region sees (fewer refusals of complex children), more places."""

    name = "regional_care_cooperative"

    def initialise(self, model) -> None:
        s = self.strength
        # Market places move towards where children live (the location factor shrinks towards 1).
        model.market_location = model.market_location ** (1 - s)
        model.levers.market_refusal_factor *= 1 - s * self.p.refusal_reduction
        extra = dict(model.levers.extra_places or {})
        extra[RESIDENTIAL] = extra.get(RESIDENTIAL, 0.0) + s * self.p.added_residential_places
        model.levers.extra_places = extra
        model.apply_schedules()

    def weekly_cost(self, model):
        if self.strength == 0:
            return np.zeros(len(PAYERS))
        return self._cost(self.strength * len(REGIONS) * self.p.annual_cost_per_region_gbp * model.scale
                          / WEEKS_PER_YEAR, self.p.payer)


class CommunityTherapeuticProvision(Intervention):
    """Community-based and residential services with integrated mental-health teams, as an alternative
    to Tier 4 inpatient care, with a given number of places."""

    name = "community_therapeutic_provision"

    def initialise(self, model) -> None:
        s = self.strength
        extra = dict(model.levers.extra_places or {})
        extra[THERAPEUTIC] = extra.get(THERAPEUTIC, 0.0) + s * self.p.places
        model.levers.extra_places = extra
        model.levers.tier4_alternative = min(model.levers.tier4_alternative + s * self.p.tier4_redirect_share, 1.0)
        model.apply_schedules()

    def weekly_cost(self, model):
        return self._cost(self.strength * self.p.places * model.scale * self.p.annual_setup_cost_per_place_gbp
                          / WEEKS_PER_YEAR, self.p.payer)


class RiskToleranceShift(Intervention):
    """A national change in how risk is held: every agency's risk tolerance rises by a set amount."""

    name = "risk_tolerance_shift"

    def initialise(self, model) -> None:
        for agents in model.roster.by_kind.values():
            for a in agents:
                a.risk_tolerance = float(min(a.risk_tolerance + self.strength * self.p.shift, 1.0))
        model.roster.refresh()
        model.refresh_thresholds()

    def weekly_cost(self, model):
        if self.strength == 0:
            return np.zeros(len(PAYERS))
        return self._cost(self.strength * self.p.annual_cost_gbp * model.scale / WEEKS_PER_YEAR, self.p.payer)


class SecureBedsExpansion(Intervention):
    """More welfare places in secure children's homes, arriving on a schedule."""

    name = "secure_beds_expansion"

    def _added(self, year: int) -> float:
        first = min(int(y) for y in self.p.added_places_by_year)
        return 0.0 if year < first else schedule_value(self.p.added_places_by_year, year)

    def initialise(self, model) -> None:
        self.apply(model, 0)

    def apply(self, model, week: int) -> None:
        if week % WEEKS_PER_YEAR:
            return
        extra = dict(model.levers.extra_places or {})
        extra[SECURE] = self.strength * self._added(model.year)
        model.levers.extra_places = extra
        model.apply_schedules()

    def weekly_cost(self, model):
        # Capital spread over the years the places are added (the running cost is the placements').
        now, before = self._added(model.year), self._added(model.year - 1)
        return self._cost(self.strength * max(now - before, 0) * model.scale * self.p.capital_cost_per_place_gbp
                          / WEEKS_PER_YEAR, self.p.payer)


class RegisteredDolHomes(Intervention):
    """Council-run registered children's home places for children on DoL orders (T5-023), taking them
    out of unregistered settings."""

    name = "registered_dol_homes"

    def apply(self, model, week: int) -> None:
        if week % WEEKS_PER_YEAR:
            return
        first = min(int(y) for y in self.p.places_by_year)
        places = 0.0 if model.year < first else schedule_value(self.p.places_by_year, model.year)
        model.levers.dol_home_places = self.strength * places
        model.apply_schedules()

    def initialise(self, model) -> None:
        self.apply(model, 0)

    def weekly_cost(self, model):
        years = sorted(int(y) for y in self.p.places_by_year)
        if not years or not years[0] <= model.year <= years[-1]:
            return np.zeros(len(PAYERS))
        per_year = self.p.capital_gbp / len(years)
        return self._cost(self.strength * per_year * model.scale / WEEKS_PER_YEAR, self.p.payer)


INTERVENTIONS = {cls.name: cls for cls in (
    SystemIntegrators, PooledFunding, RegionalCareCooperative, CommunityTherapeuticProvision,
    RiskToleranceShift, SecureBedsExpansion, RegisteredDolHomes, EarlyHelp,
)}


def interventions_for(cfg: CarePathwaysConfig) -> list[Intervention]:
    """The interventions a configuration's scenario switches on (none for the baseline)."""
    out = []
    for name, cls in INTERVENTIONS.items():
        params = getattr(cfg.scenario, name, None)
        if params is None:
            continue
        if not 0.0 <= float(params.strength) <= 1.0:
            raise ConfigError(f"scenario.{name}.strength must be in [0, 1], got {params.strength!r}")
        out.append(cls(params))
    return out


def scenario_name(cfg: CarePathwaysConfig) -> str:
    names = [n for n in INTERVENTIONS if getattr(cfg.scenario, n, None) is not None]
    return "+".join(names) if names else "baseline"

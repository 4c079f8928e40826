"""Children: the population as arrays, its synthesis from published figures, and the child-level dynamics.

Every child who could appear in a run (the children in care at the start, the edge-of-care pool, and
every later arrival) is synthesised before the first week and given a stable id (its index), so ids
never shift between scenarios.  State lives in NumPy arrays indexed by id and is updated for the
whole population at once.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
from scipy.special import ndtri

from sim.config import NEEDS, REGIONS, CarePathwaysConfig, schedule_value
from sim.placements import (
    CUSTODY, FAMILY, FOSTER_AGENCY, FOSTER_INHOUSE, NO_PROVIDER, PLACEMENT_TYPES, RESIDENTIAL, SECURE,
    SUPPORTED, THERAPEUTIC, TIER4, UNREGISTERED,
)
from sim.randomness import Streams, halves, hash_child

WEEKS_PER_YEAR = 52
# Legal status of a looked-after child.
NOT_LOOKED_AFTER, S20, CARE_ORDER = 0, 1, 2
LEGAL_STATUS = ("none", "s20", "care_order")
# Legal basis on which a child is deprived of liberty: an order sits on a placement, it is not one.
NO_BASIS, S25, DOL, MHA, REMAND, SENTENCE = range(6)
BASES = ("none", "s25", "dol", "mha", "remand", "sentence")
# How a child joins the simulation.
INITIAL_IN_CARE, INITIAL_EDGE, AGEING_IN_CARE, DIRECT_ENTRY, JOINS_EDGE = range(5)
ARRIVAL_KINDS = ("initial_in_care", "initial_edge_of_care", "ageing_in_care", "direct_entry", "joins_edge_of_care")
# "Never" for a week-valued field (a week cannot be this far back; -1 would clash with burn-in weeks).
NEVER = -(2 ** 30)
# Status in the run.
FUTURE, PRESENT, GONE = 0, 1, 2
# How a child leaves the simulation.
EXIT_NONE, EXIT_AGED_18, EXIT_NEEDS_MET = 0, 1, 2
EXIT_REASONS = ("still_present", "aged_18", "left_edge_of_care")
N_NEEDS = len(NEEDS)
NEED = {name: i for i, name in enumerate(NEEDS)}


@dataclass
class Geography:
    """Local authorities (LAs) and regions; children's weight gives each LA its share of children."""

    la_region: np.ndarray
    la_weight: np.ndarray
    la_names: list[str]

    @property
    def n_la(self) -> int:
        return len(self.la_region)


def make_geography(cfg: CarePathwaysConfig, rng: np.random.Generator) -> Geography:
    regions, weights, names = [], [], []
    for r, region in enumerate(REGIONS):
        n = cfg.population.local_authorities_per_region[region]
        # LAs differ in size (assumption: lognormal spread of 0.5), summing to the region's share.
        w = rng.lognormal(0.0, 0.5, n)
        weights.extend(cfg.population.region_share_of_children[region] * w / w.sum())
        regions.extend([r] * n)
        names.extend(f"{region}_{k + 1:02d}" for k in range(n))
    weights = np.asarray(weights)
    return Geography(np.asarray(regions, np.int64), weights / weights.sum(), names)


class Children:
    """State of every child, one array element per child id."""

    def __init__(self, n: int):
        self.n = n
        i32 = lambda fill=0: np.full(n, fill, np.int32)  # noqa: E731
        # Codes (LA, region, placement type, legal basis, payer) are stored in the narrowest type that
        # holds them: the weekly passes over everyone present read these arrays, and read fewer bytes.
        self.birth_week = i32()
        self.arrival_week = i32()
        self.arrival_kind = np.zeros(n, np.int8)
        self.la = np.zeros(n, np.int16)
        self.region = np.zeros(n, np.int8)
        self.needs = np.zeros((N_NEEDS, n), bool)  # need-major: one contiguous row per need
        self.need_load = np.zeros(n, np.float64)
        self.distress = np.zeros(n, np.float64)
        self.scar = np.zeros(n, np.float64)  # lasting harm from moves and restriction
        self.status = np.zeros(n, np.int8)
        self.legal = np.zeros(n, np.int8)
        self.basis = np.zeros(n, np.int8)
        self.order_id = i32(-1)
        self.order_start = i32(NEVER)
        self.order_until = i32(NEVER)  # expiry (s25), next review (DoL), release (custody)
        self.basis_start = i32(NEVER)
        self.placement = np.zeros(n, np.int8)
        self.placement_la = np.zeros(n, np.int16)
        self.provider = np.full(n, NO_PROVIDER, np.int8)
        self.placement_start = i32()
        self.weekly_cost = np.zeros(n, np.float64)
        self.payer_mix = np.zeros(n, np.int64)  # row of the payer-share table (sim.costs)
        self.support_until = i32(NEVER)  # flexible community support (social care, school, youth justice)
        self.support_payer = np.zeros(n, np.int8)  # who pays for that support (index into PAYERS)
        self.camhs_until = i32(NEVER)  # community mental-health support (CAMHS)
        self.secure_referral_week = i32(NEVER)
        self.tier4_referral_week = i32(NEVER)
        self.ready_for_discharge_week = i32(NEVER)
        self.pending_type = np.full(n, -1, np.int8)  # a two-payer package awaiting funding agreement
        self.pending_week = i32(NEVER)
        self.dol_refused_week = i32(NEVER)
        self.calm_weeks = i32()
        # history
        self.moves = i32()
        self.moves_this_year = i32()
        self.weeks_by_placement = np.zeros((n, len(PLACEMENT_TYPES)), np.int32)
        self.weeks_by_basis = np.zeros((n, len(BASES)), np.int32)
        self.ever_deprived = np.zeros(n, bool)
        self.ever_in_care = np.zeros(n, bool)  # looked after at any point in the run
        self.harm_incidents = i32()
        self.entered_care_week = i32(NEVER)  # first entry into care in the run
        self.left_care_week = i32(NEVER)  # last exit from care
        self.care_entries = i32()
        self.exit_week = i32(NEVER)
        self.exit_reason = np.zeros(n, np.int8)

    # ---------------------------------------------------------------- views
    def age_weeks(self, idx: np.ndarray, week: int) -> np.ndarray:
        return week - self.birth_week[idx]

    def age_years(self, idx: np.ndarray, week: int) -> np.ndarray:
        return (week - self.birth_week[idx]) // WEEKS_PER_YEAR

    def in_care(self, idx: np.ndarray) -> np.ndarray:
        return self.legal[idx] != NOT_LOOKED_AFTER

    def has(self, need: str, idx: np.ndarray) -> np.ndarray:
        return self.needs[NEED[need]][idx]


# ============================================================================ synthesis
def _needs(n: int, prevalence, loading: float, rng: np.random.Generator) -> np.ndarray:
    """Correlated need flags: a shared complexity factor plus noise, thresholded to each prevalence."""
    z = rng.standard_normal(n)[:, None]
    e = rng.standard_normal((n, N_NEEDS))
    latent = loading * z + np.sqrt(1 - loading**2) * e
    prev = np.array([getattr(prevalence, k) for k in NEEDS])
    return latent > ndtri(1 - np.clip(prev, 1e-9, 1 - 1e-9))


def _poisson_arrivals(rate_per_week: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Arrival week of each arrival, from a weekly Poisson rate."""
    counts = rng.poisson(rate_per_week)
    return np.repeat(np.arange(len(rate_per_week)), counts)  # week index from the first simulated week


def synthesise(cfg: CarePathwaysConfig, geo: Geography, streams: Streams, n_weeks: int, burn_in: int = 0
               ) -> tuple[Children, dict]:
    """Build every child of the run: the stock in care, the edge-of-care pool and all later arrivals.

    Returns the children and facts needed later (the edge-of-care entry hazard's scale).
    """
    pop = cfg.population
    scale = pop.scale
    y0 = cfg.start_year
    rng = streams.generator("synthesis")
    band_share = pop.share_aged_10_to_15 + pop.share_aged_16_17

    # --- sizes (scaled) -----------------------------------------------------
    n_care = int(round(schedule_value(pop.children_looked_after_by_year, y0) * band_share * scale))
    n_edge = int(round(pop.edge_of_care_pool * scale))
    # Weeks from the start of any burn-in (week -burn_in) to the end; burn-in runs at start-year settings.
    first = -burn_in
    n_weeks = n_weeks + burn_in
    years = y0 + np.maximum(np.arange(first, first + n_weeks), 0) // WEEKS_PER_YEAR
    cla = np.array([schedule_value(pop.children_looked_after_by_year, y) for y in years])
    starts = np.array([schedule_value(pop.starts_by_year, y) for y in years])
    # Ageing in: children in care turning 10 (a fifth of the 5-9 cohort a year, T2-009).
    ageing_in = _poisson_arrivals(cla * pop.share_aged_5_to_9 / 5 / WEEKS_PER_YEAR * scale, rng)
    # Entries not through the edge-of-care pool, by age band (T2-017).
    direct_share = 1 - pop.edge_share_of_entries
    direct_young = _poisson_arrivals(starts * pop.start_share_10_to_15 * direct_share / WEEKS_PER_YEAR * scale, rng)
    direct_old = _poisson_arrivals(starts * pop.start_share_16_17 * direct_share / WEEKS_PER_YEAR * scale, rng)
    # The edge-of-care pool is refilled as children leave it (into care, ageing out, needs met).
    edge_entries_per_year = schedule_value(pop.starts_by_year, y0) * (
        pop.start_share_10_to_15 + pop.start_share_16_17) * pop.edge_share_of_entries
    # Potential joiners are generated at 1.2 times the expected turnover; only those needed to keep the
    # pool at its stated size arrive (the rest never appear), so the pool stays the size assumed.
    pool_turnover = pop.edge_pool_leave_per_year + 1 / 8 + edge_entries_per_year / pop.edge_of_care_pool
    joins_edge = _poisson_arrivals(np.full(n_weeks, 1.2 * n_edge * pool_turnover / WEEKS_PER_YEAR), rng)

    parts = [
        (INITIAL_IN_CARE, np.zeros(n_care, np.int64)),
        (INITIAL_EDGE, np.zeros(n_edge, np.int64)),
        (AGEING_IN_CARE, ageing_in),
        (DIRECT_ENTRY, direct_young),
        (DIRECT_ENTRY, direct_old),
        (JOINS_EDGE, joins_edge),
    ]
    parts = [(kind, weeks + first) for kind, weeks in parts]  # to model weeks (negative in burn-in)
    n = sum(len(w) for _, w in parts)
    ch = Children(n)
    kinds = np.concatenate([np.full(len(w), k, np.int8) for k, w in parts])
    weeks = np.concatenate([w for _, w in parts])
    # Later arrivals take ids in order of arrival (stable), after the starting population.
    order = np.argsort(weeks, kind="stable")
    ch.arrival_kind[:] = kinds[order]
    ch.arrival_week[:] = weeks[order]

    # --- ages at arrival --------------------------------------------------------
    age_at_arrival = np.empty(n)
    k = ch.arrival_kind
    in_care_start = k == INITIAL_IN_CARE
    m = int(in_care_start.sum())
    young = rng.random(m) < pop.share_aged_10_to_15 / band_share
    age_at_arrival[in_care_start] = np.where(young, 10 + 6 * rng.random(m), 16 + 2 * rng.random(m))
    age_at_arrival[k == INITIAL_EDGE] = 10 + 8 * rng.random(int((k == INITIAL_EDGE).sum()))
    age_at_arrival[k == AGEING_IN_CARE] = 10 + rng.random(int((k == AGEING_IN_CARE).sum())) / WEEKS_PER_YEAR
    # Direct entries: which band each came from is kept by its position before sorting.
    band_old = np.concatenate([np.zeros(n_care + n_edge + len(ageing_in) + len(direct_young), bool),
                               np.ones(len(direct_old), bool), np.zeros(len(joins_edge), bool)])[order]
    direct = k == DIRECT_ENTRY
    age_at_arrival[direct & ~band_old] = 10 + 6 * rng.random(int((direct & ~band_old).sum()))
    age_at_arrival[direct & band_old] = 16 + 2 * rng.random(int((direct & band_old).sum()))
    age_at_arrival[k == JOINS_EDGE] = 10 + 7 * rng.random(int((k == JOINS_EDGE).sum()))
    ch.birth_week[:] = ch.arrival_week - np.floor(age_at_arrival * WEEKS_PER_YEAR).astype(np.int32)

    # --- where they live --------------------------------------------------------
    if geo.n_la > np.iinfo(ch.la.dtype).max or len(REGIONS) > np.iinfo(ch.region.dtype).max:
        raise ValueError("more local authorities or regions than the children's arrays can hold")
    ch.la[:] = rng.choice(geo.n_la, size=n, p=geo.la_weight)
    ch.region[:] = geo.la_region[ch.la]

    # --- needs and distress --------------------------------------------------------
    edge_kind = (k == INITIAL_EDGE) | (k == JOINS_EDGE)
    ch.needs[:, edge_kind] = _needs(int(edge_kind.sum()), cfg.needs.prevalence_edge_of_care,
                                    cfg.needs.complexity_loading, rng).T
    ch.needs[:, ~edge_kind] = _needs(int((~edge_kind).sum()), cfg.needs.prevalence_in_care,
                                     cfg.needs.complexity_loading, rng).T
    weights = np.array([getattr(cfg.needs.weight, key) for key in NEEDS])
    ch.need_load[:] = weights @ ch.needs
    fit_family = cfg.distress.placement_fit.family
    # Starting distress: where the child's unmet needs would settle it, with individual variation.
    ch.distress[:] = np.clip(cfg.distress.baseline + ch.need_load * (1 - fit_family * edge_kind)
                             + 0.1 * rng.standard_normal(n), 0, 1)
    facts = {"n_care": n_care, "n_edge": n_edge, "edge_entries_per_year": edge_entries_per_year * scale}
    return ch, facts


def populate(cfg: CarePathwaysConfig, streams: Streams, n_weeks: int, burn_in: int = 0
             ) -> tuple[Geography, Children, dict]:
    """The LAs and every child of a run (``make_geography``, ``synthesise``), from the seed's own streams:
    the same for every scenario run with a seed."""
    geo = make_geography(cfg, streams.generator("geography"))
    children, facts = synthesise(cfg, geo, streams, n_weeks, burn_in)
    return geo, children, facts


# Everything ``populate`` reads of a configuration (a test checks it): runs whose values of these are equal
# start with the same children.
SYNTHESIS_INPUTS = ("seed", "start_year", "horizon.years", "horizon.burn_in_years", "population", "needs",
                    "distress.baseline", "distress.placement_fit.family")
_synthesis_inputs = operator.attrgetter(*SYNTHESIS_INPUTS)


# What ``synthesise`` draws for each child; every other array of ``Children`` starts at its default.
SYNTHESISED = ("arrival_kind", "arrival_week", "birth_week", "la", "region", "needs", "need_load", "distress")


class PopulationCache:
    """The last population made (``populate``), handed to each later run with the same synthesis inputs
    as a copy of its own.  A comparison runs every scenario with each seed, and drawing the half a million
    children of a national run again took some 0.2 s of its 5.  What is kept is what synthesis drew
    (``SYNTHESISED``, about 17 MB at national scale); ``clear`` lets it go."""

    def __init__(self):
        self._inputs: tuple | None = None
        self._made: tuple[Geography, dict[str, np.ndarray], dict] | None = None

    def populate(self, cfg: CarePathwaysConfig, streams: Streams, n_weeks: int, burn_in: int = 0
                 ) -> tuple[Geography, Children, dict]:
        inputs = _synthesis_inputs(cfg)
        if self._made is not None and inputs == self._inputs:
            geo, drawn, facts = self._made
            children = Children(len(drawn["la"]))
            for name, values in drawn.items():
                getattr(children, name)[...] = values
            return copy.deepcopy(geo), children, dict(facts)
        geo, children, facts = populate(cfg, streams, n_weeks, burn_in)
        self._made = copy.deepcopy(geo), {name: getattr(children, name).copy() for name in SYNTHESISED}, dict(facts)
        self._inputs = copy.deepcopy(inputs)
        return geo, children, facts

    def clear(self) -> None:
        self._inputs = self._made = None


def initial_placement_types(cfg: CarePathwaysConfig, ch: Children, idx: np.ndarray, week: int,
                            rng: np.random.Generator) -> np.ndarray:
    """Placement type for each child in care at the start, matching the published mix.

    The most distressed go to the most restrictive settings, which keeps the starting state
    consistent with the pathway the model then runs.
    """
    mix = cfg.population.initial_placement_mix
    n = len(idx)
    counts = {t: int(round(getattr(mix, t) * n)) for t in PLACEMENT_TYPES}
    out = np.full(n, -1, np.int64)
    d = ch.distress[idx] + 1e-6 * rng.random(n)  # break ties at random
    age = ch.age_years(idx, week)

    def take(ptype: int, eligible: np.ndarray, highest: bool = True) -> None:
        cand = np.flatnonzero(eligible & (out < 0))
        want = min(counts[PLACEMENT_TYPES[ptype]], len(cand))
        if want <= 0:
            return
        chosen = cand[np.argsort(-d[cand] if highest else rng.random(len(cand)))[:want]]
        out[chosen] = ptype

    every = np.ones(n, bool)
    take(CUSTODY, ch.has("risk_to_others", idx))
    take(TIER4, ch.has("mental_health", idx))
    take(SECURE, every)
    take(UNREGISTERED, every)
    take(THERAPEUTIC, every)
    take(RESIDENTIAL, every)
    take(SUPPORTED, age >= 16, highest=False)
    take(FAMILY, every, highest=False)
    take(FOSTER_AGENCY, every, highest=False)
    out[out < 0] = FOSTER_INHOUSE
    return out


# ============================================================================ dynamics
def weekly_dynamics(cfg: CarePathwaysConfig, ch: Children, idx: np.ndarray, week: int, streams: Streams,
                    fit: np.ndarray, containment: np.ndarray, levers=None) -> np.ndarray:
    """Distress and harm for every present child this week; returns the ids of children harmed.

    Distress moves towards what the child's situation implies.  Unmet needs (needs the placement does
    not meet) raise it; community support lowers it, but less at crisis (learning point 2); past moves
    and restriction leave a lasting scar (learning points 4 and 5).  Harm incidents are likelier with
    distress, and restriction contains them in the short term.

    Per child (``idx``: distinct ids, as ``present_children`` gives them), one compiled loop
    (``distress_and_harm``) with the arithmetic of the whole-array form, in its order:

    - unmet = need load * (1 - fit of the placement); support = [flexible support] + [CAMHS]
      (+ ``levers.extra_support``, in units of a package), times the support effect, less the crisis
      response penalty (times ``levers.crisis_penalty_factor``) at crisis;
    - distress += reversion * (baseline + unmet + scar - support - distress) + uniform noise with the
      stated standard deviation (sqrt(12) * sd over a unit interval), clipped to [0, 1];
    - scar = scar * (1 - decay) + the weekly scar while deprived of liberty;
    - harm with probability (base + slope * distress^2) * (1 - containment of the placement), times
      (1 - DoL containment) on a DoL order, from the distress the child started the week with.

    The draws are ``streams.uniform2("distress_and_harm", week, idx)`` (noise, harm).
    """
    dc, s = cfg.distress, cfg.safety
    idx = np.asarray(idx)
    extra = None if levers is None else levers.extra_support
    factor = None if levers is None else levers.crisis_penalty_factor
    none = np.empty(0, np.float64)
    return distress_and_harm(
        idx, streams.key("distress_and_harm", week), int(week), ch.distress, ch.scar, ch.harm_incidents,
        ch.need_load, ch.placement, ch.basis, ch.support_until, ch.camhs_until,
        np.asarray(fit, np.float64), np.asarray(containment, np.float64),
        extra is not None, none if extra is None else np.asarray(extra, np.float64),
        factor is not None, none if factor is None else np.asarray(factor, np.float64),
        float(dc.baseline), float(dc.reversion_per_week), float(dc.noise_sd * np.sqrt(12.0)),
        float(dc.support_effect), float(dc.support_effect * (1.0 - dc.crisis_response_penalty)),
        float(dc.crisis_threshold), float(dc.crisis_response_penalty), float(1.0 - dc.scar_decay_per_week),
        float(dc.scar_per_week_deprived), float(s.harm_base_per_week), float(s.harm_distress_slope),
        float(1.0 - s.dol_containment), NO_BASIS, DOL)


# ==================================================================== the compiled weekly loop
# The whole-population passes check their indices themselves (each child id once against the arrays'
# common length, each code once against its table) rather than numba's bounds check on every access
# (the other kernels' ``boundscheck=True``): a bad index still raises IndexError, and the pass over
# 100,000 children is about a third faster.
@numba.njit(cache=True)
def check_lengths(n, lengths):
    """IndexError unless every length is ``n`` (arrays with one element per child)."""
    for length in lengths:
        if length != n:
            raise IndexError("per-child arrays differ in length")


@numba.njit(cache=True)
def check_index(i, n):
    """IndexError unless ``i`` indexes ``n`` elements (NumPy's range, -n to n - 1)."""
    if i >= n or i < -n:
        raise IndexError("index out of range")


@numba.njit(cache=True)
def distress_and_harm(idx, key, week, distress, scar, harm_incidents, need_load, placement, basis,
                      support_until, camhs_until, fit, containment, has_extra, extra_support,
                      has_penalty, penalty_factor, baseline, reversion, noise_scale, support_effect,
                      support_effect_at_crisis, crisis_threshold, crisis_penalty, scar_keep,
                      scar_deprived, harm_base, harm_slope, dol_keep, no_basis, dol):
    """One week of distress, scar and harm for the children ``idx`` (distinct ids), in place.

    The arithmetic of the whole-array form, operation by operation and in the same order (no
    fast-math, so no fused multiply-add): the same float64 results bit for bit.  The draws are
    ``Streams.uniform2`` for ``key``: noise from the hash's high 32 bits, harm from its low 32 bits.
    Returns the ids harmed, in the order of ``idx``."""
    n = len(distress)
    check_lengths(n, (len(scar), len(harm_incidents), len(need_load), len(placement), len(basis),
                       len(support_until), len(camhs_until), len(extra_support) if has_extra else n,
                       len(penalty_factor) if has_penalty else n))
    check_lengths(len(fit), (len(containment),))
    hits = np.empty_like(idx)
    n_hit = 0
    for i in range(len(idx)):
        c = idx[i]
        check_index(c, n)
        d = distress[c]
        place = placement[c]
        check_index(place, len(fit))
        b = basis[c]
        unmet = need_load[c] * (1.0 - fit[place])
        support = 1.0 if support_until[c] > week else 0.0
        support += 1.0 if camhs_until[c] > week else 0.0
        if has_extra:
            support += extra_support[c]
        if has_penalty:
            support *= support_effect * ((1.0 - crisis_penalty * penalty_factor[c]) if d >= crisis_threshold else 1.0)
        else:
            support *= support_effect_at_crisis if d >= crisis_threshold else support_effect
        s = scar[c]
        target = baseline + unmet + s - support
        u_noise, u_harm = halves(hash_child(key, c))
        new = d + reversion * (target - d) + (u_noise - 0.5) * noise_scale
        # np.clip(new, 0.0, 1.0) as NumPy gives it: NaN and -0.0 kept as they are
        if new < 0.0:
            new = 0.0
        elif new > 1.0:
            new = 1.0
        distress[c] = new
        scar[c] = s * scar_keep + scar_deprived * (1.0 if b != no_basis else 0.0)
        # Harm, from the distress the child started the week with.
        p = (harm_base + harm_slope * d * d) * (1.0 - containment[place])
        if b == dol:
            p *= dol_keep
        if u_harm < p:
            harm_incidents[c] += 1
            hits[n_hit] = c
            n_hit += 1
    return hits[:n_hit].copy()


class ChildList:
    """The ids of the children who meet a condition, ascending, kept up to date from the children noted
    (``note``) as possibly changed since they were last listed (``relisted``) rather than by a pass over
    everyone present (the model keeps six: present, looked after, on the edge of care, on an order, with a
    request waiting, referred for Tier 4).

    ``meets(ids)``: which of ``ids`` meet the condition now; ``among()``: ids (ascending) of every child who
    may, of which those who meet it are listed afresh the first time and after ``forget``.  Every child
    whose standing may have changed must be noted."""

    def __init__(self, meets: Callable[[np.ndarray], np.ndarray], among: Callable[[], np.ndarray]):
        self._meets, self._among = meets, among
        self._ids: np.ndarray | None = None
        self._noted: list[np.ndarray] = []

    def note(self, ids: np.ndarray) -> None:
        self._noted.append(ids)

    def forget(self) -> None:
        """List afresh when next asked."""
        self._ids, self._noted = None, []

    def ids(self) -> np.ndarray:
        if self._ids is None:
            everyone = self._among()
            self._ids = everyone[self._meets(everyone)]
        elif self._noted:
            noted = distinct(self._noted)
            self._ids = relisted(self._ids, noted, self._meets(noted))
        self._noted = []
        return self._ids


def distinct(batches: list[np.ndarray]) -> np.ndarray:
    """The ids of some batches of children, ascending and each once (as ``relisted`` takes them): what
    ``np.unique`` gives, which takes some 20 microseconds more for a few hundred ids."""
    ids = np.sort(np.concatenate(batches).astype(np.int64, copy=False))
    first = np.ones(len(ids), bool)
    first[1:] = ids[1:] != ids[:-1]
    return ids[first]


# ==================================================================== compiled selections
# Each week some mechanisms pick, among the ~100,000 children present, the few whose order falls due,
# who turn 18 or who are in a Tier 4 bed.  As NumPy each pick is a gather, a comparison or two and a
# mask, a pass over the population each; one compiled pass is faster (about a quarter, in a run: the
# passes are bound by reading memory).  They keep the order of ``act``.
_select = numba.njit(cache=True, boundscheck=True)


@_select
def orders_due(act, order_until, week):
    """``act[(order_until[act] != NEVER) & (order_until[act] <= week)]``: the children whose order's
    term or review falls by ``week``."""
    out = np.empty(len(act), np.int64)
    n = 0
    for c in act:
        until = order_until[c]
        if until != NEVER and until <= week:
            out[n] = c
            n += 1
    return out[:n].copy()


@_select
def placed_in(act, placement, ptype):
    """``act[placement[act] == ptype]``: the children placed in a type of placement."""
    out = np.empty(len(act), np.int64)
    n = 0
    for c in act:
        if placement[c] == ptype:
            out[n] = c
            n += 1
    return out[:n].copy()



@_select
def relisted(ids, changed, listed):
    """The ascending id list ``ids`` brought up to date after the children ``changed`` (ascending,
    distinct) changed: each of them is listed if ``listed`` (one flag per changed child), every other
    child stays as listed.

    So the present or the looked-after ids are kept without a pass over everyone present: what
    ``np.flatnonzero(present)`` or ``act[legal[act] != NOT_LOOKED_AFTER]`` would give again, provided
    ``changed`` holds every child whose presence or status changed since ``ids`` was made.  The
    unchanged runs of ``ids`` are copied whole; a view of a buffer (the copy to its exact length would
    be a second pass)."""
    out = np.empty(len(ids) + len(changed), np.int64)
    at = np.searchsorted(ids, changed)  # where each changed child is listed, or would be
    n = 0
    done = 0  # ids[:done] are placed
    for j in range(len(changed)):
        c, p = changed[j], at[j]
        out[n:n + p - done] = ids[done:p]
        n += p - done
        done = p + 1 if p < len(ids) and ids[p] == c else p
        if listed[j]:
            out[n] = c
            n += 1
    out[n:n + len(ids) - done] = ids[done:]
    return out[:n + len(ids) - done]

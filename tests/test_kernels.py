"""The compiled per-child kernels give the same numbers, bit for bit, as the whole-array NumPy code
they replaced: the counter-based draws (``Streams.uniform``/``uniform2``), a week of distress,
scar and harm (``weekly_dynamics``) and the agencies' selections of whom each weekly mechanism acts on
(``sim.agencies``).  The references below are plain NumPy copies of the former code.
"""

from __future__ import annotations

import copy
import zlib
from types import SimpleNamespace

import numpy as np
import pytest

from sim import build_config
from sim.children import DOL, NO_BASIS, Children, weekly_dynamics
from sim.model import CarePathwaysModel
from sim.randomness import Streams, hash_child

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)


# ============================================================================ references
def reference_key(seed: int, n_weeks: int, first_week: int, decision: str, week: int) -> np.uint64:
    """A decision's key for a week: SeedSequence(seed, spawn_key=(crc32(decision),)), one per week."""
    seq = np.random.SeedSequence(seed, spawn_key=(zlib.crc32(decision.encode()),))
    keys = seq.generate_state(n_weeks - first_week + 1, np.uint64)
    return keys[min(week - first_week, n_weeks - first_week)]


def reference_hash(key: np.uint64, children) -> np.ndarray:
    """SplitMix64's finaliser of child * golden + key, whole arrays in uint64 (wrapping)."""
    with np.errstate(over="ignore"):
        x = np.asarray(children, dtype=np.uint64) * GOLDEN
        x += key
        x ^= x >> np.uint64(30)
        x *= M1
        x ^= x >> np.uint64(27)
        x *= M2
        x ^= x >> np.uint64(31)
    return x


def reference_uniform(key, children):
    return (reference_hash(key, children) >> np.uint64(11)) * 2.0 ** -53


def reference_uniform2(key, children):
    x = reference_hash(key, children)
    return ((x >> np.uint64(32)).astype(np.float64) * 2.0 ** -32,
            (x & np.uint64(0xFFFFFFFF)).astype(np.float64) * 2.0 ** -32)


def reference_weekly_dynamics(cfg, ch, idx, week, key, fit, containment, levers=None):
    """``weekly_dynamics`` as whole-array NumPy (the former implementation), drawing from ``key``."""
    dc, s = cfg.distress, cfg.safety
    d = ch.distress[idx]
    place = ch.placement[idx]
    basis = ch.basis[idx]
    unmet = ch.need_load[idx] * (1.0 - fit[place])
    support = (ch.support_until[idx] > week).astype(np.float64)
    support += ch.camhs_until[idx] > week
    if levers is not None and levers.extra_support is not None:
        support += levers.extra_support[idx]
    if levers is not None and levers.crisis_penalty_factor is not None:
        penalty = dc.crisis_response_penalty * levers.crisis_penalty_factor[idx]
        support *= dc.support_effect * np.where(d >= dc.crisis_threshold, 1.0 - penalty, 1.0)
    else:
        support *= np.where(d >= dc.crisis_threshold, dc.support_effect * (1.0 - dc.crisis_response_penalty),
                            dc.support_effect)
    scar = ch.scar[idx]
    target = dc.baseline + unmet + scar - support
    u_noise, u_harm = reference_uniform2(key, idx)
    new = d + dc.reversion_per_week * (target - d) + (u_noise - 0.5) * (dc.noise_sd * np.sqrt(12.0))
    ch.distress[idx] = np.clip(new, 0.0, 1.0)
    ch.scar[idx] = scar * (1.0 - dc.scar_decay_per_week) + dc.scar_per_week_deprived * (basis != NO_BASIS)
    p = (s.harm_base_per_week + s.harm_distress_slope * d * d) * (1.0 - containment[place])
    p[basis == DOL] *= 1.0 - s.dol_containment
    hit = idx[u_harm < p]
    ch.harm_incidents[hit] += 1
    return hit


def assert_same_bits(got, want):
    """Same type, dtype, shape and bytes (so 0.0 and -0.0, or two NaNs' payloads, are told apart)."""
    assert type(got) is type(want)
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.ascontiguousarray(got).view(np.uint8), np.ascontiguousarray(want).view(np.uint8))


# ============================================================================ streams
def test_hash_is_splitmix64():
    """Known answers: SplitMix64 seeded 0 gives these first four outputs (the finaliser of k * golden)."""
    published = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC]
    assert [int(hash_child(np.uint64(0), k)) for k in (1, 2, 3, 4)] == published
    assert [int(v) for v in reference_hash(np.uint64(0), [1, 2, 3, 4])] == published


def _cases(n_cases: int, seed: int = 20261125):
    """Random streams, weeks and child ids: ids 0 and 2**40 always, up to 2**40 (and a few huge)."""
    rng = np.random.default_rng(seed)
    for case in range(n_cases):
        run_seed = int(rng.integers(0, 2 ** 63)) if case % 2 else int(rng.integers(0, 1000))
        n_weeks = int(rng.integers(1, 600))
        first_week = -int(rng.integers(0, 104)) if case % 3 == 0 else 0
        week = int(rng.integers(first_week, n_weeks + 10))  # past the end: the last key
        n = int(rng.choice([0, 1, 5, 100, 1000, 20_000]))
        ids = rng.integers(0, 2 ** 40 + 1, n)
        if case % 4 == 0:
            ids = rng.integers(0, 400_000, n)  # ids the size of a national run's
        ids = np.concatenate([[0, 2 ** 40], ids, [2 ** 62, 2 ** 63 - 1]]).astype(np.intp)
        rng.shuffle(ids)
        yield run_seed, n_weeks, first_week, week, f"decision_{case % 7}", ids


def test_streams_equal_the_numpy_splitmix64_on_random_seeds_weeks_and_ids():
    for run_seed, n_weeks, first_week, week, decision, ids in _cases(120):
        s = Streams(run_seed, n_weeks, first_week)
        key = reference_key(run_seed, n_weeks, first_week, decision, week)
        assert s.key(decision, week) == key
        assert_same_bits(s.uniform(decision, week, ids), reference_uniform(key, ids))
        hi, lo = s.uniform2(decision, week, ids)
        ref_hi, ref_lo = reference_uniform2(key, ids)
        assert_same_bits(hi, ref_hi)
        assert_same_bits(lo, ref_lo)


@pytest.mark.parametrize("make", [
    lambda ids: ids,
    lambda ids: ids[::-3],  # not contiguous
    lambda ids: ids.astype(np.int32),
    lambda ids: ids.astype(np.uint64),
    lambda ids: ids.astype(">i8"),  # not native byte order
    lambda ids: ids[:12].reshape(3, 4),
    lambda ids: ids[:12].reshape(3, 4).T,
    lambda ids: ids.tolist(),
    lambda ids: ids[:0],
    lambda ids: [],
    lambda ids: int(ids[1]),  # a scalar gives a scalar
    lambda ids: np.array([-1, -2 ** 63, 7]),  # wrapped to uint64, as NumPy converts them
    lambda ids: np.array([0.0, 3.0, 2.0 ** 40]),
    lambda ids: ids > 50,
], ids=["intp", "strided", "int32", "uint64", "big-endian", "2d", "2d-F", "list", "empty", "empty-list",
        "scalar", "negative", "float", "bool"])
def test_streams_accept_what_numpy_arithmetic_accepted(make):
    """Any input the whole-array code took gives the same values, types and shapes."""
    ids = make(np.array([0, 2 ** 40, 3, 99, 100_000, 7, 12, 5, 250_000, 1, 2, 64, 1000, 17, 3], np.intp))
    s = Streams(42, 104, -52)
    for week in (-52, 0, 50, 200):
        key = reference_key(42, 104, -52, "x", week)
        assert_same_bits(s.uniform("x", week, ids), reference_uniform(key, ids))
        for got, want in zip(s.uniform2("x", week, ids), reference_uniform2(key, ids)):
            assert_same_bits(got, want)


# ============================================================================ weekly dynamics
@pytest.fixture(scope="module")
def stepped():
    """A small model ten weeks in (children at crisis, on DoL orders, with support, harmed)."""
    m = CarePathwaysModel(build_config(["population.scale=0.05", "horizon.years=1", "seed=2"]))
    for _ in range(10):
        m.step()
    return m


def _levers(n: int, extra: bool, penalty: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    return SimpleNamespace(
        extra_support=rng.choice([0.0, 0.5, 1.0, 2.0], n) * (rng.random(n) < 0.3) if extra else None,
        crisis_penalty_factor=np.where(rng.random(n) < 0.3, rng.random(n), 1.0) if penalty else None)


def _compare_weeks(cfg, children: Children, idx, first_week: int, streams: Streams, fit, containment,
                   levers, weeks: int = 4):
    """Both implementations on copies of the same state, week after week: identical state and hits."""
    ours, ref = copy.deepcopy(children), copy.deepcopy(children)
    n_hits = 0
    for w in range(first_week, first_week + weeks):
        hit = weekly_dynamics(cfg, ours, idx, w, streams, fit, containment, levers)
        key = reference_key(streams.seed, streams.n_weeks + streams.first_week, streams.first_week,
                            "distress_and_harm", w)
        want = reference_weekly_dynamics(cfg, ref, idx, w, key, fit, containment, levers)
        assert_same_bits(hit, want)
        for name in ("distress", "scar", "harm_incidents"):
            assert_same_bits(getattr(ours, name), getattr(ref, name))
        n_hits += len(hit)
    for name, value in vars(ref).items():  # nothing else touched
        assert_same_bits(getattr(ours, name), value)
    return n_hits


@pytest.mark.parametrize("extra,penalty", [(False, False), (True, False), (False, True), (True, True)])
def test_weekly_dynamics_equals_the_numpy_form_on_model_state(stepped, extra, penalty):
    m = stepped
    ch, idx, w, cfg = m.children, m.present_children(), m.week, m.cfg
    d = ch.distress[idx]
    # The state exercises every branch.
    assert (d >= cfg.distress.crisis_threshold).any() and (d < cfg.distress.crisis_threshold).any()
    assert (ch.basis[idx] == DOL).any() and (ch.basis[idx] != NO_BASIS).any()
    assert (ch.support_until[idx] > w).any() and (ch.camhs_until[idx] > w).any()
    levers = _levers(ch.n, extra, penalty) if extra or penalty else None
    n_hits = _compare_weeks(cfg, ch, idx, w, m.streams, m.fit, m.containment, levers)
    assert n_hits > 0
    if levers is None:  # the model's own levers (arrays None) are the same as none
        _compare_weeks(cfg, ch, idx, w, m.streams, m.fit, m.containment, m.levers)


def test_weekly_dynamics_on_a_subset_and_unsorted_ids(stepped):
    m = stepped
    idx = m.present_children()
    rng = np.random.default_rng(1)
    for sub in (idx[::3], rng.permutation(idx)[:500], idx[:0]):
        _compare_weeks(m.cfg, m.children, sub, m.week, m.streams, m.fit, m.containment,
                       _levers(m.children.n, True, True, seed=2), weeks=2)


@pytest.mark.parametrize("noise_sd", [0.0631635, 0.0, 0.5])
def test_weekly_dynamics_edge_values(noise_sd):
    """Distress at and beyond the bounds, -0.0, NaN and infinities; no noise and no reversion (so a
    new distress of -0.0 arises) and much noise (many clipped): the same bits as np.clip and the
    array arithmetic."""
    rng = np.random.default_rng(7)
    n = 5000
    ch = Children(n)
    edges = rng.choice([0.0, -0.0, 1.0, 0.6, 0.5999999999999999, np.nan, np.inf, -np.inf, -0.3, 1.7], n)
    ch.distress[:] = np.where(rng.random(n) < 0.5, edges, rng.uniform(-0.2, 1.2, n))
    ch.scar[:] = rng.choice([0.0, -0.0, 0.01, 0.3], n)
    ch.need_load[:] = rng.choice([0.0, -0.0, 0.2, 0.45], n)
    ch.placement[:] = rng.integers(0, 10, n)
    ch.basis[:] = rng.integers(0, 6, n)
    ch.support_until[:] = rng.integers(-3, 6, n)
    ch.camhs_until[:] = rng.integers(-3, 6, n)
    fit = np.array([0.2, 0.4, 0.35, 0.3, 0.8, 0.3, 0.6, 0.5, 0.0, 1.0])
    containment = np.array([0.0, 0.0, 0.0, 0.1, 0.3, 0.0, 0.6, 0.7, 0.1, 0.6])
    idx = np.arange(n)
    for baseline, reversion, scar_per_week in ((0.15, 0.0958732, 0.002), (-0.0, 0.0958732, 0.0),
                                               (-0.1, 0.0, -0.0)):
        cfg = SimpleNamespace(
            distress=SimpleNamespace(baseline=baseline, reversion_per_week=reversion, noise_sd=noise_sd,
                                     crisis_threshold=0.6, crisis_response_penalty=0.5, support_effect=0.15,
                                     scar_per_week_deprived=scar_per_week, scar_decay_per_week=0.005),
            safety=SimpleNamespace(harm_base_per_week=0.002, harm_distress_slope=0.05, dol_containment=0.5))
        streams = Streams(3, 52)
        for levers in (None, _levers(n, True, True, seed=3)):
            with np.errstate(invalid="ignore"):  # inf - inf in the reference
                _compare_weeks(cfg, ch, idx, 2, streams, fit, containment, levers, weeks=3)
    # The last setting without noise does produce -0.0 (kept by np.clip, as by the kernel).
    if noise_sd == 0.0:
        out = copy.deepcopy(ch)
        with np.errstate(invalid="ignore"):
            weekly_dynamics(cfg, out, idx, 2, streams, fit, containment)
        assert (np.signbit(out.distress) & (out.distress == 0)).any()


# ============================================================================ the agencies' selections
# Each compiled selection in sim.agencies against the NumPy form it replaced, on a stepped model's
# state: the draws of several weeks, and thresholds as they are, lowered and raised.
from sim import agencies as ag  # noqa: E402
from sim.children import MHA, NEVER, NOT_LOOKED_AFTER, S25, WEEKS_PER_YEAR  # noqa: E402
from sim.placements import (  # noqa: E402
    CUSTODY, FAMILY, FOSTER_AGENCY, FOSTER_INHOUSE, RESIDENTIAL, SECURE, SUPPORTED, THERAPEUTIC, TIER4,
    UNREGISTERED, of_type,
)

SHIFTS = (-0.15, 0.0, 0.15)  # added to every threshold


class _Threshold:
    """A threshold as the kernels take it (``pair``: a value by area, and each child's area), and indexed by
    children, each child's value (as the NumPy forms read it)."""

    def __init__(self, table, area):
        self.table, self.area = table, area
        self.pair = (table, area)

    def __getitem__(self, idx):
        return self.table[self.area[idx]]

    def min(self):
        return self.table.min()


def _selection_cases(m):
    """(week of the draws, thresholds) pairs over which each selection is compared."""
    for shift in SHIFTS:
        thresholds = {k: _Threshold(table + shift, area) for k, (table, area) in m._thresholds.items()}
        for w in (m.week, m.week + 1, m.week + 7):
            yield w, thresholds


def _same_ids(got, want):
    assert_same_bits(got, np.asarray(want, np.int64))


def test_pathway_types_equal_the_numpy_form(stepped):
    m = stepped
    ch, cfg = m.children, m.cfg
    rng = np.random.default_rng(4)
    act = m.present_children()
    for w, thr in _selection_cases(m):
        for idx in (act, m.in_care_children(), rng.permutation(act)[:300], act[:0]):
            high = ch.distress[idx] >= thr["residential"][idx]
            old_enough = ch.age_years(idx, w) >= 16
            u = m.streams.uniform("pathway", w, idx)
            foster = np.where(u < 0.5, FOSTER_INHOUSE, FOSTER_AGENCY)
            low = np.where(old_enough & (u < cfg.pathway.supported_accommodation_share), SUPPORTED, foster)
            want = np.where(high, RESIDENTIAL, low).astype(np.int64)
            got = ag._pathway_types(idx, ch.distress, *thr["residential"].pair, ch.birth_week, w, m.streams.key("pathway", w),
                                    cfg.pathway.supported_accommodation_share)
            assert_same_bits(got, want)
    types = ag.pathway_placement(m, act, m.week)
    assert {RESIDENTIAL, SUPPORTED, FOSTER_INHOUSE, FOSTER_AGENCY} <= set(types.tolist())


def test_edge_of_care_selection_equals_the_numpy_form(stepped):
    """Entries (with the bound on the hazard, and with none: every child's hazard computed), children
    noticed at crisis and children leaving the pool."""
    m = stepped
    ch, pop, cfg = m.children, m.cfg.population, m.cfg
    act = m.present_children()
    scale, ref = m.edge_hazard_scale
    slope = pop.edge_entry_distress_slope
    counts = np.zeros(4, int)
    for w, _ in _selection_cases(m):
        for scale_factor in (1.0, 40.0):  # more entries, some hazards capped at 1
            band = scale * scale_factor
            pool = act[ch.legal[act] == NOT_LOOKED_AFTER]
            pool = pool[ch.placement[pool] == FAMILY]
            band_scale = band[(ch.age_years(pool, w) >= 16).astype(np.int64)]
            p = np.minimum(band_scale * np.exp(slope * (ch.distress[pool] - ref)), 1.0)
            enter = pool[m.streams.uniform("edge_entry", w, pool) < p]
            crisis = pool[(ch.distress[pool] >= cfg.distress.crisis_threshold) & (ch.support_until[pool] <= w)]
            noticed = crisis[m.streams.uniform("school_notice", w, crisis)
                             < m.roster.notice["education"][ch.region[crisis]]]
            calm = pool[ch.distress[pool] < pop.return_home_max_distress]
            leaving = calm[m.streams.uniform("edge_leave", w, calm) < pop.edge_pool_leave_per_year / WEEKS_PER_YEAR]

            for exp_top in (ag._above_exp(max(slope * (1.0 - ref), slope * (0.0 - ref))), np.inf):
                may_enter, exponent, got_band, got_draw, got_noticed, got_leaving = ag._edge_pool(
                    act, ch.legal, ch.placement, ch.birth_week, ch.distress, w, band, slope, ref, exp_top,
                    m.streams.key("edge_entry", w), cfg.distress.crisis_threshold, ch.support_until, ch.region,
                    m.roster.notice["education"], m.streams.key("school_notice", w), pop.return_home_max_distress,
                    m.streams.key("edge_leave", w), pop.edge_pool_leave_per_year / WEEKS_PER_YEAR)
                if exp_top == np.inf:
                    _same_ids(may_enter, pool)
                    assert_same_bits(np.minimum(got_band * np.exp(exponent), 1.0), p)
                else:
                    counts[3] += len(pool) - len(may_enter)  # passed over without their hazard
                got_p = np.minimum(got_band * np.exp(exponent), 1.0)
                assert_same_bits(got_draw, m.streams.uniform("edge_entry", w, may_enter))
                _same_ids(may_enter[got_draw < got_p], enter)
                _same_ids(got_noticed, noticed)
                _same_ids(got_leaving, leaving)
            counts[:3] += [len(enter), len(noticed[~np.isin(noticed, enter)]), len(leaving)]
    assert (counts > 0).all()


def test_breakdowns_equal_the_numpy_form(stepped):
    m = stepped
    ch, b = m.children, m.cfg.breakdown
    n = 0
    for w, _ in _selection_cases(m):
        for slope in (b.distress_slope, 10 * b.distress_slope):
            ic = m.in_care_children()
            ptype = ch.placement[ic]
            base = m.breakdown_base[ptype]
            at_risk = base > 0
            ic, ptype, base = ic[at_risk], ptype[at_risk], base[at_risk]
            p = base + slope * np.maximum(ch.distress[ic] - m.breakdown_tolerance[ptype], 0.0)
            want = ic[m.streams.uniform("breakdown", w, ic) < p]
            got = ag._breakdowns(m.in_care_children(), ch.placement, ch.distress, m.breakdown_base,
                                 m.breakdown_tolerance, slope, m.streams.key("breakdown", w))
            _same_ids(got, want)
            n += len(want)
    assert n > 0


def test_crises_equal_the_numpy_form(stepped):
    m = stepped
    ch, cfg, roster = m.children, m.cfg, m.roster
    act = m.present_children()
    counts = np.zeros(4, int)
    for w, thr in _selection_cases(m):
        ic = act[ch.legal[act] != NOT_LOOKED_AFTER]
        ic = ic[~of_type(ch.placement[ic], TIER4, SECURE, CUSTODY)]
        d = ch.distress[ic]
        cand = ic[ch.has("mental_health", ic) & (d >= thr["tier4"][ic]) & (ch.tier4_referral_week[ic] == NEVER)]
        camhs = cand[m.streams.uniform("camhs_notice", w, cand) < roster.notice["camhs"][ch.region[cand]]]
        risky = ch.has("risk_to_others", ic) | ch.has("exploitation", ic) | ch.has("going_missing", ic)
        cand = ic[risky & (d >= thr["secure"][ic]) & (ch.secure_referral_week[ic] == NEVER) & (ch.basis[ic] != S25)]
        csc = cand[m.streams.uniform("csc_notice", w, cand) < roster.notice[ag.CSC][ch.la[cand]]]
        in_home = ic[of_type(ch.placement[ic], RESIDENTIAL, UNREGISTERED)]
        needs = ch.has("mental_health", in_home) | ch.has("trauma", in_home)
        home_crisis = in_home[needs & (ch.distress[in_home] >= cfg.distress.crisis_threshold)]
        harmful = act[ch.has("risk_to_others", act) & (ch.distress[act] >= cfg.distress.crisis_threshold)
                      & (ch.placement[act] != CUSTODY) & (ch.basis[act] != S25) & (ch.basis[act] != MHA)]
        p_arrest = (cfg.youth_justice.arrest_per_week_at_crisis * 2 * (1 - roster.risk_tolerance["police"][ch.region[harmful]])
                    * roster.notice["police"][ch.region[harmful]])
        arrested = harmful[m.streams.uniform("arrest", w, harmful) < p_arrest]

        lowest = np.min((cfg.distress.crisis_threshold, thr["tier4"].min(), thr["secure"].min()))
        got = ag._crises(act, ch.legal, ch.placement, ch.basis, ch.distress, cfg.distress.crisis_threshold, lowest,
                         *(ch.needs[ag.NEED[k]] for k in ("mental_health", "trauma", "risk_to_others", "exploitation",
                                                          "going_missing")),
                         *thr["tier4"].pair, *thr["secure"].pair, ch.tier4_referral_week, ch.secure_referral_week, ch.region,
                         ch.la, roster.notice["camhs"], roster.notice[ag.CSC], m.streams.key("camhs_notice", w),
                         m.streams.key("csc_notice", w), cfg.youth_justice.arrest_per_week_at_crisis * 2,
                         roster.risk_tolerance["police"], roster.notice["police"], m.streams.key("arrest", w))
        for g, want in zip(got, (camhs, csc, home_crisis, arrested)):
            _same_ids(g, want)
        counts += [len(camhs), len(csc), len(home_crisis), len(arrested)]
    assert (counts > 0).all()


def test_referral_queues_equal_the_numpy_form(stepped):
    m = stepped
    ch, margin = m.children, m.cfg.pathway.step_down_margin
    act = m.present_children()
    counts = np.zeros(2, int)
    for _, thr in _selection_cases(m):
        for referral_week, ptype, name, blocked in ((ch.tier4_referral_week, TIER4, "tier4", (TIER4, SECURE, CUSTODY)),
                                                    (ch.secure_referral_week, SECURE, "secure", (TIER4, CUSTODY))):
            queue = act[(referral_week[act] != NEVER) & (ch.placement[act] != ptype)]
            fell = ch.distress[queue] < thr[name][queue] - margin
            waiting = queue[~fell]
            waiting = waiting[~of_type(ch.placement[waiting], *blocked)]
            got = ag._referral_queue(act, referral_week, ch.placement, ptype, ch.distress, *thr[name].pair, margin,
                                     of_type(np.arange(10), *blocked))
            _same_ids(got[0], queue[fell])
            _same_ids(got[1], waiting)
            counts += [fell.sum(), len(waiting)]
    assert (counts > 0).all()


def test_in_care_selections_equal_the_numpy_form(stepped):
    """DoL candidates, pending requests, step-down (with the calm-week count it updates) and returns home."""
    m = stepped
    ch, pw, pop = m.children, m.cfg.pathway, m.cfg.population
    act, ic = m.present_children(), m.in_care_children()
    counts = np.zeros(5, int)
    for w, thr in _selection_cases(m):
        in_home = ic[of_type(ch.placement[ic], RESIDENTIAL, THERAPEUTIC, UNREGISTERED) & (ch.basis[ic] == NO_BASIS)]
        confined = in_home[ch.distress[in_home] >= thr["dol"][in_home]]
        queue = ag._referral_queue(ic, ch.secure_referral_week, ch.placement, SECURE, ch.distress, *thr["secure"].pair,
                                   pw.step_down_margin, of_type(np.arange(10), TIER4, CUSTODY))
        got = ag._secure_queue(ic, ch.secure_referral_week, ch.placement, ch.distress, *thr["secure"].pair,
                               pw.step_down_margin, ch.basis, *thr["dol"].pair, thr["dol"].min())
        _same_ids(got[0], queue[0])
        _same_ids(got[1], queue[1])
        _same_ids(got[2], confined)
        pend = act[ch.pending_type[act] >= 0]
        _check_requests(m, ic, w, thr)

        calm_weeks = ch.calm_weeks.copy()
        calm = ch.distress[ic] < thr["residential"][ic] - pw.step_down_margin
        calm_weeks[ic] = np.where(calm, calm_weeks[ic] + 1, 0)
        free_of_orders = (ch.basis[ic] == NO_BASIS) & (ch.pending_type[ic] < 0)
        homes = of_type(ch.placement[ic], RESIDENTIAL, THERAPEUTIC, UNREGISTERED)
        ready = ic[homes & free_of_orders & (calm_weeks[ic] >= pw.step_down_weeks)]
        unregistered = ic[(ch.placement[ic] == UNREGISTERED) & ~calm]
        got_weeks = ch.calm_weeks.copy()
        got = ag._calm_weeks(ic, ch.distress, *thr["residential"].pair, pw.step_down_margin, got_weeks, pw.step_down_weeks,
                             ch.placement, ch.basis, ch.pending_type)
        assert_same_bits(got_weeks, calm_weeks)
        _same_ids(got[0], ready)
        _same_ids(got[1], unregistered)

        ok = (ch.basis[ic] == NO_BASIS) & of_type(ch.placement[ic], FAMILY, FOSTER_INHOUSE, FOSTER_AGENCY, RESIDENTIAL,
                                                  SUPPORTED)
        ok &= (ch.distress[ic] < pop.return_home_max_distress) & (ch.pending_type[ic] < 0)
        ok &= (ch.secure_referral_week[ic] == NEVER) & (ch.tier4_referral_week[ic] == NEVER)
        cand = ic[ok]
        going = cand[m.streams.uniform("return_home", w, cand) < pop.return_home_per_year / WEEKS_PER_YEAR]
        _same_ids(ag._settled(ic, ch.basis, ch.placement, ch.distress, pop.return_home_max_distress, ch.pending_type,
                              ch.secure_referral_week, ch.tier4_referral_week, m.streams.key("return_home", w),
                              pop.return_home_per_year / WEEKS_PER_YEAR), going)
        counts += [len(confined), len(pend), len(ready), len(unregistered), len(going)]
    assert (counts > 0).all()

# ============================================================================ the event log
class ReferenceEventLog:
    """The event log as it was: twelve new arrays per batch, joined at the end."""

    def __init__(self):
        self.chunks = []

    def add(self, week, child, event, *, order_id=-1, basis=0, from_type=-1, to_type=-1, placement_la=-1,
            weekly_cost=0.0, payer=-1, reason="", agency=-1):
        from sim.outputs import EV, RS

        n = len(child)
        if n == 0 or week < 0:
            return

        def col(v, dtype):
            a = np.asarray(v)
            return np.full(n, a, dtype) if a.ndim == 0 else a.astype(dtype, copy=True)

        self.chunks.append((
            np.full(n, week, np.int32), np.asarray(child, np.int64).copy(), np.full(n, EV[event], np.int8),
            col(order_id, np.int64), col(basis, np.int8), col(from_type, np.int8), col(to_type, np.int8),
            col(placement_la, np.int64), col(weekly_cost, np.float64), col(payer, np.int8),
            col(RS[reason] if isinstance(reason, str) else reason, np.int8), col(agency, np.int64),
        ))

    def arrays(self):
        from sim.outputs import EventLog

        if not self.chunks:
            return {c: np.zeros(0) for c in EventLog.COLUMNS}
        return {c: np.concatenate([ch[i] for ch in self.chunks]) for i, c in enumerate(EventLog.COLUMNS)}


def test_event_log_equals_the_chunked_log():
    """Random batches (sizes 0 to 5,000, past several doublings; fields one value or one per child, in
    other dtypes; burn-in weeks) give the same columns, dtypes and counts as the former log."""
    from sim.outputs import EV, EVENT_KINDS, REASONS, EventLog

    rng = np.random.default_rng(5)
    ours, ref = EventLog(), ReferenceEventLog()
    assert_same_bits(ours.arrays()["week"], ref.arrays()["week"])  # empty: float zeros, as before
    for _ in range(400):
        n = int(rng.choice([0, 1, 3, 40, 5000], p=[0.1, 0.4, 0.3, 0.18, 0.02]))
        week = int(rng.integers(-3, 60))
        child = rng.integers(0, 10 ** 6, n).astype(rng.choice([np.int64, np.int32]))
        fields = {}
        for name, make in (("order_id", lambda: rng.integers(-1, 10 ** 5, n).astype(np.int32)),
                           ("basis", lambda: rng.integers(0, 6, n)),
                           ("from_type", lambda: rng.integers(-1, 10, n)),
                           ("to_type", lambda: rng.integers(-1, 10, n).astype(np.int8)),
                           ("placement_la", lambda: rng.integers(-1, 150, n)),
                           ("weekly_cost", lambda: rng.random(n) * 1e4),
                           ("payer", lambda: rng.integers(-1, 4, n)),
                           ("reason", lambda: rng.integers(0, len(REASONS), n).astype(np.int8)),
                           ("agency", lambda: rng.integers(-1, 900, n))):
            if rng.random() < 0.5:
                fields[name] = make()
            elif rng.random() < 0.5:
                value = make()[:1]
                fields[name] = value[0] if len(value) else 1  # one value for all (a NumPy or Python scalar)
        if "reason" not in fields and rng.random() < 0.5:
            fields["reason"] = str(rng.choice(REASONS))
        event = str(rng.choice(EVENT_KINDS))
        ours.add(week, child, event, **fields)
        ref.add(week, child, event, **fields)
    got, want = ours.arrays(), ref.arrays()
    assert list(got) == list(want) and len(want["week"]) > 10000
    for name in want:
        assert_same_bits(got[name], want[name])
    for event in EVENT_KINDS:
        assert ours.count(event) == int((want["event"] == EV[event]).sum())


def test_week_dates_equal_the_python_dates():
    import datetime as dt

    import pandas as pd

    from sim.outputs import week_dates

    for start in (dt.date(2024, 4, 1), dt.date(2017, 4, 1), dt.date(2020, 2, 29)):
        for weeks in (np.array([0, 1, 5, 100, 519, 3, 3], np.int32), np.arange(0), np.array([-52, 7, 2000])):
            want = (pd.to_datetime([start + dt.timedelta(weeks=int(w)) for w in weeks]) if len(weeks)
                    else pd.to_datetime([]))
            got = week_dates(start, weeks)
            pd.testing.assert_index_equal(got, want, exact=True)
            assert got.dtype == want.dtype and got.freq == want.freq


# ============================================================================ picking children
def test_selections_equal_the_numpy_masks():
    """The compiled picks of children give what the NumPy masks gave: same ids, order and dtype (ids
    unsorted and repeated too; values at NEVER and the int32 extremes)."""
    from sim.children import NEVER, orders_due, placed_in

    rng = np.random.default_rng(11)
    n = 5000
    until = rng.choice(np.array([NEVER, NEVER + 1, -2 ** 31, 2 ** 31 - 1, -5, 0, 3, 10, 500], np.int32), n)
    until = np.where(rng.random(n) < 0.5, until, rng.integers(-100, 100, n)).astype(np.int32)
    birth = rng.integers(-2000, 200, n).astype(np.int32)
    placement = rng.integers(0, 10, n)
    for ids in (np.arange(n), np.sort(rng.choice(n, 300, replace=False)), rng.integers(0, n, 400), np.arange(0)):
        for week in (-60, 0, 3, 10, 200):
            assert_same_bits(orders_due(ids, until, week), ids[(until[ids] != NEVER) & (until[ids] <= week)])
        for ptype in (0, 6, 9):
            assert_same_bits(placed_in(ids, placement, ptype), ids[placement[ids] == ptype])


# ============================================================================ agencies, round 2
def test_only_looked_after_children_hold_requests_or_referrals():
    """The request and referral queues are read from the looked-after ids alone (``_requests``,
    ``_referral_queue``): after every mechanism of every week, no child outside care holds one."""
    m = CarePathwaysModel(build_config(["population.scale=0.05", "horizon.years=2", "seed=3"]))
    ch = m.children
    held = np.zeros(3, int)

    def checked(name):
        mechanism = getattr(ag, name)

        def run(model, w):
            mechanism(model, w)
            outside = ~m.present | (ch.legal == NOT_LOOKED_AFTER)
            assert not (outside & (ch.pending_type >= 0)).any(), name
            assert not (outside & (ch.tier4_referral_week != NEVER)).any(), name
            assert not (outside & (ch.secure_referral_week != NEVER)).any(), name
            held[:] += [(ch.pending_type >= 0).sum(), (ch.tier4_referral_week != NEVER).sum(),
                        (ch.secure_referral_week != NEVER).sum()]
        return run

    names = ("edge_of_care", "placement_breakdowns", "escalate_crises", "tier4_admissions", "allocate_secure_beds",
             "funding_agreements", "step_down", "returns_home")
    with pytest.MonkeyPatch.context() as mp:
        for name in names:
            mp.setattr(ag, name, checked(name))
        m.run()
    assert (held > 0).all()


def test_lowest_thresholds_follow_the_thresholds():
    """The model's lowest thresholds are the lowest of its current thresholds, at or below every child's (the
    selections pass over children below them), after a refresh too."""
    m = CarePathwaysModel(build_config(["population.scale=0.05", "horizon.years=1", "seed=2"]))
    for _ in range(2):
        for name, (table, area) in m._thresholds.items():
            assert m.lowest_threshold[name] == table.min() <= table[area].min()
            assert_same_bits(m.child_threshold(name, np.arange(10)), table[area[:10]])
        m.roster.risk_tolerance["childrens_social_care"] = m.roster.risk_tolerance["childrens_social_care"] + 0.2
        m.refresh_thresholds()


def test_breakdowns_pass_over_draws_above_every_chance(stepped):
    """With a negative slope (no bound on the chance from distress 1) the selection is the NumPy form's too."""
    m = stepped
    ch = m.children
    ic = m.in_care_children()
    for slope in (-0.001, 0.0):
        ptype = ch.placement[ic]
        base = m.breakdown_base[ptype]
        p = base + slope * np.maximum(ch.distress[ic] - m.breakdown_tolerance[ptype], 0.0)
        want = ic[(base > 0) & (m.streams.uniform("breakdown", m.week, ic) < p)]
        got = ag._breakdowns(ic, ch.placement, ch.distress, m.breakdown_base, m.breakdown_tolerance, slope,
                             m.streams.key("breakdown", m.week))
        _same_ids(got, want)



def _reference_ration(remaining, area, priority):
    """``Roster.ration`` as it was (in place on ``remaining``)."""
    from sim.placements import rank_within_groups

    rank = rank_within_groups(area, priority)
    ok = rank < np.floor(remaining[area])
    np.subtract.at(remaining, area[ok], 1)
    return ok


def test_rationing_equals_the_numpy_form(stepped):
    m = stepped
    rng = np.random.default_rng(5)
    remaining = m.roster.remaining
    saved = {k: v.copy() for k, v in remaining.items()}
    for n in (0, 1, 7, 300):
        area = rng.integers(0, 6, n)
        priority = rng.choice([0.2, 0.5, 0.9], n) if n % 2 else rng.random(n)  # ties too
        remaining["camhs"] = rng.choice([0.0, 0.7, 1.0, 2.5, 40.0], 9)
        want_remaining = remaining["camhs"].copy()
        want = _reference_ration(want_remaining, area, priority)
        assert_same_bits(m.roster.ration("camhs", area, priority), want)
        assert_same_bits(remaining["camhs"], want_remaining)
    remaining.update(saved)  # the fixture is shared


def test_support_offers_equal_the_numpy_form(stepped):
    """Whose agency is willing to offer support (with and without a flexibility boost) and each agency's
    count of decisions, against the former NumPy chain of ``_offer_support``."""
    m = stepped
    ch, w = m.children, m.week
    rng = np.random.default_rng(6)
    act = m.present_children()
    n_willing = 0
    for kind in (ag.CSC, "camhs", "education", "youth_justice"):
        for boost in (None, rng.choice([0.0, 0.3, 2.0], ch.n)):
            idx = np.sort(rng.choice(act, 400, replace=False))
            until = np.where(rng.random(ch.n) < 0.2, w + 3, w).astype(np.int32)
            area = m.roster.area_of(kind, ch.la[idx], ch.region[idx])
            flexibility = m.roster.effective_flexibility(kind)[area]
            if boost is not None:
                flexibility = np.minimum(flexibility + boost[idx], 1.0)
            willing = m.streams.uniform("test_offer", w, idx) < flexibility
            willing &= until[idx] <= w

            got, got_area = ag._willing(
                idx, ch.la if m.roster.by_kind[kind][0].covers == ag.PER_LA else ch.region,
                m.roster.effective_flexibility(kind), boost is not None, ag._NO_BOOST if boost is None else boost,
                until, w, m.streams.key("test_offer", w))
            _same_ids(got, np.flatnonzero(willing))
            np.testing.assert_array_equal(got_area, area)  # the kernel's areas as intp indices
            n_willing += len(got)

            agents = m.roster.by_kind[kind]
            before = m.roster.decisions[kind].copy()
            m.roster.count_decisions(kind, area[willing])
            counts = np.bincount(area[willing], minlength=len(agents))
            assert [a.decisions for a in agents] == [int(b + k) for b, k in zip(before, counts)]
            m.roster.decisions[kind][:] = before  # the fixture is shared
    assert n_willing > 0


def test_without_equals_isin():
    rng = np.random.default_rng(7)
    for n, k in ((0, 0), (5, 0), (0, 4), (50, 10), (400, 60), (400, 400)):
        ids = np.sort(rng.choice(1000, n, replace=False))
        removed = np.sort(np.concatenate([rng.choice(ids, min(k, n), replace=False),
                                          rng.choice(1000, k // 2)]))[:k] if k else ids[:0]
        removed = np.unique(removed)
        _same_ids(ag._without(ids, removed), ids[~np.isin(ids, removed)])


def test_present_children_stay_in_id_order():
    """The selections from the present children come out in id order (``_without`` merges two of them)."""
    m = CarePathwaysModel(build_config(["population.scale=0.05", "horizon.years=1", "seed=4"]))
    for _ in range(30):
        m.step()
        act = m.present_children()
        assert (np.diff(act) > 0).all()


def _check_requests(m, ic, w, thr):
    """``_requests`` against the NumPy form it replaced in ``funding_agreements`` (on copies of the state;
    some packages made due and some cancelled so that every branch is taken)."""
    ch, margin = m.children, m.cfg.pathway.step_down_margin
    pending_type, pending_week = ch.pending_type.copy(), ch.pending_week.copy()
    rng = np.random.default_rng(w)
    extra = rng.choice(ic, 60, replace=False)
    pending_type[extra] = rng.choice([THERAPEUTIC, FOSTER_INHOUSE, RESIDENTIAL], 60)
    pending_week[extra] = w + rng.integers(-2, 3, 60)

    want_type = pending_type.copy()
    pend = ic[want_type[ic] >= 0]
    package = want_type[pend] == THERAPEUTIC
    cancel = pend[package & (ch.distress[pend] < thr["residential"][pend] - margin)]
    want_type[cancel] = -1
    kept = pend[want_type[pend] >= 0]
    kept = kept[~of_type(ch.placement[kept], TIER4, SECURE, CUSTODY)]
    due = kept[pending_week[kept] <= w]
    due_package = want_type[due] == THERAPEUTIC
    waiting = int((want_type[kept] == THERAPEUTIC).sum() - due_package.sum())

    got_type = pending_type.copy()
    packages, others, got_waiting, n_requests, cancelled = ag._requests(
        ic, got_type, pending_week, ch.placement, ch.distress, *thr["residential"].pair, margin, w)
    assert_same_bits(got_type, want_type)
    _same_ids(cancelled, cancel)
    _same_ids(packages, due[due_package])
    _same_ids(others, due[~due_package])
    assert (got_waiting, n_requests) == (waiting, len(pend))
    assert len(cancel) and len(packages) and len(others) and waiting



def test_agents_count_their_decisions():
    """Each agent's ``decisions`` (kept in the roster's arrays) is the number of decisions counted for its area."""
    from collections import Counter

    m = CarePathwaysModel(build_config(["population.scale=0.05", "horizon.years=1", "seed=1"]))
    counted = Counter()
    count = m.roster.count_decisions

    def counting(kind, area):
        counted.update((kind, a) for a in area.tolist())
        count(kind, area)

    m.roster.count_decisions = counting
    m.run()
    for kind, agents in m.roster.by_kind.items():
        assert [a.decisions for a in agents] == [counted[kind, a] for a in range(len(agents))]
    assert sum(counted.values()) > 0


def test_dol_candidates_selected_with_the_secure_queue_are_those_after_the_beds():
    """``allocate_secure_beds`` selects the children whose care needs a DoL order in its first pass and
    takes out those given a secure bed: the same children as a selection after the beds are given."""
    import sys

    m = CarePathwaysModel(build_config(["population.scale=0.1", "horizon.years=2", "seed=5"]))
    ch, pw = m.children, m.cfg.pathway
    without = ag._without
    seen = np.zeros(2, int)

    def checked(ids, removed):
        kept = without(ids, removed)
        if sys._getframe(1).f_code.co_name == "allocate_secure_beds":
            thr = m._thresholds
            after = ag._secure_queue(m.in_care_children(), ch.secure_referral_week, ch.placement, ch.distress,
                                     *thr["secure"], pw.step_down_margin, ch.basis, *thr["dol"], thr["dol"][0].min())[2]
            _same_ids(kept, after)
            seen[:] += [len(kept), len(ids) - len(kept)]
        return kept

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ag, "_without", checked)
        m.run()
    assert (seen > 0).all()  # some given a secure bed had been selected

# ============================================================================ kept id lists (round 2)
def test_relisted_equals_listing_afresh():
    """``relisted`` gives the present (or looked-after) ids a fresh listing gives, whatever changed:
    children leaving, arriving, entering or leaving care, ids at either end, nothing changed."""
    from sim.children import relisted

    rng = np.random.default_rng(5)
    for trial in range(400):
        n = int(rng.integers(1, 300))
        present = rng.random(n) < 0.6
        legal = rng.integers(0, 3, n).astype(np.int8)
        in_care_only = bool(trial % 2)

        def listing():
            ids = np.flatnonzero(present)
            return ids[legal[ids] != NOT_LOOKED_AFTER] if in_care_only else ids
        ids = listing()
        changed = np.unique(np.concatenate([rng.integers(0, n, int(rng.integers(0, 20))), np.array([0, n - 1][:trial % 3], np.int64)]))
        present[changed] = rng.random(len(changed)) < 0.5
        legal[changed] = rng.integers(0, 3, len(changed))
        listed = present[changed] & ((legal[changed] != NOT_LOOKED_AFTER) | (not in_care_only))
        assert_same_bits(relisted(ids, changed.astype(np.int64), listed), listing())


def test_kept_id_lists_equal_fresh_listings_through_a_run():
    """Week by week, the model's kept present, looked-after and ordered ids equal fresh listings."""
    from sim.children import EXIT_AGED_18, WEEKS_PER_YEAR, orders_due

    m = CarePathwaysModel(build_config(["population.scale=0.2", "horizon.years=1", "seed=3"]))
    for _ in range(40):
        # _ageing_out (by birth week) takes every present child aged 18 or over, and no other
        act = m.present_children()
        turning = act[m.week - m.children.birth_week[act] >= 18 * WEEKS_PER_YEAR]
        m.step()
        assert_same_bits(np.flatnonzero((m.children.exit_week == m.week - 1) & (m.children.exit_reason == EXIT_AGED_18)),
                         turning)
        act = np.flatnonzero(m.present)
        assert_same_bits(m.present_children(), act)
        assert_same_bits(m.in_care_children(), act[m.children.legal[act] != NOT_LOOKED_AFTER])
        assert_same_bits(m.edge_of_care_children(), act[m.children.legal[act] == NOT_LOOKED_AFTER])
        assert_same_bits(m.requesting_children(), act[m.children.pending_type[act] >= 0])
        assert_same_bits(m.tier4_referred_children(), act[m.children.tier4_referral_week[act] != NEVER])
        assert_same_bits(m.children_with_orders(), act[m.children.basis[act] != NO_BASIS])
        # review_orders picks due orders among them: the same as among everyone present
        assert_same_bits(orders_due(m.children_with_orders(), m.children.order_until, m.week + 3),
                         orders_due(act, m.children.order_until, m.week + 3))


def test_whole_population_passes_still_raise_index_error():
    """distress_and_harm and _census check their indices themselves: a bad id or code raises IndexError."""
    from sim.children import check_index, check_lengths
    from sim.outputs import _census

    with pytest.raises(IndexError):
        check_index(5, 5)
    with pytest.raises(IndexError):
        check_index(-6, 5)
    check_index(-5, 5)
    with pytest.raises(IndexError):
        check_lengths(3, (3, 4))
    n = 10
    codes = np.zeros(n, np.int8)
    week = np.zeros(n, np.int32)
    cost = np.zeros(n)

    def census(act, placement=codes, la=codes):
        act = np.asarray(act, np.int64)
        return _census(act, act, 0, codes, placement, la, la, codes, codes, week, codes, week, cost,
                       0, 6, 10, 6, 3, 4, 9, 4)
    census([0, 9])
    for bad in ([10], [0, 11]):
        with pytest.raises(IndexError):
            census(bad)
    with pytest.raises(IndexError):
        census([0], la=np.full(n, 4, np.int8))
    with pytest.raises(IndexError):
        census([0], placement=codes[:5])


def test_requests_by_type_as_a_stable_sort():
    """The counting sort of requests by wanted type is NumPy's stable argsort."""
    from sim.placements import _by_type

    rng = np.random.default_rng(8)
    for n in (0, 1, 7, 300, 3000):
        for n_used in (1, 3, 10):
            wanted = rng.integers(0, n_used, n)
            assert_same_bits(_by_type(wanted, 10), np.argsort(wanted, kind="stable"))


def test_requests_best_first_as_numpy_stable_sort():
    """The radix sort of requests by priority (large batches) and the merge sort (small ones) order requests
    as NumPy's stable argsort of -priority: ties in batch order, 0.0 and -0.0 equal, NaN last."""
    from sim.placements import _SMALL_BATCH, _best_first

    rng = np.random.default_rng(11)
    special = np.array([0.0, -0.0, 1.0, 0.5, np.nan, -np.nan, np.inf, -np.inf, -1.5, 1e-300, -1e-300, 5e-324])
    for n in (0, 1, 5, _SMALL_BATCH - 1, _SMALL_BATCH, 3000):
        for priority in (rng.random(n), np.round(rng.random(n), 2), rng.choice(special, n),
                         rng.normal(size=n) * 1e3, np.full(n, 0.3)):
            assert_same_bits(_best_first(priority), np.argsort(-priority, kind="stable"))


def test_event_log_in_small_blocks_equals_the_chunked_log(monkeypatch):
    """With blocks of a few rows, batches spanning several blocks give the former log's columns."""
    from sim.outputs import EV, EVENT_KINDS, EventLog

    monkeypatch.setattr(EventLog, "BLOCK_ROWS", 7)
    rng = np.random.default_rng(9)
    ours, ref = EventLog(), ReferenceEventLog()
    for _ in range(200):
        n = int(rng.choice([0, 1, 6, 7, 8, 30]))
        child = rng.integers(0, 1000, n)
        fields = {"order_id": rng.integers(-1, 100, n), "to_type": 3, "weekly_cost": rng.random(n),
                  "reason": rng.integers(0, 5, n).astype(np.int8) if rng.random() < 0.5 else "breakdown"}
        if rng.random() < 0.5:
            fields["agency"] = list(range(n))  # a list, one value per child
        event = str(rng.choice(EVENT_KINDS))
        week = int(rng.integers(-1, 10))
        ours.add(week, child, event, **fields)
        ref.add(week, child, event, **fields)
    got, want = ours.arrays(), ref.arrays()
    assert len(want["week"]) > 100
    for name in want:
        assert_same_bits(got[name], want[name])
    for event in EVENT_KINDS:
        assert ours.count(event) == int((want["event"] == EV[event]).sum())


def test_distinct_ids_as_np_unique():
    """The changed children's ids, ascending and each once, as np.unique gave them (empty batches too)."""
    from sim.children import distinct

    rng = np.random.default_rng(4)
    for _ in range(300):
        batches = [rng.integers(0, 50, int(rng.integers(0, 10))) for _ in range(int(rng.integers(1, 5)))]
        assert_same_bits(distinct(batches), np.unique(np.concatenate(batches).astype(np.int64)))


# ============================================================================ round 3: escalate_crises
@pytest.mark.parametrize("boosted", [False, True])
def test_seeking_equals_the_numpy_form(stepped, boosted):
    """``_seeking`` (the children whose LA seeks therapeutic care) against the former NumPy form."""
    m = stepped
    ch, cfg, roster = m.children, m.cfg, m.roster
    rng = np.random.default_rng(11)
    act = m.present_children()
    boost = rng.uniform(-0.2, 0.6, len(ch.distress)) if boosted else None
    n = 0
    for w in (m.week, m.week + 1, m.week + 7):
        for home_crisis in (act, m.in_care_children(), np.sort(rng.permutation(act)[:500]), act[:0]):
            cand = home_crisis[(ch.pending_type[home_crisis] < 0) & (ch.secure_referral_week[home_crisis] == NEVER)]
            flex = roster.effective_flexibility(ag.CSC)[ch.la[cand]]
            if boost is not None:
                flex = np.minimum(flex + boost[cand], 1.0)
            preference = 0.7
            want = cand[m.streams.uniform("therapeutic", w, cand) < flex * preference]
            got = ag._seeking(home_crisis, ch.pending_type, ch.secure_referral_week, ch.la,
                              roster.effective_flexibility(ag.CSC), boost is not None,
                              ag._NO_BOOST if boost is None else boost, preference, m.streams.key("therapeutic", w))
            _same_ids(got, want)
            n += len(want)
    assert n > 0


def test_union_equals_union1d():
    """``_union`` of two arrays of distinct ids in id order is ``np.union1d``."""
    rng = np.random.default_rng(12)
    for n_a, n_b in ((0, 0), (0, 5), (7, 0), (50, 60), (1000, 30), (3, 3)):
        for span in (10, 200, 100_000):
            a = np.sort(rng.choice(span + n_a, n_a, replace=False)).astype(np.int64)
            b = np.sort(rng.choice(span + n_b, n_b, replace=False)).astype(np.int64)
            assert_same_bits(ag._union(a, b), np.union1d(a, b))


def test_dol_applications_equal_the_numpy_form():
    """``_dol_applications`` against the former NumPy form, on every call of a whole run (its two id
    arrays in id order), and with every propensity and a shorter wait."""
    m = CarePathwaysModel(build_config(["population.scale=0.1", "horizon.years=2", "seed=5"]))
    ch = m.children
    applications = ag._dol_applications
    seen = np.zeros(2, int)

    def reference(waiting, confined, srw, basis, weeks_before, refused, w, review, key, propensity):
        long_wait = waiting[(w - srw[waiting] >= weeks_before) & (basis[waiting] == NO_BASIS)]
        cand = np.union1d(long_wait, confined)
        refused_recently = (refused[cand] != NEVER) & (w - refused[cand] < review)
        cand = cand[~refused_recently]
        u = np.array([float(hash_child(key, np.int64(c)) >> np.uint64(11)) * 2.0 ** -53 for c in cand])
        return cand[u < propensity] if len(cand) else cand

    def checked(waiting, confined, *rest):
        for x in (waiting, confined):
            assert (np.diff(x) > 0).all()
        got = applications(waiting, confined, *rest)
        _same_ids(got, reference(waiting, confined, *rest))
        for weeks_before in (0, 1, rest[2]):
            for propensity in (0.0, 0.3, 1.0):
                args = list(rest)
                args[2], args[-1] = weeks_before, propensity
                _same_ids(applications(waiting, confined, *args), reference(waiting, confined, *args))
        seen[:] += [len(got), (ch.dol_refused_week[confined] != NEVER).sum()]
        return got

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ag, "_dol_applications", checked)
        m.run()
    assert (seen > 0).all()


def test_move_counts_count_moves_only_as_the_event_log_would():
    """``MoveCounts`` (a comparison's sink) counts each move with both types known, a type given once
    standing for every child, and passes over other events and the burn-in, as counting the log did."""
    from sim.outputs import EV, EventLog, MoveCounts

    sink, log = MoveCounts(), EventLog()
    calls = [
        (3, np.array([1, 2, 3]), "move", dict(from_type=np.array([0, 2, -1], np.int8), to_type=np.array([4, 4, 4]))),
        (3, np.array([5, 6]), "move", dict(from_type=np.array([1, 1]), to_type=2)),
        (4, np.array([7]), "grant", dict(from_type=np.array([3]), to_type=np.array([5]))),
        (-1, np.array([8]), "move", dict(from_type=np.array([3]), to_type=np.array([5]))),
        (5, np.zeros(0, np.int64), "move", dict(from_type=np.zeros(0, np.int64), to_type=np.zeros(0, np.int64))),
    ]
    for week, child, event, fields in calls:
        sink.add(week, child, event, **fields)
        log.add(week, child, event, **fields)
    a = log.arrays()
    mv = (a["event"] == EV["move"]) & (a["from_type"] >= 0) & (a["to_type"] >= 0)
    expected = np.zeros_like(sink.counts)
    np.add.at(expected, (a["from_type"][mv].astype(np.int64), a["to_type"][mv].astype(np.int64)), 1)
    np.testing.assert_array_equal(sink.counts, expected)
    assert sink.counts.sum() == 4 and sink.counts[1, 2] == 2

"""The placement search (``Capacity.find``) and its bookkeeping, against a plain NumPy reference.

The compiled search in ``sim.placements`` must give, bit for bit, what the NumPy implementation it
replaced gave: the same children placed, in the same LAs, by the same kind of provider, and the same
capacity tables afterwards.  That NumPy implementation is kept here as the oracle (``reference_*``)
and both are run on many random inputs, then on a whole model run.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim.agencies
import sim.children
import sim.costs
import sim.courts
import sim.model
import sim.outputs
import sim.placements as P
from sim import build_config
from sim.children import DOL
from sim.outputs import summarise
from sim.placements import DOL_HOME, DOL_HOMES, IN_HOUSE, MARKET, NO_PROVIDER, PLACEMENT_TYPES, Capacity


# ============================================================================ the oracle
# The NumPy implementation as it was before the compiled search (same code, as functions of a Capacity).
def reference_rank(keys, priority):
    order = np.lexsort((-priority, keys))
    sorted_keys = keys[order]
    first = np.searchsorted(sorted_keys, sorted_keys, side="left")
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - first
    return rank


def reference_settle(cap):
    cap.in_house = np.maximum(cap.target_in_house, np.minimum(cap.in_house, cap.used_in_house))
    cap.market = np.maximum(cap.target_market, np.minimum(cap.market, cap.used_market + cap.external))


def reference_occupy(cap, ptype, la, provider, sign):
    limited = ~cap.unlimited[ptype]
    rows = np.where(provider == DOL_HOME, DOL_HOMES, ptype)
    for prov, table in ((IN_HOUSE, cap.used_in_house), (MARKET, cap.used_market)):
        m = limited & ((provider == prov) | ((provider == DOL_HOME) & (prov == MARKET)))
        if m.any():
            np.add.at(table, (rows[m], la[m]), sign)
    if sign < 0:
        reference_settle(cap)


def reference_find(cap, ptype, child_la, priority, *, in_region_only=False, national_only=False, market_ok=None):
    n = len(child_la)
    placed = np.zeros(n, bool)
    la = np.full(n, -1, np.int64)
    provider = np.full(n, NO_PROVIDER, np.int8)
    if n == 0:
        return P.Found(placed, la, provider)
    if cap.unlimited[ptype]:
        return P.Found(np.ones(n, bool), child_la.astype(np.int64), np.full(n, MARKET, np.int8))
    if not national_only:
        _reference_local(cap, ptype, child_la, priority, placed, la, provider, market_ok)
    if market_ok is not None:
        placed |= ~market_ok
    if not national_only:
        _reference_pooled(cap, ptype, cap.la_region[child_la], priority, placed, la, provider, by_region=True)
    if not in_region_only:
        _reference_pooled(cap, ptype, np.zeros(n, np.int64), priority, placed, la, provider, by_region=False)
    if market_ok is not None:
        placed &= la >= 0
    return P.Found(placed, la, provider)


def _reference_local(cap, ptype, child_la, priority, placed, la, provider, market_ok=None):
    free_in = cap.free_in_house(ptype)
    free_all = free_in + cap.free_market(ptype)
    if not free_all.any():
        return
    keys = child_la
    rank = reference_rank(keys, priority)
    limit = free_all[keys] if market_ok is None else np.where(market_ok, free_all[keys], free_in[keys])
    ok = rank < limit
    if not ok.any():
        return
    got = np.flatnonzero(ok)
    own = rank[got] < free_in[keys[got]]
    placed[got] = True
    la[got] = child_la[got]
    provider[got] = np.where(own, IN_HOUSE, MARKET)
    np.add.at(cap.used_in_house[ptype], child_la[got[own]], 1)
    np.add.at(cap.used_market[ptype], child_la[got[~own]], 1)


def _reference_pooled(cap, ptype, group, priority, placed, la, provider, by_region):
    todo = np.flatnonzero(~placed)
    if len(todo) == 0:
        return
    free = cap.free_market(ptype)[cap.la_by_region]
    cum = np.cumsum(free)
    if cum[-1] == 0:
        return
    if by_region:
        ends = cap.region_end
        before = np.where(cap.region_start > 0, cum[cap.region_start - 1], 0)
        total = cum[ends - 1] - before
    else:
        before = np.zeros(1, np.int64)
        total = cum[-1:]
    keys = group[todo]
    rank = reference_rank(keys, priority[todo])
    ok = rank < total[keys]
    got = todo[ok]
    if len(got) == 0:
        return
    pos = np.searchsorted(cum, before[keys[ok]] + rank[ok], side="right")
    chosen = cap.la_by_region[pos]
    placed[got] = True
    la[got] = chosen
    provider[got] = MARKET
    np.add.at(cap.used_market[ptype], chosen, 1)


# ============================================================================ random inputs
TABLES = ("in_house", "market", "external", "used_in_house", "used_market", "target_in_house", "target_market")


def random_capacity(rng: np.random.Generator) -> Capacity:
    """Capacity for a random geography: few or many LAs and regions, many zeros, some over-full places."""
    n_la = int(rng.integers(1, 40))
    n_regions = int(rng.integers(1, min(n_la, 9) + 1))
    la_region = rng.integers(0, n_regions, n_la)
    la_region[rng.permutation(n_la)[:n_regions]] = np.arange(n_regions)  # every region has an LA
    cap = Capacity(len(PLACEMENT_TYPES), la_region, n_regions)
    shape = cap.in_house.shape
    zeros = rng.random() * 0.9  # share of LAs and types with no places of a kind
    top = int(rng.choice([1, 3, 10]))
    for name in ("in_house", "market"):
        setattr(cap, name, rng.integers(0, top + 1, shape) * (rng.random(shape) > zeros))
    cap.external = rng.integers(0, 3, shape) * (rng.random(shape) < 0.3)
    # Used up to a little beyond what exists (an over-full market: free places clip at zero).
    cap.used_in_house = (rng.random(shape) * (cap.in_house + 1.5)).astype(np.int64)
    cap.used_market = (rng.random(shape) * (cap.market + 1.5)).astype(np.int64)
    cap.target_in_house = (rng.random(shape) * (cap.in_house + 1)).astype(np.int64)
    cap.target_market = (rng.random(shape) * (cap.market + 1)).astype(np.int64)
    cap.unlimited[rng.random(len(cap.unlimited)) < 0.15] = True
    return cap


def copy_capacity(cap: Capacity) -> Capacity:
    twin = Capacity(len(cap.unlimited) - 1, cap.la_region.copy(), cap.n_regions)
    twin.unlimited = cap.unlimited.copy()
    for name in TABLES:
        setattr(twin, name, getattr(cap, name).copy())
    return twin


def random_priority(rng: np.random.Generator, n: int) -> np.ndarray:
    """Distinct, tied (a few values), all equal, or signed zeros."""
    kind = rng.integers(4)
    if kind == 0:
        return rng.random(n)
    if kind == 1:
        return rng.choice([0.1, 0.5, 0.5, 0.9], n)
    if kind == 2:
        return np.full(n, 0.3)
    return rng.choice([0.0, -0.0, 1.0], n)


def random_request(rng: np.random.Generator, cap: Capacity) -> dict:
    n = int(rng.choice([0, 1, 2, 5, 20, 100, 400]))
    few_las = rng.integers(0, cap.n_la, int(rng.integers(1, 4)))  # often many children of a few LAs
    child_la = rng.choice(few_las, n) if rng.random() < 0.3 else rng.integers(0, cap.n_la, n)
    kind = rng.integers(4)
    market_ok = None if kind == 0 else np.ones(n, bool) if kind == 1 else np.zeros(n, bool) if kind == 2 \
        else rng.random(n) < 0.7
    flags = [(False, False), (True, False), (False, True), (True, True)][rng.integers(4)]
    ptype = int(rng.integers(len(cap.unlimited)))
    return {"ptype": ptype, "child_la": child_la.astype(np.int64), "priority": random_priority(rng, n),
            "in_region_only": flags[0], "national_only": flags[1], "market_ok": market_ok}


def assert_same_tables(cap, ref):
    for name in TABLES:
        np.testing.assert_array_equal(getattr(cap, name), getattr(ref, name), err_msg=name)


def assert_same(found, expected, cap, ref):
    """Same search result (values, dtypes) and the same capacity tables afterwards."""
    for field in ("placed", "la", "provider"):
        a, b = getattr(found, field), getattr(expected, field)
        assert a.dtype == b.dtype and a.shape == b.shape, field
        np.testing.assert_array_equal(a, b, err_msg=field)
    assert_same_tables(cap, ref)


# ============================================================================ tests
@pytest.mark.parametrize("seed", range(4))
def test_find_matches_the_reference(seed):
    """Many random searches, each on a fresh random capacity: same result and same tables."""
    rng = np.random.default_rng(seed)
    for _ in range(300):
        cap = random_capacity(rng)
        ref = copy_capacity(cap)
        req = random_request(rng, cap)
        ptype, child_la, priority = req.pop("ptype"), req.pop("child_la"), req.pop("priority")
        found = cap.find(ptype, child_la, priority, **req)
        expected = reference_find(ref, ptype, child_la, priority, **req)
        assert_same(found, expected, cap, ref)


@pytest.mark.parametrize("seed", range(3))
def test_a_sequence_of_searches_and_moves_matches_the_reference(seed):
    """Searches, moves out and schedule changes in turn on one capacity, as in a run: the state
    stays identical throughout (so every search sees what the reference would have seen)."""
    rng = np.random.default_rng(100 + seed)
    cap = random_capacity(rng)
    ref = copy_capacity(cap)
    held = []  # (ptype, la, provider) of places taken
    for _ in range(400):
        action = rng.random()
        if action < 0.6:
            req = random_request(rng, cap)
            ptype, child_la, priority = req.pop("ptype"), req.pop("child_la"), req.pop("priority")
            found = cap.find(ptype, child_la, priority, **req)
            expected = reference_find(ref, ptype, child_la, priority, **req)
            assert_same(found, expected, cap, ref)
            got = found.placed
            held.append((np.full(got.sum(), ptype), found.la[got], found.provider[got]))
        elif action < 0.9 and held:
            ptype, la, provider = held.pop(int(rng.integers(len(held))))
            leave = rng.random(len(la)) < 0.5
            cap.occupy(ptype[leave], la[leave], provider[leave], -1)
            reference_occupy(ref, ptype[leave], la[leave], provider[leave], -1)
            assert_same_tables(cap, ref)
        else:
            t = int(rng.integers(len(cap.unlimited)))
            places = [rng.integers(0, 4, cap.n_la) * (rng.random(cap.n_la) < 0.6) for _ in range(3)]
            cap.set_places(t, *places)
            ref.set_places(t, *[p.copy() for p in places])
            cap.settle()
            reference_settle(ref)
            assert_same_tables(cap, ref)


def test_find_with_other_dtypes_and_nan_priorities():
    """int32 LAs, float32 priorities, and NaN priorities (which NumPy sorts last)."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        cap = random_capacity(rng)
        ref = copy_capacity(cap)
        req = random_request(rng, cap)
        ptype, child_la, priority = req.pop("ptype"), req.pop("child_la"), req.pop("priority")
        priority = priority.copy()
        priority[rng.random(len(priority)) < 0.2] = np.nan
        child_la = child_la.astype(np.int32)
        if rng.random() < 0.5:
            priority = priority.astype(np.float32)
        found = cap.find(ptype, child_la, priority, **req)
        expected = reference_find(ref, ptype, child_la, priority, **req)
        assert_same(found, expected, cap, ref)


def test_empty_and_unlimited_searches():
    cap = Capacity(len(PLACEMENT_TYPES), np.array([0, 0, 1]), 2)
    cap.unlimited[P.UNREGISTERED] = True
    empty = cap.find(P.RESIDENTIAL, np.zeros(0, np.int64), np.zeros(0), market_ok=np.zeros(0, bool))
    assert empty.placed.dtype == bool and empty.la.dtype == np.int64 and empty.provider.dtype == np.int8
    assert len(empty.placed) == len(empty.la) == len(empty.provider) == 0
    found = cap.find(P.UNREGISTERED, np.array([2, 0]), np.array([0.5, 0.1]))
    assert found.placed.all() and found.la.tolist() == [2, 0] and (found.provider == MARKET).all()
    nothing = cap.find(P.RESIDENTIAL, np.array([2, 0]), np.array([0.5, 0.1]))  # no places at all
    assert not nothing.placed.any() and (nothing.la == -1).all() and (nothing.provider == NO_PROVIDER).all()


def test_find_worked_example():
    """One LA with 1 in-house and 2 market places, a neighbour in its region with 1 market place, an LA
    in another region with 1: six children of the first LA compete, the most distressed first."""
    cap = Capacity(len(PLACEMENT_TYPES), np.array([0, 0, 1]), 2)
    r = P.RESIDENTIAL
    cap.set_places(r, np.array([1, 0, 0]), np.array([2, 1, 1]), np.zeros(3, np.int64))
    priority = np.array([0.2, 0.9, 0.5, 0.9, 0.1, 0.3])
    market_ok = np.array([True, True, True, False, True, True])
    found = cap.find(r, np.zeros(6, np.int64), priority, market_ok=market_ok)
    # Ranked in the LA: 1 (0.9), 3 (0.9, refused by the market), 2, 5, 0, 4.  Rank 0 takes the in-house
    # place; rank 1 (child 3) may not take a market place and searches no further; rank 2 (child 2) takes
    # a market place; ranks 3-5 are beyond the LA's 3 places.  The region's free market places are then
    # the LA's second (left by rank 1) and its neighbour's: children 5 and 0 take them; child 4 takes
    # the one in the other region.
    assert found.placed.tolist() == [True, True, True, False, True, True]
    assert found.la.tolist() == [1, 0, 0, -1, 2, 0]
    assert found.provider.tolist() == [MARKET, IN_HOUSE, MARKET, NO_PROVIDER, MARKET, MARKET]
    assert cap.used_in_house[r].tolist() == [1, 0, 0] and cap.used_market[r].tolist() == [2, 1, 1]


@pytest.mark.parametrize("seed", range(3))
def test_rank_within_groups_matches_the_reference(seed):
    """Integer keys (negative too) and float keys (signed zeros, NaN), priorities with ties and NaN."""
    rng = np.random.default_rng(200 + seed)
    for _ in range(300):
        n = int(rng.choice([0, 1, 3, 17, 64, 300]))
        keys = rng.integers(-3, int(rng.integers(1, 12)), n)
        if rng.random() < 0.3:
            keys = rng.choice([0.0, -0.0, 1.5, np.nan, -2.0], n)
        priority = random_priority(rng, n)
        if rng.random() < 0.3:
            priority = priority.copy()
            priority[rng.random(n) < 0.2] = np.nan
        np.testing.assert_array_equal(P.rank_within_groups(keys, priority), reference_rank(keys, priority))
        assert P.rank_within_groups(keys, priority).dtype == np.int64


@pytest.mark.parametrize("seed", range(2))
def test_occupy_and_settle_match_the_reference(seed):
    rng = np.random.default_rng(300 + seed)
    for _ in range(300):
        cap = random_capacity(rng)
        ref = copy_capacity(cap)
        n = int(rng.choice([0, 1, 10, 200]))
        ptype = rng.integers(0, len(PLACEMENT_TYPES), n)
        la = rng.integers(0, cap.n_la, n)
        provider = rng.choice(np.array([IN_HOUSE, MARKET, NO_PROVIDER, DOL_HOME], np.int8), n)
        sign = int(rng.choice([-1, 1]))
        if rng.random() < 0.2:
            ptype = int(rng.integers(len(PLACEMENT_TYPES)))  # one type for all
        cap.occupy(ptype, la, provider, sign)
        reference_occupy(ref, ptype, la, provider, sign)
        assert_same_tables(cap, ref)


def _run_state(model) -> dict:
    ch, cap = model.children, model.capacity
    return {"summary": summarise(model),
            **{f"children.{k}": getattr(ch, k).copy() for k in
               ("placement", "placement_la", "provider", "distress", "moves", "basis", "la")},
            **{f"capacity.{k}": getattr(cap, k).copy() for k in TABLES}}


def test_a_whole_run_is_unchanged(monkeypatch):
    """A small run with the compiled search gives what the same run gives with the NumPy reference
    swapped in (searches, bookkeeping, and the agencies' rationing): summary and final state."""
    overrides = ["population.scale=0.05", "horizon.years=1", "seed=3"]
    model = sim.model.CarePathwaysModel(build_config(overrides))
    model.run()
    compiled = _run_state(model)

    monkeypatch.setattr(Capacity, "find", reference_find)
    monkeypatch.setattr(Capacity, "occupy", reference_occupy)
    monkeypatch.setattr(Capacity, "settle", reference_settle)
    monkeypatch.setattr(sim.agencies, "rank_within_groups", reference_rank)
    model = sim.model.CarePathwaysModel(build_config(overrides))
    model.run()
    reference = _run_state(model)

    assert compiled["summary"] == reference["summary"]
    for name, value in reference.items():
        if name != "summary":
            np.testing.assert_array_equal(compiled[name], value, err_msg=name)


# ============================================================================ placing and moving children
# ``CarePathwaysModel.place`` (the fallback chain), ``move``, ``_vacate`` and ``reprice`` as they were in
# NumPy before their compiled forms, on the reference search and bookkeeping above.
def reference_price(prices, ptype, dol, autism_ld):
    cost = prices.base[ptype] * prices.index
    in_home = (ptype == P.RESIDENTIAL) | (ptype == P.THERAPEUTIC)
    cost = np.where(dol & in_home, prices.cfg.orders.dol_in_registered_home_weekly_cost_gbp * prices.index, cost)
    mix = prices.single_mix[ptype].copy()
    therapeutic = ptype == P.THERAPEUTIC
    mix[therapeutic] = sim.costs.LA_NHS
    mix[in_home & autism_ld] = sim.costs.LA_EDUCATION
    mix[therapeutic & autism_ld] = sim.costs.LA_NHS_EDUCATION
    return cost, mix


def reference_book(model, idx, sign):
    ch, ledger = model.children, model.ledger
    ptype, mix, cost = ch.placement[idx].astype(np.int64), ch.payer_mix[idx].astype(np.int64), ch.weekly_cost[idx]
    np.add.at(ledger.by_type_mix, (ptype, mix), sign * cost)
    np.add.at(ledger.la_share_by_la, ch.la[idx], sign * cost * ledger.mix_table[mix, P.LA_PAYER])
    ledger.high_cost += sign * int((cost >= sim.costs.HIGH_COST_GBP).sum())


def reference_reprice(self, idx):
    if len(idx) == 0:
        return
    ch = self.children
    reference_book(self, idx, -1)
    cost, mix = reference_price(self.prices, ch.placement[idx].astype(np.int64), ch.basis[idx] == DOL,
                                ch.has("autism_ld", idx))
    ch.weekly_cost[idx] = cost
    ch.payer_mix[idx] = mix
    reference_book(self, idx, +1)


def reference_vacate(self, idx):
    ch = self.children
    old = ch.placement[idx].astype(np.int64)
    reference_occupy(self.capacity, old, ch.placement_la[idx], ch.provider[idx], -1)
    reference_book(self, idx, -1)
    ch.weeks_by_placement[idx, old] += self.week - ch.placement_start[idx]
    return old


def reference_move(self, idx, new_type, new_la, provider, reason, agency, count_as_move=True):
    if len(idx) == 0:
        return
    ch, w, dc = self.children, self.week, self.cfg.distress
    new_type = np.broadcast_to(np.asarray(new_type, np.int64), idx.shape)
    old = self._vacate(idx)
    ch.placement[idx] = new_type
    ch.placement_la[idx] = new_la
    ch.provider[idx] = provider
    ch.placement_start[idx] = w
    cost, mix = reference_price(self.prices, new_type, ch.basis[idx] == DOL, ch.has("autism_ld", idx))
    ch.weekly_cost[idx] = cost
    ch.payer_mix[idx] = mix
    reference_book(self, idx, +1)
    ch.calm_weeks[idx] = 0
    counted = idx if count_as_move is True else idx[np.broadcast_to(count_as_move, idx.shape)]
    if len(counted):
        ch.moves[counted] += 1
        ch.moves_this_year[counted] += 1
        out_of_area = ch.placement_la[counted] != ch.la[counted]
        ch.distress[counted] = np.minimum(ch.distress[counted] + dc.move_shock + dc.out_of_area_shock * out_of_area, 1)
        ch.scar[counted] += dc.scar_per_move
        self.tally.add("moves", len(counted))
    self._log_moves(idx, old, new_type, new_la, cost, self.prices.mix_table[mix].argmax(axis=1), reason, agency)


def reference_refuses(self, ptype, idx):
    ch = self.children
    p = (self.cfg.placements.market_refusal * self.levers.market_refusal_factor * ch.distress[idx] ** 2
         * (1 + ch.has("risk_to_others", idx)))
    return self.streams.uniform(f"provider_accepts:{ptype}", 0, idx) < p


def reference_place(self, idx, wanted, reason, agency_kind="childrens_social_care", planned=False,
                    count_as_move=True, exact=False, may_wait=False):
    """``place`` as it was: the search in NumPy (one ``find`` per step of the chain), then the requests of
    those who may wait and the moves (``move``)."""
    from sim.model import FALLBACK, PLANNED

    ch = self.children
    moved = np.zeros(len(idx), bool)
    if len(idx) == 0:
        return moved
    chains = {k: (k,) for k in FALLBACK} if exact else PLANNED if planned else FALLBACK
    refused = np.zeros(len(idx), bool)
    priority = ch.distress[idx]
    age = ch.age_years(idx, self.week)
    new_type = np.full(len(idx), -1, np.int64)
    new_la = np.full(len(idx), -1, np.int64)
    provider = np.full(len(idx), NO_PROVIDER, np.int8)
    if self.levers.dol_home_places > 0:
        seek = np.flatnonzero((wanted == P.RESIDENTIAL) & (ch.basis[idx] == DOL))
        if len(seek):
            found = reference_find(self.capacity, DOL_HOMES, ch.la[idx[seek]], priority[seek])
            got = seek[found.placed]
            new_type[got] = P.RESIDENTIAL
            new_la[got] = found.la[found.placed]
            provider[got] = DOL_HOME
            moved[got] = True
    for want in np.unique(wanted):
        group = np.flatnonzero(wanted == want)
        for ptype in chains[int(want)]:
            todo = group[~moved[group]]
            todo = todo[age[todo] >= self.min_age[ptype]]
            if may_wait and ptype == P.UNREGISTERED:
                todo = todo[refused[todo]]
            if len(todo) == 0:
                continue
            market_ok = None
            if ptype in (P.FOSTER_AGENCY, P.RESIDENTIAL, P.THERAPEUTIC, P.SUPPORTED):
                market_ok = ~reference_refuses(self, ptype, idx[todo])
                if ptype in (P.RESIDENTIAL, P.THERAPEUTIC):
                    refused[todo[~market_ok]] = True
            found = reference_find(self.capacity, ptype, ch.la[idx[todo]], priority[todo], market_ok=market_ok)
            got = todo[found.placed]
            new_type[got] = ptype
            new_la[got] = found.la[found.placed]
            provider[got] = found.provider[found.placed]
            moved[got] = True
        waiting = int((~moved[group]).sum())
        if waiting:
            self.tally.add(f"waiting_{PLACEMENT_TYPES[int(want)]}", waiting)
    if may_wait:
        waits = idx[~moved]
        ch.pending_type[waits] = wanted[~moved]
        ch.pending_week[waits] = self.week + 1
        self.requests_changed(waits)
    m = np.flatnonzero(moved)
    if len(m):
        reasons = np.full(len(m), sim.outputs.RS[reason], np.int8)
        reasons[(new_type[m] == P.UNREGISTERED) & (wanted[m] != P.UNREGISTERED)] = sim.outputs.RS["no_registered_place"]
        counted = count_as_move if np.ndim(count_as_move) == 0 else np.asarray(count_as_move)[m]
        self.move(idx[m], new_type[m], new_la[m], provider[m], reasons, self.agency_uid(agency_kind, idx[m]),
                  count_as_move=counted)
    return moved


def _whole_run(overrides) -> dict:
    """Everything a run leaves: child state, events, weekly table, capacity and ledger totals, summary."""
    from sim.scenarios import interventions_for

    cfg = build_config(overrides)
    model = sim.model.CarePathwaysModel(cfg, interventions=interventions_for(cfg))
    model.run()
    state = {f"children.{k}": v.copy() for k, v in vars(model.children).items() if isinstance(v, np.ndarray)}
    state.update({f"events.{k}": v for k, v in model.events.arrays().items()})
    state.update({f"capacity.{k}": getattr(model.capacity, k).copy() for k in TABLES})
    state.update({"ledger.by_type_mix": model.ledger.by_type_mix, "ledger.la_share_by_la": model.ledger.la_share_by_la,
                  "ledger.high_cost": np.array(model.ledger.high_cost), "weekly": model.weekly.data})
    state["summary"] = summarise(model)
    return state


@pytest.mark.parametrize("scenario", ["baseline", "registered_dol_homes"])
def test_placing_and_moving_match_the_numpy_reference(monkeypatch, scenario):
    """A run with the compiled chain search and moves gives, bit for bit, what it gives with the NumPy
    ``place``/``move``/``_vacate``/``reprice`` they replaced (on the reference search and bookkeeping);
    the DoL-homes scenario exercises the search of reserved homes first."""
    overrides = ["population.scale=0.05", "horizon.years=2", "seed=3", f"scenario={scenario}"]
    compiled = _whole_run(overrides)
    monkeypatch.setattr(sim.model.CarePathwaysModel, "place", reference_place)
    monkeypatch.setattr(sim.model.CarePathwaysModel, "move", reference_move)
    monkeypatch.setattr(sim.model.CarePathwaysModel, "_vacate", reference_vacate)
    monkeypatch.setattr(sim.model.CarePathwaysModel, "reprice", reference_reprice)
    monkeypatch.setattr(sim.model.CarePathwaysModel, "provider_refuses", reference_refuses)
    monkeypatch.setattr(Capacity, "find", reference_find)
    monkeypatch.setattr(Capacity, "occupy", reference_occupy)
    monkeypatch.setattr(Capacity, "settle", reference_settle)
    reference = _whole_run(overrides)
    assert compiled["summary"] == reference["summary"]
    assert compiled.keys() == reference.keys()
    for name, value in reference.items():
        if name != "summary":
            got = compiled[name]
            assert got.dtype == value.dtype, name
            np.testing.assert_array_equal(got, value, err_msg=name)
    assert (compiled["events.event"] == sim.outputs.EV["move"]).sum() > 100


def reference_set_basis(self, idx, basis, until=sim.children.NEVER, order_id=None):
    if len(idx) == 0:
        return
    ch, w = self.children, self.week
    old = ch.basis[idx].astype(np.int64)
    ch.weeks_by_basis[idx, old] += np.where(old != sim.children.NO_BASIS, w - ch.basis_start[idx], 0)
    ch.basis[idx] = basis
    ch.basis_start[idx] = w
    ch.order_until[idx] = until
    if basis == sim.children.NO_BASIS:
        ch.order_id[idx] = -1
    else:
        ch.order_id[idx] = self.new_orders(len(idx)) if order_id is None else order_id
        ch.order_start[idx] = w
        ch.ever_deprived[idx] = True
    if (old == DOL).any() or basis == DOL:
        self.reprice(idx)


def reference_ageing_out(self, w):
    """``_ageing_out`` as it was: the children turning 18 by a NumPy mask over everyone present."""
    from sim.children import WEEKS_PER_YEAR

    act = self.present_children()
    self._turn_18(w, act[w - self.children.birth_week[act] >= 18 * WEEKS_PER_YEAR])


def reference_record(self, w):
    """``_record`` as it was: the week's row as a dict of some 150 named values."""
    from sim.children import BASES, LEGAL_STATUS
    from sim.config import REGIONS
    from sim.outputs import census

    ch, cap, s = self.children, self.capacity, 1.0 / self.scale
    act = self.present_children()
    k = census(ch, act, self.in_care_children(), w, P.FAMILY, P.TIER4, len(PLACEMENT_TYPES), len(BASES),
               len(LEGAL_STATUS), self.geo.n_la, len(REGIONS), len(P.PAYERS))
    ic = k.in_care
    self._book_budgets(w, k)
    if w < 0:
        return
    self.in_care_this_year[ic] = True
    row = {"week": w, "year": self.year, "children_present": len(act) * s, "children_in_care": len(ic) * s,
           "edge_of_care": (len(act) - len(ic)) * s}
    by_type = k.by_type
    for i, t in enumerate(PLACEMENT_TYPES):
        row[f"children_{t}"] = by_type[i] * s
        row[f"capacity_{t}"] = cap.places(i) * s
        row[f"occupancy_{t}"] = cap.occupied(i) * s if not cap.unlimited[i] else by_type[i] * s
    for i, b in enumerate(BASES):
        row[f"legal_{b}"] = k.by_basis[i] * s
    for i, name in enumerate(LEGAL_STATUS[1:], start=1):
        row[f"looked_after_{name}"] = k.by_legal[i] * s
    for i, r in enumerate(REGIONS):
        row[f"region_{r}"] = k.by_region[i] * s
    row["out_of_area"] = float(k.out_of_area) * s
    by_payer, community_cost = self._spend_by_payer(k)
    spend_type = self.ledger.spend_by_type()
    for i, t in enumerate(PLACEMENT_TYPES):
        row[f"spend_{t}"] = spend_type[i] * s
    for i, p in enumerate(P.PAYERS):
        row[f"spend_{p}"] = by_payer[i] * s
    row["spend_community_support"] = community_cost * s
    row["spend_total"] = by_payer.sum() * s
    row["placements_10k_plus"] = self.ledger.high_cost * s
    if self.interventions:
        implementation = sum(i.weekly_cost(self) for i in self.interventions)
        for j, p in enumerate(P.PAYERS):
            row[f"implementation_{p}"] = implementation[j] * s
    row["capacity_dol_homes"] = cap.places(DOL_HOMES) * s
    row["occupancy_dol_homes"] = cap.occupied(DOL_HOMES) * s
    for key, value in self.tally.values.items():
        row[key] = value * s
    self.weekly.put(w, row)


@pytest.mark.parametrize("scenario", ["baseline", "pooled_funding"])
def test_orders_and_weekly_records_match_the_numpy_reference(monkeypatch, scenario):
    """A run gives, bit for bit, what it gives with the NumPy ``set_basis``, the NumPy picks of
    ``review_orders`` (among everyone present) and ``_ageing_out``, and the dict-built weekly row (an
    intervention's implementation cost included), all as they were before their compiled forms."""
    overrides = ["population.scale=0.05", "horizon.years=2", "horizon.burn_in_years=1", "seed=4",
                 f"scenario={scenario}"]
    compiled = _whole_run(overrides)
    monkeypatch.setattr(sim.model.CarePathwaysModel, "set_basis", reference_set_basis)
    monkeypatch.setattr(sim.model.CarePathwaysModel, "_record", reference_record)
    monkeypatch.setattr(sim.courts, "orders_due",
                        lambda act, until, week: act[(until[act] != sim.children.NEVER) & (until[act] <= week)])
    monkeypatch.setattr(sim.courts, "placed_in", lambda act, placement, ptype: act[placement[act] == ptype])
    monkeypatch.setattr(sim.model.CarePathwaysModel, "_ageing_out", reference_ageing_out)
    # due orders picked among everyone present, not only the children with orders
    monkeypatch.setattr(sim.model.CarePathwaysModel, "children_with_orders", lambda self: self.present_children())
    reference = _whole_run(overrides)
    assert compiled["summary"] == reference["summary"]
    for name, value in reference.items():
        if name != "summary":
            assert compiled[name].dtype == value.dtype, name
            np.testing.assert_array_equal(compiled[name], value, err_msg=name)

"""Placements: the kinds of place a child can live in, their capacity, and finding a free place.

Capacity is held per local authority (LA).  Each LA commissions *in-house* places that only its
own children use, and hosts *market* places (independent providers, NHS beds, secure homes) that
any LA may compete for.  A search looks in the child's own LA first, then the rest of its region,
then the whole country: a place outside the child's own LA is "out of area" (T2-030, T2-044).
Settings marked unlimited (living with family, unregistered settings) never run out: an
unregistered setting is what is left when nothing else can be found.

The search (``Capacity.find``) for one placement type and a batch of requests:

- Requests compete in order of priority, higher first; equal priorities keep their order in the
  batch (the order ``np.lexsort((-priority, keys))`` gives within a group; a NaN priority comes last).
- 1-2. Own LA: the k-th request of an LA (k counted from 0 over all the LA's requests, placed or
  not) takes one of the LA's free in-house places if k < free in-house, otherwise one of its free
  market places if k < free in-house + free market.  Children the market refuses (``market_ok``
  False) take only in-house places and search no further.
- 3. Own region (unless ``national_only``): the k-th request of a region still searching takes the
  k-th free market place of the region's LAs, in ``la_by_region`` order (filling each LA in turn).
- 4. England (unless ``in_region_only``): likewise, over every LA.
- Free places are counted at the start of each step; places found are taken (``used_*``) at once.

Placing a batch of children (``_place_along_chains``, for ``CarePathwaysModel.place``) runs
one such search per step of each wanted type's fallback chain, with the refusal draws of independent
providers and the age limits in between: some 13 batches a week, each up to a dozen searches.

A search costs almost nothing per request but runs about 70 times a week, usually for a handful of
children, so its work is one compiled loop (numba, ``_search``) rather than a few dozen small NumPy
calls of fixed cost each; a batch's whole chain of searches is one compiled call too
(``_place_along_chains``).  ``cache=True`` stores the machine code beside this file, so later
processes (parallel workers included) load it instead of compiling it again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from sim.randomness import hash_child

PLACEMENT_TYPES = (
    "family",  # living with family: the edge of care, or returned home
    "foster_inhouse",
    "foster_agency",
    "residential",  # registered children's home
    "therapeutic_residential",  # specialist therapeutic residential (integrated mental health)
    "supported_accommodation",  # 16-17 only
    "tier4",  # Tier 4 mental-health inpatient unit
    "secure_home",  # secure children's home
    "unregistered",  # unregistered setting: no capacity limit
    "youth_custody",
)
T = {name: i for i, name in enumerate(PLACEMENT_TYPES)}
FAMILY, FOSTER_INHOUSE, FOSTER_AGENCY, RESIDENTIAL, THERAPEUTIC, SUPPORTED, TIER4, SECURE, UNREGISTERED, CUSTODY = (
    range(len(PLACEMENT_TYPES))
)
PAYERS = ("local_authority", "nhs", "justice", "education")
LA_PAYER, NHS_PAYER, JUSTICE_PAYER, EDUCATION_PAYER = range(4)

IN_HOUSE, MARKET, NO_PROVIDER, DOL_HOME = 0, 1, 2, 3
# Capacity row for registered children's home places reserved for children on DoL orders (a scenario):
# the child's placement type is RESIDENTIAL, the place comes from this row.
DOL_HOMES = len(PLACEMENT_TYPES)


def of_type(ptype: np.ndarray, *types: int) -> np.ndarray:
    """Whether each placement is one of the given types (a table lookup: faster than np.isin)."""
    table = np.zeros(len(PLACEMENT_TYPES), bool)
    table[list(types)] = True
    return table[ptype]


@dataclass
class Found:
    """Result of a search: for each request, whether it was placed, where, and by which kind of provider."""

    placed: np.ndarray
    la: np.ndarray
    provider: np.ndarray


def rank_within_groups(keys: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """Position of each request within its group (same key), best priority first.

    The ranks ``np.lexsort((-priority, keys))`` gives (ties by position), from one compiled pass.
    """
    if len(keys) != len(priority):
        raise ValueError("keys and priority differ in length")
    return _rank(keys, priority)


def stochastic_round(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Round to integers keeping the expected value (so a reduced scale keeps capacities proportional)."""
    base = np.floor(values)
    return (base + (rng.random(values.shape) < (values - base))).astype(np.int64)


def each_child(value, n: int, dtype) -> np.ndarray:
    """``value`` for each of ``n`` children: one value for all (spread, with ``np.full``: much cheaper than
    ``np.broadcast_to``) or one per child, as an array of ``dtype``."""
    return np.full(n, value, dtype) if np.ndim(value) == 0 else np.asarray(value, dtype)


class Capacity:
    """Places by type and LA, how many are used, and the search for a free one."""

    def __init__(self, n_types: int, la_region: np.ndarray, n_regions: int):
        self.la_region = la_region
        self.n_la = len(la_region)
        self.n_regions = n_regions
        shape = (n_types + 1, self.n_la)  # the last row: registered DoL homes
        self.in_house = np.zeros(shape, np.int64)
        self.market = np.zeros(shape, np.int64)
        self.external = np.zeros(shape, np.int64)  # places taken by children outside the population
        self.used_in_house = np.zeros(shape, np.int64)
        self.used_market = np.zeros(shape, np.int64)
        self.unlimited = np.zeros(n_types + 1, bool)
        # Places a schedule has cut but a child still occupies: they close when the child leaves.
        self.target_in_house = np.zeros(shape, np.int64)
        self.target_market = np.zeros(shape, np.int64)
        # LAs ordered by region, so a region's places are one contiguous run of a cumulative sum.
        self.la_by_region = np.argsort(la_region, kind="stable")
        self.region_start = np.searchsorted(la_region[self.la_by_region], np.arange(n_regions))
        self.region_end = np.append(self.region_start[1:], self.n_la)

    # ---------------------------------------------------------------- schedules
    def set_places(self, ptype: int, in_house: np.ndarray, market: np.ndarray, external: np.ndarray) -> None:
        """New commissioned places for a type (a year's schedule). Occupied places above a cut stay
        open until their child leaves (nobody is evicted); they then close (``settle``)."""
        self.target_in_house[ptype] = in_house
        self.target_market[ptype] = market
        self.external[ptype] = external
        self.in_house[ptype] = np.maximum(in_house, self.used_in_house[ptype])
        self.market[ptype] = np.maximum(market, self.used_market[ptype] + external)

    def settle(self) -> None:
        """Close places above the schedule that have been vacated."""
        _settle(self.in_house, self.target_in_house, self.used_in_house,
                self.market, self.target_market, self.used_market, self.external)

    # ---------------------------------------------------------------- bookkeeping
    def occupy(self, ptype: np.ndarray, la: np.ndarray, provider: np.ndarray, sign: int) -> None:
        """Take (sign=+1) or free (sign=-1) one place per child."""
        ptype = each_child(ptype, len(la), np.int64)
        if not len(ptype) == len(la) == len(provider):
            raise ValueError("ptype, la and provider differ in length")
        occupy_each(self.unlimited, self.used_in_house, self.used_market, ptype, la, provider, sign)
        if sign < 0:
            self.settle()  # a vacated place above a year's cut closes at once

    def places(self, ptype: int) -> int:
        return int(self.in_house[ptype].sum() + self.market[ptype].sum())

    def occupied(self, ptype: int) -> int:
        return int(self.used_in_house[ptype].sum() + self.used_market[ptype].sum() + self.external[ptype].sum())

    def places_by_type(self) -> np.ndarray:
        """``places`` of every type (the DoL-homes row last)."""
        return self.in_house.sum(axis=1) + self.market.sum(axis=1)

    def occupied_by_type(self) -> np.ndarray:
        """``occupied`` of every type (the DoL-homes row last)."""
        return self.used_in_house.sum(axis=1) + self.used_market.sum(axis=1) + self.external.sum(axis=1)

    def free_market(self, ptype: int) -> np.ndarray:
        return np.maximum(self.market[ptype] - self.used_market[ptype] - self.external[ptype], 0)

    def free_in_house(self, ptype: int) -> np.ndarray:
        return np.maximum(self.in_house[ptype] - self.used_in_house[ptype], 0)

    def over_capacity(self) -> np.ndarray:
        """Places used beyond what exists, per type (must stay zero for limited types)."""
        over = (self.used_in_house - self.in_house).clip(0) + (
            self.used_market + self.external - self.market
        ).clip(0)
        over[self.unlimited] = 0
        return over.sum(axis=1)

    # ---------------------------------------------------------------- search
    def find(self, ptype: int, child_la: np.ndarray, priority: np.ndarray, *,
             in_region_only: bool = False, national_only: bool = False, market_ok: np.ndarray | None = None
             ) -> Found:
        """Find a place of one type for each request: own LA, then own region, then England.

        Requests compete in order of priority (higher first); places found are taken at once.
        ``market_ok`` False marks children independent providers will not take: only the LA's own
        in-house places are open to them.  The steps are in the module docstring.
        """
        n = len(child_la)
        if n == 0:
            return Found(np.zeros(0, bool), np.full(0, -1, np.int64), np.full(0, NO_PROVIDER, np.int8))
        if self.unlimited[ptype]:
            return Found(np.ones(n, bool), child_la.astype(np.int64), np.full(n, MARKET, np.int8))
        if len(priority) != n or (market_ok is not None and len(market_ok) != n):
            raise ValueError("child_la, priority and market_ok differ in length")
        if market_ok is not None:
            market_ok = np.asarray(market_ok, bool)
        # The results are made here and filled in by the kernel (cheaper than returning new arrays).
        found = Found(np.empty(n, bool), np.empty(n, np.int64), np.empty(n, np.int8))
        _search(int(ptype), child_la, _best_first(priority), market_ok, not national_only, not in_region_only,
                self.in_house, self.used_in_house, self.market, self.used_market, self.external,
                self.la_region, self.la_by_region, self.region_start, self.region_end,
                found.placed, found.la, found.provider)
        return found


# ==================================================================== compiled kernels
# boundscheck: an index out of range raises IndexError (as NumPy would) instead of reading past an array.
_jit = numba.njit(cache=True, boundscheck=True)


@_jit
def _isnan(x):
    return x != x  # noqa: PLR0124  (true only for NaN; compiles for integers too)


@_jit
def _lt(a, b):
    """a sorts before b in NumPy's order (NaN last)."""
    return a < b or (_isnan(b) and not _isnan(a))


@_jit
def _argsort_stable(values):
    """Indices that sort ``values`` ascending, equal values in their order (NumPy's stable argsort; a
    priority is a distress level, never NaN)."""
    return np.argsort(values, kind="mergesort")


_SIGN = np.uint64(1) << np.uint64(63)
_LAST = np.uint64(0xFFFFFFFFFFFFFFFF)  # the key of a NaN: after every number
_BYTE = np.uint64(0xFF)
_SMALL_BATCH = 512  # below this many requests numba's merge sort is as quick


@_jit
def _best_first(priority):
    """``_argsort_stable(-priority)``: the requests by priority, highest first, equal priorities in their
    order (0.0 and -0.0 equal, NaN last, as NumPy's stable sort orders ``-priority``).

    A batch of thousands of waiting requests is sorted by a least-significant-digit radix sort of the
    numbers' bits (a byte a pass, passes where every key has the same byte skipped), which is stable like
    the merge sort: numba's merge sort took some 200 microseconds for 3,000 requests, most of such a
    batch's time."""
    n = len(priority)
    if n < _SMALL_BATCH:
        return _argsort_stable(-priority)
    values = np.empty(n, np.float64)
    for i in range(n):
        values[i] = -priority[i] + 0.0  # -0.0 becomes 0.0: they are equal, and keep their order
    keys = values.view(np.uint64)
    for i in range(n):
        k = keys[i]
        if values[i] != values[i]:
            keys[i] = _LAST
        elif k & _SIGN:
            keys[i] = ~k  # negative numbers: larger magnitude first
        else:
            keys[i] = k | _SIGN
    order = np.arange(n)
    spare_keys, spare_order = np.empty(n, np.uint64), np.empty(n, np.int64)
    count = np.empty(257, np.int64)
    for shift in range(0, 64, 8):
        s = np.uint64(shift)
        count[:] = 0
        for i in range(n):
            count[((keys[i] >> s) & _BYTE) + 1] += 1
        if count.max() == n:
            continue  # one byte value for all: this pass would keep the order as it is
        for b in range(256):
            count[b + 1] += count[b]
        for i in range(n):
            d = (keys[i] >> s) & _BYTE
            at = count[d]
            spare_keys[at], spare_order[at] = keys[i], order[i]
            count[d] = at + 1
        keys, spare_keys = spare_keys, keys
        order, spare_order = spare_order, order
    return order


@_jit
def _rank(keys, priority):
    """Rank within groups of equal key (see ``rank_within_groups``): sorted by priority, then stably
    by key, which is the order ``np.lexsort((-priority, keys))`` gives."""
    n = len(keys)
    by_priority = _best_first(priority)
    order = by_priority[_argsort_stable(keys[by_priority])]
    rank = np.empty(n, np.int64)
    first = 0  # position in ``order`` where the current group starts
    for pos in range(n):
        if pos > 0 and _lt(keys[order[pos - 1]], keys[order[pos]]):
            first = pos
        rank[order[pos]] = pos - first
    return rank


@_jit
def occupy_each(unlimited, used_in_house, used_market, ptype, la, provider, sign):
    """Add ``sign`` to the used count of each child's place; a DoL-home place is in the DoL-homes row."""
    for i in range(len(ptype)):
        if unlimited[ptype[i]]:
            continue
        if provider[i] == IN_HOUSE:
            used_in_house[ptype[i], la[i]] += sign
        elif provider[i] == MARKET:
            used_market[ptype[i], la[i]] += sign
        elif provider[i] == DOL_HOME:
            used_market[DOL_HOMES, la[i]] += sign


@_jit
def _settle(in_house, target_in_house, used_in_house, market, target_market, used_market, external):
    """In place: places above the target stay open only while occupied."""
    for t in range(in_house.shape[0]):
        for j in range(in_house.shape[1]):
            in_house[t, j] = max(target_in_house[t, j], min(in_house[t, j], used_in_house[t, j]))
            market[t, j] = max(target_market[t, j], min(market[t, j], used_market[t, j] + external[t, j]))


@_jit
def _free_market(market, used_market, external, ptype, la):
    return max(market[ptype, la] - used_market[ptype, la] - external[ptype, la], 0)


@_jit
def _search(ptype, child_la, order, market_ok, local, national, in_house, used_in_house, market, used_market,
            external, la_region, la_by_region, region_start, region_end, placed, la, provider):
    """The search of ``Capacity.find`` (steps in the module docstring); takes the places it finds.

    ``order``: the requests best first (``_argsort_stable(-priority)``); one order serves every step
    (each skips the settled).  ``market_ok`` None: the market refuses nobody.  ``local``: steps 1-3
    (own LA, own region); ``national``: step 4.  Fills ``placed``, ``la`` and ``provider``.
    """
    n_la = in_house.shape[1]
    la[:] = -1
    provider[:] = NO_PROVIDER
    # Still searching after the own LA (children the market refuses search no further).
    searching = np.ones(len(la), np.bool_) if market_ok is None else market_ok.copy()

    if local:
        # 1-2. the LA's own places, free counts as at the start of the step
        free_in = np.empty(n_la, np.int64)
        free_all = np.empty(n_la, np.int64)
        for j in range(n_la):
            free_in[j] = max(in_house[ptype, j] - used_in_house[ptype, j], 0)
            free_all[j] = free_in[j] + _free_market(market, used_market, external, ptype, j)
        k_of_la = np.zeros(n_la, np.int64)  # requests of each LA ranked so far
        for i in order:
            c = child_la[i]
            k = k_of_la[c]
            k_of_la[c] += 1
            if k < free_in[c]:
                la[i], provider[i] = c, IN_HOUSE
                used_in_house[ptype, c] += 1
                searching[i] = False
            elif k < free_all[c] and (market_ok is None or market_ok[i]):
                la[i], provider[i] = c, MARKET
                used_market[ptype, c] += 1
                searching[i] = False

    # 3-4. market places in the region's (or England's) run of LAs: the k-th request still searching
    # takes the k-th free place, so each group fills its LAs in turn, in ``la_by_region`` order.
    for by_region in (True, False):
        if not (local if by_region else national):
            continue
        left = np.empty(n_la, np.int64)  # free places per position in ``la_by_region``, at the step's start
        for p in range(n_la):
            left[p] = _free_market(market, used_market, external, ptype, la_by_region[p])
        if by_region:
            at, end = region_start.copy(), region_end
        else:
            at, end = np.zeros(1, np.int64), np.full(1, n_la, np.int64)
        for i in order:
            if not searching[i]:
                continue
            g = la_region[child_la[i]] if by_region else 0
            p = at[g]
            while p < end[g] and left[p] == 0:
                p += 1
            at[g] = p
            if p == end[g]:
                continue  # the group's market is full
            left[p] -= 1
            chosen = la_by_region[p]
            la[i], provider[i] = chosen, MARKET
            used_market[ptype, chosen] += 1
            searching[i] = False
    for i in range(len(la)):
        placed[i] = la[i] >= 0


_TOP_53 = np.uint64(11)  # a U[0, 1) draw is the hash's top 53 bits scaled by 2**-53, as Streams.uniform makes it
_TO_UNIT = 2.0 ** -53


@_jit
def _find_into(ptype, child_la, order, market_ok, unlimited, in_house, used_in_house, market, used_market,
               external, la_region, la_by_region, region_start, region_end):
    """``Capacity.find`` (both steps, own area and England) for a non-empty batch, its requests best
    first in ``order``: placed, la, provider."""
    n = len(child_la)
    placed = np.empty(n, np.bool_)
    la = np.empty(n, np.int64)
    provider = np.empty(n, np.int8)
    if unlimited[ptype]:
        placed[:] = True
        la[:] = child_la
        provider[:] = MARKET
    else:
        _search(ptype, child_la, order, market_ok, True, True, in_house, used_in_house, market, used_market,
                external, la_region, la_by_region, region_start, region_end, placed, la, provider)
    return placed, la, provider


@_jit
def _by_type(types, n_types):
    """``_argsort_stable(types)`` for types 0..n_types-1, by counting (a batch of thousands of requests
    sorts in a few microseconds instead of a hundred)."""
    start = np.zeros(n_types + 1, np.int64)  # where each type's run begins
    for t in types:
        start[t + 1] += 1
    for t in range(n_types):
        start[t + 1] += start[t]
    order = np.empty(len(types), np.int64)
    for i in range(len(types)):
        order[start[types[i]]] = i
        start[types[i]] += 1
    return order


@_jit
def _in_batch_order(batch, best_first, at_in_batch):
    """Positions in ``batch`` (requests in ascending order) best first: ``best_first`` (requests in
    ascending order sorted stably by descending priority, the batch among them) restricted to the
    batch, which is what sorting the batch stably would give.  ``at_in_batch``: -1 for every request,
    before and after."""
    for j in range(len(batch)):
        at_in_batch[batch[j]] = j
    order = np.empty(len(batch), np.int64)
    k = 0
    for i in best_first:
        if at_in_batch[i] >= 0:
            order[k] = at_in_batch[i]
            k += 1
            at_in_batch[i] = -1
    return order


@_jit
def _place_along_chains(wanted, chains, child_la, priority, age, min_age, draw_ids, refusal_p, refusal_keys,
                        refusable, homes, last_resort, dol_seek, unlimited, in_house, used_in_house, market,
                        used_market, external, la_region, la_by_region, region_start, region_end):
    """Places for a batch of requests along fallback chains, searching (``Capacity.find``) as follows, in
    this order (so capacity is taken in that order).

    - First the requests ``dol_seek`` (positions in the batch) search the DoL-homes row; those placed
      are placed as RESIDENTIAL with a DOL_HOME provider.
    - Then for each wanted type in ascending order, along its chain (row ``chains[wanted]``, padded
      with -1): the requests of that type not yet placed and at least ``min_age[ptype]`` old search
      for ``ptype``.  At a type an independent provider may refuse (``refusable``), a request is
      refused when ``Streams.uniform`` of its child (``draw_ids``) for the key ``refusal_keys[ptype]``
      is below ``refusal_p``; refused requests search in-house places only.  A refusal at one of the
      ``homes`` types marks the request, and only marked requests search ``last_resort`` (-1 for none).

    Returns, per request, whether it was placed, the type, LA and provider of the place, and per
    wanted type the number of requests left without a place.  Raises KeyError for a wanted type
    without a chain.  Compiled because a batch's chain is up to a dozen searches, each framed by half a
    dozen NumPy selections and gathers of a few children: their fixed cost, not the searching, was the
    time."""
    n, n_types = len(wanted), chains.shape[0]
    for i in range(n):
        if wanted[i] < 0 or wanted[i] >= n_types or chains[wanted[i], 0] < 0:
            raise KeyError("a wanted placement type has no fallback chain")
    moved = np.zeros(n, np.bool_)
    new_type = np.full(n, -1, np.int64)
    new_la = np.full(n, -1, np.int64)
    provider = np.full(n, NO_PROVIDER, np.int8)
    refused = np.zeros(n, np.bool_)  # by a provider at one of the ``homes`` types
    waiting = np.zeros(n_types, np.int64)
    if len(dol_seek):
        placed, la, prov = _find_into(DOL_HOMES, child_la[dol_seek], _best_first(priority[dol_seek]),
                                      np.ones(len(dol_seek), np.bool_), unlimited, in_house, used_in_house, market,
                                      used_market, external, la_region, la_by_region, region_start, region_end)
        for j in range(len(dol_seek)):
            if placed[j]:
                i = dol_seek[j]
                new_type[i], new_la[i], provider[i], moved[i] = RESIDENTIAL, la[j], DOL_HOME, True
    todo = np.empty(n, np.int64)
    at_in_batch = np.full(n, -1, np.int64)
    # The requests by wanted type, ascending (as np.unique gives the types), each group in batch order.
    by_want = _by_type(wanted, n_types)
    end = 0
    while end < n:
        first, want = end, wanted[by_want[end]]
        while end < n and wanted[by_want[end]] == want:
            end += 1
        group = by_want[first:end]
        # The group best first, sorted once rather than each batch at each search (``_in_batch_order``).
        best_first = group[_best_first(priority[group])]
        for step in range(chains.shape[1]):
            ptype = chains[want, step]
            if ptype < 0:
                break
            m = 0
            for i in group:
                if not moved[i] and age[i] >= min_age[ptype] and (ptype != last_resort or refused[i]):
                    todo[m] = i
                    m += 1
            if m == 0:
                continue
            batch = todo[:m]
            # Every request takes market places unless a provider of a refusing type turns it down (a
            # batch of all True searches as ``market_ok`` None does).
            market_ok = np.ones(m, np.bool_)
            if refusable[ptype]:
                for j in range(m):
                    i = batch[j]
                    u = np.float64(hash_child(refusal_keys[ptype], draw_ids[i]) >> _TOP_53) * _TO_UNIT
                    if u < refusal_p[i]:
                        market_ok[j] = False
                        if homes[ptype]:
                            refused[i] = True
            order = _in_batch_order(batch, best_first, at_in_batch) if not unlimited[ptype] else batch[:0]
            placed, la, prov = _find_into(ptype, child_la[batch], order, market_ok, unlimited, in_house,
                                          used_in_house, market, used_market, external, la_region, la_by_region,
                                          region_start, region_end)
            for j in range(m):
                if placed[j]:
                    i = batch[j]
                    new_type[i], new_la[i], provider[i], moved[i] = ptype, la[j], prov[j], True
        for i in group:
            if not moved[i]:
                waiting[want] += 1
    return moved, new_type, new_la, provider, waiting

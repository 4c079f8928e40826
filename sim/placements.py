"""Placements: the kinds of place a child can live in, their capacity, and finding a free place.

Capacity is held per local authority (LA).  Each LA commissions *in-house* places that only its
own children use, and hosts *market* places (independent providers, NHS beds, secure homes) that
any LA may compete for.  A search looks in the child's own LA first, then the rest of its region,
then the whole country: a place outside the child's own LA is "out of area" (T2-030, T2-044).
Settings marked unlimited (living with family, unregistered settings) never run out: an
unregistered setting is what is left when nothing else can be found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    """Position of each request within its group (same key), best priority first."""
    order = np.lexsort((-priority, keys))
    sorted_keys = keys[order]
    first = np.searchsorted(sorted_keys, sorted_keys, side="left")
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - first
    return rank


def stochastic_round(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Round to integers keeping the expected value (so a reduced scale keeps capacities proportional)."""
    base = np.floor(values)
    return (base + (rng.random(values.shape) < (values - base))).astype(np.int64)


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
        self.in_house = np.maximum(self.target_in_house, np.minimum(self.in_house, self.used_in_house))
        self.market = np.maximum(self.target_market, np.minimum(self.market, self.used_market + self.external))

    # ---------------------------------------------------------------- bookkeeping
    def occupy(self, ptype: np.ndarray, la: np.ndarray, provider: np.ndarray, sign: int) -> None:
        """Take (sign=+1) or free (sign=-1) one place per child."""
        limited = ~self.unlimited[ptype]
        rows = np.where(provider == DOL_HOME, DOL_HOMES, ptype)
        for prov, table in ((IN_HOUSE, self.used_in_house), (MARKET, self.used_market)):
            m = limited & ((provider == prov) | ((provider == DOL_HOME) & (prov == MARKET)))
            if m.any():
                np.add.at(table, (rows[m], la[m]), sign)
        if sign < 0:
            self.settle()  # a vacated place above a year's cut closes at once

    def places(self, ptype: int) -> int:
        return int(self.in_house[ptype].sum() + self.market[ptype].sum())

    def occupied(self, ptype: int) -> int:
        return int(self.used_in_house[ptype].sum() + self.used_market[ptype].sum() + self.external[ptype].sum())

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
        in-house places are open to them.
        """
        n = len(child_la)
        placed = np.zeros(n, bool)
        la = np.full(n, -1, np.int64)
        provider = np.full(n, NO_PROVIDER, np.int8)
        if n == 0:
            return Found(placed, la, provider)
        if self.unlimited[ptype]:
            return Found(np.ones(n, bool), child_la.astype(np.int64), np.full(n, MARKET, np.int8))
        if not national_only:
            # 1-2. the LA's own in-house places, then market places inside the LA
            self._take_local(ptype, child_la, priority, placed, la, provider, market_ok)
        if market_ok is not None:
            placed |= ~market_ok  # refused by the market: no further search (undone below)
        if not national_only:
            # 3. market places elsewhere in the region (out of area)
            self._take_pooled(ptype, self.la_region[child_la], priority, placed, la, provider, by_region=True)
        if not in_region_only:
            # 4. market places anywhere in England (out of area, often far)
            self._take_pooled(ptype, np.zeros(n, np.int64), priority, placed, la, provider, by_region=False)
        if market_ok is not None:
            placed &= la >= 0
        return Found(placed, la, provider)

    def _take_local(self, ptype, child_la, priority, placed, la, provider, market_ok=None) -> None:
        """Places inside the child's own LA: its in-house places first, then market places there."""
        free_in = self.free_in_house(ptype)
        free_all = free_in + self.free_market(ptype)
        if not free_all.any():
            return
        keys = child_la
        rank = rank_within_groups(keys, priority)
        limit = free_all[keys] if market_ok is None else np.where(market_ok, free_all[keys], free_in[keys])
        ok = rank < limit
        if not ok.any():
            return
        got = np.flatnonzero(ok)
        own = rank[got] < free_in[keys[got]]
        placed[got] = True
        la[got] = child_la[got]
        provider[got] = np.where(own, IN_HOUSE, MARKET)
        np.add.at(self.used_in_house[ptype], child_la[got[own]], 1)
        np.add.at(self.used_market[ptype], child_la[got[~own]], 1)

    def _take_pooled(self, ptype, group, priority, placed, la, provider, by_region: bool) -> None:
        todo = np.flatnonzero(~placed)
        if len(todo) == 0:
            return
        free = self.free_market(ptype)[self.la_by_region]
        cum = np.cumsum(free)
        if cum[-1] == 0:
            return  # the market is full everywhere
        if by_region:
            ends = self.region_end
            before = np.where(self.region_start > 0, cum[self.region_start - 1], 0)
            total = cum[ends - 1] - before
        else:
            before = np.zeros(1, np.int64)
            total = cum[-1:]
        keys = group[todo]
        rank = rank_within_groups(keys, priority[todo])
        ok = rank < total[keys]
        got = todo[ok]
        if len(got) == 0:
            return
        # The k-th accepted request of a group takes the k-th free place of that group's run.
        pos = np.searchsorted(cum, before[keys[ok]] + rank[ok], side="right")
        chosen = self.la_by_region[pos]
        placed[got] = True
        la[got] = chosen
        provider[got] = MARKET
        np.add.at(self.used_market[ptype], chosen, 1)


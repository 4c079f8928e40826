"""Costs: the weekly price of each child's placement, and who pays it.

Prices are per placement type (config ``placements.*.weekly_cost_gbp``, 2024 pounds) times the
year's price index.  A DoL order in a registered home brings 2:1 or 3:1 staffing at its own price
(T5-005).  Some packages have two payers: specialist therapeutic care is shared with the NHS, and a
child with autism or a learning disability in a home is part-funded by education.  Running totals by
placement type, payer mix and LA are kept as children move, so the weekly books cost nothing per child.

Moves and changes of order price and book a handful of children at a time, some 50 times a week, so
pricing and booking are per-child compiled functions (``price_of``, ``book_one``; numba, as in
``sim.placements``) that the model's compiled moves call, not a dozen small NumPy calls per batch.
"""

from __future__ import annotations

import numba
import numpy as np

from sim.config import CarePathwaysConfig, schedule_value
from sim.placements import (
    EDUCATION_PAYER, LA_PAYER, NHS_PAYER, PAYERS, PLACEMENT_TYPES, RESIDENTIAL, THERAPEUTIC,
)

HIGH_COST_GBP = 10_000  # T5-001 counts placements costing GBP 10,000 a week or more
# Payer-mix rows: which share of a placement's cost each payer carries.
SINGLE_LA, SINGLE_NHS, SINGLE_JUSTICE, LA_NHS, LA_EDUCATION, LA_NHS_EDUCATION, SINGLE_EDUCATION = range(7)


def payer_mix_table(cfg: CarePathwaysConfig) -> np.ndarray:
    nhs = cfg.funding.therapeutic_nhs_share
    edu = cfg.funding.education_share_autism_ld_residential
    table = np.zeros((7, len(PAYERS)))
    table[SINGLE_EDUCATION, EDUCATION_PAYER] = 1
    table[SINGLE_LA, LA_PAYER] = 1
    table[SINGLE_NHS, NHS_PAYER] = 1
    table[SINGLE_JUSTICE, 2] = 1
    table[LA_NHS, [LA_PAYER, NHS_PAYER]] = (1 - nhs, nhs)
    table[LA_EDUCATION, [LA_PAYER, EDUCATION_PAYER]] = (1 - edu, edu)
    table[LA_NHS_EDUCATION, [LA_PAYER, NHS_PAYER, EDUCATION_PAYER]] = (max(1 - nhs - edu, 0), nhs, edu)
    return table


class Prices:
    """Weekly prices and payer mixes, for the current year."""

    def __init__(self, cfg: CarePathwaysConfig):
        self.cfg = cfg
        self.base = np.array([getattr(cfg.placements, t).weekly_cost_gbp for t in PLACEMENT_TYPES], float)
        payer_of = {"local_authority": SINGLE_LA, "nhs": SINGLE_NHS, "justice": SINGLE_JUSTICE,
                    "education": SINGLE_EDUCATION}
        self.single_mix = np.array([payer_of[getattr(cfg.placements, t).payer] for t in PLACEMENT_TYPES])
        self.index = 1.0
        self.mix_table = payer_mix_table(cfg)
        self.main_payer = self.mix_table.argmax(axis=1)  # the payer with the largest share of each mix

    def dol_weekly_cost(self) -> float:
        """The weekly cost of a registered home with the staffing a DoL order brings, at this year's prices."""
        return self.cfg.orders.dol_in_registered_home_weekly_cost_gbp * self.index

    def set_year(self, year: int) -> None:
        self.index = schedule_value(self.cfg.funding.cost_index_by_year, year) if year <= max(
            self.cfg.funding.cost_index_by_year) else 1.0

    def two_payers(self, ptype: np.ndarray, autism_ld: np.ndarray) -> np.ndarray:
        """Packages that need a funding agreement between payers before they can start."""
        return (ptype == THERAPEUTIC) | ((ptype == RESIDENTIAL) & autism_ld)


class Ledger:
    """Running weekly totals of placement spend, by placement type and payer mix, and by LA."""

    def __init__(self, n_la: int, mix_table: np.ndarray):
        self.by_type_mix = np.zeros((len(PLACEMENT_TYPES), len(mix_table)))
        self.la_share_by_la = np.zeros(n_la)
        self.high_cost = 0
        self.mix_table = mix_table

    def spend_by_type(self) -> np.ndarray:
        return self.by_type_mix.sum(axis=1)

    def spend_by_payer(self) -> np.ndarray:
        return self.by_type_mix.sum(axis=0) @ self.mix_table


# ==================================================================== compiled per-child functions
_jit = numba.njit(cache=True, boundscheck=True)


@_jit
def price_of(ptype, dol, autism_ld, base, index, dol_weekly_cost, single_mix):
    """Weekly cost and payer mix of one child's placement (``Prices``: ``base`` and ``single_mix`` by
    type, this year's ``index`` and ``dol_weekly_cost``).

    A DoL order in a registered home brings its own staffing cost; specialist therapeutic care is shared
    with the NHS, and a home for a child with autism or a learning disability with education."""
    in_home = ptype == RESIDENTIAL or ptype == THERAPEUTIC
    cost = dol_weekly_cost if dol and in_home else base[ptype] * index
    if ptype == THERAPEUTIC:
        mix = LA_NHS_EDUCATION if autism_ld else LA_NHS
    elif in_home and autism_ld:
        mix = LA_EDUCATION
    else:
        mix = single_mix[ptype]
    return cost, mix


@_jit
def book_one(by_type_mix, la_share_by_la, mix_table, ptype, mix, cost, child_la, sign):
    """Add (sign +1) or take away (-1) one child's weekly cost in the ``Ledger`` totals; returns 1 for
    a high-cost placement (to add to ``high_cost`` times the sign), else 0."""
    by_type_mix[ptype, mix] += sign * cost
    la_share_by_la[child_la] += sign * cost * mix_table[mix, LA_PAYER]
    return 1 if cost >= HIGH_COST_GBP else 0


__all__ = ["HIGH_COST_GBP", "Ledger", "Prices", "book_one", "payer_mix_table", "price_of"]

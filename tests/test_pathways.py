"""Placement and order mechanisms acted on directly: waiting for a registered place, providers' refusals,
the two routes to a DoL order, and the secure queue a DoL order ends.

Each test builds a small model (a twentieth of England), sets up the children it needs by hand and calls
one mechanism, so a failure points at the mechanism, not at a whole run's statistics.
"""

from __future__ import annotations

import numpy as np

from sim import agencies as ag
from sim import build_config
from sim.children import DOL, NEVER, NO_BASIS, NOT_LOOKED_AFTER
from sim.model import CarePathwaysModel
from sim.outputs import EV, RS
from sim.placements import (
    FAMILY, FOSTER_AGENCY, FOSTER_INHOUSE, MARKET, PLACEMENT_TYPES, RESIDENTIAL, SUPPORTED, THERAPEUTIC,
    UNREGISTERED,
)

SMALL = ["seed=4", "population.scale=0.05", "horizon.years=1"]
COURT = "agencies.high_court.weekly_capacity_per_1000_children=100"  # every application heard at once
REGISTERED = (FOSTER_INHOUSE, FOSTER_AGENCY, RESIDENTIAL, THERAPEUTIC, SUPPORTED)


def model(*overrides: str) -> CarePathwaysModel:
    m = CarePathwaysModel(build_config(SMALL + list(overrides)))
    m.step()  # one ordinary week, so every mechanism has run once
    return m


def fill(m: CarePathwaysModel, *types: int) -> None:
    """No free place of these types anywhere: capacity set to what is in use."""
    cap = m.capacity
    for t in types:
        cap.in_house[t] = cap.used_in_house[t]
        cap.market[t] = cap.used_market[t] + cap.external[t]
        cap.target_in_house[t] = cap.in_house[t]
        cap.target_market[t] = cap.market[t]


def in_care_at(m: CarePathwaysModel, ptype: int, n: int, calm: bool = True) -> np.ndarray:
    ch = m.children
    ic = m.in_care_children()
    idx = ic[(ch.placement[ic] == ptype) & (ch.basis[ic] == NO_BASIS) & (ch.pending_type[ic] < 0)]
    if calm:
        idx = idx[ch.distress[idx] < 0.3]
    assert len(idx) >= n, f"too few children in {PLACEMENT_TYPES[ptype]} for the test"
    return idx[:n]


def accepted_by_homes(m: CarePathwaysModel, idx: np.ndarray, n: int) -> np.ndarray:
    """The first n children registered homes would take (a child homes refuse would go unregistered)."""
    kept = idx[~m.provider_refuses(RESIDENTIAL, idx)][:n]
    assert len(kept) == n, "too few children registered homes would take"
    return kept


def events(m: CarePathwaysModel, event: str, week: int) -> dict[str, np.ndarray]:
    a = m.events.arrays()
    keep = (a["event"] == EV[event]) & (a["week"] == week)
    return {k: v[keep] for k, v in a.items()}


def test_a_child_who_can_wait_waits_for_a_registered_place_rather_than_go_unregistered():
    m = model()
    ch = m.children
    kids = accepted_by_homes(m, in_care_at(m, FOSTER_INHOUSE, 40), 5)
    fill(m, *REGISTERED)
    wanted = np.full(len(kids), FOSTER_INHOUSE)
    moved = m.place(kids, wanted, "breakdown", may_wait=True)
    assert not moved.any()
    assert (ch.placement[kids] == FOSTER_INHOUSE).all()  # still with the carer
    assert (ch.pending_type[kids] == FOSTER_INHOUSE).all() and (ch.pending_week[kids] == m.week + 1).all()
    # Without the option to wait, the same children are placed in an unregistered setting.
    others = in_care_at(m, FOSTER_INHOUSE, 5)
    m.place(others, np.full(len(others), FOSTER_INHOUSE), "breakdown")
    assert (ch.placement[others] == UNREGISTERED).all()


def test_a_waiting_child_is_placed_when_a_place_frees_up():
    m = model()
    ch = m.children
    kids = accepted_by_homes(m, in_care_at(m, FOSTER_AGENCY, 20), 3)
    fill(m, *REGISTERED)
    m.place(kids, np.full(len(kids), FOSTER_INHOUSE), "breakdown", may_wait=True)
    assert (ch.pending_type[kids] == FOSTER_INHOUSE).all()
    m.week += 1
    ag.funding_agreements(m, m.week)  # still nothing free: they keep waiting
    assert (ch.pending_type[kids] == FOSTER_INHOUSE).all() and (ch.placement[kids] == FOSTER_AGENCY).all()
    la = ch.la[kids]
    np.add.at(m.capacity.in_house[FOSTER_INHOUSE], la, 1)  # one in-house foster place in each child's LA
    ag.funding_agreements(m, m.week)
    assert (ch.placement[kids] == FOSTER_INHOUSE).all()
    assert (ch.pending_type[kids] == -1).all()
    moves = events(m, "move", m.week)
    assert set(moves["child"]) == set(kids) and (moves["reason"] == RS["placement_found"]).all()


def test_only_children_registered_homes_refuse_go_unregistered_when_they_may_wait():
    m = model("placements.market_refusal=1.0")
    ch = m.children
    kids = in_care_at(m, FOSTER_INHOUSE, 40)
    ch.distress[kids] = 0.9  # providers refuse many children this distressed
    fill(m, *REGISTERED)
    refused = m.provider_refuses(RESIDENTIAL, kids)
    assert 0 < refused.sum() < len(kids)
    m.place(kids, np.full(len(kids), RESIDENTIAL), "breakdown", may_wait=True)
    assert (ch.placement[kids[refused]] == UNREGISTERED).all()
    assert (ch.placement[kids[~refused]] == FOSTER_INHOUSE).all()
    assert (ch.pending_type[kids[~refused]] == RESIDENTIAL).all()


def test_a_providers_refusal_persists_from_week_to_week_and_rises_with_distress():
    m = model("placements.market_refusal=1.0")
    ch = m.children
    kids = m.in_care_children()[:2000]
    ch.distress[kids] = 0.7
    first = m.provider_refuses(RESIDENTIAL, kids)
    m.week += 5
    assert (m.provider_refuses(RESIDENTIAL, kids) == first).all()
    ch.distress[kids] = 0.9
    later = m.provider_refuses(RESIDENTIAL, kids)
    assert (later >= first).all() and later.sum() > first.sum()


def test_a_child_in_a_home_at_the_dol_threshold_gets_a_dol_application_without_a_secure_referral():
    m = model("++orders.dol_propensity_by_year={2024:1.0}", "orders.dol_threshold=0.8",
              "pathway.secure_threshold=0.99", COURT, "agencies.childrens_social_care.risk_tolerance=0.5",
              "agencies.childrens_social_care.spread=0.0")
    ch = m.children
    kids = in_care_at(m, RESIDENTIAL, 3)
    ch.distress[kids] = 0.85
    ch.secure_referral_week[kids] = NEVER
    below = in_care_at(m, RESIDENTIAL, 3)
    ch.distress[below] = 0.75
    ag.allocate_secure_beds(m, m.week)
    applied = events(m, "application", m.week)
    assert set(kids) <= set(applied["child"])
    assert not set(below) & set(applied["child"])


def test_a_dol_order_ends_the_childs_secure_referral():
    m = model("++orders.dol_propensity_by_year={2024:1.0}", "secure_welfare.weeks_before_dol_application=1", COURT)
    ch = m.children
    kids = in_care_at(m, FOSTER_INHOUSE, 10)
    ch.distress[kids] = 0.97  # still in need of a secure bed
    fill(m, PLACEMENT_TYPES.index("secure_home"))  # no secure bed: they stay queued
    ch.secure_referral_week[kids] = m.week - 5
    ag.allocate_secure_beds(m, m.week)
    granted = kids[ch.basis[kids] == DOL]
    assert len(granted) >= 1
    assert (ch.secure_referral_week[granted] == NEVER).all()
    withdrawn = events(m, "withdrawal", m.week)
    assert set(granted) <= set(withdrawn["child"][withdrawn["reason"] == RS["order_made"]])


def test_a_new_entry_who_waits_at_home_has_a_first_placement_not_a_move():
    m = model()
    ch = m.children
    pool = m.present_children()
    pool = pool[(ch.legal[pool] == NOT_LOOKED_AFTER) & (ch.placement[pool] == FAMILY)][:40]
    ch.distress[pool] = 0.1
    pool = accepted_by_homes(m, pool, 4)
    fill(m, *REGISTERED)
    m.enter_care(pool, "crisis", m.agency_uid("police", pool))
    assert (ch.placement[pool] == FAMILY).all() and (ch.pending_type[pool] >= 0).all()
    before = ch.moves[pool].copy()
    for t in REGISTERED:
        np.add.at(m.capacity.in_house[t], ch.la[pool], 1)
    m.week += 1
    ag.funding_agreements(m, m.week)
    assert (ch.placement[pool] != FAMILY).all()
    assert (ch.moves[pool] == before).all()


def test_an_independent_home_gives_notice_when_it_would_now_refuse_a_child_on_a_dol_order():
    m = model("++orders.dol_propensity_by_year={2024:1.0}", "orders.dol_threshold=0.6",
              "placements.market_refusal=1.0", COURT)
    ch = m.children
    ic = m.in_care_children()
    kids = ic[(ch.placement[ic] == RESIDENTIAL) & (ch.provider[ic] == MARKET) & (ch.basis[ic] == NO_BASIS)][:30]
    ch.distress[kids] = 0.75  # above the DoL threshold; providers refuse about half
    ch.secure_referral_week[kids] = NEVER
    fill(m, RESIDENTIAL, THERAPEUTIC)
    notice = m.provider_refuses(RESIDENTIAL, kids)
    assert notice.any() and not notice.all()
    ag.allocate_secure_beds(m, m.week)
    on_order = ch.basis[kids] == DOL
    assert on_order.sum() >= 10
    assert (ch.placement[kids[on_order & notice]] == UNREGISTERED).all()
    assert (ch.placement[kids[on_order & ~notice]] == RESIDENTIAL).all()

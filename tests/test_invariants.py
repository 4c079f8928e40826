"""Invariants checked while stepping the model one week at a time: conservation of children,
capacity limits, and every order ending at 18."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import AGE_18_WEEKS

PLACEMENT_TYPES = ("family", "foster_inhouse", "foster_agency", "residential", "therapeutic_residential",
                   "supported_accommodation", "tier4", "secure_home", "unregistered", "youth_custody")
UNLIMITED = {"family", "unregistered"}
ORDER_EVENTS = {"application", "grant", "refusal", "renewal", "variation", "discharge", "secure_offer",
                "admission", "remand", "sentence", "release"}


# ============================================================================ 1. conservation
def test_children_present_is_conserved_every_week(stepped):
    """Present this week = present last week + arrivals - departures (no child appears or vanishes)."""
    bad = [(r["week"], r["present_before"], r["tally"].get("arrivals", 0), r["tally"].get("departures", 0),
            r["present_after"]) for r in stepped.weeks
           if r["present_after"] != r["present_before"] + r["tally"].get("arrivals", 0)
           - r["tally"].get("departures", 0)]
    assert not bad, f"(week, before, arrivals, departures, after) that do not add up: {bad[:5]}"
    assert len(stepped.weeks) == stepped.model.n_weeks
    # The check must have had something to conserve.
    assert sum(r["tally"].get("arrivals", 0) for r in stepped.weeks) > 0
    assert sum(r["tally"].get("departures", 0) for r in stepped.weeks) > 0


def test_children_in_care_is_conserved_every_week(stepped):
    """In care this week = in care last week + entries to care + children ageing in already looked after
    (turning 10) - exits from care: every child who becomes looked after is counted by a flow."""
    def inflow(r):
        return r["tally"].get("entries_to_care", 0) + r["tally"].get("ageing_in_care", 0)

    bad = [(r["week"], r["in_care_before"], inflow(r), r["tally"].get("exits_from_care", 0), r["in_care_after"])
           for r in stepped.weeks
           if r["in_care_after"] != r["in_care_before"] + inflow(r) - r["tally"].get("exits_from_care", 0)]
    assert not bad, f"{len(bad)} of {len(stepped.weeks)} weeks do not add up (week, before, in, out, after): {bad[:4]}"
    assert sum(r["tally"].get("entries_to_care", 0) for r in stepped.weeks) > 0
    assert sum(r["tally"].get("ageing_in_care", 0) for r in stepped.weeks) > 0
    assert sum(r["tally"].get("exits_from_care", 0) for r in stepped.weeks) > 0


def test_weekly_table_and_census_agree_with_the_children_present(stepped):
    """The weekly table (built from cached id lists) and the census count the same children as the
    ``present`` flags: the speed-up caches never drift from the truth."""
    for r in stepped.weeks:
        c = r["census"]
        assert round(r["weekly_present"]) == r["present_after"] == c["present"], r["week"]
        assert round(r["weekly_in_care"]) == r["in_care_after"] == c["in_care"], r["week"]
        assert c["arrived"] - c["gone"] == c["present"], r["week"]
        assert r["cache_present_ok"] and r["cache_in_care_ok"] and r["cache_edge_ok"] and r["cache_requests_ok"] and r["cache_tier4_ok"], f"stale cached ids in week {r['week']}"


def _model_units(results, *cols):
    scale = results.config.population.scale
    return [(results.weekly[c] * scale).round().astype(int).to_numpy() for c in cols]


def test_present_balance_holds_in_the_written_weekly_table(baseline):
    """weekly.parquet alone reconciles: children present follow arrivals and departures (national units,
    compared after scaling back to the model's counts)."""
    present, arr, dep = _model_units(baseline, "children_present", "arrivals", "departures")
    np.testing.assert_array_equal(present[1:], present[:-1] + arr[1:] - dep[1:])


def test_in_care_balance_holds_in_the_written_weekly_table(baseline):
    """weekly.parquet alone reconciles: children in care follow entries, ageing in, and exits."""
    in_care, ent, aged_in, ex = _model_units(baseline, "children_in_care", "entries_to_care", "ageing_in_care",
                                            "exits_from_care")
    np.testing.assert_array_equal(in_care[1:], in_care[:-1] + ent[1:] + aged_in[1:] - ex[1:])


# ============================================================================ 2. capacity
def _describe_over(records):
    out = []
    for week, over in records:
        bad = {PLACEMENT_TYPES[i]: int(over[i]) for i in np.flatnonzero(over) if PLACEMENT_TYPES[i] not in UNLIMITED}
        if bad:
            out.append((week, bad))
    return out


def test_unlimited_settings_are_family_and_unregistered_only(stepped):
    """Living with family and unregistered settings never run out; every other type is limited."""
    cap = stepped.model.capacity
    unlimited = {PLACEMENT_TYPES[i] for i in np.flatnonzero(cap.unlimited)}
    assert unlimited == UNLIMITED
    # over_capacity() zeroes unlimited types, and they really are used without limit.
    for _, over in stepped.over_capacity:
        assert over[PLACEMENT_TYPES.index("family")] == 0 and over[PLACEMENT_TYPES.index("unregistered")] == 0
    ch = stepped.children_table
    assert ch["weeks_unregistered"].sum() > 0


def test_capacity_never_exceeded_in_any_week(stepped):
    """No limited placement type ever holds more children (ours plus outside occupants) than it has
    places, in any local authority, in any week: ``over_capacity()`` stays zero."""
    bad = _describe_over(stepped.over_capacity)
    cap = stepped.model.capacity
    ext_beyond = {PLACEMENT_TYPES[i]: int(v) for i, v in
                  enumerate((cap.external - cap.market).clip(0).sum(axis=1)) if v}
    assert not bad, (f"{len(bad)} of {len(stepped.over_capacity)} checks over capacity; first: {bad[:3]}; "
                     f"outside occupants exceeding the LA's market places at the end: {ext_beyond}")


def test_national_occupancy_within_capacity(baseline):
    """Nationally, occupancy (children placed plus outside occupants) never exceeds the places that exist."""
    wk = baseline.weekly
    bad = {}
    for t in PLACEMENT_TYPES:
        if t in UNLIMITED:
            continue
        over = wk[f"occupancy_{t}"] - wk[f"capacity_{t}"]
        if (over > 1e-6).any():
            bad[t] = (int((over > 1e-6).sum()), float(over.max()), float(wk[f"capacity_{t}"].iloc[0]))
    assert not bad, f"type: (weeks over, most over, places) in national units: {bad}"


CUT_RUN = ["seed=1", "population.scale=0.05", "horizon.years=2", "start_year=2021"]


def test_places_cut_at_a_new_year_close_as_their_children_leave():
    """A year's schedule can cut places (Tier 4: 1,400 beds until 2021, 1,150 from 2022).  Nobody is
    evicted, so places above the new schedule may stay open, but only while a child placed before the
    cut still occupies them; once that child leaves, the place closes and is not given to someone else.
    Also, capacity is never exceeded in any week around the cut."""
    from sim import build_config
    from sim.model import CarePathwaysModel

    m = CarePathwaysModel(build_config(CUT_RUN))
    # The schedule for 2022, as a run starting in 2022 lays it out (same seed: same split over LAs).
    fresh = CarePathwaysModel(build_config(CUT_RUN[:-1] + ["start_year=2022"])).capacity
    target = fresh.in_house + fresh.market
    c, ch = m.capacity, m.children
    tier4 = PLACEMENT_TYPES.index("tier4")
    tier4_places_2021 = c.places(tier4)
    over_weeks, kept_too_long = [], []
    incumbents = None
    while m.week < m.n_weeks:
        w = m.week
        if w == 52:
            # Children in limited places just before the cut.
            ids = np.flatnonzero(m.present & ~c.unlimited[ch.placement])
            incumbents = (ids, ch.placement[ids].copy(), ch.placement_la[ids].copy())
        m.step()
        over = c.over_capacity()
        if over[~c.unlimited].any():
            over_weeks.append((w, {PLACEMENT_TYPES[i]: int(over[i]) for i in np.flatnonzero(over)}))
        if incumbents is not None:
            ids, typ, la = incumbents
            still = (m.present[ids] & (ch.placement[ids] == typ) & (ch.placement_la[ids] == la)
                     & (ch.placement_start[ids] <= 51))
            held = np.zeros_like(target)
            np.add.at(held, (typ[still], la[still]), 1)
            kept = (c.in_house + c.market) - target
            kept[c.unlimited] = 0
            excess = (kept - held).clip(0).sum(axis=1)
            if excess.any():
                kept_too_long.append((w, {PLACEMENT_TYPES[i]: int(excess[i]) for i in np.flatnonzero(excess)}))
    assert m.year == 2022 and fresh.places(tier4) < tier4_places_2021, "the run must cross a cut in places"
    assert not over_weeks, f"weeks over capacity around the cut: {over_weeks[:4]}"
    assert not kept_too_long, (
        f"{len(kept_too_long)} weeks in which places above the new schedule stayed open with no child from "
        f"before the cut in them (week, type: places): first {kept_too_long[:3]}, last {kept_too_long[-1:]}")


# ============================================================================ 6. orders end at 18
def test_no_present_child_is_18_and_no_adult_has_an_order_while_stepping(stepped):
    """After every week, nobody present is 18 or over, and nobody aged 18+ still has a legal basis."""
    assert not stepped.age_violations, stepped.age_violations[:3]


def test_every_child_with_an_order_turning_18_gets_an_age_18_expiry(stepped):
    """Each child who carried an order (s25, DoL, MHA, remand, sentence) in the week they turned 18 has an
    ``expiry`` event that week with reason ``age_18`` and that order's basis; and no other such expiries."""
    tr = stepped.transitions
    exp = tr[(tr["event"] == "expiry") & (tr["reason"] == "age_18")]
    bases = ("none", "s25", "dol", "mha", "remand", "sentence")
    got = sorted(zip(exp["week"].astype(int), exp["child"].astype(int), exp["legal_basis"].astype(str)))
    want = sorted((w, c, bases[b]) for w, c, b in stepped.due_age_18)
    assert len(want) > 0, "the run had no child with an order turning 18: the check would be empty"
    assert got == want


def _with_age(results):
    tr = results.transitions.merge(results.children[["child", "birth_week", "exit_week", "exit_reason"]],
                                   on="child", how="left", validate="many_to_one")
    assert tr["birth_week"].notna().all(), "events for children missing from children.parquet"
    tr["age_weeks"] = tr["week"] - tr["birth_week"]
    return tr


@pytest.mark.parametrize("source", ["baseline", "stepped"])
def test_no_order_event_at_18_or_over_in_the_output_tables(source, request):
    """From transitions + children tables: nothing happens to a child aged 18+, except the ``expiry`` of
    their order and their ``ageing_out`` in the very week they turn 18."""
    obj = request.getfixturevalue(source)
    if source == "stepped":
        from types import SimpleNamespace

        obj = SimpleNamespace(transitions=obj.transitions, children=obj.children_table)
    tr = _with_age(obj)
    adult = tr[tr["age_weeks"] >= AGE_18_WEEKS]
    order_events = adult[adult["event"].astype(str).isin(ORDER_EVENTS)]
    assert order_events.empty, order_events.head().to_string()
    assert set(adult["event"].astype(str)) <= {"expiry", "ageing_out"}, adult["event"].value_counts().to_dict()
    assert (adult["reason"].astype(str) == "age_18").all()
    assert (adult["age_weeks"] == AGE_18_WEEKS).all(), "an order or care ended later than the 18th birthday"
    assert (adult["week"] == adult["exit_week"]).all()
    # Expiries at 18 are of real orders, and every one is the child's exit.
    exp18 = tr[(tr["event"] == "expiry") & (tr["reason"] == "age_18")]
    assert (exp18["legal_basis"].astype(str) != "none").all()
    assert (exp18["exit_reason"].astype(str) == "aged_18").all()


def test_children_leave_exactly_when_they_turn_18(baseline):
    """Children who leave aged 18 leave in the week of their 18th birthday; those still present are under 18."""
    ch = baseline.children
    n_weeks = len(baseline.weekly)
    aged = ch[ch["exit_reason"].astype(str) == "aged_18"]
    assert len(aged) > 0
    assert ((aged["exit_week"] - aged["birth_week"]) == AGE_18_WEEKS).all()
    still = ch[ch["exit_reason"].astype(str) == "still_present"]
    assert ((n_weeks - 1 - still["birth_week"]) < AGE_18_WEEKS).all()
    # Nobody is ever in the model outside 10..17.
    assert ((ch["arrival_week"].clip(lower=0) - ch["birth_week"]) >= 10 * 52).all()


def test_orders_carried_at_18_reconstructed_from_tables_all_expire(baseline):
    """Tables only: a child whose last order event before leaving at 18 left an order open (a grant,
    renewal, variation, remand or sentence not followed by a discharge, expiry or release) must have
    an ``expiry`` with reason ``age_18`` in the week they left."""
    tr = _with_age(baseline).sort_values(["child", "week"], kind="stable")
    opening = {"grant", "renewal", "variation", "remand", "sentence"}
    closing = {"discharge", "expiry", "release"}
    leavers = set(baseline.children.loc[baseline.children["exit_reason"].astype(str) == "aged_18", "child"])
    ev = tr[tr["child"].isin(leavers) & tr["event"].astype(str).isin(opening | closing | {"admission"})]
    before_exit = ev[(ev["event"].astype(str) != "expiry") | (ev["reason"].astype(str) != "age_18")]
    last = before_exit.groupby("child").tail(1)
    opens = last["event"].astype(str).isin(opening) | (
        (last["event"].astype(str) == "admission") & (last["legal_basis"].astype(str) == "mha"))
    open_at_18 = set(last.loc[opens, "child"])
    expired = set(tr.loc[(tr["event"] == "expiry") & (tr["reason"] == "age_18"), "child"])
    missing = sorted(open_at_18 - expired)
    assert not missing, f"children with an open order at 18 and no age_18 expiry: {missing[:10]}"
    assert pd.Series(sorted(expired)).isin(list(leavers)).all()

"""Legal orders and the courts: applications, grants, refusals, renewals, reviews, discharges, expiries.

Orders sit on placements, they are not placements.  An s25 secure accommodation order (family court)
authorises a secure children's home for up to 3 months, then renewals of up to 6.  A deprivation of
liberty (DoL) order under the High Court's inherent jurisdiction authorises restrictions wherever the
child is, a registered home at 2:1 or 3:1 staffing or an unregistered setting; it is reviewed on a cycle
and renewed, varied (when the child moves) or discharged.  Mental Health Act detention lasts the Tier 4
stay; remand and sentence the custody term.  Every order ends at 18 (``CarePathwaysModel._ageing_out``).
"""

from __future__ import annotations

import numpy as np

from sim.children import DOL, MHA, NEVER, NO_BASIS, NOT_LOOKED_AFTER, REMAND, S25, SENTENCE, orders_due, placed_in

ORDER_OF_BASIS = {S25: "s25", DOL: "dol", MHA: "mha"}


def _geometric(model, decision: str, idx: np.ndarray, mean_weeks: float) -> np.ndarray:
    """A term in weeks with the given mean (at least one week), drawn per child."""
    u = model.streams.uniform(decision, model.week, idx)
    p = 1.0 / max(mean_weeks, 1.0)
    return 1 + np.floor(np.log1p(-u) / np.log1p(-p)).astype(np.int64) if p < 1 else np.ones(len(idx), np.int64)


def hear(model, court: str, order: str, idx: np.ndarray, grant_probability: float, renewal: bool = False
         ) -> tuple[np.ndarray, np.ndarray]:
    """A court hears applications within its listings; returns (granted, heard) masks.

    Applications beyond this week's listings are not heard this week: the child stays as they are and
    the application is made again next week (callers keep unheard orders running meanwhile).
    """
    w, ch = model.week, model.children
    if len(idx) == 0:
        return np.zeros(0, bool), np.zeros(0, bool)
    area = model.roster.area_of(court, ch.la[idx], ch.region[idx])
    heard = model.roster.ration(court, area, ch.distress[idx])
    agency = model.roster.uid[court][area]
    model.roster.count_decisions(court, area[heard])
    h = idx[heard]
    if len(idx) > len(h):
        model.tally.add(f"unheard_{order}", len(idx) - len(h))
    basis = S25 if order == "s25" else DOL
    if not renewal:
        model.events.add(w, h, "application", basis=basis, from_type=ch.placement[h], reason="crisis",
                         agency=model.agency_uid("childrens_social_care", h))
        model.tally.add(f"applications_{order}", len(h))
    granted_h = model.streams.uniform(f"court:{order}", w, h) < grant_probability
    granted = np.zeros(len(idx), bool)
    granted[np.flatnonzero(heard)[granted_h]] = True
    refused = h[~granted_h]
    model.events.add(w, refused, "refusal", order_id=ch.order_id[refused], basis=basis,
                     from_type=ch.placement[refused], reason="court", agency=agency[heard][~granted_h])
    model.tally.add(f"refusals_{order}", len(refused))
    if not renewal:
        model.tally.add(f"grants_{order}", int(granted.sum()))
    return granted, heard


def grant_event(model, idx: np.ndarray, order: str, reason: str = "order_made") -> None:
    ch = model.children
    model.events.add(model.week, idx, "grant", order_id=ch.order_id[idx], basis=ch.basis[idx],
                     from_type=ch.placement[idx], to_type=ch.placement[idx], placement_la=ch.placement_la[idx],
                     weekly_cost=ch.weekly_cost[idx], reason=reason,
                     agency=model.agency_uid("family_court" if order == "s25" else "high_court", idx))


def end_orders(model, idx: np.ndarray, event: str, reason: str) -> None:
    """End children's current orders (discharge or expiry) with an event each."""
    if len(idx) == 0:
        return
    ch = model.children
    for basis, order in ORDER_OF_BASIS.items():
        sel = idx[ch.basis[idx] == basis]
        if len(sel) == 0:
            continue
        court = {"s25": "family_court", "dol": "high_court", "mha": "camhs"}[order]
        model.events.add(model.week, sel, event, order_id=ch.order_id[sel], basis=basis, from_type=ch.placement[sel],
                         reason=reason, agency=model.agency_uid(court, sel))
        model.tally.add(f"{'discharges' if event == 'discharge' else 'expiries'}_{order}", len(sel))
    model.set_basis(idx, NO_BASIS)


def review_orders(model, w: int) -> None:
    """Orders whose term or review falls this week; Tier 4 discharges; custody terms ending."""
    from sim import agencies as ag
    from sim.placements import CUSTODY, SECURE, TIER4

    ch, cfg = model.children, model.cfg
    act = model.present_children()
    # Only a child on an order has a term or review (``set_basis`` ends one with NO_BASIS and NEVER): the
    # children with orders, a few thousand, rather than everyone present.
    due = orders_due(model.children_with_orders(), ch.order_until, w)
    basis = ch.basis[due]
    # A DoL order is renewed while the restrictions are still needed: distress within a margin of the
    # DoL threshold (a child on a DoL order while waiting for a secure bed is judged the same way).
    still_needed = ch.distress[due] >= model.child_threshold("dol", due) - cfg.orders.dol_discharge_margin

    # --- s25: renew while still needed, else expire and step down ---------------------------
    s25 = due[(basis == S25)]
    s25_needed = ch.distress[s25] >= model.child_threshold("secure", s25) - cfg.pathway.step_down_margin
    need = s25_needed & (ch.placement[s25] == SECURE)
    renew = s25[need]
    granted, heard = hear(model, "family_court", "s25", renew, cfg.orders.s25_grant_probability, renewal=True)
    renewed = renew[granted]
    ch.order_until[renewed] = w + cfg.orders.s25_renewal_weeks
    ch.order_until[renew[~heard]] = w + 1  # not listed this week: the order runs on until it is heard
    model.events.add(w, renewed, "renewal", order_id=ch.order_id[renewed], basis=S25, from_type=SECURE,
                     reason="review", agency=model.agency_uid("family_court", renewed))
    model.tally.add("renewals_s25", len(renewed))
    end_orders(model, s25[~need], "expiry", "order_expired")
    end_orders(model, renew[heard & ~granted], "expiry", "court")
    ending = np.concatenate([s25[~need], renew[heard & ~granted]])
    leaving = ending[ch.placement[ending] == SECURE]
    if len(leaving):
        model.place(leaving, ag.pathway_placement(model, leaving, w), "step_down", planned=False)

    # --- DoL: reviewed on a cycle; renewed while still needed, else discharged ---------------
    dol = due[basis == DOL]
    keep = still_needed[basis == DOL]
    renew = dol[keep]
    granted, heard = hear(model, "high_court", "dol", renew, cfg.orders.dol_grant_probability, renewal=True)
    renewed = renew[granted]
    ch.order_until[renewed] = w + cfg.orders.dol_review_weeks
    ch.order_until[renew[~heard]] = w + 1  # not listed this week: the order runs on until it is heard
    model.events.add(w, renewed, "renewal", order_id=ch.order_id[renewed], basis=DOL,
                     from_type=ch.placement[renewed], reason="review", agency=model.agency_uid("high_court", renewed))
    model.tally.add("renewals_dol", len(renewed))
    end_orders(model, dol[~keep], "discharge", "distress_fell")
    end_orders(model, renew[heard & ~granted], "discharge", "court")

    # --- custody: remand ends in sentence or release; sentences end in release ---------------
    remand = due[basis == REMAND]
    sentenced = remand[model.streams.uniform("sentence", w, remand) < cfg.youth_justice.sentence_probability]
    model.set_basis(sentenced, SENTENCE,
                    until=w + _geometric(model, "sentence_length", sentenced, cfg.youth_justice.sentence_weeks_mean))
    model.events.add(w, sentenced, "sentence", order_id=ch.order_id[sentenced], basis=SENTENCE, from_type=CUSTODY,
                     reason="custody", agency=model.agency_uid("youth_justice", sentenced))
    released = np.concatenate([remand[ch.basis[remand] == REMAND], due[basis == SENTENCE]])
    if len(released):
        model.events.add(w, released, "release", order_id=ch.order_id[released], basis=ch.basis[released],
                         from_type=CUSTODY, reason="custody", agency=model.agency_uid("youth_justice", released))
        model.set_basis(released, NO_BASIS)
        back = released[ch.legal[released] != NOT_LOOKED_AFTER]
        model.place(back, ag.pathway_placement(model, back, w), "custody")
        home = released[ch.legal[released] == NOT_LOOKED_AFTER]
        model.place(home, np.zeros(len(home), np.int64), "custody", count_as_move=False)

    # --- Tier 4: ready for discharge once calmer; waits (NHS-paid) for a step-down place -------
    in_t4 = placed_in(act, ch.placement, TIER4)
    long_enough = w - ch.placement_start[in_t4] >= cfg.orders.tier4_min_weeks
    t4_thr = model.child_threshold("tier4", in_t4)
    ready = in_t4[long_enough & (ch.distress[in_t4] < t4_thr - cfg.pathway.step_down_margin)]
    newly = ready[ch.ready_for_discharge_week[ready] == NEVER]
    ch.ready_for_discharge_week[newly] = w
    if len(ready):
        looked_after = ready[ch.legal[ready] != NOT_LOOKED_AFTER]
        # The LA, not the NHS, pays for the step-down place: it weighs that cost against its budget.
        seeking = looked_after[ag.la_will_fund(model, looked_after, "fund_step_down")]
        moved = model.place(seeking, ag.pathway_placement(model, seeking, w), "discharge_ready", planned=True)
        out = seeking[moved]
        home = ready[ch.legal[ready] == NOT_LOOKED_AFTER]
        model.place(home, np.zeros(len(home), np.int64), "discharge_ready", count_as_move=False)
        out = np.concatenate([out, home])
        end_orders(model, out[ch.basis[out] == MHA], "discharge", "discharge_ready")
        ch.ready_for_discharge_week[out] = NEVER
        model.tally.add("delayed_discharge_weeks", len(looked_after) - len(out) + len(home))

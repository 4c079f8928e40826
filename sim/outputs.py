"""Outputs: the event log, the weekly table, the per-child table and the run summary.

Files are written to temporary names and renamed only when every one of them is complete, so a
failed or interrupted run never leaves a partial output file behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np
import pandas as pd

from sim.children import (
    ARRIVAL_KINDS, BASES, EXIT_REASONS, LEGAL_STATUS, NEVER, Children, check_index, check_lengths,
)
from sim.config import NEEDS, REGIONS
from sim.placements import PAYERS, PLACEMENT_TYPES, each_child

EVENT_KINDS = (
    "entry_to_care", "move", "secure_referral", "secure_refusal", "secure_offer", "application", "grant",
    "refusal", "renewal", "variation", "discharge", "expiry", "ageing_out", "return_home", "tier4_referral",
    "admission", "remand", "sentence", "release", "leaves_edge_of_care", "withdrawal", "support",
)
EV = {name: i for i, name in enumerate(EVENT_KINDS)}
REASONS = (
    "", "breakdown", "step_down", "escalation", "entry", "age_18", "funding_agreed", "no_registered_place",
    "secure_bed", "review", "distress_fell", "court", "order_expired", "discharge_ready", "remand_ended",
    "sentence_ended", "settled", "crisis", "needs_met", "referral_waited", "refused_by_home", "custody",
    "flexible_support", "camhs_support", "out_of_registered", "order_made", "school_support", "bail_support",
    "placement_found",
)
RS = {name: i for i, name in enumerate(REASONS)}
NO_TYPE = -1
ORDER_TYPES = ("s25", "dol", "mha")


def week_dates(start: dt.date, weeks: np.ndarray) -> pd.DatetimeIndex:
    """The date of each week of the run: ``pd.to_datetime([start + timedelta(weeks=w) for w in weeks])``
    (the same dates and resolution), without a Python loop over what may be a million events."""
    if len(weeks) == 0:
        return pd.to_datetime([])
    days = np.datetime64(start, "D") + np.asarray(weeks, np.int64) * np.timedelta64(7, "D")
    return pd.DatetimeIndex(days.astype(pd.to_datetime([start]).dtype))


class EventLog:
    """Transitions, one row per event, held in blocks of rows (one array per column in each block)."""

    COLUMNS = ("week", "child", "event", "order_id", "legal_basis", "from_type", "to_type", "placement_la",
               "weekly_cost", "payer", "reason", "agency")
    DTYPES = (np.int32, np.int64, np.int8, np.int64, np.int8, np.int8, np.int8, np.int64, np.float64, np.int8, np.int8,
              np.int64)
    BLOCK_ROWS = 1 << 16  # about 3 MB a block
    keeps_details = True  # every field of every event (``MoveCounts`` keeps moves' types only)

    def __init__(self):
        # A national run logs some 60 batches of a few events a week, 1.5 million events in ten years:
        # written into blocks of rows, joined once at the end, rather than twelve new small arrays per
        # batch, or arrays that double when full (each doubling copied the log and briefly held it three
        # times over).  Rows not yet used hold each field's default, so a field left at its default costs
        # nothing to record.
        self._blocks: list[list[np.ndarray]] = []
        self._used = self.BLOCK_ROWS  # rows used in the last block (no block yet)
        self._n = 0

    def add(self, week: int, child: np.ndarray, event: str, *, order_id=-1, basis=0, from_type=NO_TYPE,
            to_type=NO_TYPE, placement_la=-1, weekly_cost=0.0, payer=-1, reason="", agency=-1) -> None:
        """Record one event per child; any field may be one value for all or one per child.

        ``reason`` is a name from REASONS, or an array of codes.
        """
        n = len(child)
        if n == 0 or week < 0:  # nothing is recorded during a burn-in
            return
        values = (week, child, EV[event], order_id, basis, from_type, to_type, placement_la, weekly_cost, payer,
                  RS[reason] if isinstance(reason, str) else reason, agency)
        done = 0
        while done < n:
            if self._used == self.BLOCK_ROWS:
                self._blocks.append([self._unused(self.BLOCK_ROWS, fill, dtype)
                                     for fill, dtype in zip(self._FILL, self.DTYPES)])
                self._used = 0
            start, k = self._used, min(n - done, self.BLOCK_ROWS - self._used)
            for col, value, fill in zip(self._blocks[-1], values, self._FILL):
                if value is not fill:  # a field left at its default: the row holds it already
                    if k < n:  # the batch spans blocks: this block's part of a field given per child
                        value = np.asarray(value)
                        value = value if value.ndim == 0 else value[done:done + k]
                    col[start:start + k] = value  # cast to the column's type as astype does (unsafe casting)
            self._used += k
            done += k
        self._n += n

    # What an unused row holds: each field's default (the objects in ``add``'s signature; the reason's
    # code), and for week, child and event, which are always given, a placeholder.
    _FILL = (None, None, None) + tuple(map(add.__kwdefaults__.get, (
        "order_id", "basis", "from_type", "to_type", "placement_la", "weekly_cost", "payer"))) + (
        RS[""], add.__kwdefaults__["agency"])

    @staticmethod
    def _unused(n: int, fill, dtype) -> np.ndarray:
        return np.full(n, 0 if fill is None else fill, dtype)

    def _column(self, i: int) -> list[np.ndarray]:
        """Column ``i``'s rows in use, block by block."""
        return [block[i] for block in self._blocks[:-1]] + [self._blocks[-1][i][:self._used]]

    def count(self, event: str) -> int:
        return sum(int((part == EV[event]).sum()) for part in self._column(2)) if self._n else 0

    def arrays(self) -> dict[str, np.ndarray]:
        if not self._n:
            return {c: np.zeros(0) for c in self.COLUMNS}
        return {c: np.concatenate(self._column(i)) for i, c in enumerate(self.COLUMNS)}

    def frame(self, la_names: list[str], agency_names: dict[int, str], start: dt.date) -> pd.DataFrame:
        a = self.arrays()
        types = np.array(("",) + PLACEMENT_TYPES, dtype=object)
        payers = np.array(("",) + PAYERS, dtype=object)
        las = np.array([""] + la_names, dtype=object)
        agency_ids = a["agency"]
        return pd.DataFrame({
            "week": a["week"],
            "date": week_dates(start, a["week"]),
            "child": a["child"],
            "event": pd.Categorical.from_codes(a["event"].astype(np.int64), EVENT_KINDS),
            "order_id": a["order_id"],
            "legal_basis": pd.Categorical.from_codes(a["legal_basis"].astype(np.int64), BASES),
            "from": types[a["from_type"].astype(np.int64) + 1],
            "to": types[a["to_type"].astype(np.int64) + 1],
            "placement_la": las[a["placement_la"] + 1],
            "weekly_cost": a["weekly_cost"],
            "payer": payers[a["payer"].astype(np.int64) + 1],
            "reason": pd.Categorical.from_codes(a["reason"].astype(np.int64), REASONS),
            "agency": pd.Series(agency_ids, dtype=np.int64).map(agency_names).fillna("").to_numpy(dtype=object),
        })


class MoveCounts:
    """What a scenario comparison keeps of the event log: the moves between each pair of placement types.

    It takes ``EventLog.add``'s calls and counts the moves, from and to a placement type, as the
    comparison counted them from the whole log (``sim.compare``); every other event is passed over, so a
    comparison run does not hold a million and a half events it would throw away."""

    keeps_details = False

    def __init__(self):
        n = len(PLACEMENT_TYPES)
        self.counts = np.zeros((n, n), np.int64)  # rows from, columns to

    def add(self, week: int, child: np.ndarray, event: str, *, from_type=NO_TYPE, to_type=NO_TYPE, **_) -> None:
        n = len(child)
        if event != "move" or n == 0 or week < 0:
            return
        _count_into(self.counts, each_child(from_type, n, np.int64), each_child(to_type, n, np.int64))


@numba.njit(cache=True, boundscheck=True)
def _count_into(counts, src, dst):
    """One more in ``counts[from, to]`` for each pair with both types known (not negative)."""
    for i in range(len(src)):
        if src[i] >= 0 and dst[i] >= 0:
            counts[src[i], dst[i]] += 1


@dataclass
class Tally:
    """Counts of one week's decisions (model units, before scaling to England)."""

    values: dict[str, float] = field(default_factory=dict)

    def add(self, key: str, amount: float = 1.0) -> None:
        self.values[key] = self.values.get(key, 0.0) + float(amount)


def weekly_columns() -> list[str]:
    cols = ["week", "year", "children_present", "children_in_care", "edge_of_care", "entries_to_care",
            "ageing_in_care", "exits_from_care", "arrivals", "departures"]
    cols += [f"children_{t}" for t in PLACEMENT_TYPES]
    cols += [f"legal_{b}" for b in BASES] + [f"looked_after_{s}" for s in LEGAL_STATUS[1:]]
    cols += [f"region_{r}" for r in REGIONS]
    for t in PLACEMENT_TYPES:
        cols += [f"capacity_{t}", f"occupancy_{t}", f"waiting_{t}"]
    cols += ["secure_referrals", "secure_refusals", "tier4_referrals", "tier4_admissions"]
    for o in ORDER_TYPES:
        cols += [f"applications_{o}", f"grants_{o}", f"refusals_{o}", f"renewals_{o}", f"discharges_{o}",
                 f"expiries_{o}", f"unheard_{o}"]
    cols += ["moves", "out_of_area", "harm_incidents", "delayed_discharge_weeks", "flexible_support_packages",
             "camhs_support_packages", "education_support_packages", "bail_support_packages", "funding_agreement_waits"]
    cols += [f"spend_{t}" for t in PLACEMENT_TYPES] + [f"spend_{p}" for p in PAYERS]
    cols += ["spend_community_support", "spend_total", "placements_10k_plus"]
    cols += [f"implementation_{p}" for p in PAYERS]
    cols += ["capacity_dol_homes", "occupancy_dol_homes"]
    return cols


@dataclass
class Census:
    """One week's counts over the children present (model units), from one pass (``census``)."""

    in_care: np.ndarray          # ids of looked-after children (ascending)
    by_type: np.ndarray          # looked-after children by placement type
    by_basis: np.ndarray         # present children by legal basis
    by_legal: np.ndarray         # present children by legal status
    by_region: np.ndarray        # looked-after children by region
    out_of_area: int             # looked-after children placed outside their LA (not at home)
    support_by_payer: np.ndarray  # community support packages running, by payer
    support_by_payer_la: np.ndarray      # ... by payer and the child's LA
    support_by_payer_region: np.ndarray  # ... by payer and the child's region
    camhs_by_region: np.ndarray  # CAMHS community packages running, by region
    tier4_cost_by_region: np.ndarray  # weekly cost of Tier 4 beds of looked-after children, by region


def census(ch, act: np.ndarray, in_care: np.ndarray, week: int, family: int, tier4: int, n_types: int,
           n_bases: int, n_legal: int, n_la: int, n_regions: int, n_payers: int) -> Census:
    """Count the children present (``act``) and those looked after (``in_care``, the looked-after ids among
    them, both in id order) by everything the weekly table and the budgets need.

    The weekly record reads a dozen attributes of every child present; gathered one NumPy call at a
    time that is a dozen passes over 100,000 children a week at national scale, so it is two loops.
    """
    by_type, by_basis, by_legal, by_region, out_of_area, pay, pay_la, pay_region, camhs, t4 = _census(
        act, in_care, week, ch.legal, ch.placement, ch.placement_la, ch.la, ch.region, ch.basis, ch.support_until,
        ch.support_payer, ch.camhs_until, ch.weekly_cost, family, tier4, n_types, n_bases, n_legal, n_la,
        n_regions, n_payers)
    return Census(in_care, by_type, by_basis, by_legal, by_region, int(out_of_area), pay, pay_la, pay_region, camhs,
                  t4)


@numba.njit(cache=True)  # indices checked as in ``sim.children.distress_and_harm``
def _census(act, in_care, week, legal, placement, placement_la, la, region, basis, support_until, support_payer,
            camhs_until, weekly_cost, family, tier4, n_types, n_bases, n_legal, n_la, n_regions, n_payers):
    """``census``' counts: by legal basis and status, and support running, over everyone present; by
    placement type and region, out of area and Tier 4 cost, over the looked-after.  Two loops rather
    than one with a branch on legal status, which for children in id order is a coin toss to the
    processor (a third of the time went on its mispredictions)."""
    by_type = np.zeros(n_types, np.int64)
    by_basis = np.zeros(n_bases, np.int64)
    by_legal = np.zeros(n_legal, np.int64)
    by_region = np.zeros(n_regions, np.int64)
    out_of_area = 0
    pay = np.zeros(n_payers, np.int64)
    pay_la = np.zeros((n_payers, n_la), np.int64)
    pay_region = np.zeros((n_payers, n_regions), np.int64)
    camhs = np.zeros(n_regions, np.int64)
    t4 = np.zeros(n_regions, np.float64)  # summed in id order, as np.bincount with weights does
    n = len(legal)
    check_lengths(n, (len(placement), len(placement_la), len(la), len(region), len(basis), len(support_until),
                       len(support_payer), len(camhs_until), len(weekly_cost)))
    for c in act:
        check_index(c, n)
        check_index(basis[c], n_bases)
        check_index(legal[c], n_legal)
        check_index(la[c], n_la)
        check_index(region[c], n_regions)
        by_basis[basis[c]] += 1
        by_legal[legal[c]] += 1
        if support_until[c] > week:
            p = support_payer[c]
            check_index(p, n_payers)
            pay[p] += 1
            pay_la[p, la[c]] += 1
            pay_region[p, region[c]] += 1
        if camhs_until[c] > week:
            camhs[region[c]] += 1
    for c in in_care:
        check_index(c, n)
        t = placement[c]
        check_index(t, n_types)
        r = region[c]
        check_index(r, n_regions)
        by_type[t] += 1
        by_region[r] += 1
        out_of_area += (placement_la[c] != la[c]) & (t != family)  # not at home, outside the own LA
        if t == tier4:
            t4[r] += weekly_cost[c]
    return by_type, by_basis, by_legal, by_region, out_of_area, pay, pay_la, pay_region, camhs, t4


class WeeklyTable:
    def __init__(self, n_weeks: int):
        self.columns = weekly_columns()
        self.col = {c: i for i, c in enumerate(self.columns)}
        self.data = np.zeros((n_weeks, len(self.columns)))
        self._groups: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}  # column numbers for put_each

    def put(self, week: int, values: dict[str, float]) -> None:
        row = self.data[week]
        for k, v in values.items():
            row[self.col[k]] = v

    def put_each(self, week: int, prefix: str, names: tuple[str, ...], values: np.ndarray) -> None:
        """``values[i]`` into the column named ``prefix + names[i]``, for every i."""
        cols = self._groups.get((prefix, names))
        if cols is None:
            cols = self._groups[prefix, names] = np.array([self.col[prefix + name] for name in names])
        self.data[week, cols] = values

    def frame(self, start: dt.date, n_weeks: int) -> pd.DataFrame:
        df = pd.DataFrame(self.data[:n_weeks], columns=self.columns)
        df["week"] = df["week"].astype(np.int32)
        df["year"] = df["year"].astype(np.int32)
        df.insert(1, "date", week_dates(start, np.arange(n_weeks)))
        return df


def children_frame(ch: Children, la_names: list[str]) -> pd.DataFrame:
    """One row per child who was ever present in the run."""
    ever = np.flatnonzero((ch.status != 0) & ~((ch.status == 2) & (ch.exit_week < 0)))  # not gone in a burn-in

    def week(values: np.ndarray) -> np.ndarray:
        return np.where(values == NEVER, -1, values)  # -1: never (in the files)
    data = {
        "child": ever,
        "birth_week": ch.birth_week[ever],
        "local_authority": np.array(la_names, dtype=object)[ch.la[ever]],
        "region": np.array(REGIONS, dtype=object)[ch.region[ever]],
        "arrival_week": ch.arrival_week[ever],
        "arrival": pd.Categorical.from_codes(ch.arrival_kind[ever].astype(np.int64), ARRIVAL_KINDS),
    }
    for j, need in enumerate(NEEDS):
        data[f"need_{need}"] = ch.needs[j, ever]
    data.update({
        "entered_care_week": week(ch.entered_care_week[ever]),
        "left_care_week": week(ch.left_care_week[ever]),
        "care_entries": ch.care_entries[ever],
        "exit_week": week(ch.exit_week[ever]),
        "exit_reason": pd.Categorical.from_codes(ch.exit_reason[ever].astype(np.int64), EXIT_REASONS),
        "moves": ch.moves[ever],
        "harm_incidents": ch.harm_incidents[ever],
        "ever_deprived_of_liberty": ch.ever_deprived[ever],
        "ever_in_care": ch.ever_in_care[ever],
        "final_distress": ch.distress[ever],
    })
    for j, t in enumerate(PLACEMENT_TYPES):
        data[f"weeks_{t}"] = ch.weeks_by_placement[ever, j]
    for j, b in enumerate(BASES[1:], start=1):
        data[f"weeks_deprived_{b}"] = ch.weeks_by_basis[ever, j]
    return pd.DataFrame(data)


def write_outputs(run_dir: Path, summary: dict, frames: dict[str, pd.DataFrame]) -> dict[str, Path]:
    """Write summary.json and the Parquet tables atomically: all under temporary names, then renamed.

    If anything fails (a write or a rename), every file of this run is removed again: no run leaves a
    partial set of outputs behind.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = [(run_dir / f".{name}.parquet.tmp", run_dir / f"{name}.parquet")
                                       for name in frames]
    staged.append((run_dir / ".summary.json.tmp", run_dir / "summary.json"))
    done: list[Path] = []
    try:
        for (tmp, _), frame in zip(staged, frames.values()):
            frame.to_parquet(tmp, index=False)
        staged[-1][0].write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")
        for tmp, final in staged:
            os.replace(tmp, final)
            done.append(final)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        for final in done:
            final.unlink(missing_ok=True)
        raise
    return {final.stem: final for _, final in staged}

def summarise(model) -> dict:
    """Headline figures of a run: restriction, cost, stability, safety (national where the key says so)."""
    from sim.children import BASES
    from sim.scenarios import scenario_name

    wk = model.weekly.data[: model.n_weeks]
    col = model.weekly.col
    scale, years = model.scale, model.n_weeks / 52.0
    ch = model.children
    in_care_weeks = wk[:, col["children_in_care"]].sum()  # national child-weeks looked after
    care_years = in_care_weeks / 52.0
    present_weeks = wk[:, col["children_present"]].sum()
    ever = (ch.status != 0) & ~((ch.status == 2) & (ch.exit_week < 0))  # not those gone in a burn-in
    ever_in_care = ever & ch.ever_in_care
    weeks_by_basis = ch.weeks_by_basis[ever].sum(axis=0) / scale / years
    by_basis = {
        "s25": float(weeks_by_basis[BASES.index("s25")]),
        "dol": float(weeks_by_basis[BASES.index("dol")]),
        "mha": float(weeks_by_basis[BASES.index("mha")]),
        "custody_remand": float(weeks_by_basis[BASES.index("remand")] + weeks_by_basis[BASES.index("sentence")]),
    }
    payers = {p: float(wk[:, col[f"spend_{p}"]].sum()) for p in PAYERS}
    total = float(sum(payers.values()))
    implementation = {p: float(wk[:, col[f"implementation_{p}"]].sum()) for p in PAYERS}
    three_plus = [a / b for a, b in model.three_plus_by_year if b > 0]
    in_care = wk[:, col["children_in_care"]]
    return {
        "run": {"seed": model.cfg.seed, "start_year": model.cfg.start_year, "years": years,
                "population_scale": scale, "scenario": scenario_name(model.cfg),
                "start_date": model.start_date.isoformat()},
        "restriction": {
            "dol_applications_per_year": float(wk[:, col["applications_dol"]].sum() / years),
            "secure_applications_per_year": float(wk[:, col["applications_s25"]].sum() / years),
            "child_weeks_deprived_of_liberty": {"total": float(sum(by_basis.values())), "by_basis": by_basis},
            "share_ever_deprived_of_liberty": float((ch.ever_deprived & ever_in_care).sum() / max(ever_in_care.sum(), 1)),
            "children_on_dol_orders_mean": float(wk[:, col["legal_dol"]].mean()),
            "children_in_unregistered_settings_mean": float(wk[:, col["children_unregistered"]].mean()),
        },
        "cost": {
            "total_gbp": total,
            "per_year_gbp": total / years,
            "per_child_year_gbp": total / care_years if care_years else 0.0,
            "by_payer": payers,
            "implementation_gbp": {"total": float(sum(implementation.values())), "by_payer": implementation},
        },
        "stability": {
            "moves_per_child_year": float(wk[:, col["moves"]].sum() / care_years) if care_years else 0.0,
            "share_with_3plus_moves_in_a_year": float(np.mean(three_plus)) if three_plus else 0.0,
            "share_placed_out_of_area": float(wk[:, col["out_of_area"]].sum() / max(in_care.sum(), 1e-9)),
        },
        "safety": {
            "harm_incidents_per_child_year": float(wk[:, col["harm_incidents"]].sum() / (present_weeks / 52.0))
            if present_weeks else 0.0,
        },
        "population": {
            "children_simulated": int(ever.sum()),
            "child_weeks": int(round(present_weeks * scale)),
            "children_in_care_mean": float(in_care.mean()),
            "entries_to_care_per_year": float(wk[:, col["entries_to_care"]].sum() / years),
        },
        "notes": {
            "units": "restriction, cost and population figures are national (England) per year unless named "
                     "total; cost.total_gbp is the national total over the horizon in 2024 prices, including "
                     "community support and excluding scenarios' implementation cost (cost.implementation_gbp); "
                     "population.children_simulated and child_weeks are the model's own counts at its scale",
        },
    }


def flatten(summary: dict, prefix: str = "") -> dict[str, float]:
    """Dotted keys to numbers ("restriction.dol_applications_per_year": 1234.0)."""
    flat: dict[str, float] = {}
    for k, v in summary.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(flatten(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and not key.startswith("run."):
            flat[key] = float(v)
    return flat

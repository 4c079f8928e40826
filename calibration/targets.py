"""Calibration targets: the published figures (targets.yaml + the data file) and the model's value of each.

    python -m calibration.targets            # write calibration/targets.csv (every number worked out)
    python -m calibration.targets --check    # fail if targets.csv is out of date

From code::

    from calibration.targets import load_targets, ModelOutput, evaluate
    out = ModelOutput.from_results(sim.run(cfg, write=False))
    table = evaluate(out, load_targets())     # one row per target: published, model, band, within

A measure is a function ``f(out, period, **args) -> float`` registered in ``MEASURES``; every value is
national (England), whatever the run's scale, and NaN when the run does not cover the period.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import yaml

from calibration.parse import parse_value, select
from sim.placements import PLACEMENT_TYPES

HERE = Path(__file__).resolve().parent
TARGETS_YAML = HERE / "targets.yaml"
TARGETS_CSV = HERE / "targets.csv"
DEFAULT_DATA = "../shared/data/published_statistics.csv"
KINDS = ("level", "lower", "upper")


def data_path(path: str | os.PathLike | None = None) -> Path:
    """The published-statistics CSV: an explicit path, $CARE_PATHWAYS_DATA, or the config's default."""
    from sim.data import resolve

    return resolve(path or os.environ.get("CARE_PATHWAYS_DATA", DEFAULT_DATA))


def load_published_rows(path: str | os.PathLike | None = None) -> dict[str, dict[str, str]]:
    from sim.data import load_published

    return load_published(data_path(path))


# ============================================================================ the targets
@dataclass
class Target:
    key: str                 # unique: the row id, or "ROW-ID:part" when one row gives several targets
    id: str                  # the published row it comes from (the first, if several)
    measure: str
    args: dict
    period: str
    population: str
    kind: str                # level | lower | upper
    tol: dict                # {"rel": x} or {"abs": x}
    why: str
    published: float         # in the model's population and units (factor applied)
    factor: float
    factor_name: str
    sources: list[str]       # every row id used
    source_values: list[str] # those rows' values as published
    geography: str

    @property
    def tolerance(self) -> float:
        """The tolerance in the target's units."""
        if "abs" in self.tol:
            return float(self.tol["abs"])
        return abs(self.published) * float(self.tol.get("rel", 0.0))

    def band(self) -> tuple[float, float]:
        """Acceptable model values."""
        t = self.tolerance
        if self.kind == "lower":
            return self.published - t, math.inf
        if self.kind == "upper":
            return -math.inf, self.published + t
        return self.published - t, self.published + t

    def within(self, value: float) -> bool | None:
        """Whether a model value is acceptable (None when the model has no value for the period)."""
        if value is None or not np.isfinite(value):
            return None
        lo, hi = self.band()
        return bool(lo - 1e-12 <= value <= hi + 1e-12)

    def describe_measure(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.args.items())
        return f"{self.measure}({args})" if args else self.measure


def _safe_eval(expr: str, names: dict[str, float]) -> float:
    code = compile(str(expr), "<target expr>", "eval")
    for name in code.co_names:
        if name not in names:
            raise ValueError(f"expr {expr!r} uses unknown name {name!r}")
    return float(eval(code, {"__builtins__": {}}, dict(names)))  # noqa: S307 (names and arithmetic only)


def load_spec(path: str | os.PathLike = TARGETS_YAML) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_targets(data_file: str | os.PathLike | None = None, spec: dict | None = None,
                 keys: list[str] | None = None) -> list[Target]:
    """Every target in targets.yaml, its published value parsed from the data file and converted."""
    spec = spec if spec is not None else load_spec()
    rows = load_published_rows(data_file)
    conversions = {k: float(v) for k, v in (spec.get("conversions") or {}).items()}
    out: list[Target] = []
    seen: set[str] = set()
    for t in spec["targets"]:
        key = str(t["key"])
        if key in seen:
            raise ValueError(f"targets.yaml: duplicate key {key!r}")
        seen.add(key)
        row_id = str(t.get("id", key.split(":")[0]))
        pub = t.get("published") or {}
        selects = pub.get("select")
        if selects is None:   # a figure read from the row's text by hand (expr) needs no select
            selects = {} if "expr" in pub else {"v": row_id}
        if isinstance(selects, str):
            selects = {"v": selects}
        names: dict[str, float] = {}
        sources: list[str] = []
        for name, ref in selects.items():
            rid, _, path = str(ref).partition(":")
            if rid not in rows:
                raise KeyError(f"target {key}: row {rid!r} is not in the data file")
            names[name] = select(parse_value(rows[rid]["value"]), path or None)
            if rid not in sources:
                sources.append(rid)
        if row_id not in sources:
            sources.insert(0, row_id)
        value = _safe_eval(pub.get("expr", "v" if "v" in names or not names else next(iter(names))), names)
        factor_name = str(t.get("factor", "")) or ""
        factor = conversions[factor_name] if factor_name in conversions else float(factor_name or 1.0)
        kind = t.get("kind", "level")
        if kind not in KINDS:
            raise ValueError(f"target {key}: kind must be one of {KINDS}, got {kind!r}")
        tol = dict(t.get("tolerance") or {"rel": 0.0})
        if not set(tol) <= {"rel", "abs"}:
            raise ValueError(f"target {key}: tolerance must be rel or abs, got {tol}")
        if t.get("measure") not in MEASURES:
            raise ValueError(f"target {key}: measure must be one of {sorted(MEASURES)}, got {t.get('measure')!r}")
        out.append(Target(
            key=key, id=row_id, measure=t["measure"], args=dict(t.get("args") or {}), period=str(t["period"]),
            population=str(t.get("population", "")), kind=kind, tol=tol, why=" ".join(str(t.get("why", "")).split()),
            published=value * factor, factor=factor, factor_name=factor_name, sources=sources,
            source_values=[rows[s]["value"] for s in sources], geography=rows[row_id].get("geography", ""),
        ))
    if keys is not None:
        wanted = set(keys)
        missing = wanted - {t.key for t in out}
        if missing:
            raise KeyError(f"unknown target keys: {sorted(missing)}")
        out = [t for t in out if t.key in wanted]
    return out


def targets_table(targets: list[Target]) -> pd.DataFrame:
    rows = []
    for t in targets:
        lo, hi = t.band()
        rows.append({
            "key": t.key, "id": t.id, "sources": " ".join(t.sources), "geography": t.geography,
            "published_as": " | ".join(t.source_values), "factor": t.factor_name or t.factor,
            "published": t.published, "period": t.period, "measure": t.describe_measure(),
            "population": t.population, "kind": t.kind, "tolerance": t.tolerance,
            "band_lo": lo, "band_hi": hi, "why": t.why,
        })
    return pd.DataFrame(rows)


# ============================================================================ model output
WEEK = dt.timedelta(days=7)
NOT_MOVES = ("entry", "settled")              # placements that are not counted as moves (sim.model.place)
HOME_NOT_MOVES = ("custody", "discharge_ready")  # children not looked after going home


@dataclass
class ModelOutput:
    """What the target measures read: a run's summary, weekly table, children and transitions."""

    summary: dict
    weekly: pd.DataFrame
    children: pd.DataFrame
    transitions: pd.DataFrame
    scale: float
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_results(cls, results) -> "ModelOutput":
        scale = float(results.summary.get("run", {}).get("population_scale", results.config.population.scale))
        return cls(results.summary, results.weekly, results.children, results.transitions, scale)

    @classmethod
    def from_dir(cls, path: str | os.PathLike) -> "ModelOutput":
        import json

        p = Path(path)
        summary = json.loads((p / "summary.json").read_text())
        return cls(summary, pd.read_parquet(p / "weekly.parquet"), pd.read_parquet(p / "children.parquet"),
                   pd.read_parquet(p / "transitions.parquet"), float(summary["run"]["population_scale"]))

    # ---------------------------------------------------------------- periods
    @cached_property
    def dates(self) -> pd.Series:
        return pd.to_datetime(self.weekly["date"]).reset_index(drop=True)

    @property
    def n_weeks(self) -> int:
        return len(self.weekly)

    @property
    def end_date(self) -> pd.Timestamp:
        return self.dates.iloc[-1] + WEEK

    def week_of(self, date: str | dt.date) -> int | None:
        """The week containing a date, or None outside the run."""
        d = pd.Timestamp(date)
        i = int(np.searchsorted(self.dates.to_numpy(), np.datetime64(d), side="right")) - 1
        if i < 0 or d >= self.end_date:
            return None
        return i

    def weeks(self, period: str) -> tuple[int, int] | None:
        """Weeks [first, last + 1) of a period, None if the run does not cover it all."""
        p = str(period)
        if ".." in p and p.startswith("FY"):        # FY2017..FY2018: whole financial years
            a, b = (self.weeks(x.strip()) for x in p.split(".."))
            return None if a is None or b is None else (a[0], b[1])
        if p.startswith("FY"):
            y = int(p[2:])
            idx = np.flatnonzero(self.weekly["year"].to_numpy() == y)
            if len(idx) < 52:
                return None
            return int(idx[0]), int(idx[-1]) + 1
        if p.startswith("CY"):
            y = int(p[2:])
            return self._range(dt.date(y, 1, 1), dt.date(y, 12, 31))
        if ".." in p:
            a, b = p.split("..")
            return self._range(dt.date.fromisoformat(a.strip()), dt.date.fromisoformat(b.strip()))
        w = self.week_of(p)
        return None if w is None else (w, w + 1)

    def _range(self, first: dt.date, last: dt.date) -> tuple[int, int] | None:
        """Weeks whose middle falls between two dates (inclusive); None unless the run covers both ends."""
        a, b = pd.Timestamp(first), pd.Timestamp(last) + pd.Timedelta(days=1)
        if self.dates.iloc[0] > a + pd.Timedelta(days=3) or self.end_date < b - pd.Timedelta(days=3):
            return None
        mid = self.dates + pd.Timedelta(days=3.5)
        idx = np.flatnonzero(((mid >= a) & (mid < b)).to_numpy())
        if len(idx) == 0:
            return None
        return int(idx[0]), int(idx[-1]) + 1

    def snapshot(self, period: str) -> int | None:
        """The week of a snapshot date (the last week of a longer period)."""
        w = self.weeks(period)
        return None if w is None else w[1] - 1

    # ---------------------------------------------------------------- event tables
    @cached_property
    def moves(self) -> pd.DataFrame:
        """Every placement change (move events), in log order, with `counted` for moves the model counts."""
        t = self.transitions
        m = t.loc[t["event"] == "move", ["week", "child", "from", "to", "placement_la", "reason", "legal_basis"]]
        m = m.reset_index(drop=True)
        reason = m["reason"].astype(str)
        home = (m["to"] == "family") & reason.isin(HOME_NOT_MOVES)
        # A new entry who waited at home for a place: its first placement (sim.agencies.funding_agreements).
        home |= (m["from"] == "family") & (reason == "placement_found")
        # A first placement (entry to care, or a child in care arriving at 10) is not a move, whatever its
        # logged reason (an entry straight into an unregistered setting is logged as no_registered_place).
        entries = t.loc[t["event"] == "entry_to_care", ["child", "week"]]
        c = self.children
        aged_in = c.loc[c["arrival"].astype(str) == "ageing_in_care", ["child", "arrival_week"]]
        firsts = pd.concat([entries, aged_in.rename(columns={"arrival_week": "week"})])
        first_key = set(zip(firsts["child"].to_numpy(), firsts["week"].to_numpy()))
        is_first = np.fromiter(((c_, w_) in first_key for c_, w_ in zip(m["child"].to_numpy(), m["week"].to_numpy())),
                               bool, len(m)) & (m["from"] == "family").to_numpy() & (reason == "no_registered_place").to_numpy()
        m["counted"] = (~reason.isin(NOT_MOVES) & ~home).to_numpy() & ~is_first
        return m

    @cached_property
    def child_info(self) -> pd.DataFrame:
        return self.children.set_index("child")

    @cached_property
    def dol_orders(self) -> pd.DataFrame:
        """DoL orders made in the run: order_id, child, grant week, end week (NaN while running), placement at grant."""
        t = self.transitions
        dol = t[t["legal_basis"].astype(str) == "dol"]
        g = dol[dol["event"] == "grant"].drop_duplicates("order_id")[["order_id", "child", "week", "from"]]
        g = g.rename(columns={"week": "grant_week", "from": "placement_at_grant"})
        ends = dol[dol["event"].isin(["discharge", "expiry"])].groupby("order_id")["week"].min()
        g["end_week"] = g["order_id"].map(ends).astype(float)
        return g.reset_index(drop=True)

    def dol_applications(self) -> pd.DataFrame:
        t = self.transitions
        return t[(t["event"] == "application") & (t["legal_basis"].astype(str) == "dol")][["week", "child"]]

    def placements_at(self, week: int) -> pd.DataFrame:
        """Each child present at the end of a week: placement type `to` and `placement_la` (index: child).

        From the last move at or before the week; a child who has not moved by then but moves later was in
        its first move's `from` type; a child who never moves was in its only type with weeks (children
        table). Those two have no `placement_la` (empty): the log does not place a child before its first
        move, so out-of-area measures use only children with a known LA.
        """
        key = ("placements_at", week)
        if key not in self._cache:
            info = self.child_info
            present = info.index[(info["arrival_week"] <= week)
                                 & ((info["exit_week"] < 0) | (info["exit_week"] > week))]
            moves = self.moves
            before = moves[moves["week"] <= week]
            last = before.groupby("child", sort=False).tail(1).set_index("child")[["to", "placement_la"]]
            after = moves[(moves["week"] > week) & ~moves["child"].isin(last.index)]
            first = after.groupby("child", sort=False).head(1).set_index("child")[["from"]].rename(columns={"from": "to"})
            first["placement_la"] = ""
            rest = present.difference(last.index).difference(first.index)
            weeks = info.loc[rest, [f"weeks_{t}" for t in PLACEMENT_TYPES]].to_numpy()
            only = (weeks > 0).sum(axis=1) == 1
            never = pd.DataFrame({"to": np.asarray(PLACEMENT_TYPES, dtype=object)[weeks.argmax(axis=1)][only],
                                  "placement_la": ""}, index=rest[only])
            both = pd.concat([last, first, never])
            self._cache[key] = both.loc[both.index.intersection(present)]
        return self._cache[key]

    def on_dol_at(self, week: int) -> np.ndarray:
        o = self.dol_orders
        on = o[(o["grant_week"] <= week) & ~(o["end_week"] <= week)]
        return on["child"].unique()


# ============================================================================ measures
MEASURES: dict[str, Callable[..., float]] = {}
NAN = float("nan")


def measure(fn: Callable[..., float]) -> Callable[..., float]:
    """Register a measure under its function name, less a trailing underscore (sum_ is "sum")."""
    MEASURES[fn.__name__.rstrip("_")] = fn
    return fn


def _rows(out: ModelOutput, period: str) -> pd.DataFrame | None:
    w = out.weeks(period)
    return None if w is None else out.weekly.iloc[w[0]:w[1]]


def _cols(column: str | None, columns: list[str] | None) -> list[str]:
    return list(columns) if columns else [column]


@measure
def sum_(out: ModelOutput, period: str, column: str | None = None, columns: list[str] | None = None) -> float:
    """Sum of weekly column(s) over the period (national)."""
    r = _rows(out, period)
    return NAN if r is None else float(r[_cols(column, columns)].to_numpy().sum())


@measure
def mean(out: ModelOutput, period: str, column: str) -> float:
    """Mean of a weekly column over the period."""
    r = _rows(out, period)
    return NAN if r is None else float(r[column].mean())


@measure
def at_(out: ModelOutput, period: str, column: str) -> float:
    """A weekly column in the week of a snapshot date."""
    w = out.snapshot(period)
    return NAN if w is None else float(out.weekly[column].iloc[w])


@measure
def annualised_at(out: ModelOutput, period: str, column: str) -> float:
    """A weekly flow (e.g. spend) in the week of a date, times 52."""
    return at_(out, period, column) * 52.0


@measure
def ratio_at(out: ModelOutput, period: str, num: str, den: str) -> float:
    """Ratio of two weekly columns in the week of a date."""
    w = out.snapshot(period)
    if w is None:
        return NAN
    d = float(out.weekly[den].iloc[w])
    return float(out.weekly[num].iloc[w]) / d if d else NAN


def _dol_applications_in(out: ModelOutput, period: str) -> pd.DataFrame | None:
    """The run's new (heard) DoL applications made in the period; None if the run does not cover it."""
    w = out.weeks(period)
    if w is None:
        return None
    a = out.dol_applications()
    return a[(a["week"] >= w[0]) & (a["week"] < w[1])]


@measure
def dol_children(out: ModelOutput, period: str) -> float:
    """Distinct children with a new (heard) DoL application in the period (national)."""
    a = _dol_applications_in(out, period)
    return NAN if a is None else a["child"].nunique() / out.scale


@measure
def growth(out: ModelOutput, period: str, column: str, base: str, children: bool = False) -> float:
    """The period's total (or distinct children with DoL applications) over the base period's total."""
    num = dol_children(out, period) if children else sum_(out, period, column)
    den = sum_(out, base, column)
    return num / den if den and np.isfinite(den) else NAN


@measure
def dol_repeat_share(out: ModelOutput, period: str) -> float:
    """Share of the period's DoL applications made for a child already applied for in the period."""
    a = _dol_applications_in(out, period)
    return (len(a) - a["child"].nunique()) / len(a) if a is not None and len(a) else NAN


@measure
def dol_age_share(out: ModelOutput, period: str, lo: int, hi: int) -> float:
    """Share of children with DoL applications in the period aged lo..hi (whole years) at their first one."""
    a = _dol_applications_in(out, period)
    if a is None:
        return NAN
    a = a.drop_duplicates("child")
    if a.empty:
        return NAN
    birth = out.child_info["birth_week"].reindex(a["child"]).to_numpy()
    age = np.floor((a["week"].to_numpy() - birth) / 52.0)
    return float(((age >= lo) & (age <= hi)).mean())


def _cohort(out: ModelOutput, period: str) -> pd.DataFrame | None:
    w = out.weeks(period)
    if w is None:
        return None
    o = out.dol_orders
    return o[(o["grant_week"] >= w[0]) & (o["grant_week"] < w[1])]


@measure
def dol_duration_share(out: ModelOutput, period: str, min_weeks: float, max_weeks: float | None = None) -> float:
    """Share of DoL orders made in the period lasting [min_weeks, max_weeks) weeks; orders still running at
    the end of the run count where their length so far settles it, and are left out where it does not."""
    o = _cohort(out, period)
    if o is None or o.empty:
        return NAN
    hi = math.inf if max_weeks is None else float(max_weeks)
    ended = o["end_week"].notna().to_numpy()
    length = np.where(ended, o["end_week"] - o["grant_week"], out.n_weeks - o["grant_week"]).astype(float)
    in_band = ended & (length >= min_weeks) & (length < hi)
    running_long = ~ended & (length >= hi)          # known to be past the band
    running_in = ~ended & (length >= min_weeks) & np.isinf(hi)
    known = ended | running_long | running_in
    return float((in_band | running_in).sum() / known.sum()) if known.any() else NAN


@measure
def dol_on_order_at(out: ModelOutput, period: str, at: str) -> float:
    """Share of DoL orders made in the period still running in the week of date `at`."""
    o = _cohort(out, period)
    w = out.week_of(at)
    if o is None or o.empty or w is None:
        return NAN
    return float((~(o["end_week"] <= w)).mean())


@measure
def dol_ever_in(out: ModelOutput, period: str, placement: str, until: str) -> float:
    """Share of DoL orders made in the period with the child in `placement` at some time before the order
    ended or date `until`."""
    o = _cohort(out, period)
    w_until = out.week_of(until)
    if o is None or o.empty or w_until is None:
        return NAN
    stop = np.minimum(o["end_week"].fillna(np.inf).to_numpy(), w_until + 1)
    m = out.moves[out.moves["to"] == placement][["child", "week"]]
    j = o[["order_id", "child", "grant_week"]].assign(stop=stop).merge(m, on="child", how="left")
    moved = j[(j["week"] >= j["grant_week"]) & (j["week"] < j["stop"])]["order_id"].unique()
    hit = (o["placement_at_grant"] == placement).to_numpy() | o["order_id"].isin(moved).to_numpy()
    return float(hit.mean())


@measure
def share_in_type_on_dol(out: ModelOutput, period: str, placement: str) -> float:
    """Of children on DoL orders (made in the run) in the week of a date, the share placed in `placement`."""
    w = out.snapshot(period)
    if w is None:
        return NAN
    on = out.on_dol_at(w)
    p = out.placements_at(w)
    p = p.loc[p.index.intersection(on)]
    return float((p["to"] == placement).mean()) if len(p) else NAN


@measure
def share_on_dol_in_type(out: ModelOutput, period: str, placement: str) -> float:
    """Of children in `placement` in the week of a date, the share on a DoL order."""
    w = out.snapshot(period)
    if w is None:
        return NAN
    p = out.placements_at(w)
    kids = p.index[p["to"] == placement]
    return float(np.isin(kids, out.on_dol_at(w)).mean()) if len(kids) else NAN


@measure
def children_ever_in(out: ModelOutput, period: str, placement: str) -> float:
    """Distinct children in `placement` at some time in the period (national)."""
    w = out.weeks(period)
    if w is None:
        return NAN
    start = out.placements_at(w[0] - 1) if w[0] > 0 else out.placements_at(0)
    there = set(start.index[start["to"] == placement])
    m = out.moves
    there |= set(m.loc[(m["to"] == placement) & (m["week"] >= w[0]) & (m["week"] < w[1]), "child"])
    return len(there) / out.scale


def _in_care_at(out: ModelOutput, week: int) -> pd.Index:
    c = out.child_info
    ok = (c["ever_in_care"].astype(bool) & (c["arrival_week"] <= week) & (c["entered_care_week"] <= week)
          & ((c["left_care_week"] < 0) | (c["left_care_week"] > week)) & ((c["exit_week"] < 0) | (c["exit_week"] > week)))
    return c.index[ok]


def _in_care_during(out: ModelOutput, w0: int, w1: int) -> pd.Index:
    c = out.child_info
    ok = (c["ever_in_care"].astype(bool) & (c["arrival_week"] < w1) & (c["entered_care_week"] < w1)
          & ((c["left_care_week"] < 0) | (c["left_care_week"] >= w0)) & ((c["exit_week"] < 0) | (c["exit_week"] >= w0)))
    return c.index[ok]


def _moves_per_child(out: ModelOutput, w0: int, w1: int) -> pd.Series:
    m = out.moves
    m = m[m["counted"] & (m["week"] >= w0) & (m["week"] < w1)]
    return m.groupby("child").size()


@measure
def placements_3plus(out: ModelOutput, period: str, window_weeks: int = 104) -> float:
    """Share of children in care in the week of a date with 3+ placements (2+ moves) in the previous window."""
    w = out.snapshot(period)
    if w is None or w + 1 - window_weeks < 0:
        return NAN
    kids = _in_care_at(out, w)
    n = _moves_per_child(out, w + 1 - window_weeks, w + 1).reindex(kids, fill_value=0)
    return float((n >= 2).mean()) if len(n) else NAN


@measure
def placements_3plus_in_year(out: ModelOutput, period: str) -> float:
    """Share of children in care at some time in the period with 3+ placements (2+ moves) in it."""
    w = out.weeks(period)
    if w is None:
        return NAN
    kids = _in_care_during(out, *w)
    n = _moves_per_child(out, *w).reindex(kids, fill_value=0)
    return float((n >= 2).mean()) if len(n) else NAN


@measure
def out_of_area_share_in(out: ModelOutput, period: str, placements: list[str]) -> float:
    """Share of children placed in the given types (in the week of a date) whose placement is outside their LA."""
    w = out.snapshot(period)
    if w is None:
        return NAN
    p = out.placements_at(w)
    p = p[p["to"].isin(list(placements)) & (p["placement_la"].astype(str) != "")]
    if p.empty:
        return NAN
    home = out.child_info["local_authority"].reindex(p.index).astype(str).to_numpy()
    return float((p["placement_la"].astype(str).to_numpy() != home).mean())


@measure
def in_type_with_need_at(out: ModelOutput, period: str, placement: str, need: str) -> float:
    """Children in `placement` with `need` in the week of a date (national): the share with the need among
    those whose placement is known, times the weekly count in that placement."""
    w = out.snapshot(period)
    if w is None:
        return NAN
    p = out.placements_at(w)
    kids = p.index[p["to"] == placement]
    total = float(out.weekly[f"children_{placement}"].iloc[w])
    if len(kids) == 0:
        return 0.0 if total == 0 else NAN
    share = out.child_info[f"need_{need}"].reindex(kids).astype(bool).mean()
    return float(share * total)


@measure
def tier4_mean_stay_days(out: ModelOutput, period: str) -> float:
    """Mean length (days) of Tier 4 stays that start in the period and end before the run does."""
    w = out.weeks(period)
    if w is None:
        return NAN
    m = out.moves[["child", "week", "to"]].copy()
    m["next_week"] = m.groupby("child")["week"].shift(-1)
    stays = m[(m["to"] == "tier4") & (m["week"] >= w[0]) & (m["week"] < w[1])]
    exit_week = out.child_info["exit_week"].reindex(stays["child"]).to_numpy().astype(float)
    end = stays["next_week"].to_numpy().astype(float)
    end = np.where(np.isnan(end) & (exit_week >= 0), exit_week, end)
    ok = ~np.isnan(end)
    return float(np.mean(end[ok] - stays["week"].to_numpy()[ok]) * 7.0) if ok.any() else NAN


@measure
def secure_placed_share(out: ModelOutput, period: str) -> float:
    """Secure welfare placements (moves into a secure home) over secure welfare referrals, both in the period,
    as the published figures count them (T3-001: 209 placements and 420 referrals in 2020)."""
    w = out.weeks(period)
    if w is None:
        return NAN
    t = out.transitions
    refs = int(((t["event"] == "secure_referral") & (t["week"] >= w[0]) & (t["week"] < w[1])).sum())
    m = out.moves
    placed = int(((m["to"] == "secure_home") & (m["week"] >= w[0]) & (m["week"] < w[1])).sum())
    return placed / refs if refs else NAN


# ============================================================================ evaluation
def model_value(out: ModelOutput, target: Target) -> float:
    try:
        return float(MEASURES[target.measure](out, target.period, **target.args))
    except ZeroDivisionError:
        return NAN


def evaluate(out: ModelOutput, targets: list[Target]) -> pd.DataFrame:
    """One row per target: key, id, measure, period, published, model, tolerance, band and within."""
    rows = []
    for t in targets:
        v = model_value(out, t)
        lo, hi = t.band()
        rows.append({"key": t.key, "id": t.id, "measure": t.describe_measure(), "period": t.period,
                     "kind": t.kind, "published": t.published, "model": v, "tolerance": t.tolerance,
                     "band_lo": lo, "band_hi": hi, "within": t.within(v)})
    return pd.DataFrame(rows)


def values(out: ModelOutput, targets: list[Target]) -> dict[str, float]:
    """The model value of each target, by key."""
    return {t.key: model_value(out, t) for t in targets}


def dol_series(out: ModelOutput) -> pd.DataFrame:
    """DoL and s25 applications per model (financial) year, national."""
    w = out.weekly
    g = w.groupby("year")[["applications_dol", "applications_s25"]].sum()
    g["weeks"] = w.groupby("year").size()
    return g.reset_index()


# ============================================================================ command line
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m calibration.targets", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="published statistics CSV (default: the config's data file)")
    ap.add_argument("--out", default=str(TARGETS_CSV), help="where to write the targets table")
    ap.add_argument("--check", action="store_true", help="only check that the table is up to date")
    a = ap.parse_args(argv)
    table = targets_table(load_targets(a.data))
    if a.check:
        old = pd.read_csv(a.out)
        same = list(old["key"]) == list(table["key"]) and np.allclose(
            old["published"].to_numpy(float), table["published"].to_numpy(float), rtol=1e-9)
        print(f"{a.out}: {'up to date' if same else 'OUT OF DATE: run python -m calibration.targets'}")
        return 0 if same else 1
    table.to_csv(a.out, index=False)
    print(f"wrote {len(table)} targets to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

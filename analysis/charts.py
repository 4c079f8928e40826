"""The briefing charts: one function per chart, each taking results as data frames and a path stem.

Every chart function writes ``<stem>.png`` (300 dpi) and ``<stem>.svg`` and returns those two paths.
Its title states the finding, worked out from the data by the matching ``*_finding`` function (which the
briefing's report uses too); its source line comes from a ``results.Provenance`` (or a string).  Given a
results set that lacks what it needs, a chart raises ``MissingResults`` naming the missing column,
metric or scenario, before drawing anything.

Inputs (see ``analysis.results`` for loading them):

- ``table``: comparison.csv rows (scenario, metric, mean, lo, hi, diff_mean, diff_lo, diff_hi), with the
  cost metrics ``results.load_comparison`` adds (implementation cost included);
- ``placements``: scenario, date, placement, mean, lo, hi (children a week, England);
- ``moves``: scenario -> a from-type x to-type matrix of moves a year;
- ``fit``: the calibration report's fit.csv; ``indices``: Morris or Sobol sensitivity indices.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from analysis import style
from analysis.results import (COST_WITH_IMPLEMENTATION, FIT_COLUMNS, MORRIS_COLUMNS, PAYER_COST_WITH_IMPLEMENTATION,
                              SOBOL_COLUMNS, MissingResults, Provenance, require_columns, scenario_label)
from sim.compare import BASELINE, COLUMNS, LEVEL
from sim.placements import PAYERS

RESTRICTION = "restriction.child_weeks_deprived_of_liberty.total"
STABILITY = "stability.moves_per_child_year"
# The scenario comparison's three dimensions: (metric, heading, what it measures).
EFFECTS = [
    (RESTRICTION, "Restriction", "child-weeks deprived of liberty a year"),
    (COST_WITH_IMPLEMENTATION, "Cost", "cost a year, implementation included"),
    (STABILITY, "Stability", "moves per child-year in care"),
]
PLACEMENT_COLUMNS = ["scenario", "date", "placement", "mean", "lo", "hi"]
# Plural nouns for titles: "moves from children's homes to unregistered settings".
PLACEMENT_NOUNS = {
    "family": "family", "foster_inhouse": "council foster care", "foster_agency": "agency foster care",
    "residential": "children's homes", "therapeutic_residential": "therapeutic homes",
    "supported_accommodation": "supported accommodation", "tier4": "Tier 4 mental-health units",
    "secure_home": "secure children's homes", "unregistered": "unregistered settings", "youth_custody": "youth custody",
}
PAYER_NOUNS = {"local_authority": "local authorities", "nhs": "the NHS", "justice": "youth justice",
               "education": "education"}
PERCENT = f"{LEVEL:.0%}"


# ----------------------------------------------------------------------------- checks and helpers
def _source(source: Provenance | str) -> str:
    return source.source() if isinstance(source, Provenance) else str(source)


def check_table(table: pd.DataFrame, metrics: Sequence[str], chart: str) -> list[str]:
    """The table's scenarios, baseline first; MissingResults if a column, the baseline, a scenario to
    compare, or any metric's row for any scenario is absent."""
    require_columns(table, COLUMNS, f"{chart}: the comparison table")
    scenarios = list(dict.fromkeys(table["scenario"]))
    if BASELINE not in scenarios:
        raise MissingResults(f"{chart}: the comparison table has no {BASELINE!r} rows (every scenario is "
                             f"compared with the baseline)")
    if len(scenarios) < 2:
        raise MissingResults(f"{chart}: the comparison table has only the baseline; it needs a scenario to compare")
    for m in metrics:
        have = set(table.loc[table["metric"] == m, "scenario"])
        absent = [s for s in scenarios if s not in have]
        if absent:
            raise MissingResults(f"{chart}: the comparison table has no {m!r} row for scenario {absent[0]!r} "
                                 f"(load the comparison folder with analysis.results.load_comparison)")
    return [BASELINE] + [s for s in scenarios if s != BASELINE]


def _metric(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One metric's rows, indexed by scenario."""
    return table[table["metric"] == metric].set_index("scenario")[COLUMNS[2:]]


def percent_change(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """A metric's paired difference from the baseline, and its interval, as % of the baseline mean."""
    rows = _metric(table, metric)
    base = rows.loc[BASELINE, "mean"]
    pct = rows[["diff_mean", "diff_lo", "diff_hi"]].drop(index=BASELINE) / abs(base) * 100
    return pct.set_axis(["mean", "lo", "hi"], axis=1)


def clear(lo: float, hi: float) -> bool:
    """The interval excludes no change."""
    return bool(lo > 0 or hi < 0)


def _mid(label: str) -> str:
    """A scenario label inside a sentence: 'early help', but 'DoL ...' keeps its capitals."""
    return label if len(label) > 1 and label[1].isupper() else label[:1].lower() + label[1:]


def _where(placement: str) -> str:
    return "living with family" if placement == "family" else f"in {PLACEMENT_NOUNS.get(placement, placement)}"


# ----------------------------------------------------------------------------- scenario comparison
def effects_finding(table: pd.DataFrame) -> str:
    """The scenario that cuts deprivation of liberty most, and what it does to cost and stability."""
    check_table(table, [m for m, _, _ in EFFECTS], "scenario comparison")
    restriction, cost, moves = (percent_change(table, m) for m, _, _ in EFFECTS)
    best = restriction["mean"].idxmin()
    label, r = scenario_label(best), restriction.loc[best, "mean"]
    if r >= 0:
        return f"No scenario reduces deprivation of liberty; {_mid(label)} raises it least ({style.number(r, 'pct', True)})"
    c, m = cost.loc[best], moves.loc[best]
    cost_text = (f"at {style.number(abs(c['mean']), 'pct')} {'lower' if c['mean'] < 0 else 'higher'} cost"
                 if clear(c["lo"], c["hi"]) else "with no clear change in cost")
    move_text = (f"{style.number(abs(m['mean']), 'pct')} {'fewer' if m['mean'] < 0 else 'more'} moves per child"
                 if clear(m["lo"], m["hi"]) else "no clear change in moves")
    joiner = "and" if cost_text.startswith("with") else "with"
    return (f"{label} cuts deprivation of liberty most ({style.number(r, 'pct', True)} child-weeks), "
            f"{cost_text} {joiner} {move_text}")


@style.theme()
def scenario_effects(table: pd.DataFrame, stem: str | Path, *, source: Provenance | str) -> list[Path]:
    """Each scenario's difference from the baseline on restriction, cost and stability, as % of the
    baseline, with its paired 90% interval; filled markers where the interval excludes no change."""
    title = effects_finding(table)
    restriction = percent_change(table, RESTRICTION)
    order = list(restriction["mean"].sort_values().index)  # biggest cut in restriction at the top
    fig, axes = style.figure(10, 1.6 + 0.42 * len(order), 1, len(EFFECTS), sharey=True)
    y = np.arange(len(order))
    for ax, (metric, heading, what) in zip(axes[0], EFFECTS):
        pct = percent_change(table, metric).loc[order]
        ax.axvline(0, color=style.FAINT, lw=0.8, zorder=1)
        ax.errorbar(pct["mean"], y, xerr=[pct["mean"] - pct["lo"], pct["hi"] - pct["mean"]], fmt="none",
                    ecolor=style.INK, elinewidth=1.2, capsize=2.5, zorder=2)
        filled = [clear(lo, hi) for lo, hi in zip(pct["lo"], pct["hi"])]
        ax.scatter(pct["mean"], y, s=36, marker="o", edgecolors=style.INK, linewidths=1.2, zorder=3,
                   facecolors=[style.INK if f else "white" for f in filled])
        for yi, (m, hi) in enumerate(zip(pct["mean"], pct["hi"])):
            ax.annotate(style.number(m, "pct", True), (np.nanmax([hi, m]), yi), xytext=(5, 0),
                        textcoords="offset points", va="center", fontsize=7, color=style.INK)
        ax.set_title(f"{heading}\n{textwrap.fill(what, 34)}", loc="left")
        ax.set_xlabel("% change from the baseline")
        ax.margins(x=0.25)
        ax.grid(axis="y", visible=False)
    axes[0][0].set_yticks(y, [scenario_label(s) for s in order])
    axes[0][0].invert_yaxis()
    fig.legend(handles=[
        Line2D([], [], ls="none", marker="o", mfc=style.INK, mec=style.INK, label=f"{PERCENT} interval excludes no change"),
        Line2D([], [], ls="none", marker="o", mfc="white", mec=style.INK, label="interval includes no change"),
        Line2D([], [], color=style.INK, marker="|", label=f"paired {PERCENT} interval (same seeds as the baseline)"),
    ], loc="outside lower center", ncols=3)
    return style.finish(fig, stem, title=title, source=_source(source))


# ----------------------------------------------------------------------------- cost against restriction
def tradeoff_finding(table: pd.DataFrame) -> str:
    """How many scenarios cut both deprivation of liberty and cost, and which cuts restriction most."""
    scenarios = check_table(table, [RESTRICTION, COST_WITH_IMPLEMENTATION], "cost against restriction")[1:]
    r = _metric(table, RESTRICTION).loc[scenarios, "diff_mean"]
    c = _metric(table, COST_WITH_IMPLEMENTATION).loc[scenarios, "diff_mean"]
    both = [s for s in scenarios if r[s] < 0 and c[s] < 0]
    if not both:
        best = r.idxmin()
        return (f"No scenario cuts both deprivation of liberty and cost; {_mid(scenario_label(best))} cuts "
                f"restriction most, at {style.number(c[best], 'gbp_m', True)} a year")
    best = r[both].idxmin()
    count = f"{len(both)} of {len(scenarios)} scenarios cut" if len(scenarios) > 1 else f"{scenario_label(best)} cuts"
    lead = f"; {_mid(scenario_label(best))} cuts restriction most" if len(scenarios) > 1 else ""
    return (f"{count} both deprivation of liberty and cost{lead}: {style.number(-r[best], 'count')} fewer "
            f"child-weeks and {style.number(-c[best], 'gbp_m')} less a year")


def _label_points(ax, scenarios: Sequence[str], x: pd.Series, y: pd.Series, spacing: float = 0.07) -> None:
    """Name each scenario beside its marker, unless it would crowd a name already placed (the legend
    names every marker); the farthest from the baseline are named first."""
    to_axes = ax.transData + ax.transAxes.inverted()
    placed = [to_axes.transform((0, 0))]  # the baseline's cross
    for s in sorted(scenarios, key=lambda s: -np.hypot(*to_axes.transform((x[s], y[s])) - placed[0])):
        point = to_axes.transform((x[s], y[s]))
        if min(np.hypot(*(point - p)) for p in placed) > spacing:
            right = point[0] > 0.7  # near the right edge: name it on the left of its marker
            ax.annotate(scenario_label(s), (x[s], y[s]), xytext=(-7 if right else 7, 5), textcoords="offset points",
                        ha="right" if right else "left", fontsize=7, color=style.INK, zorder=5)
            placed.append(point)


@style.theme()
def cost_restriction(table: pd.DataFrame, stem: str | Path, *, source: Provenance | str) -> list[Path]:
    """The trade-off at a glance: each scenario's change in cost (implementation included) against its
    change in child-weeks deprived of liberty, with paired 90% intervals on both."""
    title = tradeoff_finding(table)
    scenarios = check_table(table, [RESTRICTION, COST_WITH_IMPLEMENTATION], "cost against restriction")[1:]
    r = _metric(table, RESTRICTION).loc[scenarios]
    c = _metric(table, COST_WITH_IMPLEMENTATION).loc[scenarios] / 1e6
    fig, axes = style.figure(9, 6)
    ax = axes[0][0]
    ax.axhline(0, color=style.FAINT, lw=0.8)
    ax.axvline(0, color=style.FAINT, lw=0.8)
    for i, s in enumerate(scenarios):
        colour, marker = style.PALETTE[i % len(style.PALETTE)], style.MARKERS[i % len(style.MARKERS)]
        ax.errorbar(r.loc[s, "diff_mean"], c.loc[s, "diff_mean"],
                    xerr=[[r.loc[s, "diff_mean"] - r.loc[s, "diff_lo"]], [r.loc[s, "diff_hi"] - r.loc[s, "diff_mean"]]],
                    yerr=[[c.loc[s, "diff_mean"] - c.loc[s, "diff_lo"]], [c.loc[s, "diff_hi"] - c.loc[s, "diff_mean"]]],
                    fmt=marker, color=colour, mec=style.INK, mew=0.8, ms=8, ecolor=style.INK, elinewidth=1.0,
                    capsize=2.5,
                    label=scenario_label(s), zorder=3)
    ax.plot([0], [0], marker="+", ms=12, mew=1.8, color=style.BASELINE_COLOUR, ls="none", label="Baseline", zorder=4)
    ax.margins(0.15)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    # Shade the quadrant where a scenario is better on both counts.
    ax.fill_between([min(x0, 0), 0], min(y0, 0), 0, color="#EFEFEF", zorder=0, lw=0)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    _label_points(ax, scenarios, r["diff_mean"], c["diff_mean"])
    ax.text(0.01, 0.01, "less restriction, lower cost", transform=ax.transAxes, fontsize=7.5, color="#555555",
            va="bottom")
    ax.text(0.99, 0.99, "more restriction, higher cost", transform=ax.transAxes, fontsize=7.5, color="#555555",
            va="top", ha="right")
    ax.set_xlabel("Change in child-weeks deprived of liberty a year against the baseline (England)")
    ax.set_ylabel("Change in cost a year against the baseline\n(£m, 2024 prices, implementation included)")
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:+,.0f}" if v else "0")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:+,.0f}" if v else "0")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3,
               title=f"Scenario (bars: paired {PERCENT} intervals of the difference from the baseline)",
               title_fontsize=8)
    return style.finish(fig, stem, title=title, source=_source(source))


# ----------------------------------------------------------------------------- cost by payer
def _payer_changes(table: pd.DataFrame, scenario: str) -> pd.Series:
    """A scenario's change in cost a year by payer, implementation included."""
    return pd.Series({p: _metric(table, f"{PAYER_COST_WITH_IMPLEMENTATION}.{p}").loc[scenario, "diff_mean"]
                      for p in PAYERS})


def payer_finding(table: pd.DataFrame) -> str:
    """The scenario that saves most overall and who gets the saving; and the biggest shift of cost from
    one payer to another (one pays more while another pays less), pooled funding's argument."""
    metrics = [COST_WITH_IMPLEMENTATION] + [f"{PAYER_COST_WITH_IMPLEMENTATION}.{p}" for p in PAYERS]
    scenarios = check_table(table, metrics, "cost by payer")[1:]
    net = _metric(table, COST_WITH_IMPLEMENTATION).loc[scenarios, "diff_mean"]
    best = net.idxmin()
    if net[best] >= 0:
        text = (f"No scenario saves money overall; {_mid(scenario_label(best))} costs least, "
                f"{style.number(net[best], 'gbp_m')} a year more")
    else:
        saver = _payer_changes(table, best).idxmin()
        text = (f"{scenario_label(best)} saves most, {style.number(-net[best], 'gbp_m')} a year net, the largest "
                f"share for {PAYER_NOUNS.get(saver, saver)}")
    changes = {s: _payer_changes(table, s) for s in scenarios}
    shifts = {s: c.max() for s, c in changes.items() if c.max() > 0 and c.min() < 0}
    if shifts:
        s = max(shifts, key=shifts.get)
        c = changes[s]
        text += (f"; {_mid(scenario_label(s))} moves cost to {PAYER_NOUNS.get(c.idxmax(), c.idxmax())} "
                 f"({style.number(c.max(), 'gbp_m', True)} a year) from {PAYER_NOUNS.get(c.idxmin(), c.idxmin())} "
                 f"({style.number(c.min(), 'gbp_m', True)})")
    return text


@style.theme()
def cost_by_payer(table: pd.DataFrame, stem: str | Path, *, source: Provenance | str) -> list[Path]:
    """Who saves and who spends: each scenario's change in cost a year by payer (implementation included),
    stacked left (savings) and right (extra spend), with the net change and its paired 90% interval."""
    title = payer_finding(table)
    scenarios = check_table(table, [COST_WITH_IMPLEMENTATION], "cost by payer")[1:]
    net = _metric(table, COST_WITH_IMPLEMENTATION).loc[scenarios] / 1e6
    order = list(net["diff_mean"].sort_values().index)  # biggest saving at the top
    fig, axes = style.figure(10, 1.8 + 0.45 * len(order))
    ax = axes[0][0]
    y = np.arange(len(order))
    saved, spent = np.zeros(len(order)), np.zeros(len(order))
    for p in PAYERS:
        change = _metric(table, f"{PAYER_COST_WITH_IMPLEMENTATION}.{p}").loc[order, "diff_mean"].to_numpy() / 1e6
        left = np.where(change < 0, saved, spent)
        colour, hatch = style.PAYER_STYLE[p]
        ax.barh(y, change, left=left, height=0.6, color=colour, hatch=hatch, edgecolor=style.INK, linewidth=0.4,
                label=style.payer_label(p), zorder=2)
        saved += np.minimum(change, 0)
        spent += np.maximum(change, 0)
    n = net.loc[order]
    ax.errorbar(n["diff_mean"], y, xerr=[n["diff_mean"] - n["diff_lo"], n["diff_hi"] - n["diff_mean"]], fmt="D",
                color="white", mec=style.BASELINE_COLOUR, mew=1.4, ms=7, ecolor=style.BASELINE_COLOUR, elinewidth=1.4,
                capsize=3, label=f"Net, all payers ({PERCENT} interval)", zorder=4)
    ax.axvline(0, color=style.INK, lw=0.8, zorder=3)
    ax.set_yticks(y, [scenario_label(s) for s in order])
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("Change in cost a year against the baseline (£m, 2024 prices, implementation included);\n"
                  "left of zero: a saving, right: extra spend")
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:+,.0f}" if v else "0")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=len(PAYERS) + 1)
    return style.finish(fig, stem, title=title, source=_source(source))


# ----------------------------------------------------------------------------- placements over time
def _check_placements(placements: pd.DataFrame, scenario: str) -> None:
    require_columns(placements, PLACEMENT_COLUMNS, "placements over time: the placements frame")
    have = set(placements["scenario"])
    for s in (BASELINE, scenario):
        if s not in have:
            raise MissingResults(f"placements over time: no rows for scenario {s!r} (have: {', '.join(sorted(have))})")


def _final_year(placements: pd.DataFrame, scenario: str) -> pd.Series:
    """Mean children by placement type over a scenario's last 52 weeks."""
    rows = placements[placements["scenario"] == scenario]
    last = np.sort(rows["date"].unique())[-52:]
    return rows[rows["date"].isin(last)].groupby("placement", sort=False)["mean"].mean()


def placements_finding(placements: pd.DataFrame, scenario: str) -> str:
    """The placement type whose number of children the scenario changes most by the final year."""
    _check_placements(placements, scenario)
    base, other = _final_year(placements, BASELINE), _final_year(placements, scenario)
    change = (other - base).dropna()
    t = change.abs().idxmax()
    d = change[t]
    return (f"{scenario_label(scenario)}: {style.number(abs(d), 'count')} {'fewer' if d < 0 else 'more'} children "
            f"{_where(t)} in the final year ({style.number(other[t], 'count')} against "
            f"{style.number(base[t], 'count')} in the baseline)")


@style.theme()
def placements_over_time(placements: pd.DataFrame, stem: str | Path, *, scenario: str,
                         source: Provenance | str) -> list[Path]:
    """Children by placement type each week, the baseline against one scenario: means over seeds with
    the 5th-95th percentile spread (solid band: baseline; hatched band: the scenario)."""
    title = placements_finding(placements, scenario)
    types = list(dict.fromkeys(placements["placement"]))
    ncols = min(5, len(types))
    nrows = math.ceil(len(types) / ncols)
    fig, axes = style.figure(11.5, 1.4 + 2.1 * nrows, nrows, ncols, sharex=True)
    for ax in axes.flat[len(types):]:
        ax.set_visible(False)
    dates = pd.to_datetime(placements["date"])
    years_per_tick = max(1, round((dates.max() - dates.min()).days / 365.25 / 4))
    for ax, t in zip(axes.flat, types):
        for s, colour, ls, hatch in ((BASELINE, style.BASELINE_COLOUR, "-", None),
                                     (scenario, style.SCENARIO_COLOUR, "--", "////")):
            rows = placements[(placements["scenario"] == s) & (placements["placement"] == t)].sort_values("date")
            dates = pd.to_datetime(rows["date"])
            if hatch:
                ax.fill_between(dates, rows["lo"], rows["hi"], facecolor="none", edgecolor=colour, hatch=hatch,
                                lw=0, alpha=0.6)
            else:
                ax.fill_between(dates, rows["lo"], rows["hi"], color="#D0D0D0", lw=0)
            ax.plot(dates, rows["mean"], color=colour, ls=ls, lw=1.5)
        ax.set_title(style.placement_label(t), loc="left", fontsize=8.5)
        ax.xaxis.set_major_locator(mdates.YearLocator(base=years_per_tick))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    for row in axes:
        row[0].set_ylabel("Children (England)")
    fig.legend(handles=[
        Line2D([], [], color=style.BASELINE_COLOUR, lw=1.5, label="Baseline (mean of seeds)"),
        Patch(facecolor="#D0D0D0", label="Baseline, 5th-95th percentile of seeds"),
        Line2D([], [], color=style.SCENARIO_COLOUR, ls="--", lw=1.5, label=f"{scenario_label(scenario)} (mean of seeds)"),
        Patch(facecolor="none", edgecolor=style.SCENARIO_COLOUR, hatch="////", label="its 5th-95th percentile"),
    ], loc="outside lower center", ncols=4)
    return style.finish(fig, stem, title=title, source=_source(source))


# ----------------------------------------------------------------------------- pathways (alluvial)
def _check_moves(moves: Mapping[str, pd.DataFrame]) -> None:
    if not 1 <= len(moves) <= 2:
        raise MissingResults(f"pathways: give one or two moves matrices (a scenario, or baseline and scenario), "
                             f"got {len(moves)}")
    for label, m in moves.items():
        if not isinstance(m, pd.DataFrame) or m.empty or set(m.index) != set(m.columns):
            raise MissingResults(f"pathways: the moves matrix for {label!r} must be a from-type x to-type table "
                                 f"with the same placement types as rows and columns (moves.csv)")
        if not np.isfinite(m.to_numpy(np.float64)).all() or m.to_numpy(np.float64).sum() <= 0:
            raise MissingResults(f"pathways: the moves matrix for {label!r} has no moves to draw")


def _move(source: str, destination: str) -> str:
    if source == destination:
        return f"between {PLACEMENT_NOUNS.get(source, source)}"
    return f"from {PLACEMENT_NOUNS.get(source, source)} to {PLACEMENT_NOUNS.get(destination, destination)}"


def pathways_finding(moves: Mapping[str, pd.DataFrame]) -> str:
    """The most common move; with two matrices, the move the second changes most."""
    _check_moves(moves)
    (first, a), *rest = moves.items()
    if not rest:
        flows = a.stack()
        (f, t), v = flows.idxmax(), flows.max()
        return (f"The most common move is {_move(f, t)}: "
                f"{style.number(v, 'count')} of {style.number(flows.sum(), 'count')} moves a year")
    second, b = rest[0]
    b = b.reindex(index=a.index, columns=a.columns, fill_value=0)
    change = (b - a).stack()
    f, t = change.abs().idxmax()
    return (f"{scenario_label(second)}: the biggest change is in moves {_move(f, t)}, "
            f"{style.number(b.loc[f, t], 'count')} a year against {style.number(a.loc[f, t], 'count')} in the "
            f"{_mid(scenario_label(first))}")


def _band(x0: float, x1: float, top0: float, bottom0: float, top1: float, bottom1: float) -> MplPath:
    """A flow's ribbon: S-curves (cubic Beziers) from a left span to a right span."""
    xm = (x0 + x1) / 2
    verts = [(x0, top0), (xm, top0), (xm, top1), (x1, top1), (x1, bottom1), (xm, bottom1), (xm, bottom0),
             (x0, bottom0), (x0, top0)]
    codes = [MplPath.MOVETO] + [MplPath.CURVE4] * 3 + [MplPath.LINETO] + [MplPath.CURVE4] * 3 + [MplPath.CLOSEPOLY]
    return MplPath(verts, codes)


def _alluvial(ax, m: pd.DataFrame, height: float, title: str) -> None:
    """One panel: sources on the left, destinations on the right, ribbons as wide as the flows.

    ``height`` is the vertical extent shared by the panels, so a move is as thick in each.
    """
    types = list(m.index)
    out, into = m.sum(axis=1), m.sum(axis=0)
    total = float(m.to_numpy().sum())
    gap = height * 0.02
    node_w, x_left, x_right = 0.035, 0.0, 1.0

    def stack(sizes: pd.Series) -> dict[str, float]:
        tops, y = {}, 0.0
        for t in types:
            if sizes.get(t, 0) > 0:
                tops[t] = y
                y += sizes[t] + gap
        return tops

    left, right = stack(out), stack(into)
    used_out = {t: 0.0 for t in types}
    used_in = {t: 0.0 for t in types}
    for f in left:
        for t in right:
            v = float(m.loc[f, t])
            if v <= 0:
                continue
            y0, y1 = left[f] + used_out[f], right[t] + used_in[t]
            colour, _ = style.PLACEMENT_STYLE.get(f, (style.FAINT, ""))
            ax.add_patch(PathPatch(_band(x_left + node_w, x_right, y0, y0 + v, y1, y1 + v), facecolor=colour,
                                   alpha=0.45, lw=0))
            used_out[f] += v
            used_in[t] += v
    for tops, sizes, x, side in ((left, out, x_left, "left"), (right, into, x_right, "right")):
        for t, top in tops.items():
            colour, hatch = style.PLACEMENT_STYLE.get(t, (style.FAINT, ""))
            ax.add_patch(Rectangle((x, top), node_w, sizes[t], facecolor=colour, hatch=hatch, edgecolor=style.INK,
                                   lw=0.5))
            if sizes[t] >= 0.02 * total:  # the smallest nodes stay unlabelled: the legend names them
                lx, ha = (x - 0.02, "right") if side == "left" else (x + node_w + 0.02, "left")
                ax.text(lx, top + sizes[t] / 2, f"{style.placement_label(t)}  {sizes[t]:,.0f}", ha=ha,
                        va="center", fontsize=7, color=style.INK)
    ax.text(x_left + node_w / 2, -gap * 1.5, "From", ha="center", va="bottom", fontsize=8, fontweight="bold")
    ax.text(x_right + node_w / 2, -gap * 1.5, "To", ha="center", va="bottom", fontsize=8, fontweight="bold")
    ax.set_xlim(-0.75, 1.8)
    ax.set_ylim(height, -gap * 4)
    ax.set_axis_off()
    ax.set_title(f"{title}: {total:,.0f} moves a year", loc="left")


@style.theme()
def pathways(moves: Mapping[str, pd.DataFrame], stem: str | Path, *, source: Provenance | str) -> list[Path]:
    """How children move between placement types over the horizon: an alluvial chart of moves a year
    (England) from each type (left) to each type (right), for one scenario or the baseline and one other."""
    title = pathways_finding(moves)
    types = list(next(iter(moves.values())).index)
    height = max(float(m.to_numpy().sum()) + 0.02 * m.to_numpy().sum() * len(types) for m in moves.values())
    fig, axes = style.figure(6.2 * len(moves), 6.4, 1, len(moves))
    for ax, (label, m) in zip(axes[0], moves.items()):
        m = m.reindex(index=types, columns=types, fill_value=0).astype(np.float64)
        _alluvial(ax, m, height, scenario_label(label))
    fig.legend(handles=[Patch(facecolor=style.PLACEMENT_STYLE.get(t, (style.FAINT, ""))[0],
                              hatch=style.PLACEMENT_STYLE.get(t, (style.FAINT, ""))[1], edgecolor=style.INK, lw=0.5,
                              label=style.placement_label(t)) for t in types],
               loc="outside lower center", ncols=5, title="Placement type (ribbons take the colour they leave)",
               title_fontsize=8)
    return style.finish(fig, stem, title=title, source=_source(source))


# ----------------------------------------------------------------------------- calibration fit
LIMITS = (1 / 30, 30)  # the calibration chart's range of model / published ratios


def _fit_rows(fit: pd.DataFrame) -> pd.DataFrame:
    """Targets with a published and a model value, as ratios of the published figure."""
    require_columns(fit, FIT_COLUMNS, "calibration fit: fit.csv")
    rows = fit[np.isfinite(fit["model"].astype(float)) & (fit["published"].astype(float) > 0)].copy()
    if rows.empty:
        raise MissingResults("calibration fit: no target in fit.csv has both a published figure and a model value")
    p = rows["published"].astype(float)
    rows["ratio"], rows["ratio_lo"], rows["ratio_hi"] = rows["model"] / p, rows["lo"] / p, rows["hi"] / p
    if {"band_lo", "band_hi"} <= set(rows.columns):  # the report's own band, one-sided for bounds
        rows["band_lo"], rows["band_hi"] = rows["band_lo"] / p, rows["band_hi"] / p
    else:
        rows["band_lo"], rows["band_hi"] = 1 - rows["tolerance"] / p, 1 + rows["tolerance"] / p
    rows["met"] = rows["within"].map(lambda v: str(v).strip().lower() == "true")
    return rows


def fit_finding(fit: pd.DataFrame) -> str:
    """How many targets the model meets, and the one it misses by most."""
    rows = _fit_rows(fit)
    met = int(rows["met"].sum())
    text = f"The model meets {met} of {len(rows)} calibration targets"
    missed = rows[~rows["met"]]
    if len(missed):
        far = missed.loc[np.log(missed["ratio"].clip(*LIMITS)).abs().idxmax()]
        text += (f"; furthest off: {far['id']} ({far['period']}), model {style.number(far['model'], 'value')} "
                 f"against {style.number(far['published'], 'value')} published")
    return text


@style.theme()
def calibration_fit(fit: pd.DataFrame, stem: str | Path, *, source: Provenance | str) -> list[Path]:
    """Every calibration target: the model's value as a multiple of the published figure (log scale),
    its range over seeds, and the target's tolerance band; filled where within tolerance."""
    title = fit_finding(fit)
    rows = _fit_rows(fit).reset_index(drop=True)
    fig, axes = style.figure(8.5, 1.8 + 0.2 * len(rows))
    ax = axes[0][0]
    y = np.arange(len(rows))
    lo_lim, hi_lim = LIMITS
    band_lo = rows["band_lo"].clip(lo_lim, hi_lim)
    band_hi = rows["band_hi"].replace(np.inf, hi_lim).clip(lo_lim, hi_lim)
    ax.barh(y, band_hi - band_lo, left=band_lo, height=0.7, color="#E3E3E3", lw=0, zorder=1)
    ax.hlines(y, rows["ratio_lo"].clip(lo_lim, hi_lim), rows["ratio_hi"].clip(lo_lim, hi_lim), color=style.INK,
              lw=1.0, zorder=2)
    ratio = rows["ratio"].clip(lo_lim, hi_lim)
    for i, r in rows.iterrows():
        off = r["ratio"] < lo_lim or r["ratio"] > hi_lim
        marker = ("<" if r["ratio"] < lo_lim else ">") if off else "o"
        ax.plot(ratio[i], i, marker=marker, ms=5.5, mec=style.INK, mew=1.0, mfc=style.INK if r["met"] else "white",
                zorder=3)
    ax.axvline(1, color=style.INK, lw=0.8, zorder=2)
    ax.set_xscale("log")
    ax.set_xlim(lo_lim / 1.2, hi_lim * 1.2)
    ticks = [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20]
    ax.set_xticks(ticks, [f"{t:g}×" for t in ticks])
    ax.minorticks_off()
    ax.set_yticks(y, [f"{i}  {p}" for i, p in zip(rows["id"], rows["period"])], fontsize=6.5)
    ax.set_ylim(len(rows) - 0.4, -0.6)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("Model value as a multiple of the published figure (log scale)")
    fig.legend(handles=[
        Line2D([], [], ls="none", marker="o", mfc=style.INK, mec=style.INK, label="within tolerance"),
        Line2D([], [], ls="none", marker="o", mfc="white", mec=style.INK, label="outside tolerance"),
        Line2D([], [], ls="none", marker="<", mfc="white", mec=style.INK, label="off the scale"),
        Line2D([], [], color=style.INK, label="range over seeds"),
        Patch(facecolor="#E3E3E3", label="tolerance band"),
    ], loc="outside lower center", ncols=5)
    return style.finish(fig, stem, title=title, source=_source(source))


# ----------------------------------------------------------------------------- sensitivity indices
def _sensitivity_kind(indices: pd.DataFrame) -> str:
    cols = set(indices.columns)
    if set(SOBOL_COLUMNS) <= cols:
        return "Sobol"
    if set(MORRIS_COLUMNS) <= cols:
        return "Morris"
    missing = next(c for c in MORRIS_COLUMNS if c not in cols)
    raise MissingResults(f"sensitivity: the indices lack column {missing!r} (expected Morris columns "
                         f"{', '.join(MORRIS_COLUMNS)} or Sobol columns {', '.join(SOBOL_COLUMNS)})")


def sensitivity_finding(indices: pd.DataFrame) -> str:
    """The parameter that is most influential for the most outcomes."""
    key = "ST" if _sensitivity_kind(indices) == "Sobol" else "mu_star"
    top = indices.loc[indices.groupby("outcome", sort=False)[key].idxmax()]
    counts = top["parameter"].value_counts(sort=False)  # in order of first appearance: ties go to the first
    lead = max(counts.index, key=lambda p: counts[p])
    n = len(top)
    if n == 1:
        return f"{lead} is the most influential parameter for {top['outcome'].iloc[0]}"
    return f"{lead} is the most influential parameter for {counts[lead]} of {n} outcomes"


@style.theme()
def sensitivity(indices: pd.DataFrame, stem: str | Path, *, source: Provenance | str, top: int = 8) -> list[Path]:
    """Sensitivity indices, one panel per outcome, the ``top`` parameters of each.

    Morris: mu* (mean absolute elementary effect, in the outcome's units) with its confidence interval
    as bars, sigma (spread of effects: interactions or non-linearity) as hollow diamonds.  Sobol: first-
    order (S1, solid) and total (ST, hatched) indices with their confidence intervals.
    """
    kind = _sensitivity_kind(indices)
    title = sensitivity_finding(indices)
    outcomes = list(dict.fromkeys(indices["outcome"]))
    ncols = min(3, len(outcomes))
    nrows = math.ceil(len(outcomes) / ncols)
    fig, axes = style.figure(4.2 * ncols, 1.2 + nrows * (0.3 * top + 0.9), nrows, ncols)
    for ax in axes.flat[len(outcomes):]:
        ax.set_visible(False)
    for ax, outcome in zip(axes.flat, outcomes):
        rows = indices[indices["outcome"] == outcome]
        rows = rows.nlargest(top, "ST" if kind == "Sobol" else "mu_star").iloc[::-1]
        y = np.arange(len(rows))
        if kind == "Sobol":
            ax.barh(y + 0.2, rows["S1"], xerr=rows["S1_conf"], height=0.38, color=style.PALETTE[0],
                    edgecolor=style.INK, lw=0.4, ecolor=style.INK, capsize=2, label="S1, first order")
            ax.barh(y - 0.2, rows["ST"], xerr=rows["ST_conf"], height=0.38, color=style.PALETTE[1],
                    hatch="///", edgecolor=style.INK, lw=0.4, ecolor=style.INK, capsize=2, label="ST, total")
            ax.set_xlabel("Share of the outcome's variance")
        else:
            ax.barh(y, rows["mu_star"], xerr=rows["mu_star_conf"], height=0.6, color=style.PALETTE[4],
                    edgecolor=style.INK, lw=0.4, ecolor=style.INK, capsize=2, label="μ*, mean absolute effect")
            ax.plot(rows["sigma"], y, ls="none", marker="D", ms=4.5, mfc="white", mec=style.INK,
                    label="σ, spread of effects")
            ax.set_xlabel("Effect on the outcome (its own units)")
        ax.xaxis.set_major_formatter(lambda v, _: style.compact(v))
        ax.set_yticks(y, rows["parameter"], fontsize=6.5)
        ax.grid(axis="y", visible=False)
        ax.set_title(outcome.replace("_", " "), loc="left")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(handles),
               title=f"{kind} indices (bars' whiskers: confidence intervals)", title_fontsize=8)
    return style.finish(fig, stem, title=title, source=_source(source))

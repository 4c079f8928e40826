"""``python -m analysis.briefing DIR``: a comparison's results as a briefing pack.

    python -m analysis.briefing outputs/2025-01-01/12-00-00                 # DIR/briefing/
    python -m analysis.briefing DIR --out briefing --scenario early_help    # scenario for the time charts
    python -m analysis.briefing DIR --calibration outputs/calibration      # fit.csv, morris.csv / sobol.csv

DIR is an output folder of ``python -m sim.compare``.  The pack (``--out``, default DIR/briefing) holds:

    report.html, report.pdf     the scenarios, method, calibration status, uncertainty and findings in plain
                                language, with every chart (the HTML is self-contained)
    charts/<name>.png, .svg     each chart at 300 dpi and as vector graphics
    tables/<name>.csv, .md      the numbers behind the charts

Calibration results are looked for in DIR/calibration/ (or ``--calibration PATH``): the fit report's
fit.csv and Morris or Sobol sensitivity indices, found by their columns.  Without them the report says
that calibration results were not supplied.  A DIR that is not a comparison folder stops the command
with one line naming what is missing (exit code 2) and nothing written: the pack is built in a
temporary folder and renamed into place only when complete.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import html
import os
import shutil
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import PIL.Image
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure as MplFigure

from analysis import charts, style
from analysis.results import (COST_WITH_IMPLEMENTATION, PAYER_COST_WITH_IMPLEMENTATION, CalibrationResults,
                              ComparisonResults, MissingResults, fit_summary, load_calibration,
                              load_comparison, model_version, scenario_description, scenario_label, seeds_text)
from sim.compare import BASELINE, HEADLINE, LEVEL
from sim.config import ConfigError
from sim.data import load_published
from sim.placements import PAYERS

PERCENT = f"{LEVEL:.0%}"
NOT_CALIBRATED = "Not calibrated: defaults hand-set."
# The headline table: compare's headline metrics, and cost with the scenarios' implementation cost.
HEADLINE_METRICS = HEADLINE[:5] + [(COST_WITH_IMPLEMENTATION, "Cost a year, implementation included", "gbp_m")] \
    + HEADLINE[5:]


# ----------------------------------------------------------------------------- the report's pieces
@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    align: list[str]  # "l" or "r" per column
    note: str = ""


@dataclass
class Chart:
    name: str
    title: str  # the finding
    caption: str  # how to read it
    paths: list[Path] = field(default_factory=list)


Block = Heading | Paragraph | Bullets | Table | Chart


# ----------------------------------------------------------------------------- tables
def markdown_table(table: Table) -> str:
    marks = {"l": ":---", "r": "---:"}
    lines = ["| " + " | ".join(table.header) + " |", "| " + " | ".join(marks[a] for a in table.align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in table.rows]
    return "\n".join(lines) + "\n"


def _write_table(folder: Path, name: str, frame: pd.DataFrame, table: Table) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / f"{name}.csv", index=False)
    note = f"{table.note}\n\n" if table.note else ""
    (folder / f"{name}.md").write_text(note + markdown_table(table), encoding="utf-8")


def headline_tables(r: ComparisonResults) -> tuple[pd.DataFrame, Table]:
    """Every headline metric per scenario: the mean over seeds and the paired difference from the baseline."""
    t = r.table.set_index(["scenario", "metric"])
    frame = r.table[r.table["metric"].isin([m for m, _, _ in HEADLINE_METRICS])].copy()
    labels = {m: label for m, label, _ in HEADLINE_METRICS}
    frame.insert(1, "scenario_label", frame["scenario"].map(scenario_label))
    frame.insert(3, "measure", frame["metric"].map(labels))
    rows = []
    for s in r.scenarios:
        row = [scenario_label(s)]
        for m, _, kind in HEADLINE_METRICS:
            if (s, m) not in t.index:
                row.append("n/a")
                continue
            x = t.loc[(s, m)]
            cell = style.number(x["mean"], kind)
            if s != BASELINE:
                cell += f" ({style.interval(x['diff_mean'], x['diff_lo'], x['diff_hi'], kind)})"
            row.append(cell)
        rows.append(row)
    note = (f"Each cell: the mean over {len(r.seeds)} runs, then for a scenario its difference from the baseline "
            f"(mean paired difference) with its {PERCENT} confidence interval. Shares in %, their differences in "
            f"percentage points (pp); money in 2024 pounds a year, for England.")
    return frame, Table(["Scenario"] + [label for _, label, _ in HEADLINE_METRICS], rows,
                        ["l"] + ["r"] * len(HEADLINE_METRICS), note)


def change_tables(r: ComparisonResults) -> tuple[pd.DataFrame, Table]:
    """Restriction, cost and stability as % change from the baseline, with intervals: the report's table."""
    records, rows = [], []
    for s in r.scenarios[1:]:
        row = [scenario_label(s)]
        for metric, heading, _ in charts.EFFECTS:
            pct = charts.percent_change(r.table, metric).loc[s]
            records.append({"scenario": s, "dimension": heading, "metric": metric, "pct_change": pct["mean"],
                            "pct_lo": pct["lo"], "pct_hi": pct["hi"]})
            row.append(style.interval(pct["mean"], pct["lo"], pct["hi"], "pct"))
        rows.append(row)
    header = ["Scenario"] + [heading for _, heading, _ in charts.EFFECTS]
    measures = "; ".join(f"{heading.lower()}: {what}" for _, heading, what in charts.EFFECTS)
    note = (f"% change from the baseline, with the paired {PERCENT} confidence interval in brackets ({measures}).")
    return pd.DataFrame(records), Table(header, rows, ["l", "r", "r", "r"], note)


def payer_tables(r: ComparisonResults) -> tuple[pd.DataFrame, Table]:
    """Each scenario's change in cost a year by payer, implementation included, and the net."""
    t = r.table.set_index(["scenario", "metric"])
    records, rows = [], []
    for s in r.scenarios[1:]:
        for payer, metric in [(p, f"{PAYER_COST_WITH_IMPLEMENTATION}.{p}") for p in PAYERS] + \
                             [("all payers", COST_WITH_IMPLEMENTATION)]:
            x = t.loc[(s, metric)]
            records.append({"scenario": s, "payer": payer, "change_gbp_a_year": x["diff_mean"],
                            "lo": x["diff_lo"], "hi": x["diff_hi"]})
            name = style.payer_label(payer) if payer in PAYERS else "**Net, all payers**"
            rows.append([scenario_label(s) if payer == PAYERS[0] else "", name,
                         style.interval(x["diff_mean"], x["diff_lo"], x["diff_hi"], "gbp_m")])
    note = (f"Change in cost a year against the baseline, by payer, the scenario's implementation cost included "
            f"(2024 pounds, England; negative: a saving), with the paired {PERCENT} interval.")
    return pd.DataFrame(records), Table(["Scenario", "Payer", "Change a year"], rows, ["l", "l", "r"], note)


def fit_tables(fit: pd.DataFrame) -> tuple[pd.DataFrame, Table]:
    frame = fit[[c for c in ("id", "measure", "period", "published", "model", "lo", "hi", "tolerance", "within",
                             "population") if c in fit.columns]]
    def measure(x: pd.Series) -> str:  # the report's description of the target where it gives one
        return x["population"] if isinstance(x.get("population"), str) else str(x["measure"])

    within = {"true": "yes", "false": "no"}
    rows = [[str(x["id"]), measure(x), str(x["period"]), style.number(x["published"], "value"),
             style.number(x["model"], "value"), within.get(str(x["within"]).lower(), "not covered")]
            for _, x in frame.iterrows()]
    return frame, Table(["Id", "Measure", "Period", "Published", "Model", "Within tolerance"], rows,
                        ["l", "l", "l", "r", "r", "l"])


def sensitivity_tables(indices: pd.DataFrame, method: str, top: int = 5) -> tuple[pd.DataFrame, Table]:
    key = "ST" if method == "Sobol" else "mu_star"
    ranked = (indices.sort_values(key, ascending=False).groupby("outcome", sort=False).head(top)
              .sort_values(["outcome", key], ascending=[True, False]))
    rows = [[str(x["outcome"]), str(x["parameter"]), style.number(x[key], "value")] for _, x in ranked.iterrows()]
    label = "ST (total index)" if method == "Sobol" else "μ* (mean absolute effect)"
    return ranked, Table(["Outcome", "Parameter", label], rows, ["l", "l", "r"],
                         f"The {top} most influential parameters for each outcome ({method}).")


# ----------------------------------------------------------------------------- the report's text
def calibration_status(r: ComparisonResults, cal: CalibrationResults) -> str:
    """One line: calibrated (the runs drew parameters from a posterior), the fit report's finding, or not."""
    if r.posterior:
        return f"calibrated: every run's parameters are a draw from the posterior in {r.posterior}."
    return NOT_CALIBRATED if cal.fit is None else charts.fit_finding(cal.fit) + "."


def calibration_text(r: ComparisonResults, cal: CalibrationResults, looked_in: Path) -> list[Block]:
    """The calibration status in plain words: the comparison's own record first, then the calibration files."""
    blocks: list[Block] = []
    if r.posterior:
        blocks.append(Paragraph(
            f"Calibrated: each run drew its parameters from the calibration's posterior ({r.posterior}); seed k of "
            f"every scenario used draw k, so scenarios stay paired and the intervals below cover the uncertainty "
            f"in those parameters as well as chance."))
    if cal.fit is None and not r.posterior:
        blocks.append(Paragraph(
            f"{NOT_CALIBRATED} Calibration results were not supplied (no fit.csv in {looked_in}). The model's "
            f"parameters are published figures where the data have them and assumptions set by hand elsewhere; "
            f"they have not been fitted to the published statistics. Read the levels as indicative: the "
            f"differences between scenarios, which share those assumptions, are the firmer result."))
    elif cal.fit is not None:
        n = fit_summary(cal.fit)
        checked = n["met"] + n["missed"]
        verdict = ("The model reproduces most of the published figures it was checked against."
                   if checked and n["met"] >= 0.8 * checked else
                   "The model does not yet reproduce most of the published figures it was checked against, so "
                   "read the levels as indicative; the differences between scenarios are the firmer result.")
        blocks.append(Paragraph(
            f"The calibration report ({cal.fit_file}) checks the model against {n['targets']} published figures: "
            f"{n['met']} are within their tolerance, {n['missed']} outside it and {n['not_covered']} not covered "
            f"by its runs. {verdict} The comparison's own settings are listed under Sources."))
    if cal.sensitivity is not None:
        blocks.append(Paragraph(
            f"A {cal.method} sensitivity analysis ({cal.sensitivity_file}) varied "
            f"{cal.sensitivity['parameter'].nunique()} parameters: {charts.sensitivity_finding(cal.sensitivity)}."))
    return blocks


def method_text(r: ComparisonResults) -> Paragraph:
    info = r.info
    draws = (f" Each seed also fixed the model's uncertain parameters to one draw from the calibration's posterior "
             f"({r.posterior}), the same in every scenario." if r.posterior else "")
    return Paragraph(
        f"The figures come from {model_version()}, an agent-based model of children aged 10 to 17 in care or on "
        f"the edge of care in England. Each child is simulated week by week; the agencies around them (children's "
        f"social care, mental-health services, the courts, schools, youth justice) respond by set rules, and "
        f"placements are finite, so children wait, move or go out of area. Each scenario was run "
        f"{len(r.seeds)} times ({seeds_text(r.seeds)}) at a population scale of {info['population_scale']:g} of "
        f"England, with every figure scaled up to England, over {info['years']:g} years from "
        f"{info['start_date']}. Each run of a scenario uses the same random numbers as the baseline run with the "
        f"same seed (common random numbers), so the difference between the two is the scenario's effect rather "
        f"than chance.{draws} We report the average of those paired differences and its {PERCENT} confidence interval "
        f"(a t-interval over the pairs). Money is in 2024 pounds; a scenario's cost includes its declared "
        f"implementation cost.")


def uncertainty_text(r: ComparisonResults) -> Paragraph:
    restriction = charts.percent_change(r.table, charts.RESTRICTION)
    unclear = [scenario_label(s) for s, x in restriction.iterrows() if not charts.clear(x["lo"], x["hi"])]
    unclear_text = (f" For {', '.join(unclear)}, the interval for deprivation of liberty includes no change: "
                    f"with these runs their effect on it cannot be told from none." if unclear else "")
    few = (f" With only {len(r.seeds)} runs per scenario the intervals are wide; rerun with more seeds "
           f"(compare.seeds=20) before quoting figures." if len(r.seeds) < 10 else "")
    covers = ("the model's own chance variation (which children reach crisis, which placements break down) and "
              "the uncertainty in the calibrated parameters (each seed ran with its own posterior draw); it does not "
              "cover uncertainty in the model's structure or in the published data" if r.posterior else
              "only the model's own chance variation (which children reach crisis, which placements break down); "
              "it does not cover uncertainty in the model's parameters (see Calibration), in its structure, or in "
              "the published data")
    return Paragraph(
        f"Each difference comes with a {PERCENT} confidence interval from the paired runs. It reflects {covers}."
        f"{unclear_text} The bands in the time charts show how much a single run varies (5th to 95th "
        f"percentile of runs). The runs simulate a share of England and scale the figures up; figures at reduced "
        f"scale differ somewhat from national runs.{few}")


def sources_text(r: ComparisonResults) -> list[Block]:
    try:
        published = load_published(r.data_file)
    except ConfigError:
        published = {}
    items = []
    for i in r.data_ids:
        row = published.get(i)
        items.append(f"{i}: {row['measure']}, {row['geography']}, {row['period']} ({row['publisher']})" if row
                     else f"{i} (not found in {r.data_file})")
    settings = ", ".join(r.overrides) if r.overrides else "not recorded (a comparison run from Python)"
    return [
        Paragraph(f"Model: {model_version()}, the version that produced this briefing (a comparison folder does "
                  f"not record the model version). Comparison: {r.folder.resolve()}; its settings: {settings}."),
        Paragraph(f"Published statistics the model's configuration and scenarios cite ({r.data_file}):"),
        Bullets(items),
    ]


# ----------------------------------------------------------------------------- building the pack
def comparison_charts(r: ComparisonResults, scenario: str, folder: Path) -> list[Chart]:
    src = r.provenance()
    n = len(r.seeds)
    pair = {BASELINE: r.moves[BASELINE], scenario: r.moves[scenario]}
    specs = [
        ("scenario_effects", charts.effects_finding(r.table),
         (f"Each dot is a scenario's average difference from the baseline over {n} paired runs, as a percentage of "
          f"the baseline; the bar is its {PERCENT} confidence interval. Filled dots: the interval excludes no change."),
         lambda stem: charts.scenario_effects(r.table, stem, source=src)),
        ("cost_restriction", charts.tradeoff_finding(r.table),
         (f"Each marker is a scenario's change in child-weeks deprived of liberty a year (across) and in cost a "
          f"year including its implementation cost (up), with {PERCENT} intervals. The shaded corner is less "
          f"restriction at lower cost."),
         lambda stem: charts.cost_restriction(r.table, stem, source=src)),
        ("cost_by_payer", charts.payer_finding(r.table),
         (f"Each bar splits a scenario's change in cost a year by who pays, implementation included: left of zero a "
          f"saving, right extra spend. The diamond is the net change for all payers, with its {PERCENT} interval."),
         lambda stem: charts.cost_by_payer(r.table, stem, source=src)),
        ("placements_over_time", charts.placements_finding(r.placements, scenario),
         (f"Children in each placement type each week (England), the baseline (solid) against "
          f"{scenario_label(scenario)} (dashed): lines are means over {n} runs, bands the 5th-95th percentile of runs."),
         lambda stem: charts.placements_over_time(r.placements, stem, scenario=scenario, source=src)),
        ("pathways", charts.pathways_finding(pair),
         (f"Moves a year between placement types (England, mean of {n} runs), the baseline and "
          f"{scenario_label(scenario)}: each ribbon runs from the placement a child leaves (left) to the one they "
          f"move to (right), as wide as the number of moves."),
         lambda stem: charts.pathways(pair, stem, source=src)),
    ]
    return [Chart(name, title, caption, draw(folder / name)) for name, title, caption, draw in specs]


def calibration_charts(cal: CalibrationResults, folder: Path) -> list[Chart]:
    out = []
    if cal.fit is not None:
        out.append(Chart("calibration_fit", charts.fit_finding(cal.fit),
                         "Each row is a published figure the model is checked against: the dot is the model's value "
                         "as a multiple of the published one (1x is a match), the line its range over seeds, the grey "
                         "band the target's tolerance. Filled dots are within tolerance.",
                         charts.calibration_fit(cal.fit, folder / "calibration_fit", source=cal.fit_provenance())))
    if cal.sensitivity is not None:
        how = ("bars are first-order (S1) and total (ST) Sobol indices: the share of an outcome's variance due to a "
               "parameter alone and with its interactions" if cal.method == "Sobol" else
               "bars are Morris mu* (the mean absolute effect of changing a parameter, in the outcome's units), "
               "diamonds sigma (how much that effect varies: interactions or non-linearity)")
        out.append(Chart("sensitivity", charts.sensitivity_finding(cal.sensitivity),
                         f"For each outcome, the most influential parameters: {how}.",
                         charts.sensitivity(cal.sensitivity, folder / "sensitivity",
                                            source=cal.sensitivity_provenance())))
    return out


def report_blocks(r: ComparisonResults, cal: CalibrationResults, cal_folder: Path, results_charts: list[Chart],
                  calibration_charts: list[Chart], tables: dict[str, Table]) -> list[Block]:
    status = calibration_status(r, cal)
    blocks: list[Block] = [
        Heading("Policy scenarios for children with complex needs in care", 1),
        Paragraph(f"A briefing from the care-pathways model, produced {dt.date.today():%d %B %Y} from "
                  f"{r.folder.name}. {len(r.scenarios) - 1} scenarios against the baseline, {seeds_text(r.seeds)} "
                  f"each, {r.info['years']:g} years from {r.info['start_date']}."),
        Heading("Key findings"),
        Bullets([f"{c.title}." for c in results_charts] + [f"Calibration: {status}"]),
        Heading("What was compared"),
        Bullets([f"{scenario_label(s)}: {scenario_description(s)}" for s in r.scenarios]),
        Heading("How the figures were made"),
        method_text(r),
        Heading("Calibration"),
        *calibration_text(r, cal, cal_folder),
        Heading("How sure we can be"),
        uncertainty_text(r),
        Heading("Results"),
        tables["changes"],
        Paragraph("Every headline measure, and cost by payer, are in the tables folder (CSV and Markdown)."),
        Heading("Charts"),
        *results_charts,
        *calibration_charts,
        Heading("Sources"),
        *sources_text(r),
    ]
    return blocks


# ----------------------------------------------------------------------------- HTML
CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.6em; vertical-align: top; }
th { background: #f2f2f2; } td.r, th.r { text-align: right; }
figure { margin: 1.5em 0; } figure img { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; } .note { font-size: 0.85em; color: #555; }
.wide { overflow-x: auto; }
"""


def _html_block(block: Block, root: Path) -> str:
    e = html.escape
    if isinstance(block, Heading):
        return f"<h{block.level}>{e(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return f"<p>{e(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{e(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        head = "".join(f'<th class="{a}">{e(h)}</th>' for h, a in zip(block.header, block.align))
        body = "".join("<tr>" + "".join(f'<td class="{a}">{e(c.strip("*"))}</td>' for c, a in zip(row, block.align))
                       + "</tr>" for row in block.rows)
        note = f'<p class="note">{e(block.note)}</p>' if block.note else ""
        return f'{note}<div class="wide"><table><tr>{head}</tr>{body}</table></div>'
    png, svg = block.paths
    data = base64.b64encode(svg.read_bytes()).decode("ascii")
    links = f'<a href="{svg.relative_to(root)}">SVG</a>, <a href="{png.relative_to(root)}">PNG (300 dpi)</a>'
    return (f'<figure><img alt="{e(block.title)}" src="data:image/svg+xml;base64,{data}">'
            f"<figcaption><strong>{e(block.title)}.</strong> {e(block.caption)} ({links})</figcaption></figure>")


def write_html(blocks: list[Block], path: Path) -> None:
    """A self-contained page: charts embedded as SVG, with links to the files beside it."""
    title = next(b.text for b in blocks if isinstance(b, Heading))
    body = "\n".join(_html_block(b, path.parent) for b in blocks)
    path.write_text(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
                    f"</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n", encoding="utf-8")


# ----------------------------------------------------------------------------- PDF (matplotlib only)
class PdfReport:
    """A4 pages of flowing text, tables and charts, drawn with matplotlib: no other tool chain needed."""

    SIZE = (8.27, 11.69)
    MARGIN = 0.8  # inches
    EM = 0.52  # average character width of DejaVu Sans, in ems, for wrapping
    DPI = 300  # charts' resolution on the page

    def __init__(self, path: Path, title: str):
        self.pdf = PdfPages(path, metadata={"Title": title, "Creator": "care-pathways analysis.briefing",
                                            "CreationDate": None})
        self.fig: MplFigure | None = None
        self.y = 0.0  # inches from the top of the page

    @property
    def width(self) -> float:
        return self.SIZE[0] - 2 * self.MARGIN

    def _room(self, height: float) -> None:
        """Start a new page unless ``height`` inches still fit on this one."""
        if self.fig is None or self.y + height > self.SIZE[1] - self.MARGIN:
            self._flush()
            self.fig = MplFigure(figsize=self.SIZE)
            self.y = self.MARGIN

    def _flush(self) -> None:
        if self.fig is not None:
            self.pdf.savefig(self.fig)

    def _line(self, x: float, text: str, size: float, **kw) -> None:
        self.fig.text(x / self.SIZE[0], 1 - self.y / self.SIZE[1], text, fontsize=size, va="top", **kw)

    def text(self, text: str, size: float = 9.5, indent: float = 0.0, bullet: bool = False, **kw) -> None:
        chars = int((self.width - indent) * 72 / (size * self.EM))
        step = size * 1.4 / 72
        for i, line in enumerate(textwrap.wrap(text, chars) or [""]):
            self._room(step)
            if bullet and i == 0:
                self._line(self.MARGIN + indent - 0.15, "•", size)
            self._line(self.MARGIN + indent, line, size, **kw)
            self.y += step
        self.y += step * 0.4

    def table(self, table: Table) -> None:
        if table.note:
            self.text(table.note, size=8, color="#555555")
        cells = [table.header] + [[c.strip("*") for c in row] for row in table.rows]
        chars = [max(len(row[j]) for row in cells) + 2 for j in range(len(table.header))]
        size = min(8.0, self.width * 72 / (sum(chars) * self.EM * 1.05))
        step = size * 1.5 / 72
        widths = [c * size * self.EM * 1.05 / 72 for c in chars]
        for i, row in enumerate(cells):
            self._room(step)
            x = self.MARGIN
            for cell, w, align in zip(row, widths, table.align):
                right = align == "r"
                self._line(x + (w if right else 0), cell, size, ha="right" if right else "left",
                           fontweight="bold" if i == 0 else "normal")
                x += w
            self.y += step
        self.y += step

    def chart(self, chart: Chart) -> None:
        with PIL.Image.open(chart.paths[0]) as png:
            image = png.convert("RGB")
        w, h = image.size
        height = min(self.width * h / w, self.SIZE[1] - 2 * self.MARGIN - 1.2)
        width = height * w / h
        # A chart shrunk onto the page needs fewer pixels than its 300 dpi file: resample once, well.
        if w > width * self.DPI:
            image = image.resize((round(width * self.DPI), round(height * self.DPI)), PIL.Image.LANCZOS)
        self._room(height + 0.9)
        ax = self.fig.add_axes([self.MARGIN / self.SIZE[0], 1 - (self.y + height) / self.SIZE[1],
                                width / self.SIZE[0], height / self.SIZE[1]])
        ax.imshow(np.asarray(image), interpolation="none")  # "none": embedded as it is, not resampled again
        ax.set_axis_off()
        self.y += height + 0.1
        self.text(chart.caption, size=8, color="#444444")

    def add(self, block: Block) -> None:
        if isinstance(block, Heading):
            size = 15 if block.level == 1 else 11.5
            self._room(0.9)
            self.y += 0.12
            self.text(block.text, size=size, fontweight="bold")
        elif isinstance(block, Paragraph):
            self.text(block.text)
        elif isinstance(block, Bullets):
            for item in block.items:
                self.text(item, indent=0.2, bullet=True)
        elif isinstance(block, Table):
            self.table(block)
        else:
            self.chart(block)

    def close(self) -> None:
        self._flush()
        self.pdf.close()


def write_pdf(blocks: list[Block], path: Path) -> None:
    title = next(b.text for b in blocks if isinstance(b, Heading))
    with style.theme():
        report = PdfReport(path, title)
        try:
            for block in blocks:
                report.add(block)
        finally:
            report.close()


# ----------------------------------------------------------------------------- the pack
def build(r: ComparisonResults, cal: CalibrationResults, cal_folder: Path, out: Path, scenario: str) -> list[Path]:
    """Write charts, tables and the report into ``out`` (an empty folder); the report files."""
    chart_dir, table_dir = out / "charts", out / "tables"
    results_charts = comparison_charts(r, scenario, chart_dir)
    fit_charts = calibration_charts(cal, chart_dir)
    tables: dict[str, Table] = {}
    makers = {"headline": lambda: headline_tables(r), "changes": lambda: change_tables(r),
              "cost_by_payer": lambda: payer_tables(r)}
    if cal.fit is not None:
        makers["calibration_fit"] = lambda: fit_tables(cal.fit)
    if cal.sensitivity is not None:
        makers["sensitivity"] = lambda: sensitivity_tables(cal.sensitivity, cal.method)
    for name, make in makers.items():
        frame, table = make()
        _write_table(table_dir, name, frame, table)
        tables[name] = table
    blocks = report_blocks(r, cal, cal_folder, results_charts, fit_charts, tables)
    write_html(blocks, out / "report.html")
    write_pdf(blocks, out / "report.pdf")
    return [out / "report.html", out / "report.pdf"]


def default_scenario(r: ComparisonResults) -> str:
    """The scenario the time charts show by default: the one that cuts deprivation of liberty most."""
    return str(charts.percent_change(r.table, charts.RESTRICTION)["mean"].idxmin())


def move_into_place(staging: Path, out: Path) -> None:
    """Move the finished pack into place, replacing an older one only once the new one is complete."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m analysis.briefing", description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", type=Path, help="an output folder of python -m sim.compare")
    ap.add_argument("--out", type=Path, default=None, help="the pack's folder (default DIR/briefing)")
    ap.add_argument("--calibration", type=Path, default=None,
                    help="folder (or CSV) with fit.csv and sensitivity indices (default DIR/calibration)")
    ap.add_argument("--scenario", default=None,
                    help="the scenario the placement and pathway charts set against the baseline "
                         "(default: the one that cuts deprivation of liberty most)")
    return ap.parse_args(argv)


def fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        results = load_comparison(args.dir)
        cal_folder = args.calibration or args.dir / "calibration"
        # A folder named on the command line must exist; the default one is optional.
        cal = load_calibration(cal_folder) if args.calibration or cal_folder.exists() else CalibrationResults(cal_folder)
    except MissingResults as exc:
        return fail(str(exc))
    scenario = args.scenario or default_scenario(results)
    if scenario == BASELINE or scenario not in results.scenarios:
        return fail(f"--scenario must be one of the compared scenarios other than the baseline "
                    f"{results.scenarios[1:]}, got {scenario!r}")
    out = args.out or args.dir / "briefing"
    staging = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        staging.mkdir(parents=True)
        reports = build(results, cal, cal_folder, staging, scenario)
        move_into_place(staging, out)
    except MissingResults as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot write the briefing to {out}: {exc}", 1)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"Briefing pack: {out.resolve()}")
    for p in reports:
        print(f"  {p.name}")
    print(f"  charts/ ({len(list((out / 'charts').glob('*.png')))} charts, PNG and SVG), tables/ (CSV and Markdown)")
    if cal.fit is None:
        print(f"  calibration results were not supplied (looked in {cal_folder}): the report says so")
    return 0


if __name__ == "__main__":
    sys.exit(main())

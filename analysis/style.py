"""The house style of every briefing chart: one palette, hatches and markers, fonts, the source line, saving.

Colours are Paul Tol's "muted" scheme (colour-blind safe).  Colour never carries meaning alone: every
category also has a hatch (areas) or a marker (points) and the colours differ in lightness, so a chart
printed in greyscale still reads.  Fonts are DejaVu Sans, which ships with matplotlib, so a chart looks
the same on every machine.  Each chart is saved as PNG at 300 dpi (documents) and SVG (print, editing).
"""

from __future__ import annotations

import textwrap
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from sim import compare
from sim.compare import PAYER_LABELS
from sim.placements import PAYERS, PLACEMENT_TYPES

# Paul Tol's muted scheme, ordered so that neighbours differ in lightness as well as hue.
PALETTE = ["#332288", "#DDCC77", "#117733", "#CC6677", "#88CCEE", "#882255", "#44AA99", "#999933", "#AA4499",
           "#DDDDDD"]
HATCHES = ["", "///", "...", "xxx", "\\\\\\", "ooo", "---", "+++", "|||", "***"]
MARKERS = ["o", "s", "D", "^", "v", "P", "X", "<", ">", "*"]
BASELINE_COLOUR = "#000000"
SCENARIO_COLOUR = PALETTE[0]
INK = "#333333"  # text and rules
FAINT = "#888888"  # reference lines, bands' edges
PNG_DPI = 300

PLACEMENT_LABELS = {
    "family": "Living with family",
    "foster_inhouse": "Foster care (council)",
    "foster_agency": "Foster care (agency)",
    "residential": "Children's home",
    "therapeutic_residential": "Therapeutic home",
    "supported_accommodation": "Supported accommodation",
    "tier4": "Tier 4 mental-health unit",
    "secure_home": "Secure children's home",
    "unregistered": "Unregistered setting",
    "youth_custody": "Youth custody",
}
# One colour and hatch per placement type and per payer, the same in every chart.
PLACEMENT_STYLE = {t: (PALETTE[i], HATCHES[i]) for i, t in enumerate(PLACEMENT_TYPES)}
# Payers' colours step evenly from dark to light (grey levels about 50, 140, 80, 200), so stacked
# segments stay apart in greyscale.
PAYER_STYLE = {p: (c, h) for p, c, h in zip(PAYERS, ["#332288", "#44AA99", "#117733", "#DDCC77"], HATCHES[:4])}

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.titleweight": "bold",
    "axes.labelsize": 8.5,
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#E5E5E5",
    "grid.linewidth": 0.6,
    "xtick.color": INK,
    "ytick.color": INK,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "hatch.linewidth": 0.5,
    "hatch.color": INK,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.fonttype": "path",  # text as outlines: the SVG prints the same without the font installed
    "svg.hashsalt": "care-pathways",  # stable element ids: the same chart gives the same file
}
TITLE_SIZE = 11.5
SOURCE_SIZE = 6.5


@contextmanager
def theme():
    """The house style for the charts drawn inside (also usable as a decorator)."""
    with mpl.rc_context(RC):
        yield


def figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **share):
    """A figure (inches) laid out by constrained layout, and its grid of axes (``share``: sharex, sharey);
    no pyplot, so no global state."""
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **share)
    return fig, axes


def _wrap(text: str, width_in: float, size: float, em: float = 0.55) -> str:
    """Wrap to the figure's width, ``em`` being a character's average width in ems (DejaVu Sans)."""
    chars = max(20, int(width_in * 72 / (size * em)))
    return "\n".join(textwrap.wrap(text, chars))


def finish(fig: Figure, stem: str | Path, *, title: str, source: str) -> list[Path]:
    """Title the figure with its finding, add the source line, save PNG (300 dpi) and SVG; the paths."""
    width = fig.get_size_inches()[0]
    fig.suptitle(_wrap(title, width, TITLE_SIZE, em=0.62), x=0.01, ha="left", fontsize=TITLE_SIZE,
                 fontweight="bold", color=INK)
    # Lay the figure out once, then freeze it: figure legends are re-anchored to the figure's own
    # rectangle, so that saving with a tight bounding box (which takes in the source line hanging below
    # the figure) does not move them onto the source line.
    fig.draw_without_rendering()
    fig.set_layout_engine(None)  # frozen: no engine, so saving does not lay the figure out again
    for legend in fig.legends:
        legend.set_bbox_to_anchor((0, 0, 1, 1), transform=fig.transFigure)
    fig.text(0.01, 0, _wrap(source, width, SOURCE_SIZE), fontsize=SOURCE_SIZE, color="#555555", ha="left",
             va="top", linespacing=1.3)
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")
    bbox = fig.get_tightbbox().padded(0.15)  # measured once for both files: each measure is a full draw
    fig.savefig(png, dpi=PNG_DPI, bbox_inches=bbox, metadata={"Software": None})
    fig.savefig(svg, bbox_inches=bbox, metadata={"Date": None})
    return [png, svg]


# ----------------------------------------------------------------------------- numbers for reading
def number(x: float, kind: str, diff: bool = False) -> str:
    """A number for a title or table (sim.compare's format; money of GBP 1bn and over in billions)."""
    return compare.number(x, kind, diff, billions=True)


def compact(x: float) -> str:
    """An axis tick: 2.5bn, 40m, 12k, 0.05."""
    a = abs(x)
    for size, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if a >= size:
            return f"{x / size:g}{suffix}"
    return f"{x:g}"


def interval(mean: float, lo: float, hi: float, kind: str) -> str:
    """'-12 [-15 to -9]': a difference and its interval."""
    return compare.interval(mean, lo, hi, kind, billions=True)


def payer_label(payer: str) -> str:
    return PAYER_LABELS.get(payer, payer.replace("_", " ").capitalize())


def placement_label(placement: str) -> str:
    return PLACEMENT_LABELS.get(placement, placement.replace("_", " ").capitalize())

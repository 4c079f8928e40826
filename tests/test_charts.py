"""The briefing charts (analysis.charts): each draws a PNG at 300 dpi and an SVG from a small results set,
titles itself with a finding worked out from the data, and refuses, with one line naming what is missing,
a results set that lacks what it needs.

The results sets here are synthetic frames in the formats analysis.results produces (so these tests run
no model), except the pathways chart drawn from a real run's transitions.parquet.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from analysis import charts, style
from analysis.results import (COST_WITH_IMPLEMENTATION, PAYER_COST_WITH_IMPLEMENTATION, MissingResults, Provenance,
                              compact_ids, load_run_moves)
from sim.compare import BASELINE, moves_matrix
from sim.placements import PLACEMENT_TYPES

SOURCE = Provenance("2 seeds (1-2) per scenario; population scale 0.02 of England, 1 year from 2024-04-01",
                    ["T2-004", "T1-035"], model="care-pathways test")
# Relative effect of each scenario on restriction, cost and moves (early help cuts restriction most).
EFFECTS = {BASELINE: (0.0, 0.0, 0.0), "early_help": (-0.4, -0.1, 0.15), "pooled_funding": (0.01, 0.002, -0.001)}
BASE = {charts.RESTRICTION: 40_000.0, COST_WITH_IMPLEMENTATION: 6e9, charts.STABILITY: 0.75}
# Baseline cost a year by payer, and each scenario's change: pooled funding moves cost to the NHS.
PAYER_BASE = {"local_authority": 5.4e9, "nhs": 3e8, "justice": 3e7, "education": 4e8}
PAYER_CHANGE = {"early_help": {"local_authority": -5e8, "nhs": -4e7, "justice": -1e7, "education": -5e7},
                "pooled_funding": {"local_authority": -2e7, "nhs": 3e7, "justice": 0.0, "education": 2e6}}


def table_rows(effects=EFFECTS) -> pd.DataFrame:
    """comparison.csv rows (with the briefing's cost metrics) for the scenarios and effects given."""
    rows = []

    def add(s, metric, base, change):
        half = 0.0 if s == BASELINE else abs(base) * 0.01 + abs(change) * 0.1
        rows.append({"scenario": s, "metric": metric, "mean": base + change, "lo": (base + change) * 0.97,
                     "hi": (base + change) * 1.03, "diff_mean": change, "diff_lo": change - half,
                     "diff_hi": change + half})

    for s, rel in effects.items():
        for (metric, base), r in zip(BASE.items(), rel):
            add(s, metric, base, base * r)
        for p, base in PAYER_BASE.items():
            add(s, f"{PAYER_COST_WITH_IMPLEMENTATION}.{p}", base, PAYER_CHANGE.get(s, {}).get(p, 0.0))
    return pd.DataFrame(rows)


def placements_frame() -> pd.DataFrame:
    dates = pd.date_range("2024-04-01", periods=104, freq="7D")
    rows = []
    for s, fall in ((BASELINE, 0.0), ("early_help", 0.3)):
        for i, t in enumerate(PLACEMENT_TYPES[:3] + ("tier4", "unregistered")):  # a chart draws those present
            level = 1000.0 * (i + 1) * (1 - fall * (t == "unregistered"))
            mean = level + 10 * np.sin(np.arange(104) / 8)
            rows.append(pd.DataFrame({"scenario": s, "date": dates, "placement": t, "mean": mean, "lo": mean * 0.95,
                                      "hi": mean * 1.05}))
    return pd.concat(rows, ignore_index=True)


def moves_pair() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(1)
    base = pd.DataFrame(rng.integers(0, 500, (10, 10)).astype(float), index=PLACEMENT_TYPES, columns=PLACEMENT_TYPES)
    other = base.copy()
    other.loc["residential", "unregistered"] = 2000.0
    return {BASELINE: base, "early_help": other}


def fit_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "id": ["T1-001", "T2-004:2024", "T2-048", "T3-002", "T1-036:<=12"],
        "measure": ["sum(applications_dol)", "at(children_in_care)", "at(children_unregistered)", "mean(waiting)",
                    "dol_age_share"],
        "period": ["FY2017", "2024-03-31", "2024-09-01", "CY2024", "CY2024"],
        "published": [108.0, 51850.0, 775.0, 50.0, 0.103],
        "model": [0.0, 50100.0, 700.0, 2.0, np.nan],
        "lo": [0.0, 49800.0, 650.0, 1.0, np.nan], "hi": [0.0, 50400.0, 760.0, 3.0, np.nan],
        "tolerance": [27.0, 2592.0, 193.0, 20.0, 0.06],
        "within": [False, True, True, False, np.nan],
    })


def morris_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "parameter": ["distress.noise_sd", "pathway.secure_threshold", "orders.dol_discharge_margin"] * 2,
        "outcome": ["dol_applications"] * 3 + ["spend"] * 3,
        "mu_star": [600.0, 200.0, 50.0, 1e9, 3e8, 2e7], "mu_star_conf": [100.0, 80.0, 20.0, 2e8, 1e8, 1e7],
        "sigma": [500.0, 150.0, 30.0, 2e8, 9e8, 1e7],
    })


def sobol_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "parameter": ["distress.noise_sd", "pathway.secure_threshold"] * 2,
        "outcome": ["dol_applications", "dol_applications", "spend", "spend"],
        "S1": [0.5, 0.2, 0.1, 0.6], "S1_conf": [0.05, 0.04, 0.03, 0.05],
        "ST": [0.6, 0.3, 0.2, 0.7], "ST_conf": [0.06, 0.05, 0.04, 0.06],
    })


# Every chart: (name, draw(stem) -> paths, its finding, a word the finding must contain).
CHARTS = {
    "scenario_effects": (lambda stem: charts.scenario_effects(table_rows(), stem, source=SOURCE),
                         lambda: charts.effects_finding(table_rows()), "Early help cuts deprivation of liberty most"),
    "cost_restriction": (lambda stem: charts.cost_restriction(table_rows(), stem, source=SOURCE),
                         lambda: charts.tradeoff_finding(table_rows()), "1 of 2 scenarios cut both"),
    "cost_by_payer": (lambda stem: charts.cost_by_payer(table_rows(), stem, source=SOURCE),
                      lambda: charts.payer_finding(table_rows()), "pooled funding moves cost to the NHS"),
    "placements_over_time": (lambda stem: charts.placements_over_time(placements_frame(), stem, scenario="early_help",
                                                                      source=SOURCE),
                             lambda: charts.placements_finding(placements_frame(), "early_help"),
                             "fewer children in unregistered settings"),
    "pathways": (lambda stem: charts.pathways(moves_pair(), stem, source=SOURCE),
                 lambda: charts.pathways_finding(moves_pair()), "from children's homes to unregistered settings"),
    "calibration_fit": (lambda stem: charts.calibration_fit(fit_frame(), stem, source=SOURCE),
                        lambda: charts.fit_finding(fit_frame()), "meets 2 of 4 calibration targets"),
    "sensitivity_morris": (lambda stem: charts.sensitivity(morris_frame(), stem, source=SOURCE),
                           lambda: charts.sensitivity_finding(morris_frame()),
                           "distress.noise_sd is the most influential parameter for 2 of 2 outcomes"),
    "sensitivity_sobol": (lambda stem: charts.sensitivity(sobol_frame(), stem, source=SOURCE),
                          lambda: charts.sensitivity_finding(sobol_frame()), "for 1 of 2 outcomes"),
}


@pytest.mark.parametrize("name", list(CHARTS))
def test_chart_writes_png_at_300_dpi_and_svg(name, tmp_path):
    draw, _, _ = CHARTS[name]
    paths = draw(tmp_path / name)
    assert [p.name for p in paths] == [f"{name}.png", f"{name}.svg"]
    with Image.open(paths[0]) as png:
        assert png.format == "PNG"
        assert png.info["dpi"] == pytest.approx((300, 300), abs=0.5)
        assert png.width > 1500  # at least 5 inches wide at 300 dpi: print-ready
    svg = paths[1].read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg


@pytest.mark.parametrize("name", list(CHARTS))
def test_title_states_a_finding_computed_from_the_data(name):
    _, finding, expected = CHARTS[name]
    assert expected in finding()


def test_findings_follow_the_data_not_fixed_text():
    """Make pooled funding the scenario that cuts restriction most: the titles say so."""
    swapped = {BASELINE: EFFECTS[BASELINE], "early_help": (0.05, 0.01, 0.0), "pooled_funding": (-0.2, -0.05, 0.02)}
    assert charts.effects_finding(table_rows(swapped)).startswith("Pooled funding cuts deprivation of liberty most (-20%")
    assert "no scenario" in charts.tradeoff_finding(table_rows({BASELINE: (0, 0, 0), "early_help": (0.1, 0.1, 0)})).lower()


# ----------------------------------------------------------------------------- missing what a chart needs
def _without_metric(metric_prefix):
    t = table_rows()
    return t[~t["metric"].str.startswith(metric_prefix)]


MISSING = {
    "comparison column": (lambda stem: charts.scenario_effects(table_rows().drop(columns="diff_lo"), stem,
                                                              source=SOURCE), "'diff_lo'"),
    "restriction metric": (lambda stem: charts.scenario_effects(_without_metric(charts.RESTRICTION), stem,
                                                               source=SOURCE), charts.RESTRICTION),
    "only the baseline": (lambda stem: charts.cost_restriction(table_rows({BASELINE: (0, 0, 0)}), stem,
                                                               source=SOURCE), "only the baseline"),
    "no baseline": (lambda stem: charts.cost_restriction(table_rows()[lambda t: t.scenario != BASELINE], stem,
                                                         source=SOURCE), "no 'baseline' rows"),
    "payer metric": (lambda stem: charts.cost_by_payer(_without_metric(f"{PAYER_COST_WITH_IMPLEMENTATION}.nhs"),
                                                       stem, source=SOURCE), f"{PAYER_COST_WITH_IMPLEMENTATION}.nhs"),
    "placements column": (lambda stem: charts.placements_over_time(placements_frame().drop(columns="hi"), stem,
                                                                   scenario="early_help", source=SOURCE), "'hi'"),
    "placements scenario": (lambda stem: charts.placements_over_time(placements_frame(), stem, scenario="early_help2",
                                                                     source=SOURCE), "'early_help2'"),
    "no moves": (lambda stem: charts.pathways({BASELINE: moves_pair()[BASELINE] * 0}, stem, source=SOURCE),
                 "no moves to draw"),
    "not a moves matrix": (lambda stem: charts.pathways({BASELINE: moves_pair()[BASELINE].iloc[:, :3]}, stem,
                                                        source=SOURCE), "from-type x to-type"),
    "fit column": (lambda stem: charts.calibration_fit(fit_frame().drop(columns="within"), stem, source=SOURCE),
                   "'within'"),
    "fit values": (lambda stem: charts.calibration_fit(fit_frame().assign(model=np.nan), stem, source=SOURCE),
                   "no target"),
    "sensitivity column": (lambda stem: charts.sensitivity(morris_frame().drop(columns="mu_star_conf"), stem,
                                                           source=SOURCE), "'mu_star_conf'"),
}


@pytest.mark.parametrize("case", list(MISSING))
def test_chart_refuses_a_results_set_lacking_what_it_needs(case, tmp_path):
    draw, named = MISSING[case]
    with pytest.raises(MissingResults) as err:
        draw(tmp_path / "chart")
    message = str(err.value)
    assert named in message
    assert "\n" not in message
    assert isinstance(err.value, ValueError)
    assert not list(tmp_path.iterdir())  # refused before drawing: nothing written


# ----------------------------------------------------------------------------- style and provenance
def test_every_category_is_told_apart_without_colour():
    """Placement types and payers each have their own hatch, and payers' colours differ in lightness, so a
    greyscale print still reads."""
    for styles in (style.PLACEMENT_STYLE, style.PAYER_STYLE):
        hatches = [h for _, h in styles.values()]
        assert len(set(hatches)) == len(hatches)
        assert len({c for c, _ in styles.values()}) == len(styles)

    def grey(hex_colour):
        r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
        return 0.299 * r + 0.587 * g + 0.114 * b

    greys = sorted(grey(c) for c, _ in style.PAYER_STYLE.values())
    assert min(np.diff(greys)) > 25


def test_source_line_cites_model_runs_and_data_ids():
    text = SOURCE.source()
    assert "care-pathways test" in text and "2 seeds (1-2)" in text and "scale 0.02" in text
    assert "T1-035; T2-004" in text
    assert compact_ids(["T2-017", "T1-035", "T2-004", "T10-001"]) == "T1-035; T2-004/017; T10-001"


# ----------------------------------------------------------------------------- pathways from a run
def test_pathways_from_a_runs_transitions(baseline, tmp_path):
    """A python -m sim output folder's transitions.parquet gives the same moves a year as moves.csv would."""
    folder = baseline.files["transitions"].parent
    moves, provenance = load_run_moves(folder)
    run = baseline.summary["run"]
    expected = moves_matrix(baseline.transitions) / run["population_scale"] / run["years"]
    pd.testing.assert_frame_equal(moves, expected.astype(float))
    assert "scenario baseline" in provenance.source()
    assert charts.pathways_finding({BASELINE: moves}).startswith("The most common move is")
    lone = tmp_path / "run"
    lone.mkdir()
    shutil.copy(folder / "transitions.parquet", lone)
    with pytest.raises(MissingResults, match="summary.json is missing"):
        load_run_moves(lone / "transitions.parquet")

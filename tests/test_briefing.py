"""``python -m analysis.briefing DIR``: a comparison folder becomes a briefing pack (charts, tables, an
HTML and a PDF report); calibration results are used when present and their absence is stated; a DIR
that is not a comparison folder stops with one line on stderr, exit code 2, and nothing written.

One tiny real comparison (two scenarios, two seeds, a fiftieth of England for a year) is run once and
shared; the pack is built from it once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from analysis import briefing, charts
from analysis.results import (COST_WITH_IMPLEMENTATION, CalibrationResults, MissingResults, load_calibration,
                              load_comparison)
from conftest import REPO
from sim.compare import COLUMNS, write_comparison
from sim.placements import PAYERS, PLACEMENT_TYPES

TINY = ["population.scale=0.02", "horizon.years=1"]
CHARTS = ("scenario_effects", "cost_restriction", "cost_by_payer", "placements_over_time", "pathways")


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    """A real python -m sim.compare folder, written through sim.compare's own function."""
    folder = tmp_path_factory.mktemp("compare")
    write_comparison(folder, TINY, ["baseline", "early_help"], seeds=2, backend="serial")
    return folder


@pytest.fixture(scope="module")
def pack(comparison, tmp_path_factory):
    """The briefing built by the command's main(), with no calibration results."""
    out = tmp_path_factory.mktemp("pack") / "briefing"
    assert briefing.main([str(comparison), "--out", str(out)]) == 0
    return out


def copy_of(comparison, tmp_path):
    folder = tmp_path / "compare"
    shutil.copytree(comparison, folder)
    return folder


# ----------------------------------------------------------------------------- loading a comparison
def test_loads_what_sim_compare_writes(comparison):
    r = load_comparison(comparison)
    assert r.scenarios == ["baseline", "early_help"] and r.seeds == [1, 2]
    assert list(r.table.columns) == COLUMNS
    # The cost with implementation is the comparison's cost plus the scenario's implementation cost, a year.
    t = r.table.set_index(["scenario", "metric"])
    years = r.info["years"]
    expected = (t.loc[("early_help", "cost.total_gbp"), "mean"]
                + t.loc[("early_help", "cost.implementation_gbp.total"), "mean"]) / years
    assert t.loc[("early_help", COST_WITH_IMPLEMENTATION), "mean"] == pytest.approx(expected)
    # Moves a year for England: the mean of the runs' moves.csv, scaled up.
    runs = [pd.read_csv(comparison / "runs" / "early_help" / f"seed_{k}" / "moves.csv", index_col=0) for k in (1, 2)]
    expected_moves = (runs[0] + runs[1]) / 2 / r.info["population_scale"] / years
    np.testing.assert_allclose(r.moves["early_help"].to_numpy(), expected_moves.to_numpy())
    assert set(r.placements["placement"]) == set(PLACEMENT_TYPES)
    assert r.data_ids and all(i.startswith("T") for i in r.data_ids)
    assert "2 seeds (1-2)" in r.provenance().source()


# ----------------------------------------------------------------------------- the pack
def test_pack_has_charts_tables_and_reports(pack):
    for name in CHARTS:
        assert (pack / "charts" / f"{name}.png").stat().st_size > 0
        assert (pack / "charts" / f"{name}.svg").stat().st_size > 0
    for name in ("headline", "changes", "cost_by_payer"):
        assert (pack / "tables" / f"{name}.csv").exists() and (pack / "tables" / f"{name}.md").exists()
    payers = pd.read_csv(pack / "tables" / "cost_by_payer.csv")
    assert set(payers["payer"]) == set(PAYERS) | {"all payers"}
    assert (pack / "report.pdf").read_bytes().startswith(b"%PDF")
    assert not [p for p in pack.parent.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_report_states_scenarios_method_calibration_and_uncertainty(pack, comparison):
    html = (pack / "report.html").read_text(encoding="utf-8")
    for section in ("Key findings", "What was compared", "How the figures were made", "Calibration",
                    "How sure we can be", "Sources"):
        assert f">{section}</h" in html
    assert "Early help" in html and "common random numbers" in html and "90% confidence interval" in html
    assert briefing.NOT_CALIBRATED in html and "Calibration results were not supplied" in html
    # Self-contained: every chart embedded, and each chart's finding stated.
    assert html.count('src="data:image/svg+xml;base64,') == len(CHARTS)
    r = load_comparison(comparison)
    assert charts.effects_finding(r.table).replace("'", "&#x27;") in html


def test_calibration_results_are_used_when_present(comparison, tmp_path):
    """fit.csv and Sobol indices in a calibration folder: their charts, and the status read from them."""
    folder = tmp_path / "calibration"
    (folder / "report").mkdir(parents=True)
    (folder / "sobol").mkdir()
    pd.DataFrame({"id": ["T2-004:2024", "T2-048"], "measure": ["at(children_in_care)", "at(children_unregistered)"],
                  "period": ["2024-03-31", "2024-09-01"], "published": [51850.0, 775.0], "model": [50100.0, 300.0],
                  "lo": [49800.0, 250.0], "hi": [50400.0, 350.0], "tolerance": [2592.0, 193.0],
                  "within": [True, False]}).to_csv(folder / "report" / "fit.csv", index=False)
    pd.DataFrame({"seed_1": [1.0], "seed_2": [2.0]}).to_csv(folder / "report" / "values_by_seed.csv")
    pd.DataFrame({"parameter": ["distress.noise_sd", "pathway.secure_threshold"], "outcome": ["spend", "spend"],
                  "S1": [0.5, 0.2], "S1_conf": [0.05, 0.04], "ST": [0.6, 0.3],
                  "ST_conf": [0.06, 0.05]}).to_csv(folder / "sobol" / "sobol.csv", index=False)
    cal = load_calibration(folder)
    assert cal.fit_seeds == [1, 2] and cal.method == "Sobol"
    made = briefing.calibration_charts(cal, tmp_path / "charts")
    assert [c.name for c in made] == ["calibration_fit", "sensitivity"]
    assert all(p.exists() for c in made for p in c.paths)
    r = load_comparison(comparison)
    text = " ".join(b.text for b in briefing.calibration_text(r, cal, folder))
    assert "checks the model against 2 published figures: 1 are within their tolerance, 1 outside" in text
    assert briefing.NOT_CALIBRATED not in text
    assert "Sobol sensitivity analysis" in text and "distress.noise_sd" in text
    # Without fit.csv the status is stated, not an error.
    empty = CalibrationResults(tmp_path / "none")
    assert briefing.NOT_CALIBRATED in briefing.calibration_text(r, empty, empty.folder)[0].text
    # A comparison run over the calibration's posterior says so, whatever the calibration folder holds.
    r.posterior = "calibration/posterior/draws.csv"
    assert briefing.calibration_status(r, empty).startswith("calibrated: every run's parameters are a draw")
    assert "posterior draw k of draws.csv" in r.provenance().source()


# ----------------------------------------------------------------------------- bad input
def test_missing_dir_is_one_line_exit_2_and_nothing_written(tmp_path):
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-m", "analysis.briefing", str(tmp_path / "nowhere"), "--out", str(out)],
                          check=False, cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "nowhere" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("damage, named", [
    (lambda d: (d / "comparison.csv").unlink(), "comparison.csv is missing"),
    (lambda d: shutil.rmtree(d / "runs"), "runs/ is missing"),
    (lambda d: (d / "runs" / "early_help" / "seed_2" / "moves.csv").unlink(), "runs/early_help/seed_2/moves.csv"),
    (lambda d: shutil.rmtree(d / "runs" / "early_help" / "seed_2"), "seeds [1], the baseline [1, 2]"),
    (lambda d: pd.read_csv(d / "comparison.csv").drop(columns="diff_hi").to_csv(d / "comparison.csv", index=False),
     "'diff_hi'"),
])
def test_not_a_comparison_folder_is_refused(damage, named, comparison, tmp_path, capsys):
    folder = copy_of(comparison, tmp_path)
    damage(folder)
    out = tmp_path / "out"
    assert briefing.main([str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and named in err and err.count("\n") == 1
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_named_calibration_folder_must_exist_and_a_bad_scenario_is_refused(comparison, tmp_path, capsys):
    out = tmp_path / "out"
    assert briefing.main([str(comparison), "--out", str(out), "--calibration", str(tmp_path / "nope")]) == 2
    assert "no such calibration folder" in capsys.readouterr().err
    assert briefing.main([str(comparison), "--out", str(out), "--scenario", "baseline"]) == 2
    assert "--scenario must be one of" in capsys.readouterr().err
    assert not out.exists()


def test_a_failure_while_building_leaves_no_partial_pack(comparison, tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise MissingResults("pathways: the moves matrix for 'early_help' has no moves to draw")

    monkeypatch.setattr(briefing, "comparison_charts", broken)
    out = tmp_path / "out"
    assert briefing.main([str(comparison), "--out", str(out)]) == 2
    assert "no moves to draw" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_new_pack_replaces_the_old_only_when_complete(tmp_path):
    out, staging = tmp_path / "briefing", tmp_path / ".briefing.tmp"
    out.mkdir()
    (out / "old.txt").write_text("old")
    staging.mkdir()
    (staging / "new.txt").write_text("new")
    briefing.move_into_place(staging, out)
    assert [p.name for p in out.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["briefing"]

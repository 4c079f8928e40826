"""Outputs: complete (every documented key and column), written all-or-nothing, and the same
through the command line, the Python API and the EMA-style ``metrics`` function."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest

from conftest import BASELINE, OUTPUT_FILES, quick
from sim import build_config, metrics, run

PLACEMENT_TYPES = ("family", "foster_inhouse", "foster_agency", "residential", "therapeutic_residential",
                   "supported_accommodation", "tier4", "secure_home", "unregistered", "youth_custody")
BASES = ("s25", "dol", "mha", "remand", "sentence")
REGIONS = ("north_east", "north_west", "yorkshire_and_the_humber", "east_midlands", "west_midlands",
           "east_of_england", "london", "south_east", "south_west")
PAYERS = ("local_authority", "nhs", "justice", "education")
ORDERS = ("s25", "dol")

SUMMARY_KEYS = [
    "restriction.dol_applications_per_year",
    "restriction.secure_applications_per_year",
    "restriction.child_weeks_deprived_of_liberty.total",
    "restriction.child_weeks_deprived_of_liberty.by_basis.s25",
    "restriction.child_weeks_deprived_of_liberty.by_basis.dol",
    "restriction.child_weeks_deprived_of_liberty.by_basis.mha",
    "restriction.child_weeks_deprived_of_liberty.by_basis.custody_remand",
    "restriction.share_ever_deprived_of_liberty",
    "cost.total_gbp",
    "cost.per_child_year_gbp",
    "cost.by_payer.local_authority",
    "cost.by_payer.nhs",
    "cost.by_payer.justice",
    "cost.by_payer.education",
    "stability.moves_per_child_year",
    "stability.share_with_3plus_moves_in_a_year",
    "stability.share_placed_out_of_area",
    "safety.harm_incidents_per_child_year",
    "population.children_simulated",
    "population.child_weeks",
]


def _get(d, dotted):
    for part in dotted.split("."):
        d = d[part]
    return d


# ============================================================================ 10. completeness
@pytest.mark.parametrize("key", SUMMARY_KEYS)
def test_summary_has_every_documented_figure(baseline, key):
    """summary.json (as written) holds each headline figure as a finite number."""
    summary = json.loads(baseline.files["summary"].read_text())
    value = _get(summary, key)
    assert isinstance(value, (int, float)) and not isinstance(value, bool), (key, value)
    assert math.isfinite(value) and value >= 0, (key, value)


def test_summary_figures_are_consistent(baseline):
    """Parts add up to their totals, and shares are shares."""
    r, c = baseline.summary["restriction"], baseline.summary["cost"]
    dol = r["child_weeks_deprived_of_liberty"]
    assert dol["total"] == pytest.approx(sum(dol["by_basis"].values()))
    assert c["total_gbp"] == pytest.approx(sum(c["by_payer"].values()))
    assert c["total_gbp"] == pytest.approx(baseline.weekly["spend_total"].sum(), rel=1e-9)
    for share in (r["share_ever_deprived_of_liberty"], baseline.summary["stability"]["share_placed_out_of_area"],
                  baseline.summary["stability"]["share_with_3plus_moves_in_a_year"]):
        assert 0 <= share <= 1
    assert baseline.summary["population"]["children_simulated"] == len(baseline.children)
    # The headline rates are not all zero: the run did something.
    assert r["dol_applications_per_year"] > 0 and r["secure_applications_per_year"] > 0
    assert baseline.summary["stability"]["moves_per_child_year"] > 0


def _weekly_columns():
    cols = ["date", "delayed_discharge_weeks", "placements_10k_plus"]
    cols += [f"children_{t}" for t in PLACEMENT_TYPES]
    cols += [f"legal_{b}" for b in BASES]
    cols += [f"region_{r}" for r in REGIONS]
    for t in PLACEMENT_TYPES:
        cols += [f"capacity_{t}", f"occupancy_{t}", f"waiting_{t}"]
    for o in ORDERS:
        cols += [f"applications_{o}", f"grants_{o}", f"refusals_{o}"]
    cols += [f"spend_{t}" for t in PLACEMENT_TYPES] + [f"spend_{p}" for p in PAYERS]
    return cols


def test_weekly_table_has_every_documented_column(baseline):
    """weekly.parquet: one row per week with a date, and national figures by placement type, legal basis,
    region, capacity/occupancy/waiting, orders, delays, spend by type and payer, and high-cost placements."""
    wk = pd.read_parquet(baseline.files["weekly"])
    missing = [c for c in _weekly_columns() if c not in wk.columns]
    assert not missing, missing
    assert len(wk) == 52
    assert pd.api.types.is_datetime64_any_dtype(wk["date"])
    assert wk["date"].iloc[0] == pd.Timestamp("2024-04-01")
    assert (wk["date"].diff().dropna() == pd.Timedelta(weeks=1)).all()
    numbers = wk.drop(columns=["date"]).to_numpy(dtype=float)
    assert np.isfinite(numbers).all()
    documented = wk[[c for c in _weekly_columns() if c != "date"]].to_numpy(dtype=float)
    assert (documented >= 0).all()


def test_weekly_breakdowns_add_up(baseline):
    """Children by placement type and by region each add up to the children in care; spend by type
    plus community support and spend by payer both add up to total spend."""
    wk = baseline.weekly
    in_care = wk["children_in_care"]
    np.testing.assert_allclose(wk[[f"children_{t}" for t in PLACEMENT_TYPES]].sum(axis=1), in_care)
    np.testing.assert_allclose(wk[[f"region_{r}" for r in REGIONS]].sum(axis=1), in_care)
    np.testing.assert_allclose(wk[[f"spend_{p}" for p in PAYERS]].sum(axis=1), wk["spend_total"], rtol=1e-9)
    by_type = wk[[f"spend_{t}" for t in PLACEMENT_TYPES]].sum(axis=1) + wk["spend_community_support"]
    np.testing.assert_allclose(by_type, wk["spend_total"], rtol=1e-9)


def test_children_and_transitions_tables_have_their_columns(baseline):
    """children.parquet has one row per child ever present; transitions.parquet one row per event."""
    ch = pd.read_parquet(baseline.files["children"])
    for col in ("child", "birth_week", "entered_care_week", "exit_week", "exit_reason", "moves"):
        assert col in ch.columns, col
    assert ch["child"].is_unique
    tr = pd.read_parquet(baseline.files["transitions"])
    for col in ("week", "date", "child", "event", "order_id", "legal_basis", "from", "to", "placement_la",
                "weekly_cost", "payer", "reason", "agency"):
        assert col in tr.columns, col
    assert tr["child"].isin(ch["child"]).all()
    assert tr["week"].between(0, 51).all()
    # Moves in the children table match move events.
    n_moves = (tr["event"] == "move").groupby(tr["child"]).sum()
    assert ch.set_index("child")["moves"].sum() <= n_moves.sum()


def test_cli_run_writes_the_four_files(cli_run):
    """``python -m sim`` writes summary.json and the three Parquet tables into Hydra's run directory."""
    proc, run_dir = cli_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in OUTPUT_FILES:
        assert (run_dir / name).is_file() and (run_dir / name).stat().st_size > 0, name
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert "restriction" in summary
    assert "DoL applications a year" in proc.stdout


def test_metrics_is_the_flat_summary(baseline):
    """``metrics(**params)`` (the EMA-workbench form) returns the run's summary as a flat dotted dict."""
    flat = metrics(seed=1, population__scale=0.05, horizon__years=1)
    assert flat == baseline.metrics()
    for key in SUMMARY_KEYS:
        assert key in flat, key
    assert all(isinstance(v, float) for v in flat.values())
    assert not [k for k in flat if k.startswith("run.")]


# ============================================================================ 9. no partial output
TINY = ["seed=1", "population.scale=0.02", "horizon.years=0.1"]


@pytest.fixture(scope="module")
def tiny_config():
    return build_config(TINY)


def _leftovers(out):
    if not out.exists():
        return []
    return sorted(p.name for p in out.iterdir())


def _fail_on_call(n, exc=OSError("disk full (simulated)")):
    calls = {"n": 0}

    def fails(original):
        def wrapper(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == n:
                raise exc
            return original(*args, **kwargs)
        return wrapper
    return fails


@pytest.mark.parametrize("failing_call", [1, 2, 3])
def test_failed_parquet_write_leaves_no_output(tiny_config, tmp_path, monkeypatch, failing_call):
    """If writing a table fails part-way, the output directory holds no summary, no table and no
    temporary file."""
    out = tmp_path / "out"
    monkeypatch.setattr(pd.DataFrame, "to_parquet", _fail_on_call(failing_call)(pd.DataFrame.to_parquet))
    with pytest.raises(OSError, match="simulated"):
        run(tiny_config, output_dir=out, write=True)
    assert _leftovers(out) == []


def test_interrupted_write_leaves_no_output(tiny_config, tmp_path, monkeypatch):
    """An interrupt (Ctrl-C) while the tables are written also leaves nothing behind."""
    out = tmp_path / "out"
    monkeypatch.setattr(pd.DataFrame, "to_parquet",
                        _fail_on_call(2, KeyboardInterrupt())(pd.DataFrame.to_parquet))
    with pytest.raises(KeyboardInterrupt):
        run(tiny_config, output_dir=out, write=True)
    assert _leftovers(out) == []


def test_failed_summary_write_leaves_no_output(tiny_config, tmp_path, monkeypatch):
    """If the summary cannot be written after every table was, the staged tables are removed too."""
    import pathlib

    out = tmp_path / "out"
    original = pathlib.Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name.startswith(".summary") or self.name.startswith("summary"):
            raise OSError("disk full (simulated)")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", write_text)
    with pytest.raises(OSError, match="simulated"):
        run(tiny_config, output_dir=out, write=True)
    assert _leftovers(out) == []


def test_failed_rename_leaves_no_partial_output(tiny_config, tmp_path, monkeypatch):
    """If publishing the files fails part-way (the second rename fails), the directory must not be left
    with some outputs published and others missing, nor with temporary files."""
    out = tmp_path / "out"
    monkeypatch.setattr(os, "replace", _fail_on_call(2)(os.replace))
    with pytest.raises(OSError, match="simulated"):
        run(tiny_config, output_dir=out, write=True)
    assert _leftovers(out) == []


def test_successful_write_leaves_exactly_the_four_files(tiny_config, tmp_path):
    """A run that succeeds leaves the four output files and nothing else (no temporary files)."""
    out = tmp_path / "out"
    res = run(tiny_config, output_dir=out, write=True)
    assert _leftovers(out) == sorted(OUTPUT_FILES)
    assert {p.name for p in res.files.values()} == set(OUTPUT_FILES)


def test_write_false_writes_nothing(tiny_config, tmp_path, monkeypatch):
    """``write=False`` returns the results without touching the disk."""
    monkeypatch.chdir(tmp_path)
    res = run(tiny_config, output_dir=tmp_path / "out", write=False)
    assert res.files == {}
    assert list(tmp_path.iterdir()) == []
    assert len(res.weekly) == 5

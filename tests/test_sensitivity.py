"""``python -m calibration.sensitivity``: Morris (SALib) over the assumptions, on the baseline's headline
metrics, on the scenarios' paired differences from the baseline, and on their ranking. A tiny run: three
scenarios, two parameters, two trajectories, a twentieth of England for half a year."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.sensitivity import MORRIS_COLUMNS, load, morris, outcomes_frame, ranking_table, top_changes

TINY = {
    "overrides": ["population.scale=0.05", "horizon.years=0.5"],
    "seed": 1,
    "scenarios": ["baseline", "early_help", "risk_tolerance_shift"],
    "trajectories": 2,
    "levels": 4,
    "sample_seed": 3,
    "headline": ["restriction.dol_applications_per_year", "cost.per_year_gbp"],
    "differences": ["restriction.child_weeks_deprived_of_liberty.total"],
    "rank_by": "restriction.child_weeks_deprived_of_liberty.total",
    "parameters": {"pathway.secure_threshold": [0.7, 0.88],
                   "agencies.childrens_social_care.risk_tolerance": [0.2, 0.6]},
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("sensitivity")
    return morris(TINY, jobs=2, out=out), out


def test_files_and_columns(tiny):
    res, out = tiny
    table = pd.read_csv(out / "morris.csv")
    assert list(table.columns) == MORRIS_COLUMNS
    assert res["points"] == 2 * (2 + 1) and res["runs"] == res["points"] * 3
    outcomes = set(table["outcome"])
    assert outcomes == {"baseline:restriction.dol_applications_per_year", "baseline:cost.per_year_gbp",
                        "difference:early_help:restriction.child_weeks_deprived_of_liberty.total",
                        "difference:risk_tolerance_shift:restriction.child_weeks_deprived_of_liberty.total",
                        "rank:early_help", "rank:risk_tolerance_shift"}
    assert set(table["parameter"]) == set(TINY["parameters"])
    assert np.isfinite(table[["mu_star", "sigma"]].to_numpy()).all() and (table["mu_star"] >= 0).all()
    for name in ("ranking.csv", "samples.csv", "summary.md"):
        assert (out / name).is_file()
    assert (out / "sensitivity.png").stat().st_size > 5_000


def test_the_secure_threshold_moves_the_baseline(tiny):
    res, _ = tiny
    t = res["morris"].set_index(["parameter", "outcome"])["mu_star"]
    assert t[("pathway.secure_threshold", "baseline:restriction.dol_applications_per_year")] > 0


def test_ranking_is_consistent(tiny):
    res, out = tiny
    ranking = pd.read_csv(out / "ranking.csv")
    assert ranking["top_share"].sum() == pytest.approx(1.0)
    assert set(ranking["best_rank"]) <= {1, 2} and set(ranking["worst_rank"]) <= {1, 2}
    assert 0.0 <= res["top_changes"] <= 0.5


def test_outcomes_are_paired_differences_and_ranks():
    results = {(0, "baseline"): {"m": 10.0}, (0, "a"): {"m": 7.0}, (0, "b"): {"m": 12.0},
               (1, "baseline"): {"m": 10.0}, (1, "a"): {"m": 11.0}, (1, "b"): {"m": 4.0}}
    spec = {"headline": ["m"], "differences": ["m"], "rank_by": "m"}
    y = outcomes_frame(results, 2, ["baseline", "a", "b"], spec)
    assert list(y["baseline:m"]) == [10.0, 10.0]
    assert list(y["difference:a:m"]) == [-3.0, 1.0] and list(y["difference:b:m"]) == [2.0, -6.0]
    assert list(y["rank:a"]) == [1.0, 2.0] and list(y["rank:b"]) == [2.0, 1.0]
    r = ranking_table(y).set_index("scenario")
    assert r.loc["a", "top_share"] == 0.5 and r.loc["b", "worst_rank"] == 2
    assert top_changes(y) == 0.5


def test_spec_parameters_are_assumptions():
    from calibration.screening import assumption_marked

    for p in load()["parameters"]:
        assert assumption_marked(p), p

"""Calibration: the published-value parser, the targets file, target measures on a real run, the fit
report, Morris screening and ABC-SMC recovering a known parameter from synthetic data."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, quick

from calibration.parse import Range, numbers, parse_number, parse_value, select
from calibration.targets import (MEASURES, TARGETS_CSV, ModelOutput, evaluate, load_published_rows, load_spec,
                                 load_targets, targets_table)

# A small real run: two financial years from April 2017, a tenth of England, no burn-in.
SMALL = ["start_year=2017", "horizon.years=2", "horizon.burn_in_years=0", "population.scale=0.1", "seed=5"]


@pytest.fixture(scope="module")
def small():
    return ModelOutput.from_results(quick(SMALL))


@pytest.fixture(scope="module")
def targets():
    return load_targets()


# ============================================================================ parser
@pytest.mark.parametrize("text, expected", [
    ("10-15: 39%; 16+: 23%", {"10-15": 39.0, "16+": 23.0}),
    ("2020: 80,000; 2021: 80,780", {"2020": 80000.0, "2021": 80780.0}),
    ("homes 144/315/687/931; children 147/304/724/982",
     {"homes": [144.0, 315.0, 687.0, 931.0], "children": [147.0, 304.0, 724.0, 982.0]}),
    ("£12,450-£23,362/week", Range(12450.0, 23362.0)),
    ("108", 108.0),
    ("89.9", 89.9),
    ("60-70", Range(60.0, 70.0)),
    ("25 -> 50", [25.0, 50.0]),
    ("started 32,050; ceased 29,860", {"started": 32050.0, "ceased": 29860.0}),
    ("13-15: 57.3%; 16-18: 32.3%; <=12: 10.3%", {"13-15": 57.3, "16-18": 32.3, "<=12": 10.3}),
    ("67% outside LA; 49% >20 miles", {"outside LA": 67.0, ">20 miles": 49.0}),
    ("13,700 of 60,430 (23%)", {"value": 13700.0, "of": 60430.0, "note": 23.0}),
    ("1,465 (873 youth justice; 505 MHA; 87 SCH welfare)",
     {"value": 1465.0, "note": {"youth justice": 873.0, "MHA": 505.0, "SCH welfare": 87.0}}),
])
def test_parse_value(text, expected):
    assert parse_value(text) == expected


def test_parse_numbers_units_and_paths():
    assert parse_number("£3.1bn") == pytest.approx(3.1e9)
    assert parse_number("~£440m") == pytest.approx(4.4e8)
    assert parse_number("~50") == 50.0 and parse_number(">=1") == 1.0
    assert numbers("23.4% <3m; 22.6% 3-6m; majority >6m") == [23.4, 22.6, 3.0]   # "6m" (months) is not a number
    v = parse_value("23.4% <3m; 22.6% 3-6m; majority >6m")
    assert v["<3m"] == 23.4 and v["3-6m"] == 22.6
    sch = parse_value("2018: 14 homes, 233 approved, 204 available, 189 children, MoJ 114, occ 81%, YCS 92 | "
                      "2019: 14, 237, 206, 162, MoJ 100, occ 68%, YCS 66")
    assert select(sch, "2018.children") - select(sch, "2018.YCS") == 97.0
    assert select(sch, "2019.3") == 162.0
    assert select(Range(60, 70), None) == 65.0 and select(Range(60, 70), "hi") == 70.0
    assert select(parse_value("55,200 (73%)"), None) == 55200.0
    assert select(parse_value("55,200 (73%)"), "note") == 73.0
    with pytest.raises(KeyError):
        select(sch, "2017.children")
    with pytest.raises(ValueError):
        select(parse_value("at least 1,000; about half unregistered"), None)


def test_every_published_value_parses():
    rows = load_published_rows()
    for rid, row in rows.items():
        parse_value(row["value"])   # never raises


# ============================================================================ targets file
REQUIRED = ["T1-001", "T1-002", "T1-030", "T1-031", "T1-005", "T1-033", "T7-001", "T7-002", "T1-036", "T3-",
            "T2-034", "T2-048", "T2-025", "T2-027", "T2-030", "T2-044", "T4-", "T5-017", "T5-001"]


def test_targets_cover_the_issue_list(targets):
    ids = {s for t in targets for s in t.sources}
    for prefix in REQUIRED:
        assert any(i.startswith(prefix) for i in ids), prefix
    keys = [t.key for t in targets]
    assert len(keys) == len(set(keys))


def test_targets_are_justified_and_converted(targets):
    spec = load_spec()
    rows = load_published_rows()
    for t in targets:
        assert t.why and (len(t.why) > 20 or t.why.startswith("As ")), t.key
        assert t.kind in ("level", "lower", "upper")
        assert t.measure in MEASURES
        assert math.isfinite(t.published)
        lo, hi = t.band()
        assert lo <= t.published <= hi
        geo = rows[t.id]["geography"]
        if geo.startswith("England and Wales") and t.measure in ("sum", "dol_children", "at"):
            # E&W counts are converted, unless the target is a share or the row is used for a share
            assert t.factor < 1.0 or t.published < 2 or t.key.startswith("T3-020"), t.key
    # All-age figures are bounds, as the file says.
    kinds = {t.key: t.kind for t in targets}
    assert kinds["T2-025"] == kinds["T2-027"] == kinds["T2-030"] == "lower"
    assert kinds["T5-003"] == kinds["T2-028"] == "upper"
    # Worked numbers: E&W x 0.95, derived values.
    by = {t.key: t for t in targets}
    assert by["T1-030"].published == pytest.approx(1280 * 0.95)
    assert by["T3-022:2018"].published == 189 - 92
    assert by["T7-002:>6m"].published == pytest.approx(1 - (23.4 + 22.6) / 100)
    assert by["T2-034:2023"].published == 982
    assert by["T1-036:13-15"].published == pytest.approx(0.573)
    assert set(spec["dropped"]) <= set(rows)


def test_targets_csv_is_up_to_date(targets):
    built = targets_table(targets)
    stored = pd.read_csv(TARGETS_CSV)
    assert list(stored["key"]) == list(built["key"])
    assert np.allclose(stored["published"], built["published"])
    proc = subprocess.run([sys.executable, "-m", "calibration.targets", "--check"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_bad_target_specs_fail_clearly():
    spec = load_spec()
    one = dict(spec["targets"][0])
    with pytest.raises(ValueError, match="measure must be one of"):
        load_targets(spec={"conversions": {}, "targets": [dict(one, measure="nope")]})
    with pytest.raises(ValueError, match="kind must be one of"):
        load_targets(spec={"conversions": {}, "targets": [dict(one, kind="sideways")]})
    with pytest.raises(KeyError, match="not in the data file"):
        load_targets(spec={"conversions": {}, "targets": [dict(one, key="T9-999")]})


# ============================================================================ measures on a real run
def test_periods(small):
    assert small.weeks("FY2017") == (0, 52)
    assert small.weeks("FY2018") == (52, 104)
    assert small.weeks("FY2017..FY2018") == (0, 104)
    assert small.weeks("FY2019") is None
    assert small.weeks("CY2018") is not None and small.weeks("CY2019") is None
    assert small.snapshot("2018-03-31") == 52 and small.snapshot("2017-04-01") == 0
    assert small.snapshot("2030-01-01") is None and small.snapshot("2016-01-01") is None
    a, b = small.weeks("2017-07-04..2017-08-31")
    assert 13 <= a <= 14 and 8 <= b - a <= 9


def test_weekly_measures(small):
    w = small.weekly
    assert MEASURES["sum"](small, "FY2017", column="applications_dol") == w["applications_dol"].iloc[:52].sum()
    assert MEASURES["sum"](small, "FY2018", columns=["spend_residential", "spend_unregistered"]) == pytest.approx(
        w[["spend_residential", "spend_unregistered"]].iloc[52:104].to_numpy().sum())
    assert MEASURES["at"](small, "2018-03-31", column="children_in_care") == w["children_in_care"].iloc[52]
    assert math.isnan(MEASURES["sum"](small, "FY2020", column="moves"))
    g = MEASURES["growth"](small, "FY2018", column="applications_dol", base="FY2017")
    assert g == pytest.approx(w["applications_dol"].iloc[52:104].sum() / w["applications_dol"].iloc[:52].sum())


def test_moves_from_the_log_match_the_weekly_count(small):
    m = small.moves
    per_week = m[m["counted"]].groupby("week").size().reindex(range(small.n_weeks), fill_value=0)
    assert np.allclose(per_week.to_numpy(), small.weekly["moves"].to_numpy() * small.scale)


@pytest.mark.parametrize("week", [0, 51, 103])
def test_placements_from_the_log_match_the_weekly_stock(small, week):
    known = small.placements_at(week)["to"].value_counts() / small.scale
    # Types only looked-after children occupy: the stock rebuilt from the log is exact.
    for t in ("foster_inhouse", "foster_agency", "residential", "therapeutic_residential", "supported_accommodation",
              "tier4", "secure_home", "unregistered"):
        assert known.get(t, 0) == pytest.approx(small.weekly[f"children_{t}"].iloc[week]), (t, week)


def test_dol_measures(small):
    w = small.weekly
    kids = MEASURES["dol_children"](small, "FY2017..FY2018")
    apps = w["applications_dol"].sum()
    assert 0 < kids <= apps
    shares = [MEASURES["dol_age_share"](small, "FY2017..FY2018", lo=lo, hi=hi) for lo, hi in ((0, 12), (13, 15), (16, 18))]
    assert sum(shares) == pytest.approx(1.0)
    rep = MEASURES["dol_repeat_share"](small, "FY2017..FY2018")
    assert rep == pytest.approx(1 - kids / apps)
    bands = [MEASURES["dol_duration_share"](small, "FY2017", min_weeks=a, max_weeks=b)
             for a, b in ((0, 13), (13, 26), (26, None))]
    assert all(0 <= x <= 1 for x in bands) and sum(bands) == pytest.approx(1.0)
    orders = small.dol_orders
    assert (orders["end_week"].dropna() >= orders.loc[orders["end_week"].notna(), "grant_week"]).all()
    # Orders made in the run are a subset of the children on orders each week.
    for week in (30, 60, 103):
        assert len(small.on_dol_at(week)) <= w["legal_dol"].iloc[week] * small.scale + 1e-9
    on = MEASURES["dol_on_order_at"](small, "FY2017", at="2018-03-31")
    assert 0 <= on <= 1


def test_other_measures(small):
    for name, args, period in [
        ("placements_3plus", {"window_weeks": 52}, "2019-03-23"),
        ("placements_3plus_in_year", {}, "FY2018"),
        ("out_of_area_share_in", {"placements": ["residential"]}, "FY2018"),
        ("share_on_dol_in_type", {"placement": "unregistered"}, "FY2018"),
        ("share_in_type_on_dol", {"placement": "unregistered"}, "FY2018"),
        ("secure_placed_share", {}, "FY2017..FY2018"),
        ("dol_ever_in", {"placement": "unregistered", "until": "2018-12-31"}, "FY2017"),
    ]:
        v = MEASURES[name](small, period, **args)
        assert 0 <= v <= 1, name
    n = MEASURES["children_ever_in"](small, "FY2018", placement="unregistered")
    assert n >= small.weekly["children_unregistered"].iloc[52:104].max() - 1e-9
    with_need = MEASURES["in_type_with_need_at"](small, "FY2018", placement="tier4", need="autism_ld")
    assert 0 <= with_need <= small.weekly["children_tier4"].iloc[103]
    stay = MEASURES["tier4_mean_stay_days"](small, "FY2017")
    assert stay > 7   # most stays last tier4_min_weeks or more


def test_evaluate_every_target(small, targets):
    table = evaluate(small, targets)
    assert list(table["key"]) == [t.key for t in targets]
    covered = table["model"].notna()
    assert covered.any() and (~covered).any()          # a two-year run covers some periods, not all
    assert table.loc[~covered, "within"].isna().all()
    assert table.loc[covered, "within"].isin([True, False]).all()


# ============================================================================ fast parameter sets
def test_with_params_and_overrides_agree():
    from sim import build_config

    from calibration.runs import as_overrides, get_param, with_params

    base = build_config(SMALL)
    params = {"pathway.secure_threshold": 0.8, "orders.dol_propensity_by_year.2019": 0.4,
              "secure_welfare.weeks_before_dol_application": 3.6}
    cfg = with_params(base, params)
    assert cfg.pathway.secure_threshold == 0.8 and base.pathway.secure_threshold != 0.8
    assert cfg.orders.dol_propensity_by_year == {**base.orders.dol_propensity_by_year, 2019: 0.4}
    assert cfg.secure_welfare.weeks_before_dol_application == 4
    again = build_config(SMALL + as_overrides(base, params))
    for p in ("pathway.secure_threshold", "orders.dol_propensity_by_year", "secure_welfare.weeks_before_dol_application"):
        assert get_param(again, p) == get_param(cfg, p)
    from sim.config import ConfigError

    with pytest.raises(ConfigError):
        with_params(base, {"pathway.secure_threshold": 1.5})


# ============================================================================ report
def test_report_end_to_end(tmp_path):
    out = tmp_path / "fit"
    posterior = tmp_path / "posterior"
    posterior.mkdir()
    draws = pd.DataFrame({"pathway.secure_threshold": [0.76, 0.8, 0.84],
                          "orders.dol_propensity_by_year.2017": [0.1, 0.2, 0.3]})
    draws.to_csv(posterior / "draws.csv", index=False)
    (posterior / "posterior.yaml").write_text(yaml.safe_dump({
        "generations": 2, "particles": 3, "simulations": 9, "epsilon": 1.5, "written": "2025-01-01",
        "median": {"pathway.secure_threshold": 0.8, "orders.dol_propensity_by_year.2017": 0.2},
        "q05": {"pathway.secure_threshold": 0.76, "orders.dol_propensity_by_year.2017": 0.1},
        "q95": {"pathway.secure_threshold": 0.84, "orders.dol_propensity_by_year.2017": 0.3},
        "prior": {"pathway.secure_threshold": {"dist": "uniform", "lo": 0.7, "hi": 0.9},
                  "orders.dol_propensity_by_year.2017": {"dist": "loguniform", "lo": 0.01, "hi": 1.0}}}))
    indices = pd.DataFrame({"parameter": ["a", "b", "a", "b"],
                            "outcome": ["baseline:x", "baseline:x", "rank:s", "rank:s"],
                            "mu_star": [2.0, 1.0, 0.0, 0.5], "mu_star_conf": 0.1, "sigma": 0.2})
    indices.to_csv(tmp_path / "morris.csv", index=False)
    args = ["--no-historical", "--seeds", "2", "--jobs", "2", "--out", str(out),
            "--draws", str(posterior / "draws.csv"), "--posterior", str(posterior),
            "--sensitivity", str(tmp_path / "morris.csv"),
            "start_year=2017", "horizon.years=1", "horizon.burn_in_years=0", "population.scale=0.05"]
    proc = subprocess.run([sys.executable, "-m", "calibration.report", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    fit = pd.read_csv(out / "fit.csv")
    assert list(fit.columns) == ["id", "measure", "period", "published", "model", "lo", "hi", "tolerance", "within"]
    assert len(fit) == len(load_targets())
    ok = fit["model"].notna()
    assert (fit.loc[ok, "lo"] <= fit.loc[ok, "model"] + 1e-9).all() and (fit.loc[ok, "model"] <= fit.loc[ok, "hi"] + 1e-9).all()
    md = (out / "report.md").read_text()
    for key in fit["id"]:
        assert f"| {key} |" in md
    assert "MISS" in md and "posterior draw k" in md
    for chart in ("dol_series.png", "posterior.png", "sensitivity.png"):
        assert (out / chart).stat().st_size > 10_000, chart
    assert "`pathway.secure_threshold` | uniform 0.7 to 0.9 | 0.8 |" in md
    assert "`baseline:x` | `a` (1.00), `b` (0.50)" in md
    # One year from 2017 does not reach 2023/24: the split is written, empty, and the report says so.
    split = pd.read_csv(out / "rise_split.csv")
    assert list(split["component"]) == ["model_rise", "dol_threshold", "capacities", "interaction", "other",
                                        "published"]
    assert split.loc[split["component"] == "model_rise", "rise"].isna().all()
    assert "not split" in md
    assert (out / "values_by_seed.csv").is_file()


def test_rise_split_adds_up():
    from calibration.rise import decompose, rises, split_table

    def series(y2017, y2023):
        return pd.DataFrame({"year": [2017, 2023], "applications_dol": [y2017, y2023], "weeks": [52, 52]})

    # Two seeds; the rise with both held, with each moving, with both moving.
    runs = {"as_published": [series(100, 1300), series(120, 1100)],
            "threshold_held": [series(100, 400), series(120, 380)],
            "capacities_held": [series(100, 1000), series(120, 900)],
            "both_held": [series(100, 250), series(120, 220)]}
    parts = decompose(rises(runs))
    assert list(parts["dol_threshold"]) == [750, 680] and list(parts["capacities"]) == [150, 160]
    assert list(parts["interaction"]) == [1200 - 300 - 900 + 150, 980 - 260 - 780 + 100]
    total = parts[["dol_threshold", "capacities", "interaction", "other"]].sum(axis=1)
    assert (total == parts["model_rise"]).all()
    table = split_table(runs, 1130.0).set_index("component")
    assert table.loc["model_rise", "rise"] == 1090 and table.loc["model_rise", "share_of_model_rise"] == 1.0
    assert table.loc["dol_threshold", "lo"] == 680 and table.loc["dol_threshold", "hi"] == 750
    parts = table.loc[["dol_threshold", "capacities", "interaction", "other"], "share_of_model_rise"]
    assert parts.sum() == pytest.approx(1)
    assert table.loc["published", "rise"] == 1130.0


def test_counterfactuals_hold_the_right_schedules():
    from sim import build_config

    from calibration.rise import capacity_schedules, held, variant_config

    cfg = build_config(SMALL + ["++orders.dol_propensity_by_year={2017:0.05,2019:0.2,2022:0.6}"])
    threshold = held(cfg, ("threshold",))
    assert threshold == {"orders.dol_propensity_by_year": {2017: 0.05}}
    capacities = held(cfg, ("capacities",))
    assert capacities["placements.secure_home.places_by_year"] == {2017: 233}
    assert capacities["placements.residential.places_by_year"] == {2017: 9000}
    assert capacities["secure_welfare.youth_justice_places_by_year"] == {2017: 114}
    assert "orders.dol_propensity_by_year" not in capacities
    assert set(capacities) == set(capacity_schedules(cfg))
    both = variant_config(cfg, "both_held")
    assert both.orders.dol_propensity_by_year == {2017: 0.05}
    assert both.placements.secure_home.places_by_year == {2017: 233}
    assert cfg.placements.secure_home.places_by_year[2023] == 204      # the original is untouched
    assert variant_config(cfg, "as_published") is cfg


# ============================================================================ screening
def test_screening_parameters_are_assumptions():
    from calibration.screening import assumption_marked, load

    spec = load()
    for p in spec["parameters"]:
        assert assumption_marked(p), p
    assert not assumption_marked("placements.residential.weekly_cost_gbp")   # cited T5-017
    assert not assumption_marked("population.children_looked_after_by_year")


def test_morris_small(tmp_path):
    from calibration.screening import load, morris

    spec = load()
    spec.update(overrides=["start_year=2017", "horizon.years=0.5", "population.scale=0.05", "seed=1"],
                parameters={"pathway.secure_threshold": [0.7, 0.88], "distress.noise_sd": [0.03, 0.07]},
                outcomes={"referrals": {"measure": "sum", "args": {"column": "secure_referrals"},
                                        "period": "2017-04-01..2017-09-30"},
                          "dol": {"measure": "sum", "args": {"column": "applications_dol"},
                                  "period": "2017-04-01..2017-09-30"}},
                targets=[], select_max=1)
    res = morris(spec, trajectories=2, jobs=2, out=tmp_path, progress=False)
    assert len(res["samples"]) == 2 * 3
    assert set(res["morris"]["parameter"]) == {"pathway.secure_threshold", "distress.noise_sd"}
    assert np.isfinite(res["morris"]["mu_star"]).all()
    mu_star = res["morris"].set_index(["parameter", "outcome"])["mu_star"]
    assert mu_star[("pathway.secure_threshold", "referrals")] > 0     # the threshold moves secure referrals
    sel = yaml.safe_load((tmp_path / "selection.yaml").read_text())
    assert list(sel["parameters"]) == [res["ranking"].index[0]]       # select_max=1: the top-ranked one
    assert (tmp_path / "samples.csv").is_file() and (tmp_path / "morris.csv").is_file()


# ============================================================================ ABC-SMC
ABC_SPEC = {
    "overrides": ["start_year=2017", "horizon.years=0.5", "horizon.burn_in_years=0", "population.scale=0.1"],
    "synthetic": {"params": {"pathway.secure_threshold": 0.78}, "seed": 7},
    "outcomes": {
        "secure_referrals": {"measure": "sum", "args": {"column": "secure_referrals"},
                             "period": "2017-04-01..2017-09-30", "tolerance": {"rel": 0.1}},
        "secure_waiting": {"measure": "mean", "args": {"column": "waiting_secure_home"},
                           "period": "2017-04-01..2017-09-30", "tolerance": {"rel": 0.15}},
        "dol_applications": {"measure": "sum", "args": {"column": "applications_dol"},
                             "period": "2017-04-01..2017-09-30", "tolerance": {"rel": 0.2}},
    },
    "parameters": {"pathway.secure_threshold": {"dist": "uniform", "lo": 0.68, "hi": 0.88}},
    "population_size": 10,
    "max_generations": 2,
    "initial_epsilon": 4.0,
    "min_epsilon": 0.2,
    "cores": 2,
}


def test_abc_recovers_a_known_parameter(tmp_path):
    from calibration.abc import run_abc

    s = run_abc(ABC_SPEC, tmp_path, n_draws=200)
    med = s["median"]["pathway.secure_threshold"]
    assert abs(med - 0.78) < 0.04, s
    assert s["q95"]["pathway.secure_threshold"] - s["q05"]["pathway.secure_threshold"] < 0.9 * (0.88 - 0.68)
    draws = pd.read_csv(tmp_path / "draws.csv")
    assert len(draws) == 200 and draws["pathway.secure_threshold"].between(0.68, 0.88).all()
    post = yaml.safe_load((tmp_path / "posterior.yaml").read_text())
    assert post["overrides"] == [f"pathway.secure_threshold={med:.6g}"]
    assert s["simulations"] >= 2 * 10 and s["stopped_by"] == "generations"
    # Resumable: the database keeps the generations; asking for more continues the same run, its epsilon
    # taken from the last stored generation; the wall-time budget then stops it after one more generation.
    s2 = run_abc(ABC_SPEC, tmp_path, generations=5, n_draws=50, budget_minutes=1e-4)
    assert s2["resumed"] and s2["generations"] == 3 and s2["stopped_by"] == "time budget"
    eps = pd.read_csv(tmp_path / "generations.csv").set_index("t")["epsilon"]
    assert eps[0] == 4.0 and np.isfinite(eps[2]) and eps[2] <= eps[1] <= eps[0]


def test_abc_on_ray(tmp_path):
    """The same calibration with its particles on Ray, the backend the scenario comparison uses."""
    pytest.importorskip("ray")
    from calibration.abc import run_abc

    s = run_abc(dict(ABC_SPEC, max_generations=1), tmp_path, population=4, backend="ray", n_draws=10)
    assert s["backend"] == "ray" and s["generations"] == 1 and s["particles"] == 4
    assert 0.68 <= s["median"]["pathway.secure_threshold"] <= 0.88

"""``python -m sim.compare``: scenarios against the baseline over seeds, paired by seed.

Small runs (a twentieth of England, one year, a few seeds).  A scenario of zero strength is the
baseline exactly; pairing by seed narrows the interval of a small effect; the parallel backends
(joblib's worker processes, Ray) give exactly what a serial run gives; bad input stops the command line before
anything is written; the folder has the documented files.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import REPO
from sim import ConfigError, build_config
from sim.compare import COLUMNS, HEADLINE, LEVEL, compare, library, plan, run_comparison, write_comparison
from sim.placements import PAYERS, PLACEMENT_TYPES

SMALL = ["population.scale=0.05", "horizon.years=1"]
PAIR = ["baseline", "early_help"]


def cli_compare(args, timeout=300):
    """Run ``python -m sim.compare`` in a subprocess, as a user would."""
    env = dict(os.environ)
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, "-m", "sim.compare", *args], check=False, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def small_serial():
    """Two scenarios x two seeds, run one after another in this process."""
    return run_comparison(SMALL, PAIR, seeds=2, backend="serial")


# ----------------------------------------------------------------------------- paired comparisons
def test_zero_strength_scenario_is_the_baseline_exactly():
    """early_help at strength 0 changes nothing: every metric of every seed equals the baseline's, and
    its implementation cost is zero too (the scenario.* override reaches only runs with early_help)."""
    c = run_comparison(SMALL + ["scenario.early_help.strength=0"], ["early_help"], seeds=1, backend="serial")
    assert c.plan.scenarios == PAIR
    assert c.plan.configs["early_help"].scenario.early_help.strength == 0
    base, zero = c.runs.xs("baseline", level="scenario"), c.runs.xs("early_help", level="scenario")
    pd.testing.assert_frame_equal(zero, base, check_exact=True)
    impl = [m for m in zero.columns if m.startswith("cost.implementation_gbp")]
    assert impl and (zero[impl].to_numpy() == 0).all()
    rows = c.table[c.table.scenario == "early_help"]
    assert (rows[["diff_mean", "diff_lo", "diff_hi"]].to_numpy() == 0).all()


def test_paired_interval_of_a_small_effect_is_much_narrower_than_unpaired():
    """Common random numbers: the paired interval of a weak risk-tolerance shift is less than half the
    width of a Welch (unpaired) interval of the same difference."""
    c = run_comparison(SMALL + ["scenario.risk_tolerance_shift.strength=0.2"], ["risk_tolerance_shift"], seeds=6,
                       backend="serial")
    metric = "cost.per_year_gbp"
    a = c.runs.xs("risk_tolerance_shift", level="scenario")[metric].to_numpy()
    b = c.runs.xs("baseline", level="scenario")[metric].to_numpy()
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    unpaired = 2 * stats.t.ppf(0.5 + LEVEL / 2, df) * np.sqrt(va + vb)
    row = c.table.set_index(["scenario", "metric"]).loc[("risk_tolerance_shift", metric)]
    paired = row["diff_hi"] - row["diff_lo"]
    assert row["diff_mean"] == pytest.approx(a.mean() - b.mean(), rel=1e-9)
    assert row["diff_lo"] <= row["diff_mean"] <= row["diff_hi"]
    assert 0 < paired < unpaired / 2, (paired, unpaired)


def test_paired_interval_against_scipy(small_serial):
    """diff_* is the t-interval of the mean paired difference; lo/hi the 5th/95th percentiles over seeds."""
    c = small_serial
    metric = "restriction.child_weeks_deprived_of_liberty.total"
    x = c.runs.xs("early_help", level="scenario")[metric].to_numpy()
    d = x - c.runs.xs("baseline", level="scenario")[metric].to_numpy()
    lo, hi = stats.t.interval(LEVEL, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    row = c.table.set_index(["scenario", "metric"]).loc[("early_help", metric)]
    assert row["diff_mean"] == pytest.approx(d.mean())
    assert (row["diff_lo"], row["diff_hi"]) == pytest.approx((lo, hi))
    assert (row["lo"], row["hi"]) == pytest.approx(tuple(np.percentile(x, [5, 95])))
    assert row["mean"] == pytest.approx(x.mean())
    base = c.table[c.table.scenario == "baseline"]
    assert (base[["diff_mean", "diff_lo", "diff_hi"]].to_numpy() == 0).all()


def test_a_comparison_run_is_the_full_run_less_what_it_does_not_keep():
    """run_one builds only the summary, the weekly table and the moves matrix (from the event log):
    each equals what the full ``sim.api.run`` gives for the same configuration and seed."""
    from sim.api import run
    from sim.compare import moves_matrix, run_one

    cfg = build_config(SMALL + ["scenario=early_help"])
    lean, full = run_one(cfg, 3), run(dataclasses.replace(cfg, seed=3), write=False)
    assert lean.summary == full.summary
    pd.testing.assert_frame_equal(lean.weekly, full.weekly, check_exact=True)
    pd.testing.assert_frame_equal(lean.moves, moves_matrix(full.transitions), check_exact=True)
    assert lean.moves.to_numpy().sum() == (full.transitions["event"] == "move").sum() > 0


def test_a_seeds_scenarios_start_from_one_population_exactly(monkeypatch):
    """Runs with one seed make the population once (``PopulationCache``) and each takes a copy of its own:
    a run after another scenario's (which changed its own copy) gives what it gave from a fresh one."""
    import sim.children
    from sim.compare import _POPULATIONS, run_one

    original, made = sim.children.populate, []

    def counted(cfg, *rest):
        made.append(cfg.seed)
        return original(cfg, *rest)

    monkeypatch.setattr(sim.children, "populate", counted)
    base, eh = build_config(SMALL), build_config(SMALL + ["scenario=early_help"])
    _POPULATIONS.clear()
    try:
        first = run_one(eh, 3)
        run_one(base, 3)
        again = run_one(eh, 3)
        run_one(eh, 4)
    finally:
        _POPULATIONS.clear()
    assert made == [3, 4]  # made once for seed 3 (the scenario's synthesis inputs are the baseline's), then 4
    assert first.summary == again.summary
    pd.testing.assert_frame_equal(first.weekly, again.weekly, check_exact=True)
    pd.testing.assert_frame_equal(first.moves, again.moves, check_exact=True)


def test_a_population_from_the_cache_is_a_fresh_one_array_for_array():
    """Every array of the children a cache hands out again (and the LAs and facts) equals a freshly made
    population's, dtype and values: what synthesis draws is kept (SYNTHESISED), the rest is default."""
    from sim.children import PopulationCache, populate
    from sim.randomness import Streams

    cfg = build_config(SMALL + ["seed=6"])
    cache = PopulationCache()
    made = cache.populate(cfg, Streams(cfg.seed, 52), 52)
    made[1].distress[:] = 0.0  # a run changes its own copy
    geo, children, facts = cache.populate(cfg, Streams(cfg.seed, 52), 52)
    fresh_geo, fresh, fresh_facts = populate(cfg, Streams(cfg.seed, 52), 52)
    assert facts == fresh_facts and geo.la_names == fresh_geo.la_names
    np.testing.assert_array_equal(geo.la_weight, fresh_geo.la_weight)
    assert vars(children).keys() == vars(fresh).keys()
    for name, value in vars(fresh).items():
        got = getattr(children, name)
        if isinstance(value, np.ndarray):
            assert got.dtype == value.dtype and got.shape == value.shape, name
            np.testing.assert_array_equal(got, value, err_msg=name)
        else:
            assert got == value, name


class _Reads:
    """A configuration (or part of one) that notes the dotted path of every value read from it."""

    def __init__(self, obj, path, log):
        self._obj, self._path, self._log = obj, path, log

    def __getattr__(self, name):
        value = getattr(self._obj, name)
        path = f"{self._path}.{name}" if self._path else name
        if dataclasses.is_dataclass(value):
            return _Reads(value, path, self._log)
        self._log.add(path)
        return value


def test_population_is_made_from_its_declared_synthesis_inputs_only():
    """``populate`` reads nothing of a configuration outside SYNTHESIS_INPUTS, the key of the population
    cache: two runs equal in those start with the same children, whatever else differs."""
    from sim.children import SYNTHESIS_INPUTS, populate
    from sim.randomness import Streams

    cfg = build_config(SMALL + ["scenario=new_ecosystem", "horizon.burn_in_years=1"])
    read: set[str] = set()
    streams = Streams(cfg.seed, 52, first_week=-52)
    populate(_Reads(cfg, "", read), streams, 52, 52)
    assert {"population.scale", "needs.complexity_loading", "distress.baseline"} <= read
    outside = [p for p in read if not any(p == k or p.startswith(k + ".") for k in SYNTHESIS_INPUTS)]
    assert not outside, f"populate reads {outside}: add them to SYNTHESIS_INPUTS"


def test_plan_config_with_a_seed_is_what_build_config_gives():
    """Tasks reuse one validated configuration per scenario with the seed replaced: the same thing."""
    p = plan(SMALL, ["early_help"], 1)
    direct = build_config(SMALL + ["scenario=early_help", "seed=7"])
    assert dataclasses.replace(p.configs["early_help"], seed=7) == direct
    assert dataclasses.replace(p.configs["baseline"], seed=7) == build_config(SMALL + ["seed=7"])


def test_plan_checks_its_input():
    """Baseline always first (run even when not asked for); unknown names and overrides that reach no
    compared scenario are one-line errors."""
    assert plan(SMALL, ["early_help", "baseline", "early_help"], 1).scenarios == PAIR
    assert plan(SMALL, None, 1).scenarios == library() and library()[0] == "baseline"
    with pytest.raises(ConfigError) as info:
        plan(SMALL, ["early_hlp"], 1)
    assert "early_hlp" in str(info.value) and all(n in str(info.value) for n in library())
    with pytest.raises(ConfigError, match="scenario.early_help.strength=0"):
        plan(SMALL + ["scenario.early_help.strength=0"], ["pooled_funding"], 1)
    with pytest.raises(ConfigError, match="compare.seeds"):
        plan(SMALL, PAIR, 0)
    with pytest.raises(ConfigError, match="compare.first_seed"):
        plan(SMALL + ["seed=3"], PAIR, 1)


# ----------------------------------------------------------------------------- backends
def test_parallel_equals_serial_exactly(small_serial):
    """Two local worker processes give the serial comparison bit for bit."""
    local = run_comparison(SMALL, PAIR, seeds=2, backend="local", workers=2)
    pd.testing.assert_frame_equal(local.table, small_serial.table, check_exact=True)
    pd.testing.assert_frame_equal(local.runs, small_serial.runs, check_exact=True)


def test_workers_start_with_one_blas_thread_unless_the_user_chose(monkeypatch):
    """Local workers read the environment as they start: one BLAS thread each, a user's setting kept, and
    the environment as it was once the pool is closed."""
    from sim.compare import ONE_THREAD, _one_blas_thread_per_worker

    for name in ONE_THREAD:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    with _one_blas_thread_per_worker():
        assert os.environ["OPENBLAS_NUM_THREADS"] == os.environ["OMP_NUM_THREADS"] == "1"
        assert os.environ["MKL_NUM_THREADS"] == "3"
    assert "OPENBLAS_NUM_THREADS" not in os.environ and "OMP_NUM_THREADS" not in os.environ
    assert os.environ["MKL_NUM_THREADS"] == "3"


def test_ray_equals_serial_exactly(small_serial):
    """The Ray backend, on a local Ray instance started here, gives the same numbers."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'care-pathways[ray]')")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    try:
        table = compare(SMALL, PAIR, seeds=2, backend="ray")
    finally:
        if started:
            ray.shutdown()
    pd.testing.assert_frame_equal(table, small_serial.table, check_exact=True)


# ----------------------------------------------------------------------------- files
def test_failed_comparison_leaves_nothing_behind(tmp_path, monkeypatch):
    """A run that fails part-way leaves no comparison files, no runs/ and no temporary files."""
    import sim.compare as sc

    real, calls = sc.run_one, []

    def flaky(cfg, seed):
        calls.append(seed)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return real(cfg, seed)

    monkeypatch.setattr(sc, "run_one", flaky)
    with pytest.raises(RuntimeError, match="boom"):
        write_comparison(tmp_path, SMALL, ["baseline"], 2, backend="serial")
    assert list(tmp_path.iterdir()) == []


def test_cli_unknown_scenario_is_one_line_and_writes_nothing(tmp_path):
    run_dir = tmp_path / "run"
    proc = cli_compare(["compare.scenarios=[baseline,no_such_scenario]", "compare.seeds=2", *SMALL,
                        f"hydra.run.dir={run_dir}"], timeout=120)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr[-800:]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-800:]
    assert "no_such_scenario" in lines[0]
    for name in library():
        assert name in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not run_dir.exists()


def test_cli_writes_the_documented_files(tmp_path, small_serial):
    run_dir = tmp_path / "run"
    proc = cli_compare(["compare.scenarios=[baseline,early_help]", "compare.seeds=2", *SMALL,
                        f"hydra.run.dir={run_dir}"])
    assert proc.returncode == 0, proc.stderr[-2000:]

    table = pd.read_csv(run_dir / "comparison.csv")
    assert list(table.columns) == COLUMNS
    assert list(dict.fromkeys(table.scenario)) == PAIR
    assert {key for key, _, _ in HEADLINE} <= set(table.metric)
    # The command line gives what the Python API gives (a different process, a parallel backend).
    pd.testing.assert_frame_equal(table, small_serial.table, check_exact=True)

    for scenario in PAIR:
        for seed in (1, 2):
            folder = run_dir / "runs" / scenario / f"seed_{seed}"
            summary = json.loads((folder / "summary.json").read_text())
            assert summary["run"]["seed"] == seed and summary["run"]["scenario"] == scenario
            weekly = pd.read_parquet(folder / "weekly.parquet")
            assert len(weekly) == 52 and "moves" in weekly.columns
            moves = pd.read_csv(folder / "moves.csv", index_col="from")
            assert list(moves.index) == list(PLACEMENT_TYPES) and list(moves.columns) == list(PLACEMENT_TYPES)
            assert moves.to_numpy().sum() > 0 and (moves.to_numpy() >= 0).all()

    md = (run_dir / "comparison.md").read_text()
    assert "2 runs per scenario (seeds 1-2" in md and "scale 0.05" in md and "1-year horizon" in md
    assert "start year 2024" in md
    for _, label, _ in HEADLINE:
        assert label in md
    assert "Implementation a year" in md and "Net, all payers" in md
    assert all(label in md for label in ("Local authorities", "NHS", "Justice", "Education"))
    assert len(PAYERS) == 4
    assert "| early_help |" in md and "%" in md

    assert "| Scenario |" in proc.stdout and str(run_dir) in proc.stdout
    leftovers = [p.name for p in run_dir.iterdir() if p.name.startswith(".") and p.name != ".hydra"]
    assert leftovers == []

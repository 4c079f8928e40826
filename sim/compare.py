"""``python -m sim.compare``: every scenario against the baseline, over many seeds, paired by seed.

    python -m sim.compare                                         # the whole library, 20 seeds, all cores
    python -m sim.compare compare.scenarios=[baseline,early_help] compare.seeds=10 population.scale=0.1
    python -m sim.compare compare.backend=ray compare.ray_address=auto   # on a Ray cluster
    python -m sim.compare scenario=early_help scenario.early_help.strength=0.5   # one scenario vs baseline
    python -m sim.compare compare.posterior=calibration/posterior/draws.csv compare.seeds=20   # over the posterior

It takes the same overrides as ``python -m sim``; ``scenario.<intervention>.*`` overrides apply to the
runs whose scenario includes that intervention.  Each run is a pure function of its configuration and
seed (common random numbers, ``sim.randomness``), so a scenario's difference from the baseline with the
same seed is its effect, and the parallel backends give exactly what a serial run gives.

Posterior uncertainty: ``compare.posterior=<draws.csv>`` (a CSV with one column per dotted parameter, e.g.
``pathway.secure_threshold`` or ``orders.dol_propensity_by_year.2022`` for one year of a schedule, and one
row per draw from the calibration's posterior; absolute, or relative to the repository root as
``data_file`` is) runs seed k of every scenario with draw k, the k-th row counting from 1, on top of the
configuration. Every scenario's seed k then has the same parameters and the same random numbers, so the
pairs stay paired, and the spread over seeds covers the parameters' uncertainty as well as chance. Seeds
must run from 1 up to at most the number of draws; a missing file, an empty one, a column that is not a
parameter, a value that is not a number or is out of range stops the comparison with one line naming
``compare.posterior``.

It writes into the Hydra run directory (all under temporary names, renamed when complete):

    comparison.csv     scenario, metric, mean, lo, hi, diff_mean, diff_lo, diff_hi
    comparison.md      the headline table and the implementation cost against savings, by payer
    runs/<scenario>/seed_<k>/summary.json, weekly.parquet, moves.csv

From Python: ``compare(overrides, scenarios, seeds)`` returns the comparison.csv rows;
``write_comparison(out_dir, overrides, ...)`` writes the folder; ``run_comparison`` returns everything.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.children import PopulationCache
from sim.config import CarePathwaysConfig, ConfigError
from sim.placements import PAYERS, PLACEMENT_TYPES

BASELINE = "baseline"
BACKENDS = ("local", "serial", "ray")
COLUMNS = ["scenario", "metric", "mean", "lo", "hi", "diff_mean", "diff_lo", "diff_hi"]
LEVEL = 0.90  # the confidence level of the paired interval
PERCENTILES = (5.0, 95.0)  # lo and hi: the spread over seeds

# Headline metrics of the briefing table: (dotted key, label, kind). Kinds: count, share, gbp_m, gbp, rate.
HEADLINE = [
    ("restriction.dol_applications_per_year", "DoL applications a year", "count"),
    ("restriction.secure_applications_per_year", "s25 secure applications a year", "count"),
    ("restriction.child_weeks_deprived_of_liberty.total", "Child-weeks deprived of liberty a year", "count"),
    ("restriction.share_ever_deprived_of_liberty", "Children in care ever deprived of liberty", "share"),
    ("cost.per_year_gbp", "Cost a year", "gbp_m"),
    ("cost.per_child_year_gbp", "Cost per child-year in care", "gbp"),
    ("stability.moves_per_child_year", "Moves per child-year in care", "rate"),
    ("stability.share_with_3plus_moves_in_a_year", "3+ moves in a year", "share"),
    ("stability.share_placed_out_of_area", "Placed out of area", "share"),
    ("safety.harm_incidents_per_child_year", "Harm incidents per child-year", "rate"),
]
PAYER_LABELS = {"local_authority": "Local authorities", "nhs": "NHS", "justice": "Justice", "education": "Education"}


# ----------------------------------------------------------------------------- the plan
@dataclass
class Plan:
    """What a comparison will run: one validated configuration per scenario, and the seeds."""

    scenarios: list[str]  # labels, baseline first ("a+b" for a composition)
    configs: dict[str, CarePathwaysConfig]  # label -> configuration (its seed is replaced per run)
    seeds: list[int]
    backend: str = "local"
    workers: int = 0
    ray_address: str = ""
    progress: bool = False
    posterior: str = ""  # compare.posterior as given ("" for none)
    draws: dict[int, dict[str, float]] = field(default_factory=dict)  # seed -> parameters from the posterior

    def config_for(self, label: str, seed: int) -> CarePathwaysConfig:
        """The configuration a task runs: the scenario's, with the seed's posterior draw if there is one."""
        if seed not in self.draws:
            return self.configs[label]
        from sim.config import with_params

        return with_params(self.configs[label], self.draws[seed])

    @property
    def tasks(self) -> list[tuple[str, int]]:
        """(scenario, seed) in the fixed order results are collected in."""
        return [(s, k) for s in self.scenarios for k in self.seeds]


def library() -> list[str]:
    """Every scenario file in scenarios/scenario/, baseline first."""
    from sim.api import CONFIG_DIR

    names = sorted(p.stem for p in (CONFIG_DIR / "scenario").glob("*.yaml"))
    return [BASELINE] + [n for n in names if n != BASELINE] if BASELINE in names else names


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def _scenario_override(label: str) -> str:
    parts = label.split("+")
    return f"scenario={parts[0]}" if len(parts) == 1 else f"scenario=[{','.join(parts)}]"


def _interventions(cfg: CarePathwaysConfig) -> set[str]:
    from sim.scenarios import INTERVENTIONS

    return {n for n in INTERVENTIONS if getattr(cfg.scenario, n, None) is not None}


def _build(overrides: Sequence[str]) -> CarePathwaysConfig:
    """build_config, with any stray exception from Hydra reduced to one line too."""
    from sim.api import build_config

    try:
        return build_config(list(overrides))
    except ConfigError:
        raise
    except Exception as exc:  # e.g. a misspelt field under an intervention
        bad = next((o for o in reversed(overrides) if _key(o).startswith("scenario.")), None)
        where = f"{_key(bad)}: " if bad else ""
        raise ConfigError(f"{where}{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
                          ) from None


def _posterior_column_ok(cfg: CarePathwaysConfig, path: str) -> bool:
    """A posterior column names a number in the config, or a year of a {year: value} schedule."""
    from sim.config import get_param

    try:
        value = get_param(cfg, path)
    except (AttributeError, KeyError, TypeError):
        parent, _, year = path.rpartition(".")
        try:
            return year.isdigit() and isinstance(get_param(cfg, parent), Mapping)
        except (AttributeError, KeyError, TypeError):
            return False
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def posterior_draws(path: str, cfg: CarePathwaysConfig, seeds: Sequence[int]) -> dict[int, dict[str, float]]:
    """The parameters each seed runs with under ``compare.posterior``: seed k gets draw k (the k-th row,
    counting from 1). ConfigError, one line naming compare.posterior, for a missing or empty file, a column
    that is not a parameter, a value that is not a number or is out of range, or too few draws."""
    from sim.config import with_params
    from sim.data import resolve

    name = "compare.posterior"
    file = resolve(path)
    if not file.is_file():
        raise ConfigError(f"{name} must be a CSV of posterior draws (a column per dotted parameter), "
                          f"got {path!r} (not found)")
    try:
        draws = pd.read_csv(file)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise ConfigError(f"{name} must be a CSV of posterior draws, got {path!r} ({str(exc).strip()})") from None
    if draws.empty or draws.columns.empty:
        raise ConfigError(f"{name} must have a header of parameter names and a row per draw, got {path!r} (empty)")
    unknown = [c for c in draws.columns if not _posterior_column_ok(cfg, str(c))]
    if unknown:
        raise ConfigError(f"{name}: column {unknown[0]!r} of {path!r} is not a parameter; columns must be dotted "
                          f"parameters of scenarios/config.yaml, e.g. pathway.secure_threshold")
    values = draws.apply(pd.to_numeric, errors="coerce")
    bad = [c for c in draws.columns if values[c].isna().any()]
    if bad:
        raise ConfigError(f"{name}: column {bad[0]!r} of {path!r} must hold numbers in every row")
    if min(seeds) < 1 or max(seeds) > len(values):
        raise ConfigError(f"{name} has {len(values)} draws and seed k uses draw k, so the seeds must run within "
                          f"1..{len(values)}, got seeds {min(seeds)}..{max(seeds)} (set compare.first_seed and "
                          f"compare.seeds)")
    out: dict[int, dict[str, float]] = {}
    for k in seeds:
        params = {str(c): float(v) for c, v in values.iloc[k - 1].items()}
        try:
            with_params(cfg, params)
        except ConfigError as exc:
            raise ConfigError(f"{name} draw {k} of {path!r}: {exc}") from None
        out[int(k)] = params
    return out


def plan(overrides: Sequence[str] = (), scenarios: Sequence[str] | None = None, seeds: int | None = None, *,
         first_seed: int | None = None, backend: str | None = None, workers: int | None = None,
         ray_address: str | None = None, progress: bool | None = None, posterior: str | None = None) -> Plan:
    """Check everything a comparison needs before anything runs; ConfigError (one line) if not.

    Arguments left as None come from the ``compare`` section of the configuration (so from
    ``compare.*`` overrides); an empty scenario list means ``scenario=...`` if one was given, else the
    whole library.  The baseline is always run (it is the reference) and always comes first.
    """
    from sim.scenarios import INTERVENTIONS

    overrides = [str(o) for o in overrides]
    if any(_key(o) == "seed" for o in overrides):
        raise ConfigError("seed is set for each run: choose the seeds with compare.first_seed=N and compare.seeds=N")
    chosen = [o for o in overrides if _key(o) == "scenario"]
    per_iv = [o for o in overrides if _key(o).startswith("scenario.")]
    common = [o for o in overrides if _key(o) != "scenario" and not _key(o).startswith("scenario.")]
    # Everything but the scenario: checked once, and the source of the compare.* settings.
    base = _build(common)
    settings = base.compare
    scenarios = list(settings.scenarios) if scenarios is None else list(scenarios)
    seeds = settings.seeds if seeds is None else seeds
    first_seed = settings.first_seed if first_seed is None else first_seed
    backend = settings.backend if backend is None else backend
    workers = settings.workers if workers is None else workers
    ray_address = settings.ray_address if ray_address is None else ray_address
    progress = settings.progress if progress is None else progress
    posterior = settings.posterior if posterior is None else posterior

    if backend not in BACKENDS:
        raise ConfigError(f"compare.backend must be one of {list(BACKENDS)}, got {backend!r}")
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 1:
        raise ConfigError(f"compare.seeds must be an integer >= 1, got {seeds!r}")
    if isinstance(first_seed, bool) or not isinstance(first_seed, (int, np.integer)) or first_seed < 0:
        raise ConfigError(f"compare.first_seed must be a non-negative integer, got {first_seed!r}")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 0:
        raise ConfigError(f"compare.workers must be an integer >= 0 (0: all cores), got {workers!r}")
    if backend == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise ConfigError("compare.backend=ray needs the ray package: pip install 'care-pathways[ray]'")

    known = library()
    source = "compare.scenarios"
    if chosen:
        if scenarios:
            raise ConfigError(f"{chosen[-1]} and compare.scenarios both choose scenarios: "
                              f"give them all in compare.scenarios=[...]")
        # scenario=x (or scenario=[a,b]) alone: compare that scenario with the baseline.
        value = chosen[-1].split("=", 1)[1].strip()
        parts = [p.strip() for p in value.strip("[]").split(",") if p.strip()]
        scenarios = ["+".join(parts)] if parts else []
        source = "scenario"
    if not scenarios:
        scenarios = known
    labels: list[str] = []
    for name in scenarios:
        parts = [p.strip() for p in str(name).split("+") if p.strip()]
        bad = [p for p in parts if p not in known] or ([] if parts else [str(name)])
        if bad:
            raise ConfigError(f"{source}: unknown scenario {bad[0]!r}; known scenarios: {known}")
        parts = [p for p in parts if p != BASELINE] or [BASELINE]
        label = "+".join(parts)
        if label not in labels:
            labels.append(label)
    labels = [BASELINE] + [s for s in labels if s != BASELINE]

    configs: dict[str, CarePathwaysConfig] = {}
    used: set[str] = set()
    for label in labels:
        reuse = label == BASELINE and not _interventions(base)  # the default scenario is the baseline
        cfg = base if reuse else _build(common + [_scenario_override(label)])
        ivs = _interventions(cfg)
        mine = [o for o in per_iv if _key(o).split(".")[1] in ivs]
        if mine:
            cfg = _build(common + [_scenario_override(label)] + mine)
            used.update(mine)
        configs[label] = dataclasses.replace(cfg, seed=int(first_seed))
    for o in per_iv:
        if o in used:
            continue
        iv = _key(o).split(".")[1]
        if iv not in INTERVENTIONS:
            raise ConfigError(f"{_key(o)} is not a known parameter; scenario.* allows: {', '.join(INTERVENTIONS)}")
        raise ConfigError(f"{o} applies to none of the scenarios compared ({', '.join(labels)}): "
                          f"add one with {iv} to compare.scenarios")
    seed_list = list(range(int(first_seed), int(first_seed) + int(seeds)))
    draws = posterior_draws(str(posterior), base, seed_list) if posterior else {}
    return Plan(labels, configs, seed_list, backend, int(workers), str(ray_address or ""), bool(progress),
                str(posterior or ""), draws)


# ----------------------------------------------------------------------------- one run
@dataclass
class RunOutput:
    """What one (scenario, seed) run hands back: small enough to send between processes."""

    summary: dict
    weekly: pd.DataFrame
    moves: pd.DataFrame


def moves_matrix(transitions: pd.DataFrame) -> pd.DataFrame:
    """Counts of ``move`` events between placement types: rows from, columns to (every type, in order)."""
    index = {t: i for i, t in enumerate(PLACEMENT_TYPES)}
    mv = transitions.loc[transitions["event"] == "move", ["from", "to"]]
    src = mv["from"].map(index)
    dst = mv["to"].map(index)
    ok = src.notna() & dst.notna()
    return _count_moves(src[ok].astype(np.int64).to_numpy(), dst[ok].astype(np.int64).to_numpy())


def _count_moves(src: np.ndarray, dst: np.ndarray) -> pd.DataFrame:
    n = len(PLACEMENT_TYPES)
    return _moves_frame(np.bincount(src * n + dst, minlength=n * n).reshape(n, n).astype(np.int64))


def _moves_frame(counts: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(counts, index=pd.Index(PLACEMENT_TYPES, name="from"),
                        columns=pd.Index(PLACEMENT_TYPES, name="to"))


# The population last made in this process (a worker's, or the caller's on the serial backend): the tasks
# run seed by seed, so a seed's other scenarios start from a copy of it (``PopulationCache``).
_POPULATIONS = PopulationCache()


def run_one(cfg: CarePathwaysConfig, seed: int) -> RunOutput:
    """One task: the scenario's configuration with this seed, run once, the model released.

    Only what a comparison keeps is built: the summary, the weekly table and the moves matrix, counted
    as the run goes (``MoveCounts``: no event log, no per-child or per-event tables).  The population is
    kept for the next task with the same seed (``_POPULATIONS``; ``_POPULATIONS.clear()`` lets it go)."""
    from sim.api import _release, simulate
    from sim.outputs import MoveCounts, summarise

    logging.getLogger("MESA").setLevel(logging.WARNING)  # Mesa logs every step at INFO
    model = simulate(dataclasses.replace(cfg, seed=int(seed)), events=MoveCounts(), populations=_POPULATIONS)
    try:
        moves = _moves_frame(model.events.counts)
        return RunOutput(summarise(model), model.weekly.frame(model.start_date, model.n_weeks), moves)
    finally:
        _release(model)


def _start_worker() -> None:
    """A local worker imports what a run needs once, then sets those objects aside from the garbage
    collector (``gc.freeze``), so the collection after each run looks at that run's objects only."""
    import sim.api
    import sim.model
    import sim.scenarios  # noqa: F401

    gc.freeze()


def _run_task(task: tuple[CarePathwaysConfig, int]) -> RunOutput:
    try:
        return run_one(*task)
    finally:
        # A run's model is held in reference cycles (Mesa's agents and their model): without a collection
        # now it stays in memory until a full one, and a worker grew by 100 MB or more a national run.
        gc.collect()


# ----------------------------------------------------------------------------- backends
Sink = Callable[[str, int, RunOutput], None]

# A run is one process on one core.  Its few matrix products (the children's need load, the week's spend
# by payer) wake OpenBLAS's threads, which then spin for a while on the other cores, where the other runs
# are: measured, two national runs side by side took 6.6 s each with them and 6.2 s without.  So workers
# start with one BLAS thread each (the values are the same: fingerprinted); a setting the user made stands.
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


@contextlib.contextmanager
def _one_blas_thread_per_worker():
    """While open, worker processes started from here (which read the environment as they start) use one
    BLAS thread; the environment is restored after."""
    added = {k: v for k, v in ONE_THREAD.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, disable=not enabled, desc="runs", unit="run", dynamic_ncols=True)


def _seed_by_seed(tasks: list[tuple[str, int]]) -> list[int]:
    """The order tasks are run in: seed by seed (scenarios in the plan's order within a seed), so that a
    process runs a seed's scenarios one after another from one population (``_POPULATIONS``)."""
    return sorted(range(len(tasks)), key=lambda i: (tasks[i][1], i))


def _execute(p: Plan, sink: Sink | None = None) -> list[dict]:
    """Run every task on the plan's backend; the summaries in the plan's fixed task order."""
    tasks = p.tasks
    order = _seed_by_seed(tasks)
    summaries: list[dict | None] = [None] * len(tasks)

    def take(i: int, out: RunOutput) -> None:
        summaries[i] = out.summary
        if sink is not None:
            sink(tasks[i][0], tasks[i][1], out)

    with _progress_bar(len(tasks), p.progress) as bar:
        if p.backend == "serial":
            try:
                for i in order:
                    label, seed = tasks[i]
                    take(i, run_one(p.config_for(label, seed), seed))
                    bar.update()
            finally:
                _POPULATIONS.clear()
        elif p.backend == "local":
            import multiprocessing

            n_jobs = min(p.workers or os.cpu_count() or 1, len(tasks))
            # Worker processes that live for the whole comparison, so each imports and loads the compiled
            # kernels once (about 2.5 s); joblib's loky executor replaced a worker whose memory grew by
            # 300 MB since its first task, which a national run's peak passes.  Each run's memory is
            # freed after it (``_run_task``): a worker stays near one run's peak.
            with _one_blas_thread_per_worker(), multiprocessing.get_context("spawn").Pool(
                    n_jobs, initializer=_start_worker) as pool:
                work = ((p.config_for(*tasks[i]), tasks[i][1]) for i in order)
                for i, out in zip(order, pool.imap(_run_task, work)):
                    take(i, out)
                    bar.update()
        elif p.backend == "ray":
            _execute_ray(p, tasks, order, take, bar)
        else:  # plan() checks this; kept for callers who build a Plan by hand
            raise ConfigError(f"compare.backend must be one of {list(BACKENDS)}, got {p.backend!r}")
    return summaries  # type: ignore[return-value]


def _execute_ray(p: Plan, tasks: list[tuple[str, int]], order: list[int], take: Callable[[int, RunOutput], None],
                 bar) -> None:
    import ray

    started = False
    if not ray.is_initialized():
        # (Ray itself starts a task of one CPU with OMP_NUM_THREADS=1, which OpenBLAS reads.)
        ray.init(address=p.ray_address or None, logging_level=logging.WARNING, log_to_driver=False)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_one)
        configs = {label: ray.put(cfg) for label, cfg in p.configs.items()}
        limit = p.workers or len(tasks)
        pending: dict[Any, int] = {}
        nxt = 0
        while nxt < len(tasks) or pending:
            while nxt < len(tasks) and len(pending) < limit:
                label, seed = tasks[order[nxt]]
                cfg = configs[label] if seed not in p.draws else p.config_for(label, seed)
                pending[remote.remote(cfg, seed)] = order[nxt]
                nxt += 1
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                take(pending.pop(ref), ray.get(ref))
                bar.update()
    finally:
        if started:
            ray.shutdown()


# ----------------------------------------------------------------------------- statistics
def paired_interval(diffs: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of paired differences (seeds x metrics) and its t-interval (n - 1 df).

    Zero width where every difference is the same; with one seed, no interval (NaN) unless the
    difference is zero.
    """
    from scipy import stats

    d = np.asarray(diffs, np.float64)
    n = d.shape[0]
    mean = d.mean(axis=0)
    equal = np.all(d == d[:1], axis=0)
    if n >= 2:
        sd = d.std(axis=0, ddof=1)
        half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n)
    else:
        half = np.full(d.shape[1:], np.nan)
    half = np.where(equal & ((n >= 2) | (mean == 0)), 0.0, half)
    return mean, mean - half, mean + half


def comparison_table(runs: pd.DataFrame, level: float = LEVEL) -> pd.DataFrame:
    """comparison.csv from the per-run metrics (index: scenario, seed; a column per metric)."""
    scenarios = list(dict.fromkeys(runs.index.get_level_values("scenario")))
    metrics = list(runs.columns)
    base = runs.xs(BASELINE, level="scenario")
    rows = []
    for s in scenarios:
        x = runs.xs(s, level="scenario")
        if not x.index.equals(base.index):
            raise ValueError(f"scenario {s} has seeds {list(x.index)}, the baseline {list(base.index)}")
        v = x.to_numpy(np.float64)
        lo, hi = np.percentile(v, PERCENTILES, axis=0)
        dm, dlo, dhi = paired_interval(v - base.to_numpy(np.float64), level)
        rows.append(pd.DataFrame({"scenario": s, "metric": metrics, "mean": v.mean(axis=0), "lo": lo, "hi": hi,
                                  "diff_mean": dm, "diff_lo": dlo, "diff_hi": dhi}))
    return pd.concat(rows, ignore_index=True)[COLUMNS]


def runs_frame(p: Plan, summaries: Sequence[dict]) -> pd.DataFrame:
    """Every run's flattened summary: index (scenario, seed), a column per numeric leaf."""
    from sim.outputs import flatten

    flat = [flatten(s) for s in summaries]
    index = pd.MultiIndex.from_tuples(p.tasks, names=["scenario", "seed"])
    return pd.DataFrame(flat, index=index, dtype=np.float64)


# ----------------------------------------------------------------------------- the result
@dataclass
class Comparison:
    """Everything a comparison produced."""

    plan: Plan
    table: pd.DataFrame  # comparison.csv
    runs: pd.DataFrame  # per-run metrics, index (scenario, seed)
    info: dict  # the run section of the baseline's first summary (scale, years, start year, ...)
    files: dict[str, Path] = field(default_factory=dict)

    def markdown(self) -> str:
        return markdown_report(self)

    def headline(self) -> str:
        return headline_markdown(self)


def run_comparison(overrides: Sequence[str] = (), scenarios: Sequence[str] | None = None,
                   seeds: int | None = None, backend: str | None = None, workers: int | None = None,
                   progress: bool | None = False, *, first_seed: int | None = None, ray_address: str | None = None,
                   posterior: str | None = None, sink: Sink | None = None, the_plan: Plan | None = None) -> Comparison:
    """Plan, run and summarise a comparison (``sink`` receives each run's output as it arrives)."""
    p = the_plan or plan(overrides, scenarios, seeds, first_seed=first_seed, backend=backend, workers=workers,
                         ray_address=ray_address, progress=progress, posterior=posterior)
    summaries = _execute(p, sink)
    runs = runs_frame(p, summaries)
    return Comparison(p, comparison_table(runs), runs, dict(summaries[0]["run"]))


def compare(overrides: Sequence[str] = (), scenarios: Sequence[str] | None = None, seeds: int | None = 20,
            backend: str = "local", workers: int = 0, progress: bool = False, **kwargs) -> pd.DataFrame:
    """The comparison.csv rows: scenario, metric, mean, lo, hi, diff_mean, diff_lo, diff_hi.

    ``scenarios`` None or empty: the whole library; ``seeds`` None: ``compare.seeds`` of the config.
    """
    return run_comparison(overrides, scenarios, seeds, backend, workers, progress, **kwargs).table


# ----------------------------------------------------------------------------- writing the folder
def _write_run(root: Path, label: str, seed: int, out: RunOutput) -> None:
    from sim.outputs import write_outputs

    run_dir = root / label / f"seed_{seed}"
    write_outputs(run_dir, out.summary, {"weekly": out.weekly})
    out.moves.to_csv(run_dir / "moves.csv")


def write_comparison(out_dir: str | Path, overrides: Sequence[str] = (), scenarios: Sequence[str] | None = None,
                     seeds: int | None = None, backend: str | None = None, workers: int | None = None,
                     progress: bool | None = False, *, first_seed: int | None = None,
                     ray_address: str | None = None, posterior: str | None = None,
                     the_plan: Plan | None = None) -> Comparison:
    """Run a comparison and write comparison.csv, comparison.md and runs/ into ``out_dir``.

    Everything is written under temporary names and renamed only when all of it is complete, so a
    failed or interrupted comparison leaves no partial output behind.
    """
    p = the_plan or plan(overrides, scenarios, seeds, first_seed=first_seed, backend=backend, workers=workers,
                         ray_address=ray_address, progress=progress, posterior=posterior)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}"
    staging = out / f".runs.tmp-{tag}"
    tmp_csv, tmp_md = out / f".comparison.csv.tmp-{tag}", out / f".comparison.md.tmp-{tag}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir()
        result = run_comparison(the_plan=p, sink=lambda label, seed, o: _write_run(staging, label, seed, o))
        result.table.to_csv(tmp_csv, index=False)
        tmp_md.write_text(markdown_report(result), encoding="utf-8")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        tmp_csv.unlink(missing_ok=True)
        tmp_md.unlink(missing_ok=True)
        raise
    runs_dir = out / "runs"
    if runs_dir.exists():
        old = out / f".runs.old-{tag}"
        os.replace(runs_dir, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(staging, runs_dir)
    os.replace(tmp_csv, out / "comparison.csv")
    os.replace(tmp_md, out / "comparison.md")
    result.files = {"comparison.csv": out / "comparison.csv", "comparison.md": out / "comparison.md",
                    "runs": runs_dir}
    return result


# ----------------------------------------------------------------------------- Markdown
def number(x: float, kind: str, diff: bool = False, billions: bool = False) -> str:
    """A number for reading: thousands separators, shares as %, their differences in points.

    Kinds: count, share, gbp (pounds), gbp_m (pounds in millions; ``billions`` shows GBP 1bn and over in
    billions, as briefing titles do), rate, pct (a percentage already), value (any size: three significant
    figures, whole numbers from 100). ``diff`` signs the number and shows shares in percentage points.
    """
    if x is None or not np.isfinite(x):
        return "n/a"
    a = abs(float(x))
    if kind == "share":
        text = f"{a * 100:.2f} pp" if diff else f"{a * 100:.1f}%"
    elif kind == "gbp_m":
        text = f"£{a / 1e9:,.2f}bn" if billions and a >= 1e9 else f"£{a / 1e6:,.1f}m"
    elif kind == "gbp":
        text = f"£{a:,.0f}"
    elif kind == "rate":
        text = f"{a:,.3f}" if diff else f"{a:,.2f}"
    elif kind == "value":
        text = f"{a:,.0f}" if a >= 100 else f"{a:.3g}"
    elif kind == "pct":
        text = f"{a:.1f}%" if a < 10 else f"{a:.0f}%"
    else:
        text = f"{a:,.0f}"
    if not any(ch in "123456789" for ch in text):  # rounds to zero: no sign
        return text
    return ("+" if diff and x > 0 else "-" if x < 0 else "") + text


def interval(mean: float, lo: float, hi: float, kind: str, billions: bool = False) -> str:
    """'-12 [-15 to -9]': a difference and its interval."""
    mean_, lo_, hi_ = (number(v, kind, True, billions) for v in (mean, lo, hi))
    return f"{mean_} [{lo_} to {hi_}]"


def _table(header: list[str], rows: list[list[str]], align: list[str]) -> str:
    marks = {"l": ":---", "r": "---:"}
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks[a] for a in align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _setting(c: Comparison) -> str:
    seeds = c.plan.seeds
    info = c.info
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}-{seeds[-1]}"
    posterior = (f" Parameters from the posterior: seed k runs with draw k of `{c.plan.posterior}`, in every "
                 f"scenario." if c.plan.posterior else "")
    return (f"{len(seeds)} {'run' if len(seeds) == 1 else 'runs'} per scenario ({seed_text}, each paired with "
            f"the baseline run of the same seed), at population scale {info['population_scale']:g} "
            f"(figures scaled up to England), over a {info['years']:g}-year horizon from "
            f"{info['start_date']} (start year {info['start_year']}).{posterior}")


def headline_markdown(c: Comparison) -> str:
    """The headline table: per scenario, each metric's mean and its difference from the baseline."""
    t = c.table.set_index(["scenario", "metric"])
    header = ["Scenario"] + [label for _, label, _ in HEADLINE]
    rows = []
    for s in c.plan.scenarios:
        row = [s]
        for key, _, kind in HEADLINE:
            if (s, key) not in t.index:
                row.append("n/a")
                continue
            r = t.loc[(s, key)]
            cell = number(r["mean"], kind)
            if s != BASELINE:
                cell += f" ({interval(r['diff_mean'], r['diff_lo'], r['diff_hi'], kind)})"
            row.append(cell)
        rows.append(row)
    return _table(header, rows, ["l"] + ["r"] * len(HEADLINE))


def _cost_rows(c: Comparison) -> list[list[str]]:
    runs = c.runs
    years = float(c.info["years"])
    base = runs.xs(BASELINE, level="scenario")
    rows = []
    for s in c.plan.scenarios:
        if s == BASELINE:
            continue
        x = runs.xs(s, level="scenario")
        impl_total = np.zeros(len(x))
        save_total = np.zeros(len(x))
        for i, payer in enumerate(PAYERS):
            impl = x.get(f"cost.implementation_gbp.by_payer.{payer}", pd.Series(0.0, index=x.index)).to_numpy()
            impl = impl / years
            save = (base[f"cost.by_payer.{payer}"].to_numpy() - x[f"cost.by_payer.{payer}"].to_numpy()) / years
            impl_total += impl
            save_total += save
            rows.append(_cost_row(s if i == 0 else "", PAYER_LABELS.get(payer, payer), impl, save))
        rows.append(_cost_row("", "**Net, all payers**", impl_total, save_total))
    return rows


def _cost_row(scenario: str, payer: str, impl: np.ndarray, save: np.ndarray) -> list[str]:
    m, lo, hi = paired_interval(save[:, None])
    nm, nlo, nhi = paired_interval((save - impl)[:, None])
    return [scenario, payer, number(float(np.mean(impl)), "gbp_m"), interval(m[0], lo[0], hi[0], "gbp_m"),
            interval(nm[0], nlo[0], nhi[0], "gbp_m")]


def markdown_report(c: Comparison) -> str:
    pct = f"{LEVEL:.0%}"
    parts = [
        "# Scenario comparison",
        "",
        _setting(c),
        "",
        "## Headline metrics",
        "",
        (f"Each cell: the mean over seeds, then for a scenario, in parentheses, its difference from the baseline "
         f"(the mean paired difference) with its {pct} confidence interval in brackets. Shares are percentages "
         f"and their differences percentage points (pp); money is in 2024 pounds a year, for England."),
        "",
        headline_markdown(c),
        "",
        "## Implementation cost against savings, by payer",
        "",
        (f"A year, in 2024 pounds, for England. Implementation: the scenario's own cost "
         f"(cost.implementation_gbp). Saving: the baseline's cost minus the scenario's (cost.by_payer; "
         f"negative is extra spend). Net: saving minus implementation cost. {pct} intervals of the paired "
         f"difference in brackets."),
        "",
    ]
    rows = _cost_rows(c)
    if rows:
        parts.append(_table(["Scenario", "Payer", "Implementation a year", "Saving a year", "Net a year"], rows,
                            ["l", "l", "r", "r", "r"]))
    else:
        parts.append("(No scenario besides the baseline.)")
    return "\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- command line
def main() -> None:
    from sim.__main__ import _plain_overrides, fail
    from sim.api import CONFIG_DIR
    from sim.config import register_schema

    plain = _plain_overrides(sys.argv[1:])
    if plain is None:
        fail("python -m sim.compare runs its own set of runs: -m/--multirun is not supported "
             "(choose scenarios with compare.scenarios=[...] and seeds with compare.seeds=N)")
    # Check everything before Hydra creates a run directory, so bad input leaves nothing behind.
    try:
        the_plan = plan(plain)
    except ConfigError as exc:
        fail(str(exc))

    import hydra
    from hydra.core.hydra_config import HydraConfig

    register_schema()

    @hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
    def app(cfg) -> None:
        logging.getLogger("MESA").setLevel(logging.WARNING)
        out = Path(HydraConfig.get().runtime.output_dir)
        result = write_comparison(out, the_plan=the_plan)
        print(_setting(result))
        print()
        print(result.headline())
        print()
        print(f"Output folder: {out.resolve()}")

    app()


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: tasks sent to worker processes must refer
    # to sim.compare by name.
    from sim.compare import main as _main

    _main()

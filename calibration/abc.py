"""ABC-SMC (pyabc) over the few parameters that matter, against the calibration targets.

    python -m calibration.abc                                  # calibration/abc.yaml; resumes its database
    python -m calibration.abc --population 20 --generations 4 --out outputs/calibration/abc
    python -m calibration.abc --publish calibration/posterior  # also write the posterior summary there
    python -m calibration.abc --backend ray --ray-address auto # particles on a Ray cluster
    python -m calibration.abc --fresh                          # start a new run in the database

The spec (YAML) gives the model settings (``overrides``, Hydra style), the priors (``parameters``: dotted
path -> ``{dist: uniform, lo, hi}``, ``{dist: loguniform, lo, hi}`` or ``{dist: normal, mean, sd}``), the
data (``targets``: keys of calibration/targets.yaml, observed = the published values; or ``outcomes``:
inline measures with a tolerance, observed from a ``synthetic`` run of the model itself, as the tests do)
and the ABC settings (population size, generations, minimum epsilon, a budget of simulations and of wall
time, cores).

Distance: the root mean square of each target's error in units of its tolerance (level targets), or of
its excess beyond the bound (lower/upper targets, scaled by their tolerance or 10% of the bound); a target
the run does not cover adds an error of 10. A distance of 1 means "within tolerance on average".

Epsilon: ``initial_epsilon: .inf`` makes the first generation a plain sample from the prior (no separate
calibration sample, which would cost a generation's worth of simulations); later generations use the
median distance of the one before (pyabc MedianEpsilon).

Budget: generations run one at a time; before each, the run stops if the wall-time budget
(``max_walltime_minutes``) would be passed, judging the next generation at 1.5 times the last (acceptance
falls as epsilon does), or if ``max_simulations`` have been spent. So a calibration ends within its budget
with the last complete generation as its posterior.

The run is resumable: pyabc keeps every generation in its SQLite database (``--out``/abc.db); calling
again continues the last run there, unless ``--fresh``. Outputs in ``--out``: ``posterior.csv`` (the last
generation's particles with their weights), ``draws.csv`` (``--draws`` draws resampled by weight),
``posterior.yaml`` (weighted median with a 90% interval per parameter, the median as Hydra overrides, and
the run's generations, simulations, epsilon, effective sample size and wall time), ``generations.csv``
(epsilon, samples and acceptance per generation). ``--publish DIR`` copies posterior.yaml, draws.csv and
generations.csv to DIR (calibration/posterior/ is where the baseline's defaults come from).

Every simulation gets its own seed, derived from the configured seed and the particle's parameter values
(``particle_seed``), so the posterior includes the model's own randomness and each run is reproducible.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
ABC_YAML = HERE / "abc.yaml"
MISSING_ERROR = 10.0
NEXT_GENERATION_FACTOR = 1.5   # the next generation's wall time, relative to the last one's
PUBLISHED_FILES = ("posterior.yaml", "draws.csv", "generations.csv")
BACKENDS = ("local", "ray")
_STATE: dict[str, Any] = {}    # per process: the composed base config and the statistics matched


def load(path: str | Path = ABC_YAML) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


# ---------------------------------------------------------------------------- what the data are
def data_spec(spec: dict) -> list[dict]:
    """The statistics ABC matches: one dict each with key, measure, period, args, kind, observed, scale."""
    items: list[dict] = []
    if spec.get("targets"):
        from calibration.targets import load_targets

        for t in load_targets(spec.get("data_file"), keys=list(spec["targets"])):
            scale = t.tolerance if t.tolerance > 0 else 0.1 * abs(t.published)
            items.append({"key": t.key, "measure": t.measure, "period": t.period, "args": t.args, "kind": t.kind,
                          "observed": t.published, "scale": scale or 1.0})
    for key, o in (spec.get("outcomes") or {}).items():
        items.append({"key": key, "measure": o["measure"], "period": o["period"], "args": o.get("args") or {},
                      "kind": o.get("kind", "level"), "observed": o.get("observed"), "tolerance": o.get("tolerance"),
                      "scale": None})
    return items


def statistics(out, items: list[dict]) -> dict[str, float]:
    from calibration.targets import MEASURES

    res = {}
    for it in items:
        try:
            v = float(MEASURES[it["measure"]](out, it["period"], **it["args"]))
        except ZeroDivisionError:
            v = math.nan
        res[it["key"]] = v
    return res


def complete_scales(items: list[dict], observed: dict[str, float]) -> None:
    """Inline outcomes: observed values from a synthetic run, scale = tolerance (rel or abs)."""
    for it in items:
        if it.get("observed") is None:
            it["observed"] = observed[it["key"]]
        if it.get("scale") is None:
            tol = it.get("tolerance") or {"rel": 0.1}
            s = float(tol["abs"]) if "abs" in tol else abs(it["observed"]) * float(tol.get("rel", 0.1))
            it["scale"] = s if s > 0 else 1.0


def errors(sim: dict[str, float], items: list[dict]) -> np.ndarray:
    e = np.empty(len(items))
    for i, it in enumerate(items):
        v, o, s = sim.get(it["key"], math.nan), it["observed"], it["scale"]
        if v is None or not np.isfinite(v):
            e[i] = MISSING_ERROR
        elif it["kind"] == "lower":
            e[i] = max(0.0, o - v) / s
        elif it["kind"] == "upper":
            e[i] = max(0.0, v - o) / s
        else:
            e[i] = (v - o) / s
    return e


def distance_for(items: list[dict]):
    def distance(x: dict, x0: dict) -> float:  # x0 (observed) is carried in `items`
        return float(np.sqrt(np.mean(errors(x, items) ** 2)))
    return distance


# ---------------------------------------------------------------------------- the model for pyabc
def setup(spec: dict) -> None:
    """Compose the base config once per process (forked samplers inherit it; Ray workers build their own)."""
    from sim import build_config

    key = tuple(spec["overrides"])
    if _STATE.get("key") != key:
        _STATE["base"] = build_config(list(spec["overrides"]))
        _STATE["key"] = key
    _STATE["items"] = data_spec(spec)


def simulate_params(params: dict[str, float], seed: int, spec: dict | None = None, items: list[dict] | None = None
                    ) -> dict[str, float]:
    from calibration.runs import run_output, with_params

    if spec is not None:
        setup(spec)
    cfg = with_params(_STATE["base"], dict(params), seed=seed)
    return statistics(run_output(cfg), items if items is not None else _STATE["items"])


class ParticleModel:
    """The pyabc model: a parameter set -> the statistics of one run with the particle's own seed.

    A picklable object carrying the spec, so a worker in another process or on another machine (Ray) can
    compose the base config itself; a forked worker finds it already composed."""

    def __init__(self, spec: dict, items: list[dict]):
        self.spec = spec
        self.items = items
        self.names = list(spec["parameters"])

    def __call__(self, parameter) -> dict[str, float]:
        if _STATE.get("key") != tuple(self.spec["overrides"]):
            setup(self.spec)
        params = {name: float(parameter[name]) for name in self.names}
        return simulate_params(params, particle_seed(_STATE["base"].seed, params), items=self.items)


def particle_seed(base_seed: int, params: dict[str, float]) -> int:
    """The run seed for a parameter set: derived from the configured seed and the parameter values, so a
    particle's run is reproducible and different particles still get different random streams (no
    global random state is read)."""
    bits = np.array([params[k] for k in sorted(params)], np.float64).view(np.uint64)
    state = np.random.SeedSequence([int(base_seed), *map(int, bits)]).generate_state(1, np.uint32)
    return int(state[0] % (2**31 - 2)) + 1


def priors(spec: dict):
    from pyabc import RV, Distribution

    rvs = {}
    for path, p in spec["parameters"].items():
        d = p.get("dist", "uniform")
        if d == "uniform":
            rvs[path] = RV("uniform", float(p["lo"]), float(p["hi"]) - float(p["lo"]))
        elif d == "loguniform":
            rvs[path] = RV("loguniform", float(p["lo"]), float(p["hi"]))
        elif d == "normal":
            rvs[path] = RV("norm", float(p["mean"]), float(p["sd"]))
        else:
            raise ValueError(f"parameters.{path}.dist must be uniform, loguniform or normal, got {d!r}")
    return Distribution(**rvs)


@contextlib.contextmanager
def backend_session(backend: str, ray_address: str = ""):
    """For the Ray backend, a Ray session for the calibration: one started here is shut down here, one
    already running (or a cluster at ``ray_address``) is used and left as it was."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if backend != "ray":
        yield
        return
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=ray_address or None, log_to_driver=False)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def sampler(cores: int, backend: str = "local"):
    """Local: pyabc's multicore sampler on ``cores`` forked processes. Ray: the same Ray cluster the
    scenario comparison uses (``compare.backend=ray``), through a Ray process pool mapped by pyabc (inside
    ``backend_session``)."""
    import pyabc

    if backend == "ray":
        from ray.util.multiprocessing import Pool

        return pyabc.sampler.MappingSampler(map_=Pool().map)
    if cores <= 1:
        return pyabc.sampler.SingleCoreSampler()
    return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=cores)


def initial_epsilon(spec: dict) -> float | str:
    value = spec.get("initial_epsilon", "from_sample")
    return value if value == "from_sample" else float(value)


# ---------------------------------------------------------------------------- posterior
def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    x, w = np.asarray(x, float)[order], np.asarray(w, float)[order]
    c = np.cumsum(w) - 0.5 * w
    c /= w.sum()
    return float(np.interp(q, c, x))


def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective number of particles of a weighted population: few particles carrying most of the
    weight make the posterior's quantiles rest on few runs."""
    w = np.asarray(w, float) / np.sum(w)
    return float(1.0 / np.sum(w ** 2))


def summarise_posterior(history, spec: dict, out: Path, n_draws: int = 200, seed: int = 0) -> dict:
    """The last generation: particles, weighted-resampled draws, weighted quantiles, and the run's record."""
    from calibration.runs import as_overrides

    df, w = history.get_distribution(m=0, t=history.max_t)
    names = list(spec["parameters"])
    df = df[names]
    df.assign(weight=w).to_csv(out / "posterior.csv", index=False)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(df), size=n_draws, p=np.asarray(w) / np.sum(w))
    df.iloc[idx].reset_index(drop=True).to_csv(out / "draws.csv", index=False)
    populations = history.get_all_populations()
    populations.to_csv(out / "generations.csv", index=False)
    median = {n: weighted_quantile(df[n].to_numpy(), w, 0.5) for n in names}
    summary = {
        "written": dt.date.today().isoformat(),
        "settings": list(spec["overrides"]),
        "targets": list(spec.get("targets") or spec.get("outcomes") or []),
        "generations": int(history.max_t) + 1,
        "particles": int(len(df)),
        "effective_sample_size": round(effective_sample_size(w), 2),
        "simulations": int(history.total_nr_simulations),
        "epsilon": float(populations["epsilon"].iloc[-1]),
        "median": median,
        "q05": {n: weighted_quantile(df[n].to_numpy(), w, 0.05) for n in names},
        "q95": {n: weighted_quantile(df[n].to_numpy(), w, 0.95) for n in names},
        "prior": spec["parameters"],
    }
    try:
        summary["overrides"] = as_overrides(_STATE["base"], median) if "base" in _STATE else []
    except Exception as exc:  # a median outside the schema's ranges, say
        summary["overrides_error"] = str(exc)
    return summary


def write_summary(summary: dict, out: Path) -> None:
    (out / "posterior.yaml").write_text(yaml.safe_dump(summary, sort_keys=False))


def publish(out: Path, to: Path) -> None:
    """Copy the small posterior files (not the database) to ``to``."""
    to.mkdir(parents=True, exist_ok=True)
    for name in PUBLISHED_FILES:
        shutil.copyfile(out / name, to / name)


# ---------------------------------------------------------------------------- running
def previous_run(db: str, db_file: Path, fresh: bool) -> int | None:
    """The id of the database's last run, to continue (None: start a new one)."""
    import pyabc

    if fresh or not db_file.exists():
        return None
    runs = pyabc.History(db).all_runs()
    return int(runs[-1].id) if runs else None


def run_generations(abc, total: int, min_epsilon: float, max_simulations: int, budget_s: float,
                    min_acceptance: float = 0.0) -> str:
    """Run generations one at a time until one of the stopping rules holds; returns which one."""
    started = time.perf_counter()
    last = None
    while True:
        h = abc.history
        done = int(h.max_t) + 1
        if done >= total:
            return "generations"
        if done and float(h.get_all_populations()["epsilon"].iloc[-1]) <= min_epsilon:
            return "minimum epsilon"
        spent = int(h.total_nr_simulations)
        if spent >= max_simulations:
            return "simulations"
        if last is not None and time.perf_counter() - started + NEXT_GENERATION_FACTOR * last > budget_s:
            return "time budget"
        t0 = time.perf_counter()
        abc.run(minimum_epsilon=min_epsilon, max_nr_populations=1, min_acceptance_rate=min_acceptance,
                max_total_nr_simulations=max_simulations - spent)
        if int(abc.history.max_t) + 1 == done:   # the generation did not complete (acceptance too low)
            return "acceptance"
        last = time.perf_counter() - t0


def run_abc(spec: dict, out: str | Path, population: int | None = None, generations: int | None = None,
            cores: int | None = None, fresh: bool = False, min_epsilon: float | None = None,
            n_draws: int = 200, backend: str = "local", ray_address: str = "", publish_to: str | Path | None = None,
            budget_minutes: float | None = None) -> dict:
    """Run (or resume) ABC-SMC; returns the posterior summary (also written to ``out``)."""
    import pyabc

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    setup(spec)
    items = _STATE["items"]
    t0 = time.perf_counter()
    if spec.get("synthetic") is not None:
        # Data made by the model itself at known parameters: a recovery test.
        syn = spec["synthetic"]
        observed = simulate_params(syn.get("params", {}), int(syn.get("seed", 1)), items=items)
        complete_scales(items, observed)
    else:
        complete_scales(items, {})
    observed = {it["key"]: it["observed"] for it in items}
    db_file = out / "abc.db"
    db = f"sqlite:///{db_file.resolve()}"
    run_id = previous_run(db, db_file, fresh)
    budget = float(budget_minutes if budget_minutes is not None else spec.get("max_walltime_minutes", math.inf))
    with backend_session(backend, ray_address):
        # A resumed run takes its epsilon from the stored last generation, as an uninterrupted run would.
        abc = pyabc.ABCSMC(
            ParticleModel(spec, items), priors(spec), distance_for(items),
            population_size=int(population or spec.get("population_size", 20)),
            eps=pyabc.MedianEpsilon(initial_epsilon="from_sample" if run_id is not None else initial_epsilon(spec)),
            sampler=sampler(int(cores if cores is not None else spec.get("cores", 2)), backend),
        )
        if run_id is not None:
            abc.load(db, run_id)
        else:
            abc.new(db, observed)
        stopped = run_generations(
            abc, int(generations or spec.get("max_generations", 4)),
            float(min_epsilon if min_epsilon is not None else spec.get("min_epsilon", 1.0)),
            int(spec.get("max_simulations", 100000)), budget * 60.0 - (time.perf_counter() - t0),
            float(spec.get("min_acceptance_rate", 0.0)))
    resumed = run_id is not None
    summary = summarise_posterior(abc.history, spec, out, n_draws)
    summary.update(seconds=round(time.perf_counter() - t0, 1), stopped_by=stopped, resumed=resumed,
                   backend=backend, observed=observed)
    write_summary(summary, out)
    if publish_to is not None:
        publish(out, Path(publish_to))
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m calibration.abc", description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default=str(ABC_YAML))
    ap.add_argument("--out", default="outputs/calibration/abc")
    ap.add_argument("--population", type=int, default=None)
    ap.add_argument("--generations", type=int, default=None, help="total generations (a resumed run counts its own)")
    ap.add_argument("--cores", type=int, default=None)
    ap.add_argument("--backend", choices=BACKENDS, default="local")
    ap.add_argument("--ray-address", default="", help="Ray cluster address (empty: start or join a local one)")
    ap.add_argument("--min-epsilon", type=float, default=None)
    ap.add_argument("--budget-minutes", type=float, default=None, help="wall-time budget (default: the spec's)")
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--publish", default=None, help="copy posterior.yaml, draws.csv, generations.csv here")
    ap.add_argument("--fresh", action="store_true", help="start a new run even if the database has one")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides added to the spec's")
    a = ap.parse_args(sys.argv[1:] if argv is None else argv)
    spec = load(a.spec)
    spec["overrides"] = list(spec["overrides"]) + list(a.overrides)
    s = run_abc(spec, a.out, a.population, a.generations, a.cores, a.fresh, a.min_epsilon, a.draws, a.backend,
                a.ray_address, a.publish, a.budget_minutes)
    print(yaml.safe_dump({k: s[k] for k in ("generations", "particles", "simulations", "epsilon", "stopped_by",
                                            "median", "overrides") if k in s}, sort_keys=False))
    print(f"{s['seconds']:.0f} s; wrote {a.out}/posterior.csv, draws.csv, posterior.yaml, generations.csv"
          + (f"; published to {a.publish}" if a.publish else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""ABC-SMC (pyabc) over the few parameters that matter, against the calibration targets.

    python -m calibration.abc                                  # calibration/abc.yaml; resumes its database
    python -m calibration.abc --population 40 --generations 6 --out outputs/calibration/abc
    python -m calibration.abc --fresh                          # start a new run in the database

The spec (YAML) gives the model settings (``overrides``, Hydra style), the priors (``parameters``: dotted
path -> ``{dist: uniform, lo, hi}``, ``{dist: loguniform, lo, hi}`` or ``{dist: normal, mean, sd}``), the
data (``targets``: keys of calibration/targets.yaml, observed = the published values; or ``outcomes``:
inline measures with a tolerance, observed from a ``synthetic`` run of the model itself, as the tests do)
and the ABC settings (population size, generations, minimum epsilon, cores).

Distance: the root mean square of each target's error in units of its tolerance (level targets), or of
its excess beyond the bound (lower/upper targets, scaled by their tolerance or 10% of the bound); a target
the run does not cover adds an error of 10. A distance of 1 means "within tolerance on average".

The run is resumable: pyabc keeps every generation in its SQLite database (``--out``/abc.db); calling
again continues the last run there, unless ``--fresh``. Outputs in ``--out``: ``posterior.csv`` (the last
generation's particles with their weights), ``posterior_draws.csv`` (``--draws`` draws resampled by
weight), ``posterior.yaml`` (weighted median, 5% and 95% quantiles, and the median as Hydra overrides),
``generations.csv`` (epsilon, acceptance and samples per generation).

Every simulation gets its own seed, derived from the configured seed and the particle's parameter values
(``particle_seed``), so the posterior includes the model's own randomness and each run is reproducible.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
ABC_YAML = HERE / "abc.yaml"
MISSING_ERROR = 10.0
_STATE: dict[str, Any] = {}    # per process: the spec and composed base config for simulate()


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
    """Compose the base config once per process (forked samplers inherit it)."""
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


def model(parameter) -> dict[str, float]:
    """pyabc model: a parameter set -> the statistics of one run with a fresh seed."""
    params = {name: float(parameter[name]) for name in _STATE["names"]}
    return simulate_params(params, particle_seed(_STATE["base"].seed, params))


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
            raise ValueError(f"prior for {path}: dist must be uniform, loguniform or normal, got {d!r}")
    return Distribution(**rvs)


def _sampler(spec: dict, cores: int | None):
    import pyabc

    n = int(cores if cores is not None else spec.get("cores", 2))
    if n <= 1:
        return pyabc.sampler.SingleCoreSampler()
    return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=n)


# ---------------------------------------------------------------------------- posterior
def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    x, w = np.asarray(x, float)[order], np.asarray(w, float)[order]
    c = np.cumsum(w) - 0.5 * w
    c /= w.sum()
    return float(np.interp(q, c, x))


def summarise_posterior(history, spec: dict, out: Path, n_draws: int = 1000, seed: int = 0) -> dict:
    from calibration.runs import as_overrides

    df, w = history.get_distribution(m=0, t=history.max_t)
    names = list(spec["parameters"])
    df = df[names]
    post = df.assign(weight=w)
    post.to_csv(out / "posterior.csv", index=False)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(df), size=n_draws, p=np.asarray(w) / np.sum(w))
    df.iloc[idx].reset_index(drop=True).to_csv(out / "posterior_draws.csv", index=False)
    median = {n: weighted_quantile(df[n].to_numpy(), w, 0.5) for n in names}
    summary = {
        "generations": int(history.max_t) + 1,
        "particles": int(len(df)),
        "epsilon": float(history.get_all_populations()["epsilon"].iloc[-1]),
        "median": median,
        "q05": {n: weighted_quantile(df[n].to_numpy(), w, 0.05) for n in names},
        "q95": {n: weighted_quantile(df[n].to_numpy(), w, 0.95) for n in names},
    }
    try:
        summary["overrides"] = as_overrides(_STATE["base"], median) if "base" in _STATE else []
    except Exception as exc:  # a median outside the schema's ranges, say
        summary["overrides_error"] = str(exc)
    (out / "posterior.yaml").write_text(yaml.safe_dump(summary, sort_keys=False))
    history.get_all_populations().to_csv(out / "generations.csv", index=False)
    return summary


# ---------------------------------------------------------------------------- running
def run_abc(spec: dict, out: str | Path, population: int | None = None, generations: int | None = None,
            cores: int | None = None, fresh: bool = False, min_epsilon: float | None = None,
            n_draws: int = 1000) -> dict:
    """Run (or resume) ABC-SMC; returns the posterior summary (also written to ``out``)."""
    import pyabc

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    setup(spec)
    items = _STATE["items"]
    names = list(spec["parameters"])
    _STATE["names"] = names
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
    eps_init = spec.get("initial_epsilon", "from_sample")
    abc = pyabc.ABCSMC(
        model, priors(spec), distance_for(items),
        population_size=int(population or spec.get("population_size", 40)),
        eps=pyabc.MedianEpsilon(initial_epsilon=eps_init),
        sampler=_sampler(spec, cores),
    )
    resumed = False
    if db_file.exists() and not fresh:
        h = pyabc.History(db)
        runs = h.all_runs()
        if runs:
            abc.load(db, int(runs[-1].id))
            resumed = True
    if not resumed:
        abc.new(db, observed)
    total = int(generations or spec.get("max_generations", 6))
    done = int(abc.history.max_t) + 1 if resumed else 0
    if done < total:
        abc.run(minimum_epsilon=float(min_epsilon if min_epsilon is not None else spec.get("min_epsilon", 1.0)),
                max_nr_populations=total - done,
                max_total_nr_simulations=int(spec.get("max_simulations", 100000)))
    summary = summarise_posterior(abc.history, spec, out, n_draws)
    summary["seconds"] = time.perf_counter() - t0
    summary["resumed"] = resumed
    summary["observed"] = observed
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m calibration.abc", description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default=str(ABC_YAML))
    ap.add_argument("--out", default="outputs/calibration/abc")
    ap.add_argument("--population", type=int, default=None)
    ap.add_argument("--generations", type=int, default=None, help="total generations (a resumed run counts its own)")
    ap.add_argument("--cores", type=int, default=None)
    ap.add_argument("--min-epsilon", type=float, default=None)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--fresh", action="store_true", help="start a new run even if the database has one")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides added to the spec's")
    a = ap.parse_args(sys.argv[1:] if argv is None else argv)
    spec = load(a.spec)
    spec["overrides"] = list(spec["overrides"]) + list(a.overrides)
    s = run_abc(spec, a.out, a.population, a.generations, a.cores, a.fresh, a.min_epsilon, a.draws)
    print(yaml.safe_dump({k: s[k] for k in ("generations", "particles", "epsilon", "median", "overrides") if k in s},
                         sort_keys=False))
    print(f"{s['seconds']:.0f} s; wrote {a.out}/posterior.csv, posterior_draws.csv, posterior.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Morris screening (SALib) of the assumption parameters on a few summary outcomes.

    python -m calibration.screening                       # calibration/screening.yaml, 2 cores
    python -m calibration.screening --trajectories 4 --jobs 2 --out outputs/calibration/screening
    python -m calibration.screening --list                # parameters marked "assumption" in the config

Writes into ``--out``: ``samples.csv`` (each run's parameters and outcomes), ``morris.csv`` (mu*, mu,
sigma and mu* confidence per parameter and outcome), ``ranking.csv`` (each outcome's mu* divided by that
outcome's standard deviation over the runs, so outcomes in different units compare, with each parameter's
mean and largest over the outcomes) and ``selection.yaml`` (the top parameters by that mean, at most
``select_max``, with their screening ranges: the starting point for calibration/abc.yaml; the mean, because
the calibration's distance averages over the targets, so a parameter that moves many of them matters more
than one that moves a single target a lot).

Every run uses the same seed (common random numbers), so elementary effects are differences between
paired runs rather than between two noisy draws.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
SCREENING_YAML = HERE / "screening.yaml"


def load(path: str | Path = SCREENING_YAML) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


# ---------------------------------------------------------------------------- which parameters are assumptions
def _config_comments(path: Path) -> dict[str, str]:
    """Dotted key -> the comments on its line and the comment-only lines that follow it."""
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    last = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        stripped = raw.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            if last is not None:
                out[last] += " " + stripped
            continue
        m = re.match(r"^(\s*)([A-Za-z0-9_]+)\s*:(.*)$", raw)
        if not m:
            continue
        indent, key, rest = len(m.group(1)), m.group(2), m.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        dotted = ".".join(k for _, k in stack)
        out[dotted] = rest.split("#", 1)[1] if "#" in rest else ""
        last = dotted
    return out


def _docs_assumptions(path: Path) -> set[str]:
    """Parameters listed in docs/model.md tables whose source says "assumption"."""
    found: set[str] = set()
    if not path.is_file():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or "assumption" not in cells[-1].lower():
            continue
        names = re.findall(r"`([A-Za-z0-9_.]+)`", cells[0])
        prefix = ""
        for n in names:
            if "." in n:
                prefix = n.rsplit(".", 1)[0]
                found.add(n)
            elif prefix:
                found.add(f"{prefix}.{n}")
    return found


def assumption_marked(param: str, config: Path | None = None, docs: Path | None = None) -> bool:
    """True if scenarios/config.yaml marks the parameter (or a block above it) "assumption" or "calibration",
    or docs/model.md lists it with an assumption as its source."""
    from sim.data import REPO_ROOT

    config = config or REPO_ROOT / "scenarios" / "config.yaml"
    docs = docs or REPO_ROOT / "docs" / "model.md"
    comments = _config_comments(config)
    parts = param.split(".")
    for i in range(len(parts), 0, -1):
        c = comments.get(".".join(parts[:i]), "").lower()
        if "assumption" in c or "(calibration)" in c:
            return True
    doc = _docs_assumptions(docs)
    return any(".".join(parts[:i]) in doc for i in range(len(parts), 1, -1))


def assumption_parameters(config: Path | None = None) -> list[str]:
    """Every numeric leaf of the config marked as an assumption (for --list)."""
    from sim.data import REPO_ROOT

    config = config or REPO_ROOT / "scenarios" / "config.yaml"
    comments = _config_comments(config)
    leaves = []
    for key in comments:
        if key.startswith(("hydra", "compare", "output", "citations", "defaults")):
            continue
        if not any(k.startswith(key + ".") for k in comments) and assumption_marked(key, config):
            leaves.append(key)
    return leaves


# ---------------------------------------------------------------------------- running
def outcome_specs(spec: dict) -> dict[str, dict]:
    """The outcomes screened: the spec's inline ``outcomes`` and its ``targets`` (keys of targets.yaml,
    each measured as the calibration measures it)."""
    outcomes = dict(spec.get("outcomes") or {})
    if spec.get("targets"):
        from calibration.targets import load_targets

        for t in load_targets(spec.get("data_file"), keys=list(spec["targets"])):
            outcomes[t.key] = {"measure": t.measure, "period": t.period, "args": t.args}
    return outcomes


def outcome_values(out, outcomes: dict) -> dict[str, float]:
    from calibration.targets import MEASURES

    return {name: float(MEASURES[o["measure"]](out, o["period"], **(o.get("args") or {})))
            for name, o in outcomes.items()}


def evaluate_point(overrides: list[str], params: dict[str, float], outcomes: dict) -> dict[str, float]:
    """One run at a parameter set: the outcomes (and the seconds it took)."""
    from calibration.runs import base_config, run_output, with_params

    t0 = time.perf_counter()
    cfg = with_params(base_config(overrides), params)
    res = outcome_values(run_output(cfg), outcomes)
    res["seconds"] = time.perf_counter() - t0
    return res


def morris(spec: dict, trajectories: int | None = None, jobs: int = 2, out: Path | None = None,
           progress: bool = True) -> dict[str, pd.DataFrame]:
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    names = list(spec["parameters"])
    bounds = [[float(a), float(b)] for a, b in spec["parameters"].values()]
    problem = {"num_vars": len(names), "names": names, "bounds": bounds}
    r = int(trajectories or spec.get("trajectories", 2))
    X = morris_sample.sample(problem, N=r, num_levels=int(spec.get("levels", 4)),
                             seed=int(spec.get("sample_seed", 1)))
    overrides, outcomes = list(spec["overrides"]), outcome_specs(spec)
    points = [dict(zip(names, row)) for row in X]
    t0 = time.perf_counter()
    from calibration.runs import base_config, parallel_map

    base_config(overrides)  # composed once, inherited by the forked workers
    results = parallel_map(evaluate_point, [(overrides, p, outcomes) for p in points], jobs)
    failed = [(i, r) for i, r in enumerate(results) if isinstance(r, Exception)]
    for i, r in failed:
        print(f"run {i} failed: {r!r}", file=sys.stderr)
        results[i] = {name: float("nan") for name in outcomes}
    wall = time.perf_counter() - t0
    Y = pd.DataFrame(results)
    samples = pd.concat([pd.DataFrame(X, columns=names), Y], axis=1)
    rows = []
    for name in outcomes:
        y = Y[name].to_numpy(float)
        if not np.all(np.isfinite(y)):
            y = np.where(np.isfinite(y), y, np.nanmean(y))
        res = morris_analyze.analyze(problem, X, y, num_levels=int(spec.get("levels", 4)), print_to_console=False,
                                     seed=int(spec.get("sample_seed", 1)))
        sd = float(np.std(y)) or 1.0
        for i, p in enumerate(names):
            rows.append({"parameter": p, "outcome": name, "mu_star": res["mu_star"][i], "mu": res["mu"][i],
                         "sigma": res["sigma"][i], "mu_star_conf": res["mu_star_conf"][i],
                         "mu_star_scaled": res["mu_star"][i] / sd})
    table = pd.DataFrame(rows)
    ranking = (table.pivot(index="parameter", columns="outcome", values="mu_star_scaled")
               .assign(max_scaled=lambda d: d.max(axis=1), mean_scaled=lambda d: d.mean(axis=1))
               .sort_values("mean_scaled", ascending=False))
    k = int(spec.get("select_max", 8))
    selection = {p: [float(v) for v in spec["parameters"][p]] for p in ranking.index[:k]}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        samples.to_csv(out / "samples.csv", index=False)
        table.to_csv(out / "morris.csv", index=False)
        ranking.to_csv(out / "ranking.csv")
        (out / "selection.yaml").write_text(yaml.safe_dump({
            "note": f"top {k} of {len(names)} by mean scaled mu* (Morris, r={r}, {len(X)} runs, {wall:.0f} s)",
            "parameters": selection}, sort_keys=False))
    return {"samples": samples, "morris": table, "ranking": ranking, "selection": selection, "seconds": wall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m calibration.screening", description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default=str(SCREENING_YAML))
    ap.add_argument("--trajectories", type=int, default=None, help="Morris r (default: the spec's)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="outputs/calibration/screening")
    ap.add_argument("--list", action="store_true", help="list the config's assumption parameters and stop")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides added to the spec's")
    a = ap.parse_args(sys.argv[1:] if argv is None else argv)
    if a.list:
        for p in assumption_parameters():
            print(p)
        return 0
    spec = load(a.spec)
    spec["overrides"] = list(spec["overrides"]) + list(a.overrides)
    res = morris(spec, a.trajectories, a.jobs, Path(a.out))
    print(res["ranking"][["max_scaled", "mean_scaled"]].round(3).to_string())
    print(f"{len(res['samples'])} runs in {res['seconds']:.0f} s; wrote {a.out}/morris.csv, ranking.csv, selection.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())

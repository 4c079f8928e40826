"""Global sensitivity analysis (SALib Morris) of the assumptions: which drive the baseline's headline
metrics, and which drive the scenarios' effects and their ranking.

    python -m calibration.sensitivity                          # calibration/sensitivity.yaml, 2 cores
    python -m calibration.sensitivity --trajectories 2 --out outputs/calibration/sensitivity population.scale=0.05

At each Morris point (a set of assumption values) every scenario of the spec runs with the same seed as the
baseline (common random numbers), so a scenario's effect is its paired difference from the baseline at
that point, as in ``python -m sim.compare``. The outcomes analysed are:

- ``baseline:<metric>``: a headline metric of the baseline run (``headline`` in the spec);
- ``difference:<scenario>:<metric>``: a scenario's paired difference from the baseline (``differences``);
- ``rank:<scenario>``: the scenario's place when the scenarios are ordered by their difference in
  ``rank_by`` (1 = the largest fall), so a parameter with a large mu* here reorders the scenarios.

Writes into ``--out``: ``morris.csv`` (``parameter, outcome, mu_star, mu_star_conf, sigma``: SALib's Morris
indices for every parameter and outcome), ``ranking.csv`` (per scenario: the share of points at which it
ranks first, its mean, best and worst rank), ``samples.csv`` (every point's parameters and outcomes),
``sensitivity.png`` (the indices, each as a share of its outcome's largest mu*) and ``summary.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
SENSITIVITY_YAML = HERE / "sensitivity.yaml"
MORRIS_COLUMNS = ["parameter", "outcome", "mu_star", "mu_star_conf", "sigma"]
GROUPS = ("baseline", "difference", "rank")
_PLAN: dict[tuple, Any] = {}   # per process: the scenario configs by overrides (forked workers inherit them)


def load(path: str | Path = SENSITIVITY_YAML) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


# ---------------------------------------------------------------------------- runs
def scenario_configs(overrides: list[str], scenarios: list[str]) -> dict[str, Any]:
    """One validated configuration per scenario (baseline first), as the comparison builds them."""
    key = (tuple(overrides), tuple(scenarios))
    if key not in _PLAN:
        from sim.compare import plan

        _PLAN[key] = plan(overrides, scenarios or None, seeds=1, backend="serial").configs
    return _PLAN[key]


def run_point(overrides: list[str], scenarios: list[str], label: str, params: dict[str, float], seed: int,
              metrics: list[str]) -> dict[str, float]:
    """One scenario at one point: the metrics of its summary."""
    from calibration.runs import with_params
    from sim.api import run
    from sim.outputs import flatten

    cfg = with_params(scenario_configs(overrides, scenarios)[label], params, seed=seed)
    flat = flatten(run(cfg, write=False).summary)
    return {m: float(flat[m]) for m in metrics}


def outcomes_frame(results: dict[tuple[int, str], dict[str, float]], n_points: int, labels: list[str],
                   spec: dict) -> pd.DataFrame:
    """Every point's outcomes (rows: points): baseline levels, paired differences, ranks."""
    base, others = labels[0], labels[1:]
    cols: dict[str, np.ndarray] = {}
    for m in spec["headline"]:
        cols[f"baseline:{m}"] = np.array([results[(i, base)][m] for i in range(n_points)])
    for s in others:
        for m in spec["differences"]:
            cols[f"difference:{s}:{m}"] = np.array([results[(i, s)][m] - results[(i, base)][m]
                                                    for i in range(n_points)])
    by = spec["rank_by"]
    diffs = np.array([[results[(i, s)][by] - results[(i, base)][by] for s in others] for i in range(n_points)])
    ranks = diffs.argsort(axis=1, kind="stable").argsort(axis=1) + 1   # 1 = the largest fall
    for j, s in enumerate(others):
        cols[f"rank:{s}"] = ranks[:, j].astype(float)
    return pd.DataFrame(cols)


def ranking_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per scenario: how often it ranks first, its mean, best and worst rank over the points."""
    ranks = outcomes[[c for c in outcomes.columns if c.startswith("rank:")]]
    return pd.DataFrame({
        "scenario": [c.split(":", 1)[1] for c in ranks.columns],
        "top_share": (ranks == 1).mean().to_numpy(),
        "mean_rank": ranks.mean().to_numpy(),
        "best_rank": ranks.min().to_numpy().astype(int),
        "worst_rank": ranks.max().to_numpy().astype(int),
    }).sort_values("mean_rank", kind="stable").reset_index(drop=True)


def top_changes(outcomes: pd.DataFrame) -> float:
    """Share of points at which the top-ranked scenario is not the one most often on top."""
    ranks = outcomes[[c for c in outcomes.columns if c.startswith("rank:")]]
    top = ranks.idxmin(axis=1)
    return float((top != top.mode().iloc[0]).mean())


def morris(spec: dict, trajectories: int | None = None, jobs: int = 2, out: Path | None = None) -> dict[str, Any]:
    """Sample (SALib Morris), run every scenario at every point, analyse every outcome."""
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    from calibration.runs import parallel_map

    names = list(spec["parameters"])
    problem = {"num_vars": len(names), "names": names,
               "bounds": [[float(a), float(b)] for a, b in spec["parameters"].values()]}
    levels = int(spec.get("levels", 4))
    r = int(trajectories or spec.get("trajectories", 3))
    X = morris_sample.sample(problem, N=r, num_levels=levels, seed=int(spec.get("sample_seed", 1)))
    overrides, scenarios, seed = list(spec["overrides"]), list(spec.get("scenarios") or []), int(spec.get("seed", 1))
    labels = list(scenario_configs(overrides, scenarios))   # composed before the workers fork
    metrics = list(dict.fromkeys([*spec["headline"], *spec["differences"], spec["rank_by"]]))
    points = [dict(zip(names, map(float, row))) for row in X]
    tasks = [(i, label) for i in range(len(points)) for label in labels]
    t0 = time.perf_counter()
    runs = parallel_map(run_point, [(overrides, scenarios, label, points[i], seed, metrics) for i, label in tasks],
                        jobs)
    failed = [(t, r_) for t, r_ in zip(tasks, runs) if isinstance(r_, Exception)]
    if failed:
        raise RuntimeError(f"{len(failed)} runs failed; first: point {failed[0][0][0]}, {failed[0][0][1]}: "
                           f"{failed[0][1]!r}")
    wall = time.perf_counter() - t0
    Y = outcomes_frame(dict(zip(tasks, runs)), len(points), labels, spec)
    rows = []
    for outcome in Y.columns:
        res = morris_analyze.analyze(problem, X, Y[outcome].to_numpy(float), num_levels=levels,
                                     print_to_console=False, seed=int(spec.get("sample_seed", 1)))
        for i, p in enumerate(names):
            rows.append({"parameter": p, "outcome": outcome, "mu_star": float(res["mu_star"][i]),
                         "mu_star_conf": float(res["mu_star_conf"][i]), "sigma": float(res["sigma"][i])})
    table = pd.DataFrame(rows, columns=MORRIS_COLUMNS)
    ranking = ranking_table(Y)
    result = {"morris": table, "ranking": ranking, "samples": pd.concat([pd.DataFrame(X, columns=names), Y], axis=1),
              "top_changes": top_changes(Y), "runs": len(tasks), "points": len(points), "seconds": wall}
    if out is not None:
        write(result, spec, out)
    return result


# ---------------------------------------------------------------------------- reading and charts
def load_indices(path: str | Path) -> pd.DataFrame | None:
    """A morris.csv, or None if there is none."""
    p = Path(path)
    return pd.read_csv(p) if p.is_file() else None


def outcome_group(outcome: str) -> str:
    return outcome.split(":", 1)[0]


def normalised(table: pd.DataFrame) -> pd.DataFrame:
    """The indices with ``relative``: each mu* as a share of the largest mu* for its outcome (outcomes in
    different units compare; an outcome no parameter moves gets 0)."""
    top = table.groupby("outcome")["mu_star"].transform("max")
    return table.assign(relative=np.where(top > 0, table["mu_star"] / top.where(top > 0, 1.0), 0.0))


def top_parameters(table: pd.DataFrame, top: int = 3) -> dict[str, str]:
    """Per outcome (in table order): its ``top`` parameters by mu*, each with mu* as a share of the largest."""
    t = normalised(table)
    cells = {}
    for outcome, g in t.groupby("outcome", sort=False):
        if not (g["mu_star"] > 0).any():
            cells[outcome] = "none: the same at every point"
            continue
        best = g.sort_values("mu_star", ascending=False).head(top)
        cells[outcome] = ", ".join(f"`{r['parameter']}` ({r['relative']:.2f})" for _, r in best.iterrows())
    return cells


def sensitivity_chart(table: pd.DataFrame, path: Path) -> None:
    """A heat map per outcome group: parameters (rows) by outcomes (columns), mu* relative to the outcome's
    largest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = normalised(table)
    groups = [g for g in GROUPS if (t["outcome"].map(outcome_group) == g).any()]
    order = t.groupby("parameter")["relative"].mean().sort_values(ascending=False).index
    widths = [max(2, t.loc[t["outcome"].map(outcome_group) == g, "outcome"].nunique()) for g in groups]
    fig, axes = plt.subplots(1, len(groups), figsize=(3 + 0.45 * sum(widths), 0.32 * len(order) + 3.2),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    for ax, g in zip(axes[0], groups):
        sub = t[t["outcome"].map(outcome_group) == g]
        grid = sub.pivot(index="parameter", columns="outcome", values="relative").reindex(order)
        im = ax.imshow(grid.to_numpy(float), aspect="auto", cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(grid.shape[1]), [c.split(":", 1)[1] for c in grid.columns], rotation=75, ha="right",
                      fontsize=7)
        ax.set_yticks(range(len(order)), order if ax is axes[0][0] else [""] * len(order), fontsize=7)
        ax.set_title({"baseline": "baseline headline metrics", "difference": "scenario minus baseline",
                      "rank": "scenario rank"}[g], fontsize=9)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.6, label="mu* / largest mu* for the outcome")
    fig.suptitle("Morris sensitivity of the assumptions", fontsize=10)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def summary_markdown(result: dict, spec: dict, top: int = 3) -> str:
    lines = [
        "# Sensitivity of the assumptions (Morris)",
        "",
        f"- `python -m calibration.sensitivity`: {len(spec['parameters'])} parameters, {result['points']} Morris "
        f"points, {result['runs']} runs ({len(result['ranking']) + 1} scenarios each, seed {spec.get('seed', 1)}, "
        f"paired), {result['seconds']:.0f} s; settings `{' '.join(spec['overrides'])}`.",
        f"- Scenarios ranked by their paired difference in `{spec['rank_by']}` (1 = the largest fall). The top "
        f"scenario differs from the most frequent top one at {result['top_changes']:.0%} of the points.",
        "",
        "![sensitivity](sensitivity.png)",
        "",
        "## Ranking over the points",
        "",
        "| scenario | ranks first | mean rank | best | worst |",
        "|---|---:|---:|---:|---:|",
    ]
    for _, r in result["ranking"].iterrows():
        lines.append(f"| {r['scenario']} | {r['top_share']:.0%} | {r['mean_rank']:.1f} | {r['best_rank']} | "
                     f"{r['worst_rank']} |")
    lines += ["", "## The most influential parameters per outcome", "",
              "| outcome | parameters (mu* as a share of the outcome's largest) |", "|---|---|"]
    lines += [f"| `{outcome}` | {cell} |" for outcome, cell in top_parameters(result["morris"], top).items()]
    return "\n".join(lines) + "\n"


def write(result: dict, spec: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    result["morris"].to_csv(out / "morris.csv", index=False)
    result["ranking"].to_csv(out / "ranking.csv", index=False)
    result["samples"].to_csv(out / "samples.csv", index=False)
    sensitivity_chart(result["morris"], out / "sensitivity.png")
    (out / "summary.md").write_text(summary_markdown(result, spec))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m calibration.sensitivity", description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default=str(SENSITIVITY_YAML))
    ap.add_argument("--trajectories", type=int, default=None, help="Morris r (default: the spec's)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="outputs/calibration/sensitivity")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides added to the spec's")
    a = ap.parse_args(sys.argv[1:] if argv is None else argv)
    spec = load(a.spec)
    spec["overrides"] = list(spec["overrides"]) + list(a.overrides)
    res = morris(spec, a.trajectories, a.jobs, Path(a.out))
    print(res["ranking"].to_string(index=False))
    print(f"top scenario changes at {res['top_changes']:.0%} of points; {res['runs']} runs in {res['seconds']:.0f} s; "
          f"wrote {a.out}/morris.csv, ranking.csv, samples.csv, sensitivity.png, summary.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fit report: every calibration target, model against published, over a few seeds; where the rise in DoL
applications comes from; the posterior; the sensitivity indices.

    python -m calibration.report                         # the historical run (calibration.runs.HISTORICAL)
    python -m calibration.report --seeds 5 --out outputs/fit "++orders.dol_propensity_by_year={2017:0.02,2019:0.1,2022:0.5}"
    python -m calibration.report --draws calibration/posterior/draws.csv   # seed k runs with posterior draw k

Arguments with "=" are Hydra overrides as for ``python -m sim``, applied after the historical settings
(``calibration.runs.HISTORICAL``: start April 2017 after a discarded 3-year burn-in at 2017 settings,
8 years to March 2025, scale 0.25); ``seed=`` is set per replicate. With ``--draws``, seed k also takes
the parameters of draw k (the k-th row) of a posterior draws file, as ``compare.posterior`` does, so the
intervals cover the parameters' uncertainty as well as chance.
Writes into ``--out``:

- ``fit.csv``: one row per target: id, measure, period, published, model (mean over seeds), lo, hi (min and
  max over seeds), tolerance, within (the mean inside the target's band; empty if the run does not
  cover the period);
- ``values_by_seed.csv``: each seed's value of every target;
- ``rise_split.csv``: the 2017/18 to 2023/24 rise in DoL applications split between the DoL-threshold
  schedule, the capacity schedules, their interaction and neither (``calibration.rise``; ``--no-split``
  skips its three extra runs per seed), and ``rise_variants.csv``, the DoL series of each counterfactual;
- ``dol_series.png`` and ``dol_series.csv``: DoL applications, model against published, 2017-2025;
- ``posterior.png``: the posterior marginals (from ``--posterior``, default calibration/posterior/);
- ``sensitivity.png``: the sensitivity indices (from ``--sensitivity``, default
  docs/results/sensitivity/morris.csv);
- ``report.md``: the settings, the rise split, the misses first, every target, the charts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from calibration.runs import FIRST_YEAR, HISTORICAL, run_values
from calibration.targets import Target, load_published_rows, load_targets
from sim.data import REPO_ROOT

FIT_COLUMNS = ["id", "measure", "period", "published", "model", "lo", "hi", "tolerance", "within"]
POSTERIOR_DIR = REPO_ROOT / "calibration" / "posterior"
SENSITIVITY_CSV = REPO_ROOT / "docs" / "results" / "sensitivity" / "morris.csv"

# Published DoL application counts for the chart: (row id, first day, last day, annualising factor, what).
# England-and-Wales rows are shown at 0.95 (targets.yaml, conversions.ew_to_england).
DOL_POINTS = [
    ("T1-001", "2017-04-01", "2018-03-31", 1.0, "Cafcass, England, applications"),
    ("T1-002", "2020-04-01", "2021-03-31", 1.0, "Cafcass, England, applications"),
    ("T1-013", "2022-07-04", "2023-06-30", 0.95, "NFJO court data, applications (E&W x 0.95)"),
    ("T1-005", "2023-04-01", "2024-03-31", 1.0, "secondary, applications"),
    ("T1-028", "2023-07-01", "2024-06-30", 0.95, "MoJ, applications (E&W x 0.95)"),
    ("T1-031", "2023-01-01", "2023-12-31", 0.95, "children (E&W x 0.95)"),
    ("T1-030", "2024-01-01", "2024-12-31", 0.95, "MoJ, children (E&W x 0.95)"),
    ("T1-018", "2023-07-01", "2023-09-30", 0.95 * 4, "MoJ quarter x 4 (E&W x 0.95)"),
    ("T1-022", "2023-10-01", "2023-12-31", 0.95 * 4, "MoJ quarter x 4"),
    ("T1-024", "2024-01-01", "2024-03-31", 0.95 * 4, "MoJ quarter x 4"),
    ("T1-026", "2024-04-01", "2024-06-30", 0.95 * 4, "MoJ quarter x 4"),
    ("T1-037", "2024-07-01", "2024-09-30", 0.95 * 4, "MoJ quarter x 4"),
    ("T1-029", "2024-10-01", "2024-12-31", 0.95 * 4, "MoJ quarter x 4"),
]


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    ap = argparse.ArgumentParser(prog="python -m calibration.report", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3, help="replicates (seeds first_seed..), default 3")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2, help="parallel runs (joblib), default 2")
    ap.add_argument("--out", default="outputs/calibration/report", help="output folder")
    ap.add_argument("--targets", default=None, help="targets YAML (default calibration/targets.yaml)")
    ap.add_argument("--data", default=None, help="published statistics CSV (default: the config's)")
    ap.add_argument("--no-historical", action="store_true",
                    help="do not prepend the historical settings to the overrides")
    ap.add_argument("--no-split", action="store_true", help="skip the counterfactual runs that split the rise")
    ap.add_argument("--draws", default=None, help="posterior draws CSV: seed k runs with draw k")
    ap.add_argument("--posterior", default=str(POSTERIOR_DIR),
                    help="folder with posterior.yaml and draws.csv for the marginals chart")
    ap.add_argument("--sensitivity", default=str(SENSITIVITY_CSV), help="Morris indices CSV for the chart")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, key=value")
    a = ap.parse_args(argv)
    bad = [o for o in a.overrides if "=" not in o]
    if bad:
        ap.error(f"overrides must be key=value, got {bad}")
    overrides = ([] if a.no_historical else list(HISTORICAL)) + [o for o in a.overrides if not o.startswith("seed=")]
    return a, overrides


# ---------------------------------------------------------------------------- runs
def _one(overrides: list[str], seed: int, targets: list[Target], variant: str,
         params: dict[str, float] | None) -> dict[str, Any]:
    """One run: the historical run (every target, the series for the charts) or a counterfactual (the
    DoL series only), with the seed's posterior draw if any."""
    from calibration.rise import variant_config
    from calibration.runs import base_config, run_output, with_params
    from calibration.targets import dol_series

    cfg = variant_config(with_params(base_config(overrides), params or {}, seed=seed), variant)
    if variant == "as_published":
        return {**run_values(cfg, targets, extra=True), "variant": variant}
    return {"seed": seed, "variant": variant, "series": dol_series(run_output(cfg))}


def run_all(overrides: list[str], seeds: list[int], targets: list[Target], variants: list[str],
            draws: dict[int, dict[str, float]], jobs: int = 2) -> dict[str, list[dict]]:
    """Every (variant, seed) run, in parallel; results by variant, in seed order."""
    from calibration.runs import base_config, parallel_map

    base_config(overrides)  # composed once (and checked) before the workers fork
    tasks = [(overrides, s, targets, v, draws.get(s)) for v in variants for s in seeds]
    runs = parallel_map(_one, tasks, jobs)
    for r in runs:
        if isinstance(r, Exception):
            raise r
    return {v: [r for r in runs if r["variant"] == v] for v in variants}


# ---------------------------------------------------------------------------- tables
def fit_table(targets: list[Target], runs: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fit rows (fit.csv's columns, then kind and band for the Markdown) and the per-seed values."""
    by_seed = pd.DataFrame({f"seed_{r['seed']}": r["values"] for r in runs})
    rows = []
    for t in targets:
        v = by_seed.loc[t.key].to_numpy(float)
        ok = v[np.isfinite(v)]
        model = float(ok.mean()) if len(ok) else math.nan
        lo_b, hi_b = t.band()
        rows.append({
            "id": t.key, "measure": t.describe_measure(), "period": t.period, "published": t.published,
            "model": model, "lo": float(ok.min()) if len(ok) else math.nan,
            "hi": float(ok.max()) if len(ok) else math.nan, "tolerance": t.tolerance,
            "within": t.within(model), "kind": t.kind, "band_lo": lo_b, "band_hi": hi_b,
        })
    by_seed.index.name = "id"
    return pd.DataFrame(rows), by_seed


def published_rise(targets: list[Target]) -> float:
    from calibration.rise import FROM_TARGET, TO_TARGET

    by = {t.key: t.published for t in targets}
    return by[TO_TARGET] - by[FROM_TARGET] if FROM_TARGET in by and TO_TARGET in by else math.nan


def fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "inf" if x == math.inf else "-inf" if x == -math.inf else "n/a"
    a = abs(x)
    if a >= 1e9:
        return f"{x / 1e9:.2f}bn"
    if a >= 1e6:
        return f"{x / 1e6:.1f}m"
    if a >= 100:
        return f"{x:,.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def dol_published(data_file: str | None = None) -> pd.DataFrame:
    from calibration.parse import parse_value, select

    rows = load_published_rows(data_file)
    out = []
    for rid, a, b, factor, what in DOL_POINTS:
        if rid not in rows:
            continue
        v = select(parse_value(rows[rid]["value"]), None) * factor
        out.append({"id": rid, "start": pd.Timestamp(a), "end": pd.Timestamp(b), "per_year": v, "what": what})
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------- charts
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def dol_chart(runs: list[dict], published: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The historical DoL series: model FY totals (mean, min-max over seeds) and a 13-week rolling annual
    rate, against the published counts as bars over their periods."""
    plt = _pyplot()
    series = pd.concat([r["series"].assign(seed=r["seed"]) for r in runs])
    first = max(FIRST_YEAR, int(series["year"].min()))
    full = series[(series["weeks"] >= 52) & (series["year"] >= first)]
    fy = full.groupby("year")["applications_dol"].agg(["mean", "min", "max"]).reset_index()
    s25 = full.groupby("year")["applications_s25"].mean()
    fy["s25_mean"] = fy["year"].map(s25)
    weekly = pd.concat([r["weekly"].assign(seed=r["seed"]) for r in runs])
    roll = (weekly.groupby("seed", group_keys=False)
            .apply(lambda d: d.assign(rate=d["applications_dol"].rolling(13, min_periods=4).sum() * 13
                                      / d["applications_dol"].rolling(13, min_periods=4).count() * 4)))
    roll = roll[roll["year"] >= first]
    rate = roll.groupby("date")["rate"].mean()

    fig, ax = plt.subplots(figsize=(10, 6.5))
    ax.plot(rate.index, rate.to_numpy(), color="tab:blue", alpha=0.35, lw=1, label="model, 13-week rate x 4 (mean)")
    for _, r in fy.iterrows():
        a = pd.Timestamp(int(r["year"]), 4, 1)
        b = pd.Timestamp(int(r["year"]) + 1, 3, 31)
        ax.fill_between([a, b], r["min"], r["max"], color="tab:blue", alpha=0.15, lw=0)
        ax.plot([a, b], [r["mean"]] * 2, color="tab:blue", lw=2.5)
        ax.plot([a, b], [r["s25_mean"]] * 2, color="tab:green", lw=1.5, ls="--")
    ax.plot([], [], color="tab:blue", lw=2.5, label="model, DoL applications per financial year (min-max band)")
    ax.plot([], [], color="tab:green", lw=1.5, ls="--", label="model, s25 applications per financial year")
    for _, p in published.iterrows():
        quarterly = "quarter" in p["what"]
        ax.plot([p["start"], p["end"]], [p["per_year"]] * 2, color="black" if not quarterly else "0.45",
                lw=2 if not quarterly else 1.2)
        ax.annotate(p["id"], (p["start"], p["per_year"]), textcoords="offset points", xytext=(0, 4), fontsize=7)
    ax.plot([], [], color="black", lw=2, label="published (England, or E&W x 0.95), per year")
    ax.plot([], [], color="0.45", lw=1.2, label="published quarters x 4")
    ax.set_ylabel("per year (England)")
    ax.set_title("Deprivation of liberty applications: model against published")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    fig.legend(*ax.get_legend_handles_labels(), fontsize=8, loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return fy


def load_posterior(folder: str | Path) -> tuple[dict, pd.DataFrame] | None:
    """posterior.yaml and draws.csv of a calibration, or None if either is missing."""
    folder = Path(folder)
    if not (folder / "posterior.yaml").is_file() or not (folder / "draws.csv").is_file():
        return None
    return yaml.safe_load((folder / "posterior.yaml").read_text()), pd.read_csv(folder / "draws.csv")


def posterior_chart(summary: dict, draws: pd.DataFrame, path: Path) -> None:
    """One panel per parameter: the draws' histogram over the prior's range, the median and 90% interval."""
    plt = _pyplot()
    names = list(draws.columns)
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        prior = (summary.get("prior") or {}).get(name, {})
        log = prior.get("dist") == "loguniform"
        lo, hi = prior.get("lo"), prior.get("hi")
        x = draws[name].to_numpy(float)
        bins = (np.geomspace(lo, hi, 16) if log and lo and hi else
                np.linspace(lo, hi, 16) if lo is not None and hi is not None else 15)
        ax.hist(x, bins=bins, color="tab:blue", alpha=0.7)
        ax.axvline(summary["median"][name], color="black", lw=1.5)
        ax.axvspan(summary["q05"][name], summary["q95"][name], color="0.5", alpha=0.2, lw=0)
        if log:
            ax.set_xscale("log")
        if lo is not None and hi is not None:
            ax.set_xlim(lo, hi)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(f"Posterior marginals ({len(draws)} draws; x-axis: the prior's range; line: median; "
                 f"band: 90% interval)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------- Markdown
def shown(path: str | Path) -> str:
    """A path as the report shows it: relative to the repository when inside it."""
    p = Path(path).resolve()
    return str(p.relative_to(REPO_ROOT)) if p.is_relative_to(REPO_ROOT) else str(path)


def rise_markdown(split: pd.DataFrame, variants: pd.DataFrame) -> list[str]:
    """The split of the rise, with sentences made from its numbers."""
    from calibration.rise import FROM_YEAR, TO_YEAR

    by = split.set_index("component")
    total = by.loc["model_rise", "rise"]
    lines = ["## Where the rise in DoL applications comes from", ""]
    if not math.isfinite(total):
        return lines + ["The run does not cover both 2017/18 and 2023/24, so the rise is not split.", ""]
    pub = by.loc["published", "rise"]
    thr, cap, other = (by.loc[c, "rise"] for c in ("dol_threshold", "capacities", "other"))
    lines += [
        f"Published DoL applications rose by {fmt(pub)} from {FROM_YEAR}/{(FROM_YEAR + 1) % 100:02d} to "
        f"{TO_YEAR}/{(TO_YEAR + 1) % 100:02d}; the model's rose by {fmt(total)}. Counterfactual historical runs, "
        "paired by seed, hold the DoL-threshold schedule, the capacity schedules, or both at their 2017 values "
        "(`calibration/rise.py`):",
        "",
        "| component | rise in applications | range over seeds | share of the model's rise |",
        "|---|---:|---:|---:|",
    ]
    for name, r in by.iterrows():
        share = "" if not math.isfinite(r["share_of_model_rise"]) else f"{r['share_of_model_rise']:.0%}"
        rng = "" if not math.isfinite(r["lo"]) else f"{fmt(r['lo'])} to {fmt(r['hi'])}"
        lines.append(f"| {name}: {r['description']} | {fmt(r['rise'])} | {rng} | {share} |")
    lines += [
        "",
        f"With the capacities held at their 2017 values and the threshold moving as it did, the model's rise would "
        f"have been {fmt(thr + other)} applications instead of {fmt(total)}; with the threshold held at its 2017 "
        f"value and the capacities as published, {fmt(cap + other)}. Places act on the children waiting for a "
        "secure bed (one route to a DoL application) and, through children's home and other places, on where "
        "children live and how distressed they become; the threshold schedule (the legal setting) decides how "
        "readily local authorities apply on either route, for a child still waiting for a secure bed or for a "
        "child in a home whose care needs restrictions. A component's sign says which way its schedule pushed "
        "the rise; a share above 100% means the others pushed the other way.",
        "",
        "DoL applications per financial year in each counterfactual (mean over seeds):",
        "",
        "| year | " + " | ".join(c for c in variants.columns if c != "year") + " |",
        "|---|" + "---:|" * (len(variants.columns) - 1),
    ]
    for _, r in variants.iterrows():
        lines.append(f"| {int(r['year'])}/{(int(r['year']) + 1) % 100:02d} | "
                     + " | ".join(fmt(r[c]) for c in variants.columns if c != "year") + " |")
    return lines + [""]


def posterior_markdown(summary: dict | None, folder: str) -> list[str]:
    lines = ["## Posterior (ABC-SMC)", ""]
    if summary is None:
        return lines + [f"No posterior in `{shown(folder)}` (run `python benchmarks/bench_calibration.py`).", ""]
    lines += [
        f"From `{shown(folder)}`: {summary['generations']} generations of {summary['particles']} particles "
        f"(effective sample size of the last {summary.get('effective_sample_size', 'n/a')}), "
        f"{summary['simulations']} simulations, final epsilon {summary['epsilon']:.3g} (root mean square error "
        f"in tolerances), written {summary.get('written', 'n/a')}. The median and interval are weighted by the "
        "particles' importance weights; with a small effective sample size they rest on few runs.",
        "",
        "![posterior marginals](posterior.png)",
        "",
        "| parameter | prior | median | 90% interval |",
        "|---|---|---:|---:|",
    ]
    for name, med in summary["median"].items():
        p = summary.get("prior", {}).get(name, {})
        prior = f"{p.get('dist', '')} {p.get('lo', p.get('mean', ''))} to {p.get('hi', p.get('sd', ''))}"
        lines.append(f"| `{name}` | {prior} | {med:.4g} | {summary['q05'][name]:.4g} to {summary['q95'][name]:.4g} |")
    return lines + [""]


def sensitivity_markdown(table: pd.DataFrame | None, path: str, top: int = 3) -> list[str]:
    from calibration.sensitivity import outcome_group, top_parameters

    lines = ["## Sensitivity indices (Morris)", ""]
    if table is None:
        return lines + [f"No sensitivity indices at `{shown(path)}` (run `python -m calibration.sensitivity`).", ""]
    lines += [f"From `{shown(path)}` (`python -m calibration.sensitivity`). The {top} parameters with the largest "
              "mu* (mean absolute elementary effect) for each outcome:", "",
              "![sensitivity indices](sensitivity.png)", "",
              "| outcome | most influential parameters (mu* as a share of the outcome's largest) |", "|---|---|"]
    lines += [f"| {outcome_group(outcome)}: `{outcome}` | {cell} |"
              for outcome, cell in top_parameters(table, top).items()]
    return lines + [""]


def markdown(fit: pd.DataFrame, fy: pd.DataFrame, published: pd.DataFrame, overrides: list[str], seeds: list[int],
             seconds: list[float], wall: float, draws_file: str | None, rise: list[str], posterior: list[str],
             sensitivity: list[str]) -> str:
    n = len(fit)
    ok = fit["within"].eq(True).sum()
    miss = fit["within"].eq(False).sum()
    na = fit["within"].isna().sum()
    lines = [
        "# Calibration fit report",
        "",
        f"- Generated {dt.datetime.now().isoformat(timespec='seconds')}; overrides: `{' '.join(overrides)}`",
        f"- Seeds {seeds}; {fmt(float(np.mean(seconds)))} s per run, {wall:.0f} s in all"
        + (f"; seed k with posterior draw k of `{shown(draws_file)}`" if draws_file else ""),
        f"- **{ok} of {n} targets within tolerance, {miss} missed, {na} not covered by the run.**",
        "- Targets, populations, conversions and the reason for each tolerance: `calibration/targets.yaml` "
        "(worked numbers: `calibration/targets.csv`). `model` is the mean over seeds, `lo`-`hi` their range; "
        "kind `lower`/`upper`: the published figure bounds the model from below/above.",
        "",
        "![DoL applications](dol_series.png)",
        "",
        *rise,
        "## Every target (misses first)",
        "",
        "| | id | period | published | model | lo - hi | band | kind | measure |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    order = fit.assign(_o=fit["within"].map({False: 0, None: 1, True: 2}).fillna(1)).sort_values("_o", kind="stable")
    for _, r in order.iterrows():
        mark = {True: "ok", False: "**MISS**"}.get(r["within"], "n/a")
        band = f"{fmt(r['band_lo'])} to {fmt(r['band_hi'])}"
        lines.append(f"| {mark} | {r['id']} | {r['period']} | {fmt(r['published'])} | {fmt(r['model'])} | "
                     f"{fmt(r['lo'])} - {fmt(r['hi'])} | {band} | {r['kind']} | `{r['measure']}` |")
    lines += ["", "## DoL applications per financial year (model mean, min-max over seeds)", "",
              "| year | model | min | max | model s25 |", "|---|---|---|---|---|"]
    for _, r in fy.iterrows():
        lines.append(f"| {int(r['year'])}/{(int(r['year']) + 1) % 100:02d} | {fmt(r['mean'])} | {fmt(r['min'])} | "
                     f"{fmt(r['max'])} | {fmt(r['s25_mean'])} |")
    lines += ["", "Published (per year, England or E&W x 0.95):", ""]
    for _, p in published.iterrows():
        lines.append(f"- {p['id']}: {fmt(p['per_year'])} ({p['start'].date()} to {p['end'].date()}; {p['what']})")
    lines += ["", *posterior, *sensitivity]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    a, overrides = parse_args(sys.argv[1:] if argv is None else argv)
    from calibration.rise import VARIANTS, split_table, variant_series
    from calibration.runs import base_config
    from calibration.sensitivity import load_indices, sensitivity_chart
    from calibration.targets import load_spec
    from sim.compare import posterior_draws

    targets = load_targets(a.data, spec=load_spec(a.targets) if a.targets else None)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    draws = posterior_draws(a.draws, base_config(overrides), seeds) if a.draws else {}
    variants = ["as_published"] if a.no_split else list(VARIANTS)
    t0 = time.perf_counter()
    runs = run_all(overrides, seeds, targets, variants, draws, a.jobs)
    wall = time.perf_counter() - t0
    main_runs = runs["as_published"]
    fit, by_seed = fit_table(targets, main_runs)
    fit[FIT_COLUMNS].to_csv(out / "fit.csv", index=False)
    by_seed.to_csv(out / "values_by_seed.csv")
    published = dol_published(a.data)
    fy = dol_chart(main_runs, published, out / "dol_series.png")
    fy.to_csv(out / "dol_series.csv", index=False)
    rise: list[str] = []
    if not a.no_split:
        series = {v: [r["series"] for r in runs[v]] for v in variants}
        split = split_table(series, published_rise(targets))
        split.to_csv(out / "rise_split.csv", index=False)
        variant_table = variant_series(series)
        variant_table.to_csv(out / "rise_variants.csv", index=False)
        rise = rise_markdown(split, variant_table)
    post = load_posterior(a.posterior)
    if post is not None:
        posterior_chart(*post, out / "posterior.png")
    indices = load_indices(a.sensitivity)
    if indices is not None:
        sensitivity_chart(indices, out / "sensitivity.png")
    (out / "report.md").write_text(markdown(
        fit, fy, published, overrides, seeds, [r["seconds"] for r in main_runs], wall, a.draws, rise,
        posterior_markdown(post[0] if post else None, a.posterior), sensitivity_markdown(indices, a.sensitivity)))
    ok = int(fit["within"].eq(True).sum())
    print(f"{ok} of {len(fit)} targets within tolerance ({int(fit['within'].eq(False).sum())} missed); "
          f"wrote {out}/fit.csv, report.md, dol_series.png" + ("" if a.no_split else ", rise_split.csv")
          + f" in {wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

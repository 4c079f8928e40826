"""Fit report: every calibration target, model against published, over a few seeds.

    python -m calibration.report                         # the historical run (calibration.runs.HISTORICAL)
    python -m calibration.report --seeds 5 --out outputs/fit "++orders.dol_propensity_by_year={2017:0.02,2019:0.1,2022:0.5}"
    python -m calibration.report --burn-in               # the same (kept for scripts that pass it)

Arguments with "=" are Hydra overrides as for ``python -m sim``, applied after the historical settings
(``calibration.runs.HISTORICAL``: start April 2017 after a discarded 3-year burn-in at 2017 settings,
8 years to March 2025, scale 0.25); ``seed=`` is set per replicate.
Writes into ``--out``:

- ``fit.csv``: one row per target: id, measure, period, published, model (mean over seeds), lo, hi (min and
  max over seeds), tolerance, within (the mean inside the target's band; empty if the run does not
  cover the period), then kind, band_lo, band_hi, source ids;
- ``values_by_seed.csv``: each seed's value of every target;
- ``dol_series.png`` and ``dol_series.csv``: DoL applications, model against published, 2017-2025;
- ``report.md``: the settings, the misses first, every target, the chart.
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

from calibration.runs import FIRST_YEAR, HISTORICAL, HISTORICAL_BURN_IN, run_values
from calibration.targets import Target, load_published_rows, load_targets

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
    ap.add_argument("--burn-in", action="store_true",
                    help="historical settings with horizon.burn_in_years=3 from 2017 (runs.HISTORICAL_BURN_IN)")
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, key=value")
    a = ap.parse_args(argv)
    bad = [o for o in a.overrides if "=" not in o]
    if bad:
        ap.error(f"overrides must be key=value, got {bad}")
    hist = HISTORICAL_BURN_IN if a.burn_in else HISTORICAL
    overrides = ([] if a.no_historical else list(hist)) + [o for o in a.overrides if not o.startswith("seed=")]
    return a, overrides


def _one(overrides: list[str], seed: int, targets: list[Target]) -> dict[str, Any]:
    from sim import build_config

    cfg = build_config(overrides + [f"seed={seed}"])
    return run_values(cfg, targets, extra=True)


def run_seeds(overrides: list[str], seeds: list[int], targets: list[Target], jobs: int = 2) -> list[dict]:
    from calibration.runs import parallel_map

    runs = parallel_map(_one, [(overrides, s, targets) for s in seeds], jobs)
    for r in runs:
        if isinstance(r, Exception):
            raise r
    return runs


def fit_table(targets: list[Target], runs: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """fit.csv rows and the per-seed values."""
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
            "sources": " ".join(t.sources), "population": t.population,
        })
    fit = pd.DataFrame(rows)
    by_seed.index.name = "id"
    return fit, by_seed


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


def dol_chart(runs: list[dict], published: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The historical DoL series: model FY totals (mean, min-max over seeds) and a 13-week rolling annual
    rate, against the published counts as bars over their periods."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    for i, p in published.iterrows():
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


def markdown(fit: pd.DataFrame, fy: pd.DataFrame, published: pd.DataFrame, overrides: list[str], seeds: list[int],
             seconds: list[float], wall: float) -> str:
    n = len(fit)
    ok = fit["within"].eq(True).sum()
    miss = fit["within"].eq(False).sum()
    na = fit["within"].isna().sum()
    lines = [
        "# Calibration fit report",
        "",
        f"- Generated {dt.datetime.now().isoformat(timespec='seconds')}; overrides: `{' '.join(overrides)}`",
        f"- Seeds {seeds}; {fmt(float(np.mean(seconds)))} s per run, {wall:.0f} s in all",
        f"- **{ok} of {n} targets within tolerance, {miss} missed, {na} not covered by the run.**",
        "- Targets, populations, conversions and the reason for each tolerance: `calibration/targets.yaml` "
        "(worked numbers: `calibration/targets.csv`). `model` is the mean over seeds, `lo`-`hi` their range; "
        "kind `lower`/`upper`: the published figure bounds the model from below/above.",
        "",
        "![DoL applications](dol_series.png)",
        "",
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
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    a, overrides = parse_args(sys.argv[1:] if argv is None else argv)
    from calibration.targets import load_spec

    targets = load_targets(a.data, spec=load_spec(a.targets) if a.targets else None)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    t0 = time.perf_counter()
    runs = run_seeds(overrides, seeds, targets, a.jobs)
    wall = time.perf_counter() - t0
    fit, by_seed = fit_table(targets, runs)
    fit.to_csv(out / "fit.csv", index=False)
    by_seed.to_csv(out / "values_by_seed.csv")
    published = dol_published(a.data)
    fy = dol_chart(runs, published, out / "dol_series.png")
    fy.to_csv(out / "dol_series.csv", index=False)
    (out / "report.md").write_text(markdown(fit, fy, published, overrides, seeds, [r["seconds"] for r in runs], wall))
    ok = int(fit["within"].eq(True).sum())
    print(f"{ok} of {len(fit)} targets within tolerance ({int(fit['within'].eq(False).sum())} missed); "
          f"wrote {out}/fit.csv, report.md, dol_series.png in {wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Loading results for the briefing: a ``python -m sim.compare`` folder, runs of ``python -m sim``, and
calibration results, with what each chart needs worked out once here.

A comparison folder holds ``comparison.csv`` (scenario, metric, mean, lo, hi, diff_mean, diff_lo,
diff_hi), ``runs/<scenario>/seed_<k>/`` with ``summary.json``, ``weekly.parquet`` and ``moves.csv``, and
(when written by the command line) Hydra's ``.hydra/config.yaml`` and ``overrides.yaml``.  Anything
missing is reported as ``MissingResults``: one line naming the file or column and what was expected.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sim.compare import BASELINE, COLUMNS, comparison_table, moves_matrix
from sim.data import REPO_ROOT, resolve
from sim.outputs import flatten
from sim.placements import PAYERS, PLACEMENT_TYPES

RUN_FILES = ("summary.json", "weekly.parquet", "moves.csv")
SCENARIO_DIR = REPO_ROOT / "scenarios" / "scenario"
DATA_ID = re.compile(r"\bT\d+-\d{3}\b")

# Metrics the briefing adds to comparison.csv, from the runs, with the same paired intervals: a
# scenario's cost including its own implementation cost, in total and by payer, a year.
COST_WITH_IMPLEMENTATION = "cost.with_implementation_per_year_gbp"
PAYER_COST_WITH_IMPLEMENTATION = "cost.by_payer_with_implementation_per_year_gbp"

FIT_COLUMNS = ("id", "measure", "period", "published", "model", "lo", "hi", "tolerance", "within")
MORRIS_COLUMNS = ("parameter", "outcome", "mu_star", "mu_star_conf", "sigma")
SOBOL_COLUMNS = ("parameter", "outcome", "S1", "S1_conf", "ST", "ST_conf")


class MissingResults(ValueError):
    """A results set lacks a file or column that a chart or the briefing needs."""


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """MissingResults naming the first absent column and every column expected."""
    columns = list(columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MissingResults(f"{what} lacks column {missing[0]!r} (expected columns: {', '.join(columns)})")


# ----------------------------------------------------------------------------- provenance
@lru_cache(maxsize=1)
def model_version() -> str:
    """'care-pathways 0.1.0 (git 9dca5c8)': the installed version, and the commit when run from a clone."""
    try:
        version = importlib.metadata.version("care-pathways")
    except importlib.metadata.PackageNotFoundError:  # run from a clone without installing
        from sim import __version__ as version
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                                 capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"care-pathways {version}"
    return f"care-pathways {version} (git {commit}{', with local changes' if changed else ''})"


def compact_ids(ids: Iterable[str]) -> str:
    """'T1-035; T2-004/007/017': data ids grouped by table, to keep a source line short."""
    groups: dict[str, list[str]] = {}
    for i in sorted(set(ids), key=lambda s: (int(s[1:].split("-")[0]), s)):
        table, number = i.split("-", 1)
        groups.setdefault(table, []).append(number)
    return "; ".join(f"{t}-{'/'.join(nums)}" for t, nums in groups.items())


@dataclass
class Provenance:
    """What a chart's source line cites: the model version, the runs and the published figures used."""

    runs: str  # e.g. "3 seeds (1-3) per scenario, paired; population scale 0.05 of England, 2 years from 2024-04-01"
    data_ids: list[str] = field(default_factory=list)
    data_label: str = "published statistics"
    model: str = field(default_factory=model_version)

    def source(self) -> str:
        ids = f" {self.data_label.capitalize()}: {compact_ids(self.data_ids)}." if self.data_ids else ""
        return f"Source: {self.model} agent-based model; {self.runs}.{ids}"


def seeds_text(seeds: Sequence[int]) -> str:
    seeds = sorted(seeds)
    if len(seeds) == 1:
        return f"1 seed ({seeds[0]})"
    span = f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else ", ".join(map(str, seeds))
    return f"{len(seeds)} seeds ({span})"


# ----------------------------------------------------------------------------- scenarios in words
@cache
def _scenario_heading(name: str) -> tuple[str, str]:
    """(title, description) from the first comment paragraph of scenarios/scenario/<name>.yaml."""
    path = SCENARIO_DIR / f"{name}.yaml"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    para = []
    for line in lines:
        text = line.strip()
        if not text.startswith("#") or text.lstrip("# ").startswith("Seeds:") or (para and text == "#"):
            break
        para.append(text.lstrip("#").strip())
    title, _, rest = " ".join(para).partition(":")
    if not rest:
        return name.replace("_", " ").capitalize(), ""
    return title.strip(), rest.strip()


def scenario_label(name: str) -> str:
    """A scenario's name for a reader: 'Early help'; compositions joined with ' + '."""
    if name == BASELINE:
        return "Baseline"
    return " + ".join(_scenario_heading(part)[0] for part in name.split("+"))


def scenario_description(name: str) -> str:
    """What a scenario changes: the first sentence of its own file's description."""
    if name == BASELINE:
        return "the system as it is, with no intervention; every scenario is compared with it."
    return " ".join(re.split(r"(?<=\.)\s+(?=[A-Z])", _scenario_heading(part)[1])[0] or "(no description in its file)"
                    for part in name.split("+"))


def scenario_data_ids(name: str) -> set[str]:
    """Published-statistics ids a scenario's file cites."""
    ids: set[str] = set()
    for part in name.split("+"):
        path = SCENARIO_DIR / f"{part}.yaml"
        if path.exists():
            ids.update(DATA_ID.findall(path.read_text(encoding="utf-8")))
    return ids


# ----------------------------------------------------------------------------- a comparison folder
@dataclass
class ComparisonResults:
    """A comparison folder, loaded: the tables and frames the charts take."""

    folder: Path
    table: pd.DataFrame  # comparison.csv rows and the briefing's added cost metrics
    runs: pd.DataFrame  # every run's flattened summary, index (scenario, seed)
    placements: pd.DataFrame  # scenario, date, placement, mean, lo, hi: children by placement type a week
    moves: dict[str, pd.DataFrame]  # scenario -> moves a year between placement types (England, mean of seeds)
    seeds: list[int]
    info: dict  # the run section of the baseline's summary: scale, years, start date, ...
    overrides: list[str]
    data_ids: list[str]  # published figures the configuration cites, and the scenarios' files
    data_file: Path
    posterior: str = ""  # compare.posterior: the calibration's posterior draws the runs used ("" for none)

    @property
    def scenarios(self) -> list[str]:
        return list(dict.fromkeys(self.table["scenario"]))

    def provenance(self) -> Provenance:
        draws = f", seed k with posterior draw k of {Path(self.posterior).name}" if self.posterior else ""
        runs = (f"{seeds_text(self.seeds)} per scenario, each paired with the baseline run of the same seed{draws}; "
                f"population scale {self.info['population_scale']:g} of England (figures for England), "
                f"{self.info['years']:g} years from {self.info['start_date']}")
        return Provenance(runs, self.data_ids)


def _config(folder: Path):
    """The configuration the comparison ran with (Hydra's record), else the repository's defaults."""
    from omegaconf import OmegaConf

    recorded = folder / ".hydra" / "config.yaml"
    return OmegaConf.load(recorded if recorded.exists() else REPO_ROOT / "scenarios" / "config.yaml")


def _overrides(folder: Path) -> list[str]:
    from omegaconf import OmegaConf

    path = folder / ".hydra" / "overrides.yaml"
    return [str(o) for o in OmegaConf.load(path)] if path.exists() else []


def _run_dirs(folder: Path, scenarios: Sequence[str]) -> dict[str, dict[int, Path]]:
    """runs/<scenario>/seed_<k> for every scenario of comparison.csv, every file present, seeds as the baseline's."""
    root = folder / "runs"
    if not root.is_dir():
        raise MissingResults(f"{folder} is not a complete python -m sim.compare output: runs/ is missing")
    found: dict[str, dict[int, Path]] = {}
    for s in scenarios:
        seeds = {int(p.name.split("_", 1)[1]): p for p in (root / s).glob("seed_*") if p.name[5:].isdigit()}
        if not seeds:
            raise MissingResults(f"{folder}: no runs for scenario {s!r} (expected runs/{s}/seed_<k>/)")
        for seed, d in sorted(seeds.items()):
            for name in RUN_FILES:
                if not (d / name).is_file():
                    raise MissingResults(f"{folder}: runs/{s}/seed_{seed}/{name} is missing "
                                         f"(each run needs {', '.join(RUN_FILES)})")
        found[s] = dict(sorted(seeds.items()))
    base = list(found[BASELINE])
    for s, seeds in found.items():
        if list(seeds) != base:
            raise MissingResults(f"{folder}: scenario {s!r} has seeds {list(seeds)}, the baseline {base}")
    return found


def _derived_costs(runs: pd.DataFrame) -> pd.DataFrame:
    """Each run's cost a year including the scenario's implementation cost, in total and by payer."""
    years = runs["run.years"]
    out = pd.DataFrame(index=runs.index)
    impl_total = runs.get("cost.implementation_gbp.total", 0.0)
    out[COST_WITH_IMPLEMENTATION] = (runs["cost.total_gbp"] + impl_total) / years
    for p in PAYERS:
        impl = runs.get(f"cost.implementation_gbp.by_payer.{p}", 0.0)
        out[f"{PAYER_COST_WITH_IMPLEMENTATION}.{p}"] = (runs[f"cost.by_payer.{p}"] + impl) / years
    return out


def _placements(weekly: dict[tuple[str, int], pd.DataFrame]) -> pd.DataFrame:
    """Children by placement type each week: mean over seeds and the 5th-95th percentile spread."""
    rows = []
    by_scenario: dict[str, list[pd.DataFrame]] = {}
    for (s, _), w in weekly.items():
        by_scenario.setdefault(s, []).append(w)
    for s, frames in by_scenario.items():
        dates = frames[0]["date"].to_numpy()
        for t in PLACEMENT_TYPES:
            values = np.stack([f[f"children_{t}"].to_numpy(np.float64) for f in frames])
            lo, hi = np.percentile(values, [5, 95], axis=0)
            rows.append(pd.DataFrame({"scenario": s, "date": dates, "placement": t, "mean": values.mean(axis=0),
                                      "lo": lo, "hi": hi}))
    return pd.concat(rows, ignore_index=True)


def moves_per_year(matrices: Sequence[pd.DataFrame], scale: float, years: float) -> pd.DataFrame:
    """Moves a year between placement types for England: the mean over runs, scaled up from the model's."""
    mean = sum(m.astype(np.float64) for m in matrices) / len(matrices)
    return mean / scale / years


def load_comparison(folder: str | Path) -> ComparisonResults:
    """Load a ``python -m sim.compare`` output folder; MissingResults (one line) if it is not one."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingResults(f"{folder}: no such folder (expected an output folder of python -m sim.compare)")
    csv = folder / "comparison.csv"
    if not csv.is_file():
        raise MissingResults(f"{folder} is not a python -m sim.compare output: comparison.csv is missing")
    table = pd.read_csv(csv)
    require_columns(table, COLUMNS, f"{csv}")
    scenarios = list(dict.fromkeys(table["scenario"]))
    if BASELINE not in scenarios:
        raise MissingResults(f"{csv} has no {BASELINE!r} rows: every scenario is compared with the baseline")
    dirs = _run_dirs(folder, scenarios)
    seeds = list(dirs[BASELINE])

    summaries, weekly, matrices = {}, {}, {}
    columns = ["date"] + [f"children_{t}" for t in PLACEMENT_TYPES]
    for s in scenarios:
        for seed, d in dirs[s].items():
            summaries[(s, seed)] = json.loads((d / "summary.json").read_text())
            try:
                weekly[(s, seed)] = pd.read_parquet(d / "weekly.parquet", columns=columns)
            except (KeyError, ValueError) as exc:  # pyarrow names the absent column
                raise MissingResults(f"{d / 'weekly.parquet'} lacks a column the placements chart needs "
                                     f"(expected {', '.join(columns)}): {str(exc).splitlines()[0]}") from None
            matrices[(s, seed)] = pd.read_csv(d / "moves.csv", index_col=0)
    info = dict(summaries[(BASELINE, seeds[0])]["run"])
    runs = pd.DataFrame([{**flatten(v), "run.years": v["run"]["years"]} for v in summaries.values()],
                        index=pd.MultiIndex.from_tuples(list(summaries), names=["scenario", "seed"]), dtype=np.float64)
    require_columns(runs, ["cost.total_gbp"] + [f"cost.by_payer.{p}" for p in PAYERS], f"{folder}/runs summary.json")
    derived = comparison_table(_derived_costs(runs))
    moves = {s: moves_per_year([matrices[(s, k)] for k in seeds], info["population_scale"], info["years"])
             for s in scenarios}

    cfg = _config(folder)
    ids = set(cfg.get("citations", {}).values()) | set().union(*(scenario_data_ids(s) for s in scenarios))
    return ComparisonResults(
        folder=folder, table=pd.concat([table, derived], ignore_index=True), runs=runs,
        placements=_placements(weekly), moves=moves, seeds=seeds, info=info, overrides=_overrides(folder),
        data_ids=sorted(ids), data_file=resolve(cfg.data_file),
        posterior=str(cfg.get("compare", {}).get("posterior", "") or ""))


# ----------------------------------------------------------------------------- runs of python -m sim
def load_run_moves(paths: str | Path | Iterable[str | Path]) -> tuple[pd.DataFrame, Provenance]:
    """Moves a year between placement types from ``python -m sim`` output folders (or their
    transitions.parquet): the same aggregation as a comparison's moves.csv, averaged over the runs."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    matrices, runs = [], []
    for p in paths:
        folder = p.parent if p.suffix == ".parquet" else p
        for name in ("transitions.parquet", "summary.json"):
            if not (folder / name).is_file():
                raise MissingResults(f"{folder}: {name} is missing (expected a python -m sim output folder)")
        transitions = pd.read_parquet(folder / "transitions.parquet")
        require_columns(transitions, ["event", "from", "to"], f"{folder / 'transitions.parquet'}")
        matrices.append(moves_matrix(transitions))
        runs.append(json.loads((folder / "summary.json").read_text())["run"])
    first = runs[0]
    if any((r["population_scale"], r["years"]) != (first["population_scale"], first["years"]) for r in runs):
        raise MissingResults("runs to average must share population scale and years")
    text = (f"{seeds_text([r['seed'] for r in runs])}, scenario {first['scenario']}; population scale "
            f"{first['population_scale']:g} of England (figures for England), {first['years']:g} years from "
            f"{first['start_date']}")
    return moves_per_year(matrices, first["population_scale"], first["years"]), Provenance(text)


# ----------------------------------------------------------------------------- calibration results
@dataclass
class CalibrationResults:
    """What a calibration folder holds: the fit report's fit.csv and sensitivity indices, either optional."""

    folder: Path
    fit: pd.DataFrame | None = None
    fit_file: Path | None = None
    sensitivity: pd.DataFrame | None = None
    sensitivity_file: Path | None = None
    fit_seeds: list[int] = field(default_factory=list)

    @property
    def method(self) -> str:
        """'Morris' or 'Sobol' by the sensitivity file's columns."""
        return "Sobol" if self.sensitivity is not None and "ST" in self.sensitivity.columns else "Morris"

    def fit_provenance(self) -> Provenance:
        seeds = seeds_text(self.fit_seeds) if self.fit_seeds else "seeds not recorded"
        ids = sorted({i.split(":")[0] for i in self.fit["id"].astype(str)}) if self.fit is not None else []
        return Provenance(f"calibration fit report {self.fit_file.name}, {seeds}", ids, "targets")

    def sensitivity_provenance(self) -> Provenance:
        return Provenance(f"{self.method} sensitivity analysis, {self.sensitivity_file.name} "
                          f"({self.sensitivity['parameter'].nunique()} parameters)")


def _header(path: Path) -> set[str]:
    try:
        return set(pd.read_csv(path, nrows=0).columns)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return set()


def load_calibration(path: str | Path) -> CalibrationResults:
    """Find fit.csv and a sensitivity-index CSV (Morris or Sobol) in a folder, by their columns.

    The newest of each kind is used when there are several.  A folder with neither gives empty results;
    a path that does not exist is MissingResults.
    """
    path = Path(path)
    if not path.exists():
        raise MissingResults(f"{path}: no such calibration folder or file")
    files = [path] if path.is_file() else sorted(path.rglob("*.csv"), key=lambda p: p.stat().st_mtime, reverse=True)
    out = CalibrationResults(path if path.is_dir() else path.parent)
    for f in files:
        cols = _header(f)
        if out.fit is None and set(FIT_COLUMNS) <= cols:
            out.fit, out.fit_file = pd.read_csv(f), f
            by_seed = f.with_name("values_by_seed.csv")
            if by_seed.exists():
                out.fit_seeds = sorted(int(c[5:]) for c in _header(by_seed) if re.fullmatch(r"seed_\d+", c))
        elif out.sensitivity is None and (set(MORRIS_COLUMNS) <= cols or set(SOBOL_COLUMNS) <= cols):
            out.sensitivity, out.sensitivity_file = pd.read_csv(f), f
    return out


def fit_summary(fit: pd.DataFrame) -> dict[str, int]:
    """Targets met, missed, and not covered by the run (an empty 'within')."""
    within = fit["within"].map(lambda v: str(v).strip().lower())
    met = int((within == "true").sum())
    missed = int((within == "false").sum())
    return {"targets": len(fit), "met": met, "missed": missed, "not_covered": len(fit) - met - missed}

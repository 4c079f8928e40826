"""Where the rise in DoL applications comes from: the DoL threshold, the capacities, or neither.

Between 2017/18 and 2023/24 published DoL applications rose from 108 to 1,238 (T1-001, T1-005). Two things
changed in the historical run: the threshold for seeking a DoL order (``orders.dol_propensity_by_year``,
stepped at Re D [2019] UKSC 42 and the national DoL court of July 2022) and the capacities (every
``places_by_year`` and ``external_occupancy_by_year`` of the placement types, and the secure places held
for youth justice). Which one did it decides what extra secure places can achieve, so the historical run
is repeated with each held at its first-year value, and with both held, seed by seed (common random
numbers, so the runs differ only where a schedule moves):

    threshold    = rise(threshold moves, capacities held) - rise(both held)
    capacities   = rise(capacities move, threshold held) - rise(both held)
    interaction  = rise(both move) - rise(threshold held) - rise(capacities held) + rise(both held)
    other        = rise(both held): demand (children looked after, starts), prices and the model's own drift

and the four add up to the model's rise. Each component is the mean over seeds of the per-seed
decomposition; lo and hi are its smallest and largest over seeds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from sim.config import schedule_value
from sim.placements import PLACEMENT_TYPES

FROM_YEAR, TO_YEAR = 2017, 2023          # financial years 2017/18 and 2023/24, as T1-001 and T1-005
FROM_TARGET, TO_TARGET = "T1-001", "T1-005"
THRESHOLD = "orders.dol_propensity_by_year"
# Variants: which schedules are held at their first-year value.
VARIANTS = {
    "as_published": (),
    "threshold_held": ("threshold",),
    "capacities_held": ("capacities",),
    "both_held": ("threshold", "capacities"),
}
COMPONENTS = [
    ("model_rise", "the model's rise, both schedules as in the data"),
    ("dol_threshold", "the DoL-threshold schedule alone (capacities held at 2017)"),
    ("capacities", "the capacity schedules alone (threshold held at 2017)"),
    ("interaction", "the two together beyond their separate effects"),
    ("other", "neither: demand (children looked after, starts), prices, the model's own drift"),
]
COLUMNS = ["component", "description", "rise", "lo", "hi", "share_of_model_rise"]


def capacity_schedules(cfg: Any) -> list[str]:
    """Dotted paths of every capacity schedule in a config that has entries."""
    paths = []
    for t in PLACEMENT_TYPES:
        p = getattr(cfg.placements, t)
        for field in ("places_by_year", "external_occupancy_by_year"):
            if getattr(p, field):
                paths.append(f"placements.{t}.{field}")
    paths.append("secure_welfare.youth_justice_places_by_year")
    return paths


def held(cfg: Any, what: tuple[str, ...]) -> dict[str, dict[int, float]]:
    """Parameters holding the named schedules at their value in the run's start year."""
    from calibration.runs import get_param

    year = int(cfg.start_year)
    paths = ([THRESHOLD] if "threshold" in what else []) + (capacity_schedules(cfg) if "capacities" in what else [])
    return {p: {year: schedule_value(get_param(cfg, p), year)} for p in paths}


def variant_config(cfg: Any, variant: str) -> Any:
    from calibration.runs import with_params

    return with_params(cfg, held(cfg, VARIANTS[variant])) if VARIANTS[variant] else cfg


def applications(series: pd.DataFrame, year: int) -> float:
    """DoL applications in a whole financial year of a run's series (NaN if the run does not cover it)."""
    row = series[(series["year"] == year) & (series["weeks"] >= 52)]
    return float(row["applications_dol"].iloc[0]) if len(row) else math.nan


def rises(series_by_variant: dict[str, list[pd.DataFrame]]) -> pd.DataFrame:
    """Rise FY2023 - FY2017 per variant (columns) and seed (rows, in the order given)."""
    return pd.DataFrame({v: [applications(s, TO_YEAR) - applications(s, FROM_YEAR) for s in runs]
                         for v, runs in series_by_variant.items()})


def decompose(r: pd.DataFrame) -> pd.DataFrame:
    """Per seed: the model's rise and its four components."""
    return pd.DataFrame({
        "model_rise": r["as_published"],
        "dol_threshold": r["capacities_held"] - r["both_held"],
        "capacities": r["threshold_held"] - r["both_held"],
        "interaction": r["as_published"] - r["threshold_held"] - r["capacities_held"] + r["both_held"],
        "other": r["both_held"],
    })


def split_table(series_by_variant: dict[str, list[pd.DataFrame]], published_rise: float) -> pd.DataFrame:
    """rise_split.csv: each component's mean over seeds, its range, and its share of the model's rise;
    then the published rise for comparison."""
    parts = decompose(rises(series_by_variant))
    total = float(parts["model_rise"].mean())
    rows = []
    for name, what in COMPONENTS:
        v = parts[name].to_numpy(float)
        mean = float(np.mean(v))
        rows.append({"component": name, "description": what, "rise": mean, "lo": float(np.min(v)),
                     "hi": float(np.max(v)),
                     "share_of_model_rise": mean / total if total and math.isfinite(total) else math.nan})
    rows.append({"component": "published", "description": f"published rise, {TO_TARGET} less {FROM_TARGET}",
                 "rise": published_rise, "lo": math.nan, "hi": math.nan,
                 "share_of_model_rise": published_rise / total if total and math.isfinite(total) else math.nan})
    return pd.DataFrame(rows, columns=COLUMNS)


def variant_series(series_by_variant: dict[str, list[pd.DataFrame]]) -> pd.DataFrame:
    """DoL applications per financial year and variant, mean over seeds (for the report's table)."""
    frames = []
    for v, runs in series_by_variant.items():
        s = pd.concat(runs)
        s = s[s["weeks"] >= 52].groupby("year")["applications_dol"].mean().rename(v)
        frames.append(s)
    return pd.concat(frames, axis=1).reset_index()

"""Running the model for calibration: the historical settings, parameter sets, one run's target values.

Screening and ABC run the model hundreds of times with a few parameters changed. Composing the Hydra
config each time costs about a second, so they compose it once (``build_config(overrides)``) and set the
parameters on a deep copy (``with_params``), checked by ``sim.config.validate`` as a composed config is.
``as_overrides`` writes the same parameters as Hydra overrides, for ``python -m sim`` and the fit report.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Mapping

from sim.config import get_param, set_param, with_params  # noqa: F401  (parameters by dotted path)

# The historical run of the calibration issue: from 1 April 2017 for 8 years (to March 2025, so calendar 2024
# and 1 September 2024 are covered) after a 3-year burn-in at 2017's settings that is discarded
# (horizon.burn_in_years), at a quarter of England (>= 0.25 keeps the smallest capacities, e.g. 74 secure
# welfare places, proportional under stochastic rounding).
HISTORICAL = ["start_year=2017", "horizon.years=8", "horizon.burn_in_years=3", "population.scale=0.25"]
FIRST_YEAR = 2017   # the first financial year the targets and charts use


_BASE: dict[tuple, Any] = {}   # per process: composed configs by their overrides


def base_config(overrides: Iterable[str]) -> Any:
    """The composed config for a list of overrides, composed once per process (forked workers inherit it)."""
    key = tuple(overrides)
    if key not in _BASE:
        from sim import build_config

        _BASE[key] = build_config(list(key))
    return _BASE[key]


def as_overrides(base: Any, params: Mapping[str, Any]) -> list[str]:
    """Hydra overrides giving the same configuration as ``with_params(base, params)``. A schedule is written
    whole as ``++key={year:value,...}``: adding a year needs ``++``, and a dict override merges with the YAML's
    keys, so writing every year leaves nothing of the YAML's schedule in doubt."""
    cfg = with_params(base, params)
    out: list[str] = []
    done: set[str] = set()
    for path in params:
        parts = path.split(".")
        target = path
        if len(parts) > 1 and isinstance(get_param(cfg, ".".join(parts[:-1])), Mapping):
            target = ".".join(parts[:-1])
        if target in done:
            continue
        done.add(target)
        v = get_param(cfg, target)
        if isinstance(v, Mapping):
            inner = ",".join(f"{k}:{_fmt(x)}" for k, x in sorted(v.items()))
            out.append(f"++{target}={{{inner}}}")   # ++: the schedule may gain years (merged with the YAML's)
        else:
            out.append(f"{target}={_fmt(v)}")
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def run_output(cfg: Any):
    """Run a config (no files) and return its ModelOutput."""
    from sim import run

    from calibration.targets import ModelOutput

    return ModelOutput.from_results(run(cfg, write=False))


def run_values(cfg: Any, targets: Iterable, extra: bool = False) -> dict[str, Any]:
    """One run: the model value of every target, the seconds it took and (``extra``) the DoL series
    and the weekly DoL applications for charts."""
    from calibration.targets import dol_series, values

    t0 = time.perf_counter()
    out = run_output(cfg)
    res: dict[str, Any] = {"values": values(out, list(targets)), "seed": cfg.seed}
    if extra:
        res["series"] = dol_series(out)
        res["weekly"] = out.weekly[["date", "year", "applications_dol", "applications_s25", "legal_dol",
                                    "children_unregistered", "waiting_secure_home", "children_in_care"]].copy()
        res["summary"] = out.summary
    res["seconds"] = time.perf_counter() - t0
    return res


def _call(args):
    fn, item = args
    try:
        return fn(*item) if isinstance(item, tuple) else fn(item)
    except Exception as exc:  # reported per item; the caller decides
        return exc


def parallel_map(fn, items: list, jobs: int = 2) -> list:
    """fn over items on ``jobs`` processes (joblib, forked workers), in order; an item that raised gives
    its exception. Forked workers inherit the imported model and any composed config, so they start at once
    (joblib's default loky workers start fresh interpreters).
    """
    items = list(items)
    if jobs <= 1 or len(items) <= 1:
        return [_call((fn, it)) for it in items]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=min(jobs, len(items)), backend="multiprocessing")(
        delayed(_call)((fn, it)) for it in items)

"""Fingerprints of whole runs, to show that a speed-up changed no result, bit for bit.

Runs a fixed set of configurations (the baseline with a burn-in, every scenario of the library, a
composition, a historical run from 2017) and prints one SHA-256 per run over everything the run
produced: every array of child state, every event, the weekly table and the summary.  Arrays are
hashed by value (integers as int64, floats as float64), so a narrower storage type for the same
values keeps the fingerprint.  Save the
fingerprints before a change and check them after it:

    python benchmarks/fingerprint.py --save /tmp/before.json
    python benchmarks/fingerprint.py --check /tmp/before.json      # exit 1 and names the runs that differ
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RUNS = {
    "baseline_burn_in": ["population.scale=0.25", "horizon.years=3", "horizon.burn_in_years=1", "seed=3"],
    "historical_2017": ["population.scale=0.1", "horizon.years=4", "horizon.burn_in_years=1", "start_year=2017",
                        "seed=5"],
    "composed": ["population.scale=0.1", "horizon.years=3", "seed=2",
                 "scenario=[registered_dol_homes,secure_beds_expansion,pooled_funding]"],
}


def _library_runs() -> dict[str, list[str]]:
    from sim.compare import library

    return {f"scenario_{s}": ["population.scale=0.05", "horizon.years=3", "seed=4", f"scenario={s}"]
            for s in library()}


def _by_value(a: np.ndarray) -> np.ndarray:
    kind = a.dtype.kind
    canonical = np.int64 if kind in "iu" else np.float64 if kind == "f" else a.dtype
    return np.ascontiguousarray(a, dtype=canonical)


def fingerprint(overrides: list[str]) -> str:
    from sim.api import build_config
    from sim.model import CarePathwaysModel
    from sim.outputs import summarise
    from sim.scenarios import interventions_for

    cfg = build_config(overrides)
    model = CarePathwaysModel(cfg, interventions=interventions_for(cfg))
    model.run()
    h = hashlib.sha256()
    arrays = {f"children.{k}": v for k, v in vars(model.children).items() if isinstance(v, np.ndarray)}
    arrays.update({f"events.{k}": v for k, v in model.events.arrays().items()})
    for name, value in sorted(arrays.items()):
        h.update(name.encode())
        h.update(_by_value(value).tobytes())
    weekly = model.weekly.frame(model.start_date, model.n_weeks)
    h.update(weekly.to_csv().encode())
    h.update(json.dumps(summarise(model), sort_keys=True).encode())
    from sim.api import _release

    _release(model)
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--save", type=Path)
    ap.add_argument("--check", type=Path)
    args = ap.parse_args()
    runs = {**RUNS, **_library_runs()}
    got = {}
    for name, overrides in runs.items():
        got[name] = fingerprint(overrides)
        print(f"{name:45s} {got[name][:16]}", flush=True)
    if args.save:
        args.save.write_text(json.dumps(got, indent=2) + "\n")
    if args.check:
        want = json.loads(args.check.read_text())
        differ = [n for n in want if got.get(n) != want[n]]
        if differ:
            print("DIFFERENT: " + ", ".join(differ))
            sys.exit(1)
        print(f"identical: {len(want)} runs")


if __name__ == "__main__":
    main()

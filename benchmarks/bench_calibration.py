"""Benchmark: the calibration (ABC-SMC over calibration/abc.yaml, the historical run at scale 0.25), timed.

    python benchmarks/bench_calibration.py                    # a fresh calibration; publishes calibration/posterior/
    python benchmarks/bench_calibration.py --resume           # continue the database instead of starting afresh
    python benchmarks/bench_calibration.py --out /tmp/abc --no-publish

The issue asks for a calibration good enough to use in under 30 minutes on this 2-core machine. The run
stops itself within the spec's wall-time budget (``max_walltime_minutes``), keeping the last complete
generation. Records into benchmarks/results/calibration.json: wall time from process start (imports
included), simulations, generations, particles, final epsilon, seconds of wall time per simulation, why it
stopped, cores, and the load average before and after (the machine is shared, so other work slows it).
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from calibration.abc import ABC_YAML, load, run_abc

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(ABC_YAML))
    ap.add_argument("--out", default=str(ROOT / "outputs" / "calibration" / "abc"))
    ap.add_argument("--resume", action="store_true", help="continue the database's last run")
    ap.add_argument("--no-publish", action="store_true", help="do not write calibration/posterior/")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "calibration.json")
    args = ap.parse_args()
    spec = load(args.spec)
    load_before = os.getloadavg()
    s = run_abc(spec, args.out, fresh=not args.resume,
                publish_to=None if args.no_publish else ROOT / "calibration" / "posterior")
    wall = time.perf_counter() - START
    result = {
        "wall_s": round(wall, 1),
        "wall_min": round(wall / 60, 1),
        "target_min": 30,
        "met": wall < 30 * 60,
        "abc_s": s["seconds"],
        "simulations": s["simulations"],
        "s_per_simulation": round(s["seconds"] / max(s["simulations"], 1), 1),
        "generations": s["generations"],
        "particles": s["particles"],
        "effective_sample_size": s["effective_sample_size"],
        "epsilon": round(s["epsilon"], 3),
        "stopped_by": s["stopped_by"],
        "resumed": s["resumed"],
        "parameters": len(spec["parameters"]),
        "targets": len(spec.get("targets") or []),
        "settings": spec["overrides"],
        "budget_min": spec.get("max_walltime_minutes"),
        "cores": os.cpu_count(),
        "sampler_processes": spec.get("cores", 2),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

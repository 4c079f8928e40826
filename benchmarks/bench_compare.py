"""Benchmark: the scenario comparison, serial against parallel on all local cores.

Times ``sim.compare.compare`` over a set of scenarios and seeds with the serial backend and with the
local backend (a pool of worker processes), checks the two give identical tables, and reports the parallel speed-up. With
``--full`` it times the whole library at the given scale and horizon instead (slow at national scale).

    python benchmarks/bench_compare.py [--scale 0.1] [--years 2] [--seeds 4] [--scenarios baseline early_help]
    python benchmarks/bench_compare.py --full --scale 1.0 --years 10 --seeds 20     # the issue's full benchmark
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    from sim.compare import compare, library

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--years", type=float, default=2)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--scenarios", nargs="*", default=["baseline", "early_help", "risk_tolerance_shift"])
    ap.add_argument("--full", action="store_true", help="the whole library, local backend only")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    overrides = [f"population.scale={args.scale}", f"horizon.years={args.years}"]
    scenarios = library() if args.full else args.scenarios
    n_runs = len(scenarios) * args.seeds
    result = {"scale": args.scale, "years": args.years, "seeds": args.seeds, "scenarios": scenarios,
              "runs": n_runs, "cores": os.cpu_count()}
    if not args.full:
        t = time.perf_counter()
        serial = compare(overrides, scenarios, args.seeds, backend="serial", progress=False)
        result["serial_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    local = compare(overrides, scenarios, args.seeds, backend="local", progress=False)
    result["local_s"] = round(time.perf_counter() - t, 1)
    if not args.full:
        result["speed_up"] = round(result["serial_s"] / result["local_s"], 2)
        result["identical"] = bool(serial.equals(local))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

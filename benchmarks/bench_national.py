"""Benchmark: the national baseline (scale 1.0, 10 years of weekly steps).

Reports, in one run:
- the whole run's wall time as a fresh process would see it (start-up and imports included),
  and its peak memory (max RSS of the child process);
- model time: child-weeks simulated per second of ``model.run()``;
- where the weekly step spends its time (per mechanism);
- for scale, idiomatic per-agent Mesa (the Boltzmann wealth model, one Python ``step()`` per agent)
  in agent-steps per second, and the ratio of the two rates.

    python benchmarks/bench_national.py [--years 10] [--scale 1.0] [--seed 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time, collections
t0 = time.perf_counter()
import sim
from sim import build_config
from sim.api import _release
import sim.model as M, sim.agencies as A, sim.courts as C
from sim.outputs import summarise
t_import = time.perf_counter() - t0
spent = collections.Counter()
def timed(owner, name):
    f = getattr(owner, name)
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            spent[name] += time.perf_counter() - t
    setattr(owner, name, wrapper)
if PROFILE:
    for n in ["edge_of_care", "placement_breakdowns", "escalate_crises", "tier4_admissions",
              "allocate_secure_beds", "funding_agreements", "step_down", "returns_home"]:
        timed(A, n)
    timed(C, "review_orders"); timed(M, "weekly_dynamics")
    for n in ["_record", "_arrivals", "_ageing_out"]:
        timed(M.CarePathwaysModel, n)
cfg = build_config([f"population.scale={SCALE}", f"horizon.years={YEARS}", f"seed={SEED}"])
t1 = time.perf_counter()
model = M.CarePathwaysModel(cfg)
t_init = time.perf_counter() - t1
t2 = time.perf_counter()
model.run()
t_run = time.perf_counter() - t2
summary = summarise(model)
child_weeks = summary["population"]["child_weeks"]
print(json.dumps({"import_s": t_import, "init_s": t_init, "run_s": t_run, "child_weeks": child_weeks,
                  "children_simulated": summary["population"]["children_simulated"],
                  "weeks": model.n_weeks, "mechanisms_s": dict(spent)}))
"""


def boltzmann_rate(n_agents: int = 1000, steps: int = 200, python_random: bool = True) -> float:
    """Agent-steps per second of the idiomatic Mesa Boltzmann wealth model (no grid, no collector).

    ``python_random`` picks the partner with the model's Python ``random`` (as Mesa's own example
    does, and the faster of the two); otherwise with its NumPy ``rng`` (a scalar call per agent-step).
    """
    import mesa

    class MoneyAgent(mesa.Agent):
        def __init__(self, model):
            super().__init__(model)
            self.wealth = 1

        def step(self):
            if self.wealth > 0:
                agents = self.model.agent_list
                if python_random:
                    other = self.model.random.choice(agents)
                else:
                    other = agents[self.model.rng.integers(len(agents))]
                other.wealth += 1
                self.wealth -= 1

    class MoneyModel(mesa.Model):
        def __init__(self, n, seed):
            super().__init__(rng=seed)
            for _ in range(n):
                MoneyAgent(self)
            self.agent_list = list(self.agents)

        def step(self):
            self.agents.shuffle_do("step")

    model = MoneyModel(n_agents, 42)
    t = time.perf_counter()
    for _ in range(steps):
        model.step()
    return n_agents * steps / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=float, default=10)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-profile", action="store_true", help="skip the per-mechanism timers")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    code = (f"SCALE={args.scale!r}; YEARS={args.years!r}; SEED={args.seed!r}; PROFILE={not args.no_profile!r}\n"
            + CHILD)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "benchmark run failed")
    peak_mb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024.0
    inner = json.loads(proc.stdout.strip().splitlines()[-1])
    model_rate = inner["child_weeks"] / inner["run_s"]
    mesa_rate = boltzmann_rate(python_random=True)
    mesa_rate_numpy = boltzmann_rate(python_random=False)
    result = {
        "scale": args.scale, "years": args.years, "seed": args.seed,
        "wall_s_including_startup": round(wall, 2),
        "import_s": round(inner["import_s"], 2), "init_s": round(inner["init_s"], 2),
        "run_s": round(inner["run_s"], 2),
        "child_weeks": inner["child_weeks"], "children_simulated": inner["children_simulated"],
        "child_weeks_per_s": round(model_rate),
        "peak_memory_mb": round(peak_mb, 1),
        "mesa_boltzmann_agent_steps_per_s": round(mesa_rate),
        "mesa_boltzmann_numpy_rng_agent_steps_per_s": round(mesa_rate_numpy),
        "ratio_model_to_mesa": round(model_rate / mesa_rate, 2),
        "ms_per_week": round(inner["run_s"] / inner["weeks"] * 1e3, 2),
        "mechanisms_ms_per_week": {k: round(v / inner["weeks"] * 1e3, 2)
                                   for k, v in sorted(inner["mechanisms_s"].items(), key=lambda kv: -kv[1])},
    }
    print(f"National baseline: scale {args.scale}, {args.years:g} years, seed {args.seed}")
    print(f"  wall time, start-up included   {result['wall_s_including_startup']:>10.2f} s "
          f"(imports {result['import_s']} s, set-up {result['init_s']} s, weeks {result['run_s']} s)")
    print(f"  child-weeks simulated          {result['child_weeks']:>12,}")
    print(f"  model rate                     {model_rate / 1e6:>10.2f} M child-weeks/s")
    print(f"  peak memory                    {peak_mb:>10.0f} MB")
    print(f"  per-agent Mesa (Boltzmann)     {mesa_rate / 1e6:>10.2f} M agent-steps/s "
          f"({mesa_rate_numpy / 1e6:.2f} M with NumPy rng draws)")
    print(f"  ratio                          {result['ratio_model_to_mesa']:>10.2f}x")
    if result["mechanisms_ms_per_week"]:
        print(f"  time per week {result['ms_per_week']} ms, by mechanism (ms/week):")
        for k, v in result["mechanisms_ms_per_week"].items():
            print(f"    {k:<24} {v:>7.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

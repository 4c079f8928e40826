"""Shared fixtures for the care-pathways test suite.

Runs are small (a twentieth or a tenth of England, one or two years) and are shared through
session-scoped fixtures, so the whole suite stays within a few minutes on two cores.  Under
pytest-xdist each worker builds the session fixtures it needs once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sim import build_config, run  # noqa: E402
from sim.children import NEVER  # noqa: E402

WEEKS_PER_YEAR = 52
AGE_18_WEEKS = 18 * WEEKS_PER_YEAR

# The small run most tests share: a twentieth of England for one year.
BASELINE = ["seed=1", "population.scale=0.05", "horizon.years=1"]
# The run stepped by hand: a tenth of England for two years (so it crosses a new year).
STEPPED = ["seed=3", "population.scale=0.1", "horizon.years=2"]
OUTPUT_FILES = ("summary.json", "weekly.parquet", "children.parquet", "transitions.parquet")


def quick(overrides, **kwargs):
    """Build a config from overrides and run it without writing files (unless asked)."""
    kwargs.setdefault("write", False)
    return run(build_config(list(overrides)), **kwargs)


def cli(args, cwd=REPO, timeout=300):
    """Run ``python -m sim`` in a subprocess, as a user would."""
    env = dict(os.environ)
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


# ----------------------------------------------------------------------------- shared runs
@pytest.fixture(scope="session")
def baseline(tmp_path_factory):
    """The shared small run, written to disk through the Python API."""
    out = tmp_path_factory.mktemp("baseline")
    return quick(BASELINE, output_dir=out, write=True)


@pytest.fixture(scope="session")
def baseline_again(tmp_path_factory):
    """The same configuration and seed run a second time, in the same process."""
    out = tmp_path_factory.mktemp("baseline_again")
    return quick(BASELINE, output_dir=out, write=True)


@pytest.fixture(scope="session")
def other_seed(tmp_path_factory):
    out = tmp_path_factory.mktemp("other_seed")
    return quick(["seed=2"] + BASELINE[1:], output_dir=out, write=True)


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory):
    """The shared configuration run through the command line, in its own process."""
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    proc = cli(BASELINE + [f"hydra.run.dir={run_dir}"])
    return proc, run_dir


# ----------------------------------------------------------------------------- stepping a model
@dataclass
class SteppedRun:
    """What was observed while stepping a model one week at a time."""

    model: object
    weeks: list = field(default_factory=list)          # one dict per week (see step_and_record)
    over_capacity: list = field(default_factory=list)  # (week label, over_capacity array) incl. start
    due_age_18: list = field(default_factory=list)     # (week, child, basis) with an order on turning 18
    age_violations: list = field(default_factory=list)
    transitions: object = None
    children_table: object = None


def step_and_record(overrides) -> SteppedRun:
    """Step a model week by week, recording the counts and invariants the tests check."""
    from sim.model import CarePathwaysModel
    from sim.outputs import children_frame

    m = CarePathwaysModel(build_config(list(overrides)))
    ch = m.children
    rec = SteppedRun(m)
    rec.over_capacity.append(("start", m.capacity.over_capacity().copy()))

    def counts():
        present = int(m.present.sum())
        in_care = int((m.present & (ch.legal != 0)).sum())
        return present, in_care

    while m.week < m.n_weeks:
        w = m.week
        present0, care0 = counts()
        was_present = m.present.copy()
        # Children with an order who will turn 18 this week (arrivals never carry an order).
        present_ids = np.flatnonzero(m.present)
        turning = present_ids[(w - ch.birth_week[present_ids] >= AGE_18_WEEKS) & (ch.basis[present_ids] != 0)]
        rec.due_age_18.extend((w, int(c), int(ch.basis[c])) for c in turning)
        m.step()
        present1, care1 = counts()
        tally = {k: int(round(v)) for k, v in m.tally.values.items()}
        row = m.weekly.data[w]
        col = m.weekly.col
        rec.weeks.append({
            "week": w, "present_before": present0, "present_after": present1,
            "in_care_before": care0, "in_care_after": care1, "tally": tally,
            "weekly_present": float(row[col["children_present"]]) * m.scale,
            "weekly_in_care": float(row[col["children_in_care"]]) * m.scale,
            "census": m.census(),
            # Arrivals who were already looked after (children in care turning 10: arrival kind 2).
            "ageing_in_arrivals": int((m.present & ~was_present & (ch.arrival_kind == 2)).sum()),
            "cache_present_ok": bool(np.array_equal(np.sort(m.present_children()), np.flatnonzero(m.present)))
            if hasattr(m, "present_children") else True,
            "cache_in_care_ok": bool(np.array_equal(np.sort(m.in_care_children()),
                                                    np.flatnonzero(m.present & (ch.legal != 0))))
            if hasattr(m, "in_care_children") else True,
            "cache_edge_ok": bool(np.array_equal(m.edge_of_care_children(),
                                                 np.flatnonzero(m.present & (ch.legal == 0))))
            if hasattr(m, "edge_of_care_children") else True,
            # Every request is a looked-after child's (agencies._requests), kept in its own list.
            "cache_requests_ok": bool(np.array_equal(m.requesting_children(),
                                                     np.flatnonzero(m.present & (ch.legal != 0) & (ch.pending_type >= 0))))
            if hasattr(m, "requesting_children") else True,
            "cache_tier4_ok": bool(np.array_equal(
                m.tier4_referred_children(),
                np.flatnonzero(m.present & (ch.legal != 0) & (ch.tier4_referral_week != NEVER))))
            if hasattr(m, "tier4_referred_children") else True,
        })
        rec.over_capacity.append((w, m.capacity.over_capacity().copy()))
        # Ages after the week's step, at the week just simulated.
        ids = np.flatnonzero(m.present)
        old = ids[w - ch.birth_week[ids] >= AGE_18_WEEKS]
        arrived = np.flatnonzero(ch.status != 0)
        adult_with_basis = arrived[(w - ch.birth_week[arrived] >= AGE_18_WEEKS) & (ch.basis[arrived] != 0)]
        if len(old) or len(adult_with_basis):
            rec.age_violations.append({"week": w, "present_aged_18_plus": old[:10].tolist(),
                                       "aged_18_plus_with_basis": adult_with_basis[:10].tolist()})
    m.finish()
    rec.transitions = m.events.frame(m.geo.la_names, m.agency_names, m.start_date)
    rec.children_table = children_frame(m.children, m.geo.la_names)
    return rec


@pytest.fixture(scope="session")
def stepped():
    """STEPPED, advanced one week at a time with checks between weeks."""
    return step_and_record(STEPPED)

"""Reproducibility: the same configuration and seed give identical outputs (in one process, across
processes, through the API or the CLI); another seed gives different ones.  And the common random
numbers that make paired comparisons precise."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import OUTPUT_FILES
from sim.randomness import Streams

FRAMES = ("weekly", "children", "transitions")


# ============================================================================ 7. determinism
def test_same_seed_gives_identical_summary_and_frames(baseline, baseline_again):
    """Two runs of one configuration and seed agree exactly: summary and all three tables."""
    assert baseline.summary == baseline_again.summary
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(baseline, name), getattr(baseline_again, name), check_exact=True)


def test_same_seed_gives_byte_identical_files(baseline, baseline_again):
    """The written files (all four) are byte for byte the same."""
    for name in OUTPUT_FILES:
        a = baseline.files[name.split(".")[0]].read_bytes()
        b = baseline_again.files[name.split(".")[0]].read_bytes()
        assert a == b, f"{name} differs between two runs with the same seed"


def test_cli_run_reproduces_the_api_run_byte_for_byte(baseline, cli_run):
    """A run from the command line (another process, another hash seed) writes the same bytes as the
    same configuration run through the Python API."""
    proc, run_dir = cli_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in OUTPUT_FILES:
        assert (run_dir / name).read_bytes() == baseline.files[name.split(".")[0]].read_bytes(), name


def test_stepping_by_hand_matches_run(stepped):
    """Stepping a model week by week (and looking at it between weeks) gives the same weekly table as
    ``run`` does for the same configuration: observing does not perturb, and ``run`` adds nothing."""
    from conftest import STEPPED, quick

    res = quick(STEPPED)
    m = stepped.model
    by_hand = m.weekly.frame(m.start_date, m.n_weeks)
    pd.testing.assert_frame_equal(by_hand, res.weekly, check_exact=True)
    pd.testing.assert_frame_equal(stepped.children_table, res.children, check_exact=True)


def test_written_files_hold_what_the_run_returned(baseline):
    """summary.json and the Parquet files read back equal to the returned objects."""
    assert json.loads(baseline.files["summary"].read_text()) == baseline.summary
    for name in FRAMES:
        back, mem = pd.read_parquet(baseline.files[name]), getattr(baseline, name).copy()
        for col in mem.columns:  # Parquet may store dates at another resolution: compare the instants
            if pd.api.types.is_datetime64_any_dtype(mem[col]):
                mem[col], back[col] = mem[col].astype("datetime64[ns]"), back[col].astype("datetime64[ns]")
        pd.testing.assert_frame_equal(back, mem, check_exact=True, check_categorical=False)


def test_different_seed_gives_different_outputs(baseline, other_seed):
    """Another seed changes the summary, every table and every file."""
    assert baseline.summary["restriction"] != other_seed.summary["restriction"]
    assert baseline.summary["cost"]["total_gbp"] != other_seed.summary["cost"]["total_gbp"]
    for name in FRAMES:
        a, b = getattr(baseline, name), getattr(other_seed, name)
        assert not (a.shape == b.shape and a.equals(b)), f"{name} is the same under another seed"
    for name in OUTPUT_FILES:
        key = name.split(".")[0]
        assert baseline.files[key].read_bytes() != other_seed.files[key].read_bytes(), name


# ============================================================================ 13. common random numbers
@pytest.fixture
def streams():
    return Streams(seed=11, n_weeks=104)


def test_draw_for_a_child_does_not_depend_on_who_else_is_drawn(streams):
    """A child's draw at a decision in a week is the same whether drawn alone, with others, in another
    order, or as part of a subset."""
    ids = np.arange(500)
    full = streams.uniform("breakdown", 7, ids)
    rng = np.random.default_rng(0)
    subset = np.sort(rng.choice(ids, 60, replace=False))
    np.testing.assert_array_equal(streams.uniform("breakdown", 7, subset), full[subset])
    perm = rng.permutation(ids)
    np.testing.assert_array_equal(streams.uniform("breakdown", 7, perm), full[perm])
    for child in (0, 137, 499):
        np.testing.assert_array_equal(streams.uniform("breakdown", 7, np.array([child])), full[[child]])
    # Ids far beyond the run's population are keyed the same way.
    big = np.array([3, 10_000_000, 7])
    np.testing.assert_array_equal(streams.uniform("breakdown", 7, big)[[0, 2]], full[[3, 7]])


def test_draws_do_not_depend_on_call_order_or_other_decisions():
    """Drawing other decisions first (or in another order) leaves a decision's draws unchanged."""
    ids = np.arange(200)
    a = Streams(5, 52)
    first = a.uniform("edge_entry", 3, ids)
    b = Streams(5, 52)
    for name in ("breakdown", "pathway", "court:dol", "return_home"):
        for week in (0, 3, 51):
            b.uniform(name, week, ids[::-1])
    b.uniform("edge_entry", 4, ids)
    np.testing.assert_array_equal(b.uniform("edge_entry", 3, ids), first)
    np.testing.assert_array_equal(a.uniform("edge_entry", 3, ids), first)  # repeatable on the same object


def test_different_decision_week_or_seed_gives_different_draws():
    """Each (seed, decision, week) is its own stream: draws for the same children differ."""
    ids = np.arange(1000)
    s = Streams(5, 52)
    base = s.uniform("breakdown", 3, ids)
    others = {
        "decision": s.uniform("pathway", 3, ids),
        "week": s.uniform("breakdown", 4, ids),
        "seed": Streams(6, 52).uniform("breakdown", 3, ids),
    }
    for what, draws in others.items():
        assert (draws != base).mean() > 0.999, what
        assert abs(np.corrcoef(base, draws)[0, 1]) < 0.1, what
    # Different children get different draws within one stream.
    assert len(np.unique(base)) == len(base)


def test_draws_are_uniform_on_the_unit_interval():
    """Draws lie in [0, 1) with the mean and variance of a uniform distribution."""
    u = Streams(2, 10).uniform("x", 1, np.arange(200_000))
    assert u.min() >= 0.0 and u.max() < 1.0
    assert u.mean() == pytest.approx(0.5, abs=0.005)
    assert u.var() == pytest.approx(1 / 12, abs=0.002)
    hist, _ = np.histogram(u, bins=10, range=(0, 1))
    assert hist.min() > 0.97 * len(u) / 10 and hist.max() < 1.03 * len(u) / 10


def test_paired_draws_are_also_keyed_per_child():
    """``uniform2`` (two draws from one hash) is keyed per child in the same way."""
    s = Streams(9, 52)
    ids = np.arange(300)
    hi, lo = s.uniform2("distress_and_harm", 5, ids)
    sub = ids[::7]
    hi2, lo2 = s.uniform2("distress_and_harm", 5, sub[::-1])
    np.testing.assert_array_equal(hi2[::-1], hi[sub])
    np.testing.assert_array_equal(lo2[::-1], lo[sub])
    assert abs(np.corrcoef(hi, lo)[0, 1]) < 0.15

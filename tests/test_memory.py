"""Runs do not accumulate: Mesa 3.3 keeps every model in a class-level registry of agent ids
(``mesa.Agent._ids``); ``run`` must let finished models go, so sweeps of many runs do not leak."""

from __future__ import annotations

import gc
import weakref

import mesa

from sim import build_config, run

TINY = ["population.scale=0.02", "horizon.years=0.1"]


def _registry_size():
    ids = getattr(mesa.Agent, "_ids", None)
    return None if ids is None else len(ids)


def test_runs_do_not_grow_mesa_agent_registry():
    """After five runs the registry of agent-id counters is no bigger than before."""
    gc.collect()
    before = _registry_size()
    for seed in range(1, 6):
        run(build_config(TINY + [f"seed={seed}"]), write=False)
    gc.collect()
    after = _registry_size()
    if before is not None:  # newer Mesa versions have no such registry; then there is nothing to leak
        assert after <= before, f"mesa.Agent._ids grew from {before} to {after} entries over 5 runs"


def test_finished_models_are_garbage_collected():
    """A model kept on the results is freed once the results are dropped: nothing else holds it."""
    refs = []
    for seed in (1, 2):
        res = run(build_config(TINY + [f"seed={seed}"]), write=False, keep_model=True)
        assert res.model is not None and res.model.week == res.model.n_weeks
        refs.append(weakref.ref(res.model))
        del res
    gc.collect()
    alive = [r for r in refs if r() is not None]
    assert not alive, f"{len(alive)} of {len(refs)} finished models are still referenced"

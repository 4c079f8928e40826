"""Common random numbers: every draw is keyed by (seed, decision point, week, child id).

Two runs with the same seed give a child the same draw at the same decision in the same week,
whatever else happened: a scenario changes results only where its mechanism acts, which is what
makes paired scenario comparisons precise (Starsim's common-random-numbers idea).

A draw is a counter-based hash (SplitMix64's finaliser) of the child id and a 64-bit key for the
(decision point, week).  Keys come from NumPy's ``SeedSequence`` spawned from the run's seed, so
nothing here depends on the order in which decisions are taken or on global state.
"""

from __future__ import annotations

import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_TO_UNIT = 2.0 ** -53


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser (in place on a fresh uint64 array): a bijective, well-mixed hash."""
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


class Streams:
    """Random streams for one run, one per named decision point."""

    def __init__(self, seed: int, n_weeks: int, first_week: int = 0):
        self.seed = int(seed)
        self.first_week = int(first_week)  # negative during a burn-in
        self.n_weeks = int(n_weeks) - self.first_week
        self._keys: dict[str, np.ndarray] = {}

    def _week_keys(self, decision: str) -> np.ndarray:
        keys = self._keys.get(decision)
        if keys is None:
            # A decision's name (not its position in a list) picks its stream, so adding a new
            # decision point never shifts the draws of existing ones.
            tag = zlib.crc32(decision.encode())
            seq = np.random.SeedSequence(self.seed, spawn_key=(tag,))
            keys = seq.generate_state(self.n_weeks + 1, np.uint64)
            self._keys[decision] = keys
        return keys

    def uniform(self, decision: str, week: int, children: np.ndarray) -> np.ndarray:
        """One U[0, 1) draw per child for this decision point and week."""
        key = self._week_keys(decision)[min(int(week) - self.first_week, self.n_weeks)]
        x = np.asarray(children, dtype=np.uint64) * _GOLDEN
        x += key
        return (_mix(x) >> np.uint64(11)) * _TO_UNIT

    def uniform2(self, decision: str, week: int, children: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two independent U[0, 1) draws per child from one hash (its high and low 32 bits)."""
        key = self._week_keys(decision)[min(int(week) - self.first_week, self.n_weeks)]
        x = np.asarray(children, dtype=np.uint64) * _GOLDEN
        x += key
        x = _mix(x)
        hi = (x >> np.uint64(32)).astype(np.float64) * 2.0 ** -32
        lo = (x & np.uint64(0xFFFFFFFF)).astype(np.float64) * 2.0 ** -32
        return hi, lo

    def generator(self, decision: str) -> np.random.Generator:
        """A NumPy Generator for one-off set-up draws (synthesis) that do not depend on the scenario."""
        tag = zlib.crc32(decision.encode())
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=(tag,))))

"""Common random numbers: every draw is keyed by (seed, decision point, week, child id).

Two runs with the same seed give a child the same draw at the same decision in the same week,
whatever else happened: a scenario changes results only where its mechanism acts, which is what
makes paired scenario comparisons precise (Starsim's common-random-numbers idea).

A draw is a counter-based hash (SplitMix64's finaliser) of the child id and a 64-bit key for the
(decision point, week).  Keys come from NumPy's ``SeedSequence`` spawned from the run's seed, so
nothing here depends on the order in which decisions are taken or on global state.

The hash is one compiled loop (numba, ``cache=True`` as in ``sim.placements``): a draw is called dozens
of times a week, several times on 50,000-110,000 children, and the same formula as whole-array NumPy
operations took about eight passes over uint64 arrays (and some 30 microseconds of fixed cost for a
handful of children).  The values are the same bit for bit: wrapping uint64 arithmetic, and conversions
to float64 that are exact (53 or 32 bits, scaled by a power of two).  ``hash_child`` is the same hash
for one child, for compiled loops that draw as they go (``distress_and_harm``).
"""

from __future__ import annotations

import zlib

import numba
import numpy as np
from llvmlite import ir
from numba.extending import intrinsic

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_S11, _S32, _LOW32 = np.uint64(11), np.uint64(32), np.uint64(0xFFFFFFFF)
_TO_UNIT = 2.0 ** -53  # a 53-bit integer to [0, 1)
_TO_UNIT32 = 2.0 ** -32  # a 32-bit integer to [0, 1)
_INT64 = np.dtype(np.int64)


@intrinsic
def _scalar(typingctx, x):
    """``x`` unchanged, through an empty inline-assembly block the optimiser cannot see into (no
    instruction is emitted), so a loop hashing children stays scalar.  LLVM otherwise vectorises it,
    and on CPUs without AVX-512 (the 2-core benchmark machine) the 64-bit vector multiplies and
    conversions are emulated: 1.7-1.9 times slower for 100,000 children."""
    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [ir.IntType(64)])
        return builder.asm(fnty, "", "=r,0", args, side_effect=False)
    return x(x), codegen


@numba.njit(cache=True)
def hash_child(key, child):
    """SplitMix64's finaliser of ``child * golden + key``: a bijective, well-mixed 64-bit hash.

    ``key`` is a uint64 and ``child`` an int64 (taken as uint64 bit for bit, as NumPy's conversion
    does); every product and sum wraps modulo 2**64."""
    x = _scalar(np.uint64(child) * _GOLDEN + key)
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


@numba.njit(cache=True)
def halves(x):
    """Two U[0, 1) draws from one hash: its high and its low 32 bits."""
    return np.float64(x >> _S32) * _TO_UNIT32, np.float64(x & _LOW32) * _TO_UNIT32


@numba.njit(cache=True)
def _uniform(key, children):
    out = np.empty(len(children), np.float64)
    for i in range(len(children)):
        out[i] = np.float64(hash_child(key, children[i]) >> _S11) * _TO_UNIT
    return out


@numba.njit(cache=True)
def _uniform2(key, children):
    hi = np.empty(len(children), np.float64)
    lo = np.empty(len(children), np.float64)
    for i in range(len(children)):
        hi[i], lo[i] = halves(hash_child(key, children[i]))
    return hi, lo


def _ids(children) -> np.ndarray:
    """Child ids as a contiguous 1-D int64 array: the ids' bits after NumPy's conversion to uint64.

    Child ids (``intp``) pass through without a copy; anything else is converted to uint64 as
    ``np.asarray(children, dtype=np.uint64)`` does and reinterpreted (so the hash sees the same bits)."""
    a = np.asarray(children)
    if a.dtype is not _INT64:
        a = np.asarray(a, dtype=np.uint64).view(np.int64)
    return a if a.ndim == 1 and a.flags.c_contiguous else a.ravel()


def _shaped(draws: np.ndarray, children):
    """Draws in the shape of ``children`` (a scalar for a scalar), as whole-array arithmetic gives."""
    shape = np.shape(children)
    return draws if len(shape) == 1 else draws.reshape(shape)[()]


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

    def key(self, decision: str, week: int) -> np.uint64:
        """The 64-bit key of a decision point in a week (weeks past the run share the last key)."""
        return self._week_keys(decision)[min(int(week) - self.first_week, self.n_weeks)]

    def uniform(self, decision: str, week: int, children: np.ndarray) -> np.ndarray:
        """One U[0, 1) draw per child for this decision point and week: the top 53 bits of the hash."""
        ids = _ids(children)
        draws = _uniform(self.key(decision, week), ids)
        return draws if ids is children else _shaped(draws, children)

    def uniform2(self, decision: str, week: int, children: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two independent U[0, 1) draws per child from one hash (its high and low 32 bits)."""
        ids = _ids(children)
        hi, lo = _uniform2(self.key(decision, week), ids)
        return (hi, lo) if ids is children else (_shaped(hi, children), _shaped(lo, children))

    def generator(self, decision: str) -> np.random.Generator:
        """A NumPy Generator for one-off set-up draws (synthesis) that do not depend on the scenario."""
        tag = zlib.crc32(decision.encode())
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=(tag,))))

"""Fast parallel standard-normal sampler for large noise tensors (CPU, numba).

Each row r of the output is filled from its own 64-bit seed s_r, so rows are independent
streams: drawing rows 0..P-1 at once gives the same numbers as P one-row draws with the same
seeds, whatever the thread schedule. Per row:

* bits: xoshiro256+ (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
  ACM TOMS 47(4) 2021, arXiv:1805.01407), state initialised by splitmix64 from s_r;
* normals: the ziggurat method with 128 layers (Marsaglia & Tsang, J. Stat. Softw. 5(8) 2000,
  doi:10.18637/jss.v005.i08), which needs no transcendental function for ≈ 99 % of samples.
  Following Doornik (2005, "An improved ziggurat method to generate normal random samples")
  the layer index and the sample magnitude come from independent bits of one 64-bit word.

This is 3–5× faster than ``torch.randn`` (single-threaded Mersenne Twister + Box–Muller) and
matters on the hot path of noisy queries with P × B × outputs samples per call.
"""
from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["fill_normal", "fill_normal_from", "fill_truncated_from", "sample", "seed_state", "seed_states", "TABLES"]

_R = 3.442619855899          # start of the right tail (128 layers), Marsaglia & Tsang 2000
_V = 9.91256303526217e-3     # area of each layer


def _tables() -> tuple[np.ndarray, np.ndarray]:
    """x[0..128]: layer edges (x[0] = V/f(R) virtual base, x[1] = R, x[128] = 0); f(x) = e^{-x²/2}."""
    x = np.zeros(129)
    x[0] = _V / math.exp(-0.5 * _R * _R)
    x[1] = _R
    for i in range(2, 128):
        x[i] = math.sqrt(-2.0 * math.log(_V / x[i - 1] + math.exp(-0.5 * x[i - 1] ** 2)))
    x[128] = 0.0
    return x, np.exp(-0.5 * x * x)


TABLES = _tables()


_M53 = 1.0 / 9007199254740992.0


@numba.njit(inline="always")
def _splitmix(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@numba.njit(inline="always")
def seed_state(seed):
    """xoshiro256+ state (four uint64) for one stream, initialised by splitmix64."""
    golden = np.uint64(0x9E3779B97F4A7C15)
    return (_splitmix(seed + golden), _splitmix(seed + golden * np.uint64(2)),
            _splitmix(seed + golden * np.uint64(3)), _splitmix(seed + golden * np.uint64(4)))


@numba.njit(inline="always")
def _step(s0, s1, s2, s3):
    bits = s0 + s3                                             # xoshiro256+ output
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << np.uint64(45)) | (s3 >> np.uint64(19))
    return bits, s0, s1, s2, s3


@numba.njit(inline="always")
def sample(s0, s1, s2, s3, x, f):
    """One N(0, 1) draw; returns (value, new state). The state lives in registers."""
    golden = np.uint64(0x9E3779B97F4A7C15)
    while True:
        bits, s0, s1, s2, s3 = _step(s0, s1, s2, s3)
        i = np.int64(bits & np.uint64(127))                    # layer from the low 7 bits
        sign = 1.0 if (bits >> np.uint64(7)) & np.uint64(1) else -1.0
        v = ((bits >> np.uint64(11)) + 0.5) * _M53 * x[i]       # magnitude from the top 53 bits
        if v < x[i + 1]:                                       # inside the rectangle: ~99 %
            return sign * v, s0, s1, s2, s3
        bits2, s0, s1, s2, s3 = _step(s0, s1, s2, s3)
        u1 = ((bits2 >> np.uint64(11)) + 0.5) * _M53
        if i == 0:                      # tail beyond R (Marsaglia 1964): repeat until accepted
            a = -math.log(u1) / _R
            c = bits2
            while True:
                c = _splitmix(c + golden)
                u2 = ((c >> np.uint64(11)) + 0.5) * _M53
                if -2.0 * math.log(u2) > a * a:
                    break
                c = _splitmix(c + golden)
                a = -math.log(((c >> np.uint64(11)) + 0.5) * _M53) / _R
            return sign * (_R + a), s0, s1, s2, s3
        if f[i + 1] + u1 * (f[i] - f[i + 1]) < math.exp(-0.5 * v * v):   # wedge
            return sign * v, s0, s1, s2, s3
        # rejected in the wedge: start over with a new layer


# Serial (``parallel=False``): the fills compile ~2.7× faster than as parallel kernels and run
# as fast at the one thread a run uses (fill_normal, 65 × 100 000 normals: 38.9 ms serial vs
# 40.4 ms parallel; compile 1.0 s vs 2.7 s) — parallelism comes from sweep workers.
@numba.njit(cache=True)
def fill_normal(out, seeds, x, f):
    """Fill out (rows, n) float32 with N(0, 1); row r from seeds[r] (uint64)."""
    rows, n = out.shape
    for r in numba.prange(rows):
        s0, s1, s2, s3 = seed_state(seeds[r])
        for j in range(n):
            z, s0, s1, s2, s3 = sample(s0, s1, s2, s3, x, f)
            out[r, j] = z


@numba.njit(cache=True)
def seed_states(seeds):
    """(rows, 4) uint64 xoshiro256+ states of the streams ``seeds`` (rows,) — the state
    :func:`fill_normal` starts each row from."""
    out = np.empty((seeds.shape[0], 4), np.uint64)
    for r in range(seeds.shape[0]):
        s0, s1, s2, s3 = seed_state(seeds[r])
        out[r, 0] = s0
        out[r, 1] = s1
        out[r, 2] = s2
        out[r, 3] = s3
    return out


@numba.njit(cache=True)
def fill_normal_from(out, states, x, f):
    """Fill out (rows, n) float32 with N(0, 1), row r continuing stream ``states[r]`` (rows, 4)
    uint64, which is advanced in place: consecutive calls continue the same streams, so
    filling n₁ then n₂ values equals one :func:`fill_normal` of n₁ + n₂."""
    rows, n = out.shape
    for r in numba.prange(rows):
        s0, s1, s2, s3 = states[r, 0], states[r, 1], states[r, 2], states[r, 3]
        for j in range(n):
            z, s0, s1, s2, s3 = sample(s0, s1, s2, s3, x, f)
            out[r, j] = z
        states[r, 0] = s0
        states[r, 1] = s1
        states[r, 2] = s2
        states[r, 3] = s3


@numba.njit(cache=True)
def fill_truncated_from(out, states, bound, x, f):
    """Like :func:`fill_normal_from`, for N(0, 1) truncated to [−bound, bound]: each value is
    redrawn from the same stream until it lies inside (rejection; exact, and cheap for the
    bounds used here: at 2σ 4.6 % of draws are rejected)."""
    rows, n = out.shape
    for r in numba.prange(rows):
        s0, s1, s2, s3 = states[r, 0], states[r, 1], states[r, 2], states[r, 3]
        for j in range(n):
            while True:
                z, s0, s1, s2, s3 = sample(s0, s1, s2, s3, x, f)
                if abs(z) <= bound:
                    break
            out[r, j] = z
        states[r, 0] = s0
        states[r, 1] = s1
        states[r, 2] = s2
        states[r, 3] = s3

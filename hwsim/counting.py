"""Counting kernels for the trace's write statistics (CPU, numba): one pass over the (P, K)
knob settings of a ``program`` call instead of several tensor passes and temporaries.

* :func:`count_changes` — per knob, how many of settings 1..P−1 differ from the one before
  (settings are written one after another);
* :func:`wrapped_sum` — Σ of float32 phases wrapped to [0, span) (heater power ∝ φ mod 2π),
  wrapped exactly as ``torch.remainder`` does (exact fmod, then + span for a negative remainder,
  rounded to float32) and summed in float64 (``tensor.sum(dtype=float64)`` up to the summation
  order: equal within float64 rounding).
"""
from __future__ import annotations


import numba
import numpy as np

__all__ = ["count_changes", "wrapped_sum"]


@numba.njit(cache=True)
def count_changes(g, out):  # pragma: no cover - jitted
    """out (K,) += number of p in 1..P−1 with g[p] ≠ g[p − 1], g (P, K)."""
    P, n = g.shape
    for p in range(1, P):
        for c in range(n):
            if g[p, c] != g[p - 1, c]:
                out[c] += 1


@numba.njit(cache=True)
def wrapped_sum(t, span):  # pragma: no cover - jitted
    """Σ_ij remainder(t_ij, span) of a float32 array t (P, K), span > 0, in float64.

    Per element the exact remainder r = x − ⌊x/s⌋·s is formed in float64 (exact for |x| < 2²⁰·s:
    k·s and x − k·s need fewer than 53 bits; ⌊x/s⌋ off by one is corrected) and rounded once to
    float32 — what torch's exact fmod followed by a float32 ``+ s`` for a negative fmod gives."""
    s32 = np.float32(span)
    s = np.float64(s32)
    big = s * 1048576.0
    acc = 0.0
    P, n = t.shape
    for p in range(P):
        for c in range(n):
            x = np.float64(t[p, c])
            if abs(x) < big:
                r = x - np.floor(x / s) * s
                if r < 0.0:
                    r += s
                elif r >= s:
                    r -= s
                acc += np.float64(np.float32(r))
            else:                                   # huge phases: the fmod route
                q = np.float32(np.fmod(x, s))
                if q < 0:
                    q = np.float32(q + s32)
                acc += np.float64(q)
    return acc

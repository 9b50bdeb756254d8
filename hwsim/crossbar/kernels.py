"""Fused CPU kernel for the crossbar readout hot path (numba).

After the analog partial sums of every input tile are computed (one batched matmul per tile),
this kernel does, in ONE pass over the (tiles, P, B, n_out) partial sums and in parallel over
the P settings: the additive Gaussian noise of the query stage (read noise and output noise,
summed into one std per output, ξ from each setting's own ziggurat stream, in the same order as
``rng.normal((P, T, B, n_out))``), ADC quantisation with clipping, the digital scale of every
output, the per-tile input scale α, and the digital sum over tiles. It equals the plain torch
path of ``CrossbarLayer`` given the same streams (tests/hwsim/test_crossbar.py).
"""
from __future__ import annotations

import numba
import numpy as np

from ..effects.ziggurat import sample, seed_state

__all__ = ["readout", "program_weights", "count_changes"]


@numba.njit(parallel=True, cache=True)
def readout(y, std, seeds, noisy, delta, n_codes, factor, alpha, x_tab, f_tab, out):
    """y (T, P, B, n) partial sums; std (T, Ps, B, ns) noise std with Ps ∈ {1, P}, ns ∈ {1, n};
    seeds (P,) uint64; noisy: draw noise; delta: ADC step (0 = no ADC); n_codes: largest ADC
    code; factor (T, P, n) digital scales; alpha (T, Pa, B) input scales with Pa ∈ {1, P};
    writes out (P, B, n) = Σ_t α · scale · ADC(y + std·ξ)."""
    T, P, B, n = y.shape
    s_shared, s_flat = std.shape[1] == 1, std.shape[3] == 1
    a_shared = alpha.shape[1] == 1
    for p in numba.prange(P):
        s0, s1, s2, s3 = seed_state(seeds[p])
        qs = np.int64(0) if s_shared else np.int64(p)
        qa = np.int64(0) if a_shared else np.int64(p)
        z = np.zeros(n)
        for t in range(T):
            for b in range(B):
                if noisy:                                        # tight sampling loop first,
                    for o in range(n):                           # then a branch-free pass
                        z[o], s0, s1, s2, s3 = sample(s0, s1, s2, s3, x_tab, f_tab)
                a = alpha[t, qa, b]
                for o in range(n):
                    sd = std[t, qs, b, 0] if s_flat else std[t, qs, b, o]
                    v = y[t, p, b, o] + sd * z[o]
                    if delta > 0.0:
                        v = delta * min(max(np.rint(v / delta), -n_codes), n_codes)
                    v *= factor[t, p, o] * a
                    if t == 0:
                        out[p, b, o] = v
                    else:
                        out[p, b, o] += v


@numba.njit(parallel=True, cache=True)
def program_weights(g, levels, g_min, g_max, noisy, c2, c1, c0, seeds, x_tab, f_tab,
                    w_t):  # pragma: no cover - jitted
    """Program P settings in one pass: conductance levels, programming noise, differential pair
    and layout. g (Pg, 2, n_out, n_in) float32 target conductances (µS), Pg ∈ {1, P};
    levels: L = 2^bits levels in [g_min, g_max] (0: none); noisy: add σ(g)·ξ with
    σ = max(((c2·g + c1)·g + c0), 0) µS (the Horner coefficients of ProgrammingNoise.sigma_us
    in µS units of g) and clamp at 0, ξ from each setting's stream seeds[p] in the order of
    ``rng.normal((P, 2, n_out, n_in))`` (all G⁺ cells, then all G⁻ cells);
    writes w_t (P, n_in, n_out) = (G⁺ − G⁻)/(g_max − g_min), the layout the query multiplies with."""
    P, n_in, n_out = w_t.shape
    shared = g.shape[0] == 1
    span = g_max - g_min
    dg = span / (levels - 1) if levels > 1 else 1.0
    for p in numba.prange(P):
        s0, s1, s2, s3 = seed_state(seeds[p])
        q = np.int64(0) if shared else np.int64(p)
        z = np.zeros(n_in, np.float32)
        for side in range(2):
            for o in range(n_out):
                if noisy:                                # tight sampling loop, then the row
                    for i in range(n_in):
                        z[i], s0, s1, s2, s3 = sample(s0, s1, s2, s3, x_tab, f_tab)
                for i in range(n_in):
                    v = g[q, side, o, i]
                    if levels > 1:
                        v = np.float32(min(max(np.rint((v - g_min) / dg), 0.0), levels - 1) * dg + g_min)
                    if noisy:
                        sd = max((np.float32(c2) * v + np.float32(c1)) * v + np.float32(c0), np.float32(0.0))
                        v = max(v + z[i] * sd, np.float32(0.0))
                    if side == 0:
                        w_t[p, i, o] = v
                    else:
                        w_t[p, i, o] = (w_t[p, i, o] - v) / span


@numba.njit(cache=True)
def count_changes(g, out):  # pragma: no cover - jitted
    """out (cells,) int64 += number of p in 1..P−1 with g[p] ≠ g[p − 1], g (P, cells)."""
    P, n = g.shape
    for p in range(1, P):
        for c in range(n):
            if g[p, c] != g[p - 1, c]:
                out[c] += 1

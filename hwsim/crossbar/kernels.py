"""Fused CPU kernels for the crossbar hot paths (numba).

After the analog partial sums of every input tile are computed (one batched matmul per tile),
this kernel does, in ONE pass over the (tiles, P, B, n_out) partial sums and in parallel over
the P settings: the additive Gaussian noise of the query stage (read noise and output noise,
summed into one std per output, ξ from each setting's own ziggurat stream, in the same order as
``rng.normal((P, T, B, n_out))``), ADC quantisation with clipping, the digital scale of every
output, the per-tile input scale α, and the digital sum over tiles. It equals the plain torch
path of ``CrossbarLayer`` given the same streams (tests/hwsim/test_crossbar.py).
``readout_tile`` does the same one input tile at a time, carrying the streams from tile to tile,
so the query never stacks the tiles' partial sums or stds (bit for bit equal to ``readout``).
"""
from __future__ import annotations

import numba
import numpy as np

from ..effects.ziggurat import sample, seed_state

__all__ = ["readout", "readout_tile", "program_weights"]


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
def readout_tile(y, var, states, noisy, delta, n_codes, factor, alpha, first, x_tab, f_tab,
                 out):  # pragma: no cover - jitted
    """One input tile of :func:`readout`, so the tiles' partial sums and variances need never be
    stacked: y (P, B, n) partial sums of the tile; var (Pv, Bv, nv) noise *variance* with
    Pv ∈ {1, P}, Bv ∈ {1, B}, nv ∈ {1, n} (std = √var, rounded to float32 as ``torch.sqrt``);
    states (P, 4) uint64 stream states, advanced in place (so tiles t = 0, 1, … called in turn
    draw exactly the numbers :func:`readout` draws from ``seed_states(seeds)``); factor (P, n)
    digital scales; alpha (Pa, B) input scales, Pa ∈ {1, P}; first: write (else add to) out
    (P, B, n) ← α · scale · ADC(y + std·ξ). Arithmetic as :func:`readout`, bit for bit."""
    P, B, n = y.shape
    v_shared, vb_shared, v_flat = var.shape[0] == 1, var.shape[1] == 1, var.shape[2] == 1
    a_shared = alpha.shape[0] == 1
    for p in numba.prange(P):
        s0, s1, s2, s3 = states[p, 0], states[p, 1], states[p, 2], states[p, 3]
        qv = np.int64(0) if v_shared else np.int64(p)
        qa = np.int64(0) if a_shared else np.int64(p)
        z = np.zeros(n)
        sd = np.zeros(n, np.float32)
        for b in range(B):
            if noisy:                                        # tight sampling loop first,
                for o in range(n):                           # then a branch-free pass
                    z[o], s0, s1, s2, s3 = sample(s0, s1, s2, s3, x_tab, f_tab)
                bv = np.int64(0) if vb_shared else np.int64(b)
                if v_flat:
                    s = np.float32(np.sqrt(var[qv, bv, 0]))
                    for o in range(n):
                        sd[o] = s
                else:
                    for o in range(n):
                        sd[o] = np.float32(np.sqrt(var[qv, bv, o]))
            a = alpha[qa, b]
            for o in range(n):
                v = y[p, b, o] + sd[o] * z[o]
                if delta > 0.0:
                    v = min(max(np.rint(v / delta), -n_codes), n_codes) * delta
                v *= factor[p, o] * a
                if first:
                    out[p, b, o] = v
                else:
                    out[p, b, o] += v
        states[p, 0] = s0
        states[p, 1] = s1
        states[p, 2] = s2
        states[p, 3] = s3


@numba.njit(parallel=True, cache=True)
def program_weights(g, levels, g_min, g_max, noisy, c2, c1, c0, seeds, x_tab, f_tab,
                    w_t):  # pragma: no cover - jitted
    """Program P settings in one pass: conductance levels, programming noise, differential pair
    and layout. g (Pg, 2, n_out, n_in) float32 target conductances (µS), Pg ∈ {1, P};
    levels: L = 2^bits levels in [g_min, g_max] (0: none); noisy: add σ(g)·ξ with
    σ = max(((c2·g + c1)·g + c0), 0) µS (the Horner coefficients of ProgrammingNoise.sigma_us
    in µS units of g) and clamp at 0, ξ from each setting's stream seeds[p] in the order of
    ``rng.normal((P, 2, n_out, n_in))`` (all G⁺ cells, then all G⁻ cells);
    writes w_t (P, n_in, n_out) = (G⁺ − G⁻)/(g_max − g_min), the layout the query multiplies with.

    Per setting, both sides are computed row by row into a contiguous (n_out, n_in) scratch
    (G⁺ first, then G⁺ − G⁻ in place: the stream order above), so the element loops run
    unit-stride and vectorise; the scratch is then transposed into w_t in 16 × 16 tiles. The
    same float32/float64 operations per element as the plain path: bit for bit equal
    (tests/hwsim/test_crossbar_fused_program.py), at ~0.6× the CPU time of writing w_t
    column by column."""
    P, n_in, n_out = w_t.shape
    shared = g.shape[0] == 1
    span = g_max - g_min
    dg = span / (levels - 1) if levels > 1 else 1.0
    tile = 16
    for p in numba.prange(P):
        s0, s1, s2, s3 = seed_state(seeds[p])
        q = np.int64(0) if shared else np.int64(p)
        z = np.zeros(n_in, np.float32)
        diff = np.empty((n_out, n_in), np.float32)          # G⁺, then (G⁺ − G⁻)/span
        for side in range(2):
            for o in range(n_out):
                if noisy:                                # tight sampling loop, then the row
                    for i in range(n_in):
                        z[i], s0, s1, s2, s3 = sample(s0, s1, s2, s3, x_tab, f_tab)
                row = diff[o]
                src = g[q, side, o]
                for i in range(n_in):
                    v = src[i]
                    if levels > 1:
                        v = np.float32(min(max(np.rint((v - g_min) / dg), 0.0), levels - 1) * dg + g_min)
                    if noisy:
                        sd = max((np.float32(c2) * v + np.float32(c1)) * v + np.float32(c0), np.float32(0.0))
                        v = max(v + z[i] * sd, np.float32(0.0))
                    if side == 0:
                        row[i] = v
                    else:
                        row[i] = (row[i] - v) / span
        for o0 in range(0, n_out, tile):                  # tiled transpose into the layout
            o1 = min(o0 + tile, n_out)
            for i0 in range(0, n_in, tile):
                for i in range(i0, min(i0 + tile, n_in)):
                    for o in range(o0, o1):
                        w_t[p, i, o] = diff[o, i]

"""Fused CPU kernel for the crossbar readout hot path (numba).

After the analog partial sums of every input tile are computed (one batched matmul per tile),
this kernel does, in ONE pass over the (tiles, P, B, n_out) partial sums and in parallel over
the P settings: read noise σ_w ‖x_tile‖₂ ξ (ξ from each setting's own ziggurat stream, in the
same order as ``rng.normal((P, T, B, n_out))``), ADC quantisation with clipping, the digital
tile scale, and the digital sum over tiles. Five separate tensor passes become one.
"""
from __future__ import annotations

import numba
import numpy as np

from ..effects.ziggurat import sample, seed_state

__all__ = ["readout"]


@numba.njit(parallel=True, cache=True)
def readout(y, norms, seeds, sigma, delta, n_codes, factor, x_tab, f_tab, out):
    """y (T, P, B, n) partial sums; norms (T, Px, B) with Px ∈ {1, P}; seeds (P,) uint64;
    sigma: read-noise std (0 = off); delta: ADC step (0 = no ADC); n_codes: largest ADC code;
    factor (T, P, n) digital tile scales; writes out (P, B, n) = Σ_t scale · ADC(y + noise)."""
    T, P, B, n = y.shape
    shared = norms.shape[1] == 1
    for p in numba.prange(P):
        s0, s1, s2, s3 = seed_state(seeds[p])
        q = np.int64(0) if shared else np.int64(p)           # row of norms for this setting
        z = np.zeros(n)
        for t in range(T):
            for b in range(B):
                if sigma > 0.0:                                  # tight sampling loop first,
                    for o in range(n):                           # then a branch-free pass
                        z[o], s0, s1, s2, s3 = sample(s0, s1, s2, s3, x_tab, f_tab)
                nb = sigma * norms[t, q, b]
                for o in range(n):
                    v = y[t, p, b, o] + nb * z[o]
                    if delta > 0.0:
                        v = delta * min(max(np.rint(v / delta), -n_codes), n_codes)
                    v *= factor[t, p, o]
                    if t == 0:
                        out[p, b, o] = v
                    else:
                        out[p, b, o] += v

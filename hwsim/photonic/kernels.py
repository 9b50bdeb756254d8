"""Fused CPU kernels (numba) for MZI layers with small blocks (k ≤ ``FUSED_MAX_BLOCK`` modes).

Two kernels replace the plain torch path of :class:`~hwsim.photonic.device.MZIMeshLayer` on the
CPU; each equals that path given the same random streams (tests/photonic/test_fused.py):

* :func:`build_blocks` — the block field W = U·diag(Σ)·V† of every block of every setting in one
  pass, in parallel over blocks: both meshes are built MZI by MZI in their topology's order (the
  order of :func:`~hwsim.photonic.mesh.column_loop`) from the imperfect-coupler transfer
  T = B(π/4+ε₂)·P(θ)·B(π/4+ε₁)·P(φ) (:func:`~hwsim.photonic.mesh.imperfect_mzi_transfer`,
  ε = 0 for perfect couplers) times the insertion-loss amplitude, then the output screen
  e^{iδ}, then the product with the Σ transmissions. The per-row "light cone" (only the columns
  a row can have reached) skips the zeros of the identity. Works in float64 locally (k ≤ 16:
  everything stays in registers/L1) and stores float32.
* :func:`readout` — block MVM + detector noise (power-derived shot/thermal law, and/or a fixed
  additive floor) + ADC (clip and round) + per-block gain + the digital sum over input blocks, in
  one pass and in parallel over settings. The (P, B, p, q, k) tensor of block outputs is never
  formed: memory is the (P, B, p·k) output. The standard normals come from each setting's own
  ziggurat stream, continued from the state the phase-noise draw left, in the order the kernel
  consumes them — block (a, c), input b, output i, the plain path's (p, q, B, k) layout (the
  fixed detector floor's normals follow all detection normals) — so nothing is buffered and the
  MVM runs block by block with each k×k block held for all B inputs.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from ..effects.ziggurat import sample

__all__ = ["FUSED_MAX_BLOCK", "build_blocks", "readout"]

#: Largest block size k that takes the fused kernels; larger blocks use the library matmul.
FUSED_MAX_BLOCK = 16


@numba.njit(parallel=True, cache=True, fastmath={"contract", "arcp", "reassoc"})
def build_blocks(ct, st, cp, sp, cd, sd, cpl, upper, amp, s_re, s_im, out_re, out_im,
                 want_imag):  # pragma: no cover - jitted
    """ct, st, cp, sp: cos/sin of θ and φ, (N, 2, M) ([:, 0] the V† mesh, [:, 1] the U mesh);
    cd, sd: cos/sin of the screen δ, (N, 2, k); cpl: (G, 2, M, 4) coupler (cos ε̃₁, sin ε̃₁,
    cos ε̃₂, sin ε̃₂) with ε̃ = π/4 + ε, block n uses row n % G (G = 1: one for all); upper: (M,)
    upper mode of every MZI; amp: field loss amplitude per MZI; s_re, s_im: (N, k) Σ
    transmissions (loss included); out_re (N, k, k) ← Re Wᵀ; out_im ← Im Wᵀ when want_imag
    (transposed, [n, j, i] = W_ij: the readout kernel runs contiguously over outputs i)."""
    N = ct.shape[0]
    M = ct.shape[2]
    k = cd.shape[2]
    G = cpl.shape[0]
    for n in numba.prange(N):
        ur = np.zeros((2, k, k))
        ui = np.zeros((2, k, k))
        lo = np.empty(k, np.int64)
        hi = np.empty(k, np.int64)
        gi = n % G
        for m in range(2):
            re = ur[m]
            im = ui[m]
            for r in range(k):
                re[r, r] = 1.0
                lo[r] = r
                hi[r] = r + 1
            for g in range(M):
                a = upper[g]
                b = a + 1
                c1 = cpl[gi, m, g, 0]
                s1 = cpl[gi, m, g, 1]
                c2 = cpl[gi, m, g, 2]
                s2 = cpl[gi, m, g, 3]
                et_r = np.float64(ct[n, m, g])
                et_i = np.float64(st[n, m, g])
                ep_r = np.float64(cp[n, m, g])
                ep_i = np.float64(sp[n, m, g])
                cc, ss, cs, sc = c2 * c1, s2 * s1, c2 * s1, s2 * c1
                # m00 = c2c1 e^{iθ} − s2s1; m01 = i(c2s1 e^{iθ} + s2c1);
                # m10 = i(s2c1 e^{iθ} + c2s1); m11 = −s2s1 e^{iθ} + c2c1; column 0 × e^{iφ}
                m00r = cc * et_r - ss
                m00i = cc * et_i
                m01r = -cs * et_i
                m01i = cs * et_r + sc
                m10r = -sc * et_i
                m10i = sc * et_r + cs
                m11r = -ss * et_r + cc
                m11i = -ss * et_i
                t00r = amp * (m00r * ep_r - m00i * ep_i)
                t00i = amp * (m00r * ep_i + m00i * ep_r)
                t10r = amp * (m10r * ep_r - m10i * ep_i)
                t10i = amp * (m10r * ep_i + m10i * ep_r)
                t01r = amp * m01r
                t01i = amp * m01i
                t11r = amp * m11r
                t11i = amp * m11i
                l0 = min(lo[a], lo[b])
                h0 = max(hi[a], hi[b])
                for j in range(l0, h0):
                    xr = re[a, j]
                    xi = im[a, j]
                    yr = re[b, j]
                    yi = im[b, j]
                    re[a, j] = t00r * xr - t00i * xi + t01r * yr - t01i * yi
                    im[a, j] = t00r * xi + t00i * xr + t01r * yi + t01i * yr
                    re[b, j] = t10r * xr - t10i * xi + t11r * yr - t11i * yi
                    im[b, j] = t10r * xi + t10i * xr + t11r * yi + t11i * yr
                lo[a] = l0
                lo[b] = l0
                hi[a] = h0
                hi[b] = h0
            for r in range(k):                                   # output screen e^{iδ_r}
                dr = np.float64(cd[n, m, r])
                di = np.float64(sd[n, m, r])
                for j in range(k):
                    xr = re[r, j]
                    xi = im[r, j]
                    re[r, j] = dr * xr - di * xi
                    im[r, j] = dr * xi + di * xr
        for i in range(k):                                       # W = U · diag(Σ) · V†
            for j in range(k):                                   # scale row i of U by Σ_j
                ar = ur[1, i, j]
                ai = ui[1, i, j]
                sr = np.float64(s_re[n, j])
                si = np.float64(s_im[n, j])
                ur[1, i, j] = ar * sr - ai * si
                ui[1, i, j] = ar * si + ai * sr
            for col in range(k):
                accr = 0.0
                for j in range(k):
                    accr += ur[1, i, j] * ur[0, j, col] - ui[1, i, j] * ui[0, j, col]
                out_re[n, col, i] = accr                          # stored transposed: Wᵀ
            if want_imag:                                        # Im W only where detected
                for col in range(k):
                    acci = 0.0
                    for j in range(k):
                        acci += ur[1, i, j] * ui[0, j, col] + ui[1, i, j] * ur[0, j, col]
                    out_im[n, col, i] = acci


@numba.njit(parallel=True, cache=True)
def readout(w_re, w_im, x, mode, c0, c1, floor_sigma, delta, n_codes, gain, gain_pow,
            states, x_tab, f_tab, out):  # pragma: no cover - jitted
    """w_re, w_im: (P, p, q, k, k) block fields stored transposed ([..., j, i] = W_ij, as
    :func:`build_blocks` writes them; w_im read only for mode 2); x: (Px, q, k, B) normalised
    DAC-quantised inputs (batch last, so the MVM's inner loop runs over B), Px ∈ {1, P};
    w_im is read for modes 1 and 2 (the detected power |ŷ|² needs Im ŷ);
    mode: 0 no detection, 1 homodyne (reads Re ŷ), 2 intensity (reads |ŷ|²); detection noise
    variance c0 + c1·|ŷ|² (the full optical power in both modes, normalised units); floor_sigma: fixed additive detector noise std (0: none), its normals
    follow all p·q·B·k detection normals of the setting; delta, n_codes: ADC step and largest code
    (delta 0: no ADC); gain (P, p, q) per-block gain, applied as gain**gain_pow; states (P, 4)
    uint64 stream states; writes out (P, B, p·k) = Σ_q gain^pow · ADC(detected).
    The block MVM accumulates in float32 like the plain path's einsum."""
    P, p, q, k, _ = w_re.shape
    B = x.shape[3]
    x_shared = x.shape[0] == 1
    detect = mode > 0
    homodyne_adc = mode == 1 and floor_sigma == 0.0 and delta > 0.0
    for s in numba.prange(P):
        # normals in consumption order: block (a, c), then input b, then output i — the
        # plain path's (p, q, B, k) layout; the detector floor's stream starts n_z draws later
        s0, s1, s2, s3 = states[s, 0], states[s, 1], states[s, 2], states[s, 3]
        t0, t1, t2, t3 = s0, s1, s2, s3
        if floor_sigma > 0.0 and detect:
            for _ in range(p * q * B * k):
                _z, t0, t1, t2, t3 = sample(t0, t1, t2, t3, x_tab, f_tab)
        xs = np.int64(0) if x_shared else np.int64(s)
        zb = np.zeros((k, B))                            # this block's detection normals
        zf = np.zeros((k, B))                            # and detector-floor normals, [i, b]
        acc = np.zeros((p * k, B))                       # [output, input]: B runs contiguously
        yr = np.empty((k, B), np.float32)
        yi = np.empty((k, B), np.float32)
        for a in range(p):
            for c in range(q):
                g = np.float64(gain[s, a, c])
                if gain_pow == 2:
                    g = g * g
                xc = x[xs, c]                            # (k, B): inner loops run over B
                yr[:, :] = 0.0
                for i in range(k):
                    for j in range(k):
                        w = w_re[s, a, c, j, i]
                        for b in range(B):
                            yr[i, b] += w * xc[j, b]
                if mode > 0:                             # Im ŷ: detected power |ŷ|² (both modes)
                    yi[:, :] = 0.0
                    for i in range(k):
                        for j in range(k):
                            w = w_im[s, a, c, j, i]
                            for b in range(B):
                                yi[i, b] += w * xc[j, b]
                # tight sampling loops first (the sampler is several times faster there than
                # interleaved with the arithmetic below), drawn in the order b, i and stored
                # [i, b], then a pass without draws that runs contiguously over b per output i
                if detect:
                    for b in range(B):
                        for i in range(k):
                            zb[i, b], s0, s1, s2, s3 = sample(s0, s1, s2, s3, x_tab, f_tab)
                if floor_sigma > 0.0:
                    if detect:
                        for b in range(B):
                            for i in range(k):
                                zf[i, b], t0, t1, t2, t3 = sample(t0, t1, t2, t3, x_tab, f_tab)
                    else:
                        for b in range(B):
                            for i in range(k):
                                zf[i, b], s0, s1, s2, s3 = sample(s0, s1, s2, s3, x_tab, f_tab)
                if homodyne_adc:
                    # the common case (homodyne detection, no extra floor, ADC) without
                    # branches in the loop, so it vectorises; the same operations as below
                    for i in range(k):
                        ar = acc[a * k + i]
                        yri = yr[i]
                        yii = yi[i]
                        zbi = zb[i]
                        for b in range(B):
                            v = np.float64(yri[b])
                            u = np.float64(yii[b])
                            v = v + math.sqrt(c0 + c1 * (v * v + u * u)) * zbi[b]
                            v = delta * min(max(np.rint(v / delta), -n_codes), n_codes)
                            ar[b] += g * v
                    continue
                for i in range(k):
                    ar = acc[a * k + i]
                    yri = yr[i]
                    yii = yi[i]
                    zbi = zb[i]
                    zfi = zf[i]
                    for b in range(B):
                        v = np.float64(yri[b])
                        if mode == 2:
                            v = v * v + np.float64(yii[b]) * np.float64(yii[b])
                        if detect:
                            sv = v * v + np.float64(yii[b]) * np.float64(yii[b]) if mode == 1 else v
                            v = v + math.sqrt(c0 + c1 * sv) * zbi[b]
                        if floor_sigma > 0.0:
                            v = v + floor_sigma * zfi[b]
                        if delta > 0.0:
                            v = delta * min(max(np.rint(v / delta), -n_codes), n_codes)
                        ar[b] += g * v
        for b in range(B):
            for o in range(p * k):
                out[s, b, o] = acc[o, b]

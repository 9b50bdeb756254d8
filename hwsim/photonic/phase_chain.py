"""The MZI phase-programming chain in one numba pass (CPU, float32), the torch chain's result.

The plain path applies the program-stage effects one after another as torch operations
(:meth:`~hwsim.photonic.device.MZIMeshLayer.program`, physical order of devices.md §5.1):

    DAC     ThermoOpticDAC: φ → wrap to [0, 2π) → V = √(φ/γ) → round to the V_max/(2^b − 1)
            grid → φ = γV²  (Σ phases: clamp to [0, π] instead of wrapping)
    γ       GammaSpread / CorrelatedGamma: φ · γ_i/γ
    xtalk   ThermalCrosstalk: φ + A·(c φ), A the 0/1 heater adjacency of one mesh / Σ row
    bias    PhaseBias / CorrelatedPhaseBias: φ + b_i

each a full pass over the (P, p, q, 2, k²) phases plus a matrix product for the crosstalk.
:func:`fused_chain` does all of it per mesh row of k² shifters in one pass, with the same
float32 operations in the same order: the remainder as fmod then "+ 2π where the sign differs"
(torch's CPU ``remainder``; fmod is exact, computed here as x − n·2π in float64, exact for
|x| < 2^24·2π, np.fmod beyond), IEEE division and square root, rounding
half to even (``round_``), and the crosstalk sum over a heater's neighbours in ascending index
order starting from 0 (the order of the float32 matrix product of the plain path). Where the
CPU's BLAS sums that product in this order the two are bit for bit equal; where it does not (a
wider vector unit, FMA contraction: measured on an AMD EPYC), a phase can differ by an ulp, and
an ulp before the DAC's rounding can move one code across its boundary (one code's phase, and
its crosstalk into the neighbours; 7 of 200,704 phases of the Fashion layer).
tests/photonic/test_phase_chain_fused.py pins exactly that on every preset: bit for bit, or
within 4 ulps except at most 0.1 % of phases within one DAC code.

sin/cos stay in torch's vectorised pass (:meth:`~hwsim.photonic.device.MZIMeshLayer._fused_blocks`):
numba here has no vector math library, and scalar sin/cos per phase cost more than the
vectorised pass they would replace.
"""
from __future__ import annotations

import math

import numba
import numpy as np
import torch

from ..effects.correlated import CorrelatedGamma, CorrelatedPhaseBias
from ..effects.crosstalk import ThermalCrosstalk
from ..effects.noise import PhaseBias
from ..effects.phase_shifter import GammaSpread, ThermoOpticDAC

__all__ = ["fusable_chain", "fused_chain"]

_SLOTS = {ThermoOpticDAC: 0, GammaSpread: 1, CorrelatedGamma: 1, ThermalCrosstalk: 2,
          PhaseBias: 3, CorrelatedPhaseBias: 3}


def fusable_chain(chain) -> bool:
    """True when every program effect has a slot (DAC, γ, crosstalk, bias), each slot at most
    once, in increasing slot order (the physical order the plain path sorts them in)."""
    slots = [_SLOTS.get(type(e)) for e in chain]
    return bool(chain) and None not in slots and all(a < b for a, b in zip(slots, slots[1:]))


def _neighbours(adjacency: torch.Tensor) -> np.ndarray:
    """(D, L) int64: the d-th neighbour (ascending) of each of the L shifters of a row, D the
    largest number of neighbours; shorter lists are padded with L, the index of a zero slot
    (adding +0.0 leaves a sum that started at +0.0 unchanged, bit for bit)."""
    a = adjacency.detach().cpu().numpy() != 0
    L = a.shape[0]
    idx = [np.flatnonzero(row) for row in a]
    table = np.full((max((len(i) for i in idx), default=0), L), L, np.int64)
    for j, i in enumerate(idx):
        table[:len(i), j] = i
    return table


@numba.njit   # compiled into (and cached with) its caller
def _dac_row(v, wrap, two_pi, two_pi64, inv_two_pi64, gamma, step, top):  # pragma: no cover
    """ThermoOpticDAC on one row v (L,) float32 in place, as the torch ops: wrap with
    torch.remainder(φ, 2π) (mesh) or clamp(0, π) then clamp_min(0) (Σ), V = √(φ/γ), round half
    to even on the V grid, clamp to the codes, φ = γV². Branch-free loops (they vectorise).

    remainder: fmod(x, 2π) is exact, r = x − n·2π with n = trunc(x/2π), computed in float64
    (exact for |x| < 2^24·2π; rows with larger |x| take np.fmod), n corrected by one where the
    quotient rounded across an integer; then + 2π in float32 where r < 0 (torch's sign rule)."""
    L = v.shape[0]
    if wrap:
        big = 0
        for j in range(L):
            big += 1 if abs(np.float64(v[j])) >= 16777216.0 * two_pi64 else 0   # 2^24·2π
        if big == 0:
            for j in range(L):
                xd = np.float64(v[j])
                r = xd - np.trunc(xd * inv_two_pi64) * two_pi64
                pos = xd >= 0.0
                r = r + two_pi64 if (pos and r < 0.0) else r
                r = r - two_pi64 if (pos and r >= two_pi64) else r
                r = r - two_pi64 if ((not pos) and r > 0.0) else r
                r = r + two_pi64 if ((not pos) and r <= -two_pi64) else r
                rf = np.float32(r)
                v[j] = np.float32(rf + two_pi) if rf < 0 else rf
        else:
            for j in range(L):
                rf = np.float32(np.fmod(v[j], two_pi))
                v[j] = np.float32(rf + two_pi) if rf < 0 else rf
    else:
        for j in range(L):
            x = min(max(v[j], np.float32(0.0)), np.float32(math.pi))
            v[j] = max(x, np.float32(0.0))
    for j in range(L):
        x = np.float32(np.float32(v[j]) / gamma)
        x = np.float32(np.sqrt(x))
        x = np.float32(np.rint(np.float32(x / step)))
        x = np.float32(min(max(x, np.float32(0.0)), top) * step)
        v[j] = np.float32(np.float32(x * gamma) * x)


@numba.njit(parallel=True, cache=True)
def _chain_kernel(x, out, wrap, has_dac, two_pi, two_pi64, inv_two_pi64, gamma, step, top,
                  ratio, has_ratio, has_xt, coupling, neighbours, bias,
                  has_bias):  # pragma: no cover - jitted
    """x: (Px, R, L) float32 phases (Px ∈ {1, P}); out: (P, R, L) float32 applied phases;
    ratio, bias: (R, L) float32 (read when has_ratio / has_bias); has_xt: crosstalk of
    ``coupling``; neighbours: (D, L) the d-th neighbour of each shifter of a row, padded with L (a zero
    slot). One row of L shifters (one mesh or Σ row) at a time, each stage a simple loop."""
    P, R, L = out.shape
    D = neighbours.shape[0]
    shared = x.shape[0] == 1
    for p in numba.prange(P):
        xp = x[0] if shared else x[p]
        buf = np.empty(L, np.float32)
        cb = np.zeros(L + 1, np.float32)       # c·φ, and the zero slot cb[L]
        acc = np.empty(L, np.float32)
        for r in range(R):
            o = out[p, r]
            buf[:] = xp[r]
            if has_dac:
                _dac_row(buf, wrap, two_pi, two_pi64, inv_two_pi64, gamma, step, top)
            if has_ratio:
                rr = ratio[r]
                for j in range(L):
                    buf[j] = np.float32(buf[j] * rr[j])
            if has_xt:
                # (c φ) summed over a shifter's neighbours in ascending order from +0.0 (the
                # float32 product c·φ @ Aᵀ of the plain path), then added to φ
                for j in range(L):
                    cb[j] = np.float32(coupling * buf[j])
                acc[:] = 0.0
                for d in range(D):
                    nd = neighbours[d]
                    for j in range(L):
                        acc[j] = np.float32(acc[j] + cb[nd[j]])
                for j in range(L):
                    o[j] = np.float32(buf[j] + acc[j])
            else:
                o[:] = buf
            if has_bias:
                br = bias[r]
                for j in range(L):
                    o[j] = np.float32(o[j] + br[j])


def _run(x: torch.Tensor, settings: int, chain, fab: dict, part: str, adjacency: torch.Tensor,
         wrap: bool) -> torch.Tensor:
    """One part ("mesh" or "sigma") of the chain for ``settings`` settings; x (1|P, *shape)."""
    shape = tuple(x.shape[1:])
    L = shape[-1]
    R = math.prod(shape[:-1])
    xs = np.ascontiguousarray(x.reshape(x.shape[0], R, L).numpy())
    out = np.empty((settings, R, L), np.float32)
    f32 = np.float32
    dac = next((e for e in chain if _SLOTS[type(e)] == 0), None)
    gam = next((e for e in chain if _SLOTS[type(e)] == 1), None)
    xt = next((e for e in chain if _SLOTS[type(e)] == 2), None)
    bia = next((e for e in chain if _SLOTS[type(e)] == 3), None)
    dummy = np.zeros((1, 1), np.float32)

    def table(e):
        return np.ascontiguousarray(fab[type(e)][part].reshape(R, L).numpy()) if e is not None else dummy

    neighbours = _neighbours(adjacency) if xt is not None else np.zeros((0, L), np.int64)
    two_pi = f32(2 * math.pi)
    _chain_kernel(xs, out, wrap, dac is not None, two_pi, float(two_pi), 1.0 / float(two_pi),
                  f32(dac.gamma_rad_per_v2 if dac else 1.0), f32(dac.step_v if dac else 1.0),
                  f32(2 ** dac.bits - 1 if dac else 1.0), table(gam), gam is not None,
                  xt is not None, f32(xt.coupling if xt else 0.0), neighbours, table(bia),
                  bia is not None)
    return torch.from_numpy(out).reshape(settings, *shape)


def fused_chain(chain, mesh: torch.Tensor, sigma: torch.Tensor, settings: int, layout,
                fab: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Applied phases (settings, *mesh_shape), (settings, *sigma_shape) of a fusable ``chain``
    (:func:`fusable_chain`) from float32 CPU phases mesh (1|settings, *mesh_shape) and sigma
    (1|settings, *sigma_shape); the plain path's effect-by-effect chain (bit for bit where the
    CPU's BLAS rounds the crosstalk product as this ordered sum; module docstring)."""
    for name, t in (("mesh", mesh), ("sigma", sigma)):
        if t.dtype != torch.float32 or t.device.type != "cpu":
            raise ValueError(f"fused_chain: {name} must be a float32 CPU tensor, got {t.dtype} "
                             f"on {t.device}")
    for e in chain:
        for part in fab.get(type(e), {}).values():
            if part.dtype != torch.float32:
                raise ValueError(f"fused_chain: {type(e).__name__} tables must be float32")
    return (_run(mesh, settings, chain, fab, "mesh", layout.mesh_adjacency, True),
            _run(sigma, settings, chain, fab, "sigma", layout.sigma_adjacency, False))

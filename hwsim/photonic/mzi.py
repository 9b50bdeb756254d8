"""Mach-Zehnder interferometer (MZI) 2x2 transfer matrix, toolkit convention.

Matrices are indexed ``T[out, in]``. One MZI (reference/devices.md section 1.1)::

    in0 ──[φ]──┐        ┌──[θ]──┐        ┌── out0
               │   B    │       │   B    │
    in1 ───────┘        └───────┘        └── out1

    external phase φ    internal phase θ
    (upper input arm)   (upper arm)

- coupler (50:50):  B = (1/√2) [[1, i], [i, 1]]
- phase screen:     P(x) = diag(e^{ix}, 1)
- T(θ, φ) = B · P(θ) · B · P(φ)
          = i e^{iθ/2} [[e^{iφ} sin(θ/2),  cos(θ/2)],
                        [e^{iφ} cos(θ/2), −sin(θ/2)]]

Power splitting: bar |T₀₀|² = sin²(θ/2), cross |T₁₀|² = cos²(θ/2), so θ = 0 is full cross and
θ = π full bar. det T = e^{i(θ+φ)}. T is 2π-periodic in both phases.
Other papers use other forms (Clements et al. arXiv:1603.08788 use an "effective" θ that is half
the physical one and drop the global phase); map them to this form, do not mix.
"""
from __future__ import annotations

import functools
import math

from hwsim.lazy import torch


__all__ = ["coupler", "phase_screen", "mzi_transfer", "complex_dtype_for",
           "loss_amplitude"]

@functools.lru_cache(maxsize=1)
def _coupler128():
    """50:50 directional coupler B = (1/√2)[[1, i], [i, 1]] (complex128, indexed [out, in]);
    built on first use, so that importing this module needs no torch."""
    return torch.tensor([[1.0, 1.0j], [1.0j, 1.0]], dtype=torch.complex128) / math.sqrt(2.0)


def complex_dtype_for(dtype: torch.dtype) -> torch.dtype:
    """complex64 for float32 (and lower) phases, complex128 for float64 phases."""
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def coupler(dtype: torch.dtype | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """The 50:50 coupler matrix B, shape (2, 2)."""
    dtype = torch.complex64 if dtype is None else dtype
    return _coupler128().to(dtype=dtype, device=device)


def phase_screen(x: torch.Tensor) -> torch.Tensor:
    """P(x) = diag(e^{ix}, 1) for phases x in rad, shape (..., 2, 2)."""
    x = torch.as_tensor(x)
    cd = complex_dtype_for(x.dtype)
    out = torch.zeros(*x.shape, 2, 2, dtype=cd, device=x.device)
    out[..., 0, 0] = torch.polar(torch.ones_like(x), x).to(cd)
    out[..., 1, 1] = 1.0
    return out


def loss_amplitude(loss_db: float) -> float:
    """Field amplitude factor 10^(−dB/20) of an insertion loss in dB (power factor 10^(−dB/10))."""
    try:
        v = float(loss_db)
    except (TypeError, ValueError):
        v = math.nan
    if not (math.isfinite(v) and v >= 0.0):
        raise ValueError(f"loss_db must be a finite number >= 0 (dB of power loss per MZI), "
                         f"got {loss_db!r}")
    return 10.0 ** (-v / 20.0)


def mzi_transfer(theta: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """Closed-form MZI transfer matrix T(θ, φ), indexed [out, in].

    theta, phi: internal and external phases in rad, broadcastable shapes (...).
    Returns complex (..., 2, 2): complex64 for float32 inputs, complex128 for float64.
    Differentiable in both phases.
    """
    theta = torch.as_tensor(theta)
    phi = torch.as_tensor(phi)
    if theta.is_complex() or phi.is_complex():
        raise ValueError(f"theta and phi must be real phases in rad, got dtypes "
                         f"{theta.dtype} and {phi.dtype}; allowed: float32, float64")
    rdtype = torch.promote_types(theta.dtype, phi.dtype)
    if not rdtype.is_floating_point or rdtype not in (torch.float32, torch.float64):
        rdtype = torch.float32 if rdtype != torch.float64 else rdtype
    theta, phi = torch.broadcast_tensors(theta.to(rdtype), phi.to(rdtype))
    cd = complex_dtype_for(rdtype)
    half = 0.5 * theta
    s = torch.sin(half)
    c = torch.cos(half)
    g = 1j * torch.polar(torch.ones_like(half), half)          # i e^{iθ/2}
    ep = torch.polar(torch.ones_like(phi), phi)                # e^{iφ}
    row0 = torch.stack([ep * s, c.to(cd)], dim=-1)
    row1 = torch.stack([ep * c, (-s).to(cd)], dim=-1)
    return (g[..., None, None] * torch.stack([row0, row1], dim=-2)).to(cd)

"""Add-drop microring transmission: the Lorentzian line, its closed-form inverse, and the ring
parameters (FSR, loaded linewidth, extinction, drop peak) from the ring's couplings and loss.

Lorentzian approximation of an add-drop ring near resonance (Bogaerts et al., "Silicon
microring resonators", Laser Photonics Rev. 6, 47 (2012), eqs. for the through and drop ports;
the form used for weight banks by Tait et al., "Microring weight banks", IEEE JSTQE 22(6) 2016
and by devices.md §9), at detuning δ = λ_res − λ (nm) and loaded linewidth Δλ = λ₀ / Q (FWHM):

    L(δ)   = 1 / (1 + (2δ/Δλ)²)                      line shape, L(0) = 1
    D(δ)   = D_max · L(δ)                             drop-port power transmission
    T(δ)   = 1 − (1 − T_min) · L(δ)                   through-port power transmission
    w(δ)   = D(δ) − T(δ) = A · L(δ) − 1,  A = D_max + 1 − T_min     balanced-detector weight

T_min = 10^(−ER/10) is the through-port floor at resonance (extinction ratio ER in dB), D_max
the drop peak. A lossless, critically coupled ring has T_min = 0, D_max = 1 and w ∈ (−1, 1].
The ring is periodic in wavelength with its free spectral range: δ is taken to the nearest
resonance order, wrapped into [−FSR/2, FSR/2).

Inverse (closed form, for ``knobs_from_weight``): L = (w + 1)/A and |δ| = (Δλ/2)·√(1/L − 1).

From a ring's field self-couplings r₁, r₂ (bus and drop couplers), round-trip amplitude a,
radius R and group index n_g at λ₀ (Bogaerts et al. 2012): FSR = λ₀² / (n_g 2πR);
finesse F = π √(r₁r₂a) / (1 − r₁r₂a); Δλ = FSR / F;
T_min = (r₂a − r₁)² / (1 − r₁r₂a)²;  D_max = (1 − r₁²)(1 − r₂²) a / (1 − r₁r₂a)².
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from hwsim.lazy import torch


__all__ = ["RingLine", "lorentzian", "wrap_detuning", "ring_from_coupling"]


def lorentzian(detuning_nm: torch.Tensor, fwhm_nm: float) -> torch.Tensor:
    """L(δ) = 1 / (1 + (2δ/Δλ)²), same shape as ``detuning_nm``."""
    u = detuning_nm * (2.0 / fwhm_nm)
    if u.requires_grad:
        return 1.0 / (1.0 + u * u)
    return u.mul_(u).add_(1.0).reciprocal_()    # the same operations, in place on a fresh tensor


def wrap_detuning(detuning_nm: torch.Tensor, fsr_nm: float) -> torch.Tensor:
    """Detuning to the nearest resonance order: δ wrapped into [−FSR/2, FSR/2) nm."""
    shifted = detuning_nm + 0.5 * fsr_nm
    if shifted.requires_grad:
        return torch.remainder(shifted, fsr_nm) - 0.5 * fsr_nm
    return torch.remainder(shifted, fsr_nm, out=shifted).sub_(0.5 * fsr_nm)


@dataclass(frozen=True)
class RingLine:
    """The spectral line of one add-drop ring: loaded FWHM, FSR (nm), T_min and D_max."""

    fwhm_nm: float
    fsr_nm: float
    through_min: float
    drop_peak: float

    @property
    def span(self) -> float:
        """A = D_max + 1 − T_min: w = A·L − 1."""
        return self.drop_peak + 1.0 - self.through_min

    def shape(self, detuning_nm: torch.Tensor) -> torch.Tensor:
        """L at the nearest resonance order."""
        return lorentzian(wrap_detuning(detuning_nm, self.fsr_nm), self.fwhm_nm)

    def drop(self, line: torch.Tensor) -> torch.Tensor:
        """D = D_max·L from line-shape values L."""
        return self.drop_peak * line

    def through(self, line: torch.Tensor) -> torch.Tensor:
        """T = 1 − (1 − T_min)·L from line-shape values L."""
        return 1.0 - (1.0 - self.through_min) * line

    def weight(self, detuning_nm: torch.Tensor) -> torch.Tensor:
        """w(δ) = D − T = A·L(δ) − 1 (balanced drop-minus-through detection)."""
        return self.span * self.shape(detuning_nm) - 1.0

    def weight_at(self, detuning_nm: float) -> float:
        """w(δ) of one detuning (nm) in Python floats: the same float64 operations as
        :meth:`weight` (torch's floating remainder is C's fmod moved to the divisor's sign, as is
        Python's ``%``), so that a config can be checked without torch."""
        shifted = detuning_nm + 0.5 * self.fsr_nm
        wrapped = shifted % self.fsr_nm - 0.5 * self.fsr_nm
        u = wrapped * (2.0 / self.fwhm_nm)
        return self.span * (1.0 / (u * u + 1.0)) - 1.0

    def detuning_from_weight(self, weight: torch.Tensor) -> torch.Tensor:
        """|δ| (nm, ≥ 0) with w(|δ|) = weight, for weight in (−1, A − 1]: the closed-form
        inverse of the Lorentzian, (Δλ/2)·√(1/L − 1) with L = (w + 1)/A."""
        line = ((weight + 1.0) / self.span).clamp(1e-12, 1.0)
        return 0.5 * self.fwhm_nm * torch.sqrt(1.0 / line - 1.0)


def ring_from_coupling(r1: float, r2: float, a: float, radius_um: float, group_index: float,
                       wavelength_nm: float) -> RingLine:
    """The line of an add-drop ring from its self-couplings r₁, r₂, round-trip amplitude a,
    radius (µm) and group index at ``wavelength_nm`` (closed forms in the module docstring)."""
    for name, v in (("r1", r1), ("r2", r2), ("a", a)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < v < 1.0:
            raise ValueError(f"ring_from_coupling.{name} = {v!r}; allowed: a number in (0, 1)")
    for name, v in (("radius_um", radius_um), ("group_index", group_index),
                    ("wavelength_nm", wavelength_nm)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
            raise ValueError(f"ring_from_coupling.{name} = {v!r}; allowed: a finite number > 0")
    length_nm = 2.0 * math.pi * radius_um * 1e3
    fsr = wavelength_nm ** 2 / (group_index * length_nm)
    g = r1 * r2 * a
    finesse = math.pi * math.sqrt(g) / (1.0 - g)
    t_min = (r2 * a - r1) ** 2 / (1.0 - g) ** 2
    d_max = (1.0 - r1 ** 2) * (1.0 - r2 ** 2) * a / (1.0 - g) ** 2
    return RingLine(fwhm_nm=fsr / finesse, fsr_nm=fsr, through_min=t_min, drop_peak=d_max)

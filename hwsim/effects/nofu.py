"""Nonlinear optical function unit (NOFU): an electro-optic activation on one optical mode.

FICONN (Bandyopadhyay et al., Nature Photonics 2024, doi:10.1038/s41566-024-01567-z,
arXiv:2208.01623) places one NOFU on every mode between its coherent matrix units. A tunable
coupler taps a fraction β of the incoming power onto a photodiode; the photocurrent drives a
phase shifter inside an MZI through which the remaining light (1 − β) passes:

    in ──[tap β]──────────────────────────[ MZI(Δφ) ]── out
              └── PD (R) ── I = R β |E_in|² ── V = G·I ──┘
    Δφ = φ_b + π·V / V_π          (phase-shifter response linear in voltage)
    E_out = √(1 − β) · E_in · T_bar(Δφ),   T_bar(θ) = i e^{iθ/2} sin(θ/2)

T_bar is the bar-port field transmission of the toolkit MZI with external phase 0
(devices.md §1.1: T(θ, 0)₀₀ = i e^{iθ/2} sin(θ/2)), so the output power is

    |E_out|² = (1 − β) |E_in|² sin²((φ_b + κ β |E_in|²)/2),   κ = π R G / V_π  (rad/W)

which is the closed form the tests check. Powers are in W (|E|² in W, devices.md conventions);
R in A/W, G in V/A (Ω), V_π in V. β and φ_b are the trainable parameters of each NOFU (FICONN:
132 parameters = 3 × 36 mesh phases of the 6×6 Clements units + 12 NOFUs × 2; the 12 NOFUs on
the 6 modes after the first two units are its published count).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .validate import require_positive

__all__ = ["NOFU", "nofu_transfer", "nofu_power_closed_form"]


@dataclass(frozen=True)
class NOFU:
    """Physical constants of a NOFU (the trainable β and φ_b are knobs, not fields here).

    responsivity_a_per_w: photodiode responsivity R (A/W).
    gain_v_per_a: transimpedance gain G from photocurrent to phase-shifter drive (V/A = Ω).
    v_pi_v: voltage for a π phase shift of the NOFU's modulator (V).
    """

    responsivity_a_per_w: float = 1.0
    gain_v_per_a: float = 1.0e4
    v_pi_v: float = 2.0

    def __post_init__(self) -> None:
        require_positive("NOFU", "responsivity_a_per_w", self.responsivity_a_per_w)
        require_positive("NOFU", "gain_v_per_a", self.gain_v_per_a)
        require_positive("NOFU", "v_pi_v", self.v_pi_v)

    @property
    def kappa_rad_per_w(self) -> float:
        """κ = π R G / V_π: phase (rad) per watt of tapped optical power."""
        return math.pi * self.responsivity_a_per_w * self.gain_v_per_a / self.v_pi_v


def nofu_transfer(field: torch.Tensor, beta: torch.Tensor, bias_rad: torch.Tensor,
                  kappa_rad_per_w: float) -> torch.Tensor:
    """Field out of NOFUs: ``field`` complex (..., N) with |E|² in W; ``beta`` (..., N) tap
    fraction in [0, 1]; ``bias_rad`` (..., N) bias phase φ_b (rad); returns complex (..., N).

    Differentiable in the field, β and φ_b (the digital twin trains through it)."""
    power = field.real ** 2 + field.imag ** 2
    dphi = bias_rad + kappa_rad_per_w * beta * power
    half = 0.5 * dphi
    t_bar = 1j * torch.polar(torch.ones_like(half), half) * torch.sin(half)   # i e^{iθ/2} sin(θ/2)
    return torch.sqrt((1.0 - beta).clamp_min(0.0)) * field * t_bar


def nofu_power_closed_form(p_in_w, beta, bias_rad, kappa_rad_per_w: float):
    """|E_out|² = (1 − β) P_in sin²((φ_b + κ β P_in)/2) (W); numpy or torch arrays."""
    lib = torch if isinstance(p_in_w, torch.Tensor) else __import__("numpy")
    return (1.0 - beta) * p_in_w * lib.sin(0.5 * (bias_rad + kappa_rad_per_w * beta * p_in_w)) ** 2

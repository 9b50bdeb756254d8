"""Quantizers: converters (input DAC, output ADC), phase DACs and conductance levels.

* Symmetric b-bit quantizer on [-r, r] (devices.md §5.11, AIHWKIT IO pipeline §6.8):
  n = 2^(b-1) - 1, Δ = r / n, Q(y) = Δ · clip(round(y / Δ), -n, n). For a full-scale sine the
  SQNR approaches 6.02 b + 1.76 dB; for a full-scale uniform input it is ≈ 6.02 b dB.
* Phase DAC (uniform in phase, torchonn ``PhaseQuantizer``, devices.md §5.2): mesh phases are
  periodic, so φ mod 2π is rounded to multiples of 2π/2^b — all 2^b codes distinct (a step of
  2π/(2^b − 1), as in torchonn, makes codes 0 and 2^b − 1 the same phase: 255 of 256 codes);
  Σ phases in [0, π] (not periodic) are rounded to multiples of π/(2^b - 1), both ends included.
  The physical, voltage-uniform DAC is :class:`hwsim.effects.phase_shifter.ThermoOpticDAC`.
* Conductance levels (devices.md §6.2): g_q = g_min + Δg · round((g - g_min)/Δg),
  Δg = (g_max - g_min)/(L - 1), L = 2^b.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar


from .validate import require_bits, require_positive
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["symmetric_quantize", "encode_inputs", "InputDAC", "OutputADC", "PhaseDAC", "ConductanceLevels"]

TWO_PI = 2.0 * math.pi


def symmetric_quantize(y: torch.Tensor, bits: int, r: float) -> torch.Tensor:
    """Symmetric mid-tread quantizer with clipping to [-r, r]; returns the same shape."""
    n = 2 ** (bits - 1) - 1
    if n < 1:  # 1 bit: sign quantizer at ±r
        return torch.where(y >= 0, torch.full_like(y, r), torch.full_like(y, -r))
    delta = r / n
    return torch.clamp(torch.round(y / delta), -n, n) * delta


@dataclass(frozen=True)
class InputDAC:
    """Input DAC with ``bits`` resolution (query-time).

    ``full_scale=None`` applies noise management (AIHWKIT, devices.md §6.8 step 1): each input
    vector is divided digitally by α = max|x| so the DAC never clips, and the output is
    multiplied by α afterwards. A number fixes the DAC range to [-full_scale, full_scale]
    (inputs outside are clipped) and α = full_scale: AIHWKIT ``NoiseManagementType.ABS_MAX`` and
    ``CONSTANT``. The crossbar applies α per input tile (each tile has its own DAC periphery).
    """

    stage: ClassVar[str] = "query"

    bits: int = described(8, "resolution of the input DAC", "bits")
    full_scale: float | None = described(
        None, "input range ±full_scale, clipped outside (None: each vector scaled by its max |x|)",
        "input units")

    def __post_init__(self) -> None:
        require_bits("InputDAC", "bits", self.bits)
        if self.full_scale is not None:
            require_positive("InputDAC", "full_scale", self.full_scale)

    def __call__(self, x_normalized: torch.Tensor) -> torch.Tensor:
        """Quantize an input already divided by α (so nominally within [-1, 1])."""
        return symmetric_quantize(x_normalized, self.bits, 1.0)


@dataclass(frozen=True)
class OutputADC:
    """Output ADC: ``bits`` resolution, range [-full_scale, full_scale] in normalized output
    units (outputs of the analog core for inputs in [-1, 1]); values outside are clipped."""

    stage: ClassVar[str] = "query"

    bits: int = described(8, "resolution of the output ADC", "bits")
    full_scale: float = described(
        10.0, "ADC range ±full_scale; values outside are clipped", "normalized output units")

    def __post_init__(self) -> None:
        require_bits("OutputADC", "bits", self.bits)
        if self.bits < 2:   # a signed readout needs codes -n..n with n >= 1
            raise ValueError(f"OutputADC.bits = {self.bits}; allowed: an integer number of bits in [2, 32]")
        require_positive("OutputADC", "full_scale", self.full_scale)

    def __call__(self, y: torch.Tensor) -> torch.Tensor:
        return symmetric_quantize(y, self.bits, self.full_scale)

    @property
    def max_code(self) -> int:
        """Largest code n = 2^(b-1) - 1."""
        return 2 ** (self.bits - 1) - 1

    @property
    def step(self) -> float:
        """Δ = full_scale / n (V per code)."""
        return self.full_scale / self.max_code

    def quantize_(self, y: torch.Tensor) -> float:
        """In place: y ← integer ADC codes clip(round(y/Δ), −n, n); returns Δ (code → value).
        ``Δ · codes`` equals ``self(y)`` (hot-path form that saves passes over large outputs)."""
        n, delta = self.max_code, self.step
        y.div_(delta).round_().clamp_(-n, n)
        return delta


@dataclass(frozen=True)
class PhaseDAC:
    """Phase-domain DAC quantization of programmed phases (program-time)."""

    stage: ClassVar[str] = "program"
    chain_rank: ClassVar[int] = 0

    bits: int = described(
        8, "resolution of the phase DAC that quantizes each programmed phase", "bits")

    def __post_init__(self) -> None:
        require_bits("PhaseDAC", "bits", self.bits)

    def mesh(self, phi: torch.Tensor) -> torch.Tensor:
        """Mesh phases (rad, any value) → wrapped to [0, 2π) and rounded to 2π/2^b."""
        step = TWO_PI / 2 ** self.bits
        q = torch.round(torch.remainder(phi, TWO_PI) / step) * step
        return torch.remainder(q, TWO_PI)

    def sigma(self, phi: torch.Tensor) -> torch.Tensor:
        """Σ phases in [0, π] → rounded to π/(2^b − 1)."""
        step = math.pi / (2 ** self.bits - 1)
        return torch.round(phi.clamp(0.0, math.pi) / step) * step

    def program_phases(self, mesh, sigma, layout, fab):
        return self.mesh(mesh), self.sigma(sigma)


@dataclass(frozen=True)
class ConductanceLevels:
    """Finite conductance levels: L = 2^bits levels spaced evenly in [g_min, g_max] (µS)."""

    stage: ClassVar[str] = "program"

    bits: int = described(8, "2^bits conductance levels spaced evenly in [g_min, g_max]", "bits")

    def __post_init__(self) -> None:
        require_bits("ConductanceLevels", "bits", self.bits, max_bits=16)

    def __call__(self, g: torch.Tensor, g_min: float, g_max: float) -> torch.Tensor:
        return self.apply_(g.clone(), g_min, g_max)

    def apply_(self, g: torch.Tensor, g_min: float, g_max: float) -> torch.Tensor:
        """In-place version of ``__call__`` (for large P x cells tensors)."""
        dg = (g_max - g_min) / (2 ** self.bits - 1)
        return g.sub_(g_min).div_(dg).round_().clamp_(0, 2 ** self.bits - 1).mul_(dg).add_(g_min)

    def program_(self, g: torch.Tensor, g_min: float, g_max: float,
                 generator: torch.Generator | None) -> torch.Tensor:
        """Program-stage hook of the crossbar device (deterministic: the generator is unused)."""
        return self.apply_(g, g_min, g_max)


def encode_inputs(x: torch.Tensor, dac: InputDAC | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Input path of a query: (..., n) → (normalised, DAC-quantised x in [-1, 1], α (..., 1)).

    α = the DAC's fixed full scale, or max|x| per vector (noise management, AIHWKIT IO
    pipeline, devices.md §6.8); the device multiplies its outputs by α digitally.
    """
    if dac is not None and dac.full_scale is not None:
        alpha = torch.full((*x.shape[:-1], 1), dac.full_scale, dtype=x.dtype, device=x.device)
    else:
        alpha = x.abs().amax(dim=-1, keepdim=True).clamp_min(1e-30)
    xn = (x / alpha).clamp(-1.0, 1.0)
    return (dac(xn) if dac is not None else xn), alpha

"""Thermo-optic phase shifters: the voltage law φ = γV², its DAC, and the γ spread.

* ``ThermoOpticDAC`` (program): the driver sets a voltage V on a b-bit grid over [0, V_max],
  step V_max/(2^b − 1) (all 2^b codes), and the heater gives φ = γV² with γ = π/V_π²
  (devices.md §5.2; torchonn ``mzi_op.py`` ``voltage_to_phase_cpu``). The grid is uniform in V,
  so the phase grid is coarse near V_max: dφ = 2γV dV. For targets uniform in [0, 2π) and a grid
  spanning V_2π = √2 V_π, E[(2γV)²] = 4γ²·V_2π²/2, so the RMS phase error is √2× that of a
  uniform phase grid with as many steps (closed form, tests/photonic/test_phase_chain.py).
* ``GammaSpread`` (fabrication): γ_i = γ (1 + (σ_γ/γ) z_i), z ~ N(0, 1) truncated at ±2, so a
  heater phase φ becomes φ·γ_i/γ (devices.md §5.3; L2ight configs σ_γ = 0.002 rad/V²).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar


from . import rng
from .validate import require_bits, require_nonnegative, require_positive
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["ThermoOpticDAC", "GammaSpread", "gamma_rad_per_v2"]

TWO_PI = 2.0 * math.pi


def gamma_rad_per_v2(v_pi_v: float) -> float:
    """Heater efficiency γ = π / V_π² in rad/V²."""
    return math.pi / v_pi_v ** 2


@dataclass(frozen=True)
class ThermoOpticDAC:
    """Voltage DAC of ``bits`` over [0, v_max_v] V driving heaters with φ = γV², γ = π/v_pi_v²."""

    stage: ClassVar[str] = "program"
    chain_rank: ClassVar[int] = 0          # first in the phase chain (devices.md §5.1)

    bits: int = described(8, "resolution of the heater voltage DAC over [0, v_max_v]", "bits")
    # V_π = 4.36 V: torchonn ``mzi_linear.py`` default_cfgs
    v_pi_v: float = described(4.36, "heater voltage of a π phase shift (φ = γV², γ = π/V_π²)", "V")
    # V_max = 10.8 V: torchonn ``mzi_linear.py`` default_cfgs
    v_max_v: float = described(10.8, "full-scale voltage of the heater DAC", "V")

    def __post_init__(self) -> None:
        require_bits("ThermoOpticDAC", "bits", self.bits)
        require_positive("ThermoOpticDAC", "v_pi_v", self.v_pi_v)
        require_positive("ThermoOpticDAC", "v_max_v", self.v_max_v)
        if self.v_max_v < math.sqrt(2.0) * self.v_pi_v:
            raise ValueError(f"ThermoOpticDAC.v_max_v = {self.v_max_v!r}; allowed: >= V_2π = √2·v_pi_v "
                             f"= {math.sqrt(2.0) * self.v_pi_v:.4g} V (the heater must reach 2π)")

    @property
    def gamma_rad_per_v2(self) -> float:
        return gamma_rad_per_v2(self.v_pi_v)

    @property
    def step_v(self) -> float:
        return self.v_max_v / (2 ** self.bits - 1)

    def voltage(self, phi: torch.Tensor, wrap: bool = True) -> torch.Tensor:
        """Code voltage (V) for target phases ≥ 0 (wrapped to [0, 2π) if ``wrap``): V = √(φ/γ)
        rounded to the DAC grid."""
        phi = torch.remainder(phi, TWO_PI) if wrap else phi.clamp_min(0.0)
        # one fresh tensor, then in place (the same float operations as out of place)
        v = phi.div_(self.gamma_rad_per_v2).sqrt_()
        return v.div_(self.step_v).round_().clamp_(0, 2 ** self.bits - 1).mul_(self.step_v)

    def phase(self, v: torch.Tensor) -> torch.Tensor:
        """Heater phase φ = γV² (rad)."""
        return torch.mul(v, self.gamma_rad_per_v2).mul_(v)

    def program_phases(self, mesh, sigma, layout, fab):
        """Mesh phases wrap at 2π; Σ phases are targets in [0, π] (clamped, not wrapped)."""
        sig_v = self.voltage(sigma.clamp(0.0, math.pi), wrap=False)
        return self.phase(self.voltage(mesh)), self.phase(sig_v)


@dataclass(frozen=True)
class GammaSpread:
    """Per-shifter heater efficiency spread σ_γ (rad/V²) around γ = π/v_pi_v², truncated at ±2σ."""

    stage: ClassVar[str] = "fabrication"
    chain_rank: ClassVar[int] = 1          # scales the heater phase the DAC set

    # L2ight ``config/mnist/cnn3/flops/learn.yml`` (devices.md §5.3)
    sigma_rad_per_v2: float = described(
        0.002, "std of each heater's efficiency γ around π/V_π², truncated at ±2σ", "rad/V²")
    # torchonn ``mzi_linear.py`` default_cfgs
    v_pi_v: float = described(4.36, "heater voltage of a π phase shift (nominal γ = π/V_π²)", "V")

    def __post_init__(self) -> None:
        require_nonnegative("GammaSpread", "sigma_rad_per_v2", self.sigma_rad_per_v2)
        require_positive("GammaSpread", "v_pi_v", self.v_pi_v)

    @property
    def relative_sigma(self) -> float:
        return self.sigma_rad_per_v2 / gamma_rad_per_v2(self.v_pi_v)

    def fabricate(self, layout, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """γ_i/γ for every shifter of the layer, drawn once from the device seed."""
        def ratio(shape):
            return 1.0 + self.relative_sigma * rng.truncated_normal(shape, generator, 2.0)
        return {"mesh": ratio(layout.mesh_shape), "sigma": ratio(layout.sigma_shape)}

    def program_phases(self, mesh, sigma, layout, fab):
        return mesh * fab["mesh"], sigma * fab["sigma"]

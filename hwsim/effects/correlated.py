"""Correlated fabrication variation: die-to-die offsets and within-die spatially correlated
Gaussian random fields (aihwkit issue #352 asks for it; independent per-device draws miss the
smooth wafer-scale variation of thickness, width and composition).

For devices at grid sites r (one site per device, in cells; ``pitch_um`` µm per cell when the
correlation length is given in µm) the deviation of a fabricated quantity is

    δ(r) = σ_die · z_die + σ_within · f(r),   z_die ~ N(0, 1) once per chip (device seed),

f a stationary Gaussian random field of unit variance with the squared-exponential covariance

    Cov(δ(r), δ(r′)) = σ_die² + σ_within² · exp(−|r − r′|²/(2ℓ²))      (ℓ = correlation length).

f is white noise convolved with the separable kernel h(x) ∝ exp(−x²/ℓ²) (normalised to Σh² = 1
per axis, so Var f = 1 exactly): the autocorrelation of a Gaussian of width ℓ/√2 is the Gaussian
of width ℓ above (exact in the continuum, to within exp(−π²ℓ²/2) on the integer grid: 3·10⁻⁹ at
ℓ = 2 cells). ℓ = 0 gives independent devices. Draws come from the effect's own keyed stream
(hwsim.effects.fabrication), so the field of one effect never moves when another is added.

Concrete effects (each a fabrication-stage effect of its device kind) share these fields:
:class:`CorrelatedConductance` (crossbar), :class:`CorrelatedPhaseBias` and
:class:`CorrelatedGamma` (MZI meshes); a ring-resonance variation uses :func:`variation_field` on
its rings' sites the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar


from . import rng
from .validate import require_nonnegative, require_positive
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["gaussian_field", "variation_field", "CorrelatedVariation", "CorrelatedConductance",
           "CorrelatedPhaseBias", "CorrelatedGamma", "LENGTH_UNITS"]

LENGTH_UNITS = ("cells", "um")
_KERNEL_SIGMAS = 4.0          # kernel truncated at ±4ℓ/√2·√2 = ±4ℓ (weight < e^-16)


def _kernel(length_cells: float) -> torch.Tensor:
    r = max(1, int(math.ceil(_KERNEL_SIGMAS * length_cells)))
    x = torch.arange(-r, r + 1, dtype=torch.float64)
    h = torch.exp(-(x / length_cells) ** 2)
    return h / h.pow(2).sum().sqrt()


def gaussian_field(shape: tuple[int, ...], length_cells: float, generator: torch.Generator,
                   batch: int = 1) -> torch.Tensor:
    """``batch`` independent unit-variance fields on a 2-D grid ``shape`` (rows, cols), float64,
    covariance exp(−d²/(2ℓ²)) at grid distance d (ℓ = ``length_cells``; 0: white noise)."""
    rows, cols = shape
    if length_cells == 0:
        return rng.normal((batch, rows * cols), generator, dtype=torch.float64).reshape(batch, rows, cols)
    h = _kernel(length_cells)
    r = (h.numel() - 1) // 2
    z = rng.normal((batch, (rows + 2 * r) * (cols + 2 * r)), generator, dtype=torch.float64)
    z = z.reshape(batch, 1, rows + 2 * r, cols + 2 * r)
    z = torch.nn.functional.conv2d(z, h.reshape(1, 1, -1, 1))          # along rows
    z = torch.nn.functional.conv2d(z, h.reshape(1, 1, 1, -1))          # along columns
    return z[:, 0]


def variation_field(shape: tuple[int, int], sigma_die: float, sigma_within: float,
                    length_cells: float, generator: torch.Generator, batch: int = 1) -> torch.Tensor:
    """δ = σ_die·z_die + σ_within·f on a (rows, cols) grid, ``batch`` independent within-die
    fields sharing one die offset: (batch, rows, cols) float64."""
    die = rng.normal((1, 1), generator, dtype=torch.float64)[0, 0]
    return sigma_die * die + sigma_within * gaussian_field(shape, length_cells, generator, batch)


@dataclass(frozen=True)
class CorrelatedVariation:
    """Die-to-die σ and within-die σ with correlation length ``correlation_length`` in
    ``length_unit`` ("cells", or "um" with ``pitch_um`` µm per cell)."""

    stage: ClassVar[str] = "fabrication"

    sigma_die: float = described(
        0.0, "std of the die-to-die offset δ, one draw per chip (relative)", "1")
    sigma_within: float = described(
        0.0, "std of the within-die correlated field of δ (relative)", "1")
    correlation_length: float = described(
        4.0, "correlation length ℓ of the within-die field (0: independent devices)",
        "length_unit")
    length_unit: str = described(
        "cells", "unit of correlation_length: 'cells' or 'um' (with pitch_um)", "")
    pitch_um: float = described(1.0, "device pitch: µm per grid cell (length_unit = 'um')", "µm")

    def __post_init__(self) -> None:
        name = type(self).__name__
        require_nonnegative(name, "sigma_die", self.sigma_die)
        require_nonnegative(name, "sigma_within", self.sigma_within)
        require_nonnegative(name, "correlation_length", self.correlation_length)
        require_positive(name, "pitch_um", self.pitch_um)
        if self.length_unit not in LENGTH_UNITS:
            raise ValueError(f"{name}.length_unit = {self.length_unit!r}; allowed: {', '.join(LENGTH_UNITS)}")

    @property
    def length_cells(self) -> float:
        return self.correlation_length / self.pitch_um if self.length_unit == "um" else self.correlation_length

    def covariance(self, distance_cells: float) -> float:
        """Closed-form Cov(δ(r), δ(r′)) at |r − r′| = ``distance_cells``."""
        l = self.length_cells
        corr = math.exp(-distance_cells ** 2 / (2 * l * l)) if l > 0 else float(distance_cells == 0)
        return self.sigma_die ** 2 + self.sigma_within ** 2 * corr

    def field(self, shape: tuple[int, int], generator: torch.Generator, batch: int = 1) -> torch.Tensor:
        return variation_field(shape, self.sigma_die, self.sigma_within, self.length_cells, generator, batch)


@dataclass(frozen=True)
class CorrelatedConductance(CorrelatedVariation):
    """Crossbar: every written conductance scaled by (1 + δ) per cell, δ the correlated field
    over each array's (n_out, n_in) grid (G⁺ and G⁻ arrays own within-die fields, one die
    offset); applied after programming, before stuck and worn cells are pinned."""

    pin_rank: ClassVar[int] = 0           # before StuckCells / Endurance (pin_rank 1)

    def fabricate(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """δ per cell, shape (2, n_out, n_in) float32."""
        return self.field(tuple(shape[1:]), generator, batch=shape[0]).float()

    def constrain_(self, g: torch.Tensor, delta: torch.Tensor, g_min: float, g_max: float) -> torch.Tensor:
        return g.mul_(1.0 + delta).clamp_(min=0.0)


def _layout_field(effect: CorrelatedVariation, layout, generator) -> dict[str, torch.Tensor]:
    """δ at every phase shifter of a photonic layout, from its heater grid (layout.shifter_sites)."""
    shape, mesh_idx, sigma_idx = layout.shifter_sites
    f = effect.field(shape, generator)[0].reshape(-1).float()
    return {"mesh": f[mesh_idx], "sigma": f[sigma_idx]}


@dataclass(frozen=True)
class CorrelatedPhaseBias(CorrelatedVariation):
    """MZI meshes: a static phase offset δ (rad) per shifter, correlated over the chip (added
    last in the phase chain, like PhaseBias; devices.md §5.1)."""

    chain_rank: ClassVar[int] = 3

    sigma_die: float = described(0.0, "std of the die-to-die phase offset δ, one draw per chip",
                                 "rad")
    sigma_within: float = described(0.0, "std of the within-die correlated phase field", "rad")

    def fabricate(self, layout, generator: torch.Generator) -> dict[str, torch.Tensor]:
        return _layout_field(self, layout, generator)

    def program_phases(self, mesh, sigma, layout, fab):
        return mesh + fab["mesh"], sigma + fab["sigma"]


@dataclass(frozen=True)
class CorrelatedGamma(CorrelatedVariation):
    """MZI meshes: heater efficiency γ_i = γ(1 + δ_i), δ correlated over the chip (relative),
    scaling the heater phase after the DAC (as GammaSpread; devices.md §5.3)."""

    chain_rank: ClassVar[int] = 1

    def fabricate(self, layout, generator: torch.Generator) -> dict[str, torch.Tensor]:
        return {k: 1.0 + v for k, v in _layout_field(self, layout, generator).items()}

    def program_phases(self, mesh, sigma, layout, fab):
        return mesh * fab["mesh"], sigma * fab["sigma"]

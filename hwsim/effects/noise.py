"""Noise effects, split by when they are sampled (devices.md conventions).

fabrication  PhaseBias            static bias b_i ~ U(-h, h) rad per phase shifter (L2ight
                                  ``assign_random_phase_bias``, arXiv:2110.14807)
program-time ProgrammingNoise     g ← max(g + σ·g_max·ξ, 0) per cell per program call
                                  (Nandakumar et al., ICECS 2019; AIHWKIT ``pcm.py``)
query        PhaseNoise           n_i ~ N(0, σ²) truncated at ±2σ, redrawn every query
                                  (torchonn ``mzi_linear.py``; Fang et al. 2019 σ ∈ [0, 0.02])
             DetectorNoise        additive Gaussian on each detected output (normalized units)
             ReadNoise            output-referred read noise y_i += σ_w ‖x‖₂ ξ_i, the exact
                                  distribution of independent per-sample cell fluctuations of
                                  std σ_w (AIHWKIT ``IOParameters.w_noise`` ADDITIVE_CONSTANT)
All draws use :mod:`hwsim.effects.rng` with an explicit generator.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from . import rng
from .validate import require_nonnegative, require_positive

__all__ = ["PhaseBias", "PhaseNoise", "DetectorNoise", "ProgrammingNoise", "ReadNoise"]


@dataclass(frozen=True)
class PhaseBias:
    """Static phase bias per phase shifter, uniform in [-half_width_rad, half_width_rad] rad.
    Not heater-induced, so it is added last in the phase chain (devices.md §5.1)."""

    stage: ClassVar[str] = "fabrication"
    chain_rank: ClassVar[int] = 3

    half_width_rad: float = 1.0

    def __post_init__(self) -> None:
        require_positive("PhaseBias", "half_width_rad", self.half_width_rad)

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return (2.0 * rng.uniform(shape, generator) - 1.0) * self.half_width_rad

    def fabricate(self, layout, generator: torch.Generator) -> dict[str, torch.Tensor]:
        return {"mesh": self.sample(layout.mesh_shape, generator),
                "sigma": self.sample(layout.sigma_shape, generator)}

    def program_phases(self, mesh, sigma, layout, fab):
        return mesh + fab["mesh"], sigma + fab["sigma"]


@dataclass(frozen=True)
class PhaseNoise:
    """Dynamic phase noise (rad), truncated Gaussian at ±``bound_sigmas``·σ, redrawn per query."""

    stage: ClassVar[str] = "query"

    sigma_rad: float = 0.002
    bound_sigmas: float = 2.0

    def __post_init__(self) -> None:
        require_nonnegative("PhaseNoise", "sigma_rad", self.sigma_rad)
        require_positive("PhaseNoise", "bound_sigmas", self.bound_sigmas)

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
        return self.sigma_rad * rng.truncated_normal(shape, generator, self.bound_sigmas)

    def from_normal(self, z: torch.Tensor) -> torch.Tensor:
        """Noise values (rad) from standard normal values of the same shape."""
        return self.sigma_rad * rng.truncated_from_normal(z, self.bound_sigmas)

    def query_phases(self, mesh, sigma, z: torch.Tensor):
        """Phases plus noise from standard normals z (P, n_mesh + n_sigma)."""
        n = self.from_normal(z)
        n_mesh = mesh[0].numel()
        return mesh + n[:, :n_mesh].reshape(mesh.shape), sigma + n[:, n_mesh:].reshape(sigma.shape)


@dataclass(frozen=True)
class DetectorNoise:
    """Additive Gaussian detector noise of std ``sigma_norm`` in normalized output units (a
    fixed noise floor; :class:`~hwsim.effects.detection.Detection` derives it from power)."""

    stage: ClassVar[str] = "query"

    sigma_norm: float = 0.01

    def __post_init__(self) -> None:
        require_nonnegative("DetectorNoise", "sigma_norm", self.sigma_norm)

    def __call__(self, y: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return y + self.sigma_norm * rng.normal(tuple(y.shape), generator, dtype=y.dtype)

    def from_normal(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Add noise σ·z given standard normal values ``z`` (same shape as y), in place."""
        return y.add_(z, alpha=self.sigma_norm)


@dataclass(frozen=True)
class ProgrammingNoise:
    """Write noise: relative std ``sigma_rel`` of g_max per programmed cell."""

    sigma_rel: float = 0.038

    def __post_init__(self) -> None:
        require_nonnegative("ProgrammingNoise", "sigma_rel", self.sigma_rel)

    def __call__(self, g: torch.Tensor, g_max: float,
                 generator: torch.Generator | None) -> torch.Tensor:
        return self.apply_(g.clone(), g_max, generator)

    def apply_(self, g: torch.Tensor, g_max: float, generator: torch.Generator | None) -> torch.Tensor:
        """In-place version of ``__call__``; g must be contiguous with the settings axis first."""
        xi = rng.normal(tuple(g.shape), generator, dtype=g.dtype)
        return g.add_(xi, alpha=self.sigma_rel * g_max).clamp_(min=0.0)


@dataclass(frozen=True)
class ReadNoise:
    """Read noise σ_w (relative to the weight range) per query, output-referred."""

    sigma: float = 0.0175

    def __post_init__(self) -> None:
        require_nonnegative("ReadNoise", "sigma", self.sigma)

    def __call__(self, y: torch.Tensor, x_norm: torch.Tensor,
                 generator: torch.Generator | None) -> torch.Tensor:
        """y: (..., n_out) tile outputs; x_norm: (..., 1) ‖x‖₂ of the tile input."""
        return self.add_(y.clone(), x_norm, generator)

    def add_(self, y: torch.Tensor, x_norm: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """In-place version of ``__call__`` (settings axis first, for layout-preserving draws)."""
        xi = rng.normal(tuple(y.shape), generator, dtype=y.dtype)
        return y.addcmul_(xi, x_norm, value=self.sigma)

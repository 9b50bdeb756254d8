"""Slow phase drift as a function of the device clock (query stage, device time since programming).

d_i(t) = σ_d √t ξ_i with ξ_i ~ N(0, 1) drawn once per programmed setting: the marginal of a
random walk of diffusion σ_d² (rad²/s) per shifter, evaluated at the time since programming that
each query carries (``query(..., time_s=t)``); t = 0 right after programming gives no drift.
Thermal drift of uncontrolled heaters: DOCTOR (arXiv:2403.02688) models σ(t) ≈ 0.02 rad of
drift over its runs; σ_d = 0.002 rad/√s reaches 0.02 rad after 100 s (toolkit default, derived).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from . import rng
from .validate import require_nonnegative

__all__ = ["PhaseDrift"]


@dataclass(frozen=True)
class PhaseDrift:
    """Random-walk phase drift of diffusion ``sigma_rad_per_sqrt_s`` per shifter."""

    stage: ClassVar[str] = "query"

    sigma_rad_per_sqrt_s: float = 0.002

    def __post_init__(self) -> None:
        require_nonnegative("PhaseDrift", "sigma_rad_per_sqrt_s", self.sigma_rad_per_sqrt_s)

    def program_draw(self, settings: int, layout, generator: torch.Generator | None) -> torch.Tensor:
        """ξ (P, n_shifters) standard normals fixed for the life of each programmed setting."""
        return rng.normal((settings, layout.n_shifters), generator)

    def query_phases(self, mesh, sigma, xi: torch.Tensor, time_s: float):
        """Phases after ``time_s`` seconds since programming (same shapes as given)."""
        if time_s == 0.0:
            return mesh, sigma
        d = xi * (self.sigma_rad_per_sqrt_s * math.sqrt(time_s))
        n_mesh = mesh[0].numel()
        return (mesh + d[:, :n_mesh].reshape(mesh.shape),
                sigma + d[:, n_mesh:].reshape(sigma.shape))

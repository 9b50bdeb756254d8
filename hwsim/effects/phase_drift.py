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

import numpy as np

from . import rng
from .validate import require_nonnegative
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["PhaseDrift"]


@dataclass(frozen=True)
class PhaseDrift:
    """Random-walk phase drift of diffusion ``sigma_rad_per_sqrt_s`` per shifter."""

    stage: ClassVar[str] = "query"

    sigma_rad_per_sqrt_s: float = described(
        0.002, "random-walk diffusion of each shifter's phase since programming", "rad/√s")

    def __post_init__(self) -> None:
        require_nonnegative("PhaseDrift", "sigma_rad_per_sqrt_s", self.sigma_rad_per_sqrt_s)

    def program_draw(self, settings: int, layout, generator: torch.Generator | None) -> np.ndarray:
        """The stream seeds (P,) uint64 of the ξ fixed for the life of each programmed setting,
        drawn from ``generator`` at programming (as ``rng.normal`` draws them); the normals
        themselves follow from the seeds (:meth:`normals`) only when a query first needs them
        (t > 0), so a setting read at t = 0 never pays for them."""
        return rng.row_seeds(settings, generator)

    def normals(self, seeds: np.ndarray, layout) -> torch.Tensor:
        """ξ (P, n_shifters) standard normals of the seeds :meth:`program_draw` gave: the numbers
        of ``rng.normal((P, n_shifters), generator)`` with that generator."""
        return rng.normal_from_seeds(seeds, layout.n_shifters)

    def query_phases(self, mesh, sigma, xi: torch.Tensor, time_s: float):
        """Phases after ``time_s`` seconds since programming (same shapes as given)."""
        if time_s == 0.0:
            return mesh, sigma
        d = xi * (self.sigma_rad_per_sqrt_s * math.sqrt(time_s))
        n_mesh = mesh[0].numel()
        return (mesh + d[:, :n_mesh].reshape(mesh.shape),
                sigma + d[:, n_mesh:].reshape(sigma.shape))

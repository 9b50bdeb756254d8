"""Beamsplitter (directional coupler) imbalance, drawn once per coupler (fabrication).

Each coupler has angle α = π/4 + ε, ε ~ N(0, σ²) (neurophox ``MeshModel.mzi_error_matrices``
``bs_error``; devices.md §5.6, σ_BS ∈ [0, 0.02] in Fang et al., Opt. Express 27(10) 14009
(2019), ``imprecise_optical_neural_network`` ``default_params.py``). The MZI becomes
T = B(π/4+ε₂) P(θ) B(π/4+ε₁) P(φ) (:func:`hwsim.photonic.mesh.imperfect_mzi_transfer`): finite
extinction, bar-state leakage sin²(ε₁ − ε₂), cross-state leakage sin²(ε₁ + ε₂). A Σ MZI driven
push-pull (arms ±φ) transmits cos(ε₁+ε₂) cos φ + i sin(ε₂−ε₁) sin φ instead of cos φ.
Small-error mesh infidelity: 1 − |Tr(U†U′)|²/N² ≈ 2(N − 1)σ² for N(N−1) couplers (each
coupler error is a rotation exp(iεX) on two modes; derived, pinned in tests).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


from . import rng
from .validate import require_nonnegative
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["BeamsplitterImbalance"]


@dataclass(frozen=True)
class BeamsplitterImbalance:
    """Coupler angle error ε ~ N(0, sigma_rad²) per coupler."""

    stage: ClassVar[str] = "fabrication"

    sigma_rad: float = described(0.01, "std of each coupler's splitting-angle error ε", "rad")

    def __post_init__(self) -> None:
        require_nonnegative("BeamsplitterImbalance", "sigma_rad", self.sigma_rad)

    def fabricate(self, layout, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """ε per coupler: mesh (p, q, 2, M, 2) and Σ (p, q, k, 2), rad (float64 for the mesh build)."""
        p, q, k, m = layout.p, layout.q, layout.k, layout.n_mzi
        mesh = rng.normal((p * q * 2 * m * 2,), generator, dtype=torch.float64).reshape(p, q, 2, m, 2)
        sig = rng.normal((p * q * k * 2,), generator, dtype=torch.float64).reshape(p, q, k, 2)
        return {"mesh": self.sigma_rad * mesh, "sigma": self.sigma_rad * sig}

    def array_terms(self, fab) -> dict:
        return {"coupler_eps": fab["mesh"], "sigma_eps": fab["sigma"]}

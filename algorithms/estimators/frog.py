"""Multi-tangent forward gradients with orthogonal projection (FROG; Flügel et al.,
arXiv:2410.17764, ``Helmholtz-AI-Energy/frog`` ``aggregation.py``; algorithms.md §4).

k tangents V (d, k) drawn Gaussian and QR-orthonormalised; the directional derivatives
δ_j = v_jᵀ g are measured on the device by central differences; the projection aggregator
ĝ = V (VᵀV)⁻¹ δ = V δ (orthonormal V) is the best approximation of g in span(V). ``"projection"``
(default) keeps FROG's unscaled projection, as the paper's code aggregates; for isotropic V,
E[V Vᵀ] = (k/d) I, so ``scale="unbiased"`` multiplies by d/k. E[cos²(ĝ, g)] = k/d (tested).

Frame rescaling: an orthonormal tangent has per-knob entries ~1/√d, so a perturbation ε·v_j
would put each knob far below the DAC step (algorithms.md §1, §14.5). The device is driven along
s·v_j with s = ε_knob·√d, i.e. an rms per-knob step of ε_knob (chosen ≥ the DAC step by the
trainer's rule), and δ_j = [L(θ + s v_j) − L(θ − s v_j)]/(2s). 2k device settings per estimate.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import math
from dataclasses import dataclass


from .base import check_losses
from .directions import sample_directions
from ..checks import count as _count, positive_float as _positive

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["FROG", "SCALES", "project_on_rows"]

SCALES = ("unbiased", "projection")


def project_on_rows(loss_fn, params: Tensor, rows: Tensor, epsilon: float) -> tuple[Tensor, Tensor]:
    """Projection of the gradient onto orthonormal ``rows`` (k, d), measured on the device:
    central differences along s·v_j with s = ``epsilon``·√d (the frame rescaling above), all 2k
    settings in one call. Returns (Σ_j δ_j v_j (d,), the 2k losses)."""
    d, k = params.numel(), rows.shape[0]
    s = epsilon * math.sqrt(d)
    losses = check_losses(loss_fn(torch.cat([params + s * rows, params - s * rows])), 2 * k)
    delta = (losses[:k] - losses[k:]) / (2 * s)
    return delta.to(rows.dtype) @ rows, losses


@dataclass(frozen=True)
class FROG:
    num_tangents: int = 8
    epsilon: float = 0.02          # per-knob rms step, range units
    scale: str = "projection"

    def __post_init__(self) -> None:
        _count("FROG", "num_tangents", self.num_tangents)
        object.__setattr__(self, "epsilon", _positive("FROG", "epsilon", self.epsilon))
        if self.scale not in SCALES:
            raise ValueError(f"FROG.scale = {self.scale!r}; allowed: {SCALES}")

    needs = frozenset()

    def combine_flops(self, d: int) -> float:
        return 2.0 * self.num_tangents * d

    def init(self, params: Tensor) -> tuple:
        return ()

    def device_queries(self) -> int:
        return 2 * self.num_tangents

    def tangents(self, d: int, key: torch.Generator) -> Tensor:
        """Orthonormal tangents, shape (k, d) (rows)."""
        if self.num_tangents > d:
            raise ValueError(f"FROG.num_tangents = {self.num_tangents}; allowed: <= d = {d}")
        z = sample_directions("gaussian", self.num_tangents, d, key, dtype=torch.float64)
        q, _ = torch.linalg.qr(z.T)                      # (d, k), orthonormal columns
        return q.T.float()

    def estimate(self, loss_fn, params: Tensor, state, key, **extras):
        d, k = params.numel(), self.num_tangents
        grad, losses = project_on_rows(loss_fn, params, self.tangents(d, key).to(params.dtype),
                                       self.epsilon)
        if self.scale == "unbiased":
            grad = grad * (d / k)
        return grad, state, {"device_queries": 2 * k, "loss": float(losses.mean()),
                             "per_knob_step": self.epsilon}

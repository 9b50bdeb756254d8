"""Directional derivatives along random directions drawn in the span of a block's gradients.

Why: a weight-perturbation estimate with P isotropic directions in d knobs captures a fraction
≈ P/d of the gradient per step (E‖ĝ‖² ≈ (1 + d/P)‖g‖², algorithms.md §3). For a device block
z = W a (batch inputs A of shape (B, n_in)) every local-loss gradient has the form

    ∂L/∂W = Σ_b δ_b a_bᵀ,   δ_b = ∂L/∂z_b = host_backward(∂L/∂h_b)

so it lies in the subspace S = {Σ_b ε_b a_bᵀ} (n_out·B dimensions, and only as many as the
inputs' effective rank), and, because the head is linear, ∂L/∂h_b = ξ_b M (R) lies in the
C-dimensional row space of the head. Random directions drawn inside S (the weight-space form of
activity perturbation: Ren, Kornblith, Liao, Hinton, arXiv:2210.03310, algorithms.md §5) are far
better aligned with the gradient than isotropic ones, while using no label and no loss value —
only the block's inputs and its host/heads' structure, which the host knows.

The trainer draws the P weight-space directions (``space``):

* ``"input"``: ε_b ~ N(0, I) in the stage's feature space, pulled back through the host
  transforms (ReLU masks, pooling): directions Σ_b δ̃_b a_bᵀ;
* ``"head"``: ξ_b ~ N(0, I_C) in the head's score space, pulled back through the head and the
  host transforms — the gradient's exact subspace for the exact-head Mono-Forward loss;

maps them into knob space through the device's Jacobian (nominal, or calibrated where the device
declares ``calibrate`` — the same model as the local guess, algorithms.md §6) and hands them in as
``extras["directions"]`` (P, d). This estimator orthonormalises them (QR) and measures the
directional derivative along each on the device, central differences, one batched call of 2P
settings; the estimate is the orthogonal projection of the gradient onto their span,
ĝ = Σ_p Δ_p q_p = Q Qᵀ g (FROG's projection aggregator, Flügel et al. arXiv:2410.17764,
algorithms.md §4). A wrong Jacobian only makes the directions less aligned: each Δ_p is measured
on the device along the knob direction actually programmed, so ĝ stays a projection of the true
gradient (E[ĝ]ᵀg ≥ 0).

``epsilon`` is the per-knob rms step in range units (step length s = ε·√d for unit directions),
set by the trainer's rule against DAC step and write noise.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass


from .frog import project_on_rows
from ..checks import count as _count, positive_float as _positive

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["SpanProjection", "SPACES"]

SPACES = ("input", "head")


@dataclass(frozen=True)
class SpanProjection:
    num_directions: int = 8
    epsilon: float = 0.02
    space: str = "input"

    def __post_init__(self) -> None:
        _count("SpanProjection", "num_directions", self.num_directions)
        object.__setattr__(self, "epsilon", _positive("SpanProjection", "epsilon", self.epsilon))
        if self.space not in SPACES:
            raise ValueError(f"SpanProjection.space = {self.space!r}; allowed: {SPACES}")

    needs = frozenset({"span-directions"})

    def combine_flops(self, d: int) -> float:
        return 2.0 * self.num_directions * d

    def init(self, params: Tensor) -> tuple:
        return ()

    def device_queries(self) -> int:
        return 2 * self.num_directions

    @staticmethod
    def orthonormal(directions: Tensor) -> Tensor:
        """(P, d) → (P, d) orthonormal rows spanning the same space; rows that add no new
        direction (rank deficiency, e.g. an all-inactive ReLU layer) become zero."""
        q, r = torch.linalg.qr(directions.T.to(torch.float64))
        diag = r.diagonal().abs()
        keep = diag > 1e-9 * max(float(diag.max()), 1e-300)
        return (q * keep.to(q.dtype)).T.to(directions.dtype)

    def estimate(self, loss_fn, params: Tensor, state, key, *, directions: Tensor | None = None,
                 **extras):
        d, P = params.numel(), self.num_directions
        if directions is None or tuple(directions.shape) != (P, d):
            raise ValueError(f"SpanProjection needs extras['directions'] of shape ({P}, {d}), got "
                             f"{None if directions is None else tuple(directions.shape)}")
        q = self.orthonormal(directions).to(params.dtype)
        grad, losses = project_on_rows(loss_fn, params, q, self.epsilon)
        return grad, state, {"device_queries": 2 * P, "loss": float(losses.mean()),
                             "per_knob_step": self.epsilon,
                             "span_rank": int((q.abs().sum(1) > 0).sum())}

"""Mono-Forward local objective (Gong, Li, Abdulla, arXiv:2501.09238).

Layer i has a digital projection M_i ∈ ℝ^{C×n_i} (and a digital bias b_i ∈ ℝ^{n_i}); with the
device readout z_i of the detached layer input a_{i-1}:

    a_i = ReLU(z_i + b_i),   G_i = a_i M_iᵀ,   L_i = CE(softmax(G_i), y)

Every function here is batched over a leading settings dimension so that all perturbed
settings of one estimate are evaluated together (no loop over directions).
"""
from __future__ import annotations

import torch

__all__ = ["PREDICTION_RULES", "activations", "scores", "local_loss", "predict"]

PREDICTION_RULES = ("last", "sum")


def activations(z: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """z (..., B, n) readout, b (..., n) bias → ReLU(z + b) of the same shape as z."""
    return torch.relu(z + b.unsqueeze(-2))


def scores(a: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """a (..., B, n), M (..., C, n) → G = a Mᵀ (..., B, C)."""
    return a @ m.transpose(-1, -2)


def local_loss(g: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of scores g (..., B, C) against labels y (B,) → (...,)."""
    logp = torch.log_softmax(g, dim=-1)
    picked = logp.gather(-1, y.expand(*g.shape[:-1]).unsqueeze(-1)).squeeze(-1)
    return -picked.mean(dim=-1)


def predict(layer_scores: list[torch.Tensor], rule: str = "last") -> torch.Tensor:
    """Class predictions (B,) from per-layer scores [(B, C), ...]: last layer or sum of all."""
    if rule == "last":
        g = layer_scores[-1]
    elif rule == "sum":
        g = torch.stack(layer_scores).sum(0)
    else:
        raise ValueError(f"prediction rule {rule!r}; allowed: {PREDICTION_RULES}")
    return g.argmax(dim=-1)

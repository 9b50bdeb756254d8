"""Gaussian-smoothed Stein derivatives from forward evaluations only (algorithms.md §8;
Zhao et al., arXiv:2308.09858).

The model is the smoothed network u_σ(x) = E u(x + σν), ν ~ N(0, I_D). Its value and derivatives
are expectations of forward evaluations of u (Stein's identity):

    u_σ(x)      = E u(x + σν)
    ∇u_σ(x)     = E[(u(x + σν) − u(x − σν)) ν] / (2σ)
    Δ_S u_σ(x)  = E[(u(x + σν) + u(x − σν) − 2u(x)) (‖ν_S‖² − |S|)] / (2σ²)

(δ = σν in the reference's form; Δ_S is the Laplacian over the coordinates S, e.g. the space
coordinates of a space–time input: E[ν_i²(‖ν_S‖² − |S|)] = 2 for i ∈ S and 0 otherwise).

The expectation is a quadrature rule over ν: Monte Carlo (antithetic pairs, weights 1/(2n)) or a
Smolyak sparse grid of Gauss–Hermite nodes (:mod:`algorithms.sparse_grid`), which is exact for
polynomials up to total degree 2L − 1: a quadratic u gives ∇u_σ and Δu_σ exactly from a level-3
grid (degree 4 is needed for the Laplacian). A symmetric rule is stored as its centre weight w₀
and one node of each ± pair (half nodes h, weight w_h each for +h and −h), so

    u_σ ≈ w₀ u₀ + Σ_h w_h (u₊ + u₋),   ∇u_σ ≈ Σ_h w_h (u₊ − u₋) h / σ,
    Δ_S u_σ ≈ Σ_h w_h (u₊ + u₋ − 2u₀)(‖h_S‖² − |S|) / σ²

with u₀ = u(x), u± = u(x ± σh): 1 + 2H forward evaluations per point, laid out as
``[x, x + σh_1 … x + σh_H, x − σh_1 … x − σh_H]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .sparse_grid import smolyak_grid

__all__ = ["SteinRule", "SteinEstimate", "sparse_grid_rule", "monte_carlo_rule", "stein_points",
           "stein_combine"]


@dataclass(frozen=True)
class SteinRule:
    """A symmetric quadrature rule for E f(ν), ν ~ N(0, I_D): w₀ + 2 Σ_h w_h = 1."""

    half_nodes: Tensor        # (H, D)
    half_weights: Tensor      # (H,)
    center_weight: float
    name: str = ""

    @property
    def dim(self) -> int:
        return self.half_nodes.shape[1]

    @property
    def evaluations(self) -> int:
        """Forward evaluations of u per point: 1 + 2H."""
        return 1 + 2 * self.half_nodes.shape[0]


def _split_symmetric(nodes: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    center = 0.0
    pos: dict[tuple, float] = {}
    neg: dict[tuple, float] = {}
    for v, w in zip(nodes, weights):
        nz = np.flatnonzero(v)
        if nz.size == 0:
            center += float(w)
            continue
        key = tuple(np.round(v, 12))
        if v[nz[0]] > 0:
            pos[key] = pos.get(key, 0.0) + float(w)
        else:
            neg[tuple(np.round(-v, 12) + 0.0)] = float(w)
    for k, w in pos.items():
        if not math.isclose(neg.get(k, math.nan), w, rel_tol=1e-9, abs_tol=1e-12):
            raise ValueError("quadrature rule is not symmetric under ν → −ν; allowed: symmetric rules")
    keys = list(pos)
    return np.array(keys, dtype=np.float64).reshape(len(keys), nodes.shape[1]), \
        np.array([pos[k] for k in keys]), center


def sparse_grid_rule(dim: int, level: int) -> SteinRule:
    """Smolyak Gauss–Hermite rule of ``level`` (≥ 3 for an exact Laplacian of a quadratic)."""
    g = smolyak_grid(dim, level)
    h, w, c = _split_symmetric(g.nodes, g.weights)
    return SteinRule(torch.as_tensor(h, dtype=torch.float64), torch.as_tensor(w, dtype=torch.float64),
                     c, f"sparse grid L={level}")


def monte_carlo_rule(dim: int, n: int, generator: torch.Generator) -> SteinRule:
    """n antithetic Gaussian pairs ±ν_i (weights 1/(2n) each, no centre weight)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"monte_carlo_rule n = {n!r}; allowed: an integer >= 1")
    nu = torch.randn(n, dim, generator=generator, dtype=torch.float64)
    return SteinRule(nu, torch.full((n,), 0.5 / n, dtype=torch.float64), 0.0, f"Monte Carlo n={n}")


def _sigma(sigma) -> float:
    if isinstance(sigma, bool) or not isinstance(sigma, Real) or not math.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"Stein sigma = {sigma!r}; allowed: a finite number > 0")
    return float(sigma)


def stein_points(x: Tensor, rule: SteinRule, sigma: float) -> Tensor:
    """Points where u is evaluated: x (B, D) → (B, 1 + 2H, D) in the module's layout."""
    sigma = _sigma(sigma)
    if x.dim() != 2 or x.shape[1] != rule.dim:
        raise ValueError(f"stein_points: x has shape {tuple(x.shape)}; allowed (B, {rule.dim})")
    h = (sigma * rule.half_nodes).to(x.dtype)
    xb = x.unsqueeze(1)
    return torch.cat([xb, xb + h, xb - h], dim=1)


@dataclass(frozen=True)
class SteinEstimate:
    value: Tensor      # (..., B)      u_σ
    grad: Tensor       # (..., B, D)   ∇u_σ
    laplacian: Tensor  # (..., B)      Δ_S u_σ


def stein_combine(u: Tensor, rule: SteinRule, sigma: float,
                  laplacian_dims: Sequence[int] | None = None) -> SteinEstimate:
    """Value, gradient and Laplacian of u_σ from u at :func:`stein_points`.

    Args:
        u: (..., B, 1 + 2H) evaluations (any leading dims, e.g. perturbed settings).
        laplacian_dims: the coordinates S of the Laplacian (default: all).
    """
    sigma = _sigma(sigma)
    H = rule.half_nodes.shape[0]
    if u.shape[-1] != 1 + 2 * H:
        raise ValueError(f"stein_combine: u has {u.shape[-1]} evaluations per point; allowed "
                         f"{1 + 2 * H} (1 + 2H for this rule)")
    h = rule.half_nodes.to(u.dtype)
    w = rule.half_weights.to(u.dtype)
    u0, up, um = u[..., 0], u[..., 1:1 + H], u[..., 1 + H:]
    value = rule.center_weight * u0 + (up + um) @ w
    grad = ((up - um) * w) @ h / sigma
    dims = list(range(rule.dim)) if laplacian_dims is None else list(laplacian_dims)
    r2 = (h[:, dims] ** 2).sum(-1) - len(dims)                             # (H,)
    lap = ((up + um - 2 * u0.unsqueeze(-1)) * w) @ r2 / sigma ** 2
    return SteinEstimate(value, grad, lap)

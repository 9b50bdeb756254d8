"""PDE problems and the physics-informed (PINN) residual loss with Stein derivatives
(forward evaluations only; Zhao et al., arXiv:2308.09858; algorithms.md §8).

The model is the Gaussian-smoothed network u_σ (see :mod:`algorithms.stein`); its value,
gradient and Laplacian at every collocation point come from forward evaluations of the network at
the quadrature nodes x ± σν. Loss of one setting:

    L = mean_interior r(x)² + λ_b · mean_boundary (u_σ(x) − g(x))²

with r the PDE residual. Problems (inputs are rows of (B, D); for space–time problems t is the
last coordinate):

* ``poisson1d`` — −u″ = π² sin(πx) on (0, 1), u(0) = u(1) = 0; exact u = sin(πx) (a closed
  form for the fast check).
* ``hjb20`` — the 20-dimensional Hamilton–Jacobi–Bellman equation of Zhao et al.:
  u_t + Δ_x u − 0.05‖∇_x u‖² = −2 on [0, 1]^20 × [0, 1], terminal u(x, 1) = Σ_i x_i (= ‖x‖₁
  on the domain), exact u = Σ_i x_i + 1 − t. Checked against the authors' code (the paper's
  text beyond its abstract is not in the stored sources): ``olokevin/scalable_bpfree_onn_training``
  ``PINNs/HJB_20d_FD/loss_func.py`` forms the residual ``u_t + laplacian − 0.05·Σ u_x² + 2`` with
  the Laplacian over the 20 space coordinates only, and ``dataio.py`` draws (x, t) uniformly on
  [0, 1]^21 with test solution ``Σ x[:, :20] + 1 − t`` — the form of the issue, coefficient,
  source, domain and exact solution alike. Two choices differ from that code: (1) it writes
  the terminal data as Σx, not ‖x‖₁; here too, so that the exact solution is one smooth (linear)
  function on all of ℝ^21 — the Stein nodes x ± σν leave the cube, where ‖x‖₁ ≠ Σx — and its
  smoothed residual vanishes to rounding (tested); (2) it imposes the terminal condition hard,
  u = Σx + (1 − t)·N(x, t), while this objective keeps it as a soft penalty λ_b·(u_σ − g)² on
  points with t = 1 (the issue's formulation; the network's output is what the device
  computes, with nothing added on the host). Consistency: u_t = −1, Δu = 0, ‖∇_x u‖² = 20 and
  −1 + 0 − 0.05·20 = −2.

Error metric: relative L2 error ‖u_σ − u*‖ / ‖u*‖ on test points (``relative_l2``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from ..stein import SteinEstimate, SteinRule, stein_combine, stein_points

__all__ = ["PDEProblem", "Poisson1D", "HJB20", "PROBLEMS", "PDEObjective", "relative_l2",
           "problem_by_name"]


class PDEProblem(Protocol):
    name: str
    dim: int
    laplacian_dims: tuple[int, ...]

    def sample_interior(self, n: int, gen: torch.Generator) -> Tensor: ...

    def sample_boundary(self, n: int, gen: torch.Generator) -> Tensor: ...

    def residual(self, est: SteinEstimate, x: Tensor) -> Tensor: ...

    def boundary_target(self, x: Tensor) -> Tensor: ...

    def exact(self, x: Tensor) -> Tensor: ...


@dataclass(frozen=True)
class Poisson1D:
    """−u″ = π² sin(πx) on (0, 1), u(0) = u(1) = 0; u* = sin(πx)."""

    name: str = "poisson1d"
    dim: int = 1
    laplacian_dims: tuple[int, ...] = (0,)

    def sample_interior(self, n: int, gen: torch.Generator) -> Tensor:
        return torch.rand(n, 1, generator=gen)

    def sample_boundary(self, n: int, gen: torch.Generator) -> Tensor:
        return (torch.arange(n) % 2).float().reshape(n, 1)            # 0, 1, 0, 1, …

    def residual(self, est: SteinEstimate, x: Tensor) -> Tensor:
        return -est.laplacian - math.pi ** 2 * torch.sin(math.pi * x[..., 0])

    def boundary_target(self, x: Tensor) -> Tensor:
        return torch.zeros(x.shape[:-1])

    def exact(self, x: Tensor) -> Tensor:
        return torch.sin(math.pi * x[..., 0])


#: Coefficient of ‖∇u‖² and source of the HJB equation of Zhao et al. (arXiv:2308.09858): the
#: residual ``u_t + laplacian - 0.05*sum(u_x**2) + 2`` of the authors' code
#: (olokevin/scalable_bpfree_onn_training, PINNs/HJB_20d_FD/loss_func.py).
HJB_GRADIENT_COEFF = 0.05
HJB_SOURCE = -2.0


@dataclass(frozen=True)
class HJB20:
    """u_t + Δ_x u − 0.05‖∇_x u‖² = −2 on [0, 1]^20 × [0, 1], u(x, 1) = Σx_i; u* = Σx_i + 1 − t
    (Σx_i = ‖x‖₁ on the domain; the linear form holds outside it too, where Stein nodes fall)."""

    name: str = "hjb20"
    space_dim: int = 20

    @property
    def dim(self) -> int:
        return self.space_dim + 1

    @property
    def laplacian_dims(self) -> tuple[int, ...]:
        return tuple(range(self.space_dim))

    def sample_interior(self, n: int, gen: torch.Generator) -> Tensor:
        return torch.rand(n, self.dim, generator=gen)

    def sample_boundary(self, n: int, gen: torch.Generator) -> Tensor:
        x = torch.rand(n, self.dim, generator=gen)
        x[:, -1] = 1.0                                                  # terminal time t = 1
        return x

    def residual(self, est: SteinEstimate, x: Tensor) -> Tensor:
        gx, gt = est.grad[..., :self.space_dim], est.grad[..., -1]
        return gt + est.laplacian - HJB_GRADIENT_COEFF * (gx ** 2).sum(-1) - HJB_SOURCE

    def boundary_target(self, x: Tensor) -> Tensor:
        return x[..., :self.space_dim].sum(-1)

    def exact(self, x: Tensor) -> Tensor:
        return x[..., :self.space_dim].sum(-1) + 1.0 - x[..., -1]


PROBLEMS = {"poisson1d": Poisson1D, "hjb20": HJB20}


def problem_by_name(name: str) -> PDEProblem:
    if name not in PROBLEMS:
        raise ValueError(f"pde.problem = {name!r}; allowed: {', '.join(PROBLEMS)}")
    return PROBLEMS[name]()


def relative_l2(u: Tensor, u_exact: Tensor) -> float:
    """‖u − u*‖₂ / ‖u*‖₂."""
    return float(torch.linalg.vector_norm(u - u_exact) / torch.linalg.vector_norm(u_exact))


@dataclass(frozen=True, eq=False)
class PDEObjective:
    """The PINN loss of ``problem`` with Stein derivatives from ``rule`` at smoothing ``sigma``.

    ``x`` = interior collocation points (B_i, D), ``y`` = boundary points (B_b, D). The network's
    inputs are the Stein points of both, (B_i + B_b)·(1 + 2H) rows.
    """

    problem: PDEProblem
    rule: SteinRule
    sigma: float
    boundary_weight: float = 1.0

    @property
    def evaluations_per_point(self) -> int:
        return self.rule.evaluations

    def inputs(self, x: Tensor, y: Tensor) -> Tensor:
        pts = stein_points(torch.cat([x, y]).double(), self.rule, self.sigma)
        return pts.reshape(-1, self.problem.dim).float()

    def _estimate(self, out: Tensor, n_points: int) -> SteinEstimate:
        u = out[..., 0].reshape(*out.shape[:-2], n_points, self.rule.evaluations).double()
        return stein_combine(u, self.rule, self.sigma, self.problem.laplacian_dims)

    def losses(self, out: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """Network outputs (S, N·(1+2H), 1) → loss per setting (S,)."""
        est = self._estimate(out, x.shape[0] + y.shape[0])
        bi = x.shape[0]
        interior = SteinEstimate(est.value[..., :bi], est.grad[..., :bi, :], est.laplacian[..., :bi])
        r = self.problem.residual(interior, x.double())
        b = est.value[..., bi:] - self.problem.boundary_target(y.double())
        return ((r ** 2).mean(-1) + self.boundary_weight * (b ** 2).mean(-1)).float()

    def output_bias_grad(self, out0: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """∂L/∂b of the output bias (1,): b shifts u_σ by b (the rule's weights sum to 1) and
        leaves every Stein derivative unchanged (differences of u), and neither residual uses
        u itself, so only the boundary term depends on it: 2λ_b · mean(u_σ − g)."""
        est = self._estimate(out0.unsqueeze(0), x.shape[0] + y.shape[0])
        b = est.value[0, x.shape[0]:] - self.problem.boundary_target(y.double())
        return (2 * self.boundary_weight * b.mean()).float().reshape(1)

    def values(self, out: Tensor, n_points: int) -> Tensor:
        """u_σ (…, n_points) from outputs at the Stein points of n_points points."""
        return self._estimate(out, n_points).value.float()

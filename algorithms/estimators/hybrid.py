"""Hybrid zeroth-order estimate: coordinate-wise (CGE) on chosen coordinates, randomized
Rademacher (RGE) on the rest, in ONE batched evaluation with a shared base setting.

What the paper says, and what is known of it here. Zhao et al. (arXiv:2308.09858) list "a hybrid
gradient evaluation approach to improve the efficiency of ZO training" as their second
contribution. The stored copies of the paper (ar5iv and abstract pages) hold the abstract and
the opening of the introduction only, so the definition itself could not be read and is not
claimed here (algorithms.md §8 marks it [NR]). The authors' companion code
(``olokevin/scalable_bpfree_onn_training``, ``core/ZO_Estim/ZO_Estim_MC.py``, used with the
companion paper arXiv:2502.12384) offers, per run, either a coordinate-wise estimate
(``sample_method: coord_basis``: one query per coordinate, forward or antithetic) or a
randomized one (``bernoulli`` = Rademacher, ``gaussian``, …) over the listed parameter groups,
and, separately, activation (node) perturbation — a ZO estimate of ∂L/∂(layer output) turned
into exact weight gradients by the local product ``ZO_gradᵀ · input`` — which can be combined
with parameter perturbation of other groups in one ``estimate_grad`` call. Its reference configs
(``MNIST/configs/tt.yml``, ``PINNs/HJB_20d_FD/configs_weight/Ours.ini``) use the randomized
estimate (Rademacher, N = 10, σ = 0.01) over all parameters — forward differences for MNIST,
antithetic (central) for the HJB — and no activation perturbation.

What is implemented (this module), a mix of the code's two parameter-perturbation modes and
nothing more:

    RGE (coordinates R):  ĝ_R = (1/P) Σ_p Δ_p u_p / ε,   u_p ∈ {±1}^R,   Δ_p = L(θ + ε⊙u_p) − L(θ)
    CGE (coordinates C):  ĝ_i = [L(θ + ε_i e_i) − L(θ)] / ε_i                       (i ∈ C)

with a per-coordinate step ε (D,) (the TT cores of a device take the device's perturbation rule,
host biases their own). The trainer (``algorithms.registry.build_tt``, ``gradient = "hybrid"``)
makes C the parameter groups of at most ``cge_max_group`` coordinates (small cores, hidden
biases) and R the rest; ``gradient = "rge"`` (C empty) is the reference configs' estimator.
Separately, the TT-ZO trainer gives the digital output bias its exact host gradient (no device
query; :mod:`algorithms.tt_zo`) — first-order where it needs no backward pass through the
device; activation perturbation is not implemented. Forward differences as in the reference code
(``tt.yml``: σ = 0.01, N = 10 Rademacher samples, ``estimate_method: forward``);
``difference="central"`` uses ±. E[u u_jᵀ] = I makes ĝ_R unbiased to O(ε) (forward) or O(ε²)
(central); CGE is deterministic.

Layout of the settings (rows of the one batched call):
    forward: [θ, θ + ε⊙u_1 … θ + ε⊙u_P, θ + ε_i e_i (i ∈ C)]                    1 + P + |C|
    central: [θ, θ + ε⊙u_1 … , θ − ε⊙u_1 …, θ + ε_i e_i …, θ − ε_i e_i …]      1 + 2P + 2|C|
Row 0 is the clean setting (its outputs serve the step's exact host gradients and metrics).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass


from .base import check_losses
from .directions import sample_directions

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["HybridZO", "HYBRID_DIFFERENCES"]

HYBRID_DIFFERENCES = ("forward", "central")


@dataclass(frozen=True, eq=False)
class HybridZO:
    """``epsilon``: (D,) per-coordinate step; ``cge``: (D,) bool mask of the CGE coordinates."""

    epsilon: Tensor
    cge: Tensor
    num_directions: int = 10
    difference: str = "forward"

    def __post_init__(self) -> None:
        p = self.num_directions
        if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p <= 100_000:
            raise ValueError(f"HybridZO.num_directions = {p!r}; allowed: an integer in [0, 100000]")
        if self.difference not in HYBRID_DIFFERENCES:
            raise ValueError(f"HybridZO.difference = {self.difference!r}; allowed: {HYBRID_DIFFERENCES}")
        eps = torch.as_tensor(self.epsilon, dtype=torch.float32)
        if eps.dim() != 1 or not torch.isfinite(eps).all() or (eps <= 0).any():
            raise ValueError("HybridZO.epsilon: allowed a (D,) tensor of finite steps > 0")
        cge = torch.as_tensor(self.cge, dtype=torch.bool)
        if cge.shape != eps.shape:
            raise ValueError(f"HybridZO.cge has shape {tuple(cge.shape)}; allowed {tuple(eps.shape)}")
        if p == 0 and not bool(cge.all()):
            raise ValueError("HybridZO.num_directions = 0 leaves RGE coordinates unestimated; "
                             "allowed: >= 1 unless every coordinate is CGE")
        object.__setattr__(self, "epsilon", eps)
        object.__setattr__(self, "cge", cge)

    @property
    def n_cge(self) -> int:
        return int(self.cge.sum())

    needs = frozenset()

    def combine_flops(self, d: int) -> float:
        return 2.0 * self.num_directions * d

    def init(self, params: Tensor) -> tuple:
        return ()

    def device_queries(self) -> int:
        """Settings per estimate, the clean row included."""
        k = self.num_directions + self.n_cge
        return 1 + (k if self.difference == "forward" else 2 * k)

    def settings(self, params: Tensor, key: torch.Generator) -> tuple[Tensor, Tensor]:
        """All settings (n, D) and the Rademacher directions (P, D) (zero on CGE coordinates)."""
        D = params.shape[0]
        if self.epsilon.shape != (D,):
            raise ValueError(f"HybridZO: params have {D} coordinates; epsilon has {self.epsilon.shape[0]}")
        u = sample_directions("rademacher", self.num_directions, D, key) if self.num_directions \
            else torch.zeros(0, D)
        u = u.to(params.dtype) * (~self.cge).to(params.dtype)
        eps = self.epsilon.to(params.dtype)
        idx = torch.nonzero(self.cge).reshape(-1)
        e = torch.zeros(idx.numel(), D, dtype=params.dtype)
        e[torch.arange(idx.numel()), idx] = eps[idx]
        plus = torch.cat([params + eps * u, params + e])
        if self.difference == "forward":
            return torch.cat([params.unsqueeze(0), plus]), u
        minus = torch.cat([params - eps * u, params - e])
        return torch.cat([params.unsqueeze(0), plus, minus]), u

    def combine(self, losses: Tensor, u: Tensor) -> Tensor:
        P, C = u.shape[0], self.n_cge
        eps = self.epsilon.to(u.dtype)
        base = losses[0]
        plus = losses[1:1 + P + C]
        if self.difference == "forward":
            delta = plus - base
        else:
            delta = (plus - losses[1 + P + C:]) / 2
        delta = delta.to(u.dtype)
        g = torch.zeros(u.shape[1], dtype=u.dtype)
        if P:
            g = (delta[:P] @ u) / P / eps
        if C:
            idx = torch.nonzero(self.cge).reshape(-1)
            g[idx] = delta[P:] / eps[idx]
        return g

    def estimate(self, loss_fn, params: Tensor, state, key: torch.Generator, **extras):
        s, u = self.settings(params, key)
        losses = check_losses(loss_fn(s), s.shape[0])
        return self.combine(losses, u), state, {"device_queries": s.shape[0],
                                                "loss": float(losses[0])}

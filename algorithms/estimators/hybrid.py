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

Layer-wise perturbation (``groups``): the reference config perturbs one layer at a time
(``tt.yml`` ``en_layerwise_perturbation: True``; ``ZO_Estim_MC.get_param_ZO_gradient`` loops over
the perturbed parameters, each with its own N samples against the shared clean loss). With
``groups`` (D,) (a group id per coordinate), the P directions are drawn per group, each row
Rademacher on its group's coordinates and zero elsewhere, so each group's estimate is the RGE
of that group alone — P rows per group, all in the same one batched call (no loop over
directions or groups). (The reference divides its running sum by N inside its sample loop; the
mean 1/N of the RGE formula above is used here.) Without ``groups`` every RGE coordinate is
perturbed in every row (all at once).

Layout of the settings (rows of the one batched call):
    forward: [θ, θ + ε⊙u_1 … θ + ε⊙u_R, θ + ε_i e_i (i ∈ C)]                    1 + R + |C|
    central: [θ, θ + ε⊙u_1 … , θ − ε⊙u_1 …, θ + ε_i e_i …, θ − ε_i e_i …]      1 + 2R + 2|C|
with R = P (all at once) or P × (groups with RGE coordinates), group by group.
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
    """``epsilon``: (D,) per-coordinate step; ``cge``: (D,) bool mask of the CGE coordinates;
    ``groups``: (D,) integer group of every coordinate (layer-wise perturbation: P directions
    per group), or None (every RGE coordinate in every direction)."""

    epsilon: Tensor
    cge: Tensor
    num_directions: int = 10
    difference: str = "forward"
    groups: Tensor | None = None

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
        if self.groups is not None:
            grp = torch.as_tensor(self.groups)
            if grp.shape != eps.shape or grp.is_floating_point() or grp.is_complex():
                raise ValueError(f"HybridZO.groups has shape {tuple(grp.shape)}; allowed: None or "
                                 f"a ({eps.shape[0]},) integer tensor")
            object.__setattr__(self, "groups", grp.long())

    @property
    def n_cge(self) -> int:
        return int(self.cge.sum())

    @property
    def rge_groups(self) -> Tensor:
        """Ids of the groups that hold RGE coordinates (one: all at once)."""
        if self.groups is None:
            return torch.zeros(1, dtype=torch.long)
        return torch.unique(self.groups[~self.cge])

    @property
    def n_rge_rows(self) -> int:
        """Randomized directions per estimate: P, or P per group (layer-wise)."""
        return self.num_directions * int(self.rge_groups.numel())

    needs = frozenset()

    def combine_flops(self, d: int) -> float:
        return 2.0 * self.n_rge_rows * d

    def init(self, params: Tensor) -> tuple:
        return ()

    def device_queries(self) -> int:
        """Settings per estimate, the clean row included."""
        k = self.n_rge_rows + self.n_cge
        return 1 + (k if self.difference == "forward" else 2 * k)

    def settings(self, params: Tensor, key: torch.Generator) -> tuple[Tensor, Tensor]:
        """All settings (n, D) and the Rademacher directions (R, D) (zero on CGE coordinates;
        layer-wise: row r perturbs group ``rge_groups[r // P]`` only)."""
        D = params.shape[0]
        if self.epsilon.shape != (D,):
            raise ValueError(f"HybridZO: params have {D} coordinates; epsilon has {self.epsilon.shape[0]}")
        R = self.n_rge_rows
        u = sample_directions("rademacher", R, D, key) if R else torch.zeros(0, D)
        u = u.to(params.dtype) * (~self.cge).to(params.dtype)
        if self.groups is not None and R:
            row_group = self.rge_groups.repeat_interleave(self.num_directions)      # (R,)
            u = u * (self.groups.unsqueeze(0) == row_group.unsqueeze(1)).to(params.dtype)
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
        # each coordinate lies in the rows of its own group only: Σ_rows Δ u / (P ε) is every
        # group's own P-direction mean
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
            g = (delta[:P] @ u) / self.num_directions / eps
        if C:
            idx = torch.nonzero(self.cge).reshape(-1)
            g[idx] = delta[P:] / eps[idx]
        return g

    def estimate(self, loss_fn, params: Tensor, state, key: torch.Generator, **extras):
        s, u = self.settings(params, key)
        losses = check_losses(loss_fn(s), s.shape[0])
        return self.combine(losses, u), state, {"device_queries": s.shape[0],
                                                "loss": float(losses[0])}

"""Objective objects: Mono-Forward local heads (with an optional fixed random projection) and a
global cross-entropy, each with its exact closed-form gradient (host arithmetic, no autograd).

Mono-Forward head (Gong, Li, Abdulla, arXiv:2501.09238; algorithms.md §2), on the flattened stage
output a (…, B, n):

    G = a Mᵀ                (no projection; M ∈ ℝ^{C×n})
    G = (a Rᵀ) Mᵀ           (random projection, thesis; algorithms.md §3: R ∈ ℝ^{k×n} fixed,
                             entries N(0, 1/k), M ∈ ℝ^{C×k} trainable — for large conv activations)
    L = mean_b CE(softmax(G_b), y_b)

Closed forms: with S = softmax(G), ∂L/∂G = (S − onehot(y))/B; ∂L/∂M = ∂L/∂Gᵀ h (h = a or a Rᵀ);
∂L/∂a = ∂L/∂G M (R). Every method is batched over the leading settings dimension.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import math
from dataclasses import dataclass

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor


__all__ = ["MonoForwardHead", "GlobalCrossEntropy", "cross_entropy", "example_losses"]


#: Class counts up to which (log-)softmax runs over a contiguous transposed copy.
_NARROW_CLASSES = 32


def log_softmax_classes(g: Tensor) -> Tensor:
    """log softmax of scores g (…, C) over the classes. Why the transpose: torch's CPU kernel
    along a narrow last axis (C = 10) vectorises poorly; over the batch-major copy it is ~8×
    faster for the (2P+1, B, 10) scores of an estimate. Values agree within a few ε of the
    log-sum-exp's scale (bit for bit on some CPUs; the vectorised exp rounds differently for the
    other layout on others: up to 8 ε measured, tests allow 16), so a run's
    trajectory can differ at rounding level: the default run gave 0.933/0.944/0.947/0.942 on
    seeds 0–3 against 0.944/0.944/0.950/0.942 before. (The clean pass's softmax is one (B, C)
    call and stays torch's.)"""
    if g.dim() < 2 or g.shape[-1] > _NARROW_CLASSES:
        return torch.log_softmax(g, dim=-1)
    return torch.log_softmax(g.transpose(-1, -2).contiguous(), dim=-2).transpose(-1, -2)


def example_losses(g: Tensor, y: Tensor) -> Tensor:
    """Per-example CE of scores g (…, B, C) against labels y (B,) → (…, B)."""
    logp = log_softmax_classes(g)
    return -logp.gather(-1, y.expand(*g.shape[:-1]).unsqueeze(-1)).squeeze(-1)


def cross_entropy(g: Tensor, y: Tensor) -> Tensor:
    """Mean CE over the batch: (…, B, C) → (…,)."""
    return example_losses(g, y).mean(dim=-1)


@dataclass(frozen=True)
class MonoForwardHead:
    """A local classifier head on an n-wide stage output; ``projection_dim`` k uses a fixed R."""

    n_classes: int
    n_features: int
    projection_dim: int | None = None

    def __post_init__(self) -> None:
        for name in ("n_classes", "n_features"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"MonoForwardHead.{name} = {v!r}; allowed: an integer >= 1")
        k = self.projection_dim
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise ValueError(f"projection_dim = {k!r}; allowed: an integer >= 1 or None")

    @property
    def width(self) -> int:
        return self.projection_dim or self.n_features

    def init(self, gen: torch.Generator) -> dict[str, Tensor]:
        """M ~ kaiming_uniform(a=√5) = U(−1/√k, 1/√k) (MF re-implementations, algorithms.md §2);
        R ~ N(0, 1/k) fixed (never trained; carried with the params for convenience)."""
        bound = 1.0 / math.sqrt(self.width)
        p = {"M": (2 * torch.rand(self.n_classes, self.width, generator=gen) - 1) * bound}
        if self.projection_dim is not None:
            p["R"] = torch.randn(self.projection_dim, self.n_features, generator=gen) \
                / math.sqrt(self.projection_dim)
        return p

    def features(self, a: Tensor, params) -> Tensor:
        return a @ params["R"].T if "R" in params else a

    def scores(self, a: Tensor, params) -> Tensor:
        """a (…, B, n) → G (…, B, C)."""
        return self.features(a, params) @ params["M"].transpose(-1, -2)

    def loss(self, a: Tensor, y: Tensor, params) -> Tensor:
        """(…, B, n) → mean CE (…,)."""
        return cross_entropy(self.scores(a, params), y)

    def loss_and_grads(self, a: Tensor, y: Tensor, params) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        """Clean pass a (B, n): (loss, {"M": ∂L/∂M}, ∂L/∂a (B, n)), all closed form."""
        h = self.features(a, params)
        g = h @ params["M"].T
        s = torch.softmax(g, dim=-1)
        dg = (s - torch.nn.functional.one_hot(y, self.n_classes).to(s.dtype)) / a.shape[0]
        loss = cross_entropy(g, y)
        return loss, {"M": dg.T @ h}, self.pullback_scores(dg, params)

    def pullback_scores(self, dg: Tensor, params) -> Tensor:
        """Score cotangents dG (…, B, C) → feature cotangents ∂L/∂a = dG M (R) (…, B, n)."""
        da = dg @ params["M"]
        return da @ params["R"] if "R" in params else da

    def flops(self, batch: int) -> int:
        """Host FLOPs of one forward + closed-form backward of the head."""
        c, k, n = self.n_classes, self.width, self.n_features
        proj = 2 * batch * k * n if self.projection_dim else 0
        return batch * (4 * c * k + 6 * c) + 2 * proj


@dataclass(frozen=True)
class GlobalCrossEntropy:
    """Global objective: CE of the last stage's head over the whole network (global forward
    gradients estimate one ∂L/∂θ over all knobs). Same closed forms as the head it wraps."""

    head: MonoForwardHead

    def loss(self, a_last: Tensor, y: Tensor, params) -> Tensor:
        return self.head.loss(a_last, y, params)

    def loss_and_grads(self, a_last: Tensor, y: Tensor, params):
        return self.head.loss_and_grads(a_last, y, params)

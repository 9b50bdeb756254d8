"""Goodness objectives: Scalable Forward-Forward class goodness and Hinton's threshold goodness,
each with its exact closed-form gradient (host arithmetic, no autograd).

Both objects have the local-head interface the :class:`~algorithms.trainer.LocalTrainer` uses
(``init``, ``scores``, ``loss``, ``loss_and_grads``, ``flops``; the digital parameters under
``"M"``), so they compose with it unchanged: the device block's knobs get a forward-only
estimate of the objective, the objective's own digital parameters their exact gradient.

**Class goodness** (Scalable Forward-Forward, Krutsylo, arXiv:2501.03176; author page
krutsylo.neocities.org/sff.html; algorithms.md §7). On a conv stage output a (B, K, H, W) a 1×1
projection P ∈ ℝ^{C×K} (one output channel per class) gives q_c(h, w) = Σ_k P[c, k] a_k(h, w);
class goodness is the mean squared activation of its channel and the loss is the softmax
cross-entropy over the goodness ("the true class is the positive signal and the rest are
negative" — one pass, no label pixels):

    g_c = mean_{h,w} q_c(h, w)²,     L = mean_b CE(softmax(g_b), y_b)

Dense stage: a (B, n) is a conv output with K = n channels on a 1×1 map, so the same definition
gives q = a Pᵀ and g_c = q_c². We chose this over splitting the n units into C groups (FF-style
per-group goodness) because it is the conv rule restricted to H = W = 1 — one objective, one
code path, and the dense head keeps a learned class read-out like the conv one (the same role
the 1×1 convolution plays).

The head reads the block output normalised per example, â = a / rms(a) (the normalised output
the next block receives; ``normalize=False`` reads a itself).

Closed forms: ∂L/∂g = (softmax(g) − onehot(y))/B; ∂g_c/∂q_c(p) = 2 q_c(p)/HW;
∂L/∂P = Σ_{b,p} ∂L/∂q(b, :, p) â(b, :, p)ᵀ; ∂L/∂â = Pᵀ ∂L/∂q; with r = rms(a) over the n
features, ∂L/∂a = ∂L/∂â / r − a (a·∂L/∂â)/(n r³).

**Threshold goodness** (Forward-Forward, Hinton, arXiv:2212.13345; algorithms.md §7): goodness
G = Σ_j a_j² of the stage output; with positive examples (true label embedded, flag y = 1) and
negative ones (wrong label embedded, y = 0)

    L = mean_pos softplus(−(G − θ)) + mean_neg softplus(G − θ)

Closed form: ∂L/∂G = −σ(θ − G)/n_pos (positive), σ(G − θ)/n_neg (negative); ∂G/∂a = 2a.
It has no digital parameters of its own (``"M"`` is an empty tensor); the stage bias still
trains with its exact gradient through the host transforms.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import math
from dataclasses import dataclass


from .heads import cross_entropy

from hwsim.lazy import torch, nn_functional as F

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["ClassGoodnessHead", "ThresholdGoodness", "average_goodness_vote"]


NORM_EPS = 1e-6     # as algorithms.normalized.RMS_EPS: guards an all-zero example


def _rms(a: Tensor) -> Tensor:
    return torch.sqrt(a.square().mean(-1, keepdim=True) + NORM_EPS)


def _positive_int(owner: str, name: str, v) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{owner}.{name} = {v!r}; allowed: an integer >= 1")


@dataclass(frozen=True)
class ClassGoodnessHead:
    """SFF head on a stage output of ``channels`` × ``positions`` (H·W; 1 for a dense stage).

    Inputs are the flattened stage output a (…, B, channels·positions) in (K, H, W) order.
    ``normalize`` (default): the head reads the block output RMS-normalised per example, the
    same normalised output the next block receives ("block output layer-normalised", SFF); it
    makes the goodness independent of the device's readout gain (measured at kaiming init:
    readout rms 0.17–0.55 on mzi-ideal/-default, so un-normalised goodness starts at ~0.02 and
    the CE over it at ln C with a vanishing gradient ∝ q).
    """

    n_classes: int
    channels: int
    positions: int = 1
    normalize: bool = True

    def __post_init__(self) -> None:
        for name in ("n_classes", "channels", "positions"):
            _positive_int("ClassGoodnessHead", name, getattr(self, name))
        if not isinstance(self.normalize, bool):
            raise ValueError(f"ClassGoodnessHead.normalize = {self.normalize!r}; allowed: a bool")

    @property
    def n_features(self) -> int:
        return self.channels * self.positions

    def init(self, gen: torch.Generator) -> dict[str, Tensor]:
        """P (C, K) ~ U(−1/√K, 1/√K): PyTorch's default conv/linear init (kaiming_uniform,
        a = √5), the same as the Mono-Forward heads (algorithms.md §2)."""
        bound = 1.0 / math.sqrt(self.channels)
        return {"M": (2 * torch.rand(self.n_classes, self.channels, generator=gen) - 1) * bound}

    def _maps(self, a: Tensor) -> Tensor:
        if a.shape[-1] != self.n_features:
            raise ValueError(f"ClassGoodnessHead: input width {a.shape[-1]}; allowed: "
                             f"{self.n_features} = channels {self.channels} × positions "
                             f"{self.positions}")
        if self.normalize:
            a = a / _rms(a)
        return a.reshape(*a.shape[:-1], self.channels, self.positions)

    def projected(self, a: Tensor, params) -> Tensor:
        """1×1 projection q (…, B, C, positions)."""
        return params["M"] @ self._maps(a)

    def scores(self, a: Tensor, params) -> Tensor:
        """Class goodness g (…, B, C) = mean over positions of q²."""
        return self.projected(a, params).square().mean(-1)

    def loss(self, a: Tensor, y: Tensor, params) -> Tensor:
        """Mean CE over the goodness: (…, B, n) → (…,)."""
        return cross_entropy(self.scores(a, params), y)

    def loss_and_grads(self, a: Tensor, y: Tensor, params) -> tuple[Tensor, dict[str, Tensor], Tensor]:
        """Clean pass a (B, n): (loss, {"M": ∂L/∂P}, ∂L/∂a (B, n)), closed form."""
        x = self._maps(a)                                     # (B, K, p)
        q = params["M"] @ x                                   # (B, C, p)
        g = q.square().mean(-1)                               # (B, C)
        dg = (torch.softmax(g, -1) - F.one_hot(y, self.n_classes).to(g.dtype)) / a.shape[0]
        dq = dg.unsqueeze(-1) * (2.0 / self.positions) * q    # (B, C, p)
        grad_p = torch.einsum("bcp,bkp->ck", dq, x)
        dx = (params["M"].T @ dq).reshape(a.shape)
        if self.normalize:      # x = a/r, r = √(mean a² + eps): da = dx/r − a (a·dx)/(n r³)
            r = _rms(a)
            dx = dx / r - a * (a * dx).sum(-1, keepdim=True) / (a.shape[-1] * r ** 3)
        return cross_entropy(g, y), {"M": grad_p}, dx

    def flops(self, batch: int) -> int:
        """Host FLOPs of one forward + closed-form backward (projection, squares, softmax)."""
        c, k, p = self.n_classes, self.channels, self.positions
        return batch * (6 * c * k * p + 4 * c * p + 6 * c)


def average_goodness_vote(stage_goodness: list[Tensor]) -> Tensor:
    """SFF prediction: argmax of the goodness (B, C) averaged over blocks → classes (B,)."""
    if not stage_goodness:
        raise ValueError("average_goodness_vote: no stage goodness given; allowed: >= 1 stage")
    return torch.stack(stage_goodness).mean(0).argmax(-1)


@dataclass(frozen=True)
class ThresholdGoodness:
    """FF objective on an n-wide stage output with threshold θ (``threshold``, same units as
    G = Σ_j a_j², i.e. readout units squared). Labels are flags: 1 positive, 0 negative."""

    n_features: int
    threshold: float

    def __post_init__(self) -> None:
        _positive_int("ThresholdGoodness", "n_features", self.n_features)
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
            raise ValueError(f"ThresholdGoodness.threshold = {t!r}; allowed: a finite number >= 0")

    n_classes = 1        # one goodness per example

    def init(self, gen: torch.Generator) -> dict[str, Tensor]:
        return {"M": torch.zeros(0)}          # no digital parameters of its own

    def goodness(self, a: Tensor) -> Tensor:
        """G (…, B) = Σ_j a_j²."""
        return a.square().sum(-1)

    def scores(self, a: Tensor, params=None) -> Tensor:
        """G as a one-column score (…, B, 1) (what the trainer's evaluation collects)."""
        return self.goodness(a).unsqueeze(-1)

    def _weights(self, y: Tensor, dtype) -> tuple[Tensor, Tensor]:
        pos = (y == 1).to(dtype)
        neg = 1.0 - pos
        if float(pos.sum()) == 0 or float(neg.sum()) == 0:
            raise ValueError("ThresholdGoodness: a batch needs positive (flag 1) and negative "
                             "(flag 0) examples")
        return pos / pos.sum(), neg / neg.sum()

    def example_terms(self, a: Tensor, y: Tensor) -> Tensor:
        """softplus(θ − G) for positives, softplus(G − θ) for negatives: (…, B)."""
        m = self.goodness(a) - self.threshold
        sign = torch.where(y == 1, -1.0, 1.0).to(m.dtype)
        return F.softplus(sign * m)

    def loss(self, a: Tensor, y: Tensor, params=None) -> Tensor:
        """mean_pos softplus(θ − G) + mean_neg softplus(G − θ): (…, B, n) → (…,)."""
        wp, wn = self._weights(y, a.dtype)
        return (self.example_terms(a, y) * (wp + wn)).sum(-1)

    def loss_and_grads(self, a: Tensor, y: Tensor, params=None):
        """Clean pass a (B, n): (loss, {"M": empty}, ∂L/∂a (B, n)), closed form."""
        wp, wn = self._weights(y, a.dtype)
        m = self.goodness(a) - self.threshold
        dG = -torch.sigmoid(-m) * wp + torch.sigmoid(m) * wn
        return self.loss(a, y), {"M": torch.zeros(0)}, 2.0 * dG.unsqueeze(-1) * a

    def flops(self, batch: int) -> int:
        return batch * (4 * self.n_features + 8)

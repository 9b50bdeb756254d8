"""Weight-perturbation estimators in the optax shape: directional derivatives (today's
:class:`~algorithms.estimators.zeroth_order.DirectionalDerivative`, kept), low-rank
perturbations and MeZO seed replay.

* :class:`Directional` wraps ``DirectionalDerivative`` (sphere×d, Gaussian, Rademacher; central,
  forward): 2P (central) or P + 1 (forward) device settings per estimate.
* :class:`LowRank`: directions U_p = (1/√r) A_p B_pᵀ on the (m, n) matrix view of θ, A (m, r),
  B (n, r) standard normal, so entries have unit variance and E[vec U vec Uᵀ] = I: the estimator
  ĝ = (1/P) Σ Δ_p vec(U_p) is unbiased like the Gaussian one (s = 1) but a direction is drawn and
  stored as r(m + n) numbers instead of m·n. Central: 2P settings.
* :class:`SeedReplay` (MeZO, Malladi et al. arXiv:2305.17333, Alg. 1; algorithms.md §10): the P
  directions are regenerated from one step seed instead of being kept: the estimate keeps only
  (seed, Δ_1..Δ_P), so a whole trajectory replays from P + 1 numbers per step, and the gradient
  is accumulated chunk by chunk (peak memory = the batched evaluation, not P·d more).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable


from ..checks import count as _count, positive_float as _positive
from .base import check_losses
from .directions import sample_directions
from .zeroth_order import DirectionalDerivative

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["Directional", "LowRank", "SeedReplay"]


@dataclass(frozen=True)
class Directional:
    """ĝ = (s/P) Σ_p Δ_p u_p (see ``zeroth_order``); no state."""

    rule: DirectionalDerivative = field(default_factory=DirectionalDerivative)

    needs = frozenset()

    def combine_flops(self, d: int) -> float:
        return 2.0 * self.rule.num_directions * d

    def init(self, params: Tensor) -> tuple:
        return ()

    def device_queries(self) -> int:
        return self.rule.evaluations()

    def estimate(self, loss_fn: Callable[[Tensor], Tensor], params: Tensor, state, key,
                 **extras) -> tuple[Tensor, tuple, dict]:
        est = self.rule.estimate(loss_fn, params, key)
        return est.grad, state, {"device_queries": self.device_queries(), "loss": est.base_loss,
                                 "per_knob_step": self.rule.per_knob_perturbation(params.numel())}


@dataclass(frozen=True)
class LowRank:
    """Rank-r Gaussian matrix directions on the ``shape`` = (m, n) view of θ (m·n = d).

    ``epsilon``: per-knob rms step (entries of U have unit variance)."""

    shape: tuple[int, int]
    rank: int = 1
    num_directions: int = 8
    epsilon: float = 0.02

    def __post_init__(self) -> None:
        _count("LowRank", "rank", self.rank)
        _count("LowRank", "num_directions", self.num_directions)
        object.__setattr__(self, "epsilon", _positive("LowRank", "epsilon", self.epsilon))
        if len(self.shape) != 2 or min(self.shape) < 1:
            raise ValueError(f"LowRank.shape = {self.shape!r}; allowed: (m, n) with m, n >= 1")

    needs = frozenset()

    def combine_flops(self, d: int) -> float:
        return 2.0 * self.num_directions * d

    def init(self, params: Tensor) -> tuple:
        return ()

    def device_queries(self) -> int:
        return 2 * self.num_directions

    def directions(self, key: torch.Generator) -> Tensor:
        m, n = self.shape
        P, r = self.num_directions, self.rank
        a = sample_directions("gaussian", P * r, m, key).reshape(P, r, m)
        b = sample_directions("gaussian", P * r, n, key).reshape(P, r, n)
        return torch.einsum("prm,prn->pmn", a, b).reshape(P, m * n) / math.sqrt(r)

    def estimate(self, loss_fn, params: Tensor, state, key, **extras):
        m, n = self.shape
        if params.shape != (m * n,):
            raise ValueError(f"LowRank: params have shape {tuple(params.shape)}; allowed ({m * n},)")
        u = self.directions(key).to(params.dtype)
        step = self.epsilon * u
        losses = check_losses(loss_fn(torch.cat([params + step, params - step])), 2 * len(u))
        delta = (losses[: len(u)] - losses[len(u):]) / (2 * self.epsilon)
        grad = (delta.to(u.dtype) @ u) / len(u)
        return grad, state, {"device_queries": self.device_queries(), "loss": float(losses.mean()),
                             "per_knob_step": self.epsilon}


@dataclass(frozen=True)
class SeedReplay:
    """MeZO-style estimate: Gaussian directions regenerated from one seed (central, 2P settings).

    The state is the replay log: a list of (seed, Δ (P,)) per estimate; :meth:`replay` rebuilds
    the gradient from them. ``chunk``: directions regenerated at a time when accumulating ĝ.
    """

    num_directions: int = 8
    epsilon: float = 0.02
    chunk: int = 4

    def __post_init__(self) -> None:
        _count("SeedReplay", "num_directions", self.num_directions)
        _count("SeedReplay", "chunk", self.chunk)
        object.__setattr__(self, "epsilon", _positive("SeedReplay", "epsilon", self.epsilon))

    needs = frozenset()

    def combine_flops(self, d: int) -> float:
        return 2.0 * self.num_directions * d

    def init(self, params: Tensor) -> list:
        return []

    def device_queries(self) -> int:
        return 2 * self.num_directions

    def _chunks(self, seed: int, d: int):
        g = torch.Generator().manual_seed(seed)
        done = 0
        while done < self.num_directions:   # loop over chunks of directions, not directions
            c = min(self.chunk, self.num_directions - done)
            # layout-preserving draws: chunks of rows equal one (P, d) draw
            yield done, sample_directions("gaussian", c, d, g)
            done += c

    def replay(self, seed: int, deltas: Tensor, d: int) -> Tensor:
        """ĝ = (1/P) Σ_p Δ_p z_p(seed), regenerating the directions chunk by chunk."""
        grad = torch.zeros(d)
        for start, u in self._chunks(seed, d):
            grad += deltas[start:start + len(u)].to(u.dtype) @ u
        return grad / self.num_directions

    def estimate(self, loss_fn, params: Tensor, state, key, **extras):
        d, P = params.numel(), self.num_directions
        seed = int(torch.randint(0, 2 ** 62, (1,), generator=key))
        settings = torch.empty(2 * P, d, dtype=params.dtype)
        for start, u in self._chunks(seed, d):
            settings[start:start + len(u)] = params + self.epsilon * u
            settings[P + start:P + start + len(u)] = params - self.epsilon * u
        losses = check_losses(loss_fn(settings), 2 * P)
        del settings
        deltas = (losses[:P] - losses[P:]) / (2 * self.epsilon)
        grad = self.replay(seed, deltas, d).to(params.dtype)
        return grad, [*state, (seed, deltas)], {"device_queries": 2 * P, "loss": float(losses.mean()),
                                                "seed": seed, "per_knob_step": self.epsilon}

"""Directional-derivative (two-point / one-sided) zeroth-order gradient estimates.

    ĝ = (s / P) Σ_{p=1..P} Δ_p u_p
    central: Δ_p = [L(θ + εu_p) − L(θ − εu_p)] / (2ε)      2P evaluations
    forward: Δ_p = [L(θ + εu_p) − L(θ)] / ε                P + 1 evaluations (one shared base)

with u_p from :func:`~algorithms.estimators.directions.sample_directions` and s from
:func:`~algorithms.estimators.directions.direction_scale` (sphere: d, Gaussian/Rademacher: 1).
Conventions (algorithms.md §1, §3, §10):

* sphere × d, central, P = 1, ε = 1e-3 is FFzero's DD estimator (arXiv:2603.24790), used for MF+DD;
* Gaussian, central, s = 1 is MeZO/SPSA (arXiv:2305.17333);
* Gaussian, forward, s = 1 is DeepZero's RGE (arXiv:2310.02025; DeepZero additionally normalises
  per tensor, which is *not* reproduced here).

Learning rates do not transfer between conventions; store :meth:`DirectionalDerivative.convention`
with every run. All evaluations of one estimate go to ``loss_fn`` in a single batched call (one
oracle call, no Python loop over directions); knobs are functional (no mutate-and-restore).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Callable


from ..chunking import chunk_bounds, max_settings_of

from .directions import DIRECTIONS, direction_scale, sample_directions

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "DIFFERENCES",
    "ZEROTH_ORDER_CONVENTIONS",
    "DirectionalDerivative",
    "Estimate",
]

DIFFERENCES: tuple[str, ...] = ("central", "forward")

#: What each direction family means; stored alongside runs (algorithms.md §1).
ZEROTH_ORDER_CONVENTIONS: dict[str, dict[str, str]] = {
    "sphere": {
        "u": "z/||z||, z ~ N(0, I_d)",
        "scale": "d",
        "E_uuT": "I/d",
        "perturbation_norm": "eps",
        "per_knob_perturbation": "eps/sqrt(d)",
        "second_moment_one_direction": "d*||g||^2",
        "reference": "FFzero DD, arXiv:2603.24790 (core/solver.py); MF+DD",
    },
    "gaussian": {
        "u": "N(0, I_d)",
        "scale": "1",
        "E_uuT": "I",
        "perturbation_norm": "~eps*sqrt(d)",
        "per_knob_perturbation": "eps (rms)",
        "second_moment_one_direction": "(d+2)*||g||^2",
        "reference": "MeZO arXiv:2305.17333 (central); DeepZero RGE arXiv:2310.02025 (forward)",
    },
    "rademacher": {
        "u": "u_j in {-1, +1} iid",
        "scale": "1",
        "E_uuT": "I",
        "perturbation_norm": "eps*sqrt(d)",
        "per_knob_perturbation": "eps",
        "second_moment_one_direction": "d*||g||^2",
        "reference": "SPSA; tensor-compressed ZO arXiv:2308.09858",
    },
}


@dataclass(frozen=True)
class Estimate:
    """Result of one zeroth-order estimate.

    Attributes:
        grad: ĝ, shape ``(d,)``.
        losses: the ``n_eval`` losses in the layout of :meth:`DirectionalDerivative.perturb`.
        base_loss: estimate of L(θ): mean of all ± losses (central), or the base loss (forward).
    """

    grad: Tensor
    losses: Tensor
    base_loss: float | None


@dataclass(frozen=True)
class DirectionalDerivative:
    """Zeroth-order gradient estimator ĝ = (s/P) Σ_p Δ_p u_p.

    Attributes:
        directions: one of ``DIRECTIONS`` ("sphere", "gaussian", "rademacher").
        num_directions: P >= 1.
        epsilon: perturbation size: the norm of εu for the sphere, the per-coordinate size for
            Gaussian/Rademacher (so the per-knob step is ε/√d for the sphere; algorithms.md §1).
        difference: "central" (2P evaluations) or "forward" (P + 1, one shared base).

    Layout of the ``n_eval`` settings (rows of the batched oracle call):
        central: ``[θ+εu_1, …, θ+εu_P, θ−εu_1, …, θ−εu_P]``
        forward: ``[θ, θ+εu_1, …, θ+εu_P]``
    """

    directions: str = "sphere"
    num_directions: int = 1
    epsilon: float = 1e-3
    difference: str = "central"

    def __post_init__(self) -> None:
        if self.directions not in DIRECTIONS:
            raise ValueError(f"DirectionalDerivative.directions={self.directions!r} is not "
                             f"allowed; expected one of {DIRECTIONS}")
        p = self.num_directions
        if isinstance(p, bool) or not isinstance(p, int) or p < 1:
            raise ValueError(f"DirectionalDerivative.num_directions={p!r} is not allowed; "
                             "expected an integer >= 1")
        eps = self.epsilon
        if isinstance(eps, bool) or not isinstance(eps, Real) or not math.isfinite(eps) \
                or eps <= 0:
            raise ValueError(f"DirectionalDerivative.epsilon={eps!r} is not allowed; expected "
                             "a finite number > 0")
        object.__setattr__(self, "epsilon", float(eps))
        if self.difference not in DIFFERENCES:
            raise ValueError(f"DirectionalDerivative.difference={self.difference!r} is not "
                             f"allowed; expected one of {DIFFERENCES}")

    # ------------------------------------------------------------------ bookkeeping
    def evaluations(self) -> int:
        """Loss evaluations per estimate: 2P (central) or P + 1 (forward)."""
        p = self.num_directions
        return 2 * p if self.difference == "central" else p + 1

    def convention(self, dim: int | None = None) -> dict:
        """JSON-serialisable description of the estimator convention, to store with a run.

        With ``dim`` the scale and the per-knob perturbation size are numbers; without it the
        scale is ``"d"`` for the sphere.
        """
        out = {
            "estimator": "directional_derivative",
            "directions": self.directions,
            "num_directions": self.num_directions,
            "epsilon": self.epsilon,
            "difference": self.difference,
            "evaluations": self.evaluations(),
            "formula": "g_hat = (scale/P) * sum_p Delta_p u_p",
            "reference": ZEROTH_ORDER_CONVENTIONS[self.directions]["reference"],
        }
        if dim is not None:
            out["dim"] = int(dim)
            out["scale"] = direction_scale(self.directions, dim)
            out["per_knob_perturbation"] = self.per_knob_perturbation(dim)
        else:
            out["scale"] = "d" if self.directions == "sphere" else 1.0
        return out

    def per_knob_perturbation(self, dim: int) -> float:
        """Typical (rms) perturbation of one knob: ε/√d (sphere) or ε (Gaussian/Rademacher).

        Compare with the knob DAC step and the noise floor (algorithms.md §1, §14.5).
        """
        if self.directions == "sphere":
            return self.epsilon / math.sqrt(dim)
        return self.epsilon

    # ------------------------------------------------------------------ the estimator
    def perturb(self, theta: Tensor, directions: Tensor) -> Tensor:
        """All perturbed settings for given directions.

        Args:
            theta: ``(d,)``.
            directions: ``(P, d)``.

        Returns:
            ``(n_eval, d)`` in the layout documented on the class.
        """
        _check_theta(theta)
        if directions.ndim != 2 or directions.shape != (self.num_directions, theta.shape[0]):
            raise ValueError(f"directions must have shape ({self.num_directions}, "
                             f"{theta.shape[0]}), got {tuple(directions.shape)}")
        u = directions.to(dtype=theta.dtype, device=theta.device)
        p, eps = self.num_directions, self.epsilon
        # built in place: one output buffer, one pass per half (no step tensor, no cat)
        out = torch.empty(self.evaluations(), theta.shape[0], dtype=theta.dtype, device=theta.device)
        if self.difference == "central":
            torch.add(theta, u, alpha=eps, out=out[:p])
            torch.sub(theta, u, alpha=eps, out=out[p:])
        else:
            out[0] = theta
            torch.add(theta, u, alpha=eps, out=out[1:])
        return out

    def perturbations(self, theta: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Draw P directions from ``generator`` and build all settings.

        Args:
            theta: ``(d,)`` current knob values.
            generator: the only source of randomness.

        Returns:
            ``(settings, directions)`` with shapes ``(n_eval, d)`` and ``(P, d)``.
        """
        _check_theta(theta)
        u = sample_directions(self.directions, self.num_directions, theta.shape[0], generator,
                              dtype=theta.dtype, device=theta.device)
        return self.perturb(theta, u), u

    def differences(self, losses: Tensor) -> Tensor:
        """Directional finite differences Δ_p from the batched losses.

        Args:
            losses: ``(..., n_eval)`` in the documented layout.

        Returns:
            ``(..., P)``: the scalars worth storing for seed replay (MeZO, arXiv:2305.17333).
        """
        n, p = self.evaluations(), self.num_directions
        if losses.ndim < 1 or losses.shape[-1] != n:
            raise ValueError(f"losses must have shape (..., {n}), got {tuple(losses.shape)}")
        if self.difference == "central":
            return (losses[..., :p] - losses[..., p:]) / (2.0 * self.epsilon)
        return (losses[..., 1:] - losses[..., :1]) / self.epsilon

    def combine(self, losses: Tensor, directions: Tensor) -> Tensor:
        """ĝ = (s/P) Σ_p Δ_p u_p from the batched losses.

        Args:
            losses: ``(n_eval,)`` (or ``(..., n_eval)`` for a batch of independent estimates).
            directions: ``(P, d)`` (or ``(..., P, d)`` with the same leading shape).

        Returns:
            ``(d,)`` (or ``(..., d)``).
        """
        p = self.num_directions
        if directions.ndim < 2 or directions.shape[-2] != p:
            raise ValueError(f"directions must have shape (..., {p}, d), "
                             f"got {tuple(directions.shape)}")
        delta = self.differences(losses)
        if delta.shape[:-1] != directions.shape[:-2]:
            raise ValueError(f"leading shapes differ: losses {tuple(losses.shape)} vs "
                             f"directions {tuple(directions.shape)}")
        s = direction_scale(self.directions, directions.shape[-1])
        delta = delta.to(dtype=directions.dtype, device=directions.device)
        return (s / p) * torch.einsum("...p,...pd->...d", delta, directions)

    def estimate(self, loss_fn: Callable[[Tensor], Tensor], theta: Tensor,
                 generator: torch.Generator) -> Estimate:
        """One estimate with a single batched call ``loss_fn(settings)`` — or, when ``loss_fn``
        declares ``max_settings`` (:class:`algorithms.chunking.SettingsLoss`) below ``n_eval``, in
        calls of at most that many settings (:meth:`estimate_chunked`).

        Args:
            loss_fn: maps ``(n_eval, d)`` settings to ``(n_eval,)`` losses; called exactly once
                (unchunked).
            theta: ``(d,)``.
            generator: the only source of randomness.
        """
        limit = max_settings_of(loss_fn)
        if limit and self.evaluations() > limit:
            return self.estimate_chunked(loss_fn, theta, generator, limit)
        settings, u = self.perturbations(theta, generator)
        losses = self._checked(loss_fn(settings), self.evaluations())
        grad = self.combine(losses, u)
        base = losses.mean() if self.difference == "central" else losses[0]
        return Estimate(grad=grad, losses=losses, base_loss=float(base))

    @staticmethod
    def _checked(losses, n: int) -> Tensor:
        losses = torch.as_tensor(losses).detach()
        if losses.shape != (n,):
            raise ValueError(f"loss_fn must return shape ({n},) for {n} settings, "
                             f"got {tuple(losses.shape)}")
        return losses

    def estimate_chunked(self, loss_fn: Callable[[Tensor], Tensor], theta: Tensor,
                         generator: torch.Generator, max_settings: int) -> Estimate:
        """:meth:`estimate` with at most ``max_settings`` settings per ``loss_fn`` call and
        memory O(max_settings · d) instead of O(P · d).

        The settings go to ``loss_fn`` in the documented layout and order (central: every
        θ+εu_p, then every θ−εu_p), so a device that draws its noise setting by setting returns
        bit-for-bit the losses of the single call. The directions are drawn chunk by chunk
        (layout-preserving draws: the same u_p as one (P, d) draw); for the second half of a
        central estimate the generator is rewound and they are drawn again, so no (P, d) tensor
        is held, and the generator ends where the single call leaves it. ĝ is accumulated over
        chunks in float64 and rounded once: it equals the single call's float32 contraction
        within its rounding (a few float32 ulps of the largest term; tested).
        """
        _check_theta(theta)
        P, eps, d = self.num_directions, self.epsilon, theta.shape[0]
        central = self.difference == "central"
        per_call = max(1, max_settings)
        chunks = chunk_bounds(P, per_call)
        grad = torch.zeros(d, dtype=torch.float64, device=theta.device)
        losses = torch.empty(self.evaluations(), dtype=theta.dtype)
        start_state = generator.get_state()

        def draw(a: int, b: int) -> Tensor:
            return sample_directions(self.directions, b - a, d, generator, dtype=theta.dtype,
                                     device=theta.device)

        def add(delta: Tensor, u: Tensor) -> None:
            grad.add_(delta.to(torch.float64) @ u.to(torch.float64))

        if central:
            for a, b in chunks:                                   # θ + εu_p, in order
                losses[a:b] = self._checked(loss_fn(torch.add(theta, draw(a, b), alpha=eps)), b - a)
            generator.set_state(start_state)
            for a, b in chunks:                                   # θ − εu_p, same u_p again
                u = draw(a, b)
                losses[P + a:P + b] = self._checked(loss_fn(torch.sub(theta, u, alpha=eps)), b - a)
                add((losses[a:b] - losses[P + a:P + b]) / (2.0 * eps), u)
            base = losses.mean()
        else:
            losses[:1] = self._checked(loss_fn(theta.unsqueeze(0)), 1)
            for a, b in chunks:
                u = draw(a, b)
                losses[1 + a:1 + b] = self._checked(loss_fn(torch.add(theta, u, alpha=eps)), b - a)
                add((losses[1 + a:1 + b] - losses[:1]) / eps, u)
            base = losses[0]
        s = direction_scale(self.directions, d)
        return Estimate(grad=((s / P) * grad).to(theta.dtype), losses=losses, base_loss=float(base))


def _check_theta(theta: Tensor) -> None:
    if not isinstance(theta, torch.Tensor) or theta.ndim != 1 or not theta.is_floating_point():
        raise ValueError("theta must be a 1-D floating-point tensor of shape (d,), got "
                         f"{getattr(theta, 'shape', type(theta))}")

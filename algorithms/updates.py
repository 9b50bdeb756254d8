"""Optax-shaped update rules on dicts of tensors.

A :class:`GradientTransformation` is a frozen dataclass (its hyperparameters are data, so a
checkpoint of a trainer holds data only) with two pure methods::

    state = tx.init(params)
    updates, state = tx.update(grads, state, params)
    params = apply_updates(params, updates)          # params + updates

``params``, ``grads`` and ``updates`` are ``dict[str, Tensor]`` with the same keys and shapes.
Updates already carry the minus sign (optax convention), so ``sgd(lr)`` returns ``-lr * g``.
Nothing passed in is modified in place; every call returns new tensors and a new state.
The gradients may come from any estimator (e.g. :mod:`algorithms.estimators`); no autograd here.

Recurrences (t = 1, 2, …):

* ``sgd``:      u = −η g
* ``momentum``: m ← β m + g;  u = −η m  (Nesterov: u = −η (g + β m)); torch.optim.SGD with
  dampening 0, optax ``trace``.
* ``adam``:     m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;
  u = −η m̂ / (√v̂ + eps) with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t) (Kingma & Ba, arXiv:1412.6980;
  same as torch.optim.Adam and optax.adam).
* ``clip_by_global_norm``: u = g · min(1, c / ‖g‖) with ‖g‖ the norm over all tensors in the dict.
"""
from __future__ import annotations

import math
from numbers import Real
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor


__all__ = [
    "Params",
    "GradientTransformation",
    "Scale",
    "Momentum",
    "Adam",
    "ADAM_FORMS",
    "ClipByGlobalNorm",
    "Chain",
    "EmptyState",
    "MomentumState",
    "AdamState",
    "sgd",
    "momentum",
    "adam",
    "clip_by_global_norm",
    "scale",
    "chain",
    "apply_updates",
    "scale_updates",
    "global_norm",
]

Params = dict[str, "Tensor"]


@runtime_checkable
class GradientTransformation(Protocol):
    """``init(params) -> state``; ``update(grads, state, params=None) -> (updates, state)``."""

    def init(self, params: Params) -> Any: ...

    def update(self, grads: Params, state: Any, params: Params | None = None
               ) -> tuple[Params, Any]: ...


class EmptyState(NamedTuple):
    """State of stateless transformations."""


class MomentumState(NamedTuple):
    trace: Params  # m, same keys/shapes as params


class AdamState(NamedTuple):
    count: int     # number of updates done so far
    mu: Params     # first moment m
    nu: Params     # second moment v


# ---------------------------------------------------------------------- validation helpers
def _finite_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} is not allowed; expected a finite number")
    return float(value)


def _positive(name: str, value: Any) -> float:
    v = _finite_real(name, value)
    if v <= 0:
        raise ValueError(f"{name}={value!r} is not allowed; expected a finite number > 0")
    return v


def _unit_interval(name: str, value: Any) -> float:
    v = _finite_real(name, value)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"{name}={value!r} is not allowed; expected 0 <= {name} < 1")
    return v


def _check_keys(grads: Params, other: Params, what: str) -> None:
    if grads.keys() != other.keys():
        raise ValueError(f"grads keys {sorted(grads)} do not match {what} keys {sorted(other)}")


def _zeros_like(params: Params) -> Params:
    return {k: torch.zeros_like(v) for k, v in params.items()}


# ---------------------------------------------------------------------- transformations
@dataclass(frozen=True)
class Scale:
    """u = factor · g (stateless; any finite factor)."""

    factor: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "factor", _finite_real("factor", self.factor))

    def init(self, params: Params) -> EmptyState:
        return EmptyState()

    def update(self, grads: Params, state: EmptyState, params: Params | None = None):
        return {k: g * self.factor for k, g in grads.items()}, state


@dataclass(frozen=True)
class Momentum:
    """Heavy-ball / Nesterov momentum: m ← β m + g; u = −lr · m (or −lr · (g + β m))."""

    lr: float
    beta: float = 0.9
    nesterov: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _positive("lr", self.lr))
        object.__setattr__(self, "beta", _unit_interval("beta", self.beta))
        object.__setattr__(self, "nesterov", bool(self.nesterov))

    def init(self, params: Params) -> MomentumState:
        return MomentumState(trace=_zeros_like(params))

    def update(self, grads: Params, state: MomentumState, params: Params | None = None):
        _check_keys(grads, state.trace, "state")
        lr, beta = self.lr, self.beta
        trace = {k: beta * state.trace[k] + g for k, g in grads.items()}
        if self.nesterov:
            updates = {k: -lr * (g + beta * trace[k]) for k, g in grads.items()}
        else:
            updates = {k: -lr * m for k, m in trace.items()}
        return updates, MomentumState(trace=trace)


#: How :class:`Adam` orders its floating-point operations: ``"paper"`` as written in Kingma &
#: Ba; ``"torch"`` as torch.optim.Adam's single-tensor CPU path (m.lerp_(g, 1 − β1),
#: v.mul_(β2).addcmul_(g, g, 1 − β2), denominator √v / √(1 − β2^t) + eps, and the step
#: (−η/(1 − β1^t))·m / denominator), so that p + update equals torch's in-place
#: ``addcdiv_`` bit for bit (tests/algorithms/test_updates.py) without constructing a torch
#: optimizer (whose first ``add_param_group`` imports torch's compiler, about 1 s of CPU).
ADAM_FORMS = ("paper", "torch")


@dataclass(frozen=True)
class Adam:
    """Adam with bias correction (arXiv:1412.6980), eps outside the square root; ``form``
    (:data:`ADAM_FORMS`) orders the floating-point operations."""

    lr: float
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    form: str = "paper"

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr", _positive("lr", self.lr))
        object.__setattr__(self, "b1", _unit_interval("b1", self.b1))
        object.__setattr__(self, "b2", _unit_interval("b2", self.b2))
        eps = _finite_real("eps", self.eps)
        if eps < 0:
            raise ValueError(f"eps={eps!r} is not allowed; expected a finite number >= 0")
        object.__setattr__(self, "eps", eps)
        if self.form not in ADAM_FORMS:
            raise ValueError(f"Adam form={self.form!r} is not allowed; allowed: {ADAM_FORMS}")

    def init(self, params: Params) -> AdamState:
        return AdamState(count=0, mu=_zeros_like(params), nu=_zeros_like(params))

    def update(self, grads: Params, state: AdamState, params: Params | None = None):
        _check_keys(grads, state.mu, "state")
        b1, b2, lr, eps = self.b1, self.b2, self.lr, self.eps
        t = state.count + 1
        if self.form == "torch":
            mu = {k: torch.lerp(state.mu[k], g, 1.0 - b1) for k, g in grads.items()}
            nu = {k: torch.addcmul(state.nu[k] * b2, g, g, value=1.0 - b2)
                  for k, g in grads.items()}
            c2_sqrt = (1.0 - b2 ** t) ** 0.5
            step = -(lr / (1.0 - b1 ** t))
            updates = {k: (mu[k] * step) / (nu[k].sqrt() / c2_sqrt).add_(eps) for k in grads}
            return updates, AdamState(count=t, mu=mu, nu=nu)
        mu = {k: b1 * state.mu[k] + (1.0 - b1) * g for k, g in grads.items()}
        nu = {k: b2 * state.nu[k] + (1.0 - b2) * (g * g) for k, g in grads.items()}
        c1 = 1.0 - b1 ** t
        c2 = 1.0 - b2 ** t
        updates = {k: -lr * (mu[k] / c1) / ((nu[k] / c2).sqrt() + eps) for k in grads}
        return updates, AdamState(count=t, mu=mu, nu=nu)


def global_norm(tree: Params) -> Tensor:
    """sqrt(Σ_k ‖tree[k]‖²) over all tensors of the dict (0-d tensor)."""
    if not tree:
        return torch.zeros(())
    return torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(v.detach().to(torch.float64)) for v in tree.values()]))


@dataclass(frozen=True)
class ClipByGlobalNorm:
    """Rescale all gradients jointly so their global norm is at most ``max_norm``."""

    max_norm: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_norm", _positive("max_norm", self.max_norm))

    def init(self, params: Params) -> EmptyState:
        return EmptyState()

    def update(self, grads: Params, state: EmptyState, params: Params | None = None):
        norm = float(global_norm(grads))
        if norm <= self.max_norm or not math.isfinite(norm):
            # below the cap: unchanged; non-finite norms are passed through so they stay visible
            return dict(grads), state
        factor = self.max_norm / norm
        return {k: g * factor for k, g in grads.items()}, state


@dataclass(frozen=True)
class Chain:
    """Apply ``transforms`` in order; state is the tuple of their states."""

    transforms: tuple

    def __post_init__(self) -> None:
        object.__setattr__(self, "transforms", tuple(self.transforms))
        for i, tx in enumerate(self.transforms):
            if not isinstance(tx, GradientTransformation):
                raise ValueError(f"chain argument {i} is {type(tx).__name__}, "
                                 "expected a GradientTransformation")

    def init(self, params: Params) -> tuple:
        return tuple(tx.init(params) for tx in self.transforms)

    def update(self, grads: Params, state: tuple, params: Params | None = None):
        if len(state) != len(self.transforms):
            raise ValueError(f"chain state has {len(state)} entries, expected "
                             f"{len(self.transforms)}")
        new_state = []
        for tx, s in zip(self.transforms, state):
            grads, s = tx.update(grads, s, params)
            new_state.append(s)
        return grads, tuple(new_state)


# ---------------------------------------------------------------------- constructors
def scale(factor: float) -> Scale:
    """u = factor · g (stateless; any finite factor)."""
    return Scale(factor)


def sgd(lr: float) -> Scale:
    """Plain gradient descent: u = −lr · g."""
    return Scale(-_positive("lr", lr))


def momentum(lr: float, beta: float = 0.9, nesterov: bool = False) -> Momentum:
    """Heavy-ball / Nesterov momentum: m ← β m + g; u = −lr · m (or −lr · (g + β m))."""
    return Momentum(lr, beta, nesterov)


def adam(lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
         form: str = "paper") -> Adam:
    """Adam with bias correction (arXiv:1412.6980), eps outside the square root."""
    return Adam(lr, b1, b2, eps, form)


def clip_by_global_norm(max_norm: float) -> ClipByGlobalNorm:
    """Rescale all gradients jointly so their global norm is at most ``max_norm``."""
    return ClipByGlobalNorm(max_norm)


def chain(*transforms: GradientTransformation) -> Chain:
    """Apply ``transforms`` in order; state is the tuple of their states."""
    return Chain(transforms)


def scale_updates(updates: Params, factor: float) -> Params:
    """``factor`` × every update (a learning-rate schedule on any rule here: sgd, momentum and
    adam updates are linear in η, so η·f is exactly the rule at rate f·η)."""
    if factor == 1.0:
        return updates
    return {k: v * factor for k, v in updates.items()}


def apply_updates(params: Params, updates: Params) -> Params:
    """New dict ``params[k] + updates[k]`` (updates cast to each parameter's dtype)."""
    _check_keys(updates, params, "params")
    return {k: p + updates[k].to(dtype=p.dtype, device=p.device) for k, p in params.items()}

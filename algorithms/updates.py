"""Optax-shaped update rules on dicts of tensors.

A :class:`GradientTransformation` is a pair of pure functions::

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
from typing import Any, Callable, NamedTuple

import torch
from torch import Tensor

__all__ = [
    "Params",
    "GradientTransformation",
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
    "global_norm",
]

Params = dict[str, Tensor]


class GradientTransformation(NamedTuple):
    """``init(params) -> state``; ``update(grads, state, params=None) -> (updates, state)``."""

    init: Callable[[Params], Any]
    update: Callable[..., tuple[Params, Any]]


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
def scale(factor: float) -> GradientTransformation:
    """u = factor · g (stateless; any finite factor)."""
    f = _finite_real("factor", factor)

    def init(params: Params) -> EmptyState:
        return EmptyState()

    def update(grads: Params, state: EmptyState, params: Params | None = None):
        return {k: g * f for k, g in grads.items()}, state

    return GradientTransformation(init, update)


def sgd(lr: float) -> GradientTransformation:
    """Plain gradient descent: u = −lr · g."""
    lr = _positive("lr", lr)
    return scale(-lr)


def momentum(lr: float, beta: float = 0.9, nesterov: bool = False) -> GradientTransformation:
    """Heavy-ball / Nesterov momentum: m ← β m + g; u = −lr · m (or −lr · (g + β m))."""
    lr = _positive("lr", lr)
    beta = _unit_interval("beta", beta)
    nesterov = bool(nesterov)

    def init(params: Params) -> MomentumState:
        return MomentumState(trace=_zeros_like(params))

    def update(grads: Params, state: MomentumState, params: Params | None = None):
        _check_keys(grads, state.trace, "state")
        trace = {k: beta * state.trace[k] + g for k, g in grads.items()}
        if nesterov:
            updates = {k: -lr * (g + beta * trace[k]) for k, g in grads.items()}
        else:
            updates = {k: -lr * m for k, m in trace.items()}
        return updates, MomentumState(trace=trace)

    return GradientTransformation(init, update)


def adam(lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8
         ) -> GradientTransformation:
    """Adam with bias correction (arXiv:1412.6980), eps outside the square root."""
    lr = _positive("lr", lr)
    b1 = _unit_interval("b1", b1)
    b2 = _unit_interval("b2", b2)
    eps = _finite_real("eps", eps)
    if eps < 0:
        raise ValueError(f"eps={eps!r} is not allowed; expected a finite number >= 0")

    def init(params: Params) -> AdamState:
        return AdamState(count=0, mu=_zeros_like(params), nu=_zeros_like(params))

    def update(grads: Params, state: AdamState, params: Params | None = None):
        _check_keys(grads, state.mu, "state")
        t = state.count + 1
        mu = {k: b1 * state.mu[k] + (1.0 - b1) * g for k, g in grads.items()}
        nu = {k: b2 * state.nu[k] + (1.0 - b2) * (g * g) for k, g in grads.items()}
        c1 = 1.0 - b1 ** t
        c2 = 1.0 - b2 ** t
        updates = {k: -lr * (mu[k] / c1) / ((nu[k] / c2).sqrt() + eps) for k in grads}
        return updates, AdamState(count=t, mu=mu, nu=nu)

    return GradientTransformation(init, update)


def global_norm(tree: Params) -> Tensor:
    """sqrt(Σ_k ‖tree[k]‖²) over all tensors of the dict (0-d tensor)."""
    if not tree:
        return torch.zeros(())
    return torch.linalg.vector_norm(
        torch.stack([torch.linalg.vector_norm(v.detach().to(torch.float64)) for v in tree.values()]))


def clip_by_global_norm(max_norm: float) -> GradientTransformation:
    """Rescale all gradients jointly so their global norm is at most ``max_norm``."""
    c = _positive("max_norm", max_norm)

    def init(params: Params) -> EmptyState:
        return EmptyState()

    def update(grads: Params, state: EmptyState, params: Params | None = None):
        norm = float(global_norm(grads))
        if norm <= c or not math.isfinite(norm):
            # below the cap: unchanged; non-finite norms are passed through so they stay visible
            return dict(grads), state
        factor = c / norm
        return {k: g * factor for k, g in grads.items()}, state

    return GradientTransformation(init, update)


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Apply ``transforms`` in order; state is the tuple of their states."""
    for i, tx in enumerate(transforms):
        if not isinstance(tx, GradientTransformation):
            raise ValueError(f"chain argument {i} is {type(tx).__name__}, "
                             "expected a GradientTransformation")

    def init(params: Params) -> tuple:
        return tuple(tx.init(params) for tx in transforms)

    def update(grads: Params, state: tuple, params: Params | None = None):
        if len(state) != len(transforms):
            raise ValueError(f"chain state has {len(state)} entries, expected {len(transforms)}")
        new_state = []
        for tx, s in zip(transforms, state):
            grads, s = tx.update(grads, s, params)
            new_state.append(s)
        return grads, tuple(new_state)

    return GradientTransformation(init, update)


def apply_updates(params: Params, updates: Params) -> Params:
    """New dict ``params[k] + updates[k]`` (updates cast to each parameter's dtype)."""
    _check_keys(updates, params, "params")
    return {k: p + updates[k].to(dtype=p.dtype, device=p.device) for k, p in params.items()}

"""The optax-shaped estimator protocol.

    state = estimator.init(params)
    grad, state, info = estimator.estimate(loss_fn, params, state, key, **extras)

* ``params``: θ (d,) (range-normalised knobs, or a digital parameter vector);
* ``loss_fn``: ONE batched call per estimate; for weight-perturbation estimators it maps
  settings (n_eval, d) → losses (n_eval,) (each setting programmed and queried on the device);
  activity perturbation documents its own form;
* ``key``: a ``torch.Generator``, the only source of randomness;
* ``info["device_queries"]``: device settings programmed and queried by this estimate (a clean
  readout shared by the step is counted by the trainer, not here); the trace confirms it.

An estimator declares what the trainer must hand it and what it costs on the host:

* ``needs``: a frozenset of :data:`NEEDS` — ``"guess"`` (``guess=``: the local gradient mapped
  into knob space through the device's Jacobian model), ``"span-directions"``
  (``directions=``: random knob directions in the span of the local gradients, same model),
  ``"activity"`` (the loss is per example on the block's outputs: ``activity=``, ``pullback=``,
  ``mask=``; the pullback maps through the nominal model). Any of them makes the trainer require
  the device's Jacobian model (``nominal`` or ``calibrate``). Empty: plain weight perturbation.
* ``combine_flops(d)``: host FLOPs of combining one estimate over ``d`` parameters (e.g.
  Σ_p Δ_p u_p: 2 per direction and parameter); the trainer traces them as "estimator" work.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Protocol

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor


__all__ = ["Estimator", "NEEDS", "JACOBIAN_NEEDS", "check_losses", "unit"]

#: What an estimator may need from the trainer (see the module docstring).
NEEDS = ("guess", "span-directions", "activity")
#: Needs that map through the device's Jacobian model.
JACOBIAN_NEEDS = frozenset(NEEDS)


class Estimator(Protocol):
    needs: frozenset[str]

    def init(self, params: Tensor) -> Any: ...

    def combine_flops(self, d: int) -> float: ...

    def device_queries(self) -> int: ...

    def estimate(self, loss_fn: Callable[[Tensor], Tensor], params: Tensor, state: Any,
                 key: torch.Generator, **extras) -> tuple[Tensor, Any, dict]: ...


def check_losses(losses: Tensor, n: int) -> Tensor:
    losses = torch.as_tensor(losses).detach()
    if losses.shape != (n,):
        raise ValueError(f"loss_fn must return shape ({n},) for {n} settings, got {tuple(losses.shape)}")
    return losses


def unit(v: Tensor) -> Tensor:
    n = torch.linalg.vector_norm(v)
    return v / n if float(n) > 0 else v

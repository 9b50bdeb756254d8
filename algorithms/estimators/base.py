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
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

import torch
from torch import Tensor

__all__ = ["Estimator", "check_losses", "unit"]


class Estimator(Protocol):
    def init(self, params: Tensor) -> Any: ...

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

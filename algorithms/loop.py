"""Training orchestration: minibatches, schedules, per-step trace summaries. No I/O.

``train`` works with any model that has ``step(x, y, train_layers) -> dict`` and
``predict(x) -> (B,)`` (MF+DD, and the labelled autograd baselines).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Protocol

import torch

from hwsim.trace import Trace

__all__ = ["Divergence", "Interrupted", "TrainResult", "train", "accuracy", "minibatches"]


class Divergence(RuntimeError):
    """Training produced a non-finite loss; ``history`` holds what was recorded up to then."""

    def __init__(self, message: str, history: dict) -> None:
        super().__init__(message)
        self.history = history


class Interrupted(RuntimeError):
    """``stop()`` asked training to end at a step boundary; ``history`` holds the finished epochs."""

    def __init__(self, message: str, history: dict) -> None:
        super().__init__(message)
        self.history = history


class Model(Protocol):
    layers: list

    def step(self, x: torch.Tensor, y: torch.Tensor, train_layers=None) -> dict[str, float]: ...

    def predict(self, x: torch.Tensor) -> torch.Tensor: ...


@dataclass
class TrainResult:
    history: dict[str, list[float]] = field(default_factory=dict)   # per-epoch metrics
    step_losses: list[dict[str, float]] = field(default_factory=list)
    step_summaries: list[dict[str, float]] = field(default_factory=list)
    epochs_done: int = 0     # phases (epochs) finished; train(..., result=r) continues after them
    steps_done: int = 0


def minibatches(n: int, batch_size: int, gen: torch.Generator) -> list[torch.Tensor]:
    """Shuffled index batches covering 0..n-1 once (last batch may be smaller)."""
    perm = torch.randperm(n, generator=gen)
    return [perm[i:i + batch_size] for i in range(0, n, batch_size)]


def accuracy(model: Model, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    correct = 0
    for i in range(0, x.shape[0], batch_size):
        correct += int((model.predict(x[i:i + batch_size]) == y[i:i + batch_size]).sum())
    return correct / max(1, x.shape[0])


def train(model: Model, x_train: torch.Tensor, y_train: torch.Tensor, *, epochs: int,
          batch_size: int, gen: torch.Generator, schedule: str = "simultaneous",
          trace: Trace | None = None, x_test: torch.Tensor | None = None,
          y_test: torch.Tensor | None = None,
          on_step: Callable[[int], None] | None = None,
          on_epoch: Callable[[int, dict], None] | None = None,
          result: TrainResult | None = None,
          stop: Callable[[], bool] | None = None,
          on_epoch_end: Callable[[TrainResult], None] | None = None,
          x_val: torch.Tensor | None = None, y_val: torch.Tensor | None = None) -> TrainResult:
    """Train ``model``; ``schedule="greedy"`` trains layer 1 for ``epochs`` epochs, then layer 2, …

    ``result`` (from an earlier, interrupted call with the same model and ``gen`` state, e.g. a
    checkpoint) continues after its ``epochs_done`` epochs, so the end state equals one
    uninterrupted call. ``on_epoch_end(result)`` runs after each epoch (checkpointing);
    ``stop()`` is polled after every step and raises :class:`Interrupted` when true.

    Raises :class:`Divergence` when a local loss becomes NaN or infinite.
    """
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} = {v!r}; allowed: an integer >= 1")
    n_layers = len(model.layers)
    if schedule == "simultaneous":
        phases = [(list(range(n_layers)), e) for e in range(epochs)]
    elif schedule == "greedy":
        phases = [([i], e) for i in range(n_layers) for e in range(epochs)]
    else:
        raise ValueError(f"schedule {schedule!r}; allowed: ('simultaneous', 'greedy')")
    result = result if result is not None else TrainResult()
    step = result.steps_done
    for epoch, (layers, _) in enumerate(phases):
        if epoch < result.epochs_done:
            continue
        losses: dict[str, list[float]] = {}
        for idx in minibatches(x_train.shape[0], batch_size, gen):
            if trace is not None:
                trace.begin_step()
            metrics = model.step(x_train[idx], y_train[idx], layers)
            if trace is not None:
                result.step_summaries.append(trace.end_step())
            result.step_losses.append(metrics)
            for k, v in metrics.items():
                losses.setdefault(k, []).append(v)
            step += 1
            if on_step is not None:
                on_step(step)
            bad = [k for k, v in metrics.items() if not math.isfinite(v)]
            if bad:
                result.history.setdefault("diverged_at_step", []).append(step)
                raise Divergence(f"training diverged at step {step} (epoch {epoch + 1}): "
                                 f"non-finite {', '.join(bad)}", result.history)
            if stop is not None and stop():
                raise Interrupted(f"interrupted at step {step} (epoch {epoch + 1})", result.history)
        epoch_metrics = {k: sum(v) / len(v) for k, v in losses.items()}
        epoch_metrics["train_layers"] = float(layers[-1] + 1) if len(layers) == 1 else 0.0
        if x_val is not None and y_val is not None:   # held out of training, for choosing settings
            epoch_metrics["val_accuracy"] = accuracy(model, x_val, y_val)
        if x_test is not None and y_test is not None:
            epoch_metrics["test_accuracy"] = accuracy(model, x_test, y_test)
        epoch_metrics["steps"] = float(step)
        for k, v in epoch_metrics.items():
            result.history.setdefault(k, []).append(v)
        result.epochs_done, result.steps_done = epoch + 1, step
        if on_epoch is not None:
            on_epoch(epoch, epoch_metrics)
        if on_epoch_end is not None:
            on_epoch_end(result)
    return result

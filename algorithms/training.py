"""The training loop: epochs and phases, per-step trace summaries, evaluation, checkpoints,
resume, interrupts and divergence. No I/O.

``fit`` drives anything with ``step(x, y, train_stages) -> dict[str, float]`` and
``predict(x) -> (B,)`` — every trainable of :mod:`algorithms.registry` (forward-only trainers on
the device, the autograd baselines on the twin) — on any :class:`Task`: classification
(minibatches, accuracies) or e.g. a PDE (collocation points, solution error).

Evaluation (``x_val``, ``x_test``, ``x_eval``) calls ``predict``, which the trainers answer with
their *evaluation* random streams, so evaluating every epoch or not leaves training — the
minibatch order and every device draw of a step — unchanged (tested).

Resume: the :class:`FitResult` of an interrupted call (e.g. from a checkpoint written by
``on_epoch_end``) holds the minibatch generator's state at its last epoch boundary; passing it
back as ``result`` (with the model as it was then) continues after ``epochs_done`` phases and
ends in the same state as one uninterrupted call.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Protocol


from hwsim.trace import Trace

from .seeds import BATCHES, generator

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["Divergence", "Interrupted", "FitResult", "fit", "accuracy", "minibatches",
           "phases", "SCHEDULES", "Task", "Classification"]

SCHEDULES = ("simultaneous", "greedy")


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


@dataclass
class FitResult:
    history: dict[str, list[float]] = field(default_factory=dict)   # per-epoch metrics
    step_losses: list[dict[str, float]] = field(default_factory=list)
    step_summaries: list[dict[str, float]] = field(default_factory=list)
    epochs_done: int = 0          # phases finished; fit(..., result=r) continues after them
    steps_done: int = 0
    batch_state: Tensor | None = None   # minibatch generator state after ``epochs_done`` phases


def minibatches(n: int, batch_size: int, gen: torch.Generator) -> list[Tensor]:
    """Shuffled index batches covering 0..n-1 once (the last batch may be smaller)."""
    return list(torch.randperm(n, generator=gen).split(batch_size))


def accuracy(model, x: Tensor, y: Tensor, batch_size: int = 512) -> float:
    """Share of ``model.predict`` equal to ``y``, in batches of ``batch_size``."""
    correct = 0
    for i in range(0, x.shape[0], batch_size):
        correct += int((model.predict(x[i:i + batch_size]) == y[i:i + batch_size]).sum())
    return correct / max(1, x.shape[0])


def phases(schedule: str, epochs: int, n_stages: int) -> list[list[int] | None]:
    """Stages trained in each phase: simultaneous → ``epochs`` × all (None); greedy → stage 0
    for ``epochs`` epochs, then stage 1, …"""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule = {schedule!r}; allowed: {SCHEDULES}")
    if schedule == "simultaneous":
        return [None] * epochs
    return [[i] for i in range(n_stages) for _ in range(epochs)]


class Task(Protocol):
    """What one training loop needs of a task (classification, a PDE, …).

    ``stream``: the :mod:`algorithms.seeds` stream of the step inputs' order;
    ``steps_per_epoch``: how many steps ``batches`` yields; ``batches(gen)``: the (x, y) step inputs of one epoch, drawn from ``gen``;
    ``epoch_metrics(model, step_means, stages)``: what the history records for the epoch
    (``step_means``: the mean of every step metric; ``stages``: the phase's trained stages);
    ``summary(metrics)``: those metrics in a few words (progress lines)."""

    stream: str
    steps_per_epoch: int

    def batches(self, gen: torch.Generator) -> Iterable[tuple[Tensor, Tensor]]: ...

    def epoch_metrics(self, model, step_means: dict[str, float],
                      stages: list[int] | None) -> dict[str, float]: ...

    def summary(self, metrics: dict[str, float]) -> str: ...


@dataclass(frozen=True, eq=False)
class Classification:
    """Shuffled minibatches of (x, y) (stream ``BATCHES``); per epoch the mean of every step
    metric, ``train_layers`` (the greedy phase's stage + 1, 0 for all stages) and the accuracy
    of every evaluation set given (``val``: held out of training, for choosing settings)."""

    x: Tensor
    y: Tensor
    batch_size: int
    evaluations: tuple = ()            # (history key, x, y) per evaluation set
    stream: str = BATCHES

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.x.shape[0] // self.batch_size)

    def batches(self, gen: torch.Generator):
        for idx in minibatches(self.x.shape[0], self.batch_size, gen):
            yield self.x[idx], self.y[idx]

    def epoch_metrics(self, model, step_means, stages):
        em = dict(step_means)
        em["train_layers"] = float(stages[0] + 1) if stages is not None else 0.0
        for key, xs, ys in self.evaluations:
            em[key] = accuracy(model, xs, ys)
        return em

    @staticmethod
    def summary(metrics: dict[str, float]) -> str:
        key = next((k for k in ("test_accuracy", "val_accuracy", "eval_accuracy")
                    if k in metrics), None)
        return f"{key.replace('_', ' ')} {metrics[key]:.4f}" if key else f"steps {metrics['steps']:.0f}"


def fit(model, x: Tensor | None = None, y: Tensor | None = None, *, epochs: int,
        batch_size: int | None = None, seed: int | None = None,
        gen: torch.Generator | None = None, schedule: str = "simultaneous",
        n_stages: int | None = None, trace: Trace | None = None,
        x_val: Tensor | None = None, y_val: Tensor | None = None,
        x_test: Tensor | None = None, y_test: Tensor | None = None,
        x_eval: Tensor | None = None, y_eval: Tensor | None = None,
        on_step: Callable[[int, FitResult], None] | None = None,
        on_epoch: Callable[[int, dict], None] | None = None,
        on_epoch_end: Callable[[FitResult], None] | None = None,
        stop: Callable[[], bool] | None = None, result: FitResult | None = None,
        task: Task | None = None) -> FitResult:
    """Train ``model`` for ``epochs`` epochs per phase (see :func:`phases`) on ``task`` — by
    default :class:`Classification` of ``x``, ``y`` in minibatches of ``batch_size``, evaluated
    on the ``val`` / ``test`` / ``eval`` sets given.

    Step inputs come from ``gen``, or from the task's stream of ``seed`` (one of the two).
    ``n_stages``: device blocks of the greedy schedule (default ``model.n_stages``, else 1).
    The history records per epoch the task's :meth:`Task.epoch_metrics` and ``steps``.

    A model with ``begin_epoch(epoch)`` is told each epoch's index before its first step (its
    learning-rate schedules read it). Callbacks: ``on_step(steps_done, result)`` after every
    step (it must evaluate, if at all, with the evaluation streams, i.e. ``predict``); ``on_epoch(epoch, metrics)`` and
    ``on_epoch_end(result)`` (checkpointing) after every epoch. ``stop()`` is polled after
    every step and raises :class:`Interrupted` when true; a non-finite step metric raises
    :class:`Divergence` (its history gets ``diverged_at_step``). ``result``: see the module
    docstring (resume).
    """
    if task is None:
        for name, v in (("epochs", epochs), ("batch_size", batch_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} = {v!r}; allowed: an integer >= 1")
        task = Classification(x, y, batch_size, tuple(
            (key, xs, ys) for key, xs, ys in (("val_accuracy", x_val, y_val),
                                              ("test_accuracy", x_test, y_test),
                                              ("eval_accuracy", x_eval, y_eval))
            if xs is not None and ys is not None))
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs = {epochs!r}; allowed: an integer >= 1")
    if (gen is None) == (seed is None):
        raise ValueError("fit: give exactly one of seed (the task's stream) and gen")
    n_stages = n_stages or getattr(model, "n_stages", None) or 1
    plan = phases(schedule, epochs, n_stages)
    g = gen if gen is not None else generator(seed, task.stream)
    result = result if result is not None else FitResult()
    if result.batch_state is not None:
        g.set_state(result.batch_state)
    step = result.steps_done
    for epoch, stages in enumerate(plan):
        if epoch < result.epochs_done:
            continue
        losses: dict[str, list[float]] = {}
        begin = getattr(model, "begin_epoch", None)   # per-epoch learning-rate schedules
        if callable(begin):
            begin(epoch)
        for xb, yb in task.batches(g):
            if trace is not None:
                trace.begin_step()
            m = model.step(xb, yb, stages)
            if trace is not None:
                result.step_summaries.append(trace.end_step())
            result.step_losses.append(m)
            for k, v in m.items():
                losses.setdefault(k, []).append(v)
            step += 1
            if on_step is not None:
                on_step(step, result)
            bad = [k for k, v in m.items() if not math.isfinite(v)]
            if bad:
                result.history.setdefault("diverged_at_step", []).append(step)
                raise Divergence(f"training diverged at step {step} (epoch {epoch + 1}): "
                                 f"non-finite {', '.join(bad)}", result.history)
            if stop is not None and stop():
                raise Interrupted(f"interrupted at step {step} (epoch {epoch + 1})", result.history)
        em = task.epoch_metrics(model, {k: sum(v) / len(v) for k, v in losses.items()}, stages)
        em["steps"] = float(step)
        for k, v in em.items():
            result.history.setdefault(k, []).append(v)
        result.epochs_done, result.steps_done, result.batch_state = epoch + 1, step, g.get_state()
        if on_epoch is not None:
            on_epoch(epoch, em)
        if on_epoch_end is not None:
            on_epoch_end(result)
    return result

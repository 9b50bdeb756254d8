"""Declared reproductions and the pieces every one of them uses: the training loop that records
learning curves against optical passes and priced energy, and the seed-to-table summary."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch

from hwsim.cost.analytic import price
from hwsim.cost.spec import photonic_spec
from hwsim.trace import Trace

__all__ = ["Published", "ChipFigure", "Reproduction", "REPRODUCTIONS", "register", "train_curve",
           "Curve"]


@dataclass(frozen=True)
class Published:
    """A published value (accuracy as a fraction) with its source and the tolerance (absolute)
    inside which forwardlab's mean counts as reproducing it; ``key`` names the measured metric."""

    key: str
    value: float
    tolerance: float
    source: str
    bound: str = "within"     # "within": |mean − value| ≤ tol; "at-least": mean ≥ value − tol


@dataclass(frozen=True)
class ChipFigure:
    """A published hardware figure set beside forwardlab's priced one (e.g. latency/inference)."""

    key: str
    value: float
    unit: str
    source: str


@dataclass(frozen=True)
class Reproduction:
    """A declared experiment.

    config / quick: the full and the seconds-long protocol (data set, device preset, algorithms
    with their settings, epochs, batch); run_seed(config, seed, data_dir, part) → {"metrics":
    {key: value}, "curves": {algorithm: Curve rows}}; parts(config) → the independent parts of
    one seed (e.g. the tasks), run as separate jobs and merged (``None``: one part).
    """

    name: str
    paper: str
    headline: str
    config: Mapping[str, Any]
    quick: Mapping[str, Any]
    published: tuple[Published, ...]
    chip: tuple[ChipFigure, ...]
    run_seed: Callable[..., dict]
    notes: str = ""
    parts: Callable[[Mapping[str, Any]], list] = lambda config: [None]


REPRODUCTIONS: dict[str, Reproduction] = {}


def register(rep: Reproduction) -> Reproduction:
    if rep.name in REPRODUCTIONS:
        raise ValueError(f"reproduction {rep.name!r} registered twice")
    REPRODUCTIONS[rep.name] = rep
    return rep


@dataclass
class Curve:
    """Learning curve rows: cumulative optical passes, energy (J), latency (s) and test accuracy
    at each evaluation; step_energy_j / step_latency_s: mean priced cost of one training step."""

    passes: list = field(default_factory=list)
    energy_j: list = field(default_factory=list)
    latency_s: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    steps: int = 0
    step_energy_j: float = 0.0
    step_latency_s: float = 0.0
    device_accuracy: float = math.nan   # final test accuracy under the training device's noise
    final_train_loss: float = math.nan  # mean training loss the steps measured over the last epoch

    def to_target(self, target: float) -> tuple[float, float, float]:
        """(passes, energy J, latency s) at the first evaluation reaching ``target``; nan if never."""
        for p, e, t, a in zip(self.passes, self.energy_j, self.latency_s, self.accuracy):
            if a >= target:
                return p, e, t
        return math.nan, math.nan, math.nan

    def as_dict(self) -> dict:
        return dict(passes=self.passes, energy_j=self.energy_j, latency_s=self.latency_s,
                    accuracy=self.accuracy, steps=self.steps, step_energy_j=self.step_energy_j,
                    step_latency_s=self.step_latency_s)


def train_curve(trainable, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
                y_test: torch.Tensor, *, epochs: int, batch: int, seed: int, trace: Trace | None,
                evals: int = 10, cost_level: str = "nominal", predict=None) -> Curve:
    """Train for ``epochs`` over mini-batches (one shuffle stream per seed: every algorithm of a
    seed sees the same batches) and evaluate test accuracy ``evals`` times (and at the start).
    Each training step's device trace is priced with the photonic cost spec (twin baselines,
    with ``trace=None``, book zero device cost and count no optical passes). ``predict``: how
    test accuracy is measured (default: ``trainable.predict``, a query of the training device)."""
    predict = predict or trainable.predict
    spec = photonic_spec(cost_level)
    gen = torch.Generator().manual_seed(int(seed) * 1000 + 7)
    n = len(x_train)
    steps_per_epoch = math.ceil(n / batch)
    total = epochs * steps_per_epoch
    every = max(1, total // evals)
    curve = Curve()
    passes = energy = latency = 0.0

    def evaluate():
        acc = float((predict(x_test) == y_test).float().mean())
        curve.passes.append(passes)
        curve.energy_j.append(energy)
        curve.latency_s.append(latency)
        curve.accuracy.append(acc)

    evaluate()
    step = 0
    begin_epoch = getattr(trainable, "begin_epoch", None)
    for epoch in range(epochs):
        if callable(begin_epoch):           # the trainer's own learning-rate schedule
            begin_epoch(epoch)
        epoch_loss = 0.0
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            if trace is not None:
                trace.begin_step()
            info = trainable.step(x_train[idx], y_train[idx])
            if trace is not None:
                report = price(trace.end_step(), spec)
                energy += sum(report.energy_j.values())
                latency += sum(report.latency_s.values())
            passes += info.get("passes", 0)
            epoch_loss += float(info.get("loss", math.nan))
            step += 1
            if step % every == 0 or step == total:
                evaluate()
        curve.final_train_loss = epoch_loss / steps_per_epoch
    curve.steps = step
    curve.step_energy_j = energy / max(step, 1)
    curve.step_latency_s = latency / max(step, 1)
    return curve

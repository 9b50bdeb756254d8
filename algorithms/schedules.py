"""Learning-rate schedules as frozen dataclasses: ``lr = schedule(epoch)``.

The rate is a function of the finished epoch count (0 for the first epoch), as the per-epoch
``torch.optim.lr_scheduler`` classes step it in the published training scripts (L2ight
``configs``: ``scheduler: {name: exp, lr_gamma: 0.99, lr_min: 0.0245}``, cosine with
``lr_min``). Closed forms (η₀ = ``lr``, e = epoch):

* :class:`Constant`:     η = η₀
* :class:`Step`:         η = η₀ · γ^⌊e / every⌋                       (``StepLR``)
* :class:`Exponential`:  η = max(η₀ · γ^e, η_min)                     (``ExponentialLR`` + floor)
* :class:`Cosine`:       η = η_min + (η₀ − η_min)(1 + cos(π e / T)) / 2, e ≤ T, then η_min
                                                                      (``CosineAnnealingLR``)
* :class:`WarmUp`:       η = inner(e) · (e + 1) / (w + 1) for e < w, then inner(e)   (linear)

A schedule multiplies nothing by itself: trainers read ``schedule(epoch)`` at each epoch's
start and scale their update rule's step by ``schedule(epoch) / schedule.lr`` (so an Adam or
SGD rule built with ``lr`` gets exactly ``schedule(epoch)``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Mapping, Union

__all__ = ["Constant", "Step", "Exponential", "Cosine", "WarmUp", "Schedule", "SCHEDULE_KINDS",
           "schedule_from"]


def _num(owner: str, name: str, v, lo: float, lo_open: bool = False, hi: float | None = None):
    ok = (not isinstance(v, bool) and isinstance(v, Real) and math.isfinite(v)
          and (v > lo if lo_open else v >= lo) and (hi is None or v <= hi))
    if not ok:
        allowed = f"{'>' if lo_open else '>='} {lo}" + (f" and <= {hi}" if hi is not None else "")
        raise ValueError(f"{owner}.{name} = {v!r}; allowed: a finite number {allowed}")


def _count(owner: str, name: str, v, lo: int = 1):
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"{owner}.{name} = {v!r}; allowed: an integer >= {lo}")


def _epoch(e) -> int:
    if isinstance(e, bool) or not isinstance(e, int) or e < 0:
        raise ValueError(f"epoch = {e!r}; allowed: an integer >= 0")
    return e


@dataclass(frozen=True)
class Constant:
    lr: float

    def __post_init__(self):
        _num("Constant", "lr", self.lr, 0.0, lo_open=True)

    def __call__(self, epoch: int) -> float:
        _epoch(epoch)
        return float(self.lr)


@dataclass(frozen=True)
class Step:
    lr: float
    every: int = 10
    gamma: float = 0.1

    def __post_init__(self):
        _num("Step", "lr", self.lr, 0.0, lo_open=True)
        _count("Step", "every", self.every)
        _num("Step", "gamma", self.gamma, 0.0, lo_open=True, hi=1.0)

    def __call__(self, epoch: int) -> float:
        return float(self.lr * self.gamma ** (_epoch(epoch) // self.every))


@dataclass(frozen=True)
class Exponential:
    lr: float
    gamma: float = 0.99
    lr_min: float = 0.0

    def __post_init__(self):
        _num("Exponential", "lr", self.lr, 0.0, lo_open=True)
        _num("Exponential", "gamma", self.gamma, 0.0, lo_open=True, hi=1.0)
        _num("Exponential", "lr_min", self.lr_min, 0.0, hi=self.lr)

    def __call__(self, epoch: int) -> float:
        return float(max(self.lr * self.gamma ** _epoch(epoch), self.lr_min))


@dataclass(frozen=True)
class Cosine:
    lr: float
    epochs: int = 1
    lr_min: float = 0.0

    def __post_init__(self):
        _num("Cosine", "lr", self.lr, 0.0, lo_open=True)
        _count("Cosine", "epochs", self.epochs)
        _num("Cosine", "lr_min", self.lr_min, 0.0, hi=self.lr)

    def __call__(self, epoch: int) -> float:
        e = min(_epoch(epoch), self.epochs)
        return float(self.lr_min + (self.lr - self.lr_min) * (1 + math.cos(math.pi * e / self.epochs)) / 2)


@dataclass(frozen=True)
class WarmUp:
    inner: "Schedule"
    epochs: int = 1

    def __post_init__(self):
        _count("WarmUp", "epochs", self.epochs)
        if isinstance(self.inner, WarmUp) or not callable(self.inner):
            raise ValueError(f"WarmUp.inner = {self.inner!r}; allowed: a Constant, Step, "
                             "Exponential or Cosine schedule")

    @property
    def lr(self) -> float:
        return self.inner.lr

    def __call__(self, epoch: int) -> float:
        e = _epoch(epoch)
        ramp = (e + 1) / (self.epochs + 1) if e < self.epochs else 1.0
        return float(self.inner(e) * ramp)


Schedule = Union[Constant, Step, Exponential, Cosine, WarmUp]
SCHEDULE_KINDS = ("constant", "step", "exponential", "cosine")
_FIELDS = {"constant": (), "step": ("every", "gamma"), "exponential": ("gamma", "lr_min"),
           "cosine": ("epochs", "lr_min")}
_CLASSES = {"constant": Constant, "step": Step, "exponential": Exponential, "cosine": Cosine}


def schedule_from(lr: float, spec: str | Mapping | None, owner: str = "schedule") -> Schedule:
    """A schedule from a config value: None or ``"constant"`` → :class:`Constant`; a name of
    ``SCHEDULE_KINDS``; or a table ``{kind = "exponential", gamma = 0.99, lr_min = 0.0245,
    warmup_epochs = 2}`` whose other keys are the kind's fields. One line names what is wrong."""
    if spec is None:
        spec = "constant"
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, Mapping):
        raise ValueError(f"{owner} = {spec!r}; allowed: one of {SCHEDULE_KINDS} or a table "
                         "with 'kind'")
    kind = spec.get("kind", "constant")
    if kind not in _CLASSES:
        raise ValueError(f"{owner}.kind = {kind!r}; allowed: {SCHEDULE_KINDS}")
    extra = sorted(set(spec) - {"kind", "warmup_epochs", *_FIELDS[kind]})
    if extra:
        raise ValueError(f"{owner} has keys {extra} that {kind!r} does not take; allowed: "
                         f"{('kind', 'warmup_epochs', *_FIELDS[kind])}")
    inner = _CLASSES[kind](lr, **{k: spec[k] for k in _FIELDS[kind] if k in spec})
    w = spec.get("warmup_epochs", 0)
    _count(owner, "warmup_epochs", w, lo=0)
    return WarmUp(inner, w) if w else inner

"""``insitu-bp``: in-situ backpropagation (adjoint measurements) on a mesh network.

Pai et al., Science 380, 398 (2023): each step measures ∂L/∂φ of every phase shifter on the chip
by a forward, an adjoint and an interference pass read by the power monitors (3 optical passes
per sample; the device's ``adjoint`` capability, ``hwsim.photonic.adjoint``) and updates the
phases with a digital optimizer. Not forward-only: it needs the monitors and the reciprocal
backward pass. The loss is the digital readout's cross-entropy (``Readout``).

Choices where the paper and code are silent: Adam (the authors' ``phox/apps/onn.py`` takes any
optax optimizer), lr 0.01 chosen on a validation split of the moons training set; mini-batches
of 10 (the authors' ``photonicbackprop`` ``moon_minibatch10.p`` experiment file).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from hwsim.oracle import TracingOracle

from . import updates
from .meshnet_common import cosine_factor, initial_knobs
from .optical_readout import Readout
from .seeds import generator

__all__ = ["InSituBPSettings", "InSituBP", "build_insitu_bp", "LABEL"]

LABEL = "in-situ backprop (adjoint measurements)"


@dataclass(frozen=True)
class InSituBPSettings:
    """lr: Adam step on the phases (rad); readout: the digital loss on the output powers;
    decay_steps: cosine decay of the step to 0 over that many steps (None: constant)."""

    lr: float = 0.01
    readout: Readout = Readout()
    decay_steps: int | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"InSituBPSettings.lr = {self.lr!r}; allowed: a number > 0")


class InSituBP:
    """Trainable: ``step(x, y)`` → {"loss", "passes"}; ``predict(x)`` → classes (B,)."""

    label = LABEL

    def __init__(self, oracle: TracingOracle, settings: InSituBPSettings, *, seed: int,
                 knobs: dict | None = None) -> None:
        oracle.require("adjoint")
        self.oracle, self.settings = oracle, settings
        self.knobs = knobs or initial_knobs(oracle.knob_spec, generator(seed, "init/knobs"))
        self.opt = updates.adam(settings.lr)
        self.state = self.opt.init({"phases": self.knobs["phases"]})
        self.gen = generator(seed, "train/device")
        self.passes = 0
        self.steps = 0

    def step(self, x: torch.Tensor, y: torch.Tensor) -> dict:
        prog = self.oracle.program(self.knobs, self.gen)
        res = self.oracle.adjoint(prog, x, lambda p: self.settings.readout.cotangent(p, y), self.gen)
        upd, self.state = self.opt.update(res.grads, self.state, {"phases": self.knobs["phases"]})
        f = cosine_factor(self.steps, self.settings.decay_steps)
        self.knobs = {**self.knobs, "phases": self.knobs["phases"] + f * upd["phases"]}
        self.steps += 1
        self.passes += res.passes
        return {"loss": float(res.loss.mean()), "passes": res.passes}

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        prog = self.oracle.program(self.knobs, self.gen)
        return self.settings.readout.predict(self.oracle.query(prog, x, self.gen)[0])

    @staticmethod
    def passes_per_sample() -> int:
        return 3


def build_insitu_bp(oracle: TracingOracle, settings: InSituBPSettings, *, seed: int) -> InSituBP:
    return InSituBP(oracle, settings, seed=seed)

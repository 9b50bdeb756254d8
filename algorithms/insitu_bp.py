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


from hwsim.oracle import TracingOracle

from . import updates
from .meshnet_common import cosine_factor, initial_knobs
from .optical_readout import Readout
from .seeds import generator
from .settings import integer, setting

from hwsim.lazy import torch

__all__ = ["InSituBPSettings", "InSituBP", "build_insitu_bp", "LABEL"]

LABEL = "in-situ backprop (adjoint measurements)"


@dataclass(frozen=True)
class InSituBPSettings:
    """lr: Adam step on the phases (rad); readout / readout_scale: the digital loss on the
    output powers (:class:`Readout`); decay_steps: cosine decay of the step to 0 over that many
    steps (0: constant). Flat scalar fields, so a run config can hold and override them."""

    lr: float = setting(0.01, "Adam step on the phases", "rad")
    readout: str = setting("pairs", "digital readout of the output powers (pairs: ports "
                           "(0,1) vs (2,3); ports: one logit per port)")
    readout_scale: float = setting(1.0, "logit = scale × output power", "1")
    decay_steps: int = setting(0, "cosine decay of the step to 0 over this many steps "
                               "(0: constant)", "steps")

    def __post_init__(self) -> None:
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"InSituBPSettings.lr = {self.lr!r}; allowed: a number > 0")
        integer("InSituBPSettings", "decay_steps", self.decay_steps, 0, 10 ** 9)
        self.head()

    def head(self) -> Readout:
        """The :class:`Readout` these settings name (one-line ValueError if unknown)."""
        return Readout(self.readout, self.readout_scale)


class InSituBP:
    """Trainable: ``step(x, y)`` → {"loss", "passes"}; ``predict(x)`` → classes (B,)."""

    label = LABEL

    def __init__(self, oracle: TracingOracle, settings: InSituBPSettings, *, seed: int,
                 knobs: dict | None = None) -> None:
        oracle.require("adjoint")
        self.oracle, self.settings = oracle, settings
        self.head = settings.head()
        self.knobs = knobs or initial_knobs(oracle.knob_spec, generator(seed, "init/knobs"))
        self.opt = updates.adam(settings.lr)
        self.state = self.opt.init({"phases": self.knobs["phases"]})
        self.gen = generator(seed, "train/device")
        self.passes = 0
        self.steps = 0

    def step(self, x: torch.Tensor, y: torch.Tensor) -> dict:
        prog = self.oracle.program(self.knobs, self.gen)
        res = self.oracle.adjoint(prog, x, lambda p: self.head.cotangent(p, y), self.gen)
        upd, self.state = self.opt.update(res.grads, self.state, {"phases": self.knobs["phases"]})
        f = cosine_factor(self.steps, self.settings.decay_steps)
        self.knobs = {**self.knobs, "phases": self.knobs["phases"] + f * upd["phases"]}
        self.steps += 1
        self.passes += res.passes
        return {"loss": float(res.loss.mean()), "passes": res.passes}

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        prog = self.oracle.program(self.knobs, self.gen)
        return self.head.predict(self.oracle.query(prog, x, self.gen)[0])

    @staticmethod
    def passes_per_sample() -> int:
        return 3


def build_insitu_bp(oracle: TracingOracle, settings: InSituBPSettings, *, seed: int) -> InSituBP:
    return InSituBP(oracle, settings, seed=seed)

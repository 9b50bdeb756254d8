"""``bp-twin`` for whole-network photonic devices: backpropagation with autograd on the ideal
digital twin of the same network (labelled; the digital reference of the reproductions).

Same initial knobs and batches as the in-situ runs of a seed; Adam on every knob (phases, NOFU
β and bias), β clamped to [0, 1] after each step.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..meshnet_common import cosine_factor, initial_knobs
from ..optical_readout import Readout
from ..seeds import generator
from .leaf_adam import LeafAdam

__all__ = ["TwinBPSettings", "TwinBP", "LABEL"]

LABEL = "BP on the ideal digital twin (autograd)"


@dataclass(frozen=True)
class TwinBPSettings:
    lr: float = 0.01
    readout: Readout = Readout()
    decay_steps: int | None = None


class TwinBP:
    label = LABEL

    def __init__(self, device, settings: TwinBPSettings, *, seed: int,
                 knobs: dict | None = None) -> None:
        self.device, self.settings = device, settings
        knobs = knobs or initial_knobs(device.knob_spec, generator(seed, "init/knobs"))
        self.params = {n: t.clone().double().requires_grad_(True) for n, t in knobs.items()}
        self.opt = LeafAdam([(list(self.params.values()), settings.lr)])
        self.passes = 0
        self.steps = 0

    def step(self, x: torch.Tensor, y: torch.Tensor) -> dict:
        lr = self.settings.lr * cosine_factor(self.steps, self.settings.decay_steps)
        self.steps += 1
        self.opt.zero_grad()
        loss = self.settings.readout.losses(self.device.twin_forward(self.params, x), y).mean()
        loss.backward()
        self.opt.step([lr])
        with torch.no_grad():
            if "nofu_beta" in self.params:
                self.params["nofu_beta"].clamp_(0.0, 1.0)
        return {"loss": float(loss.detach()), "passes": 0}

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.settings.readout.predict(self.device.twin_forward(self.params, x))

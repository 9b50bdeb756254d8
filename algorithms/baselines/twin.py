"""Autograd baselines on the ideal digital twin — labelled as such wherever they appear.

* ``bp``: backpropagation end to end through every layer (the last layer's head is the
  classifier), the reference every forward-only method is compared with;
* ``mf-ad``: Mono-Forward with autograd local gradients (arXiv:2501.09238), i.e. MF+DD with the
  DD estimate replaced by the exact local gradient.

Both train the same knobs (phases or conductances) as MF+DD, but through the device's
differentiable ideal twin ``knobs → W`` (no noise, no quantization). They never run on the
oracle and are never reported as device results.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import torch

from ..objectives import mono_forward as mf
from ..seeds import generator

__all__ = ["TwinNetwork", "BASELINES", "LABEL"]

BASELINES = ("bp", "mf-ad")
LABEL = "ideal digital twin, autograd"


class TwinNetwork:
    """An MLP whose layer weights are ``twin_i(knobs_i)``; trained by autograd with Adam."""

    label = LABEL

    def __init__(self, twins: Sequence[Callable[[Mapping[str, torch.Tensor]], torch.Tensor]],
                 initial_knobs: Sequence[Mapping[str, torch.Tensor]], trainable: Sequence[Sequence[str]],
                 specs: Sequence[Mapping], n_classes: int, *, mode: str, lr: float,
                 prediction: str = "last", seed: int = 0) -> None:
        if mode not in BASELINES:
            raise ValueError(f"baseline mode {mode!r}; allowed: {BASELINES}")
        self.mode, self.prediction, self.twins, self.specs = mode, prediction, list(twins), list(specs)
        g = generator(seed, "heads")
        self.layers = []
        params = []
        for twin, k0, names in zip(twins, initial_knobs, trainable):
            knobs = {n: t.detach().clone().float().requires_grad_(n in names) for n, t in k0.items()}
            width = twin(knobs).shape[0]
            bound = 1.0 / math.sqrt(width)
            head = {"M": ((2 * torch.rand(n_classes, width, generator=g) - 1) * bound).requires_grad_(True),
                    "b": torch.zeros(width, requires_grad=True)}
            self.layers.append({"knobs": knobs, "head": head, "trainable": tuple(names)})
            params += [knobs[n] for n in names] + list(head.values())
        self.opt = torch.optim.Adam(params, lr=lr)

    def _forward(self, x: torch.Tensor, detach_between: bool) -> list[torch.Tensor]:
        scores, a = [], x
        for twin, layer in zip(self.twins, self.layers):
            if detach_between:
                a = a.detach()
            z = a @ twin(layer["knobs"]).T
            a = mf.activations(z, layer["head"]["b"])
            scores.append(mf.scores(a, layer["head"]["M"]))
        return scores

    def step(self, x: torch.Tensor, y: torch.Tensor, train_layers=None) -> dict[str, float]:
        self.opt.zero_grad(set_to_none=True)
        scores = self._forward(x, detach_between=(self.mode == "mf-ad"))
        if self.mode == "bp":
            losses = {"loss.bp": mf.local_loss(scores[-1], y)}
            total = losses["loss.bp"]
        else:
            chosen = range(len(scores)) if train_layers is None else train_layers
            losses = {f"loss.layer{i}": mf.local_loss(scores[i], y) for i in chosen}
            total = sum(losses.values())
        total.backward()
        self.opt.step()
        with torch.no_grad():   # keep knobs inside their allowed range, as a device would
            for layer, spec in zip(self.layers, self.specs):
                for n in layer["trainable"]:
                    layer["knobs"][n].copy_(spec[n].project(layer["knobs"][n]))
        return {k: float(v.detach()) for k, v in losses.items()}

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        scores = self._forward(x, detach_between=True)
        return mf.predict(scores if self.mode == "mf-ad" else scores[-1:], self.prediction)

"""First-order training of a TT network on the ideal digital twin (labelled "ideal digital twin,
autograd"): the same :class:`~algorithms.tt_network.TTNetwork`, the same knobs θ (range units) and
the same objective as :class:`~algorithms.tt_zo.TTZOTrainer`, but each core's matrix is the
device's design-level map (``nominal``: no hidden errors, no noise) and ∂L/∂θ comes from
autograd through it. For a PINN the loss is the same Stein / sparse-grid loss (forward
evaluations at the quadrature nodes); only the parameter gradient is exact, so the comparison
isolates the zeroth-order estimate and the device from everything else.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence


from ..tt_network import TTNetwork
from ..updates import adam, apply_updates
from .twin_model import LABEL

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["TTTwinTrainer", "LABEL"]


class TTTwinTrainer:
    """Adam on (core knobs, biases) with autograd through the nominal core matrices."""

    label = LABEL

    #: one estimate (one update) over the whole network per step: a single stage
    n_stages = 1

    def __init__(self, net: TTNetwork, initial_knobs: Sequence[Mapping[str, Tensor]], objective,
                 *, knob_lr_range_units: float = 1e-3, bias_lr: float = 1e-3, seed: int = 0) -> None:
        for o in net.oracles:
            o.require("nominal")
        self.net, self.objective = net, objective
        self.fixed = [{n: t.detach().clone().float() for n, t in k.items()} for k in initial_knobs]
        theta = net.initial_theta(self.fixed)
        kd = net.knob_dim
        self.params = {"knobs": theta[:kd].clone(),
                       **{f"b{i}": torch.zeros(s.n_out) for i, s in enumerate(net.shapes)}}
        self._kopt, self._bopt = adam(knob_lr_range_units), adam(bias_lr)
        self._ks = self._kopt.init({"knobs": self.params["knobs"]})
        self._bs = self._bopt.init(self._biases())

    def _biases(self) -> dict[str, Tensor]:
        return {k: v for k, v in self.params.items() if k != "knobs"}

    def _matrices(self, knobs: Tensor) -> list[Tensor]:
        parts = torch.split(knobs, self.net.core_dims)
        return [o.nominal(m.unflatten(p, f)) for o, m, p, f in
                zip(self.net.oracles, self.net.maps, parts, self.fixed)]

    def _forward(self, params: Mapping[str, Tensor], inputs: Tensor) -> Tensor:
        mats = self._matrices(params["knobs"])
        return self.net.host_forward(mats, [params[f"b{i}"] for i in range(len(self.net.shapes))],
                                     inputs)

    def step(self, x: Tensor, y: Tensor, train_stages=None) -> dict[str, float]:
        leaves = {k: v.detach().clone().requires_grad_(True) for k, v in self.params.items()}
        loss = self.objective.losses(self._forward(leaves, self.objective.inputs(x, y)), x, y)[0]
        grads = dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values()))))
        loss = loss.detach()
        upd, self._ks = self._kopt.update({"knobs": grads["knobs"]}, self._ks,
                                          {"knobs": self.params["knobs"]})
        knobs = apply_updates({"knobs": self.params["knobs"]}, upd)["knobs"]
        parts = torch.split(knobs, self.net.core_dims)
        knobs = torch.cat([m.project(p) for m, p in zip(self.net.maps, parts)])
        b = self._biases()
        upd, self._bs = self._bopt.update({k: grads[k] for k in b}, self._bs, b)
        self.params = {"knobs": knobs.detach(), **{k: v.detach() for k, v in apply_updates(b, upd).items()}}
        return {"loss.global": loss.item()}

    def outputs(self, inputs: Tensor, *, batch_size: int = 4096, **_) -> Tensor:
        with torch.no_grad():
            return torch.cat([self._forward(self.params, inputs[i:i + batch_size])[0]
                              for i in range(0, inputs.shape[0], batch_size)])

    def predict(self, x: Tensor) -> Tensor:
        return self.outputs(x).argmax(-1)

    def device_queries_per_step(self, train_stages=None) -> int:
        return 0

"""Tensor-train zeroth-order training through the device (Zhao et al., arXiv:2308.09858).

One estimate per step over all trained coordinates of a :class:`~algorithms.tt_network.TTNetwork`
— the TT cores' device knobs (range units) and the hidden biases (host) — with the
:class:`~algorithms.estimators.hybrid.HybridZO` estimator (RGE, or CGE on small groups), all
perturbed settings in ONE batched call: each core device is programmed once with every setting
and queried once per setting. d is the cores' knob count, not the dense layers' (1,824 core
values instead of 802,816 for the reference 784 → 1024 layer on a crossbar).

The output layer's bias is digital and trains with its exact host gradient (∂L/∂b from the clean
readout of the same call: softmax − onehot for cross-entropy; the boundary term for a PINN):
no device query, as for the digital heads of the other trainers.

Objectives (duck-typed): ``inputs(x, y) → (N, n_in)`` network inputs; ``losses(out (S, N, n_out),
x, y) → (S,)``; ``output_bias_grad(out0 (N, n_out), x, y) → (n_out,)``.
:class:`OutputCrossEntropy` is the classification one, :class:`~algorithms.objectives.pde.PDEObjective`
the PINN one.

Random streams as in :class:`~algorithms.trainer.Streams` (training directions and noise apart
from evaluation noise).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence


from hwsim.trace import DigitalEvent, Trace

from .estimators.hybrid import HybridZO
from .objectives.heads import cross_entropy
from .trainer import Streams
from .tt_network import TTNetwork
from .updates import GradientTransformation, apply_updates, scale_updates

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["TTZOTrainer", "TTState", "OutputCrossEntropy"]


@dataclass(frozen=True)
class OutputCrossEntropy:
    """Cross-entropy of the network's output scores (…, B, C) against labels y (B,)."""

    def inputs(self, x: Tensor, y: Tensor) -> Tensor:
        return x

    def losses(self, out: Tensor, x: Tensor, y: Tensor) -> Tensor:
        return cross_entropy(out, y)

    def output_bias_grad(self, out0: Tensor, x: Tensor, y: Tensor) -> Tensor:
        p = torch.softmax(out0, dim=-1)
        p[torch.arange(y.shape[0]), y] -= 1.0
        return p.mean(0)


@dataclass
class TTState:
    theta: Tensor                         # (dim,) knobs (range units) then hidden biases
    out_bias: Tensor                      # (n_out,)
    fixed: list[dict[str, Tensor]]        # per core: the initial knob dict (held knobs)
    knob_opt: Any
    bias_opt: Any
    estimator: Any
    streams: Streams
    step: int = 0


class TTZOTrainer:
    """Forward-only TT training (see module docstring).

    Args:
        net: the TT network on its oracles.
        initial_knobs: one knob dict per core device.
        objective: classification or PINN objective.
        estimator: a :class:`HybridZO` over ``net.dim`` coordinates.
        knob_optimizer: update rule on the core knobs; bias_optimizer: on all biases.
    """

    #: multipliers of the knob and bias rates this epoch (learning-rate schedules)
    knob_lr_factor: float = 1.0
    head_lr_factor: float = 1.0

    #: one estimate (one update) over the whole network per step: a single stage
    n_stages = 1

    def __init__(self, net: TTNetwork, initial_knobs: Sequence[Mapping[str, Tensor]], objective,
                 estimator: HybridZO, knob_optimizer: GradientTransformation,
                 bias_optimizer: GradientTransformation, *, seed: int = 0,
                 trace: Trace | None = None) -> None:
        if len(initial_knobs) != len(net.oracles):
            raise ValueError(f"initial_knobs has {len(initial_knobs)} entries; allowed: one per "
                             f"core device ({len(net.oracles)})")
        if estimator.epsilon.shape != (net.dim,):
            raise ValueError(f"estimator covers {estimator.epsilon.shape[0]} coordinates; the "
                             f"network has {net.dim}")
        self.net, self.objective, self.estimator, self.trace = net, objective, estimator, trace
        self._kopt, self._bopt = knob_optimizer, bias_optimizer
        fixed = [{n: t.detach().clone().float() for n, t in k.items()} for k in initial_knobs]
        theta = net.initial_theta(fixed)
        out_bias = torch.zeros(net.shapes[-1].n_out)
        kd = net.knob_dim
        self.state = TTState(theta=theta, out_bias=out_bias, fixed=fixed,
                             knob_opt=knob_optimizer.init({"knobs": theta[:kd]}),
                             bias_opt=bias_optimizer.init({"hidden": theta[kd:], "out": out_bias}),
                             estimator=estimator.init(theta), streams=Streams.from_seed(seed))

    # ------------------------------------------------------------------ pieces
    def _flops(self, n: float, role: str) -> None:
        if self.trace is not None and n > 0:
            self.trace.record(DigitalEvent(layer="host", flops=int(n), role=role))

    def _project(self, theta: Tensor) -> Tensor:
        parts = list(torch.split(theta[:self.net.knob_dim], self.net.core_dims))
        return torch.cat([m.project(p) for m, p in zip(self.net.maps, parts)]
                         + [theta[self.net.knob_dim:]])

    def step(self, x: Tensor, y: Tensor, train_stages=None) -> dict[str, float]:
        """One step on the minibatch (x, y) (for a PINN: interior and boundary points)."""
        s, net, obj = self.state, self.net, self.objective
        inputs = obj.inputs(x, y)
        held: dict[str, Tensor] = {}

        def loss_fn(settings: Tensor) -> Tensor:
            out = net.forward(settings, s.out_bias, inputs, s.fixed, s.streams.train_program,
                              s.streams.train_query)
            held["base"] = out[0]
            self._flops(out.numel() * 4, "loss")
            return obj.losses(out, x, y)

        g, s.estimator, info = self.estimator.estimate(loss_fn, s.theta, s.estimator,
                                                       s.streams.directions)
        self._flops(4 * g.numel() * self.estimator.device_queries(), "estimator")
        g_out = obj.output_bias_grad(held["base"], x, y)
        kd = net.knob_dim
        upd, s.knob_opt = self._kopt.update({"knobs": g[:kd]}, s.knob_opt, {"knobs": s.theta[:kd]})
        knobs = apply_updates({"knobs": s.theta[:kd]},
                              scale_updates(upd, self.knob_lr_factor))["knobs"]
        bparams = {"hidden": s.theta[kd:], "out": s.out_bias}
        upd, s.bias_opt = self._bopt.update({"hidden": g[kd:], "out": g_out}, s.bias_opt, bparams)
        newb = apply_updates(bparams, scale_updates(upd, self.head_lr_factor))
        s.theta = self._project(torch.cat([knobs, newb["hidden"]]))
        s.out_bias = newb["out"]
        self._flops(12 * (s.theta.numel() + s.out_bias.numel()), "optimizer")
        s.step += 1
        return {"loss.global": info["loss"]}

    def outputs(self, inputs: Tensor, *, streams: str = "eval", batch_size: int = 4096) -> Tensor:
        """Clean-setting outputs (N, n_out) through the device (evaluation or deployment noise)."""
        s = self.state.streams
        pg, qg = (s.eval_program, s.eval_query) if streams == "eval" else (s.deploy_program,
                                                                            s.deploy_query)
        with torch.no_grad():
            outs = [self.net.forward(self.state.theta.unsqueeze(0), self.state.out_bias,
                                     inputs[i:i + batch_size], self.state.fixed, pg, qg)[0]
                    for i in range(0, inputs.shape[0], batch_size)]
        return torch.cat(outs)

    def predict(self, x: Tensor) -> Tensor:
        return self.outputs(x).argmax(-1)

    def device_queries_per_step(self, train_stages=None) -> int:
        """Settings per step × core devices (each setting programs and queries every core)."""
        return self.estimator.device_queries() * len(self.net.oracles)

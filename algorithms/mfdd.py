"""MF+DD: Mono-Forward with directional-derivative (zeroth-order) local gradients.

Görpelioğlu, TU Delft BSc thesis (MF with DD instead of autograd); estimator as in FFzero
(arXiv:2603.24790): per layer, P random directions, central or forward differences, all
perturbed settings of a layer evaluated in ONE batched oracle call on the same minibatch.

Each layer has two parameter blocks, each with its own estimate (block-coordinate ZO,
algorithms.md §1 "locality … reduce the d of each estimate"):

* the device knobs θ_i (normalised by their range, see :class:`~algorithms.knobs.KnobVector`):
  perturbed settings are programmed and queried on the device (costly: program + settle);
* the digital head (M_i, b_i): perturbations only change digital arithmetic on the cached
  readout z_i, so they need no device query at all.

Only the oracle contract is used: ``program``, ``query``, ``knob_spec``. No autograd.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import torch

from hwsim.oracle import Oracle
from hwsim.trace import DigitalEvent, Trace

from .estimators.zeroth_order import DirectionalDerivative
from .knobs import KnobVector
from .objectives import mono_forward as mf
from .seeds import generator
from .updates import GradientTransformation, apply_updates

__all__ = ["MFDDConfig", "MonoForwardDD", "SCHEDULES"]

SCHEDULES = ("simultaneous", "greedy")


@dataclass(frozen=True)
class MFDDConfig:
    """Settings of MF+DD. ``knob_estimator`` acts on normalised device knobs,
    ``head_estimator`` on the digital head (M_i, b_i)."""

    knob_estimator: DirectionalDerivative = field(default_factory=DirectionalDerivative)
    head_estimator: DirectionalDerivative = field(default_factory=DirectionalDerivative)
    schedule: str = "simultaneous"
    prediction: str = "last"

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"MFDDConfig.schedule = {self.schedule!r}; allowed: {SCHEDULES}")
        if self.prediction not in mf.PREDICTION_RULES:
            raise ValueError(f"MFDDConfig.prediction = {self.prediction!r}; "
                             f"allowed: {mf.PREDICTION_RULES}")


@dataclass
class _Layer:
    oracle: Oracle
    vector: KnobVector
    knobs: dict[str, torch.Tensor]
    head: dict[str, torch.Tensor]          # {"M": (C, n), "b": (n,)}
    knob_opt_state: object = None
    head_opt_state: object = None


def init_head(n_classes: int, width: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """M ~ kaiming_uniform(a=√5) = U(−1/√n, 1/√n), b = 0 (MF re-implementations, algorithms.md §2)."""
    bound = 1.0 / math.sqrt(width)
    return {"M": (2 * torch.rand(n_classes, width, generator=gen) - 1) * bound,
            "b": torch.zeros(width)}


class MonoForwardDD:
    """A stack of device layers trained with MF local losses and DD gradient estimates.

    Args:
        oracles: one oracle per layer (layer i maps n_{i-1} → n_i); normally TracingOracles.
        initial_knobs: starting knob settings per layer (one setting each).
        trainable: knob names trained per layer (others, e.g. global gains, stay fixed).
        n_classes: C.
        config: estimator, schedule and prediction settings.
        knob_optimizer, head_optimizer: optax-style transformations (see ``updates``).
        seed: root seed; directions and device noise use separate derived streams.
        trace: where digital work is recorded (defaults to the first oracle's trace).
    """

    def __init__(self, oracles: Sequence[Oracle], initial_knobs: Sequence[Mapping[str, torch.Tensor]],
                 trainable: Sequence[Sequence[str]], n_classes: int, config: MFDDConfig,
                 knob_optimizer: GradientTransformation, head_optimizer: GradientTransformation,
                 *, seed: int = 0, trace: Trace | None = None) -> None:
        if not (len(oracles) == len(initial_knobs) == len(trainable)) or not oracles:
            raise ValueError("oracles, initial_knobs and trainable must be non-empty and of equal length")
        for prev, nxt in zip(oracles, oracles[1:]):
            if prev.n_out != nxt.n_in:
                raise ValueError(f"layer {nxt.name!r} expects n_in={nxt.n_in} but the previous "
                                 f"layer has n_out={prev.n_out}")
        self.config = config
        self.n_classes = n_classes
        self.trace = trace if trace is not None else getattr(oracles[0], "trace", None)
        self._knob_opt, self._head_opt = knob_optimizer, head_optimizer
        g_init = generator(seed, "heads")
        self._g_dir = generator(seed, "directions")
        self._g_prog = generator(seed, "program-noise")
        self._g_query = generator(seed, "query-noise")
        self.layers: list[_Layer] = []
        for o, k0, names in zip(oracles, initial_knobs, trainable):
            vec = KnobVector.for_spec(o.knob_spec, names)
            knobs = {n: t.detach().clone().float() for n, t in k0.items()}
            head = init_head(n_classes, o.n_out, g_init)
            layer = _Layer(o, vec, knobs, head)
            layer.knob_opt_state = knob_optimizer.init({"theta": vec.flatten(knobs)})
            layer.head_opt_state = head_optimizer.init(head)
            self.layers.append(layer)

    # ------------------------------------------------------------------ helpers
    def _digital(self, flops: float, role: str) -> None:
        """Host work, tagged with what it was for (the cost model prices each role)."""
        if self.trace is not None:
            self.trace.record(DigitalEvent(layer="host", flops=int(flops), role=role))

    def readouts(self, x: torch.Tensor, upto: int | None = None) -> tuple[list, list]:
        """Clean pass (one setting per layer): inputs a_{i-1} and readouts z_i of layers ≤ upto."""
        upto = len(self.layers) - 1 if upto is None else upto
        inputs, zs, a = [], [], x
        for layer in self.layers[: upto + 1]:
            prog = layer.oracle.program(layer.knobs, self._g_prog)
            z = layer.oracle.query(prog, a, self._g_query)[0]
            inputs.append(a)
            zs.append(z)
            a = mf.activations(z, layer.head["b"])
        return inputs, zs

    def layer_scores(self, x: torch.Tensor) -> list[torch.Tensor]:
        _, zs = self.readouts(x)
        return [mf.scores(mf.activations(z, l.head["b"]), l.head["M"]) for z, l in zip(zs, self.layers)]

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return mf.predict(self.layer_scores(x), self.config.prediction)

    # ------------------------------------------------------------------ training
    def step(self, x: torch.Tensor, y: torch.Tensor, train_layers: Sequence[int] | None = None
             ) -> dict[str, float]:
        """One minibatch step for ``train_layers`` (default: all). Returns local losses."""
        train_layers = list(range(len(self.layers))) if train_layers is None else list(train_layers)
        inputs, zs = self.readouts(x, upto=max(train_layers))
        metrics = {}
        B = x.shape[0]
        for i in train_layers:
            layer = self.layers[i]
            a_prev, z, head = inputs[i], zs[i], layer.head
            C, n = head["M"].shape

            def knob_loss(theta: torch.Tensor) -> torch.Tensor:
                settings = layer.vector.unflatten(theta, layer.knobs)
                prog = layer.oracle.program(settings, self._g_prog)
                zp = layer.oracle.query(prog, a_prev, self._g_query)          # (n_eval, B, n)
                return mf.local_loss(mf.scores(mf.activations(zp, head["b"]), head["M"]), y)

            theta = layer.vector.flatten(layer.knobs)
            est_k = self.config.knob_estimator.estimate(knob_loss, theta, self._g_dir)
            n_eval = self.config.knob_estimator.evaluations()
            self._digital(n_eval * B * (2 * n * C + 4 * C + 2 * n), "loss")   # local losses

            head_vec = torch.cat([head["M"].reshape(-1), head["b"]])

            def head_loss(h: torch.Tensor) -> torch.Tensor:
                m = h[:, : C * n].reshape(-1, C, n)
                b = h[:, C * n:]
                return mf.local_loss(mf.scores(mf.activations(z, b), m), y)

            est_h = self.config.head_estimator.estimate(head_loss, head_vec, self._g_dir)
            n_eval_h = self.config.head_estimator.evaluations()
            self._digital(n_eval_h * B * (2 * n * C + 4 * C + 2 * n), "loss")

            # Updates (optax style) and projection of knobs back into their allowed range.
            upd, layer.knob_opt_state = self._knob_opt.update({"theta": est_k.grad},
                                                              layer.knob_opt_state, {"theta": theta})
            new_theta = apply_updates({"theta": theta}, upd)["theta"]
            layer.knobs = layer.vector.unflatten(new_theta, layer.knobs)
            grads_h = {"M": est_h.grad[: C * n].reshape(C, n), "b": est_h.grad[C * n:]}
            upd_h, layer.head_opt_state = self._head_opt.update(grads_h, layer.head_opt_state, head)
            layer.head = apply_updates(head, upd_h)
            d_k, d_h = theta.numel(), head_vec.numel()
            # estimator: the directional combination Σ_p δ_p u_p (2 FLOPs per direction and
            # coordinate); optimizer: the Adam update (~12 FLOPs per coordinate)
            self._digital(2 * self.config.knob_estimator.num_directions * d_k
                          + 2 * self.config.head_estimator.num_directions * d_h, "estimator")
            self._digital(12 * d_k + 12 * d_h, "optimizer")
            metrics[f"loss.{layer.oracle.name}"] = float(est_k.base_loss)
        return metrics

"""The field's zeroth-order on-chip trainers for MZI networks, on the global end-to-end loss.

* **FLOPS** (Gu et al., DAC 2020; optimizer semantics from ``JeremieMelo/L2ight``
  ``core/optimizer/flops.py``, settings from ``config/mnist/cnn3/flops/learn.yml``; algorithms.md
  §9): one-sided Gaussian ZO over ALL trained phases at once,

      L0 = L(Φ),  ĝ = (1/Q) Σ_q [L(Φ + δ_q) − L0] δ_q / σ²,  δ_q ~ N(0, σ² I),  Φ ← Φ − η ĝ

  with σ = 0.1 rad, Q (``n_sample``) = 1, plain SGD η = 2 decayed ×0.99 per epoch to 0.0245.
  All Q perturbed settings of a layer go to the device in ONE batched program/query call; every
  sample has the same weight 1/Q (L2ight's ``zo_gradient_descent`` weighs the first sample 1 and
  later ones 1/n: algorithms.md §14.1; identical for Q = 1).
* **MixedTrain** (Gu et al., AAAI 2021, arXiv:2012.11148; ``core/optimizer/mixedtrain.py``,
  ``config/fmnist/cnn3/mixedtrain/learn.yml``): sparse sequential coordinate descent. A fixed
  random mask, drawn once, freezes a fraction ``param_sparsity`` = 0.6 of the phases; each step
  every active phase is visited with probability 1 − ``grad_sparsity`` (= 0.1; SparseTune of
  FLOPS+); a visited phase tries Φ_i + η and keeps it if the loss fell, else is set to Φ_i − η
  and that loss becomes the reference (accepted unconditionally, as the reference code).
  η = 0.0245 rad. **Inherently sequential**: each accept/reject decides the point the next
  coordinate is tried from, so the probes cannot be batched; each costs one program of the
  changed layer and one forward of the minibatch through it and every later layer (earlier
  layers' outputs are unchanged and are held in host memory, as the activations between
  devices already are here; later layers keep their programmed state). Every probe is traced.

Knob units. θ here is in range units (knob / range width, :mod:`algorithms.knobmaps`); the
papers' σ and η are in rad of phase. A phase knob of range width w rad (mesh phases 2π,
Σ phases π) maps as δθ = δΦ / w, and the rad-space step Φ ← Φ − η ĝ_Φ becomes θ ← θ − η ĝ_Φ / w.
A conductance pair (crossbar) has no rad: its range width is taken as 2π "rad-equivalent", so σ
and η are the same fraction of the knob range as on a mesh phase (a labelled convention, not a
published setting).

The last stage's digital head (and its bias) trains with its exact closed-form gradient on the
clean pass, as in every global trainer here; the biases of earlier stages stay as initialised.
In L2ight the classifier is an MZI layer too; here it is a digital head (labelled).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence


from hwsim.trace import Trace

from .knobmaps import KnobMap
from .network import OracleNetwork
from .objectives.heads import MonoForwardHead
from .schedules import Constant, Exponential, Schedule
from .seeds import generator
from .trainer import _Common, _flops
from . import updates
from .updates import GradientTransformation

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["FLOPSRule", "MixedTrainRule", "FieldZOTrainer", "rad_per_range_unit",
           "PAIR_RAD_EQUIVALENT"]

#: Range width of a conductance pair taken as 2π rad-equivalent (module docstring).
PAIR_RAD_EQUIVALENT = 2 * math.pi


def rad_per_range_unit(m: KnobMap) -> Tensor:
    """(d,) rad of phase per range unit of each trained coordinate: the knob's range width for
    phases (2π for mesh phases, π for Σ phases), ``PAIR_RAD_EQUIVALENT`` for conductance pairs."""
    parts = [torch.full((m.spec[n].numel,), float(m.spec[n].high - m.spec[n].low))
             for n in m.phases]
    if m.pairs is not None:
        parts.append(torch.full((m.spec[m.pairs].numel // 2,), PAIR_RAD_EQUIVALENT))
    return torch.cat(parts)


def _pos(owner: str, name: str, v) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{owner}.{name} = {v!r}; allowed: a finite number > 0")


@dataclass(frozen=True)
class FLOPSRule:
    """FLOPS's estimate and step. ``sigma_rad``: perturbation std (rad); ``n_sample``: Q;
    ``schedule``: η per epoch (rad per unit of ĝ_Φ; L2ight: 2 → ×0.99/epoch → 0.0245)."""

    sigma_rad: float = 0.1
    n_sample: int = 1
    schedule: Schedule = Exponential(2.0, 0.99, 0.0245)

    def __post_init__(self) -> None:
        _pos("FLOPSRule", "sigma_rad", self.sigma_rad)
        if isinstance(self.n_sample, bool) or not isinstance(self.n_sample, int) \
                or not 1 <= self.n_sample <= 4096:
            raise ValueError(f"FLOPSRule.n_sample = {self.n_sample!r}; allowed: an integer in [1, 4096]")

    def settings_per_step(self) -> int:
        return 1 + self.n_sample

    def gradient(self, losses: Tensor, base: Tensor | float, z: Tensor) -> Tensor:
        """ĝ_Φ (d,) from losses (Q,) at Φ + σ z_q, the base loss L0 and z (Q, d) ~ N(0, I):
        (1/Q) Σ_q (L_q − L0) σ z_q / σ² — one weight 1/Q for every sample."""
        return ((losses - base).unsqueeze(1) * z).mean(0) / self.sigma_rad


@dataclass(frozen=True)
class MixedTrainRule:
    """MixedTrain's sparse coordinate descent: ``param_sparsity`` of the phases frozen for good,
    each active one visited with probability 1 − ``grad_sparsity``, step η = ``schedule(epoch)``
    rad (L2ight fmnist: 0.0245, exp 0.99 floored at 0.0245, i.e. constant)."""

    param_sparsity: float = 0.6
    grad_sparsity: float = 0.9
    schedule: Schedule = Constant(0.0245)

    def __post_init__(self) -> None:
        for n in ("param_sparsity", "grad_sparsity"):
            v = getattr(self, n)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise ValueError(f"MixedTrainRule.{n} = {v!r}; allowed: a number in [0, 1)")

    def expected_probes(self, d: int) -> float:
        """Expected visited coordinates per step over d phases (each costs 1 or 2 probes)."""
        return d * (1 - self.param_sparsity) * (1 - self.grad_sparsity)


class FieldZOTrainer(_Common):
    """FLOPS or MixedTrain through the oracles on the global CE of the last stage's head.

    ``rule``: a :class:`FLOPSRule` or :class:`MixedTrainRule`. ``head_optimizer``: the last
    head's update rule (exact gradient, host only). ``train_knobs = False``: the same-epoch
    frozen control of exactly this trainer (same clean passes, streams and head updates; no
    knob query). ``begin_epoch(e)`` (called by
    :func:`algorithms.training.fit`) sets η = ``rule.schedule(e)``.
    """

    def __init__(self, net: OracleNetwork, initial_knobs: Sequence[Mapping[str, Tensor]],
                 n_classes: int, rule: FLOPSRule | MixedTrainRule,
                 head_optimizer: GradientTransformation, *, seed: int = 0,
                 trace: Trace | None = None, train_knobs: bool = True) -> None:
        if not isinstance(rule, (FLOPSRule, MixedTrainRule)):
            raise ValueError(f"FieldZOTrainer.rule = {rule!r}; allowed: FLOPSRule or MixedTrainRule")
        self.net, self.trace, self.prediction, self.rule = net, trace, "last", rule
        self.train_knobs = bool(train_knobs)
        self.heads = [MonoForwardHead(n_classes, st.n_features, None) for st in net.stages]
        self._digital_opt = head_optimizer
        # the knob rule is not an optax transformation (η per epoch, rad-space step): no knob
        # optimizer state; the identity scale keeps TrainState's shape
        ident = updates.scale(1.0)
        self.state = self._init_state(net, initial_knobs, self.heads, ident, head_optimizer,
                                      [None] * len(net.stages), seed)
        self._dims = [t.numel() for t in self.state.theta]
        self._rad = [rad_per_range_unit(m) for m in net.maps]
        self.lr = rule.schedule(0)
        if isinstance(rule, MixedTrainRule):
            g = generator(seed, "mixedtrain/mask")
            self._active = [torch.rand(d, generator=g) >= rule.param_sparsity for d in self._dims]
        self._probes = 0
        self._last_queries: int | None = None     # settings streamed by the last step (exact)

    # ------------------------------------------------------------------ schedule
    def begin_epoch(self, epoch: int) -> None:
        self.lr = self.rule.schedule(epoch)

    # ------------------------------------------------------------------ losses
    def _loss_from(self, i: int, theta_i: Tensor, a_in: Tensor, progs: list, y: Tensor) -> Tensor:
        """Global loss (n,) with stage i set to θ_i (d_i,) or (n, d_i), its input a_in, and the
        later stages in their programmed states ``progs`` (one device call per stage)."""
        s, net = self.state, self.net
        prog = net.program(i, theta_i, s.fixed[i], s.streams.train_program)
        a = a_in
        for j in range(i, len(net.stages)):
            z = net.device_forward(j, prog if j == i else progs[j], a, s.streams.train_query)
            a, _ = net.stages[j].host_forward(z, s.digital[j])
        n = a.shape[0]
        _flops(self.trace, "host", n * self.heads[-1].flops(y.shape[0]), role="loss")
        return self.heads[-1].loss(a.reshape(n, a.shape[1], -1), y, s.heads[-1])

    def _global_loss(self, settings: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """(n, D) settings of all stages → (n,) global losses, ONE batched call per stage."""
        s, net = self.state, self.net
        a = net.model.reshape_input(x)
        for i, (st, part) in enumerate(zip(net.stages, torch.split(settings, self._dims, dim=-1))):
            prog = net.program(i, part, s.fixed[i], s.streams.train_program)
            z = net.device_forward(i, prog, a, s.streams.train_query)
            a, _ = st.host_forward(z, s.digital[i])
        n = settings.shape[0]
        _flops(self.trace, "host", n * self.heads[-1].flops(x.shape[0]), role="loss")
        return self.heads[-1].loss(a.reshape(n, a.shape[1], -1), y, s.heads[-1])

    # ------------------------------------------------------------------ steps
    def _flops_step(self, x: Tensor, y: Tensor, base: float) -> None:
        s, r = self.state, self.rule
        theta = torch.cat(s.theta)
        rad = torch.cat(self._rad)
        z = torch.randn(r.n_sample, theta.numel(), generator=s.streams.directions)
        losses = self._global_loss(theta + (r.sigma_rad / rad) * z, x, y)          # (Q,)
        g_rad = r.gradient(losses, base, z)
        new = theta - self.lr * g_rad / rad
        _flops(self.trace, "host", 4 * r.n_sample * theta.numel() + 3 * theta.numel(),
               role="estimator")
        s.theta = [m.project(t) for m, t in zip(self.net.maps, torch.split(new, self._dims))]

    def _mixedtrain_step(self, y: Tensor, passes: list, base: float) -> None:
        s, r = self.state, self.rule
        g = s.streams.directions
        progs = [p["prog"] for p in passes]
        ref = base
        n = len(self.net.stages)
        for i, (d, active) in enumerate(zip(self._dims, self._active)):
            visit = torch.nonzero(active & (torch.rand(d, generator=g) >= r.grad_sparsity)).flatten()
            if visit.numel() == 0:
                continue
            theta = s.theta[i].clone()
            step = self.lr / self._rad[i]
            a_in = passes[i]["a_in"]
            for k in visit.tolist():                 # sequential: each decision moves the point
                orig = float(theta[k])
                theta[k] = orig + float(step[k])
                loss = float(self._loss_from(i, theta, a_in, progs, y)[0])
                self._probes += 1
                self._queries += n - i
                if loss < ref:
                    ref = loss
                else:
                    theta[k] = orig - float(step[k])
                    ref = float(self._loss_from(i, theta, a_in, progs, y)[0])
                    self._probes += 1
                    self._queries += n - i
            s.theta[i] = self.net.maps[i].project(theta)
            # later stages see the changed stage's new output from here on
            prog = self.net.program(i, s.theta[i], s.fixed[i], s.streams.train_program)
            progs[i] = prog
            self._queries += n - i
            a = a_in
            for j in range(i, len(self.net.stages)):
                z = self.net.device_forward(j, progs[j], a, s.streams.train_query)
                h, _ = self.net.stages[j].host_forward(z, s.digital[j])
                if j + 1 < len(self.net.stages):
                    passes[j + 1] = {**passes[j + 1], "a_in": h}
                a = h

    def step(self, x: Tensor, y: Tensor, train_stages=None) -> dict[str, float]:
        s, last = self.state, len(self.net.stages) - 1
        passes, loss, g_head, g_host = self._last_head_pass(x, y)
        self._probes, self._queries = 0, last + 1
        if not self.train_knobs:
            pass                                  # frozen control: the head alone
        elif isinstance(self.rule, FLOPSRule):
            self._flops_step(x, y, float(loss))
            self._queries += (last + 1) * self.rule.n_sample
        else:
            self._mixedtrain_step(y, passes, float(loss))
            # host work of the search: per probe one loss comparison and one knob update
            _flops(self.trace, "host", 2 * self._probes + 1, role="estimator")
        self._last_queries = self._queries
        self._update_last_head(g_head, g_host)
        s.step += 1
        out = {"loss.global": float(loss), "knob_lr_rad": float(self.lr)}
        if isinstance(self.rule, MixedTrainRule):
            out["coordinate_probes"] = float(self._probes)
        return out

    def device_queries_per_step(self, train_stages=None) -> int:
        """Stage settings queried per step: FLOPS n(1 + Q) (the frozen control n). MixedTrain:
        the exact count of the last step — the clean pass n, then per probe of a coordinate of
        stage i the n − i stages from i on, and one refresh of those per changed stage; before
        any step, the expectation with 1.5 probes per visited coordinate."""
        n = len(self.net.stages)
        if not self.train_knobs:
            return n
        if isinstance(self.rule, FLOPSRule):
            return n * self.rule.settings_per_step()
        if self._last_queries is not None:
            return self._last_queries
        return int(round(n + sum((1.5 * self.rule.expected_probes(d) + 1) * (n - i)
                                 for i, d in enumerate(self._dims))))

"""Forward-only trainers on an :class:`~algorithms.network.OracleNetwork`.

* :class:`LocalTrainer`: Mono-Forward local losses, one head per stage; every step programs each
  stage's clean knobs ONCE and reuses that state for the step's clean readouts; each trained
  stage then gets its own knob estimate (simultaneous: all stages per step; greedy layer-wise:
  ``step(x, y, train_stages=[i])``, driven by :func:`fit`).
* :class:`GlobalTrainer`: one estimate over all knobs of the network against the global
  cross-entropy of the last stage's head (global forward gradient).

Digital heads (M, and the stage bias b) train with their exact closed-form gradient by default —
host arithmetic on the readout, no device query; ``head="zo"`` uses a directional-derivative
estimate instead (the thesis's ZO head).

Random streams are separate (design.md "Randomness is explicit"): training directions, training
program/query noise, evaluation program/query noise and deployment noise are distinct generators
derived from the seed, so evaluating (``predict``) never changes what training draws: the trained
knobs are identical whether or not one evaluates every epoch (tested).

The train state (:class:`TrainState`) is explicit: knobs θ, digital parameters, optimizer and
estimator states, step count and the generators; ``trainer.state`` is all there is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence


from hwsim.trace import DependencyEvent, DigitalEvent, Trace

from .chunking import SettingsLoss, coalesced, settings_per_call
from .estimators.base import JACOBIAN_NEEDS, Estimator
from .estimators.span import SpanProjection
from .estimators.weight import Directional
from .model import Bias, ReLU
from .network import OracleNetwork
from .objectives.heads import MonoForwardHead, example_losses
from .seeds import INIT_HEADS, TRAINER_STREAMS, generator
from .training import SCHEDULES
from .updates import GradientTransformation, apply_updates, scale_updates

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["Streams", "TrainState", "LocalTrainer", "GlobalTrainer", "SCHEDULES", "PREDICTIONS",
           "HEAD_MODES", "GUESS_MODELS", "TARGETS"]
GUESS_MODELS = ("nominal", "calibrated")
#: What a stage's knob estimate differentiates: "local" — the stage's own head loss on its clean
#: input (Mono-Forward); "global" — the network's end-to-end loss (the last head's loss after
#: every later stage, each at its clean setting of the step, queried on the device), the
#: "global target" of Fournier et al. (arXiv:2306.06968).
TARGETS = ("local", "global")
PREDICTIONS = ("last", "sum")
HEAD_MODES = ("exact", "zo")


@dataclass
class Streams:
    """One generator per purpose, derived from the run seed."""

    directions: torch.Generator
    train_program: torch.Generator
    train_query: torch.Generator
    eval_program: torch.Generator
    eval_query: torch.Generator
    deploy_program: torch.Generator
    deploy_query: torch.Generator
    calibrate: torch.Generator | None = None     # calibration queries (program and readout)

    @classmethod
    def from_seed(cls, seed: int) -> "Streams":
        return cls(*(generator(seed, f"stream/{n}") for n in TRAINER_STREAMS))


@dataclass
class TrainState:
    """Everything a trainer carries between steps."""

    theta: list[Tensor]                      # trained knobs per stage, range units
    fixed: list[dict[str, Tensor]]           # knobs held (scales) and the full initial dict
    digital: list[dict[str, Tensor]]         # per stage: {"b": …} host-transform params
    heads: list[dict[str, Tensor]]           # per stage: {"M": …(, "R": fixed)}
    knob_opt: list[Any]
    digital_opt: list[Any]
    estimator: list[Any]
    streams: Streams
    step: int = 0
    calibration: list[Any] = field(default_factory=list)      # per stage: measured Jacobian
    calibrated_at: list[int] = field(default_factory=list)    # per stage: step it was measured


FP32 = 4   # bytes per host value


def _flops(trace: Trace | None, layer: str, flops: float, role: str = "host",
           nbytes: float = 0) -> None:
    """Host work, tagged with what it was for (``role``: "loss", "estimator", "optimizer" or
    plain "host"; the cost model prices each role), with the bytes it streams from memory
    (``nbytes``: FP32 operands read and written once; 0 where not counted)."""
    if trace is not None and flops > 0:
        trace.record(DigitalEvent(layer=layer, flops=int(flops), role=role, bytes=int(nbytes)))


class _Common:
    """Shared set-up and evaluation (composition helpers, not a public base class)."""

    #: Settings per device call when an estimate evaluates many (see :mod:`algorithms.chunking`):
    #: None chooses from the layer's shape and the batch (or ``$FORWARDLAB_SETTINGS_PER_CALL``);
    #: 0 puts all settings in one call.
    settings_per_call: int | None = None

    def _settings_per_call(self, i: int, a_in: Tensor, knobs: int | None = None) -> int | None:
        n_out, n_in = self.net.stages[i].device_shape
        rows = max(a_in.shape[1], a_in[0].numel() // max(n_in, 1))   # im2col stages: patches too
        d = knobs if knobs is not None else self.state.theta[i].numel()
        return settings_per_call(n_in, n_out, rows, d, override=self.settings_per_call)

    net: OracleNetwork
    state: TrainState
    heads: list[MonoForwardHead]
    trace: Trace | None
    prediction: str
    #: multipliers of the knob and head rates this epoch (learning-rate schedules; set by the
    #: registry's Trainable at each epoch's start)
    knob_lr_factor: float = 1.0
    head_lr_factor: float = 1.0

    def _init_state(self, net, initial_knobs, heads, knob_optimizer, digital_optimizer,
                    estimators, seed) -> TrainState:
        if len(initial_knobs) != len(net.stages):
            raise ValueError(f"initial_knobs has {len(initial_knobs)} entries; allowed: one per "
                             f"device block ({len(net.stages)})")
        g = generator(seed, INIT_HEADS)
        theta, fixed, digital, hp = [], [], [], []
        for st, m, k0, head in zip(net.stages, net.maps, initial_knobs, heads):
            k0 = {n: t.detach().clone().float() for n, t in k0.items()}
            theta.append(m.project(m.flatten(k0)))
            fixed.append(k0)
            digital.append({n: torch.zeros(s) for n, s in st.digital_param_shapes().items()})
            hp.append(head.init(g))
        return TrainState(
            theta=theta, fixed=fixed, digital=digital, heads=hp,
            knob_opt=[knob_optimizer.init({"theta": t}) for t in theta],
            digital_opt=[digital_optimizer.init(self._digital_params(d, h))
                         for d, h in zip(digital, hp)],
            estimator=[e.init(t) if e is not None else None for e, t in zip(estimators, theta)],
            streams=Streams.from_seed(seed), calibration=[None] * len(theta),
            calibrated_at=[-1] * len(theta))

    def _last_head_pass(self, x: Tensor, y: Tensor):
        """Clean pass of every stage, then the last head's loss and exact gradients (host):
        (passes, loss, ∂L/∂M, ∂L/∂ last stage's host parameters)."""
        s, net = self.state, self.net
        last = len(net.stages) - 1
        passes = self._clean_pass(x, last, s.streams.train_program, s.streams.train_query)
        p, st, head = passes[last], net.stages[last], self.heads[last]
        B = p["z"].shape[0]
        loss, g_head, da = head.loss_and_grads(p["h"].reshape(B, -1), y, s.heads[last])
        _, g_host = st.host_backward(p["ctxs"], da.reshape(B, *st.out_shape))
        return passes, loss, g_head, g_host

    def _update_last_head(self, g_head: Mapping[str, Tensor], g_host: Mapping[str, Tensor]) -> None:
        """The last head and bias take one step of the digital rule (scaled by the schedule)."""
        s, last = self.state, len(self.net.stages) - 1
        params = self._digital_params(s.digital[last], s.heads[last])
        upd, s.digital_opt[last] = self._digital_opt.update(
            {"M": g_head["M"], **{f"host.{k}": v for k, v in g_host.items()}},
            s.digital_opt[last], params)
        newp = apply_updates(params, scale_updates(upd, self.head_lr_factor))
        s.heads[last] = {**s.heads[last], "M": newp["M"]}
        s.digital[last] = {k: newp[f"host.{k}"] for k in s.digital[last]}

    @staticmethod
    def _digital_params(digital: Mapping[str, Tensor], head: Mapping[str, Tensor]) -> dict:
        return {**{f"host.{k}": v for k, v in digital.items()}, "M": head["M"]}

    def knobs(self) -> list[dict[str, Tensor]]:
        """Current knob dicts per stage (what would be programmed)."""
        return [m.unflatten(t, f) for m, t, f in zip(self.net.maps, self.state.theta, self.state.fixed)]

    def _clean_pass(self, x: Tensor, upto: int, prog_gen, query_gen) -> list[dict]:
        """Program each stage's clean knobs once; readouts and host outputs of stages ≤ upto."""
        s, out = self.state, []
        a = self.net.model.reshape_input(x)
        for i in range(upto + 1):
            st = self.net.stages[i]
            prog = self.net.program(i, s.theta[i], s.fixed[i], prog_gen)
            z = self.net.device_forward(i, prog, a, query_gen)                 # (1, B, *dev_out)
            h, ctxs = st.host_forward(z[0], s.digital[i])
            out.append({"a_in": a, "z": z[0], "h": h, "ctxs": ctxs, "prog": prog})
            a = h.unsqueeze(0)
        return out

    def stage_scores(self, x: Tensor, *, streams: str = "eval") -> list[Tensor]:
        """Per-stage head scores (B, C) on a clean pass with the ``eval`` or ``deploy`` noise."""
        s = self.state.streams
        pg, qg = (s.eval_program, s.eval_query) if streams == "eval" else (s.deploy_program,
                                                                            s.deploy_query)
        passes = self._clean_pass(x, len(self.net.stages) - 1, pg, qg)
        return [hd.scores(p["h"].reshape(p["h"].shape[0], -1), hp)
                for p, hd, hp in zip(passes, self.heads, self.state.heads)]

    def predict(self, x: Tensor) -> Tensor:
        """Class predictions (B,) through the device (evaluation streams only)."""
        with torch.no_grad():
            scores = self.stage_scores(x)
            if self.prediction == "last":
                return scores[-1].argmax(-1)
            return torch.stack(scores).sum(0).argmax(-1)


class LocalTrainer(_Common):
    """Mono-Forward local training through the device (see module docstring).

    Args:
        net: the oracle network.
        initial_knobs: one knob dict per device block (the init weights mapped onto the device).
        n_classes: C.
        estimators: one knob estimator per stage (``None`` for every stage = frozen knobs).
        knob_optimizer: update rule on θ (range units); digital_optimizer: on heads and biases.
        projection_dims: per stage, k of the head's random projection R (None = no projection).
        head: "exact" (closed form, default) or "zo" with ``head_estimator``.
        prediction: "last" or "sum" over stage scores.
        guess_model: how guesses (local guess, activity pullback) reach knob space: "nominal" —
            the design-level Jacobian (``nominal`` capability); "calibrated" — the device's own
            Jacobian measured by forward queries (``calibrate`` capability, e.g.
            :mod:`hwsim.photonic.calibrate`), re-measured every ``recalibrate_every`` steps at the
            current knobs (its queries are traced in the step that makes them);
            ``calibrate_subset``: knob indices per block measured each time (None: all) — the
            guess then moves only those knobs until the next calibration.
        target: what each stage's knob estimate differentiates (:data:`TARGETS`): "local" — its
            own head loss; "global" — the network's end-to-end loss: the stage's perturbed
            readouts go on through the later stages (each programmed once per step at its clean
            knobs; the candidates stream as more vectors of that one setting) to the last head.
            The heads still train on their own local losses.
        seed: root of every random stream.
        trace: receives the host FLOPs (device events come through the oracles' own trace).
    """

    def __init__(self, net: OracleNetwork, initial_knobs: Sequence[Mapping[str, Tensor]],
                 n_classes: int, estimators: Sequence[Estimator | None],
                 knob_optimizer: GradientTransformation, digital_optimizer: GradientTransformation,
                 *, projection_dims: Sequence[int | None] | None = None, head: str = "exact",
                 head_estimator: Directional | None = None, prediction: str = "last",
                 guess_model: str = "nominal", recalibrate_every: int = 20,
                 calibrate_subset: int | None = None, target: str = "local", seed: int = 0,
                 trace: Trace | None = None, heads: Sequence | None = None) -> None:
        if target not in TARGETS:
            raise ValueError(f"target = {target!r}; allowed: {TARGETS}")
        if guess_model not in GUESS_MODELS:
            raise ValueError(f"guess_model = {guess_model!r}; allowed: {GUESS_MODELS}")
        if not isinstance(recalibrate_every, int) or recalibrate_every < 1:
            raise ValueError(f"recalibrate_every = {recalibrate_every!r}; allowed: an integer >= 1")
        if head not in HEAD_MODES:
            raise ValueError(f"head = {head!r}; allowed: {HEAD_MODES}")
        if head == "zo" and head_estimator is None:
            raise ValueError("head = 'zo' needs a head_estimator")
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction = {prediction!r}; allowed: {PREDICTIONS}")
        if len(estimators) != len(net.stages):
            raise ValueError(f"estimators has {len(estimators)} entries; allowed one per stage "
                             f"({len(net.stages)})")
        self.net, self.trace, self.prediction = net, trace, prediction
        self.target = target
        self.head_mode, self.head_estimator = head, head_estimator
        self.estimators = list(estimators)
        proj = list(projection_dims) if projection_dims is not None else [None] * len(net.stages)
        self.heads = (list(heads) if heads is not None else
                      [MonoForwardHead(n_classes, st.n_features, k)
                       for st, k in zip(net.stages, proj)])
        if len(self.heads) != len(net.stages):
            raise ValueError(f"heads has {len(self.heads)} entries; allowed one per stage "
                             f"({len(net.stages)})")
        for i, e in enumerate(self.estimators):
            if e is not None and e.needs & JACOBIAN_NEEDS:
                net.oracles[i].require("nominal" if guess_model == "nominal" else "calibrate")
        self.guess_model, self.recalibrate_every = guess_model, recalibrate_every
        self.calibrate_subset = calibrate_subset
        self._knob_opt, self._digital_opt = knob_optimizer, digital_optimizer
        self.state = self._init_state(net, initial_knobs, self.heads, knob_optimizer,
                                      digital_optimizer, self.estimators, seed)

    # ------------------------------------------------------------------ pieces
    def _stage_loss_fn(self, i: int, a_in: Tensor, y: Tensor) -> Callable[[Tensor], Tensor]:
        s, st, net = self.state, self.net.stages[i], self.net
        head, hp, dig = self.heads[i], s.heads[i], s.digital[i]

        def loss(settings: Tensor) -> Tensor:           # (n, d) → (n,), ONE batched device call
            prog = net.program(i, settings, s.fixed[i], s.streams.train_program)
            z = net.device_forward(i, prog, a_in, s.streams.train_query)
            h, _ = st.host_forward(z, dig)
            _flops(self.trace, "host", settings.shape[0] * head.flops(a_in.shape[1]), "loss",
                   FP32 * h.numel())                    # every readout read once
            return head.loss(h.reshape(*h.shape[:2], -1), y, hp)
        return loss

    def _global_loss_fn(self, i: int, passes: list[dict], y: Tensor) -> Callable[[Tensor], Tensor]:
        """Settings (n, d) of stage i → the network's end-to-end loss (n,): stage i programmed
        with the n settings, its n readouts through the host transforms and then through every
        later stage j at the clean state programmed for this step (``passes[j]["prog"]``,
        queried once with the n·B vectors), to the last head's loss. Forward only: every
        stage's answer comes from its device."""
        s, net = self.state, self.net
        last = len(net.stages) - 1
        st = net.stages[i]

        def loss(settings: Tensor) -> Tensor:
            prog = net.program(i, settings, s.fixed[i], s.streams.train_program)
            z = net.device_forward(i, prog, passes[i]["a_in"], s.streams.train_query)
            a, _ = st.host_forward(z, s.digital[i])                       # (n, B, *out_shape)
            n, B = a.shape[:2]
            for j in range(i + 1, last + 1):
                sj = net.stages[j]
                zj = net.device_forward(j, passes[j]["prog"], a.reshape(1, n * B, *a.shape[2:]),
                                        s.streams.train_query)
                a, _ = sj.host_forward(zj.reshape(n, B, *sj.device_out_shape), s.digital[j])
            head = self.heads[last]
            _flops(self.trace, "host", n * head.flops(B), "loss", FP32 * a.numel())
            return head.loss(a.reshape(n, B, -1), y, s.heads[last])
        return loss

    def _knob_pullback(self, i: int) -> Callable[[Tensor], Tensor]:
        """Jᵀ of stage i's knob model: a weight cotangent (n_out, n_in) → θ (d,), host only.

        The model is the device's nominal Jacobian, or the calibrated one (measured by forward
        queries, traced; re-measured here when ``recalibrate_every`` steps have passed)."""
        o, m, s = self.net.oracles[i], self.net.maps[i], self.state
        theta = s.theta[i]
        if self.guess_model == "nominal":
            knobs = m.unflatten(theta, s.fixed[i])
            return lambda w: m.pullback(theta, o.nominal_vjp(knobs, w))
        if s.calibration[i] is None or s.step - s.calibrated_at[i] >= self.recalibrate_every:
            knobs = m.unflatten(theta, s.fixed[i])
            s.calibration[i] = o.calibrate(knobs, generator=s.streams.calibrate,
                                           **({"subset": self.calibrate_subset}
                                              if self.calibrate_subset else {}))
            s.calibrated_at[i] = s.step
        cal = s.calibration[i]
        return lambda w: m.pullback(theta, cal.vjp(w))

    def _guess(self, i: int, dz: Tensor, a_in: Tensor) -> Tensor:
        """Exact digital ∂L/∂z → ∂L/∂W → knob space through the Jacobian model (host only)."""
        return self._knob_pullback(i)(self.net.stages[i].weight_cotangent(dz, a_in))

    def _span_directions(self, i: int, p: dict, est: SpanProjection) -> Tensor:
        """P random knob directions in the span of stage i's local gradients (see
        ``estimators.span``): random cotangents in feature (``input``) or score (``head``) space,
        pulled back through head and host transforms, onto the weight through the batch inputs,
        and into knob space through the Jacobian model, all P at once."""
        st, s, head = self.net.stages[i], self.state, self.heads[i]
        B, P = p["z"].shape[0], est.num_directions
        g = s.streams.directions
        if est.space == "head":
            xi = torch.randn(P, B, head.n_classes, generator=g)
            dh = head.pullback_scores(xi, s.heads[i])                 # (P, B, n_features)
        else:
            dh = torch.randn(P, B, st.n_features, generator=g)
        n_out, n_in = st.device_shape
        _flops(self.trace, "host", P * (2 * B * st.n_features + 2 * B * n_out * n_in
                                        + 2 * s.theta[i].numel() * (P + 2)), "estimator")
        # every map below keeps the leading P: one batched pass, no loop over directions
        dz, _ = st.host_backward(p["ctxs"], dh.reshape(P, B, *st.out_shape))
        return self._knob_pullback(i)(st.weight_cotangent(dz, p["a_in"]))

    def _activity_extras(self, i: int, p: dict, y: Tensor) -> tuple[Callable, dict]:
        st, s = self.net.stages[i], self.state
        head, hp, dig = self.heads[i], s.heads[i], s.digital[i]
        z = p["z"]
        B = z.shape[0]
        mask = None
        kinds = [type(t) for t in st.host]
        if ReLU in kinds and all(k is Bias for k in kinds[:kinds.index(ReLU)]):
            mask = p["ctxs"][kinds.index(ReLU)].reshape(B, -1)   # active units after bias

        def per_example(zs: Tensor) -> Tensor:          # (n, B, m) → (n, B), host only
            h, _ = st.host_forward(zs.reshape(zs.shape[0], B, *st.device_out_shape), dig)
            _flops(self.trace, "host", zs.shape[0] * head.flops(B), "loss")
            return example_losses(head.scores(h.reshape(*h.shape[:2], -1), hp), y)

        def pullback(gz: Tensor) -> Tensor:
            return self._guess(i, gz.reshape(B, *st.device_out_shape), p["a_in"])

        return per_example, {"activity": z.reshape(B, -1), "mask": mask, "pullback": pullback}

    def _head_zo(self, i: int, p: dict, y: Tensor) -> tuple[dict, float]:
        """ZO estimate of the digital parameters of stage i (no device query)."""
        s, st = self.state, self.net.stages[i]
        head, hp = self.heads[i], s.heads[i]
        shapes = {"M": hp["M"].shape, **{k: v.shape for k, v in s.digital[i].items()}}
        vec = torch.cat([hp["M"].reshape(-1), *(v.reshape(-1) for v in s.digital[i].values())])
        z, B = p["z"], p["z"].shape[0]

        def loss(v: Tensor) -> Tensor:
            parts, j = {}, 0
            for k, shp in shapes.items():
                n = math.prod(shp)
                parts[k] = v[:, j:j + n].reshape(v.shape[0], *shp)
                j += n
            h, _ = st.host_forward(z.unsqueeze(0).expand(v.shape[0], *z.shape),
                                   {k: t for k, t in parts.items() if k != "M"})
            _flops(self.trace, "host", v.shape[0] * head.flops(B), "loss")
            return head.loss(h.reshape(v.shape[0], B, -1), y, {**hp, "M": parts["M"]})

        g, _, info = self.head_estimator.estimate(loss, vec, (), s.streams.directions)
        _flops(self.trace, "host", self.head_estimator.combine_flops(vec.numel()), "estimator")
        out, j = {}, 0
        for k, shp in shapes.items():
            n = math.prod(shp)
            out["M" if k == "M" else f"host.{k}"] = g[j:j + n].reshape(shp)
            j += n
        return out, info["loss"]

    # ------------------------------------------------------------------ step
    def step(self, x: Tensor, y: Tensor, train_stages: Sequence[int] | None = None) -> dict[str, float]:
        """One minibatch step for ``train_stages`` (default: all). Returns local losses."""
        s, net = self.state, self.net
        n = len(net.stages)
        train = list(range(n)) if train_stages is None else sorted(set(train_stages))
        if not train or min(train) < 0 or max(train) >= n:
            raise ValueError(f"train_stages = {train_stages!r}; allowed: indices 0..{n - 1}")
        # the global target needs every later stage's clean state: all stages are programmed
        upto = n - 1 if self.target == "global" else max(train)
        passes = self._clean_pass(x, upto, s.streams.train_program, s.streams.train_query)
        metrics, new = {}, {}
        for i in train:
            st, p, head = net.stages[i], passes[i], self.heads[i]
            B = p["z"].shape[0]
            h = p["h"].reshape(B, -1)
            loss, g_head, da = head.loss_and_grads(h, y, s.heads[i])
            dz, g_host = st.host_backward(p["ctxs"], da.reshape(B, *st.out_shape))
            _flops(self.trace, "host", head.flops(B), "loss", FP32 * h.numel())
            if self.head_mode == "exact":
                g_dig = {"M": g_head["M"], **{f"host.{k}": v for k, v in g_host.items()}}
            else:
                g_dig, _ = self._head_zo(i, p, y)
            est = self.estimators[i]
            g_theta = None
            if est is not None:
                extras, loss_fn = {}, None
                if "guess" in est.needs:
                    extras["guess"] = self._guess(i, dz, p["a_in"])
                if "span-directions" in est.needs:
                    extras["directions"] = self._span_directions(i, p, est)
                if "activity" in est.needs:
                    loss_fn, extras = self._activity_extras(i, p, y)
                with coalesced(self.trace) as mark:     # chunk calls trace as one call
                    if loss_fn is None and self.target == "global":
                        # one call (no chunks): each later stage is queried once per estimate
                        loss_fn = SettingsLoss(self._global_loss_fn(i, passes, y), None, mark)
                    elif loss_fn is None:
                        loss_fn = SettingsLoss(self._stage_loss_fn(i, p["a_in"], y),
                                               self._settings_per_call(i, p["a_in"]), mark)
                    g_theta, s.estimator[i], info = est.estimate(
                        loss_fn, s.theta[i], s.estimator[i], s.streams.directions, **extras)
                # combining the directions (Σ_p δ_p u_p: 2 FLOPs per direction and knob) reads
                # every direction once and writes the estimate once
                combine = est.combine_flops(s.theta[i].numel())
                _flops(self.trace, "host", combine, "estimator",
                       FP32 * (combine / 2 + s.theta[i].numel()))
                if self.trace is not None:
                    # the estimate needs only this stage's clean readout (p["a_in"] and the
                    # stage's own queries): priced concurrently with the other stages' estimates
                    self.trace.record(DependencyEvent(layer=net.oracles[i].name, independent=True))
            new[i] = (g_theta, g_dig)
            metrics[f"loss.{net.oracles[i].name}"] = float(loss)
        # all gradients were taken at the pre-step values; apply the updates now
        for i, (g_theta, g_dig) in new.items():
            if g_theta is not None:
                upd, s.knob_opt[i] = self._knob_opt.update({"theta": g_theta}, s.knob_opt[i],
                                                           {"theta": s.theta[i]})
                upd = scale_updates(upd, self.knob_lr_factor)
                s.theta[i] = net.maps[i].project(apply_updates({"theta": s.theta[i]}, upd)["theta"])
            params = self._digital_params(s.digital[i], s.heads[i])
            upd, s.digital_opt[i] = self._digital_opt.update(g_dig, s.digital_opt[i], params)
            newp = apply_updates(params, scale_updates(upd, self.head_lr_factor))
            s.heads[i] = {**s.heads[i], "M": newp["M"]}
            s.digital[i] = {k: newp[f"host.{k}"] for k in s.digital[i]}
            # the update rule (~12 FLOPs per coordinate for Adam) on knobs and digital parameters
            d = (s.theta[i].numel() if g_theta is not None else 0) + sum(
                v.numel() for v in params.values())
            # Adam reads θ, g, m, v and writes θ, m, v: 7 FP32 values per coordinate
            _flops(self.trace, "host", 12 * d, "optimizer", 7 * FP32 * d)
        s.step += 1
        return metrics

    def device_queries_per_step(self, train_stages: Sequence[int] | None = None) -> int:
        """Settings queried per step: one clean readout per stage up to the last trained one
        (global target: every stage), plus each trained stage's estimate (global target: and
        one query of each later stage's clean setting per estimate)."""
        n = len(self.net.stages)
        train = list(range(n)) if train_stages is None else list(train_stages)
        est = [i for i in train if self.estimators[i] is not None]
        if self.target == "global":
            return n + sum(self.estimators[i].device_queries() + (n - 1 - i) for i in est)
        return (max(train) + 1) + sum(self.estimators[i].device_queries() for i in est)


class GlobalTrainer(_Common):
    """One estimate over all knobs against the global CE of the last stage's head.

    The last head (M, and the last stage's bias) trains with its exact gradient; the biases of
    earlier stages stay at their initial value (their exact gradient would need a backward pass
    through the devices). Prediction uses the last head.
    """

    def __init__(self, net: OracleNetwork, initial_knobs, n_classes: int, estimator: Estimator,
                 knob_optimizer: GradientTransformation, digital_optimizer: GradientTransformation,
                 *, projection_dim: int | None = None, seed: int = 0,
                 trace: Trace | None = None) -> None:
        if estimator.needs:
            raise ValueError("GlobalTrainer: allowed estimators are weight perturbations "
                             "(Directional, FROG, LowRank, SeedReplay)")
        self.net, self.trace, self.prediction = net, trace, "last"
        self.estimator = estimator
        self.heads = [MonoForwardHead(n_classes, st.n_features,
                                      projection_dim if i == len(net.stages) - 1 else None)
                      for i, st in enumerate(net.stages)]
        self._knob_opt, self._digital_opt = knob_optimizer, digital_optimizer
        self.state = self._init_state(net, initial_knobs, self.heads, knob_optimizer,
                                      digital_optimizer, [None] * len(net.stages), seed)
        self._dims = [t.numel() for t in self.state.theta]
        theta = torch.cat(self.state.theta)
        self._est_state = estimator.init(theta)
        self._opt_state = knob_optimizer.init({"theta": theta})

    def _loss_fn(self, x: Tensor, y: Tensor):
        s, net = self.state, self.net

        def loss(settings: Tensor) -> Tensor:            # (n, D) → (n,)
            a = net.model.reshape_input(x)
            parts = torch.split(settings, self._dims, dim=-1)
            for i, st in enumerate(net.stages):
                prog = net.program(i, parts[i], s.fixed[i], s.streams.train_program)
                z = net.device_forward(i, prog, a, s.streams.train_query)
                a, _ = st.host_forward(z, s.digital[i])
            _flops(self.trace, "host", settings.shape[0] * self.heads[-1].flops(x.shape[0]))
            return self.heads[-1].loss(a.reshape(*a.shape[:2], -1), y, s.heads[-1])
        return loss

    def step(self, x: Tensor, y: Tensor, train_stages=None) -> dict[str, float]:
        s, net = self.state, self.net
        passes, loss, g_head, g_host = self._last_head_pass(x, y)
        theta = torch.cat(s.theta)
        # chunked by the widest stage; the chunks' draws follow each other layer by layer, so
        # they are not the one call's draws (the same distribution), unlike the local trainer's
        widest = max(range(len(net.stages)), key=lambda i: math.prod(net.stages[i].device_shape))
        with coalesced(self.trace) as mark:
            loss_fn = SettingsLoss(self._loss_fn(x, y), self._settings_per_call(
                widest, x.reshape(1, x.shape[0], -1), knobs=theta.numel()), mark)
            g, self._est_state, _ = self.estimator.estimate(loss_fn, theta, self._est_state,
                                                            s.streams.directions)
        upd, self._opt_state = self._knob_opt.update({"theta": g}, self._opt_state, {"theta": theta})
        new = apply_updates({"theta": theta}, scale_updates(upd, self.knob_lr_factor))["theta"]
        s.theta = [m.project(t) for m, t in zip(net.maps, torch.split(new, self._dims))]
        self._update_last_head(g_head, g_host)
        s.step += 1
        return {"loss.global": float(loss)}

    def device_queries_per_step(self, train_stages=None) -> int:
        n = len(self.net.stages)
        return n * (1 + self.estimator.device_queries())

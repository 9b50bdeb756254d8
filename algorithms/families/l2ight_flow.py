"""``l2ight-flow``: the L2ight on-chip flow as one pipeline (Gu, Zhu, Feng, Jiang, Chen, Pan,
"L2ight: Enabling On-Chip Learning for Optical Neural Networks via Efficient in-situ Subspace
Optimization", NeurIPS 2021, arXiv:2110.14807; code ``JeremieMelo/L2ight``, commit 21fdac8:
``config/mnist/cnn3/default.yml`` ``ic`` (identity calibration, ``alg: zcd``) then ``pm``
(parallel mapping) then ``learn`` with a zeroth-order optimizer).

Four stages, in order, each composed of pieces the project already has:

1. ``pretrain`` — backpropagation on the ideal digital twin (``bp-deploy`` or, with noise
   injection, ``hwa-deploy``; labelled "ideal digital twin, autograd"; no device query, priced on
   the GPU rows of the BP step) for ``pretrain_epochs`` epochs. Its product is the pretrained
   weights W_i = nominal(knobs_i) (what the designer computes from the trained model) and the
   digital heads and biases.
2. ``identity-calibration`` — the hidden phase errors are estimated from forward queries only:
   every k×k block is asked for the reference matrix cos(π/3)·I (the designer's identity knobs
   U = V = I with Σ phases at π/3, where σ = cos φ has slope; at σ = 1 it has none) and
   :func:`algorithms.mapping.calibrated_mapping` moves the knobs until the device reads it;
   Δ = knobs_found − knobs_designed (mesh phases wrapped to (−π, π]) is the per-shifter offset
   that compensates the hidden bias. L2ight calibrates each unitary to I by zeroth-order
   coordinate descent; here the same target is reached by Gauss–Newton rounds on measured block
   Jacobians (the deviation :mod:`algorithms.mapping` documents: fewer settings, every query
   traced).
3. ``parallel-mapping`` — every block of every layer at once: start from the pretrained knobs +
   Δ and refine them by ``mapping_iterations`` rounds of the same calibrated mapping toward W_i.
4. ``in-situ`` — the forward-only algorithm ``insitu`` (any registered one whose devices are the
   model's blocks: ``forwardlab algorithms``) trains from the mapped knobs and the pretrained
   heads for the remaining epochs, to recover the model–reality gap.

Stages 2–4 see the devices only through program/query/calibrate (never ``nominal``, the twin or
a hidden error; tested). Each stage's device work is summarised from the trace's events
(:meth:`L2ightFlowTrainer.stage_summaries`); the transition to stage 2 happens in the first
step of epoch ``pretrain_epochs`` so that its device work is priced with the in-situ steps.
``predict`` during pretraining is the *uncalibrated deployment* (the twin's knobs programmed as
they are, bp-deploy with ``deploy_calibration = "off"``); ``predict_twin`` the twin itself.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hwsim.lazy import torch
from hwsim.trace import summarize

from .. import registry
from ..mapping import calibrated_mapping
from ..registry import TWIN_LABEL, AlgorithmSpec, BuildRequest, register
from ..seeds import generator
from ..settings import bad, choice, integer, positive, setting

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["L2ightFlowSettings", "L2ightFlowTrainer", "insitu_algorithms", "FLOW_STAGES"]

#: The stages in order (``L2ightFlowTrainer.stage``).
FLOW_STAGES = ("pretrain", "identity-calibration", "parallel-mapping", "in-situ")
#: What each stage is (results and reports say it).
STAGE_LABELS = {
    "pretrain": f"BP on the twin ({TWIN_LABEL}; GPU rows)",
    "identity-calibration": "identity calibration of the hidden phase errors (forward queries, "
                            "calibrated mapping to cos(π/3)·I per block)",
    "parallel-mapping": "parallel mapping of the pretrained weights (all blocks at once, from "
                        "the calibrated offsets)",
    "in-situ": "in-situ learning with a forward-only algorithm (device)",
}
PRETRAINERS = ("bp-deploy", "hwa-deploy")
#: Σ phase of the identity-calibration reference: σ = cos(π/3) = 0.5, mid-slope of cos.
REFERENCE_SIGMA_RAD = math.pi / 3


def insitu_algorithms() -> list[str]:
    """Registered forward-only algorithms the in-situ stage can run: trained through the device
    (not on the twin), on the model's own blocks (the default layout; not a whole-network mesh
    or tensor-train cores), not itself a pipeline with twin steps — every such algorithm, as
    the registry holds them."""
    return [n for n, s in registry.ALGORITHMS.items()
            if not s.twin and s.traced and not s.whole_network and not s.twin_steps
            and s.layout is registry.DEFAULT_LAYOUT]


@dataclass(frozen=True)
class L2ightFlowSettings:
    """Settings of the four stages (``insitu_settings``: the in-situ algorithm's own settings
    table, its registry defaults where not given)."""

    pretrain: str = setting("bp-deploy", f"twin pretraining, one of {PRETRAINERS}")
    pretrain_epochs: int = setting(1, "epochs of twin pretraining (the run's other epochs are "
                                   "in-situ learning)", "epochs")
    pretrain_knob_lr_range_units: float = setting(2e-3, "Adam step on θ while pretraining",
                                                  "knob range units")
    pretrain_head_lr: float = setting(1e-2, "Adam step of heads and biases while pretraining",
                                      "1")
    identity_iterations: int = setting(4, "Gauss–Newton rounds of the identity calibration "
                                       "(0: skip it, map from the pretrained knobs)", "rounds")
    mapping_iterations: int = setting(8, "Gauss–Newton rounds of the parallel mapping", "rounds")
    probe_rows: int = setting(1024, "Hadamard probe vectors per matrix read and per "
                              "calibration setting", "vectors")
    insitu: str = setting("flops", "forward-only algorithm of the in-situ stage (any of "
                          "`forwardlab algorithms` that trains through the device)")
    insitu_settings: dict = field(default_factory=dict, metadata={
        "meaning": "settings of the in-situ algorithm (its [algorithm.settings] keys)",
        "unit": ""})

    def __post_init__(self) -> None:
        o = type(self).__name__
        choice(o, "pretrain", self.pretrain, PRETRAINERS)
        integer(o, "pretrain_epochs", self.pretrain_epochs, 1, 100_000)
        positive(o, "pretrain_knob_lr_range_units", self.pretrain_knob_lr_range_units)
        positive(o, "pretrain_head_lr", self.pretrain_head_lr)
        integer(o, "identity_iterations", self.identity_iterations, 0, 1000)
        integer(o, "mapping_iterations", self.mapping_iterations, 1, 1000)
        integer(o, "probe_rows", self.probe_rows, 1, 1 << 20)
        allowed = insitu_algorithms()
        if self.insitu not in allowed:
            raise bad(o, "insitu", self.insitu, f"a forward-only algorithm trained through the "
                      f"device, one of {allowed}")
        if not isinstance(self.insitu_settings, dict):
            raise bad(o, "insitu_settings", self.insitu_settings,
                      f"a table of {self.insitu!r}'s settings")
        self.insitu_object()          # its own one-line errors, before any work

    def insitu_object(self):
        """The in-situ algorithm's settings dataclass."""
        return registry.settings_for(self.insitu, self.insitu_settings)

    def pretrain_object(self):
        """The pretraining stage's settings (deployed as programmed: the flow calibrates)."""
        return registry.settings_for(self.pretrain, {
            "knob_lr_range_units": self.pretrain_knob_lr_range_units,
            "head_lr": self.pretrain_head_lr, "deploy_calibration": "off"})


def check_epochs(settings: L2ightFlowSettings, epochs: int) -> None:
    """The run must leave at least one in-situ epoch after pretraining."""
    if epochs <= settings.pretrain_epochs:
        raise ValueError(f"run.epochs = {epochs}; allowed: more than algorithm.settings."
                         f"pretrain_epochs ({settings.pretrain_epochs}), the rest are the "
                         "in-situ stage's epochs")


def _wrap(d: Tensor) -> Tensor:
    """Phase differences into (−π, π]."""
    return d - 2 * math.pi * torch.ceil((d - math.pi) / (2 * math.pi))


def _block_size(oracle) -> int:
    return int(oracle.knob_spec["sigma_phases"].shape[-1])


def identity_reference(oracle) -> tuple[dict[str, Tensor], Tensor]:
    """(designed knobs, their design-level matrix) of the identity-calibration reference: every
    k×k block U = V = I with Σ phases at π/3 and gain 1, i.e. cos(π/3)·I per block (cropped to
    the layer). Design knowledge only (``nominal``); computed before any device work."""
    k = _block_size(oracle)
    r = torch.arange(oracle.n_out)[:, None] % k == torch.arange(oracle.n_in)[None, :] % k
    knobs = {n: t.detach().float().clone() for n, t in oracle.nominal_knobs(r.float()).items()}
    knobs["sigma_phases"] = torch.full_like(knobs["sigma_phases"], REFERENCE_SIGMA_RAD)
    knobs["gain"] = torch.ones_like(knobs["gain"])
    return knobs, oracle.nominal(knobs).detach()


class L2ightFlowTrainer:
    """The four stages over one set of oracles (see the module docstring).

    ``pre``: the pretraining trainable (bp-deploy/hwa-deploy); ``inner``: the in-situ trainable,
    built at the parallel mapping's end; ``stage``: one of :data:`FLOW_STAGES`; ``log``: per
    stage its label, its event range in the trace and what it measured (mapping errors)."""

    n_stages = 1

    def __init__(self, req: BuildRequest) -> None:
        s = req.settings
        self.settings, self.model, self.oracles = s, req.model, list(req.oracles)
        self.n_classes, self.seed, self.trace = req.n_classes, req.seed, req.trace
        self.pre = registry.build(s.pretrain, s.pretrain_object(), req.model, self.oracles,
                                  req.n_classes, seed=req.seed, trace=req.trace,
                                  initial_knobs=req.initial_knobs)
        # design knowledge, fixed before any device work: the identity references
        self.references = [identity_reference(o) for o in self.oracles] \
            if s.identity_iterations else None
        self.targets: list[Tensor] | None = None       # pretrained weights (pretrain's product)
        self.pretrained_knobs: list[dict] | None = None
        self.offsets: list[dict] | None = None
        self.mapped_knobs: list[dict] | None = None
        self.inner = None
        self.stage = FLOW_STAGES[0]
        self.epoch = 0
        self.log: list[dict] = [self._open("pretrain")]
        self._gen = generator(req.seed, "l2ight/calibration")
        self._last_queries = 0
        self.evaluation_events: list[tuple[int, int]] = []   # event ranges of predict calls

    # ---------------------------------------------------------------- stage bookkeeping
    def _open(self, stage: str) -> dict:
        return {"stage": stage, "label": STAGE_LABELS[stage], "first_event": len(self.trace.events),
                "last_event": None, "steps": 0}

    def _enter(self, stage: str) -> None:
        self.log[-1]["last_event"] = len(self.trace.events)
        self.stage = stage
        self.log.append(self._open(stage))

    def stage_summaries(self) -> dict[str, dict[str, float]]:
        """Per stage, the trace summary of its device work (events in its range, evaluation
        queries left out)."""
        evaluation = set()
        for a, b in self.evaluation_events:
            evaluation.update(range(a, b))
        out = {}
        for e in self.log:
            end = e["last_event"] if e["last_event"] is not None else len(self.trace.events)
            events = [ev for i, ev in enumerate(self.trace.events[e["first_event"]:end],
                                                 e["first_event"]) if i not in evaluation]
            out[e["stage"]] = summarize(events, self.trace.layers.values())
        return out

    def stage_report(self) -> list[dict]:
        """Per stage: name, label, steps and what it measured (plain data)."""
        return [{k: v for k, v in e.items() if k not in ("first_event", "last_event")}
                for e in self.log]

    # ---------------------------------------------------------------- the transitions
    def finish_pretraining(self) -> None:
        """Close pretraining: the pretrained weights W_i = nominal(knobs_i) and heads become
        the targets (the last read of the twin)."""
        if self.stage != "pretrain":
            raise RuntimeError(f"finish_pretraining in stage {self.stage!r}")
        t = self.pre.trainer
        self.pretrained_knobs = [m.unflatten(th.detach().clone(), f)
                                 for m, th, f in zip(t.maps, t.theta, t.fixed)]
        self.targets = [o.nominal(k).detach() for o, k in zip(self.oracles, self.pretrained_knobs)]
        self.pretrained_digital = [{k: v.detach().clone() for k, v in d.items()} for d in t.digital]
        self.pretrained_heads = [{k: v.detach().clone() for k, v in h.items()}
                                 for h in t.head_params]

    def calibrate(self) -> None:
        """Identity calibration: per layer the offsets Δ that make the device read the
        reference (forward queries only; ``identity_iterations`` rounds)."""
        s = self.settings
        self._enter("identity-calibration")
        if self.references is None:
            self.offsets = None
            self.log[-1]["skipped"] = True
            return
        self.offsets, errs = [], []
        for o, (k0, w0) in zip(self.oracles, self.references):
            r = calibrated_mapping(o, k0, w0, iterations=s.identity_iterations,
                                   probe_rows=s.probe_rows, generator=self._gen)
            self.offsets.append({"mesh_phases": _wrap(r.knobs["mesh_phases"] - k0["mesh_phases"]),
                                 "sigma_phases": r.knobs["sigma_phases"] - k0["sigma_phases"]})
            errs.append([r.errors[0], min(r.errors)])
        self.log[-1]["relative_error_before_after"] = errs

    def map_weights(self) -> None:
        """Parallel mapping: pretrained knobs + Δ, refined toward the pretrained weights; then
        the in-situ trainer is built on the mapped knobs with the pretrained heads."""
        s = self.settings
        self._enter("parallel-mapping")
        mapped, errs = [], []
        for i, (o, k, w) in enumerate(zip(self.oracles, self.pretrained_knobs, self.targets)):
            start = dict(k)
            if self.offsets is not None:
                spec = o.knob_spec
                for n, d in self.offsets[i].items():
                    start[n] = spec[n].project(k[n] + d)
            r = calibrated_mapping(o, start, w, iterations=s.mapping_iterations,
                                   probe_rows=s.probe_rows, generator=self._gen)
            mapped.append(r.knobs)
            errs.append([r.errors[0], min(r.errors)])
        self.log[-1]["relative_error_before_after"] = errs
        self.mapped_knobs = mapped
        self.start_insitu()

    def start_insitu(self, settings: L2ightFlowSettings | None = None) -> None:
        """Build the in-situ trainer on the mapped knobs with the pretrained heads (``settings``:
        another in-situ choice from the same mapped state, e.g. a validation sweep of a copy)."""
        if self.stage not in ("parallel-mapping", "in-situ"):
            raise RuntimeError(f"start_insitu in stage {self.stage!r}; allowed after the "
                               "parallel mapping")
        if settings is not None:
            self.settings = settings
        s = self.settings
        if self.stage == "in-situ":            # a new choice replaces the log's in-situ entry
            self.log.pop()
            self.log[-1]["last_event"] = None
            self.stage = "parallel-mapping"
        self.inner = registry.build(s.insitu, s.insitu_object(), self.model, self.oracles,
                                    self.n_classes, seed=self.seed, trace=self.trace,
                                    initial_knobs=self.mapped_knobs)
        self.log[-1]["heads"] = self._carry_heads()
        self._enter("in-situ")
        self.log[-1]["label"] += f": {s.insitu} ({self.inner.label})"

    def _carry_heads(self) -> str:
        """The pretrained digital biases and heads into the in-situ trainer's state where its
        state holds them in the same shapes; otherwise it keeps its own (said in the log)."""
        st = getattr(self.inner.trainer, "state", None)
        ok = (st is not None and isinstance(getattr(st, "heads", None), list)
              and isinstance(getattr(st, "digital", None), list)
              and len(st.heads) == len(self.pretrained_heads)
              and all(set(a) >= {"M"} and a["M"].shape == b["M"].shape
                      for a, b in zip(st.heads, self.pretrained_heads))
              and all({n: v.shape for n, v in a.items()} == {n: v.shape for n, v in b.items()}
                      for a, b in zip(st.digital, self.pretrained_digital)))
        if not ok:
            return "the in-situ algorithm's own heads (no classifier head of the same shape)"
        st.digital = [{k: v.clone() for k, v in d.items()} for d in self.pretrained_digital]
        st.heads = [{**a, "M": b["M"].clone()} for a, b in zip(st.heads, self.pretrained_heads)]
        return "pretrained heads and biases"

    def advance(self) -> None:
        """Run stages 2 and 3 now (``step`` does it at the first in-situ step)."""
        if self.stage != "pretrain":
            raise RuntimeError(f"advance in stage {self.stage!r}; allowed: once, after pretraining")
        self.finish_pretraining()
        self.calibrate()
        self.map_weights()

    # ---------------------------------------------------------------- the trainer protocol
    def begin_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if self.inner is not None and epoch >= self.settings.pretrain_epochs:
            self.inner.begin_epoch(epoch - self.settings.pretrain_epochs)
        elif self.inner is None:
            self.pre.begin_epoch(epoch)

    def _insitu_stages(self):
        """A greedy in-situ algorithm trains one block per in-situ epoch, in turn (the flow's
        epochs are the run's, not multiplied by blocks); others train all blocks each step."""
        if getattr(self.inner, "schedule", "simultaneous") != "greedy":
            return None
        return [(self.epoch - self.settings.pretrain_epochs) % self.inner.n_stages]

    def step(self, x: Tensor, y: Tensor, train_stages=None) -> dict[str, float]:
        if self.stage == "pretrain" and self.epoch < self.settings.pretrain_epochs:
            self.log[-1]["steps"] += 1
            self._last_queries = 0
            return self.pre.step(x, y, None)
        n0 = len(self.trace.events)
        if self.inner is None:
            self.advance()
            self.inner.begin_epoch(max(0, self.epoch - self.settings.pretrain_epochs))
        pre_queries = sum(1 for e in self.trace.events[n0:] if e.kind == "program")
        self.log[-1]["steps"] += 1
        m = self.inner.step(x, y, self._insitu_stages())
        self._last_queries = pre_queries + self.inner.device_queries_per_step()
        return m

    def predict(self, x: Tensor) -> Tensor:
        """Pretraining: the uncalibrated deployment; afterwards the in-situ model on the device.
        Its device queries are evaluation, not a stage's work: their events are left out of
        :meth:`stage_summaries`."""
        n0 = len(self.trace.events)
        out = self.pre.predict(x) if self.inner is None else self.inner.predict(x)
        self.evaluation_events.append((n0, len(self.trace.events)))
        return out

    def predict_twin(self, x: Tensor) -> Tensor:
        """The pretrained model on the ideal twin (labelled autograd baseline)."""
        return self.pre.trainer.predict_twin(x)

    def device_queries_per_step(self, train_stages=None) -> int:
        return self._last_queries


def _queries(s: L2ightFlowSettings, n_blocks: int) -> int:
    """Device settings of one in-situ step (pretraining steps query none; the first in-situ
    step adds the calibration and mapping settings: ``queries_vary``)."""
    return registry.ALGORITHMS[s.insitu].queries_per_step(s.insitu_object(), n_blocks)


def _label_of(pretrain: str, insitu: str) -> str:
    twin = "BP" if pretrain == "bp-deploy" else "noise-injection BP"
    return (f"L2ight flow: {twin} on the ideal twin (autograd) → calibration → mapping → "
            f"in-situ {insitu}")


def _label(s: L2ightFlowSettings) -> str:
    return _label_of(s.pretrain, s.insitu)


#: The label of the default settings (the dataclass defaults; no settings object is made at
#: import, while the registry is still discovering the in-situ algorithms).
_DEFAULT_LABEL = _label_of(*(f.default for f in dataclasses.fields(L2ightFlowSettings)
                             if f.name in ("pretrain", "insitu")))


register(AlgorithmSpec(
    "l2ight-flow", "the L2ight on-chip flow (Gu et al., NeurIPS 2021): BP on the twin, identity "
    "calibration and parallel mapping by forward queries, in-situ forward-only learning",
    L2ightFlowSettings, L2ightFlowTrainer, _queries, _DEFAULT_LABEL,
    capability_for=lambda s: "calibrate", label_for=_label, order=62, queries_vary=True,
    twin_steps=True, check_epochs=check_epochs, cross_device_row=False))

"""Every algorithm by name. Families register themselves; this module imports none of them.

A family is one module of :mod:`algorithms.families` (or ``family.py`` of a subpackage of
``algorithms``, e.g. the autograd baselines) that calls :func:`register` at import. The first
look-up imports every family (``pkgutil``), so a new algorithm is ONE file plus its tests:
the contract suites, ``forwardlab algorithms``, the CLI test, the labels and the FLOP accounting
all iterate :data:`ALGORITHMS`.

Entry points (what ``experiments`` calls)::

    ALGORITHMS: Mapping[str, AlgorithmSpec]         # in registration order (see ``order``)
    settings_for(name, values: Mapping | None = None) -> settings dataclass   # config → settings
    build(name, settings, model, devices, n_classes, *, seed, trace, initial_knobs=None,
          objective=None) -> Trainable              # .step(x, y, train_stages=None) -> dict
                                                    # .predict(x) -> (B,) classes
                                                    # .device_queries_per_step() -> int
    train(trainable, x, y, *, epochs, batch_size, seed, trace=None, **loop) -> FitResult
    describe(network=None) -> list[str]             # one line per algorithm
    step_costs(name, settings, model, devices, batch) -> dict   # static per-step device work
    check_capability(name, devices, settings=None)  # one-line MissingCapability if lacking
    results_label(name, settings=None, calibrates=None) -> str

* ``model``: an :class:`~algorithms.model.ModelDescription`; ``devices``: one device (or
  ``TracingOracle``) per slot of ``device_layout(name, settings, model)``, in order.
* ``initial_knobs``: one knob dict per device; default: :func:`initial_knobs` (the family's
  initial weights from the named stream of ``seed``, mapped by each device's
  ``knobs_from_weight``), the same for every algorithm of a seed.
"""
from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping, Sequence

from hwsim.oracle import MissingCapability, TracingOracle, device_capabilities
from hwsim.trace import Trace

from .model import ModelDescription
from .seeds import initial_weights as _default_weights
from .training import FitResult, fit

__all__ = ["ALGORITHMS", "AlgorithmSpec", "BuildRequest", "DeviceSlot", "register",
           "settings_for", "build", "train", "describe", "check_capability", "results_label",
           "device_layout", "initial_knobs", "Trainable", "capabilities", "TWIN_LABEL",
           "DEFAULT_LAYOUT", "capability_text", "step_costs"]

#: How results label a baseline trained with autograd on the design-level map.
TWIN_LABEL = "ideal digital twin, autograd"
_NOMINAL_OR_CALIBRATED = "calibrated or nominal model"


@dataclass(frozen=True)
class DeviceSlot:
    """One device of a network: matrix (n_in → n_out), its name and its fabrication stream."""

    n_in: int
    n_out: int
    name: str
    stream: str             # algorithms.seeds stream name of its fabrication seed


@dataclass(frozen=True)
class BuildRequest:
    """What a family's builder receives (oracles already wrap the devices in the run's trace)."""

    name: str
    settings: Any
    model: ModelDescription | None
    oracles: list[TracingOracle]
    initial_knobs: list[dict]
    n_classes: int
    seed: int
    trace: Trace
    objective: Any = None          # a task objective (e.g. a PDE residual); None: classification


def _default_layout(settings, model: ModelDescription) -> list[DeviceSlot]:
    return [DeviceSlot(a, b, f"layer{i}", f"device/{i}")
            for i, (a, b) in enumerate(model.device_shapes())]


#: The layout of algorithms whose devices are the model's blocks, one per block.
DEFAULT_LAYOUT = _default_layout


@dataclass(frozen=True)
class AlgorithmSpec:
    """An algorithm: what it needs, what it costs, how results name it, how it is built.

    ``capability(settings)``: the device capability it needs (None, "nominal", "calibrate");
    ``queries(settings, n_blocks)``: device settings queried per step; ``label``: the results
    label, settings-dependent through ``label_for``; ``uses_jacobian(settings)``: whether its
    directions go through the device's Jacobian model ("calibrated or nominal model" resolves
    per device); ``twin``: trained with autograd on the ideal twin (no device trace, GPU rows
    only); ``layout(settings, model)``: its device slots; ``initial_weights(settings, model,
    seed)``: one weight matrix per slot; ``build(request)``: the trainer (``.step``,
    ``.predict``, ``.device_queries_per_step``); ``short``: its name in tables where one is
    customary; ``check_task(settings, model, n_in, n_classes)``: a one-line ValueError where
    the settings cannot fit a classification task of that size; ``traced``: whether its
    trainer touches the device at all (twin baselines that never deploy do not);
    ``cross_device_row``: a run prices the same step on every other kind's preset too (every
    algorithm whose devices are the model's blocks does, so that companion rows are priced for
    every algorithm alike; a layout of other devices, e.g. tensor-train cores, opts out);
    ``network_knobs(devices, seed)``: set for algorithms that train a *whole-network* device
    (one oracle for a whole photonic network, :mod:`hwsim.photonic.meshnet`; e.g. in-situ
    backprop, which needs every layer's monitors): their initial knobs come from the device's
    knob spec, not from per-layer weights, and ``whole_network`` is true; they run through
    ``experiments.reproduce``, not on a per-layer model's devices."""

    name: str
    description: str
    settings_type: type
    build: Callable[[BuildRequest], Any]
    queries: Callable[[Any, int], int]
    label: str
    capability_for: Callable[[Any], str | None] = lambda s: None
    label_for: Callable[[Any], str] | None = None
    uses_jacobian: Callable[[Any], bool] = lambda s: False
    twin: bool = False
    layout: Callable[[Any, Any], list[DeviceSlot]] = _default_layout
    initial_weights: Callable[[Any, Any, int], list] | None = None
    order: int = 100                # display order (mfdd first; new families after 50)
    short: str = ""                 # short row name where one is customary ("MF+DD", "BP")
    traced: bool = True             # its trainer touches the device (a run traces its steps)
    cross_device_row: bool = True   # a run also prices its step on every other device kind
    #: the device queries of a step depend on what the step measures (sequential accept/reject
    #: searches): ``queries`` is then an expectation and ``device_queries_per_step()`` the
    #: exact count of the trainer's last step (what the trace holds)
    queries_vary: bool = False
    #: settings of a small instance on the shipped digits (64 features, 10 classes), for the
    #: contract tests and examples; empty: the defaults fit any network
    example: Mapping[str, Any] = field(default_factory=dict)
    check_task: Callable[[Any, Any, int, int], None] | None = None
    network_knobs: Callable[[Sequence, int], list[dict]] | None = None
    #: some of its steps train on the digital twin and touch no device (a pipeline whose first
    #: stage is autograd on the twin): the device row averages only the steps that touched the
    #: device; the twin steps are priced on the GPU rows of the BP step
    twin_steps: bool = False
    #: ``check_epochs(settings, epochs)``: a one-line ValueError where the run's epochs cannot
    #: hold the algorithm's stages (checked before any work)
    check_epochs: Callable[[Any, int], None] | None = None
    #: settings overrides whose needed capability ``forwardlab algorithms`` prints next to the
    #: defaults' (``capability_for`` decides it; e.g. mfdd with span directions)
    capability_cases: tuple[Mapping[str, Any], ...] = ()
    #: ``step_work(settings, n_blocks, batch)`` → (settings programmed, vectors streamed) of a
    #: step where that is not one setting per query and ``batch`` vectors per setting (e.g.
    #: local-guess's global target streams both candidates of a block through each later
    #: block's clean setting, already programmed); None: (queries, queries × batch)
    step_work: Callable[[Any, int, int], tuple[int, int]] | None = None

    @property
    def whole_network(self) -> bool:
        """Its layout is one whole-network device (see ``network_knobs``)."""
        return self.network_knobs is not None

    @property
    def capability(self) -> str | None:
        """The capability of the default settings (``forwardlab algorithms``)."""
        return self.capability_for(self.settings_type())

    def queries_per_step(self, settings=None, n_blocks: int = 1) -> int:
        return self.queries(settings or self.settings_type(), n_blocks)

    def label_of(self, settings=None) -> str:
        if self.label_for is None or settings is None:
            return self.label
        return self.label_for(settings)


_REGISTERED: dict[str, AlgorithmSpec] = {}
_discovered = False


def register(spec: AlgorithmSpec) -> AlgorithmSpec:
    """Add ``spec`` (families call this at import). A name registers once."""
    if spec.name in _REGISTERED and _REGISTERED[spec.name] is not spec:
        raise ValueError(f"algorithm {spec.name!r} is registered twice")
    _REGISTERED[spec.name] = spec
    return spec


def _discover() -> None:
    """Import every family: the modules of ``algorithms.families`` and the ``family`` module of
    each subpackage of ``algorithms``."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    root = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(root.__path__):
        if not info.ispkg:
            continue
        pkg = importlib.import_module(f"{__package__}.{info.name}")
        for sub in pkgutil.iter_modules(pkg.__path__):
            if info.name == "families" or sub.name == "family":
                importlib.import_module(f"{pkg.__name__}.{sub.name}")


class _Algorithms(Mapping):
    """Read-only view of the registered specs, in display order; discovers on first use."""

    def _specs(self) -> dict[str, AlgorithmSpec]:
        _discover()
        return dict(sorted(_REGISTERED.items(), key=lambda kv: kv[1].order))

    def __getitem__(self, name: str) -> AlgorithmSpec:
        _discover()
        return _REGISTERED[name]

    def __iter__(self):
        return iter(self._specs())

    def __len__(self) -> int:
        _discover()
        return len(_REGISTERED)


ALGORITHMS: Mapping[str, AlgorithmSpec] = _Algorithms()


def _spec(name: str) -> AlgorithmSpec:
    if name not in ALGORITHMS:
        raise ValueError(f"algorithm = {name!r}; allowed: {list(ALGORITHMS)}")
    return ALGORITHMS[name]


def settings_for(name: str, values: Mapping[str, Any] | None = None):
    """Settings dataclass of ``name`` from config keys (unknown keys: one-line ValueError)."""
    spec = _spec(name)
    values = dict(values or {})
    allowed = {f.name for f in fields(spec.settings_type)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValueError(f"algorithm {name!r}: unknown settings {unknown}; allowed: {sorted(allowed)}")
    return spec.settings_type(**values)


def capability_text(name: str) -> str:
    """What algorithm ``name`` needs of the device with its default settings and, where the
    family declares settings that change it (``capability_cases``), with those:
    ``"-; nominal with directions=input-span"``."""
    spec = _spec(name)
    text = spec.capability or "-"
    cases = []
    for case in spec.capability_cases:
        cap = spec.capability_for(spec.settings_type(**case)) or "-"
        if cap != (spec.capability or "-"):
            cases.append(f"{cap} with " + ", ".join(f"{k}={v}" for k, v in case.items()))
    return "; ".join([text, *cases])


def step_costs(name: str, settings, model, devices: Sequence, batch: int) -> dict[str, float]:
    """Static per-step device work of ``name`` on ``devices`` (one per slot) at minibatch
    ``batch``: ``settings`` (programmed per step: the estimate's queries, plus the calibration
    of a calibrated Jacobian model amortised over ``recalibrate_every`` steps) and ``vectors``
    (streamed per step: ``batch`` per training setting — dense stages —, and each calibration
    setting's probe vectors), with the ``calibration_*`` parts apart. ``vectors`` is NaN where
    a step's vectors are not settings × batch (layouts other than the model's blocks)."""
    spec = _spec(name)
    s = settings if settings is not None else spec.settings_type()
    train = spec.queries_per_step(s, len(devices))
    train, vec = (spec.step_work(s, len(devices), batch) if spec.step_work is not None
                  else (train, train * batch))
    vec = float(vec) if spec.cross_device_row and not spec.whole_network else float("nan")
    cal_set = cal_vec = 0.0
    if spec.uses_jacobian(s) and guess_model_for(name, s, devices) == "calibrated":
        every = getattr(s, "recalibrate_every", 1)
        for d in devices:
            dev = d._device if isinstance(d, TracingOracle) else d
            a, b = dev.calibration_cost(
                subset=getattr(s, "calibrate_subset", None),
                **({"probe_rows": s.calibrate_probe_rows}
                   if getattr(s, "calibrate_probe_rows", None) else {}),
                probe_vectors=batch if getattr(s, "calibrate_probes", "") == "minibatch" else None)
            cal_set += a / every
            cal_vec += b / every
    return {"settings": train + cal_set, "vectors": vec + cal_vec,
            "calibration_settings": cal_set, "calibration_vectors": cal_vec}


def describe(network=None) -> list[str]:
    """One line per algorithm: name, the capability it needs (defaults, and the settings that
    change it), device queries per step per block, and — for ``network`` = (model, devices,
    batch) — settings and streamed vectors per step on that network (calibration amortised;
    energy and CPU time depend on the run: ``forwardlab run`` prints them), then its text."""
    out = []
    for s in ALGORITHMS.values():
        q = s.queries_per_step(None, 1)
        per = ""
        if network is not None:
            model, devices, batch = network
            try:
                slots = s.layout(s.settings_type(), model)
                c = (step_costs(s.name, None, model, devices, batch)
                     if len(slots) == len(devices) and s.traced and not s.twin
                     and not s.whole_network else None)
            except (ValueError, AttributeError, TypeError):
                c = None
            per = (f"{c['settings']:>7,.1f} {c['vectors']:>10,.0f}  " if c is not None
                   and math.isfinite(c["vectors"]) else f"{'':>7} {'':>10}  ")
        out.append(f"{s.name:<12} needs {capability_text(s.name):<8} {q:>3} queries/step/block "
                   f"{per} {s.description} [{s.label}]")
    return out


def capabilities(device) -> frozenset[str]:
    """Capabilities a device or oracle declares (``nominal`` wherever a design map exists,
    ``calibrate`` wherever the device calibrates)."""
    if isinstance(device, TracingOracle):
        return device.capabilities
    return device_capabilities(device)


def check_capability(name: str, devices: Sequence, settings=None) -> None:
    """One-line :class:`MissingCapability` naming the capability and the device."""
    spec = _spec(name)
    cap = spec.capability_for(settings if settings is not None else spec.settings_type())
    if cap is None:
        return
    for d in devices:
        if cap not in capabilities(d):
            raise MissingCapability(f"algorithm {name!r} needs device capability {cap!r}; device "
                                    f"{getattr(d, 'name', '?')!r} does not declare it")


def guess_model_for(name: str, settings, devices) -> str:
    """The Jacobian model directions map through: an explicit ``guess_model``, else (``auto``)
    calibrated where every device declares ``calibrate`` and the algorithm uses a model."""
    gm = getattr(settings, "guess_model", "auto")
    if gm != "auto":
        return gm
    return ("calibrated" if _spec(name).uses_jacobian(settings)
            and all("calibrate" in capabilities(d) for d in devices) else "nominal")


def results_label(name: str, settings=None, calibrates: bool | None = None) -> str:
    """The label results carry: the spec's (settings-dependent) label with the Jacobian model
    resolved — "calibrated model" where the devices declare ``calibrate`` (``calibrates``) and
    the algorithm maps through it, else "nominal model"."""
    spec = _spec(name)
    label = spec.label_of(settings)
    uses = spec.uses_jacobian(settings) if settings is not None else _NOMINAL_OR_CALIBRATED in label
    if getattr(settings, "guess_model", "auto") == "nominal":
        calibrates = False
    if calibrates is None:
        return label
    model = "calibrated model" if (uses and calibrates) else "nominal model"
    return label.replace(_NOMINAL_OR_CALIBRATED, model).replace("nominal model", model)


def device_layout(name: str, settings, model: ModelDescription | None) -> list[DeviceSlot]:
    """The devices algorithm ``name`` trains on (one per slot, in order)."""
    return _spec(name).layout(settings, model)


def initial_knobs(name: str, settings, model, devices: Sequence, seed: int) -> list[dict]:
    """Initial knobs: the family's initial weights (default: kaiming_uniform(a=√5) per device
    matrix from the stream ``init-weights`` of ``seed``; see :mod:`algorithms.seeds`) mapped
    by each device's ``knobs_from_weight`` (the designer's weight → knob programming). Every
    algorithm with the same layout starts from the same knobs at a seed."""
    spec = _spec(name)
    if spec.whole_network:
        return spec.network_knobs(devices, seed)
    slots = spec.layout(settings, model)
    weights = (spec.initial_weights(settings, model, seed) if spec.initial_weights
               else _default_weights(seed, [(s.n_in, s.n_out) for s in slots]))
    if len(weights) != len(devices):
        raise ValueError(f"algorithm {name!r} has {len(weights)} device slots but "
                         f"{len(devices)} devices were given; allowed: one device per slot")
    out = []
    for d, w in zip(devices, weights):
        if not callable(getattr(d, "knobs_from_weight", None)):
            raise ValueError(f"device {getattr(d, 'name', '?')!r} cannot map weights to knobs; "
                             "allowed: pass initial_knobs")
        out.append(d.knobs_from_weight(w))
    return out


class Trainable:
    """What ``build`` returns: the trainer plus its label, schedule and query count."""

    def __init__(self, name: str, trainer, settings, n_stages: int, label: str) -> None:
        self.name, self.trainer, self.settings = name, trainer, settings
        self.label = label
        self.schedule = getattr(settings, "schedule", "simultaneous")
        self.n_stages = n_stages

    def step(self, x, y, train_stages=None) -> dict[str, float]:
        return self.trainer.step(x, y, train_stages)

    def predict(self, x):
        return self.trainer.predict(x)

    def device_queries_per_step(self, train_stages=None) -> int:
        return self.trainer.device_queries_per_step(train_stages)

    def begin_epoch(self, epoch: int) -> None:
        """A new epoch starts: a trainer with its own ``begin_epoch`` is told; otherwise the
        settings' learning-rate schedule sets the trainer's knob and head rate multipliers."""
        begin = getattr(self.trainer, "begin_epoch", None)
        if callable(begin):
            begin(epoch)
        elif callable(getattr(self.settings, "lr_factors", None)):
            self.trainer.knob_lr_factor, self.trainer.head_lr_factor = \
                self.settings.lr_factors(epoch)

    @property
    def state(self):
        return getattr(self.trainer, "state", None)


def build(name: str, settings, model: ModelDescription | None, devices: Sequence, n_classes: int,
          *, seed: int, trace: Trace, initial_knobs: Sequence[Mapping] | None = None,
          objective=None) -> Trainable:
    """The trainable for algorithm ``name`` (see the module docstring)."""
    spec = _spec(name)
    settings = settings if settings is not None else spec.settings_type()
    if not isinstance(settings, spec.settings_type):
        raise ValueError(f"algorithm {name!r}: settings must be {spec.settings_type.__name__}, "
                         f"got {type(settings).__name__}")
    n = len(spec.layout(settings, model))
    if len(devices) != n:
        raise ValueError(f"algorithm {name!r} has {n} device slots but {len(devices)} devices "
                         "were given; allowed: one device per slot (registry.device_layout)")
    check_capability(name, devices, settings)
    if initial_knobs is None:
        knobs0 = globals()["initial_knobs"](name, settings, model, devices, seed)
    elif len(initial_knobs) != len(devices):
        raise ValueError(f"initial_knobs has {len(initial_knobs)} entries; allowed: one per "
                         f"device ({len(devices)})")
    else:
        knobs0 = [dict(k) for k in initial_knobs]
    oracles = [d if isinstance(d, TracingOracle) else TracingOracle(d, trace) for d in devices]
    trainer = spec.build(BuildRequest(name, settings, model, oracles, knobs0, n_classes, seed,
                                      trace, objective))
    calibrates = (guess_model_for(name, settings, oracles) == "calibrated"
                  if spec.uses_jacobian(settings) else None)
    label = results_label(name, settings, calibrates) if calibrates is not None \
        else spec.label_of(settings)
    return Trainable(name, trainer, settings, getattr(trainer, "n_stages", n), label)


def train(trainable, x, y, *, epochs: int, batch_size: int, seed: int, trace: Trace | None = None,
          **loop) -> FitResult:
    """Train with the trainable's own schedule (greedy: stage by stage, ``epochs`` each);
    ``loop``: the other keywords of :func:`algorithms.training.fit`."""
    return fit(trainable, x, y, epochs=epochs, batch_size=batch_size, seed=seed,
               schedule=getattr(trainable, "schedule", "simultaneous"),
               n_stages=getattr(trainable, "n_stages", 1), trace=trace, **loop)

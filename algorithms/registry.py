"""Every algorithm by name: description, device capability it needs, device queries per step,
its settings (a frozen dataclass whose fields are the config keys) and ONE builder.

Entry points (what ``experiments`` calls; import the ``baselines`` subpackage once so that the
autograd baselines register their builders — the forward-only part never imports them)::

    ALGORITHMS: dict[str, AlgorithmSpec]            # names below, in display order
    settings_for(name, values: Mapping | None = None) -> settings dataclass   # config → settings
    build(name, settings, model, devices, n_classes, *, seed, trace, initial_knobs=None)
        -> Trainable                                # .step(x, y, train_stages=None) -> dict
                                                    # .predict(x) -> (B,) classes
                                                    # .device_queries_per_step() -> int
    train(trainable, x, y, *, epochs, batch_size, seed, trace=None, **loop)
        -> FitResult                                # history / step_losses / step_summaries
                                                    # (loop: algorithms.training.fit keywords)
    describe() -> list[str]                         # one line per algorithm (``forwardlab algorithms``)
    check_capability(name, devices) -> None         # one-line MissingCapability if lacking

* ``model``: an :class:`~algorithms.model.ModelDescription` (``model_from_config(input_shape,
  architecture=..., hidden=...)``); build one device per ``model.device_shapes()`` entry
  ``(n_in, n_out)``, in order.
* ``devices``: those device objects (or ``TracingOracle``s). Forward-only algorithms wrap each in
  a ``TracingOracle(device, trace)`` and see only the oracle contract and declared capabilities;
  the twin baselines use the design-level ``digital_twin`` map (labelled "ideal digital twin,
  autograd"), the deploy baselines the device as well.
* ``initial_knobs``: one knob dict per device; default: the model's init weights
  (kaiming_uniform(a=√5), stream ``init/weights`` of ``seed``) mapped with the device's
  ``knobs_from_weight`` (the designer's weight → knob programming).
* ``trace``: the run's :class:`~hwsim.trace.Trace` (device events, host FLOPs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from numbers import Real
from typing import Any, Callable, Mapping, Sequence

import torch

from hwsim.oracle import MissingCapability, TracingOracle
from hwsim.trace import Trace

from . import updates
from .estimators import (FROG, Activity, Directional, DirectionalDerivative, LocalGuess, LowRank,
                         SeedReplay)
from .estimators.directions import DIRECTIONS
from .estimators.frog import SCALES
from .estimators.local_guess import VARIANTS
from .estimators.span import SpanProjection
from .estimators.zeroth_order import DIFFERENCES
from .knobmaps import knob_map_for
from .model import ModelDescription
from .network import OracleNetwork, WRITE_NOISE_RANGE_UNITS, perturbation_step
from .seeds import generator
from .trainer import GUESS_MODELS, PREDICTIONS, SCHEDULES, GlobalTrainer, LocalTrainer
from .training import FitResult, fit

__all__ = ["ALGORITHMS", "AlgorithmSpec", "settings_for", "build", "train", "describe",
           "check_capability", "CommonSettings", "MFDDSettings", "MFDDThesisSettings",
           "FROGSettings", "LocalGuessSettings", "ActivitySettings", "FrozenSettings",
           "TwinSettings", "HWASettings", "OPTIMIZERS", "HWA_KNOB_NOISE_RANGE_UNITS", "TWIN_NAMES",
           "register_twin_builder", "build_global", "Trainable", "MFDD_DIRECTIONS", "SFFSettings",
           "FFSettings", "GoodnessSettings", "GOODNESS_ESTIMATORS", "GOODNESS_NAMES",
           "TTZOSettings", "build_tt", "tt_shapes", "TT_GRADIENTS", "tt_device_shapes",
           "tt_initial_knobs", "kaiming_uniform", "results_label"]

OPTIMIZERS = ("adam", "sgd", "momentum")
#: mfdd's Adam step on θ by device kind (range units), chosen on validation splits. A ZO estimate
#: over d knobs is mostly noise (cos ≈ √(P/d) to the gradient, algorithms.md §3) and Adam turns
#: every coordinate's noise into a ±lr step, so the knobs random-walk by ≈ lr·√steps; a mesh phase
#: rotates light through every MZI after it, a conductance moves one weight, so the mesh tolerates
#: a smaller walk. MZI 2e-3: digits (MLP 64-32-32, mzi-default, 20 epochs, validation split of the
#: training set) 0.930 with the stages' predictions summed (0.885 with the last head alone;
#: frozen 0.875 / 0.798); 1e-2 destroys the mesh (0.39 test). Crossbar 1e-2: digits (64-32,
#: crossbar-default, batch 16, 2 epochs, three seeds) +2.8 points over frozen on average; 3e-2 gains more in short runs (+3.6) but drifts away in long
#: ones (Fashion-MNIST, 422 steps: 0.717 against frozen 0.777).
ZO_KNOB_LR_RANGE_UNITS = {"mzi": 2e-3, "crossbar": 1e-2}
#: ``input-span`` / ``head-span``: random directions in the span of the block's local gradients
#: (estimators.span), mapped to knobs through the Jacobian model of ``guess_model``.
SPAN_DIRECTIONS = {"input-span": "input", "head-span": "head"}
MFDD_DIRECTIONS = (*DIRECTIONS, "lowrank", "seed-replay", *SPAN_DIRECTIONS)
#: Injected knob noise of ``hwa-deploy`` by device kind (range units). Crossbar: the datasheet
#: programming noise (see ``WRITE_NOISE_RANGE_UNITS``). MZI: 8-bit phase DAC rounding,
#: LSB/√12 = (1/255)/√12 = 1.1e-3 (L2ight ``weight_bit: 8``, arXiv:2110.14807) with phase noise
#: 0.002 rad / 2π = 3.2e-4 (devices.md §5.13) in quadrature → 1.2e-3.
HWA_KNOB_NOISE_RANGE_UNITS = {"crossbar": WRITE_NOISE_RANGE_UNITS["crossbar"],
                              "mzi": math.hypot(1 / 255 / math.sqrt(12), 0.002 / (2 * math.pi))}


# --------------------------------------------------------------------------- validation
def _pos(owner, name, v, allow_none=False):
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{owner}.{name} = {v!r}; allowed: a finite number > 0"
                         + (" or None" if allow_none else ""))


def _nonneg(owner, name, v, allow_none=False):
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v) or v < 0:
        raise ValueError(f"{owner}.{name} = {v!r}; allowed: a finite number >= 0"
                         + (" or None" if allow_none else ""))


def _int(owner, name, v, lo=1, hi=100_000, allow_none=False):
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{owner}.{name} = {v!r}; allowed: an integer in [{lo}, {hi}]"
                         + (" or None" if allow_none else ""))


def _choice(owner, name, v, allowed):
    if v not in allowed:
        raise ValueError(f"{owner}.{name} = {v!r}; allowed: {tuple(allowed)}")


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class CommonSettings:
    """Keys every device-trained algorithm has. Learning rates act on range-normalised knobs."""

    knob_lr_range_units: float = 2e-3       # Adam step on θ (knob / range width)
    head_lr: float = 1e-2                   # digital heads and biases
    optimizer: str = "adam"
    knob_optimizer: str | None = None       # the knobs' own update rule (None: ``optimizer``)
    clip_norm: float | None = None
    schedule: str = "simultaneous"
    prediction: str = "sum"              # scores summed over the stages' heads
    projection_dim: int | None = None       # random projection k of every local head wider than k
    epsilon_knob_range_units: float = 0.01  # requested per-knob step; the rule may raise it
    write_noise_range_units: float | None = None   # datasheet σ_write; None: by device kind

    def __post_init__(self) -> None:
        o = type(self).__name__
        _pos(o, "knob_lr_range_units", self.knob_lr_range_units,
             allow_none=isinstance(self, MFDDSettings))
        _pos(o, "head_lr", self.head_lr)
        _choice(o, "optimizer", self.optimizer, OPTIMIZERS)
        if self.knob_optimizer is not None:
            _choice(o, "knob_optimizer", self.knob_optimizer, OPTIMIZERS)
        _pos(o, "clip_norm", self.clip_norm, allow_none=True)
        _choice(o, "schedule", self.schedule, SCHEDULES)
        _choice(o, "prediction", self.prediction, PREDICTIONS)
        _int(o, "projection_dim", self.projection_dim, allow_none=True)
        _pos(o, "epsilon_knob_range_units", self.epsilon_knob_range_units)
        if self.epsilon_knob_range_units > 0.25:
            raise ValueError(f"{o}.epsilon_knob_range_units = {self.epsilon_knob_range_units!r}; "
                             "allowed: <= 0.25 (a quarter of the knob range)")
        _nonneg(o, "write_noise_range_units", self.write_noise_range_units, allow_none=True)


@dataclass(frozen=True)
class FrozenSettings(CommonSettings):
    """frozen: knobs never updated, only the digital heads train (the control; predicts like
    mfdd, summed over the stages' heads)."""


@dataclass(frozen=True)
class MFDDThesisSettings(CommonSettings):
    """mfdd-thesis: FFzero DD as the thesis uses it (arXiv:2603.24790 defaults, algorithms.md §3):
    sphere × d, central, P = 1, ε = 1e-3 (perturbation norm), ZO head, SGD lr 1e-3."""

    knob_lr_range_units: float = 1e-3
    head_lr: float = 1e-3
    optimizer: str = "sgd"
    num_directions: int = 1
    epsilon_norm: float = 1e-3
    head_num_directions: int = 1
    head_epsilon: float = 1e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        o = type(self).__name__
        _int(o, "num_directions", self.num_directions, 1, 4096)
        _pos(o, "epsilon_norm", self.epsilon_norm)
        _int(o, "head_num_directions", self.head_num_directions, 1, 4096)
        _pos(o, "head_epsilon", self.head_epsilon)


@dataclass(frozen=True)
class FROGSettings(CommonSettings):
    """frog: k orthonormal tangents, projection aggregator (arXiv:2410.17764)."""

    num_tangents: int = 8
    scale: str = "unbiased"

    def __post_init__(self) -> None:
        super().__post_init__()
        _int(type(self).__name__, "num_tangents", self.num_tangents, 1, 4096)
        _choice(type(self).__name__, "scale", self.scale, SCALES)


@dataclass(frozen=True)
class GuessModelSettings(CommonSettings):
    """Keys of algorithms whose directions go through the device's Jacobian model.
    ``guess_model``: "calibrated" (measured by forward queries, re-measured every
    ``recalibrate_every`` steps), "nominal" (the design-level Jacobian), or "auto" (calibrated
    where every device declares ``calibrate``, else nominal)."""

    guess_model: str = "auto"
    recalibrate_every: int = 20
    calibrate_subset: int | None = None     # knob indices per block per calibration (None: all)

    def __post_init__(self) -> None:
        super().__post_init__()
        o = type(self).__name__
        _choice(o, "guess_model", self.guess_model, ("auto", *GUESS_MODELS))
        _int(o, "recalibrate_every", self.recalibrate_every, 1, 10 ** 9)
        _int(o, "calibrate_subset", self.calibrate_subset, 1, 10 ** 6, allow_none=True)


@dataclass(frozen=True)
class LocalGuessSettings(GuessModelSettings):
    """local-guess: the local head's exact ∂L/∂z mapped into knob space, the step along it
    measured on the device (arXiv:2306.06968), through the Jacobian model of ``guess_model``.

    Calibration defaults chosen on the Fashion-MNIST validation split (mzi-default, 784-128-128,
    full data, lr 2e-3; bench/results/fashion_full_data_3seeds.txt): 16 knob indices per block
    re-measured every 10 steps gave val 0.8535 against 0.8458 (8 / 10), 0.8463 (32 / 10),
    0.8488 (8 / 5), and 0.8318 with every knob every 20 steps (at lr 1e-3, 3.7× the queries)."""

    recalibrate_every: int = 10
    calibrate_subset: int | None = 16
    variant: str = "local"
    mix_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice(type(self).__name__, "variant", self.variant, VARIANTS)
        _pos(type(self).__name__, "mix_weight", self.mix_weight)


@dataclass(frozen=True)
class MFDDSettings(GuessModelSettings):
    """mfdd: Rademacher ±ε per knob (per-knob step by the rule), central differences, exact
    heads, predictions summed over the stages' heads. ``knob_lr_range_units`` None: by device
    kind (``ZO_KNOB_LR_RANGE_UNITS``)."""

    knob_lr_range_units: float | None = None
    # P = 32: the default digits run (MLP 64-32-32, mzi-default, 20 epochs, these defaults) ends
    # at 0.944 test accuracy with it and at 0.908 with P = 8
    num_directions: int = 32
    directions: str = "rademacher"          # or "lowrank" / "seed-replay" (central only)
    difference: str = "central"
    rank: int = 1                           # for directions = "lowrank"

    def __post_init__(self) -> None:
        super().__post_init__()
        o = type(self).__name__
        _int(o, "num_directions", self.num_directions, 1, 4096)
        _choice(o, "directions", self.directions, MFDD_DIRECTIONS)
        _choice(o, "difference", self.difference, DIFFERENCES)
        if self.directions in ("lowrank", "seed-replay", *SPAN_DIRECTIONS) and \
                self.difference != "central":
            raise ValueError(f"{o}.difference = {self.difference!r}; allowed with directions "
                             f"{self.directions!r}: 'central'")
        _int(o, "rank", self.rank, 1, 4096)


@dataclass(frozen=True)
class ActivitySettings(CommonSettings):
    """activity: per-example output perturbation on the host (arXiv:2210.03310)."""

    num_directions: int = 4
    epsilon_activity: float = 1e-2          # readout units

    def __post_init__(self) -> None:
        super().__post_init__()
        _int(type(self).__name__, "num_directions", self.num_directions, 1, 4096)
        _pos(type(self).__name__, "epsilon_activity", self.epsilon_activity)


@dataclass(frozen=True)
class TwinSettings:
    """bp, mf-ad, bp-deploy: Adam on the ideal twin, θ in range units."""

    knob_lr_range_units: float = 2e-3
    head_lr: float = 1e-2
    schedule: str = "simultaneous"
    prediction: str = "last"
    projection_dim: int | None = None

    def __post_init__(self) -> None:
        o = type(self).__name__
        _pos(o, "knob_lr_range_units", self.knob_lr_range_units)
        _pos(o, "head_lr", self.head_lr)
        _choice(o, "schedule", self.schedule, SCHEDULES)
        _choice(o, "prediction", self.prediction, PREDICTIONS)
        _int(o, "projection_dim", self.projection_dim, allow_none=True)


@dataclass(frozen=True)
class HWASettings(TwinSettings):
    """hwa-deploy: noise-injection BP on the twin; σ per knob in range units (None: by kind)."""

    knob_noise_range_units: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _nonneg(type(self).__name__, "knob_noise_range_units", self.knob_noise_range_units,
                allow_none=True)


#: tt-zo gradient evaluation: "rge" (Rademacher over every coordinate, the reference code's
#: MNIST setting) or "hybrid" (coordinate-wise on groups of at most ``cge_max_group``
#: coordinates, Rademacher on the rest; see algorithms.estimators.hybrid).
TT_GRADIENTS = ("rge", "hybrid")


@dataclass(frozen=True)
class TTZOSettings(CommonSettings):
    """tt-zo: tensor-train layers, one device per core, one ZO estimate over all cores' knobs
    (Zhao et al., arXiv:2308.09858). Defaults from the reference code
    (``olokevin/scalable_bpfree_onn_training`` ``MNIST/configs/tt.yml``): 784-1024-10 with both
    layers in TT format, modes [[7,4,4,7],[8,4,4,8]] and [[8,4,4,8],[1,5,2,1]], rank 6, N = 10
    Rademacher samples, forward differences, σ = 0.01 (here: 1 % of each knob's range, raised by
    the device's perturbation rule), Adam lr 1e-3. ``layers``: 'tt:IN:OUT:RANK' or
    'dense:N_IN:N_OUT' strings (a PDE run takes its network from [pde] instead)."""

    knob_lr_range_units: float = 1e-3
    head_lr: float = 1e-2                   # the biases (hidden: ZO; output: exact)
    layers: tuple = ("tt:7x4x4x7:8x4x4x8:6", "tt:8x4x4x8:1x5x2x1:6")
    activation: str = "relu"
    num_directions: int = 10
    difference: str = "forward"
    gradient: str = "rge"
    cge_max_group: int = 64
    bias_epsilon: float = 0.01              # ZO step of the hidden biases (readout units)

    def __post_init__(self) -> None:
        super().__post_init__()
        from .estimators.hybrid import HYBRID_DIFFERENCES
        from .tt_network import ACTIVATIONS
        o = type(self).__name__
        if isinstance(self.layers, (str, bytes)) or not isinstance(self.layers, (list, tuple)) \
                or not self.layers:
            raise ValueError(f"{o}.layers = {self.layers!r}; allowed: a non-empty list of "
                             "'tt:IN_MODES:OUT_MODES:RANK' / 'dense:N_IN:N_OUT' strings")
        object.__setattr__(self, "layers", tuple(self.layers))
        shapes = tt_shapes(self.layers, f"{o}.layers")
        for i in range(1, len(shapes)):
            if shapes[i].n_in != shapes[i - 1].n_out:
                raise ValueError(f"{o}.layers[{i}] = {self.layers[i]!r} takes {shapes[i].n_in} "
                                 f"inputs; allowed: in modes whose product is {shapes[i - 1].n_out}")
        _choice(o, "activation", self.activation, ACTIVATIONS)
        _int(o, "num_directions", self.num_directions, 1, 4096)
        _choice(o, "difference", self.difference, HYBRID_DIFFERENCES)
        _choice(o, "gradient", self.gradient, TT_GRADIENTS)
        _int(o, "cge_max_group", self.cge_max_group, 0, 100_000)
        _pos(o, "bias_epsilon", self.bias_epsilon)


def tt_shapes(layers, where: str = "layers") -> list:
    """TTShapes of layer strings ('tt:7x4x4x7:8x4x4x8:6', 'dense:16:1')."""
    from .tt import parse_tt_layer
    return [parse_tt_layer(item, f"{where}[{i}]") for i, item in enumerate(layers)]


def _tt_queries(s, n: int) -> int:
    """Settings per step (1 clean + P, or 1 + 2P central) × core devices; CGE adds its
    coordinates (hybrid: counted when the network is built)."""
    cores = sum(sh.cores for sh in tt_shapes(s.layers))
    return cores * (1 + (s.num_directions if s.difference == "forward" else 2 * s.num_directions))


# --------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class AlgorithmSpec:
    name: str
    description: str
    capability: str | None                  # None, "nominal" or "calibrate"
    settings_type: type
    label: str                              # how results are labelled
    queries: Callable[[Any, int], int]      # (settings, n_device_blocks) → device queries/step
    label_for: Callable[[Any], str] | None = None   # label that depends on the settings

    def queries_per_step(self, settings=None, n_blocks: int = 1) -> int:
        return self.queries(settings or self.settings_type(), n_blocks)

    def label_of(self, settings=None) -> str:
        """The results label for these settings (e.g. "nominal model" when an estimator uses it)."""
        if self.label_for is None or settings is None:
            return self.label
        return self.label_for(settings)


_TWIN = "ideal digital twin, autograd"
ALGORITHMS: dict[str, AlgorithmSpec] = {s.name: s for s in (
    AlgorithmSpec("mfdd", "Mono-Forward + directional derivatives (Rademacher ±ε/knob, or random "
                  "directions in the local gradients' span; exact head)",
                  None, MFDDSettings, "forward-only",
                  lambda s, n: n * (1 + (2 * s.num_directions if s.difference == "central"
                                         else s.num_directions + 1)),
                  lambda s: ("forward-only, calibrated or nominal model"
                             if s.directions in SPAN_DIRECTIONS else "forward-only")),
    AlgorithmSpec("mfdd-thesis", "MF+DD as in the thesis: sphere x d, P=1, eps=1e-3, ZO head, SGD",
                  None, MFDDThesisSettings, "forward-only", lambda s, n: n * (1 + 2 * s.num_directions)),
    AlgorithmSpec("frog", "multi-tangent forward gradient, orthogonal projection (FROG)", None,
                  FROGSettings, "forward-only", lambda s, n: n * (1 + 2 * s.num_tangents)),
    AlgorithmSpec("local-guess", "local-head guess via the calibrated (else nominal) Jacobian, "
                  "step measured on device (calibrated: + 2 x calibrate_subset queries every "
                  "recalibrate_every steps)", "nominal", LocalGuessSettings,
                  "forward-only, calibrated or nominal model", lambda s, n: 3 * n),
    AlgorithmSpec("activity", "activity perturbation of block outputs (host), nominal W->knob map",
                  "nominal", ActivitySettings, "forward-only, nominal model", lambda s, n: n),
    AlgorithmSpec("frozen", "control: device knobs never updated, exact digital heads", None,
                  FrozenSettings, "forward-only (control)", lambda s, n: n),
    AlgorithmSpec("mf-ad", "Mono-Forward with autograd local gradients", "nominal", TwinSettings,
                  _TWIN, lambda s, n: 0),
    AlgorithmSpec("bp", "backpropagation end to end", "nominal", TwinSettings, _TWIN, lambda s, n: 0),
    AlgorithmSpec("bp-deploy", "BP on the twin, knobs deployed on the device", "nominal",
                  TwinSettings, f"{_TWIN}, deployed on device", lambda s, n: 0),
    AlgorithmSpec("hwa-deploy", "noise-injection BP on the twin, then deployed", "nominal",
                  HWASettings, f"{_TWIN} (noise injection), deployed on device", lambda s, n: 0),
    AlgorithmSpec("tt-zo", "tensor-train layers, one device per core, ZO over the cores' knobs "
                  "(queries: all core devices)", None, TTZOSettings, "forward-only", _tt_queries),
)}



# --------------------------------------------------------------------------- goodness algorithms
#: Forward-only knob estimators the goodness algorithms (sff, ff) take for their blocks.
GOODNESS_ESTIMATORS = ("rademacher", "frog", "local-guess")


def _architecture(owner, v):
    if v is None:
        return None
    if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)) or not v or not all(
            isinstance(b, str) for b in v):
        raise ValueError(f"{owner}.architecture = {v!r}; allowed: None (the model's MLP) or a "
                         "non-empty list of block strings like 'conv2d:8:3:1:1'")
    from .model import parse_architecture
    parse_architecture(list(v), f"{owner}.architecture")
    return tuple(v)


@dataclass(frozen=True)
class GoodnessSettings(CommonSettings):
    """Keys shared by sff and ff: the block estimator and its size.

    ``estimator``: "rademacher" (±ε per knob, central, ``num_directions`` P), "frog"
    (``num_directions`` orthonormal tangents) or "local-guess" (the objective's exact ∂L/∂z
    through the nominal Jacobian, needs the device's ``nominal`` capability; ``variant``).
    ``architecture``: block strings (model.py form) for a CNN on square one-channel images,
    e.g. ["conv2d:8:3:1:1", "bias", "relu", "maxpool:2", …]; None: the run's MLP.
    """

    knob_lr_range_units: float = 1e-2      # as mfdd (chosen there on a validation split)
    prediction: str = "sum"                 # goodness summed (= averaged) over blocks
    estimator: str = "rademacher"
    num_directions: int = 8
    variant: str = "local"                  # for estimator = "local-guess"
    architecture: tuple | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        o = type(self).__name__
        _choice(o, "estimator", self.estimator, GOODNESS_ESTIMATORS)
        _int(o, "num_directions", self.num_directions, 1, 4096)
        _choice(o, "variant", self.variant, VARIANTS)
        object.__setattr__(self, "architecture", _architecture(o, self.architecture))
        if self.projection_dim is not None:
            raise ValueError(f"{o}.projection_dim = {self.projection_dim!r}; allowed: None (the "
                             "goodness heads read the block output itself)")


@dataclass(frozen=True)
class SFFSettings(GoodnessSettings):
    """sff: Scalable Forward-Forward (arXiv:2501.03176): class goodness of a 1×1 projection
    (one channel per class), CE over goodness, normalised detached block inputs, vote by the
    goodness averaged over blocks (prediction "sum"; "last": last block only)."""


@dataclass(frozen=True)
class FFSettings(GoodnessSettings):
    """ff: Hinton's Forward-Forward (arXiv:2212.13345): label one-hot in the first C inputs
    (``label_value``), positive = true label, negative = a uniformly drawn wrong label, loss
    softplus(θ − G_pos) + softplus(G_neg − θ) with G = Σ a² and θ = ``threshold_per_unit`` ×
    width; prediction: the label with the highest goodness summed over blocks ("last": last)."""

    # θ per unit of width = mean squared activity at the boundary; label_value = the embedded
    # one-hot's value on standardised inputs. Chosen on a validation split held out of the
    # Fashion-MNIST training set (3000 train / 1000 val, crossbar-default, MLP 784-128-128, local
    # guess, 2 epochs, knob lr 1e-2): (label, θ/unit) = (1, 0.1) 0.159, (4, 0.1) 0.510,
    # (1, 0.5) 0.418, (4, 0.5) 0.649. A label of 1 is lost among standardised pixels up to ~8;
    # θ = 1.0/unit sits far above the activities at kaiming init (readout rms 0.2–0.4, digits)
    # and left only the positive term active (nothing learned in 3 epochs).
    threshold_per_unit: float = 0.5
    label_value: float = 4.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _pos(type(self).__name__, "threshold_per_unit", self.threshold_per_unit)
        _pos(type(self).__name__, "label_value", self.label_value)


def _goodness_label(s: GoodnessSettings) -> str:
    uses_nominal = s.estimator == "local-guess" and s.variant != "random"
    return "forward-only, nominal model" if uses_nominal else "forward-only"


def _goodness_queries(s: GoodnessSettings, n: int) -> int:
    per = {"rademacher": 2 * s.num_directions, "frog": 2 * s.num_directions, "local-guess": 2}
    return n * (1 + per[s.estimator])


ALGORITHMS.update({s.name: s for s in (
    AlgorithmSpec("sff", "Scalable Forward-Forward: class goodness per block (estimator: "
                  "rademacher|frog|local-guess; local-guess needs nominal)", None, SFFSettings,
                  "forward-only", _goodness_queries, _goodness_label),
    AlgorithmSpec("ff", "Hinton's Forward-Forward: pos/neg label embedding, goodness threshold "
                  "(same estimators)", None, FFSettings, "forward-only", _goodness_queries,
                  _goodness_label),
)})
GOODNESS_NAMES = ("sff", "ff")

#: The autograd baselines (algorithms/baselines) register their builder here when imported;
#: the forward-only part of ``algorithms`` never imports autograd code.
TWIN_NAMES = ("mf-ad", "bp", "bp-deploy", "hwa-deploy")
_TWIN_BUILDERS: dict[str, Callable] = {}


def register_twin_builder(name: str, builder: Callable) -> None:
    """Called by the ``baselines`` subpackage for each of ``TWIN_NAMES``."""
    if name not in TWIN_NAMES:
        raise ValueError(f"register_twin_builder: {name!r}; allowed: {TWIN_NAMES}")
    _TWIN_BUILDERS[name] = builder


def settings_for(name: str, values: Mapping[str, Any] | None = None):
    """Settings dataclass of ``name`` from config keys (unknown keys: one-line ValueError)."""
    spec = _spec(name)
    values = dict(values or {})
    allowed = {f.name for f in fields(spec.settings_type)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValueError(f"algorithm {name!r}: unknown settings {unknown}; allowed: {sorted(allowed)}")
    return spec.settings_type(**values)


def describe() -> list[str]:
    """One line per algorithm: name, capability, queries per step (per device block), text."""
    out = []
    for s in ALGORITHMS.values():
        q = s.queries_per_step(None, 1)
        out.append(f"{s.name:<12} needs {s.capability or '-':<8} {q:>3} queries/step/block  "
                   f"{s.description} [{s.label}]")
    return out


def _spec(name: str) -> AlgorithmSpec:
    if name not in ALGORITHMS:
        raise ValueError(f"algorithm = {name!r}; allowed: {list(ALGORITHMS)}")
    return ALGORITHMS[name]


def _capabilities(device) -> frozenset[str]:
    if isinstance(device, TracingOracle):
        return device.capabilities
    caps = set(getattr(device, "capabilities", ()) or ())
    if callable(getattr(device, "digital_twin", None)):
        caps.add("nominal")
    return frozenset(caps)


def check_capability(name: str, devices: Sequence) -> None:
    """One-line :class:`MissingCapability` naming the capability and the device."""
    cap = _spec(name).capability
    if cap is None:
        return
    for d in devices:
        if cap not in _capabilities(d):
            raise MissingCapability(f"algorithm {name!r} needs device capability {cap!r}; device "
                                    f"{getattr(d, 'name', '?')!r} does not declare it")


# --------------------------------------------------------------------------- build
def _optimizer(name: str, lr: float, clip: float | None) -> updates.GradientTransformation:
    base = {"adam": updates.adam, "sgd": updates.sgd, "momentum": updates.momentum}[name](lr)
    return updates.chain(updates.clip_by_global_norm(clip), base) if clip else base


def knob_lr_for(settings, kinds: Sequence[str]) -> float:
    """The knob learning rate: the settings' value, or (None, mfdd) the smallest of
    ``ZO_KNOB_LR_RANGE_UNITS`` over the network's device kinds."""
    if settings.knob_lr_range_units is not None:
        return settings.knob_lr_range_units
    return min(ZO_KNOB_LR_RANGE_UNITS.get(k, min(ZO_KNOB_LR_RANGE_UNITS.values())) for k in kinds)


def _knob_optimizer(settings, kinds: Sequence[str] = ()) -> updates.GradientTransformation:
    """The knobs' update rule: ``knob_optimizer`` where set, else the common ``optimizer``."""
    return _optimizer(getattr(settings, "knob_optimizer", None) or settings.optimizer,
                      knob_lr_for(settings, kinds), settings.clip_norm)


def _head_optimizer(settings) -> updates.GradientTransformation:
    """The digital heads' and biases' update rule: ``optimizer`` at ``head_lr``."""
    return _optimizer(settings.optimizer, settings.head_lr, settings.clip_norm)


def kaiming_uniform(n_out: int, n_in: int, gen: torch.Generator) -> torch.Tensor:
    """PyTorch's default Linear init, kaiming_uniform(a=√5) = U(−1/√n_in, 1/√n_in)."""
    return (2 * torch.rand(n_out, n_in, generator=gen) - 1) / math.sqrt(n_in)


def _initial_knobs(model: ModelDescription, devices, seed: int, given):
    if given is not None:
        if len(given) != len(devices):
            raise ValueError(f"initial_knobs has {len(given)} entries; allowed: one per device "
                             f"({len(devices)})")
        return [dict(k) for k in given]
    gen = generator(seed, "init/weights")
    out = []
    for d, (n_in, n_out) in zip(devices, model.device_shapes()):
        if not callable(getattr(d, "knobs_from_weight", None)):
            raise ValueError(f"device {getattr(d, 'name', '?')!r} cannot map weights to knobs; "
                             "allowed: pass initial_knobs")
        out.append(d.knobs_from_weight(kaiming_uniform(n_out, n_in, gen)))
    return out


def _oracles(devices, trace: Trace) -> list[TracingOracle]:
    return [d if isinstance(d, TracingOracle) else TracingOracle(d, trace) for d in devices]


class Trainable:
    """What ``build`` returns: the trainer plus its label, schedule and query count."""

    def __init__(self, name: str, trainer, settings, n_stages: int, per_step: int) -> None:
        self.name, self.trainer, self.settings = name, trainer, settings
        self.label = ALGORITHMS[name].label
        self.schedule = getattr(settings, "schedule", "simultaneous")
        self.n_stages = n_stages
        self._per_step = per_step

    def step(self, x, y, train_stages=None) -> dict[str, float]:
        return self.trainer.step(x, y, train_stages)

    def predict(self, x):
        return self.trainer.predict(x)

    def device_queries_per_step(self, train_stages=None) -> int:
        return self.trainer.device_queries_per_step(train_stages)

    @property
    def state(self):
        return self.trainer.state if hasattr(self.trainer, "state") else None


def build(name: str, settings, model: ModelDescription, devices: Sequence, n_classes: int, *,
          seed: int, trace: Trace, initial_knobs: Sequence[Mapping] | None = None) -> Trainable:
    """The trainable for algorithm ``name`` (see the module docstring)."""
    spec = _spec(name)
    if name == "tt-zo":
        raise ValueError("algorithm 'tt-zo' builds with build_tt(settings, devices, objective, ...): "
                         "one device per TT core (tt_device_shapes)")
    settings = settings if settings is not None else spec.settings_type()
    if not isinstance(settings, spec.settings_type):
        raise ValueError(f"algorithm {name!r}: settings must be {spec.settings_type.__name__}, "
                         f"got {type(settings).__name__}")
    n = len(model.stages())
    if len(devices) != n:
        raise ValueError(f"the model has {n} device blocks but {len(devices)} devices were given")
    check_capability(name, devices)
    knobs0 = _initial_knobs(model, devices, seed, initial_knobs)
    oracles = _oracles(devices, trace)
    net = OracleNetwork.build(model, oracles)
    if name in GOODNESS_NAMES:
        return _build_goodness(name, settings, net, knobs0, n_classes, seed=seed, trace=trace)
    proj = [settings.projection_dim if st.n_features > (settings.projection_dim or math.inf)
            else None for st in net.stages]

    if name in TWIN_NAMES:
        if name not in _TWIN_BUILDERS:
            raise ValueError(f"algorithm {name!r} is an autograd baseline: import the baselines "
                             "subpackage of algorithms once to register its builder")
        twins = [o.nominal for o in oracles]      # design-level map; no hidden errors
        deploy = None
        if name.endswith("deploy"):
            deploy = LocalTrainer(net, knobs0, n_classes, [None] * n, updates.sgd(1.0),
                                  updates.sgd(1.0), projection_dims=proj, seed=seed, trace=trace)
        noise = None
        if name == "hwa-deploy":
            noise = [settings.knob_noise_range_units if settings.knob_noise_range_units is not None
                     else HWA_KNOB_NOISE_RANGE_UNITS.get(net.device_kind(i), 0.0) for i in range(n)]
        trainer = _TWIN_BUILDERS[name](model, twins, net.maps, knobs0, n_classes, mode=name,
                              knob_lr_range_units=settings.knob_lr_range_units,
                              head_lr=settings.head_lr, knob_noise_range_units=noise, deploy=deploy,
                              projection_dims=proj, prediction=settings.prediction, seed=seed)
        return Trainable(name, trainer, settings, n, 0)

    def eps(i: int) -> float:
        wn = settings.write_noise_range_units
        wn = WRITE_NOISE_RANGE_UNITS.get(net.device_kind(i), 0.0) if wn is None else wn
        return perturbation_step(net.maps[i], wn, settings.epsilon_knob_range_units)

    head, head_est = "exact", None
    if name == "frozen":
        estimators = [None] * n
    elif name == "mfdd" and settings.directions == "lowrank":
        estimators = [LowRank(net.maps[i].matrix_shape, settings.rank, settings.num_directions,
                              eps(i)) for i in range(n)]
    elif name == "mfdd" and settings.directions in SPAN_DIRECTIONS:
        estimators = [SpanProjection(settings.num_directions, eps(i),
                                     SPAN_DIRECTIONS[settings.directions]) for i in range(n)]
    elif name == "mfdd" and settings.directions == "seed-replay":
        estimators = [SeedReplay(settings.num_directions, eps(i)) for i in range(n)]
    elif name == "mfdd":
        estimators = [Directional(DirectionalDerivative(settings.directions, settings.num_directions,
                                                        eps(i) if settings.directions != "sphere"
                                                        else eps(i) * math.sqrt(net.maps[i].dim),
                                                        settings.difference)) for i in range(n)]
    elif name == "mfdd-thesis":
        estimators = [Directional(DirectionalDerivative("sphere", settings.num_directions,
                                                        settings.epsilon_norm, "central"))] * n
        head = "zo"
        head_est = Directional(DirectionalDerivative("sphere", settings.head_num_directions,
                                                     settings.head_epsilon, "central"))
    elif name == "frog":
        estimators = [FROG(settings.num_tangents, eps(i), settings.scale) for i in range(n)]
    elif name == "local-guess":
        estimators = [LocalGuess(settings.variant, eps(i), settings.mix_weight) for i in range(n)]
    elif name == "activity":
        estimators = [Activity(settings.num_directions, settings.epsilon_activity)] * n
    else:   # pragma: no cover - every name is handled above
        raise AssertionError(name)
    uses_model = _uses_knob_model(name, settings)
    guess = guess_model_for(name, settings, oracles)
    guess_kwargs = ({"guess_model": guess, "recalibrate_every": settings.recalibrate_every,
                     "calibrate_subset": settings.calibrate_subset} if uses_model else {})
    opt_k = _knob_optimizer(settings, [net.device_kind(i) for i in range(n)])
    opt_h = _head_optimizer(settings)
    trainer = LocalTrainer(net, knobs0, n_classes, estimators, opt_k, opt_h, projection_dims=proj,
                           head=head, head_estimator=head_est, prediction=settings.prediction,
                           seed=seed, trace=trace, **guess_kwargs)
    out = Trainable(name, trainer, settings, n, spec.queries_per_step(settings, n))
    if uses_model:
        out.label = results_label(name, settings, guess == "calibrated")
    return out


def _uses_knob_model(name: str, settings) -> bool:
    """Whether the algorithm's directions go through the device's Jacobian model."""
    return (name == "local-guess"
            or (name == "mfdd" and getattr(settings, "directions", "") in SPAN_DIRECTIONS)
            or (name in ("sff", "ff") and getattr(settings, "estimator", "") == "local-guess"))


def results_label(name: str, settings=None, calibrates: bool | None = None) -> str:
    """The label results carry: the spec's (settings-dependent) label with the Jacobian model
    resolved — "calibrated model" where the devices declare ``calibrate`` (``calibrates``) and
    the algorithm maps through it (local-guess, mfdd with span directions, sff/ff with the
    local-guess estimator; not when ``guess_model`` = "nominal"), else "nominal model"."""
    spec = _spec(name)
    label = spec.label_of(settings) if settings is not None else spec.label
    uses = _uses_knob_model(name, settings) if settings is not None else name == "local-guess"
    if getattr(settings, "guess_model", "auto") == "nominal":
        calibrates = False
    if calibrates is None:
        return label
    model = "calibrated model" if (uses and calibrates) else "nominal model"
    return label.replace("calibrated or nominal model", model).replace("nominal model", model)


def guess_model_for(name: str, settings, devices) -> str:
    """The Jacobian model directions map through: an explicit ``guess_model``, else (``auto``)
    calibrated where every device declares ``calibrate`` and the algorithm uses a model, else
    nominal."""
    gm = getattr(settings, "guess_model", "auto")
    if gm != "auto":
        return gm
    return ("calibrated" if _uses_knob_model(name, settings)
            and all("calibrate" in _capabilities(d) for d in devices) else "nominal")


def _build_goodness(name: str, settings: GoodnessSettings, net: OracleNetwork, knobs0,
                    n_classes: int, *, seed: int, trace: Trace) -> Trainable:
    """sff / ff on a LocalTrainer with goodness objectives (algorithms.goodness_training)."""
    from .goodness_training import (ForwardForward, class_goodness_heads,
                                    local_trainer_with_objectives, threshold_objectives)
    from .normalized import normalize_between_blocks
    net = OracleNetwork.build(normalize_between_blocks(net.model), net.oracles)
    n = len(net.stages)

    def eps(i: int) -> float:
        wn = settings.write_noise_range_units
        wn = WRITE_NOISE_RANGE_UNITS.get(net.device_kind(i), 0.0) if wn is None else wn
        return perturbation_step(net.maps[i], wn, settings.epsilon_knob_range_units)

    if settings.estimator == "rademacher":
        estimators = [Directional(DirectionalDerivative("rademacher", settings.num_directions,
                                                        eps(i), "central")) for i in range(n)]
    elif settings.estimator == "frog":
        estimators = [FROG(settings.num_directions, eps(i), "unbiased") for i in range(n)]
    else:
        estimators = [LocalGuess(settings.variant, eps(i)) for i in range(n)]
    # the local guess maps through the calibrated Jacobian where every device declares it
    guess = guess_model_for(name, settings, net.oracles)
    objectives = (class_goodness_heads(net, n_classes) if name == "sff"
                  else threshold_objectives(net, settings.threshold_per_unit))
    inner = local_trainer_with_objectives(
        net, knobs0, objectives, estimators,
        _knob_optimizer(settings),
        _head_optimizer(settings),
        prediction=settings.prediction, seed=seed, trace=trace, guess_model=guess)
    trainer = inner if name == "sff" else ForwardForward(inner, n_classes,
                                                         label_value=settings.label_value, seed=seed)
    t = Trainable(name, trainer, settings, n, ALGORITHMS[name].queries_per_step(settings, n))
    t.label = results_label(name, settings, guess == "calibrated")
    return t


def build_global(settings: FROGSettings | MFDDSettings, model: ModelDescription, devices,
                 n_classes: int, *, seed: int, trace: Trace, initial_knobs=None) -> GlobalTrainer:
    """A global (one estimate over all knobs) trainer with FROG or Rademacher directions."""
    knobs0 = _initial_knobs(model, devices, seed, initial_knobs)
    net = OracleNetwork.build(model, _oracles(devices, trace))
    eps = min(perturbation_step(m, WRITE_NOISE_RANGE_UNITS.get(net.device_kind(i), 0.0)
                                if settings.write_noise_range_units is None
                                else settings.write_noise_range_units,
                                settings.epsilon_knob_range_units)
              for i, m in enumerate(net.maps))
    if isinstance(settings, FROGSettings):
        est = FROG(settings.num_tangents, eps, settings.scale)
    else:
        est = Directional(DirectionalDerivative("rademacher", settings.num_directions, eps, "central"))
    return GlobalTrainer(net, knobs0, n_classes, est,
                         _knob_optimizer(settings, [net.device_kind(i) for i in range(len(net.maps))]),
                         _head_optimizer(settings),
                         projection_dim=settings.projection_dim, seed=seed, trace=trace)


def tt_device_shapes(shapes) -> list[tuple[int, int]]:
    """(n_in, n_out) of every core device of a TT network, layer by layer, core 1..K."""
    return [ds for sh in shapes for ds in sh.device_shapes()]


def tt_initial_knobs(shapes, devices, seed: int) -> list[dict]:
    """Initial knobs of every core device: Gaussian cores (``tt_init_cores``, stream
    ``init/tt-cores``) mapped by each device's ``knobs_from_weight`` (the designer's map)."""
    from .tt import core_to_matrix
    from .tt_network import tt_init_cores
    gen = generator(seed, "init/tt-cores")
    cores = [c for sh in shapes for c in tt_init_cores(sh, gen)]
    if len(cores) != len(devices):
        raise ValueError(f"the TT network has {len(cores)} cores but {len(devices)} devices were "
                         "given; allowed: one device per core")
    out = []
    for d, c in zip(devices, cores):
        if not callable(getattr(d, "knobs_from_weight", None)):
            raise ValueError(f"device {getattr(d, 'name', '?')!r} cannot map weights to knobs; "
                             "allowed: pass initial_knobs")
        out.append(d.knobs_from_weight(core_to_matrix(c)))
    return out


def build_tt(settings: "TTZOSettings", devices: Sequence, objective, *, seed: int, trace: Trace,
             shapes=None, activation: str | None = None,
             initial_knobs: Sequence[Mapping] | None = None) -> Trainable:
    """The tt-zo trainable: ``devices`` one per core (``tt_device_shapes(shapes)``), ``shapes``
    default ``tt_shapes(settings.layers)``, ``objective`` e.g. ``OutputCrossEntropy()`` or a
    ``PDEObjective``. The per-knob step of every core follows ``perturbation_step`` (the device
    kind's write noise and DAC step); hidden biases use ``settings.bias_epsilon``."""
    from .estimators.hybrid import HybridZO
    from .tt_network import TTNetwork
    from .tt_zo import TTZOTrainer
    if not isinstance(settings, TTZOSettings):
        raise ValueError(f"build_tt: settings must be TTZOSettings, got {type(settings).__name__}")
    shapes = list(shapes) if shapes is not None else tt_shapes(settings.layers)
    knobs0 = (tt_initial_knobs(shapes, devices, seed) if initial_knobs is None
              else [dict(k) for k in initial_knobs])
    net = TTNetwork.build(shapes, _oracles(devices, trace), activation or settings.activation)
    eps, cge = [], []
    wn0 = settings.write_noise_range_units
    for c, ((_, size), m) in enumerate(zip(net.groups(), net.maps)):
        wn = WRITE_NOISE_RANGE_UNITS.get(net.oracles[c].info().device, 0.0) if wn0 is None else wn0
        eps.append(torch.full((size,), perturbation_step(m, wn, settings.epsilon_knob_range_units)))
    for _, size in net.groups()[len(net.maps):]:
        eps.append(torch.full((size,), settings.bias_epsilon))
    for _, size in net.groups():
        cge.append(torch.full((size,), settings.gradient == "hybrid" and size <= settings.cge_max_group))
    est = HybridZO(torch.cat(eps), torch.cat(cge), settings.num_directions, settings.difference)
    trainer = TTZOTrainer(net, knobs0, objective, est,
                          _knob_optimizer(settings),
                          _head_optimizer(settings),
                          seed=seed, trace=trace)
    return Trainable("tt-zo", trainer, settings, 1, trainer.device_queries_per_step())


def train(trainable, x, y, *, epochs: int, batch_size: int, seed: int, trace: Trace | None = None,
          **loop) -> FitResult:
    """Train with the trainable's own schedule (greedy: stage by stage, ``epochs`` each);
    ``loop``: the other keywords of :func:`algorithms.training.fit` (evaluation sets,
    callbacks, ``stop``, ``result``)."""
    return fit(trainable, x, y, epochs=epochs, batch_size=batch_size, seed=seed,
               schedule=getattr(trainable, "schedule", "simultaneous"),
               n_stages=getattr(trainable, "n_stages", 1), trace=trace, **loop)

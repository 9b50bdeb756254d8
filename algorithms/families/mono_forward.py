"""Mono-Forward family: local heads per device block, knobs trained by a forward-only estimate
(mfdd, mfdd-thesis, frog, local-guess, activity) or never (frozen, the control).

Every algorithm here trains a :class:`~algorithms.trainer.LocalTrainer`: the per-block
estimators come from :func:`local_trainer`'s ``estimators(settings, steps)`` argument, where
``steps`` are the per-knob perturbations of the blocks (:func:`algorithms.network.knob_steps`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from ..estimators import (FROG, Activity, Directional, DirectionalDerivative, LocalGuess, LowRank,
                          SeedReplay)
from ..estimators.directions import DIRECTIONS
from ..estimators.frog import SCALES
from ..estimators.local_guess import VARIANTS
from ..estimators.span import SpanProjection
from ..estimators.zeroth_order import DIFFERENCES
from ..network import OracleNetwork, device_hint, knob_steps, projection_dims
from ..registry import AlgorithmSpec, BuildRequest, guess_model_for, register
from ..settings import (CommonSettings, GuessModelSettings, bad, choice, head_optimizer, integer,
                        knob_optimizer, nonnegative, positive, setting)
from ..trainer import TARGETS, GlobalTrainer, LocalTrainer

__all__ = ["MFDDSettings", "MFDDThesisSettings", "FROGSettings", "LocalGuessSettings",
           "ActivitySettings", "FrozenSettings", "MFDD_DIRECTIONS", "SPAN_DIRECTIONS",
           "local_trainer", "knob_lr", "build_global"]

#: ``input-span`` / ``head-span``: random directions in the span of the block's local gradients
#: (estimators.span), mapped to knobs through the Jacobian model of ``guess_model``.
SPAN_DIRECTIONS = {"input-span": "input", "head-span": "head"}
MFDD_DIRECTIONS = (*DIRECTIONS, "lowrank", "seed-replay", *SPAN_DIRECTIONS)


# --------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class FrozenSettings(CommonSettings):
    """frozen: knobs never updated, only the digital heads train (the control; predicts like
    mfdd, summed over the stages' heads)."""


@dataclass(frozen=True)
class MFDDThesisSettings(CommonSettings):
    """mfdd-thesis: FFzero DD as the thesis uses it (arXiv:2603.24790 defaults, algorithms.md §3;
    ``mmc-group/FFzero-local-learning`` ``core/solver.py``): sphere × d, central, P = 1,
    ε = 1e-3 (perturbation norm), ZO head, SGD lr 1e-3, trained greedily layer by layer
    (``schedule = "greedy"``: layer 1 for every epoch, then layer 2, … as the reference code;
    "simultaneous" is the labelled deviation).

    On a quantized device a norm of 1e-3 over d knobs moves each knob by ~1e-3/√d, far below one
    write step, so the DAC rounds the perturbation away (algorithms.md §1). The per-knob rms
    perturbation ε/√d is therefore raised to at least ``epsilon_min_dac_steps`` write steps of
    the device's *declared* knob resolution (``info().knob_bits`` through the knob map's
    ``lsb_range_units``; nothing hidden): ε_i = max(epsilon_norm, steps · LSB_i · √d_i) per
    block. ``epsilon_min_dac_steps = 0`` keeps the thesis's plain norm (the labelled option)."""

    knob_lr_range_units: float = setting(1e-3, "SGD step on θ", "knob range units")
    head_lr: float = setting(1e-3, "SGD step of the ZO-trained heads", "1")
    optimizer: str = setting("sgd", "update rule of heads and knobs")
    schedule: str = setting("greedy", "stage schedule: greedy layer-wise (the thesis's code) or "
                            "simultaneous")
    num_directions: int = setting(1, "sphere directions per estimate", "count")
    epsilon_norm: float = setting(1e-3, "perturbation norm ‖εu‖ (raised per block to the DAC "
                                  "floor, see epsilon_min_dac_steps)", "knob range units")
    epsilon_min_dac_steps: float = setting(1.0, "floor of the per-knob rms perturbation, in write "
                                           "steps of the device's declared knob resolution "
                                           "(0: the plain thesis norm)", "DAC steps")
    head_num_directions: int = setting(1, "sphere directions of the head's estimate", "count")
    head_epsilon: float = setting(1e-3, "perturbation norm of the head's estimate", "1")

    def __post_init__(self) -> None:
        super().__post_init__()
        o = type(self).__name__
        integer(o, "num_directions", self.num_directions, 1, 4096)
        positive(o, "epsilon_norm", self.epsilon_norm)
        nonnegative(o, "epsilon_min_dac_steps", self.epsilon_min_dac_steps)
        integer(o, "head_num_directions", self.head_num_directions, 1, 4096)
        positive(o, "head_epsilon", self.head_epsilon)


@dataclass(frozen=True)
class FROGSettings(CommonSettings):
    """frog: k orthonormal tangents, projection aggregator (arXiv:2410.17764). ``scale``:
    "projection" (default) — the plain orthogonal projection V(VᵀV)⁻¹δ as the paper's code
    aggregates (``Helmholtz-AI-Energy/frog`` ``forward_gradient/aggregation.py``: no rescaling
    unless asked); "unbiased" — × d/k, which makes the projection of isotropic tangents
    unbiased (E[VVᵀ] = (k/d) I; algorithms.md §4), the labelled deviation."""

    num_tangents: int = setting(8, "orthonormal tangents per estimate", "count")
    scale: str = setting("projection", f"scaling of the projection, one of {SCALES}: plain "
                         "(the paper's code) or d/k (unbiased)")

    def __post_init__(self) -> None:
        super().__post_init__()
        integer(type(self).__name__, "num_tangents", self.num_tangents, 1, 4096)
        choice(type(self).__name__, "scale", self.scale, SCALES)


@dataclass(frozen=True)
class LocalGuessSettings(GuessModelSettings):
    """local-guess: the local head's exact ∂L/∂z mapped into knob space, the step along it
    measured on the device (arXiv:2306.06968), through the Jacobian model of ``guess_model``.

    ``target``: what the measured step differentiates. "global" (default, the paper's best
    variant ``fg-tgt-e2e-guess-localgrad``: "Gradient Target" = the end-to-end gradient,
    ``streethagore/ForwardLocalGradient`` ``trainer/forward_gradient.py`` ``target='global'``):
    the block's knobs are perturbed along the guess and the change of the *network's* loss is
    measured through the later blocks, which are queried on the device at their clean setting,
    so the update is the projection ⟨∇_θ L_global, ĝ⟩ ĝ of the global gradient onto the unit
    guess. "local": the block's own head loss instead (the projection of the local gradient
    onto itself: a measured step length along the guess). The paper projects per sample; the
    device measures the minibatch loss, which is the batch form of the same projection (the
    reference's ``avg-weight`` estimator, ``trainer/estimators.py``). The last block's target
    is its own head loss under both (it is the network's loss).

    Calibration defaults chosen on validation splits. Which knobs, how often: on the
    Fashion-MNIST validation split (mzi-default, 784-128-128, full data, lr 2e-3;
    bench/results/fashion_full_data_3seeds.txt as of commit 3775c63, since removed) 16 knob
    indices per block re-measured every 10 steps gave val 0.8535 against 0.8458 (8 / 10), 0.8463
    (32 / 10), 0.8488 (8 / 5), and 0.8318 with every knob every 20 steps. What a calibration
    streams (bench/calibration_cost.py, bench/results/calibration_cost_*.txt; mzi-default, digits
    64-32-32 and pooled Fashion-MNIST 49-32-32, seed 0): the fewest Hadamard probe rows (the
    layer's input count rounded up to a power of two, instead of 1,024), a rank-one Broyden
    update from every step's own ±s·u readouts, and 16 indices every 20 steps had the best
    validation accuracy of the cheap candidates on digits (0.854 vs 0.826 with minibatch probes
    every 10, 0.808 / 0.808 with minibatch probes and Broyden every 20 / 40; mfdd 0.847) at 12×
    fewer streamed vectors and 12× less device energy than mfdd over 3 seeds. On pooled Fashion
    the same rule picks minibatch probes with Broyden every 40 steps (validation 0.574 against
    0.556 for the default; mfdd 0.572): the default is the digits choice. The Broyden update is
    free in device work but did not measurably help on pooled Fashion (3 seeds, fewest Hadamard
    rows every 20 steps: validation 0.556 with it on seed 0, 0.565 ± 0.023 without,
    bench/results/calibration_cost_fashion_ablation.txt)."""

    recalibrate_every: int = setting(20, "re-measure the calibrated Jacobian every N steps",
                                     "steps")
    calibrate_subset: int | None = setting(16, "knob indices per block per calibration "
                                           "(None: all)", "knobs")
    calibrate_probe_rows: int | None = setting(
        1, "probe vectors per calibration setting, rounded up to the Hadamard size >= the "
        "layer's inputs (1: that size; None: the device's default, 1024 on MZI meshes)",
        "vectors")
    broyden: float = setting(1.0, "weight of the rank-one secant (Broyden) update of the "
                             "calibrated Jacobian from each step's own readouts (0: off)", "1")
    variant: str = setting("local", f"guess direction, one of {VARIANTS}")
    mix_weight: float = setting(1.0, "weight of the random part (variant 'mixed')", "1")
    target: str = setting("global", f"what the measured step differentiates, one of {TARGETS}: "
                          "the network's end-to-end loss through the later blocks (global, the "
                          "paper's) or the block's own head loss (local)")

    def __post_init__(self) -> None:
        super().__post_init__()
        choice(type(self).__name__, "variant", self.variant, VARIANTS)
        choice(type(self).__name__, "target", self.target, TARGETS)
        positive(type(self).__name__, "mix_weight", self.mix_weight)


@dataclass(frozen=True)
class MFDDSettings(GuessModelSettings):
    """mfdd: Rademacher ±ε per knob (per-knob step by the rule), central differences, exact
    heads, predictions summed over the stages' heads. ``knob_lr_range_units`` None: the
    device's ``zo_knob_lr_range_units`` hint (the smallest over the network's devices)."""

    _LR_BY_DEVICE = True
    knob_lr_range_units: float | None = setting(
        None, "step size on θ (None: the device kind's ZO hint)", "knob range units")
    # P = 32: the default digits run (MLP 64-32-32, mzi-default, 20 epochs, these defaults) ends
    # at 0.944 test accuracy with it and at 0.908 with P = 8
    num_directions: int = setting(32, "random directions per estimate (P)", "count")
    directions: str = setting("rademacher", f"direction family, one of {MFDD_DIRECTIONS}")
    difference: str = setting("central", f"finite difference, one of {DIFFERENCES}")
    rank: int = setting(1, "rank of the low-rank directions (directions = 'lowrank')", "count")

    def __post_init__(self) -> None:
        super().__post_init__()
        o = type(self).__name__
        integer(o, "num_directions", self.num_directions, 1, 4096)
        choice(o, "directions", self.directions, MFDD_DIRECTIONS)
        choice(o, "difference", self.difference, DIFFERENCES)
        if self.directions in ("lowrank", "seed-replay", *SPAN_DIRECTIONS) and \
                self.difference != "central":
            raise bad(o, "difference", self.difference,
                      f"'central' with directions {self.directions!r}")
        integer(o, "rank", self.rank, 1, 4096)


@dataclass(frozen=True)
class ActivitySettings(GuessModelSettings):
    """activity: per-example output perturbation on the host (arXiv:2210.03310); the
    weight-space estimate reaches the knobs through the Jacobian model of ``guess_model``
    (calibrated where every device declares ``calibrate``: on mzi-default the nominal map's
    Jᵀc has cosine ≈ 0.04 with the device's, hwsim.photonic.calibrate). Calibration keys as
    local-guess's defaults (16 knob indices per block every 10 steps)."""

    recalibrate_every: int = setting(10, "re-measure the calibrated Jacobian every N steps",
                                     "steps")
    calibrate_subset: int | None = setting(16, "knob indices per block per calibration "
                                           "(None: all)", "knobs")

    num_directions: int = setting(4, "activity directions per example", "count")
    epsilon_activity: float = setting(1e-2, "activity perturbation", "readout units")

    def __post_init__(self) -> None:
        super().__post_init__()
        integer(type(self).__name__, "num_directions", self.num_directions, 1, 4096)
        positive(type(self).__name__, "epsilon_activity", self.epsilon_activity)


# --------------------------------------------------------------------------- building
def knob_lr(settings, oracles: Sequence) -> float:
    """The knob learning rate: the settings' value, or (None) the smallest of the devices'
    ``zo_knob_lr_range_units`` hints (a kind without the hint: the settings class default of
    :class:`CommonSettings`, 2e-3)."""
    if settings.knob_lr_range_units is not None:
        return settings.knob_lr_range_units
    return min(device_hint(o, "zo_knob_lr_range_units", CommonSettings.knob_lr_range_units)
               for o in oracles)


def local_trainer(req: BuildRequest,
                  estimators: Callable[[object, OracleNetwork, list[float]], list], *,
                  head: str = "exact", head_estimator=None) -> LocalTrainer:
    """A :class:`LocalTrainer` on ``req``'s network with the blocks' ``estimators(settings, net,
    steps)`` (one per block, or None: frozen), the settings' update rules and, where the
    algorithm maps through a Jacobian model, its guess-model keys."""
    s = req.settings
    net = OracleNetwork.build(req.model, req.oracles)
    ests = estimators(s, net, knob_steps(net.oracles, net.maps, s))
    guess = {}
    if isinstance(s, GuessModelSettings):
        guess = {"guess_model": guess_model_for(req.name, s, req.oracles),
                 **s.calibration_keys()}
    return LocalTrainer(net, req.initial_knobs, req.n_classes, ests,
                        knob_optimizer(s, knob_lr(s, req.oracles)), head_optimizer(s),
                        projection_dims=projection_dims(s.projection_dim, net), head=head,
                        head_estimator=head_estimator, prediction=s.prediction,
                        target=getattr(s, "target", "local"), seed=req.seed, trace=req.trace,
                        **guess)


def _mfdd_estimators(s: MFDDSettings, net: OracleNetwork, steps: list[float]) -> list:
    if s.directions == "lowrank":
        return [LowRank(m.matrix_shape, s.rank, s.num_directions, e)
                for m, e in zip(net.maps, steps)]
    if s.directions in SPAN_DIRECTIONS:
        return [SpanProjection(s.num_directions, e, SPAN_DIRECTIONS[s.directions]) for e in steps]
    if s.directions == "seed-replay":
        return [SeedReplay(s.num_directions, e) for e in steps]
    # sphere directions have unit norm: the per-knob step ε becomes the norm ε·√d
    return [Directional(DirectionalDerivative(
        s.directions, s.num_directions, e * math.sqrt(m.dim) if s.directions == "sphere" else e,
        s.difference)) for m, e in zip(net.maps, steps)]


def _thesis_directional(P: int, eps: float) -> Directional:
    return Directional(DirectionalDerivative("sphere", P, eps, "central"))


def thesis_epsilons(s: MFDDThesisSettings, net: OracleNetwork) -> list[float]:
    """Per block, the sphere perturbation norm: the thesis's ``epsilon_norm`` raised so that the
    per-knob rms step (norm/√d) is at least ``epsilon_min_dac_steps`` write steps of the
    device's declared resolution (the knob map's ``lsb_range_units``, from ``info()``)."""
    return [max(s.epsilon_norm, s.epsilon_min_dac_steps * m.lsb_range_units * math.sqrt(m.dim))
            for m in net.maps]


def _build_thesis(req: BuildRequest) -> LocalTrainer:
    s = req.settings
    return local_trainer(req, lambda s, net, steps: [
        _thesis_directional(s.num_directions, e) for e in thesis_epsilons(s, net)], head="zo",
        head_estimator=_thesis_directional(s.head_num_directions, s.head_epsilon))


def _thesis_label(s: MFDDThesisSettings) -> str:
    order = "greedy layer-wise" if s.schedule == "greedy" else "simultaneous layers"
    eps = (f"eps >= {s.epsilon_min_dac_steps:g} DAC step per knob" if s.epsilon_min_dac_steps
           else "eps = plain thesis norm")
    return f"forward-only, {order}, {eps}"


def build_global(settings: "FROGSettings | MFDDSettings", model, devices, n_classes: int, *,
                 seed: int, trace, initial_knobs=None) -> GlobalTrainer:
    """A global trainer (one estimate over all knobs against the last head's CE) with FROG
    (:class:`FROGSettings`) or Rademacher directions (:class:`MFDDSettings`), from the same
    initial knobs as every registered algorithm (``registry.initial_knobs``)."""
    from hwsim.oracle import TracingOracle
    from ..registry import initial_knobs as knobs_for
    knobs0 = (knobs_for("mfdd", settings, model, devices, seed) if initial_knobs is None
              else [dict(k) for k in initial_knobs])
    oracles = [d if isinstance(d, TracingOracle) else TracingOracle(d, trace) for d in devices]
    net = OracleNetwork.build(model, oracles)
    eps = min(knob_steps(net.oracles, net.maps, settings))
    est = (FROG(settings.num_tangents, eps, settings.scale) if isinstance(settings, FROGSettings)
           else Directional(DirectionalDerivative("rademacher", settings.num_directions, eps,
                                                  "central")))
    return GlobalTrainer(net, knobs0, n_classes, est,
                         knob_optimizer(settings, knob_lr(settings, oracles)),
                         head_optimizer(settings), projection_dim=settings.projection_dim,
                         seed=seed, trace=trace)


def _span(s) -> bool:
    return getattr(s, "directions", "") in SPAN_DIRECTIONS


def jacobian_capability(s: GuessModelSettings) -> str:
    """The capability a Jacobian model needs: ``calibrate`` where the settings ask for the
    calibrated model, else ``nominal`` (``auto`` works with the nominal map alone and uses
    ``calibrate`` where every device declares it)."""
    return "calibrate" if s.guess_model == "calibrated" else "nominal"


# --------------------------------------------------------------------------- registration
register(AlgorithmSpec(
    "mfdd", "Mono-Forward + directional derivatives (Rademacher ±ε/knob, or random directions "
    "in the local gradients' span; exact head)", MFDDSettings,
    lambda req: local_trainer(req, _mfdd_estimators),
    lambda s, n: n * (1 + (2 * s.num_directions if s.difference == "central"
                           else s.num_directions + 1)),
    "forward-only", capability_for=lambda s: jacobian_capability(s) if _span(s) else None,
    label_for=lambda s: ("forward-only, calibrated or nominal model" if _span(s)
                         else "forward-only"),
    uses_jacobian=_span, order=0, short="MF+DD",
    capability_cases=tuple({"directions": d} for d in SPAN_DIRECTIONS)))
register(AlgorithmSpec(
    "mfdd-thesis", "MF+DD as in the thesis's code: greedy layer by layer, sphere x d, P=1, "
    "eps=1e-3 norm raised to >= 1 DAC step per knob (rms) of the declared resolution, ZO head, "
    "SGD", MFDDThesisSettings, _build_thesis, lambda s, n: n * (1 + 2 * s.num_directions),
    _thesis_label(MFDDThesisSettings()), label_for=_thesis_label, order=1))
def _frog_label(s: FROGSettings) -> str:
    return ("forward-only, plain projection" if s.scale == "projection"
            else "forward-only, projection x d/k")


register(AlgorithmSpec(
    "frog", "multi-tangent forward gradient, orthogonal projection (FROG; scale = 'projection' "
    "as the paper's code, 'unbiased': x d/k)", FROGSettings,
    lambda req: local_trainer(req, lambda s, net, steps: [FROG(s.num_tangents, e, s.scale)
                                                          for e in steps]),
    lambda s, n: n * (1 + 2 * s.num_tangents), _frog_label(FROGSettings()),
    label_for=_frog_label, order=2))
def _guess_label(s: LocalGuessSettings) -> str:
    """Which target the measured step differentiates, then the Jacobian model (resolved per
    device by ``registry.results_label``)."""
    target = "global target" if s.target == "global" else "block-local target"
    return f"forward-only, {target}, calibrated or nominal model"


def _guess_queries(s: LocalGuessSettings, n: int) -> int:
    """n clean readouts + 2 settings per block; the global target adds one query of every
    later block's clean setting per block's estimate (n(n − 1)/2 in all)."""
    return 3 * n + (n * (n - 1) // 2 if s.target == "global" else 0)


def _guess_work(s: LocalGuessSettings, n: int, batch: int) -> tuple[int, int]:
    """(settings, vectors) of a step: a clean readout and a ± pair per block, B vectors each;
    the global target streams both candidates (2B vectors) through every later block's clean
    setting, which is already programmed (no new setting)."""
    return 3 * n, batch * (3 * n + (n * (n - 1) if s.target == "global" else 0))


register(AlgorithmSpec(
    "local-guess", "local-head guess via the calibrated (else nominal) Jacobian, step measured "
    "on device against the network's loss through the later blocks (target = 'global', "
    "arXiv:2306.06968) or the block's own head loss (target = 'local') (calibrated: + 2 x "
    "calibrate_subset queries every recalibrate_every steps, Broyden updates between)",
    LocalGuessSettings,
    lambda req: local_trainer(req, lambda s, net, steps: [LocalGuess(s.variant, e, s.mix_weight)
                                                          for e in steps]),
    _guess_queries, _guess_label(LocalGuessSettings()), label_for=_guess_label,
    capability_for=jacobian_capability, uses_jacobian=lambda s: True, order=3,
    capability_cases=({"guess_model": "calibrated"},), step_work=_guess_work))
register(AlgorithmSpec(
    "activity", "activity perturbation of block outputs (host), W->knob map through the "
    "calibrated (else nominal) Jacobian", ActivitySettings,
    lambda req: local_trainer(req, lambda s, net, steps: [Activity(
        s.num_directions, s.epsilon_activity)] * len(steps)),
    lambda s, n: n, "forward-only, calibrated or nominal model",
    capability_for=jacobian_capability, uses_jacobian=lambda s: True, order=4,
    capability_cases=({"guess_model": "calibrated"},)))
register(AlgorithmSpec(
    "frozen", "control: device knobs never updated, exact digital heads", FrozenSettings,
    lambda req: local_trainer(req, lambda s, net, steps: [None] * len(steps)),
    lambda s, n: n, "forward-only (control)", order=5))

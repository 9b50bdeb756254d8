"""Checks made before any work starts, once the data set is loaded: everything that would
otherwise fail only after the model is built or training has begun. Each failure is one
:class:`~experiments.config.ConfigError` naming the key, the value and what is allowed.

* the data set against the split and standardisation (``data.val_split`` must hold out at least
  one example and leave at least two to train on: a one-example set has no standard deviation);
* the network against the data shape: every block's input and output shape computed from the
  config, the failing block named with its index (``model.architecture[2] = 'maxpool:16'``);
* cost-spec values within physical bounds (at most ``SPEC_FACTOR`` × the sourced value of the
  level, so nothing prices to 1e293 J after hours of training);
* the memory of the largest dense device structure per device kind and block size: an MZI
  mesh with thermal crosstalk builds the (k², k²) heater adjacency of a k-mode block and its
  pairwise (m, m) distance tables (m = k(k-1)/2 MZIs): 8.5 GB for one table at
  ``device.block = 256``; the error gives the GiB needed and the largest block that fits;
* the memory of the configured stage's devices and of its batched evaluation (all perturbed
  settings of a step), from each device kind's declared footprint alone — nothing is built, so
  a 20000×20000 layer is refused without allocating it; the error names the GiB needed and the
  largest number of directions (or device weights) that fits.

A run makes three calls, each once and each where its facts first exist: :func:`check_config`
(the config alone, before any work), :func:`check_source` (a loaded data set, before it is
split) and :func:`check_memory` (the resolved stage, before any device is built). They read
what the blueprint has already looked up (the algorithm's settings, the device kind) and the
stage's resolved layout; only a refused evaluation looks settings up again, to name the largest
count that fits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from .config import (ConfigError, CostSection, DataSection, DeviceSection,
                     ModelSection)

if TYPE_CHECKING:
    from hwsim.kinds import DeviceKind

    from .build import Blueprint, Stage
    from .dataset import Dataset

__all__ = ["check_config", "check_source", "check_memory", "check_data", "check_network",
           "check_epochs", "check_cost_bounds", "check_device_memory", "check_eval_memory",
           "estimate_memory", "device_bytes", "DeviceBytes", "SlotBytes", "MemoryEstimate",
           "block_shapes", "SPEC_FACTOR"]

#: A cost-spec value may be at most this factor above its sourced value at the run's level (a
#: device 10^6 times worse than any published one is a typing error, not a device), and at
#: most ``SPEC_ABSOLUTE`` where the sourced value is 0.
SPEC_FACTOR = 1e6
SPEC_ABSOLUTE = 1e12


def check_data(data: DataSection, n_train: int, n_features: int) -> None:
    """The training set can be split (``data.val_split``) and standardised."""
    f = data.val_split
    n_val = round(f * n_train) if f > 0 else 0
    if f > 0 and n_val < 1:
        raise ConfigError(f"data.val_split = {f!r} holds out 0 of the {n_train} training examples; "
                          f"allowed: 0 (no validation split) or at least {1 / n_train:.3g}")
    if n_train - n_val < 2:
        what = (f"data.val_split = {f!r} leaves {n_train - n_val} of {n_train} training examples"
                if f > 0 else f"data set {data.dataset!r} has {n_train} training example(s)")
        raise ConfigError(f"{what}; training{' and standardising' if data.standardize else ''} "
                          "need at least 2; allowed: a smaller data.val_split or a larger data set")
    if n_features < 1:
        raise ConfigError(f"data set {data.dataset!r} has no features; allowed: a data set of "
                          "images or feature vectors")


def block_shapes(items: Sequence[Any], input_shape: Sequence[int], where: str
                 ) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """(block, input shape, output shape) of every block of an architecture list; a block that
    does not fit the shape it receives raises naming ``where[i]``."""
    from algorithms.model import Conv2d, Dense, parse_architecture
    try:
        blocks = parse_architecture(list(items), where)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if not isinstance(blocks[0], (Dense, Conv2d)):
        raise ConfigError(f"{where}[0] = {items[0]!r}; allowed: a device block first ('dense:N' or "
                          "'conv2d:C:K[:S:P]'), host blocks (bias, relu, pooling, flatten) after it")
    shape = tuple(int(s) for s in input_shape)
    if isinstance(blocks[0], Conv2d) and len(shape) == 2:
        shape = (1, *shape)
    elif isinstance(blocks[0], Dense):
        shape = (math.prod(shape),)
    out = []
    for i, (item, block) in enumerate(zip(items, blocks)):
        try:
            nxt = tuple(block.out_shape(shape))
        except ValueError as e:
            raise ConfigError(f"{where}[{i}] = {item!r} does not fit its input of shape {shape} "
                              f"({e}); allowed: a block that fits the shape the blocks before it "
                              "give") from None
        if any(s < 1 for s in nxt):
            raise ConfigError(f"{where}[{i}] = {item!r} turns shape {shape} into {nxt}; allowed: "
                              "sizes that leave every dimension >= 1")
        out.append((str(item), shape, nxt))
        shape = nxt
    return out


def check_network(name: str, settings: Any, model: ModelSection,
                  input_shape: Sequence[int]) -> None:
    """Every block of the run's network fits the data shape (the MLP widths always do), for
    the configured algorithm ``name`` with its resolved ``settings``."""
    if name == "tt-zo":
        return   # its layouts are checked against the data by the tensor-train builder
    if model.architecture:
        block_shapes(model.architecture, input_shape, "model.architecture")
    arch = getattr(settings, "architecture", None)
    if arch:
        n = math.prod(input_shape)
        side = math.isqrt(n)
        if side * side != n:
            raise ConfigError(f"algorithm.settings.architecture needs square one-channel images; "
                              f"the data set has {n} features per example; allowed: model.hidden "
                              "or model.architecture")
        block_shapes(arch, (side, side), "algorithm.settings.architecture")


def check_epochs(name: str, settings: Any, epochs: int) -> None:
    """An algorithm whose stages need epochs (e.g. a pipeline's pretraining, then the rest)
    gets enough of them (its spec's ``check_epochs`` on its resolved ``settings``; one line,
    before any work)."""
    from algorithms.registry import ALGORITHMS
    check = ALGORITHMS[name].check_epochs
    if check is None:
        return
    try:
        check(settings, epochs)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def check_config(bp: Blueprint, epochs: int, cost: CostSection | None) -> None:
    """What the config alone decides, checked before any work (no data read, no PDE set up):
    the epochs the configured algorithm needs (:func:`check_epochs`, on the blueprint's
    resolved settings) and, where given (classification), the cost bounds
    (:func:`check_cost_bounds`)."""
    check_epochs(bp.algorithm.name, bp.settings, epochs)
    if cost is not None:
        check_cost_bounds(cost)


def check_source(bp: Blueprint, data: DataSection, dataset: Dataset) -> None:
    """A loaded data set against the config, before it is split: the split and
    standardisation (:func:`check_data`) and the run's network against the shape of one
    example (:func:`check_network`, on the blueprint's resolved settings)."""
    check_data(data, dataset.x_train.shape[0], dataset.x_train.shape[1])
    check_network(bp.algorithm.name, bp.settings, bp.model, dataset.shape)


def check_cost_bounds(cost: CostSection) -> None:
    """Every numeric cost-spec value at most ``SPEC_FACTOR`` × its sourced value at
    ``cost.level`` (``SPEC_ABSOLUTE`` where that is 0)."""
    from hwsim.cost.spec import GPU_PRESETS, spec_from_mapping
    sourced = spec_from_mapping(cost.level)          # every kind's section at this level
    pairs = [(f"cost.{k}", spec, sourced.get(k)) for k, spec in (cost.devices or {}).items()]
    pairs += [(f'cost.gpu."{name}"', spec, GPU_PRESETS.get(name))
              for name, spec in (cost.gpu or {}).items()]
    for where, spec, ref in pairs:
        if spec is None:
            continue
        refs = dict(ref.items()) if ref is not None else {}
        for name, v in spec.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            base = refs.get(name)
            base = abs(base) if isinstance(base, (int, float)) and not isinstance(base, bool) else 0
            limit = base * SPEC_FACTOR if base > 0 else SPEC_ABSOLUTE
            if not math.isfinite(v) or abs(v) > limit:
                src = f"the sourced value is {base:g}" if base > 0 else "no sourced value"
                raise ConfigError(f"{where}.{name} = {v!r} is outside physical bounds ({src}); "
                                  f"allowed: at most {limit:g}")


def check_device_memory(device: DeviceSection, available: float,
                        kind: DeviceKind | None = None) -> None:
    """Refuse a device whose largest dense per-block structure cannot fit in ``available``
    bytes, as its kind declares it (``DeviceKind.memory_check``; e.g. the MZI mesh's
    thermal-crosstalk heater layout). ``kind``: the device's resolved
    :class:`hwsim.kinds.DeviceKind` (default: looked up by ``device.kind``)."""
    if kind is None:
        from hwsim.kinds import kind as kind_named
        kind = kind_named(device.kind)
    check = kind.memory_check
    if check is None:
        return
    try:
        check(device.physics, available)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def _evaluations(stage: Stage, configured: Mapping[str, Any]) -> tuple[int, str | None]:
    """Settings one estimate evaluates in ONE batched device call (the device queries of a
    step per block, less the clean readout), and the key of the configured
    ``algorithm.settings`` that sets their number."""
    key = next((k for k in ("num_directions", "num_tangents") if k in configured), None)
    return _settings_per_estimate(stage.name, stage.settings), key


def _settings_per_estimate(name: str, settings: Any) -> int:
    """Settings algorithm ``name`` evaluates in one batched device call with ``settings``: its
    device queries of a step per block, less the clean readout (at least one)."""
    from algorithms.registry import ALGORITHMS
    return max(1, ALGORITHMS[name].queries_per_step(settings, 1) - 1)


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak bytes of a stage's devices, from the config alone (no device is built).

    ``resident``: every device's own arrays (:class:`hwsim.kinds.Footprint`); ``evaluation``:
    the largest layer's batched evaluation (all perturbed settings of one step), on layer
    ``layer``; ``weights``: the model's device weights (Σ n_in·n_out)."""

    resident: int
    evaluation: int
    layer: str
    weights: int

    @property
    def total(self) -> int:
        return self.resident + self.evaluation


@dataclass(frozen=True)
class SlotBytes:
    """One device slot of a stage in bytes at the run's batch size, from its kind's declared
    footprint: ``resident`` (the device's own arrays and its trained knobs), ``state`` (one
    setting inside one device call: device state, partial sums, readout and loss inputs),
    ``knobs`` (one setting's perturbed, projected and applied knob rows, which exist for all
    settings at once) and ``per_call`` (settings one device call holds; 0: all of them)."""

    name: str
    resident: int
    state: int
    knobs: int
    per_call: int


@dataclass(frozen=True)
class DeviceBytes:
    """A stage's devices in bytes, resolved once (:func:`device_bytes`): per slot its
    :class:`SlotBytes`, and the model's device weights (Σ n_in·n_out). The estimate for any
    number of settings evaluated per step is arithmetic on these, so the search for the
    largest number that fits resolves nothing again."""

    slots: tuple[SlotBytes, ...]
    weights: int

    def estimate(self, n_eval: int) -> MemoryEstimate:
        """The :class:`MemoryEstimate` with ``n_eval`` settings evaluated per step: the
        resident bytes of every slot, and the slot whose batched evaluation (its chunk of the
        settings per call, the knob rows of all of them) needs the most."""
        resident, worst, layer = 0, 0, ""
        for s in self.slots:
            need = min(n_eval, s.per_call or n_eval) * s.state + n_eval * s.knobs
            resident += s.resident
            if need > worst:
                worst, layer = need, s.name
        return MemoryEstimate(resident, worst, layer, self.weights)

    def most_settings(self, available: float, hi: int) -> int:
        """The most settings evaluated per step (at most ``hi``) whose estimate fits in
        ``available`` bytes (0: not even one)."""
        return _largest(lambda n: self.estimate(n).total <= available, hi)


def device_bytes(bp: Blueprint, stage: Stage, batch_size: int) -> DeviceBytes:
    """The :class:`DeviceBytes` of the resolved ``stage``'s devices for ``batch_size``
    examples, from the kind's declared memory formula (``bp.kind.footprint``): per slot the
    device state (MZI unitaries, crossbar conductances), the per-block partial sums and the
    readout of one setting, the knob copies, and the settings of one device call (a chunk:
    ``algorithms.chunking``). Nothing is built."""
    from algorithms.chunking import settings_per_call
    footprint, B = bp.kind.footprint, batch_size
    slots = []
    for s in stage.slots:
        fp = footprint(bp.device.physics, s.n_in, s.n_out)
        state = (fp.tiles * fp.tile_rows * fp.tile_cols * 8 * 4     # device state (complex)
                 + 4 * B * fp.tiles * fp.tile_rows * 4               # partial sums and their copies
                 + 2 * B * s.n_out * 4)                              # readout and loss inputs
        # one device call holds a chunk of the settings (the trainers' automatic chunk, or
        # $FORWARDLAB_SETTINGS_PER_CALL); the knob rows exist for all settings at once
        per_call = settings_per_call(s.n_in, s.n_out, B, fp.knobs) or 0
        slots.append(SlotBytes(s.name, fp.resident_bytes + 4 * fp.knobs, state,
                               3 * fp.knobs * 4, per_call))
    return DeviceBytes(tuple(slots), sum(s.n_in * s.n_out for s in stage.slots))


def estimate_memory(bp: Blueprint, stage: Stage, batch_size: int, *,
                    evaluations: int | None = None) -> MemoryEstimate:
    """The :class:`MemoryEstimate` of the resolved ``stage``'s devices (:func:`device_bytes`)
    for ``batch_size`` examples. ``evaluations``: settings per estimate (default: the
    stage's own)."""
    n_eval = evaluations or _evaluations(stage, bp.algorithm.settings)[0]
    return device_bytes(bp, stage, batch_size).estimate(n_eval)


def check_memory(bp: Blueprint, stage: Stage, batch_size: int, available: float) -> None:
    """The devices of blueprint ``bp`` (:func:`check_device_memory`) and the batched
    evaluation of its resolved ``stage`` (:func:`check_eval_memory`) fit in ``available``
    bytes."""
    check_device_memory(bp.device, available, bp.kind)
    check_eval_memory(bp, stage, batch_size, available)


def check_eval_memory(bp: Blueprint, stage: Stage, batch_size: int, available: float) -> None:
    """Refuse, before any device is built, a stage whose devices and largest batched evaluation
    (:class:`DeviceBytes`) need more than ``available`` bytes: one line with the GiB needed and
    the largest value that fits (directions where fewer would do, else device weights)."""
    settings = bp.algorithm.settings
    n_eval, key = _evaluations(stage, settings)
    devices = device_bytes(bp, stage, batch_size)
    est = devices.estimate(n_eval)
    if est.total <= available:
        return
    where = (f"one batched evaluation of {est.layer} (batch {batch_size}) and the "
             f"devices ({est.resident / 2 ** 30:.1f} GiB)")
    most = _largest_fitting(stage, devices, settings, key, n_eval, available) if key else 0
    if most >= 1:                          # fewer directions fit: name the most that do
        raise ConfigError(
            f"algorithm.settings.{key} = {settings[key]} needs about {est.total / 2 ** 30:.1f} GiB "
            f"for {where}; {available / 2 ** 30:.1f} GiB are available; allowed here: at most "
            f"{most}")
    most = max(1, int(est.weights * available // est.total))
    raise ConfigError(
        f"the model ({est.weights:,} device weights on {bp.device.kind}) needs about "
        f"{est.total / 2 ** 30:.1f} GiB for {where}; {available / 2 ** 30:.1f} GiB are available; "
        f"allowed here: at most about {most:,} device weights (model.hidden or "
        f"model.architecture)")


def _largest_fitting(stage: Stage, devices: DeviceBytes, configured: Mapping[str, Any], key: str,
                     n_eval: int, available: float) -> int:
    """The largest ``algorithm.settings.<key>`` ≤ its configured value whose estimate on
    ``devices`` fits in ``available`` bytes (0: none does). A candidate only changes the number
    of settings evaluated per step (``n_eval`` at the configured value), so: first the most
    settings that fit, by arithmetic on ``devices``; then the largest value that evaluates no
    more than those (both by bisection: the bytes grow with the settings, the settings with the
    value)."""
    from algorithms.registry import settings_for
    n_fit = devices.most_settings(available, n_eval)
    if n_fit < 1:
        return 0
    return _largest(lambda v: _settings_per_estimate(
        stage.name, settings_for(stage.name, {**configured, key: v})) <= n_fit,
        int(configured[key]))


def _largest(fits: Callable[[int], bool], hi: int) -> int:
    """The largest ``v`` in [1, ``hi``] with ``fits(v)`` (0: none), by bisection; ``fits`` must
    hold for every value below one that fits."""
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo

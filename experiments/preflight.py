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
  ``device.block = 256``; the error gives the GiB needed and the largest block that fits.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

from .config import (AlgorithmSection, ConfigError, CostSection, DataSection, DeviceSection,
                     ModelSection)

__all__ = ["check_data", "check_network", "check_cost_bounds", "check_device_memory",
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


def check_network(algorithm: AlgorithmSection, model: ModelSection,
                  input_shape: Sequence[int]) -> None:
    """Every block of the run's network fits the data shape (the MLP widths always do)."""
    from algorithms.registry import settings_for
    if algorithm.name == "tt-zo":
        return   # its layouts are checked against the data by the tensor-train builder
    if model.architecture:
        block_shapes(model.architecture, input_shape, "model.architecture")
    settings = settings_for(algorithm.name, algorithm.settings)
    arch = getattr(settings, "architecture", None)
    if arch:
        n = math.prod(input_shape)
        side = math.isqrt(n)
        if side * side != n:
            raise ConfigError(f"algorithm.settings.architecture needs square one-channel images; "
                              f"the data set has {n} features per example; allowed: model.hidden "
                              "or model.architecture")
        block_shapes(arch, (side, side), "algorithm.settings.architecture")


def _spec_fields(spec) -> list[tuple[str, Any]]:
    return [(f.name, getattr(spec, f.name)) for f in dataclasses.fields(spec)]


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
        refs = dict(_spec_fields(ref)) if ref is not None else {}
        for name, v in _spec_fields(spec):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            base = refs.get(name)
            base = abs(base) if isinstance(base, (int, float)) and not isinstance(base, bool) else 0
            limit = base * SPEC_FACTOR if base > 0 else SPEC_ABSOLUTE
            if not math.isfinite(v) or abs(v) > limit:
                src = f"the sourced value is {base:g}" if base > 0 else "no sourced value"
                raise ConfigError(f"{where}.{name} = {v!r} is outside physical bounds ({src}); "
                                  f"allowed: at most {limit:g}")


def check_device_memory(device: DeviceSection, available: float) -> None:
    """Refuse a device whose largest dense per-block structure cannot fit in ``available``
    bytes, as its kind declares it (``DeviceKind.memory_check``; e.g. the MZI mesh's
    thermal-crosstalk heater layout)."""
    from hwsim.kinds import kind
    check = kind(device.kind).memory_check
    if check is None:
        return
    try:
        check(device.physics, available)
    except ValueError as e:
        raise ConfigError(str(e)) from None

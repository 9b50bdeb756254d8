"""Config → the objects a run trains: the stage's settings, its network, its devices (one per
slot of the algorithm's device layout, each fabricated from its own stream of the run seed) and
its trainable (built by :mod:`algorithms.registry` from the same initial knobs for every
algorithm of a seed).

Everything here reads a :class:`Blueprint`: the config sections that decide what is built
(algorithm, model, device, PDE network) and the run seed, taken once from the resolved config;
the run's output, data, cost and schedule sections never reach the builders."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from algorithms import registry
from algorithms.families.tensor_train import TTModel
from algorithms.seeds import device_seed
from hwsim import kinds
from hwsim.kinds import DeviceKind
from hwsim.presets import device_config, layer_from_config
from hwsim.trace import Trace

from .config import AlgorithmSection, Config, ConfigError, DeviceSection, ModelSection, PDESection

__all__ = ["Blueprint", "Stage", "CapabilityError", "stage", "stage_settings", "model_for",
           "build_devices", "stage_devices", "build_stage", "layer_from_physics",
           "SHARED_WITH_REFERENCES"]

#: Settings a reference stage (mf-ad, bp, …) takes from the run's algorithm: like-for-like.
SHARED_WITH_REFERENCES = ("schedule", "prediction", "projection_dim")


def layer_from_physics(physics, n_in: int, n_out: int, *, seed: int, name: str):
    """One oracle layer from a resolved device config of any registered kind."""
    try:
        return layer_from_config(physics, n_in, n_out, seed=seed, name=name)
    except ValueError as e:
        raise TypeError(str(e)) from None


@dataclass(frozen=True)
class Blueprint:
    """What a run's stages are built from: the resolved ``[algorithm]``, ``[model]``,
    ``[device]`` and ``[pde]`` sections and the run seed (devices are fabricated, and initial
    knobs drawn, from streams of it), with what the registries make of them, looked up once
    here so that no check or builder looks them up again: the configured algorithm's settings
    object (``settings``) and the device's kind (``kind``, :class:`hwsim.kinds.DeviceKind`:
    its memory formulas and checks)."""

    algorithm: AlgorithmSection
    model: ModelSection
    device: DeviceSection
    pde: PDESection
    seed: int
    settings: Any
    kind: DeviceKind

    @classmethod
    def of(cls, cfg: Config) -> "Blueprint":
        """The blueprint of a resolved config."""
        a = cfg.algorithm
        return cls(a, cfg.model, cfg.device, cfg.pde, cfg.run.seed,
                   registry.settings_for(a.name, a.settings), kinds.kind(cfg.device.kind))


@dataclass(frozen=True)
class Stage:
    """One stage of a run resolved: the algorithm's registry name, its settings object, the
    network it trains (``algorithms.model.ModelDescription`` or ``TTModel``), the shape of one
    input and the device slots of its layout (``registry.device_layout``). Resolved once by
    :func:`stage`; its devices and trainable are built from it."""

    name: str
    settings: Any
    model: Any
    input_shape: tuple
    slots: tuple


def stage_settings(algorithm: AlgorithmSection, name: str):
    """Settings of a run stage: the configured algorithm's resolved ``algorithm.settings``; a
    reference stage gets its registry defaults with ``SHARED_WITH_REFERENCES`` from the run
    (a reference of the same settings class, e.g. tt-autograd of tt-zo, takes them all)."""
    if name == algorithm.name:
        return registry.settings_for(name, algorithm.settings)
    spec, own = registry.ALGORITHMS[name], registry.ALGORITHMS[algorithm.name]
    if spec.settings_type is own.settings_type:
        return registry.settings_for(name, algorithm.settings)
    allowed = {f.name for f in dataclasses.fields(spec.settings_type)}
    shared = {k: v for k, v in algorithm.settings.items()
              if k in SHARED_WITH_REFERENCES and k in allowed}
    return registry.settings_for(name, shared)


def _square_image(n_in: int) -> tuple[int, int]:
    """(H, W) of square one-channel images of n_in pixels (digits 8×8, Fashion-MNIST 28×28)."""
    side = math.isqrt(n_in)
    if side * side != n_in:
        raise ConfigError(f"algorithm.settings.architecture needs square one-channel images; "
                          f"the data set has {n_in} features per example")
    return side, side


def model_for(bp: Blueprint, settings, input_shape):
    """The network a stage trains: a PDE task's tensor-train network (``[pde]``), the CNN of
    the settings' ``architecture``, else the run's ``model.architecture`` or ``hidden`` MLP."""
    from algorithms.model import model_from_config
    if bp.pde.problem:
        from .pde import pde_shapes
        return TTModel(tuple(pde_shapes(bp.pde)), bp.pde.activation)
    n_in = math.prod(input_shape)
    if getattr(settings, "architecture", None):
        return model_from_config(_square_image(n_in), architecture=list(settings.architecture))
    if bp.model.architecture:
        return model_from_config(tuple(input_shape), architecture=list(bp.model.architecture))
    return model_from_config((n_in,), hidden=list(bp.model.hidden))


def build_devices(physics, slots, seed: int) -> list:
    """One device per slot (``registry.device_layout``), fabricated from the slot's stream."""
    return [layer_from_physics(physics, s.n_in, s.n_out, seed=device_seed(seed, s.stream),
                               name=s.name) for s in slots]


def stage(bp: Blueprint, name: str, input_shape) -> Stage:
    """Stage ``name`` resolved once: its settings (the blueprint's for the configured
    algorithm, :func:`stage_settings` for a reference), the network it trains on inputs of
    ``input_shape`` and its device layout; its devices and trainable are built from this."""
    settings = bp.settings if name == bp.algorithm.name else stage_settings(bp.algorithm, name)
    model = model_for(bp, settings, input_shape)
    try:
        slots = registry.device_layout(name, settings, model)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return Stage(name, settings, model, tuple(input_shape), tuple(slots))


def stage_devices(bp: Blueprint, st: Stage, preset: str | None = None) -> list:
    """The devices of a resolved stage, one per slot of its layout (``preset``: on another
    device preset), each fabricated from its own stream of the run seed."""
    physics = device_config(preset) if preset else bp.device.physics
    return build_devices(physics, st.slots, bp.seed)


class CapabilityError(ConfigError):
    """The stage's algorithm, with its settings, needs a capability its devices lack."""


def build_stage(bp: Blueprint, st: Stage, n_classes: int, trace: Trace | None,
                preset: str | None = None, objective=None):
    """The registry trainable of a resolved stage on its network and devices (``preset``: the
    same network on another device preset), from the initial knobs every stage of the run
    shares."""
    name = st.name
    if registry.ALGORITHMS[name].whole_network:
        raise ConfigError(f"algorithm.name = {name!r} trains a whole-network photonic device "
                          "(one oracle for the whole mesh network), not a per-layer model; "
                          "allowed: run it with `forwardlab reproduce pai2023` or `ficonn2024`")
    devices = stage_devices(bp, st, preset)
    check = registry.ALGORITHMS[name].check_task
    if check is not None and objective is None:        # a classification task
        try:
            check(st.settings, st.model, math.prod(st.input_shape), n_classes)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    try:
        return registry.build(name, st.settings, st.model, devices, n_classes, seed=bp.seed,
                              trace=trace or Trace(), objective=objective)
    except registry.MissingCapability as e:   # a capability the device does not declare
        raise CapabilityError(f"algorithm.name = {bp.algorithm.name!r}: {e}") from None
    except ValueError as e:
        raise ConfigError(f"algorithm.name = {bp.algorithm.name!r}: {e}") from None

"""Config → device layers, initial knobs and the training objects."""
from __future__ import annotations

import math

import torch

from algorithms.baselines.twin import TwinNetwork
from algorithms.estimators.zeroth_order import DirectionalDerivative
from algorithms.mfdd import MFDDConfig, MonoForwardDD
from algorithms.seeds import derive_seed, generator
from algorithms import updates
from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.oracle import TracingOracle
from hwsim.photonic.device import MZIConfig, MZIMeshLayer
from hwsim.presets import device_config
from hwsim.trace import Trace

from .config import Config

__all__ = ["build_devices", "build_mfdd", "build_baseline", "TRAINABLE_KNOBS", "optimizer",
           "layer_from_physics", "physics_kind"]

# Knobs trained per device kind; global/tile scales are set from the initial weights and held.
TRAINABLE_KNOBS = {"mzi": ("mesh_phases", "sigma_phases"), "crossbar": ("conductances",)}


def kaiming_uniform(n_out: int, n_in: int, gen: torch.Generator) -> torch.Tensor:
    """PyTorch's default Linear init, kaiming_uniform(a=√5) = U(−1/√n_in, 1/√n_in)."""
    bound = 1.0 / math.sqrt(n_in)
    return (2 * torch.rand(n_out, n_in, generator=gen) - 1) * bound


def physics_kind(physics) -> str:
    return "mzi" if isinstance(physics, MZIConfig) else "crossbar"


def layer_from_physics(physics, n_in: int, n_out: int, *, seed: int, name: str):
    """One oracle layer from a resolved device config (MZIConfig or CrossbarConfig)."""
    if isinstance(physics, MZIConfig):
        return MZIMeshLayer(n_in, n_out, physics, seed=seed, name=name)
    if isinstance(physics, CrossbarConfig):
        return CrossbarLayer(n_in, n_out, physics, seed=seed, name=name)
    raise TypeError(f"device physics {physics!r}; allowed: MZIConfig or CrossbarConfig")


def build_devices(cfg: Config, n_in: int, preset: str | None = None,
                  shapes: list[tuple[int, int]] | None = None):
    """Device layers and their initial knobs (the init weights mapped onto each device).

    ``preset`` builds the same network on another device preset (the cross-device cost row);
    by default the run's resolved physics is used. ``shapes``: the (n_in, n_out) device
    matrices of a ``model.architecture`` (default: the ``hidden`` MLP's layers).
    """
    physics = device_config(preset) if preset else cfg.device.physics
    seed = cfg.run.seed
    sizes = [n_in, *cfg.model.hidden]
    gen = generator(seed, "init-weights")
    devices, knobs = [], []
    for i, (a, b) in enumerate(shapes if shapes is not None else zip(sizes, sizes[1:])):
        dev = layer_from_physics(physics, a, b, seed=derive_seed(seed, f"device/{i}") % (2 ** 62),
                                 name=f"layer{i}")
        devices.append(dev)
        knobs.append(dev.knobs_from_weight(kaiming_uniform(b, a, gen)))
    return devices, knobs


def optimizer(name: str, lr: float, clip: float | None) -> updates.GradientTransformation:
    base = {"adam": lambda: updates.adam(lr), "sgd": lambda: updates.sgd(lr),
            "momentum": lambda: updates.momentum(lr)}[name]()
    return updates.chain(updates.clip_by_global_norm(clip), base) if clip else base


def build_mfdd(cfg: Config, n_in: int, n_classes: int, trace: Trace, preset: str | None = None):
    devices, knobs = build_devices(cfg, n_in, preset)
    kind = physics_kind(device_config(preset) if preset else cfg.device.physics)
    a = cfg.algorithm
    oracles = [TracingOracle(d, trace) for d in devices]
    mcfg = MFDDConfig(
        knob_estimator=DirectionalDerivative(a.directions, a.num_directions, a.epsilon, a.difference),
        head_estimator=DirectionalDerivative(a.head_directions, a.head_num_directions,
                                             a.head_epsilon, a.difference),
        schedule=a.schedule, prediction=a.prediction)
    model = MonoForwardDD(oracles, knobs, [TRAINABLE_KNOBS[kind]] * len(devices), n_classes, mcfg,
                          optimizer(a.optimizer, a.lr, a.clip),
                          optimizer(a.optimizer, a.head_lr, a.clip), seed=cfg.run.seed, trace=trace)
    return model, devices


def build_baseline(cfg: Config, mode: str, n_in: int, n_classes: int) -> TwinNetwork:
    """BP or MF-AD on the ideal digital twin of the same devices and initial knobs."""
    devices, knobs = build_devices(cfg, n_in)
    kind = cfg.device.kind
    return TwinNetwork([d.digital_twin for d in devices], knobs, [TRAINABLE_KNOBS[kind]] * len(devices),
                       [d.knob_spec for d in devices], n_classes, mode=mode, lr=cfg.algorithm.baseline_lr,
                       prediction=cfg.algorithm.prediction, seed=cfg.run.seed)

"""Config → device layers, initial knobs and the training objects."""
from __future__ import annotations

import math

import torch

from algorithms.baselines.twin import TwinNetwork
from algorithms.estimators.zeroth_order import DirectionalDerivative
from algorithms.mfdd import MFDDConfig, MonoForwardDD
from algorithms.seeds import derive_seed, generator
from algorithms import updates
from hwsim.oracle import TracingOracle
from hwsim.presets import build_layer, device_kind
from hwsim.trace import Trace

from .config import RunConfig

__all__ = ["build_devices", "build_mfdd", "build_baseline", "TRAINABLE_KNOBS", "optimizer"]

# Knobs trained per device kind; global/tile scales are set from the initial weights and held.
TRAINABLE_KNOBS = {"mzi": ("mesh_phases", "sigma_phases"), "crossbar": ("conductances",)}


def kaiming_uniform(n_out: int, n_in: int, gen: torch.Generator) -> torch.Tensor:
    """PyTorch's default Linear init, kaiming_uniform(a=√5) = U(−1/√n_in, 1/√n_in)."""
    bound = 1.0 / math.sqrt(n_in)
    return (2 * torch.rand(n_out, n_in, generator=gen) - 1) * bound


def build_devices(cfg: RunConfig, n_in: int, preset: str | None = None):
    """Device layers and their initial knobs (the init weights mapped onto each device)."""
    preset = preset or cfg.device_preset
    sizes = [n_in, *cfg.hidden]
    gen = generator(cfg.seed, "init-weights")
    devices, knobs = [], []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        dev = build_layer(preset, a, b, seed=derive_seed(cfg.seed, f"device/{i}") % (2 ** 62),
                          name=f"layer{i}")
        devices.append(dev)
        knobs.append(dev.knobs_from_weight(kaiming_uniform(b, a, gen)))
    return devices, knobs


def optimizer(name: str, lr: float, clip: float | None) -> updates.GradientTransformation:
    base = {"adam": lambda: updates.adam(lr), "sgd": lambda: updates.sgd(lr),
            "momentum": lambda: updates.momentum(lr)}[name]()
    return updates.chain(updates.clip_by_global_norm(clip), base) if clip else base


def build_mfdd(cfg: RunConfig, n_in: int, n_classes: int, trace: Trace, preset: str | None = None):
    devices, knobs = build_devices(cfg, n_in, preset)
    kind = device_kind(preset or cfg.device_preset)
    oracles = [TracingOracle(d, trace) for d in devices]
    mcfg = MFDDConfig(
        knob_estimator=DirectionalDerivative(cfg.directions, cfg.num_directions, cfg.epsilon,
                                             cfg.difference),
        head_estimator=DirectionalDerivative(cfg.head_directions, cfg.head_num_directions,
                                             cfg.head_epsilon, cfg.difference),
        schedule=cfg.schedule, prediction=cfg.prediction)
    model = MonoForwardDD(oracles, knobs, [TRAINABLE_KNOBS[kind]] * len(devices), n_classes, mcfg,
                          optimizer(cfg.optimizer, cfg.lr, cfg.clip),
                          optimizer(cfg.optimizer, cfg.head_lr, cfg.clip), seed=cfg.seed, trace=trace)
    return model, devices


def build_baseline(cfg: RunConfig, mode: str, n_in: int, n_classes: int) -> TwinNetwork:
    """BP or MF-AD on the ideal digital twin of the same devices and initial knobs."""
    devices, knobs = build_devices(cfg, n_in)
    kind = device_kind(cfg.device_preset)
    return TwinNetwork([d.digital_twin for d in devices], knobs, [TRAINABLE_KNOBS[kind]] * len(devices),
                       [d.knob_spec for d in devices], n_classes, mode=mode, lr=cfg.baseline_lr,
                       prediction=cfg.prediction, seed=cfg.seed)

"""Config → device layers and their initial knobs (the training objects come from
:mod:`algorithms.registry`, see ``experiments.runner.build_stage``)."""
from __future__ import annotations

from algorithms.registry import kaiming_uniform
from algorithms.seeds import derive_seed, generator
from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.photonic.device import MZIConfig, MZIMeshLayer
from hwsim.presets import device_config

from .config import Config

__all__ = ["build_devices", "layer_from_physics"]


def layer_from_physics(physics, n_in: int, n_out: int, *, seed: int, name: str):
    """One oracle layer from a resolved device config (MZIConfig or CrossbarConfig)."""
    if isinstance(physics, MZIConfig):
        return MZIMeshLayer(n_in, n_out, physics, seed=seed, name=name)
    if isinstance(physics, CrossbarConfig):
        return CrossbarLayer(n_in, n_out, physics, seed=seed, name=name)
    raise TypeError(f"device physics {physics!r}; allowed: MZIConfig or CrossbarConfig")


def build_devices(cfg: Config, n_in: int, preset: str | None = None,
                  shapes: list[tuple[int, int]] | None = None):
    """Device layers and their initial knobs (the init weights mapped onto each device by its
    ``knobs_from_weight``, the designer's weight → knob programming).

    ``preset`` builds the same network on another device preset (the cross-device cost row);
    by default the run's resolved physics is used. ``shapes``: the (n_in, n_out) device
    matrices of a ``model.architecture`` (default: the ``hidden`` MLP's layers). The init
    weights are kaiming_uniform(a=√5) from the stream ``init-weights`` of the run seed, so every
    stage and preset of a run starts from the same weights.
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

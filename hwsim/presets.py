"""Named device presets. Every number cites its source (see ../shared reference notes:
devices.md §5.13 photonic defaults, §6 crossbar).

``build_layer(preset, n_in, n_out, seed=..., name=...)`` returns an oracle for one layer.
"""
from __future__ import annotations

from typing import Callable

from .crossbar.device import CrossbarConfig, CrossbarLayer
from .crossbar.presets import CROSSBAR_PRESETS
from .photonic.device import MZIConfig, MZIMeshLayer
from .photonic.presets import PHOTONIC_PRESETS

__all__ = ["DEVICE_PRESETS", "device_config", "build_layer", "device_kind"]


DEVICE_PRESETS: dict[str, Callable[[], MZIConfig | CrossbarConfig]] = {
    **PHOTONIC_PRESETS,          # mzi-ideal, -default, -ficonn (hwsim/photonic/presets.py)
    **CROSSBAR_PRESETS,          # crossbar-ideal, -default, -pcm, -rram (hwsim/crossbar/presets.py)
}


def device_config(preset: str) -> MZIConfig | CrossbarConfig:
    try:
        return DEVICE_PRESETS[preset]()
    except KeyError:
        raise ValueError(f"unknown device preset {preset!r}; allowed: {sorted(DEVICE_PRESETS)}") from None


def device_kind(preset: str) -> str:
    return "mzi" if isinstance(device_config(preset), MZIConfig) else "crossbar"


def build_layer(preset: str, n_in: int, n_out: int, *, seed: int = 0, name: str = "layer"):
    """One oracle layer from a named preset."""
    cfg = device_config(preset)
    if isinstance(cfg, MZIConfig):
        return MZIMeshLayer(n_in, n_out, cfg, seed=seed, name=name)
    return CrossbarLayer(n_in, n_out, cfg, seed=seed, name=name)

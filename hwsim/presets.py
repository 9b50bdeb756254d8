"""Named device presets of every registered kind (:mod:`hwsim.kinds`); every number cites its
source in its kind's ``presets`` module (devices.md §5.13 photonic defaults, §6 crossbar).

``build_layer(preset, n_in, n_out, seed=..., name=...)`` returns an oracle for one layer.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from .kinds import all_presets, kind_of_config, kind_of_preset

__all__ = ["DEVICE_PRESETS", "device_config", "build_layer", "device_kind", "layer_from_config"]


class _Presets(Mapping):
    """Every preset of every kind by name (kinds register on first use)."""

    def __getitem__(self, name: str) -> Callable[[], Any]:
        return all_presets()[name]

    def __iter__(self):
        return iter(all_presets())

    def __len__(self) -> int:
        return len(all_presets())


DEVICE_PRESETS: Mapping[str, Callable[[], Any]] = _Presets()


def device_config(preset: str):
    """A fresh config of preset ``preset``; one-line ValueError naming the presets."""
    return kind_of_preset(preset).presets[preset]()


def device_kind(preset: str) -> str:
    """The kind (``hwsim.kinds``) that declares ``preset``; ValueError for an unknown preset."""
    return kind_of_preset(preset).name


def layer_from_config(config, n_in: int, n_out: int, *, seed: int = 0, name: str = "layer"):
    """One oracle layer from a resolved device config of any registered kind."""
    return kind_of_config(config).build(n_in, n_out, config, seed=seed, name=name)


def build_layer(preset: str, n_in: int, n_out: int, *, seed: int = 0, name: str = "layer"):
    """One oracle layer from a named preset."""
    return layer_from_config(device_config(preset), n_in, n_out, seed=seed, name=name)

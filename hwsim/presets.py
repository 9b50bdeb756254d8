"""Named device presets. Every number cites its source (see ../shared reference notes:
devices.md §5.13 photonic defaults, §6 crossbar).

``build_layer(preset, n_in, n_out, seed=..., name=...)`` returns an oracle for one layer.
"""
from __future__ import annotations

from typing import Callable

from .crossbar.device import CrossbarConfig, CrossbarLayer
from .effects.noise import ProgrammingNoise, ReadNoise
from .effects.quantize import ConductanceLevels, InputDAC, OutputADC
from .photonic.device import MZIConfig, MZIMeshLayer
from .photonic.presets import PHOTONIC_PRESETS

__all__ = ["DEVICE_PRESETS", "device_config", "build_layer", "device_kind"]


def _crossbar_default() -> CrossbarConfig:
    # g_max = 25 µS, g_min = 0: AIHWKIT ``inference/noise/pcm.py``; tile 512: AIHWKIT
    # ``StandardHWATrainingPreset`` (Rasch et al., Nat. Commun. 14, 5282 (2023), arXiv:2302.08469).
    return CrossbarConfig(g_min_us=0.0, g_max_us=25.0, tile_rows=512, tile_cols=512, effects=(
        # 256 levels: trainable analog devices offer ~500–1200 states (AIHWKIT EcRAM / GokmenVlasov
        # presets), 2048 demonstrated (Rao et al., Nature 615, 823 (2023)); 8 bits is conservative.
        ConductanceLevels(bits=8),
        # σ_prog = 3.8 % of g_max at ĝ = 0.5 (Nandakumar et al., ICECS 2019 fit in AIHWKIT pcm.py; derived).
        ProgrammingNoise(sigma_rel=0.038),
        ReadNoise(sigma=0.0175),          # w_noise 0.0175 PCM_READ: StandardHWATrainingPreset
        InputDAC(bits=8),                 # DAC 8 bit: StandardHWATrainingPreset
        OutputADC(bits=8, full_scale=10.0),  # ADC 8 bit, out_bound 10: StandardHWATrainingPreset
    ))


DEVICE_PRESETS: dict[str, Callable[[], MZIConfig | CrossbarConfig]] = {
    **PHOTONIC_PRESETS,
    "crossbar-ideal": lambda: CrossbarConfig(effects=()),
    "crossbar-default": _crossbar_default,
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

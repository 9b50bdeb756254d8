"""Named device presets. Every number cites its source (see ../shared reference notes:
devices.md §5.13 photonic defaults, §6 crossbar).

``build_layer(preset, n_in, n_out, seed=..., name=...)`` returns an oracle for one layer.
"""
from __future__ import annotations

from typing import Callable

from .crossbar.device import CrossbarConfig, CrossbarLayer
from .crossbar.presets import CROSSBAR_PRESETS
from .effects.loss import InsertionLoss
from .effects.noise import DetectorNoise, PhaseBias, PhaseNoise, ProgrammingNoise, ReadNoise
from .effects.quantize import ConductanceLevels, InputDAC, OutputADC, PhaseDAC
from .photonic.device import MZIConfig, MZIMeshLayer

__all__ = ["DEVICE_PRESETS", "device_config", "build_layer", "device_kind"]

# MZI block size k = 8: torchonn defaults to 4 (``torchonn/layers/utils.py``), L2ight uses 9
# (``config/mnist/cnn3/default.yml`` block_list [9,9,9]); 8 tiles the 8×8-pixel digits exactly.
MZI_BLOCK = 8
# ADC range for the normalised block output: |y| ≤ ‖x‖₂ ≤ √k for inputs in [-1, 1] and |σ| ≤ 1.
MZI_ADC_FULL_SCALE = 2.0


def _mzi_default() -> MZIConfig:
    return MZIConfig(block=MZI_BLOCK, effects=(
        PhaseDAC(bits=8),                 # 8-bit phases: L2ight ``quantize.weight_bit: 8`` (arXiv:2110.14807)
        PhaseBias(half_width=1.0),        # b_i ~ U(-1, 1) rad: L2ight ``assign_random_phase_bias``
        PhaseNoise(sigma=0.002),          # σ_φ = 0.002 rad: devices.md §5.13 (Fang et al. 2019 sweep 0–0.02)
        InsertionLoss(db_per_mzi=0.1),    # 0.1 dB/MZI: FICONN < 0.1 dB per component (arXiv:2208.01623v1)
        InputDAC(bits=8),                 # 8-bit input DAC: SimPhony ``dac.yml``; devices.md §5.13
        OutputADC(bits=8, full_scale=MZI_ADC_FULL_SCALE),  # 8-bit ADC: SimPhony ``adc.yml``; LT ``ADC.py``
        # Detector noise 0.3 % of full scale: shot σ ≈ 2.5 µA and thermal σ ≈ 1.4 µA at 1 mA
        # photocurrent, R = 1 A/W, B = 20 GHz (photontorch ``photodetector.py``; devices.md §5.10, derived).
        DetectorNoise(sigma=0.003 * MZI_ADC_FULL_SCALE),
    ))


DEVICE_PRESETS: dict[str, Callable[[], MZIConfig | CrossbarConfig]] = {
    "mzi-ideal": lambda: MZIConfig(block=MZI_BLOCK, effects=()),
    "mzi-default": _mzi_default,
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

"""Photonic device presets; every number cites its source (devices.md §5.13 defaults,
cost.md §4.4b for FICONN).

``PHOTONIC_PRESETS`` maps a name to a config factory; :func:`preset_values` lists a preset as a
TOML-able dict ``{"block": .., "mesh": .., "<effect_snake_name>": {field: value}}``.
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Callable

from ..effects.beamsplitter import BeamsplitterImbalance
from ..effects.crosstalk import ThermalCrosstalk
from ..effects.detection import Detection
from ..effects.phase_drift import PhaseDrift
from ..effects.loss import InsertionLoss
from ..effects.noise import PhaseBias, PhaseNoise
from ..effects.phase_shifter import GammaSpread, ThermoOpticDAC
from ..effects.quantize import InputDAC, OutputADC
from .device import MZIConfig

__all__ = ["MZI_BLOCK", "adc_full_scale", "PHOTONIC_PRESETS", "preset_values"]

# MZI block size k = 8: torchonn defaults to 4 (``torchonn/layers/utils.py``), L2ight uses 9
# (``config/mnist/cnn3/default.yml`` block_list [9,9,9]); 8 tiles the 8×8-pixel digits exactly.
MZI_BLOCK = 8
# FICONN: N = 6 modes per layer (Bandyopadhyay et al., arXiv:2208.01623v1 Table I; cost.md §4.4b).
FICONN_MODES = 6
# V_2π = √2·V_π for φ = γV², γ = π/V_π² (V_π = 4.36 V, torchonn ``mzi_linear.py``): derived.
V_2PI = math.sqrt(2.0) * 4.36


def adc_full_scale(k: int) -> float:
    """ADC range of a normalised k-mode block output: |y_i| = |Σ_j W_ij x_j| ≤ ‖W_i‖₂ ‖x‖₂ ≤
    σ_max √k for |x_j| ≤ 1 and σ_max = 1 (Cauchy–Schwarz), reached when x is aligned with a row
    of W; so the full scale √k never clips (2.0 clipped 8×8 blocks)."""
    return math.sqrt(k)


def _mzi_default() -> MZIConfig:
    k = MZI_BLOCK
    return MZIConfig(block=k, effects=(
        # Thermo-optic heaters, 8-bit voltage DAC: V_π = 4.36 V (torchonn ``mzi_linear.py``
        # default_cfgs); 8 bits: L2ight ``quantize.weight_bit: 8`` (arXiv:2110.14807). Range: the
        # DAC spans [0, V_2π] with V_2π = √2·V_π = 6.166 V (derived), the largest voltage a
        # periodic phase needs, so all 256 codes are used. torchonn's V_max = 10.8 V would leave
        # 110 codes beyond 2π unused (146 of 256 used, ≈ 7.2 effective bits, 1.75× the step).
        ThermoOpticDAC(bits=8, v_pi_v=4.36, v_max_v=V_2PI),
        GammaSpread(sigma_rad_per_v2=0.002, v_pi_v=4.36),   # σ_γ: L2ight learn.yml (devices.md §5.3)
        ThermalCrosstalk(coupling=0.005),  # c = 0.005: L2ight configs (devices.md §5.5)
        PhaseBias(half_width_rad=1.0),     # b_i ~ U(-1, 1) rad: L2ight ``assign_random_phase_bias``
        BeamsplitterImbalance(sigma_rad=0.01),  # σ_BS = 0.01 rad, mid of Fang 2019 sweep 0–0.02
        InsertionLoss(db_per_mzi=0.1),     # 0.1 dB/MZI: FICONN < 0.1 dB per component (arXiv:2208.01623v1)
        PhaseNoise(sigma_rad=0.002),       # σ_φ = 0.002 rad: devices.md §5.13 (Fang et al. 2019 sweep 0–0.02)
        PhaseDrift(sigma_rad_per_sqrt_s=0.002),   # 0.02 rad after 100 s: DOCTOR μ = 0.02 rad (derived)
        InputDAC(bits=8),                  # 8-bit input DAC: SimPhony ``dac.yml``; devices.md §5.13
        # Balanced homodyne, 10 mW laser, half to the LOs; R = 1 A/W, B = 20 GHz, T = 300 K,
        # R_L = 166 Ω, I_dark = 0.1 nA: photontorch ``photodetector.py`` (devices.md §5.10).
        # The laser is sized to the array: the 10 mW that fed the 128 input modulators of the
        # digits network's 32→32 layer = 78.125 µW per modulator (derived), so every digits
        # layer gets at least the power it had and a 784×128 layer gets 0.98 W (Lightmatter
        # 2025 budgets 1.6 W of laser, cost.md) instead of 0.8 µW per modulator.
        Detection(mode="homodyne", laser_power_w=0.01, lo_fraction=0.5,
                  modulator_power_w=0.01 / 128),
        OutputADC(bits=8, full_scale=adc_full_scale(k)),   # 8-bit ADC: SimPhony ``adc.yml``; LT ``ADC.py``
    ))


def _mzi_ficonn() -> MZIConfig:
    """FICONN-like core (Bandyopadhyay et al., arXiv:2208.01623v1; published Nat. Photon. 2024)."""
    k = FICONN_MODES
    return MZIConfig(block=k, mesh="clements", effects=(
        # 16-bit phase control (arXiv:2208.01623v1; devices.md §5.2); thermo-optic heaters with
        # the torchonn V_π (the paper's drive voltages are not in the reference notes), range
        # [0, V_2π] as mzi-default so every code is a distinct phase.
        ThermoOpticDAC(bits=16, v_pi_v=4.36, v_max_v=V_2PI),
        GammaSpread(sigma_rad_per_v2=0.002, v_pi_v=4.36),   # devices.md §5.3 default
        ThermalCrosstalk(coupling=0.005),  # devices.md §5.5 (FICONN calibrates crosstalk away)
        BeamsplitterImbalance(sigma_rad=0.01),   # devices.md §5.6 mid-range (assumed)
        InsertionLoss(db_per_mzi=0.1),     # < 0.1 dB per component (arXiv:2208.01623v1)
        PhaseNoise(sigma_rad=0.002),       # devices.md §5.13
        InputDAC(bits=13),                 # "more than 13 bits" input precision (arXiv:2208.01623v1)
        # Direct (intensity) detection as in FICONN; 1 mW laser (assumed; cost.md §4.4b gives no
        # optical power), photodetector constants from photontorch (devices.md §5.10).
        Detection(mode="intensity", laser_power_w=1e-3, lo_fraction=0.0),
        OutputADC(bits=8, full_scale=float(k)),   # |ŷ|² ≤ k for |x_j| ≤ 1; 8 bit (devices.md §5.11)
    ))


def _mzi_l2ight() -> MZIConfig:
    """The noise model of the L2ight / FLOPS / MixedTrain on-chip training experiments (Gu et al.,
    arXiv:2110.14807; ``JeremieMelo/L2ight`` ``config/mnist/cnn3/default.yml`` and
    ``config/mnist/cnn3/flops/learn.yml``), and nothing else: no detector, ADC, input DAC, loss
    or beamsplitter error (their configs leave ``input_bit`` at 32 and model none of those)."""
    return MZIConfig(block=MZI_BLOCK, effects=(   # 8×8 blocks (L2ight uses 9: see MZI_BLOCK)
        # ``quantize``: weight_bit 8 (flops/learn.yml), v_pi 4.36, v_max 10.8 (default.yml). The
        # DAC spans [0, 10.8 V] as in L2ight, so only the codes below V_2π = 6.17 V (146 of 256)
        # give distinct phases: one code is 10.8/255 V, ≈ 1.75× mzi-default's step.
        ThermoOpticDAC(bits=8, v_pi_v=4.36, v_max_v=10.8),
        GammaSpread(sigma_rad_per_v2=0.002, v_pi_v=4.36),   # noise.gamma_noise_std 0.002 (learn.yml)
        ThermalCrosstalk(coupling=0.005),                    # noise.crosstalk_factor 0.005 (learn.yml)
        PhaseBias(half_width_rad=1.0),   # noise.phase_bias 1: U(-1, 1) rad (``assign_random_phase_bias``)
    ))


PHOTONIC_PRESETS: dict[str, Callable[[], MZIConfig]] = {
    "mzi-ideal": lambda: MZIConfig(block=MZI_BLOCK, effects=()),
    "mzi-default": _mzi_default,
    "mzi-l2ight": _mzi_l2ight,
    "mzi-ficonn": _mzi_ficonn,
}


def _snake(name: str) -> str:
    """ThermoOpticDAC → thermo_optic_dac, InputDAC → input_dac."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def preset_values(config: MZIConfig) -> dict:
    """TOML-able dict of a config: block, mesh, and one table per effect (``snake_name: fields``).
    Fields set to None (e.g. InputDAC.full_scale = noise management) are left out: TOML has no
    null, and an absent key means the field's default."""
    out: dict = {"block": config.block, "mesh": config.mesh}
    for e in config.effects:
        out[_snake(type(e).__name__)] = {f.name: getattr(e, f.name) for f in dataclasses.fields(e)
                                         if getattr(e, f.name) is not None}
    return out

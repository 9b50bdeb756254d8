"""Microring weight-bank presets; every number cites its source.

mrr-ideal    a lossless, critically coupled ring line (T_min → 0, D_max = 1) and no effects: the
             layer is the digital product (the oracle contract's ideal limit).
mrr-default  the DEAP-CNNs ring (Bangari et al., IEEE JSTQE 26(1) 2020, doi:10.1109/JSTQE.2019.2945540:
             self-coupling r = 0.99 for both couplers, round-trip amplitude a = 0.99, 5 µm radius;
             values as extracted in ``ivancanull/optical-loop``
             ``examples/deap_cnns/device_parameters_deap_cnns.csv``, a secondary source) on a
             200 GHz WDM grid, with heater DAC, thermal crosstalk, resonance spread, inter-channel
             crosstalk, input DAC, balanced detection and ADC.
"""
from __future__ import annotations

from typing import Callable

from ..effects.crosstalk import ThermalCrosstalk
from ..effects.detection import Detection
from ..effects.phase_shifter import ThermoOpticDAC
from ..effects.quantize import InputDAC, OutputADC
from .device import MRRConfig
from .effects import InterChannelCrosstalk, ResonanceSpread
from .ring import ring_from_coupling

__all__ = ["MRR_PRESETS", "DEAP_RING", "MRR_CHANNELS", "MRR_BANK_ROWS"]

# The DEAP-CNNs ring: r₁ = r₂ = 0.99, a = 0.99, radius 5 µm (Bangari et al. 2020, via the
# optical-loop CSV above); group index 2.35316094 and λ₀ from torchonn ``devices/mrr.py``
# (MRRConfig_5um_HQ, also a 5 µm ring). Derived (hwsim.microring.ring closed forms, Bogaerts et
# al. 2012): FSR 32.5 nm, FWHM 0.312 nm (Q ≈ 4970), through floor 0.111 (ER 9.5 dB), drop peak
# 0.444 — Q ~ 10⁴ and FSR 10–30 nm as devices.md §9 expects.
DEAP_RING = ring_from_coupling(r1=0.99, r2=0.99, a=0.99, radius_um=5.0, group_index=2.35316094,
                               wavelength_nm=1550.0)
# 8 channels per bank and 8 banks per tile: the tiles of the MZI preset (k = 8), which tile the
# 8×8-pixel digits exactly; DEAP-CNNs allows up to 100 wavelengths per bus (max_wavelengths).
MRR_CHANNELS = 8
MRR_BANK_ROWS = 8
# 200 GHz ≈ 1.6 nm at 1550 nm: ITU-T G.694.1 DWDM grid (multiples of 100 GHz); 5.1 linewidths of
# the DEAP ring, "channel spacing a few linewidths" (Tait et al., JSTQE 22(6) 2016; devices.md §9);
# 8 × 1.6 = 12.8 nm fits one FSR.
GRID_200GHZ_NM = 1.6


def _er_db(through_min: float) -> float:
    import math
    return -10.0 * math.log10(through_min)


def mrr_ideal() -> MRRConfig:
    # The same geometry and grid as mrr-default with a lossless critically coupled line:
    # T_min = 10^(−100/10) (the largest ER allowed) and D_max = 1, so w ∈ (−1, 1].
    return MRRConfig(channels=MRR_CHANNELS, bank_rows=MRR_BANK_ROWS, wavelength_nm=1550.0,
                     q_loaded=1550.0 / DEAP_RING.fwhm_nm, fsr_nm=DEAP_RING.fsr_nm,
                     extinction_ratio_db=100.0, drop_peak=1.0,
                     channel_spacing_nm=GRID_200GHZ_NM, cold_detuning_nm=1.0, effects=())


def mrr_default() -> MRRConfig:
    k, n = MRR_BANK_ROWS, MRR_CHANNELS
    line = DEAP_RING
    return MRRConfig(
        channels=n, bank_rows=k, wavelength_nm=1550.0,
        q_loaded=1550.0 / line.fwhm_nm,            # Q ≈ 4970 (derived, DEAP ring)
        fsr_nm=line.fsr_nm,                        # 32.5 nm (derived)
        extinction_ratio_db=_er_db(line.through_min),   # 9.54 dB (derived)
        drop_peak=line.drop_peak,                  # 0.444 (derived)
        channel_spacing_nm=GRID_200GHZ_NM,
        # δ₀ = half a channel spacing (0.8 nm, the weight branch) + 0.2 nm (40 σ of the residual
        # resonance spread below): a cold ring never needs cooling (toolkit design choice).
        cold_detuning_nm=1.0,
        effects=(
            # Heater driver: 12-bit voltage DAC with the mesh's heater law φ = γV² (V_π = 4.36 V,
            # V_max = 10.8 V: torchonn ``mzi_linear.py`` default_cfgs; for a ring, π of round-trip
            # phase = FSR/2). 12 bits give ≈ 0.015 linewidth steps at the operating point, about
            # the 7-bit weight precision of DEAP-CNNs (``mrr_precision_bits`` 7) (derived).
            ThermoOpticDAC(bits=12, v_pi_v=4.36, v_max_v=10.8),
            # c = 0.005 between adjacent heaters: the L2ight heater coupling of the mesh
            # (devices.md §5.5); no ring-specific value is given in the cited MRR sources (assumed).
            ThermalCrosstalk(coupling=0.005),
            # Residual resonance spread after the bring-up wavelength calibration of each ring:
            # the raw spread, 0.1–1 nm (devices.md §9), is taken out by that calibration (not
            # modelled here), which cannot do better than about one heater-DAC step at the
            # operating point, ≈ 5 pm (derived from the DAC above): σ = 0.005 nm (assumed).
            ResonanceSpread(sigma_nm=0.005),
            # Tails of the two nearest rings on each side: at 1.6 nm spacing the third ring's
            # tail is below 0.2 % (derived, L at ≥ 3.2 nm − δ₀).
            InterChannelCrosstalk(neighbours=2),
            InputDAC(bits=8),                      # 8-bit input DAC: SimPhony ``dac.yml`` (as the mesh)
            # Direct photodiodes (two per output, balanced): R = 1 A/W, B = 20 GHz, T = 300 K,
            # R_L = 166 Ω, I_dark = 0.1 nA, photontorch ``photodetector.py`` (devices.md §5.10).
            # 1 mW per wavelength: DEAP-CNNs laser 100 mW over its 100 wavelengths (derived).
            Detection(mode="intensity", laser_power_w=0.1, lo_fraction=0.0, modulator_power_w=1e-3),
            # 8-bit ADC (SimPhony ``adc.yml``), range n·w_lim: |Σ_j w_j x_j| ≤ n·w_lim for
            # x ∈ [0, 1] and |w| ≤ w_lim, so it never clips (derived).
            OutputADC(bits=8, full_scale=n * (line.span - 1.0)),   # w_lim = w_hi = A − 1 here
        ))


MRR_PRESETS: dict[str, Callable[[], MRRConfig]] = {
    "mrr-ideal": mrr_ideal,
    "mrr-default": mrr_default,
}

"""Named crossbar presets; every number cites its source (devices.md §6 gives the references).

crossbar-ideal    no effects: the digital product (oracle contract's ideal limit).
crossbar-default  the quick PCM-like inference array used by the examples: levels, Nandakumar
                  programming noise, PCM_READ read noise, 8-bit converters; no time effects.
crossbar-pcm      AIHWKIT ``StandardHWATrainingPreset`` with its ``PCMLikeNoiseModel``
                  (Rasch et al., Nat. Commun. 14, 5282 (2023), arXiv:2302.08469;
                  ``src/aihwkit/simulator/presets/inference.py``, ``inference/noise/pcm.py``).
crossbar-rram     a HfO₂ RRAM inference array (programming-noise fit of Milo et al., stuck
                  cells, multilevel endurance). Without fault-aware mapping the stuck-at-SET
                  cells dominate: each is a full-scale weight error (a 784→64 Gaussian layer
                  reads with ~1.6 relative RMS output error; ~0.16 without stuck cells).
"""
from __future__ import annotations

from typing import Callable

from ..effects.drift import Drift, OneOverFNoise
from ..effects.ir_drop import IRDrop
from ..effects.measured import MeasuredPulseResponse
from ..effects.noise import ProgrammingNoise, ReadNoise
from ..effects.output_noise import OutputNoise
from ..effects.quantize import ConductanceLevels, InputDAC, OutputADC
from ..effects.stuck import Endurance, StuckCells
from .device import CrossbarConfig

__all__ = ["CROSSBAR_PRESETS", "crossbar_from_measured"]


def crossbar_default() -> CrossbarConfig:
    # g_max = 25 µS, g_min = 0: AIHWKIT ``inference/noise/pcm.py``; tile 512: AIHWKIT
    # ``StandardHWATrainingPreset`` (max_input_size 512, arXiv:2302.08469).
    return CrossbarConfig(g_min_us=0.0, g_max_us=25.0, tile_rows=512, tile_cols=512, effects=(
        # 256 levels: trainable analog devices offer ~500–1200 states (AIHWKIT EcRAM / GokmenVlasov
        # presets), 2048 demonstrated (Rao et al., Nature 615, 823 (2023)); 8 bits is conservative.
        ConductanceLevels(bits=8),
        # Nandakumar et al., ICECS 2019 polynomial at each cell's ĝ (AIHWKIT pcm.py prog coefficients).
        ProgrammingNoise(c0_us=0.26348, c1_us=1.9650, c2_us=-1.1731, g_ref_us=25.0),
        ReadNoise(sigma=0.0175, model="pcm_read"),   # w_noise 0.0175, PCM_READ: StandardHWATrainingPreset
        InputDAC(bits=8),                 # inp_res 254 = 2^8 − 2: StandardHWATrainingPreset (abs-max per tile here)
        OutputADC(bits=8, full_scale=10.0),  # out_res 254 (8 bit), out_bound 10: StandardHWATrainingPreset
    ))


def crossbar_pcm() -> CrossbarConfig:
    """AIHWKIT StandardHWATrainingPreset + PCMLikeNoiseModel + GlobalDriftCompensation."""
    return CrossbarConfig(
        g_min_us=0.0, g_max_us=25.0,          # PCMLikeNoiseModel g_max = 25 µS, g_min 0 (pcm.py)
        tile_rows=512,                        # MappingParameter.max_input_size = 512
        tile_cols=8192,                       # max_output_size = 0 (no column split); 8192 is the cap here
        scale_per_column=True,                # weight_scaling_columnwise / out_scaling_columnwise = True
        # Default read time 0 s after programming = AIHWKIT's ``drift_analog_weights(t_inference=0.0)``
        # default: with the t_0 = 20 s origin the cells carry 1/f noise (3.7 % of g at ĝ = 1) and
        # no drift yet (factor 1); pass time_s (e.g. 3600 s: ×≈0.77 at ν = 0.05) for later reads.
        read_time_s=0.0,
        effects=(
            ProgrammingNoise(c0_us=0.26348, c1_us=1.9650, c2_us=-1.1731, g_ref_us=25.0),  # pcm.py prog_coeff
            # ir_drop 1.0 at AIHWKIT's ratio: ``ir_drop_g_ratio`` = 1/(0.35 Ω · 5 µS) (IOParameters,
            # ``simulator/parameters/io.py``), i.e. r·g_max = 1.75e-6, so 0.07 Ω per segment at
            # this preset's 25 µS (devices.md §10). r·g·N² = 0.46 on 512 rows is outside the
            # first-order form's validity (≪ 1): the exact column (ladder) solve is used.
            IRDrop(level="nodal", r_col_ohm=0.35 * 5.0 / 25.0, r_row_ohm=0.0),
            Drift(law="pcm", t0_s=20.0, compensation="global"),   # pcm.py drift law, t_0 = 20 s; GlobalDriftCompensation
            # pcm.py read noise, t_read 250 ns, time origin t_inference + t_0 (t_0 = 20 s)
            OneOverFNoise(q_s=0.0088, q_s_max=0.2, g_exponent=0.65, t_read_s=250e-9, t0_s=20.0),
            InputDAC(bits=8, full_scale=3.0),  # inp_res 254; NoiseManagementType.CONSTANT, input_range init_value 3.0
            ReadNoise(sigma=0.0175, model="pcm_read"),  # w_noise 0.0175, WeightNoiseType.PCM_READ
            OutputNoise(sigma=0.04),           # out_noise 0.04
            OutputADC(bits=8, full_scale=10.0),  # out_res 254 (8 bit), out_bound 10.0
        ))


def crossbar_rram() -> CrossbarConfig:
    # 50–225 µS: range of the Milo et al. (IRPS 2021) programming-noise fit (cross-sim ``RRAMMilo``).
    # Tiles 256 × 256: NeuRRAM / HERMES tile size (devices.md §6.9).
    return CrossbarConfig(g_min_us=50.0, g_max_us=225.0, tile_rows=256, tile_cols=256, effects=(
        StuckCells(p_set=0.0904, p_reset=0.0175),   # SA1 9.04 %, SA0 1.75 %: Chen et al., IEEE TC 64(1) 2015 (unverified)
        # Median 1e6 writes: multilevel HfOx (Lee et al., Nat. Mater. 10, 625 (2011)). Spread: cells of
        # an HfO₂ array fail permanently at different cycle counts (cell-to-cell variation of
        # permanent write failures, Grossi et al., IEEE TED 66(3), 1281 (2019)); the log-normal
        # width σ_ln = 1.0 (a factor e per σ; 5 % of cells gone by 1.9e5 writes) is an assumption
        # sized to that array-level spread, not a fitted value (devices.md §6.6 gives the form).
        Endurance(cycles_median=1e6, cycles_log_std=1.0),
        ConductanceLevels(bits=4),          # 16 levels: inference cells L = 2–16 (devices.md §6.2)
        # σ_G = −0.009107 G + 4.782321 µS (Milo et al., IRPS 2021): in ĝ = G/225 µS, c1 = −0.009107·225.
        ProgrammingNoise(c0_us=4.782321, c1_us=-0.009107 * 225.0, c2_us=0.0, g_ref_us=225.0),
        InputDAC(bits=8),                   # 8-bit DAC as crossbar-default (StandardHWATrainingPreset)
        ReadNoise(sigma=0.01, model="additive_constant"),  # ReRAM w_noise ≈ 0.01 (devices.md §6.4); AIHWKIT default type
        OutputADC(bits=8, full_scale=10.0),  # as crossbar-default (StandardHWATrainingPreset)
    ))


def crossbar_from_measured(table: str, *effects) -> CrossbarConfig:
    """A crossbar built from a measured conductance-vs-pulse table (hwsim.effects.measured): its
    conductance range is the curve's, its pulses follow the curve with the table's spreads; any
    further ``effects`` (read noise, converters, ...) are added as given."""
    pulse = MeasuredPulseResponse(table=table)
    lo, hi = pulse.g_range_us
    return CrossbarConfig(g_min_us=lo, g_max_us=hi, effects=(pulse, *effects))


CROSSBAR_PRESETS: dict[str, Callable[[], CrossbarConfig]] = {
    "crossbar-ideal": lambda: CrossbarConfig(effects=()),
    "crossbar-default": crossbar_default,
    "crossbar-pcm": crossbar_pcm,
    "crossbar-rram": crossbar_rram,
}

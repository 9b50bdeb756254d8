"""Cost specifications: energies, times and powers per action, with units in field names.

Every value comes from ``shared/reference/cost.md`` (section numbers below) and cites its
original source next to it. Three levels are shipped because the literature spreads by up to
10x (cost.md §5.2): ``"low"`` = optimistic (cheap), ``"nominal"`` = toolkit default,
``"high"`` = pessimistic (expensive). For the few fields where a larger number is cheaper
(``HIGHER_IS_CHEAPER``, e.g. laser wall-plug efficiency) the low level holds the larger value.

Bit scaling (cost.md §2.2, "pick one and document it"): converter energies are stated at
``*_ref_bits`` and scaled to the layer's bits as

* ADC: SAR law, E(b) = e_adc_pj * b / adc_ref_bits (LT ``hardware/ADC.py``);
* DAC (inputs and phase-knob writes): E(b) = e_dac_pj * (2^b / b) / (2^ref / ref) (LT ``DAC.py``).

Unit constants: ``FJ``, ``PJ``, ``NJ`` (J) and ``NS``, ``US`` (s), ``MW`` (W).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Iterator, Mapping

__all__ = [
    "FJ", "PJ", "NJ", "NS", "US", "MW", "LEVELS", "HIGHER_IS_CHEAPER",
    "PhotonicCostSpec", "CrossbarCostSpec", "GpuSpec",
    "photonic_spec", "crossbar_spec", "gpu_preset", "GPU_PRESETS",
    "dbm_to_mw", "adc_energy_pj", "dac_energy_pj", "WEIGHT_MODES_PHOTONIC", "INPUT_MODES", "RECEIVER_MODELS",
    "spec_from_mapping", "load_spec_file",
]

# Unit conversions (pitfall cost.md §5.1: a "10e-9" typo inflates latency 10x; tests pin these).
FJ = 1e-15  # J per fJ
PJ = 1e-12  # J per pJ
NJ = 1e-9   # J per nJ
NS = 1e-9   # s per ns
US = 1e-6   # s per µs
MW = 1e-3   # W per mW

LEVELS = ("low", "nominal", "high")
# Fields where a larger value means lower cost; their "low" level holds the largest value.
HIGHER_IS_CHEAPER = frozenset({"laser_wpe", "f_mod_ghz", "f_digital_gflops", "endurance_cycles"})
WEIGHT_MODES_PHOTONIC = ("held", "redriven")
INPUT_MODES = ("bit_serial", "pwm", "pulse_train")
RECEIVER_MODELS = ("thermal", "shot")


def dbm_to_mw(p_dbm: float) -> float:
    """Optical power in dBm -> mW (dBm = 10·log10(P / 1 mW))."""
    return 10.0 ** (p_dbm / 10.0)


def adc_energy_pj(e_ref_pj: float, bits: int, ref_bits: int) -> float:
    """ADC energy per conversion at ``bits`` (pJ), SAR law P ∝ b·f (LT ``ADC.py``)."""
    return e_ref_pj * bits / ref_bits


def dac_energy_pj(e_ref_pj: float, bits: int, ref_bits: int) -> float:
    """DAC energy per sample at ``bits`` (pJ), P ∝ 2^b/b·f (LT ``DAC.py``)."""
    return e_ref_pj * (2.0 ** bits / bits) / (2.0 ** ref_bits / ref_bits)


# --------------------------------------------------------------------------- validation
# Constraint kinds: "pos" (> 0), "nonneg" (>= 0), "frac" (0 < x <= 1), "unit" (0 <= x <= 1),
# "finite" (any finite number), "int" (integer >= 1).
_ALLOWED = {
    "pos": "a finite number > 0",
    "nonneg": "a finite number >= 0",
    "frac": "a number in (0, 1]",
    "unit": "a number in [0, 1]",
    "finite": "a finite number",
    "int": "an integer >= 1",
    "bool": "true or false",
}


def _ok(kind: str, v: object) -> bool:
    if kind == "bool":
        return isinstance(v, bool)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    if kind == "int":
        return isinstance(v, int) and v >= 1
    if not math.isfinite(v):
        return False
    return {"pos": v > 0, "nonneg": v >= 0, "frac": 0 < v <= 1, "unit": 0 <= v <= 1,
            "finite": True}[kind]


def validate_spec(obj: object, kinds: Mapping[str, object]) -> None:
    owner = type(obj).__name__
    for f in fields(obj):
        kind = kinds.get(f.name, "pos")
        if kind == "str":
            continue
        if isinstance(kind, tuple):   # a string from an allowed set
            v = getattr(obj, f.name)
            if v not in kind:
                raise ValueError(f"{owner}.{f.name} = {v!r} is invalid; allowed: "
                                 f"{', '.join(kind)}")
            continue
        v = getattr(obj, f.name)
        if not _ok(kind, v):
            raise ValueError(f"{owner}.{f.name} = {v!r} is invalid; allowed: {_ALLOWED[kind]}")


def _level(level: str) -> int:
    if level not in LEVELS:
        raise ValueError(f"level = {level!r} is invalid; allowed: {', '.join(LEVELS)}")
    return LEVELS.index(level)


class SpecMixin:
    def items(self) -> Iterator[tuple[str, float]]:
        """(field name, value) pairs."""
        for f in fields(self):  # type: ignore[arg-type]
            yield f.name, getattr(self, f.name)


# --------------------------------------------------------------------------- photonic
@dataclass(frozen=True)
class PhotonicCostSpec(SpecMixin):
    """Costs of a weight-stationary thermo-optic MZI mesh (defaults = nominal level)."""

    # Laser and link budget (cost.md §1.3, §2.1)
    laser_wpe: float = 0.2           # wall-plug eff.; SimPhony off_chip_laser.yml, LT default.yaml
    s_pd_dbm: float = -25.0          # PD sensitivity; SimPhony photodetector.yml (OFC 2018 M3F.1)
    il_mod_db: float = 1.2           # MZM insertion loss; SimPhony mzm.yml
    il_coupling_db: float = 0.15     # grating coupler (optimistic); SimPhony, LT Bs_mzi_8bit.yaml
    # Input encoding (cost.md §2.1, §2.2)
    f_mod_ghz: float = 5.0           # core clock = symbol rate; LT work_freq
    e_mod_fj_per_bit: float = 450.0  # Si TW MZM, one symbol per clock (P = E·f); SimPhony mzm.yml, LT
    e_dac_pj: float = 3.57           # 8 b 14 GS/s 16 nm DAC (50 mW); SimPhony dac.yml, LT DAC.py
    dac_ref_bits: int = 8            # bits at which e_dac_pj / e_knob_write_pj are stated
    # Detection and conversion (cost.md §2.1, §2.2)
    # 1.1 mW PD at 5 GS/s (derived); LT default.yaml. Physics check: a reverse-biased PD
    # dissipates V_bias·R·P_det; the thermal-noise link budget delivers P_det = S_PD·2^b =
    # 0.81 mW at 8 b (cost.md §1.3), so 1.1 mW ≈ 0.81 mA × 1.36 V: a photocurrent power, drawn
    # while light arrives (it follows the laser's duty), not an always-on bias.
    e_pd_pj: float = 0.22
    # Receiver model of the link budget (cost.md §1.3): "thermal" P_det = S_PD·2^b (SimPhony/LT)
    # or "shot" P_det = 4^b·hν·f_s (the floor; large meshes need it, cost.md §4.4b).
    receiver_model: str = "thermal"
    wavelength_nm: float = 1550.0    # photon energy hν = 1.28e-19 J (cost.md §3)
    e_tia_pj: float = 0.6            # 3 mW at 5 GS/s (derived); SimPhony tia.yml
    e_adc_pj: float = 1.48           # 8 b 10 GS/s 14 nm (14.8 mW); SimPhony adc.yml, LT ADC.py
    adc_ref_bits: int = 8            # bits at which e_adc_pj is stated
    t_adc_conv_ns: float = 0.1       # 10 GS/s; SimPhony adc.yml
    cols_per_adc: int = 1            # one ADC per output waveguide; SimPhony/LT cores
    # Programming and holding (cost.md §2.1, §1.3, §4.2)
    e_knob_write_pj: float = 3.57    # one 8 b phase-DAC sample per knob; SimPhony dac.yml
    t_knob_dac_ns: float = 0.0714    # one phase-DAC sample at 14 GS/s; SimPhony dac.yml
    knob_dacs_per_tile: int = 8      # phase DACs multiplexed over a tile's shifters (assumption)
    # Double-buffered knob drivers: the next setting's values load into holding registers
    # while the current one streams, so the DAC load hides under streaming (settling still
    # holds the mesh). False = the DACs drive the heaters directly (load, then settle).
    knob_load_overlaps_stream: bool = False
    p_pi_mw: float = 30.0            # thermo-optic P_pi; SimPhony phase_shifter.yml
    # Mean heater power / P_pi per phase shifter, used only when the trace carries no phase
    # values: phases uniform on [0, 2π) give mean φ/π = 1 (P_hold = P_pi·φ/π, cost.md §1.3).
    heater_mean_fraction: float = 1.0
    t_settle_ns: float = 10_000.0    # thermo-optic settle 10 µs; SimPhony phase_shifter.yml
    # "held": weight-stationary heaters (hold power, settle per write); "redriven": one DAC
    # sample per phase shifter per clock, electro-optic, no hold power (LT photonic_MZI.py).
    weight_mode: str = "held"
    # Static-power duty assumptions (cost.md §1.1 static terms; fractions of full power drawn
    # outside the component's active time within a step):
    laser_idle_on_fraction: float = 1.0   # CW laser left on for the whole step (assumption:
    #   off-chip lasers run CW for wavelength/power stability; FICONN one CW laser, arXiv:2208.01623)
    converter_idle_fraction: float = 0.1  # DAC/ADC clocks and references between samples
    #   (assumption, unverified; 0 = perfect power gating, 1 = always on as SimPhony/LT P = E·f)
    receiver_idle_fraction: float = 1.0   # PD bias + TIA: continuous-time amplifiers stay biased
    #   (SimPhony tia.yml states TIA power in mW, not per sample)
    p_host_static_w: float = 15.0    # host floor: Jetson AGX Orin lowest power mode (15–60 W); Orin brief
    # Digital (cost.md §2.4, §2.5)
    e_partial_sum_add_pj: float = 0.1  # INT32 add, 45 nm; Horowitz ISSCC 2014 doi:10.1109/ISSCC.2014.6757323
    e_digital_pj_per_flop: float = 2.3  # FP32 (0.9 add + 3.7 mul)/2, 45 nm; Horowitz (derived)
    e_digital_pj_per_byte: float = 1.25  # SRAM 64-bit read 8 KB ≈ 10 pJ; Horowitz
    f_digital_gflops: float = 5300.0  # host = Jetson AGX Orin class, 5.3 FP32 TFLOPS; Orin brief

    def __post_init__(self) -> None:
        validate_spec(self, {"s_pd_dbm": "finite", "il_mod_db": "nonneg", "il_coupling_db": "nonneg",
                         "laser_wpe": "frac", "heater_mean_fraction": "nonneg",
                         "dac_ref_bits": "int", "adc_ref_bits": "int", "cols_per_adc": "int",
                         "knob_dacs_per_tile": "int", "weight_mode": WEIGHT_MODES_PHOTONIC,
                         "knob_load_overlaps_stream": "bool",
                         "receiver_model": RECEIVER_MODELS,
                         "laser_idle_on_fraction": "unit", "converter_idle_fraction": "unit",
                         "receiver_idle_fraction": "unit", "p_host_static_w": "nonneg"})

    @property
    def t_settle_s(self) -> float:
        return self.t_settle_ns * NS

    @property
    def t_adc_conv_s(self) -> float:
        return self.t_adc_conv_ns * NS

    @property
    def p_hold_per_shifter_w(self) -> float:
        """Mean heater holding power per phase shifter (W) when no phases are traced."""
        return self.p_pi_mw * MW * self.heater_mean_fraction


# low / high values (nominal = dataclass defaults); sources next to each row.
_PHOTONIC_RANGE: dict[str, tuple[float, float]] = {
    "laser_wpe": (0.3, 0.05),          # cost.md §2.1 range 0.05–0.3 (unverified)
    "s_pd_dbm": (-27.0, -25.0),        # SimPhony photodetector.yml / LT: −27 to −25 dBm
    "il_mod_db": (1.2, 4.5),           # SimPhony mzm.yml 1.2; "SL_MZM" 4.5 dB
    "il_coupling_db": (0.0, 2.5),      # 0: on-chip source (LT convention); FICONN arXiv:2208.01623 2.5 dB
    "e_mod_fj_per_bit": (200.0, 450.0),  # Baehr-Jones 2012 200 fJ/bit at 20 Gb/s; SimPhony 450
    "e_dac_pj": (2.6, 5.2),            # cimloop Albireo 7 nm CSV 2.6 (range 0.325–5.2)
    "e_pd_pj": (0.22, 0.22),           # LT default.yaml 1.1 mW (no range given)
    "e_tia_pj": (0.0375, 0.6),         # cimloop Albireo 7 nm 0.0375–0.6 pJ/read; SimPhony tia.yml
    "e_adc_pj": (0.85, 3.25),          # accelergy-adc-plug-in 22 nm 0.85; VLSI 2021 C15-3 3.25
    "t_adc_conv_ns": (0.1, 0.2),       # 10 GS/s SimPhony; 5 GS/s survey point (ISSCC 2022)
    "e_knob_write_pj": (2.6, 5.2),     # as e_dac_pj (cimloop Albireo CSV)
    # Thermo-optic P_pi·τ is about conserved, 30–300 mW·µs for standard heaters (cost.md §3;
    # Micromachines 13(9):1509 (2022); arXiv:2405.11044): the fastest settle (2 µs, LT) goes
    # with P_pi = 15 mW (30 mW·µs), not with the 12.7 mW of the slowest heaters.
    "p_pi_mw": (15.0, 57.8),           # 15 = 30 mW·µs / 2 µs (derived); 57.8 Micromachines 2022
    "t_settle_ns": (2_000.0, 10_000.0),  # LT MZI response_time 2 µs; SimPhony 10 µs
    "laser_idle_on_fraction": (0.0, 1.0),   # gated between streams (optimistic) / CW
    "converter_idle_fraction": (0.0, 1.0),  # perfect gating / always on (SimPhony, LT P = E·f)
    "receiver_idle_fraction": (0.0, 1.0),   # gated receivers / always biased
    "p_host_static_w": (0.0, 60.0),    # host shared with other work / Orin 60 W mode (Orin brief)
    "e_partial_sum_add_pj": (0.03, 0.9),  # Horowitz INT8 add 0.03; FP32 add 0.9
    "e_digital_pj_per_flop": (0.75, 11.0),  # Horowitz FP16 (0.4+1.1)/2; Orin ≈11 pJ/FLOP at 60 W
    "e_digital_pj_per_byte": (0.054, 31.2),  # Albireo 7 nm SRAM 0.435 pJ/64 bit; HBM2 3.9 pJ/bit
}


def _at_level(cls, ranges: dict, level: str):
    """``cls()`` (nominal) or its (low, high) values from ``ranges`` at ``level``."""
    i = _level(level)
    if i == 1:
        return cls()
    return replace(cls(), **{k: v[i // 2] for k, v in ranges.items()})


def photonic_spec(level: str = "nominal") -> PhotonicCostSpec:
    """Photonic cost spec at ``level`` in ``LEVELS`` (ValueError otherwise)."""
    return _at_level(PhotonicCostSpec, _PHOTONIC_RANGE, level)


# --------------------------------------------------------------------------- crossbar
@dataclass(frozen=True)
class CrossbarCostSpec(SpecMixin):
    """Costs of a memristive crossbar (PCM/RRAM), bit-serial 1-bit row drives (ISAAC style).

    Inputs of ``dac_bits`` bits are applied as ``dac_bits`` 1-bit read passes; each pass costs
    one row drive per input element, one cell read per MAC and ``t_read_ns``. ADC
    conversions are taken from the trace as counted by the device.
    """

    e_row_drive_pj: float = 0.417    # 1-bit row DAC per drive; hwcomponents library/isaac.py
    e_cell_read_fj: float = 30.0     # V²·G·t, NeuroSim V1.4 ON cell (derived); cimloop *.cell.yaml
    t_read_ns: float = 100.0         # ISAAC 128x128 MVM 100–128 ns; puma constants.py
    e_adc_pj: float = 1.67           # ISAAC 8 b 1.2 GS/s 32 nm (Kull ISSCC 2013); hwcomponents isaac.py
    adc_ref_bits: int = 8            # bits at which e_adc_pj is stated
    t_adc_conv_ns: float = 0.78125   # 1.28 GS/s ISAAC ADC (unverified rate); cost.md §2.3
    cols_per_adc: int = 8            # NeuroSim numColMuxed
    e_write_pj: float = 10.0         # program-and-verify per cell; cost.md §5.2 (1 / 10 / 100+)
    t_write_ns: float = 1_000.0      # per row, rows one after another; cost.md §4.4 (~1 µs/row)
    e_partial_sum_add_pj: float = 0.021  # ISAAC shift-add; hwcomponents library/isaac.py
    e_digital_pj_per_flop: float = 2.3   # FP32 45 nm (derived); Horowitz ISSCC 2014
    e_digital_pj_per_byte: float = 1.25  # SRAM 64-bit 8 KB ≈ 10 pJ; Horowitz
    f_digital_gflops: float = 5300.0     # host = Jetson AGX Orin class; NVIDIA Orin brief
    # Input encoding: "bit_serial" = dac_bits 1-bit passes of t_read_ns (ISAAC); "pwm" = one
    # pulse-width-modulated pass of t_pwm_ns, cell energy × pwm_mean_duty (HERMES, Le Gallo
    # et al., Nat. Electron. 6, 680 (2023)); "pulse_train" = dac_bits passes of one read pulse
    # of t_read_ns on the rows whose bit is 1, bit k weighted 2^k by the column neuron
    # integrating its sample 2^k times (2^b − 1 integrator slots per vector; NeuRRAM, Wan et
    # al. 2022): row drives and cell reads × pwm_mean_duty (mean input bit density) × dac_bits.
    input_mode: str = "bit_serial"
    t_pwm_ns: float = 130.0          # full-scale 8 b PWM window: HERMES 63.1 TOPS / 64 cores /
    #   (2·256²) ops = 133 ns per MVM (derived, Le Gallo 2023)
    pwm_mean_duty: float = 0.25      # mean input pulse / full window (assumed, cost.md §4.4b)
    # Static power (cost.md §1.1): column readout (current-to-voltage conversion + ADC bias) per
    # column while reading — NeuroSim SarADC column power at 8 b, (6.4806·8 + 49.047) µW
    # (neurosim/DNN_NeuroSim_V1.3 SarADC.cpp, maintainers in issue #35) — idle fraction else.
    p_column_uw: float = 100.9
    converter_idle_fraction: float = 0.1  # ADC/DAC idle vs active power (assumption, unverified)
    p_host_static_w: float = 15.0    # host floor: Jetson AGX Orin 15 W mode; Orin brief
    endurance_cycles: float = 1e6    # program pulses per cell before wear-out: lower end of PCM
    #   1e6–1e9 and RRAM 1e6–1e12 cycles (devices.md §6.11; endurance is specified in cycles,
    #   i.e. pulses, not in verified writes)
    # Program-and-verify pulses per write of one cell: cost.md §2.3 "program-and-verify per analog
    # cell 10–100 pulses" and §4.4 (1e5 steps × 3 programs × 10–100 pulses); low = 1 (one
    # open-loop pulse, assumption). Endurance used = writes per cell × this / endurance_cycles.
    pulses_per_write: float = 10.0
    # Integrating neurons (NeuRRAM style, Wan et al., Nature 608, 504 (2022)): energy per output
    # column for each input-bit pass (wordline toggle + sample onto the integrator) and for each
    # unit-pulse slot the integrator runs. 0 = columns read by a plain ADC (ISAAC, HERMES).
    e_pass_per_column_pj: float = 0.0
    e_integrate_step_pj: float = 0.0

    def __post_init__(self) -> None:
        validate_spec(self, {"adc_ref_bits": "int", "cols_per_adc": "int", "input_mode": INPUT_MODES,
                         "pwm_mean_duty": "frac", "p_column_uw": "nonneg",
                         "e_pass_per_column_pj": "nonneg", "e_integrate_step_pj": "nonneg",
                         "e_row_drive_pj": "nonneg",
                         "converter_idle_fraction": "unit", "p_host_static_w": "nonneg"})

    @property
    def t_read_s(self) -> float:
        return self.t_read_ns * NS

    @property
    def t_write_s(self) -> float:
        return self.t_write_ns * NS

    @property
    def t_adc_conv_s(self) -> float:
        return self.t_adc_conv_ns * NS


_CROSSBAR_RANGE: dict[str, tuple[float, float]] = {
    "e_row_drive_pj": (0.0035, 0.417),  # puma constants.py 3.5 µW × 1 ns (conflict, not confirmed)
    "e_cell_read_fj": (2.0, 100.0),     # NeuRRAM-like 2 fJ; PCM 0.2 V, 25 µS, 100 ns = 100 fJ
    "t_read_ns": (10.0, 128.0),         # NeuroSim V1.4 10 ns read; ISAAC 128 ns
    "e_adc_pj": (0.29, 6.5),            # BRAHMS 8 b 40 nm (hwcomponents); survey 8 b 65 nm (accelergy)
    "t_adc_conv_ns": (0.78125, 9.0),    # ISAAC 1.28 GS/s; NeuroSim SarADC 22 nm 9 ns
    "cols_per_adc": (8, 16),            # NeuroSim 8; ISAAC 8 ADCs per 128 columns
    "e_write_pj": (1.0, 100.0),         # cost.md §5.2; serial puma write ≈1.3 pJ/cell
    "t_write_ns": (100.0, 8_520.0),     # PCM ~100 ns (devices.md §6.11); NeuRRAM 8.52 µs program-verify
    "e_partial_sum_add_pj": (0.021, 0.1),  # ISAAC shift-add; Horowitz INT32 add
    "e_digital_pj_per_flop": (0.75, 11.0),  # Horowitz FP16; Orin ≈11 pJ/FLOP (derived)
    "e_digital_pj_per_byte": (0.054, 31.2),  # Albireo 7 nm SRAM; HBM2 3.9 pJ/bit
    "p_column_uw": (2.34, 201.8),       # ISAAC array 0.3 mW / 128 columns (puma constants.py) / 2× NeuroSim (assumption)
    "converter_idle_fraction": (0.0, 1.0),  # perfect gating / always on
    "p_host_static_w": (0.0, 60.0),     # shared host / Orin 60 W mode (Orin brief)
    "endurance_cycles": (1e9, 1e5),     # PCM upper end (devices.md §6.11); flash/SONOS 1e4–1e5 (unverified)
    "pulses_per_write": (1.0, 100.0),   # one open-loop pulse (assumption) / cost.md §2.3 upper end
}


# Spec parameters that matter most for the device/GPU ratios, per cost section, for the
# one-at-a-time sensitivity (hwsim.cost.sensitivity): (label, unit, field, domain of the
# break-even search, (low, high) or None for the section's own low / high range).
SENSITIVITY_FIELDS: dict[str, tuple] = {
    "mzi": (
        ("P_π (thermo-optic)", "mW", "p_pi_mw", (0.0, 1e4), None),
        ("settle time τ", "ns", "t_settle_ns", (0.0, 1e9), None),
        ("laser wall-plug efficiency", "", "laser_wpe", (1e-4, 1.0), None),
        ("ADC energy (mesh)", "pJ", "e_adc_pj", (0.0, 1e4), None),
        ("laser duty off-stream", "", "laser_idle_on_fraction", (0.0, 1.0), None),
        ("receiver bias duty (TIA)", "", "receiver_idle_fraction", (0.0, 1.0), None),
        ("converter idle duty (mesh)", "", "converter_idle_fraction", (0.0, 1.0), None),
        ("input DAC energy", "pJ", "e_dac_pj", (0.0, 1e4), None),
    ),
    "crossbar": (
        ("ADC energy (crossbar)", "pJ", "e_adc_pj", (0.0, 1e4), None),
        ("cell program energy", "pJ", "e_write_pj", (0.0, 1e6), None),
        ("row write time", "ns", "t_write_ns", (0.0, 1e9), None),
        ("cell read energy", "fJ", "e_cell_read_fj", (0.0, 1e6), None),
        ("column readout power", "µW", "p_column_uw", (0.0, 1e6), None),
        ("read pass time", "ns", "t_read_ns", (0.0, 1e6), None),
        # mean input pulse duty: an assumed range around the assumed 0.25 (cost.md §4.4b)
        ("input pulse duty (crossbar PWM)", "", "pwm_mean_duty", (1e-3, 1.0), (0.1, 0.5)),
    ),
}
SPEC_RANGES: dict[str, dict] = {}     # section → its low / high ranges (filled below)


def crossbar_spec(level: str = "nominal") -> CrossbarCostSpec:
    """Crossbar cost spec at ``level`` in ``LEVELS`` (ValueError otherwise)."""
    return _at_level(CrossbarCostSpec, _CROSSBAR_RANGE, level)


# --------------------------------------------------------------------------- GPUs
@dataclass(frozen=True)
class GpuSpec(SpecMixin):
    """Roofline GPU model (cost.md §1.4, §2.5). FP32 dense peak; energies are dynamic terms
    on top of ``p_idle_w`` (E = P_idle·t + FLOPs·e_flop + bytes·e_byte)."""

    name: str
    peak_fp32_tflops: float
    mem_bw_gbs: float
    tdp_w: float
    p_idle_w: float
    t_launch_us: float
    e_flop_pj: float
    e_byte_pj: float
    # Idle power band (W) for the low / high levels; 0 = p_idle_w at every level. An idle
    # figure that is not a measurement of this GPU is an assumption and carries its own band.
    p_idle_low_w: float = 0.0
    p_idle_high_w: float = 0.0
    p_idle_measured: bool = False    # True only for a cited measurement of this very GPU

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"GpuSpec.name = {self.name!r} is invalid; allowed: a non-empty string")
        validate_spec(self, {"name": "str", "p_idle_low_w": "nonneg", "p_idle_high_w": "nonneg",
                         "p_idle_measured": "bool"})
        for f in ("p_idle_w", "p_idle_low_w", "p_idle_high_w"):
            if getattr(self, f) > self.tdp_w:
                raise ValueError(f"GpuSpec.{f} = {getattr(self, f)!r} is invalid; "
                                 f"allowed: <= tdp_w = {self.tdp_w!r}")

    def p_idle_at(self, level: str) -> float:
        """Idle power (W) at ``level``: the band's end for low / high, else ``p_idle_w``."""
        i = _level(level)
        band = {0: self.p_idle_low_w, 2: self.p_idle_high_w}.get(i, 0.0)
        return band or self.p_idle_w

    @property
    def t_launch_s(self) -> float:
        return self.t_launch_us * US


# Kernel launch: 3 µs null kernel, 5–20 µs typical eager PyTorch (NVIDIA developer forum,
# unverified; cost.md §2.5); we take the low end of eager, 5 µs, for every preset.
_T_LAUNCH_US = 5.0

_GPU_LIST = (
    GpuSpec(
        name="H100 SXM5",
        peak_fp32_tflops=66.9,     # NVIDIA H100 datasheet (via glennklockwood.com)
        mem_bw_gbs=3350.0,         # same
        tdp_w=700.0,               # same
        # ASSUMPTION (no measured H100 idle figure is in cost.md): the A100's measured
        # context-loaded idle (61 W, LT profile/power_results/power_usage.csv) reused as the
        # nominal. Its own band: low 40 W (assumption: a lower idle clock state, unverified),
        # high 80.3 W (H200 SXM idle with a model loaded, a secondary benchmark page,
        # api.serialalice.pt "GPU Energy Benchmark", unverified).
        p_idle_w=61.0,
        p_idle_low_w=40.0,
        p_idle_high_w=80.3,
        t_launch_us=_T_LAUNCH_US,
        e_flop_pj=(700.0 - 61.0) / 66.9,  # derived: (TDP − idle)/peak, pJ/FLOP
        e_byte_pj=3.5 * 8,         # HBM3 ≈3.5 pJ/bit (unverified); O'Connor MICRO'17 doi:10.1145/3123939.3124545
    ),
    GpuSpec(
        name="A100 SXM4 80GB",
        peak_fp32_tflops=19.5,     # NVIDIA A100 datasheet (via glennklockwood.com)
        mem_bw_gbs=2039.0,         # same (80 GB)
        tdp_w=400.0,               # same
        p_idle_w=61.0,             # measured, context loaded; LT profile/power_results/power_usage.csv
        p_idle_measured=True,
        t_launch_us=_T_LAUNCH_US,
        e_flop_pj=(400.0 - 61.0) / 19.5,  # derived: (TDP − idle)/peak, pJ/FLOP
        e_byte_pj=3.9 * 8,         # HBM2 3.9 pJ/bit; hwcomponents-cacti, O'Connor MICRO'17
    ),
    GpuSpec(
        name="Jetson AGX Orin 64GB",
        peak_fp32_tflops=5.3,      # NVIDIA Orin technical brief (unverified secondary copy)
        mem_bw_gbs=204.8,          # same
        tdp_w=60.0,                # same (15–60 W power modes)
        p_idle_w=15.0,             # assumption: lowest power mode of the brief's 15–60 W; unverified
        p_idle_low_w=5.0,          # assumption band: an idle module well below its 15 W mode
        p_idle_high_w=30.0,        # assumption band: half of the 60 W mode (unverified)
        t_launch_us=_T_LAUNCH_US,
        e_flop_pj=(60.0 - 15.0) / 5.3,  # derived: (TDP − idle)/peak, pJ/FLOP
        e_byte_pj=8.0 * 8,         # LPDDR4 8 pJ/bit (nearest listed to Orin's LPDDR5); hwcomponents-cacti
    ),
)


class _UnknownPreset(KeyError, ValueError):
    """Unknown preset name (both a KeyError for mapping use and a ValueError)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class _Presets(Mapping[str, GpuSpec]):
    def __init__(self, specs: tuple[GpuSpec, ...]) -> None:
        self._d = {s.name: s for s in specs}

    def __getitem__(self, name: str) -> GpuSpec:
        try:
            return self._d[name]
        except KeyError:
            raise _UnknownPreset(f"GPU preset {name!r} is unknown; allowed: "
                                 f"{', '.join(self._d)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)


GPU_PRESETS: Mapping[str, GpuSpec] = _Presets(_GPU_LIST)


def gpu_preset(name: str) -> GpuSpec:
    """GPU spec by preset name (ValueError naming the allowed names if unknown)."""
    return GPU_PRESETS[name]


# --------------------------------------------------------------------------- overrides
_SECTIONS = {"mzi": photonic_spec, "crossbar": crossbar_spec}
SPEC_RANGES.update({"mzi": _PHOTONIC_RANGE, "crossbar": _CROSSBAR_RANGE})


def _sections() -> dict:
    """Built-in sections plus those kinds declare in their own packages (``DeviceKind.cost_spec``)."""
    from ..kinds import KINDS
    return {**_SECTIONS, **{k.cost_section: k.cost_spec for k in KINDS.values() if k.cost_spec}}


def _apply(obj, overrides: Mapping[str, object], where: str):
    names = {f.name for f in fields(obj)}
    for k in overrides:
        if k not in names:
            raise ValueError(f"{where}.{k} is not a field; allowed: {', '.join(sorted(names))}")
    return replace(obj, **dict(overrides))


def spec_from_mapping(level: str = "nominal", overrides: Mapping[str, Mapping] | None = None
                      ) -> dict[str, object]:
    """Specs at ``level`` with ``overrides`` applied (e.g. a parsed TOML spec file).

    ``overrides`` sections: ``mzi`` and ``crossbar`` (fields of :class:`PhotonicCostSpec` /
    :class:`CrossbarCostSpec`) and ``gpu.<preset name>`` (fields of :class:`GpuSpec`).
    Returns ``{"mzi": ..., "crossbar": ..., "gpus": {name: GpuSpec}}``; unknown sections or
    fields raise ValueError naming them.
    """
    overrides = dict(overrides or {})
    sections = _sections()
    unknown = sorted(set(overrides) - {*sections, "gpu"})
    if unknown:
        raise ValueError(f"spec file section(s) {unknown} are unknown; allowed: "
                         f"{', '.join(sections)}, gpu")
    out: dict[str, object] = {k: _apply(f(level), overrides.get(k, {}), k)
                              for k, f in sections.items()}
    gpus = dict(GPU_PRESETS._d)  # type: ignore[attr-defined]
    for name, o in dict(overrides.get("gpu", {})).items():
        base = gpus.get(name)
        if base is None:
            raise ValueError(f"gpu.{name!r} is not a GPU preset; allowed: {', '.join(gpus)}")
        gpus[name] = _apply(base, o, f"gpu.{name}")
    out["gpus"] = gpus
    return out


def load_spec_file(path) -> dict:
    """Parse a TOML spec file (see :func:`spec_from_mapping` for its sections)."""
    import tomllib
    with open(path, "rb") as fh:
        try:
            return tomllib.load(fh)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"spec file {str(path)!r} is not valid TOML: {e}") from None

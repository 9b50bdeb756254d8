"""Cost section of the microring weight bank: what a broadcast-and-weight layer spends, per
action and as static power, with sources (levels low / nominal / high as in
:mod:`hwsim.cost.spec`).

Priced items (the same closed forms as the photonic mesh, :mod:`hwsim.cost.analytic`):
* laser per wavelength: the device's own optical budget (``info.laser_power_w``, 1 mW per
  wavelength per tile in mrr-default) over the wall-plug efficiency, on while streaming (and
  ``laser_idle_on_fraction`` of the rest of the step);
* modulators and input DACs per input channel and vector (one WDM channel per input);
* ring heaters: static power P_FSR·φ/(2π) per ring (thermo-optic shift ∝ heater power; the
  trace sums the applied round-trip phases φ), i.e. P_π = P_FSR/2 per π of round-trip phase;
  tuning energy: one heater-DAC write per changed ring, and a thermal settle per setting;
* balanced photodiodes (two per output) + TIA, and the ADC, per output and vector.

The section is ``[cost.mrr]`` (``DeviceKind.cost_spec``); ``price_microring(summary, spec)``
prices a step of microring layers with it alone.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

from ..cost.analytic import CostReport, price
from ..cost.spec import LEVELS, PhotonicCostSpec, SpecMixin, validate_spec

__all__ = ["MicroringCostSpec", "microring_spec", "price_microring", "SECTION"]

#: name of the cost section (``[cost.mrr]``)
SECTION = "mrr"


@dataclass(frozen=True)
class MicroringCostSpec(SpecMixin):
    """Costs of a thermally tuned microring weight bank (defaults = nominal level)."""

    # ring heaters (static) and their tuning
    heater_mw_per_fsr: float = 325.0   # FSR / η = 32.5 nm / 0.1 nm/mW: mrr-default's FSR
    #   (derived) and the ≈0.1 nm/mW thermal tuning of devices.md §9
    t_settle_ns: float = 10_000.0      # thermo-optic settle 10 µs; SimPhony phase_shifter.yml
    e_tuning_write_pj: float = 3.57    # one heater-DAC sample per changed ring at 8 b; SimPhony dac.yml
    heater_dacs_per_tile: int = 8      # heater DACs multiplexed over a tile's rings (assumption)
    # laser and input channels (one wavelength per input)
    laser_wpe: float = 0.2             # wall-plug efficiency; SimPhony off_chip_laser.yml, LT default.yaml
    f_mod_ghz: float = 5.0             # DEAP-CNNs DAC/ADC 5 GS/s (Bangari et al. 2020, via
    #   ivancanull/optical-loop device_parameters_deap_cnns.csv)
    e_mod_fj_per_bit: float = 450.0    # modulator per symbol: SimPhony mzm.yml (no ring-modulator
    #   energy in the cited MRR sources; the mesh's value)
    e_dac_pj: float = 5.2              # DEAP-CNNs DAC 26 mW at 5 GS/s (derived)
    dac_ref_bits: int = 8              # bits at which the DAC energies are stated (assumption for DEAP)
    # balanced detection and conversion per output
    e_pd_pj: float = 0.22              # 1.1 mW PD at 5 GS/s (derived); LT default.yaml
    e_tia_pj: float = 1.7              # DEAP-CNNs TIA 17 mW at 10 GS/s (derived)
    e_adc_pj: float = 15.2             # DEAP-CNNs ADC 76 mW at 5 GS/s (derived)
    adc_ref_bits: int = 8              # bits at which e_adc_pj is stated (assumption)
    t_adc_conv_ns: float = 0.2         # 5 GS/s, DEAP-CNNs
    # static duty and digital side: as the mesh (hwsim.cost.spec.PhotonicCostSpec, sources there)
    laser_idle_on_fraction: float = 1.0
    converter_idle_fraction: float = 0.1
    receiver_idle_fraction: float = 1.0
    p_host_static_w: float = 15.0
    e_partial_sum_add_pj: float = 0.1
    e_digital_pj_per_flop: float = 2.3
    e_digital_pj_per_byte: float = 1.25
    f_digital_gflops: float = 5300.0

    def __post_init__(self) -> None:
        validate_spec(self, {"laser_wpe": "frac", "dac_ref_bits": "int", "adc_ref_bits": "int",
                         "heater_dacs_per_tile": "int", "laser_idle_on_fraction": "unit",
                         "converter_idle_fraction": "unit", "receiver_idle_fraction": "unit",
                         "p_host_static_w": "nonneg"})

    def pricing_spec(self) -> PhotonicCostSpec:
        """The same costs in the photonic pricing vocabulary: a ring heater is a thermo-optic
        shifter with P_π = P_FSR/2 (π of round-trip phase = half an FSR); one ADC per bank."""
        return replace(
            PhotonicCostSpec(), laser_wpe=self.laser_wpe, f_mod_ghz=self.f_mod_ghz,
            e_mod_fj_per_bit=self.e_mod_fj_per_bit, e_dac_pj=self.e_dac_pj,
            dac_ref_bits=self.dac_ref_bits, e_pd_pj=self.e_pd_pj, e_tia_pj=self.e_tia_pj,
            e_adc_pj=self.e_adc_pj, adc_ref_bits=self.adc_ref_bits,
            t_adc_conv_ns=self.t_adc_conv_ns, cols_per_adc=1,
            e_knob_write_pj=self.e_tuning_write_pj, knob_dacs_per_tile=self.heater_dacs_per_tile,
            p_pi_mw=self.heater_mw_per_fsr / 2.0, t_settle_ns=self.t_settle_ns,
            weight_mode="held", laser_idle_on_fraction=self.laser_idle_on_fraction,
            converter_idle_fraction=self.converter_idle_fraction,
            receiver_idle_fraction=self.receiver_idle_fraction,
            p_host_static_w=self.p_host_static_w, e_partial_sum_add_pj=self.e_partial_sum_add_pj,
            e_digital_pj_per_flop=self.e_digital_pj_per_flop,
            e_digital_pj_per_byte=self.e_digital_pj_per_byte,
            f_digital_gflops=self.f_digital_gflops)


# low / high values (nominal = the dataclass defaults)
_RANGE: dict[str, tuple[float, float]] = {
    "heater_mw_per_fsr": (130.0, 650.0),   # η = 0.25 / 0.05 nm/mW around devices.md's 0.1 (assumed)
    "t_settle_ns": (2_000.0, 10_000.0),    # LT MZI response 2 µs; SimPhony 10 µs (same heaters)
    "e_tuning_write_pj": (2.6, 5.2),       # cimloop Albireo DAC CSV (as the mesh's knob writes)
    "laser_wpe": (0.3, 0.05),              # cost.md §2.1 range (as the mesh)
    "e_mod_fj_per_bit": (200.0, 450.0),    # Baehr-Jones 2012 200 fJ/bit; SimPhony 450
    "e_dac_pj": (2.6, 5.2),                # cimloop Albireo 2.6; DEAP-CNNs 5.2
    "e_tia_pj": (0.0375, 1.7),             # cimloop Albireo 7 nm; DEAP-CNNs 1.7
    "e_adc_pj": (1.48, 15.2),              # SimPhony adc.yml 1.48; DEAP-CNNs 15.2
    "laser_idle_on_fraction": (0.0, 1.0),
    "converter_idle_fraction": (0.0, 1.0),
    "receiver_idle_fraction": (0.0, 1.0),
    "p_host_static_w": (0.0, 60.0),
}


def microring_spec(level: str = "nominal") -> MicroringCostSpec:
    """The microring cost section at ``level`` in ``LEVELS`` (ValueError otherwise)."""
    if level not in LEVELS:
        raise ValueError(f"level = {level!r} is invalid; allowed: {', '.join(LEVELS)}")
    if level == "nominal":
        return MicroringCostSpec()
    i = 0 if level == "low" else 1
    return replace(MicroringCostSpec(), **{k: v[i] for k, v in _RANGE.items()})


def price_microring(summary: Mapping[str, float], spec: MicroringCostSpec) -> CostReport:
    """Price a step summary of microring layers with this section (the photonic law with the
    values of :meth:`MicroringCostSpec.pricing_spec`); the trace names each layer's kind."""
    return price(summary, {SECTION: spec})

"""The microring cost section: heater power per ring, laser per wavelength, converters and
balanced receivers, priced from a traced step."""
import math

import pytest
import torch

from hwsim.cost.spec import PJ, dac_energy_pj
from hwsim.microring.cost import MicroringCostSpec, microring_spec, price_microring
from hwsim.microring.device import MRRBankLayer
from hwsim.microring.presets import mrr_default
from hwsim.oracle import TracingOracle
from hwsim.trace import Trace


def traced_step(P=3, B=5):
    dev = MRRBankLayer(16, 8, mrr_default(), seed=0, name="L")
    trace = Trace()
    oracle = TracingOracle(dev, trace)
    knobs = dev.knobs_from_weight(torch.randn(8, 16) / 4)
    knobs = {k: v.expand(P, *v.shape) for k, v in knobs.items()}
    trace.begin_step()
    oracle.query(oracle.program(knobs, torch.Generator().manual_seed(0)), torch.rand(B, 16),
                 torch.Generator().manual_seed(1))
    return dev, knobs, trace.end_step()


def test_heater_power_is_p_fsr_times_phase_over_two_pi():
    dev, knobs, s = traced_step()
    spec = MicroringCostSpec()
    r = price_microring(s, spec)
    phase = float(torch.remainder(knobs["ring_phases"][0].double(), 2 * math.pi).sum())
    heater_w = spec.heater_mw_per_fsr * 1e-3 * phase / (2 * math.pi)
    assert r.metrics["heater_w"] == pytest.approx(heater_w, rel=1e-5)
    t_step = r.total_latency_s
    assert r.energy_j["holding"] == pytest.approx(heater_w * t_step, rel=1e-5)


def test_laser_converters_and_balanced_receivers():
    dev, knobs, s = traced_step(P=2, B=4)
    spec = MicroringCostSpec(laser_idle_on_fraction=0.0, converter_idle_fraction=0.0,
                             receiver_idle_fraction=0.0)
    r = price_microring(s, spec)
    vectors = 2 * 4
    tiles = dev.p * dev.q
    # laser per wavelength: the device's own budget (1 mW per channel per tile) over the WPE,
    # on while streaming
    p_laser = dev.info().laser_power_w / spec.laser_wpe
    assert r.energy_j["laser"] == pytest.approx(p_laser * vectors / (spec.f_mod_ghz * 1e9), rel=1e-9)
    # one DAC + modulator symbol per input channel and vector
    e_in = (dac_energy_pj(spec.e_dac_pj, 8, 8) + spec.e_mod_fj_per_bit * 1e-3) * PJ
    assert r.energy_j["modulators_dacs"] == pytest.approx(vectors * tiles * dev.n * e_in, rel=1e-9)
    # two photodiodes + a TIA and one ADC per output and vector
    conv = vectors * tiles * dev.k
    assert r.energy_j["detection"] == pytest.approx(conv * (2 * spec.e_pd_pj + spec.e_tia_pj) * PJ, rel=1e-9)
    assert r.energy_j["adcs"] == pytest.approx(conv * spec.e_adc_pj * PJ, rel=1e-9)
    # tuning: one 12-bit heater-DAC write per ring and gain value written (first program)
    writes = s["L.program.knobs_changed"]
    assert r.energy_j["programming"] == pytest.approx(
        writes * dac_energy_pj(spec.e_tuning_write_pj, 12, 8) * PJ, rel=1e-9)


def test_levels_and_bad_values():
    low, nom, high = (microring_spec(lv) for lv in ("low", "nominal", "high"))
    assert low.heater_mw_per_fsr < nom.heater_mw_per_fsr < high.heater_mw_per_fsr
    assert low.laser_wpe > high.laser_wpe
    assert nom.pricing_spec().p_pi_mw == pytest.approx(nom.heater_mw_per_fsr / 2)
    with pytest.raises(ValueError, match="level"):
        microring_spec("typical")
    with pytest.raises(ValueError, match="laser_wpe"):
        MicroringCostSpec(laser_wpe=1.5)
    _, _, s = traced_step()
    assert price_microring(s, low).total_energy_j < price_microring(s, high).total_energy_j

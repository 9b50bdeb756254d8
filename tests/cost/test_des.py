"""SimPy DES latency vs the closed form; plus the report table."""
import pytest

from hwsim.cost import (GPU_PRESETS, crossbar_spec, des_price, format_cost_table, gpu_step_cost,
                        photonic_spec, price, simulate_latency)
from hwsim.trace import DigitalEvent, LayerInfo, MvmEvent, ProgramEvent, summarize

MZI = LayerInfo("mzi1", "mzi", 16, 16, 8, 8, 4, 256, 8, 8, 8, optical_path_db=5.0, mzis=56)
XBAR = LayerInfo("xb1", "crossbar", 16, 10, 16, 10, 1, 160, 4, 8, 8, cells=320)
SPECS = {"mzi": photonic_spec(), "crossbar": crossbar_spec()}


def _summary(p=2, b=32):
    ev = [ProgramEvent("mzi1", p, p * 256, p),
          MvmEvent("mzi1", p, p * b, p * b * 256, p * b * 16, p * b * 16, p * b * 8),
          ProgramEvent("xb1", p, p * 160, p),
          MvmEvent("xb1", p, p * b, p * b * 160, p * b * 16, p * b * 10, 0),
          DigitalEvent("host", 500, 100)]
    return summarize(ev, [MZI, XBAR])


def test_des_equals_analytic_uncontended():
    s = _summary()
    analytic = price(s, SPECS)
    des = simulate_latency(s, SPECS)
    for k, v in analytic.latency_s.items():
        assert des[k] == pytest.approx(v, rel=1e-9, abs=1e-18), k
    r = des_price(s, SPECS)
    assert r.total_energy_j == pytest.approx(analytic.total_energy_j, rel=1e-9)
    # a pool as large as the largest layer's ADC count is still uncontended
    assert simulate_latency(s, SPECS, adc_pool=32)["conversions"] == \
        pytest.approx(analytic.latency_s["conversions"], rel=1e-9)


def test_des_exceeds_analytic_when_contended():
    s = _summary()
    analytic = price(s, SPECS)
    des = simulate_latency(s, SPECS, adc_pool=3)
    # photonic layer: 4 tiles × 8 ADC channels queue on 3 ADCs -> ceil(32/3) = 11 rounds;
    # crossbar layer: 2 channels fit in the pool (uncontended)
    t_mzi = 2 * 32 * 16 / 32 * 0.1e-9
    t_xb = 2 * 32 * 10 / 2 * crossbar_spec().t_adc_conv_s
    assert analytic.latency_s["conversions"] == pytest.approx(t_mzi + t_xb)
    assert des["conversions"] == pytest.approx(11 * t_mzi + t_xb)
    assert sum(des.values()) > analytic.total_latency_s
    r = des_price(s, SPECS, adc_pool=3)
    assert r.energy_j["holding"] > analytic.energy_j["holding"]    # heaters on longer
    with pytest.raises(ValueError, match="adc_pool"):
        simulate_latency(s, SPECS, adc_pool=0)


def test_format_cost_table():
    ph = price(_summary(), SPECS)
    gpu = gpu_step_cost(2.6e7, "bp", 0, 1.1e6, 20, GPU_PRESETS["H100 SXM5"])
    text = format_cost_table({"photonic": ph, "GPU H100": gpu}, reference="GPU H100")
    assert "photonic/GPU H100" in text and "laser" in text and "launch" in text
    assert f"{ph.total_energy_j / gpu.total_energy_j:.3g}" in text
    with pytest.raises(ValueError, match="reference"):
        format_cost_table({"photonic": ph}, reference="GPU")

"""SimPy DES latency vs the closed form; plus the report table."""
import dataclasses

import pytest

from hwsim.cost import (GPU_PRESETS, crossbar_spec, des_price, format_cost_table, gpu_step_cost,
                        photonic_spec, price, simulate_latency, simulate_layers)
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
    assert des["contention"] == pytest.approx(0.0, abs=1e-18)
    r = des_price(s, SPECS)
    assert r.total_energy_j == pytest.approx(analytic.total_energy_j, rel=1e-9)
    # a pool as large as the largest layer's ADC count is still uncontended
    assert simulate_latency(s, SPECS, adc_pool=32)["contention"] == pytest.approx(0.0, abs=1e-18)


def _one_layer(p=2, b=32):
    ev = [ProgramEvent("mzi1", p, p * 256, p),
          MvmEvent("mzi1", p, p * b, p * b * 256, p * b * 16, p * b * 16, p * b * 8)]
    return summarize(ev, [MZI])


# Hand-computed per-job stage times of _one_layer() with nominal photonic specs (4 tiles, 2 jobs):
L = 2 * 256 / 4 / 2 / 8 * 0.0714e-9     # DAC load per tile: 64 knobs over 8 DACs at 14 GS/s
TAU = 10e-6                              # settle
S = 32 / 5e9                             # 32 vectors at 5 GHz
# ADCs: 16 samples per vector on 32 channels at 0.1 ns = 0.05 ns per vector < the 0.2 ns symbol,
# so they keep up with streaming and leave one vector's conversion after each job's stream
B = 16 / 32 * 0.1e-9
C = 2 * 32 * 8 / 5300e9 / 2              # partial sums on the host, per job


def test_pipeline_bound_by_hand():
    a = L + TAU + S
    bound = a + B + C + (2 - 1) * max(a, B, C)
    assert price(_one_layer(), SPECS).total_latency_s == pytest.approx(bound, rel=1e-12)
    assert simulate_layers(_one_layer(), SPECS)["mzi1"] == pytest.approx(bound, rel=1e-12)
    # readout-bound case: slow ADCs; conversions of job j overlap programming of job j+1
    slow = {"mzi": dataclasses.replace(photonic_spec(), t_adc_conv_ns=2000.0)}
    c_v, s_v = 0.5 * 2000e-9, 1 / 5e9                  # per vector: conversion ≫ symbol
    b = c_v + (32 - 1) * (c_v - s_v)                   # tail after the job's last symbol
    bound = a + b + C + max(a, b, C)
    assert price(_one_layer(), slow).total_latency_s == pytest.approx(bound, rel=1e-12)
    assert simulate_layers(_one_layer(), slow)["mzi1"] == pytest.approx(bound, rel=1e-12)
    assert bound < 2 * (a + b + C)                     # overlap beats the serial sum


@pytest.mark.parametrize("pools, job_a, job_b", [
    ({"dac_banks": 1}, 4 * L + TAU + S, B),            # 4 tile loads queue on one DAC bank
    ({"lasers": 2}, L + TAU + 2 * S, B),               # 4 tiles stream on 2 lasers: 2 rounds
    ({"adc_pool": 3}, L + TAU + S, 11 * B),            # 32 ADC channels on 3 ADCs: 11 rounds
])
def test_contention_by_hand(pools, job_a, job_b):
    s = _one_layer()
    expected = job_a + job_b + C + max(job_a, job_b, C)
    assert simulate_layers(s, SPECS, **pools)["mzi1"] == pytest.approx(expected, rel=1e-12)
    lat = simulate_latency(s, SPECS, **pools)
    analytic = price(s, SPECS)
    assert lat["contention"] == pytest.approx(expected - analytic.total_latency_s, rel=1e-9)
    assert lat["contention"] > 0
    r = des_price(s, SPECS, **pools)
    assert r.energy_j["holding"] > analytic.energy_j["holding"]    # heaters on longer
    assert r.energy_j["host_static"] > analytic.energy_j["host_static"]
    # a pool as large as the demand is uncontended
    big = {k: 32 for k in pools}
    assert simulate_latency(s, SPECS, **big)["contention"] == pytest.approx(0.0, abs=1e-18)


def test_bad_pool():
    with pytest.raises(ValueError, match="adc_pool"):
        simulate_latency(_summary(), SPECS, adc_pool=0)
    with pytest.raises(ValueError, match="dac_banks"):
        simulate_latency(_summary(), SPECS, dac_banks=1.5)


def test_format_cost_table():
    ph = price(_summary(), SPECS)
    gpu = gpu_step_cost(2.6e7, "bp", 0, 1.1e6, 20, GPU_PRESETS["H100 SXM5"])
    text = format_cost_table({"photonic": ph, "GPU H100": gpu}, reference="GPU H100")
    assert "photonic/GPU H100" in text and "laser" in text and "launch" in text
    assert f"{ph.total_energy_j / gpu.total_energy_j:.3g}" in text
    with pytest.raises(ValueError, match="reference"):
        format_cost_table({"photonic": ph}, reference="GPU")

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
    # the second job's conversions wait for the first job's: in the steady state a job
    # holds the ADC bank for its whole workload, 32 vectors × c_v (not only its tail)
    bound = a + b + C + max(a, 32 * c_v, C)
    assert price(_one_layer(), slow).total_latency_s == pytest.approx(bound, rel=1e-12)
    assert simulate_layers(_one_layer(), slow)["mzi1"] == pytest.approx(bound, rel=1e-12)
    assert bound < 2 * (a + b + C)                     # overlap beats the serial sum


@pytest.mark.parametrize("pools, job_a", [
    ({"dac_banks": 1}, 4 * L + TAU + S),               # 4 tile loads queue on one DAC bank
    ({"lasers": 2}, L + TAU + 2 * S),                  # 4 tiles stream on 2 lasers: 2 rounds
])
def test_contention_by_hand(pools, job_a):
    s = _one_layer()
    expected = job_a + B + C + max(job_a, B, C)
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


def test_adc_pool_charged_its_whole_workload_by_hand():
    """32 ADC channels' work on 3 shared ADCs: each job's 512 conversions (32 vectors × 16)
    take ≥ 512 × 0.1 ns / 3 of ADC time. By hand: the first vector streams (S/32), then 31
    vectors' conversions per channel in ceil(32/3) = 11 rounds, then the last vector in 11."""
    s = _one_layer()
    a = L + TAU + S
    c_v = B                                       # one vector's conversions per channel
    conv_end = S / 32 + 11 * 31 * c_v + 11 * c_v  # after the job's stream start (> S: ADC-bound)
    tail = conv_end - S
    expected = a + tail + C + max(a, 11 * 32 * c_v, C)
    got = simulate_layers(s, SPECS, adc_pool=3)["mzi1"]
    assert got == pytest.approx(expected, rel=1e-12)
    per_job_bound = 512 * 0.1e-9 / 3
    assert tail + S >= per_job_bound


def test_des_hand_case_1_56m_conversions_on_8_adcs():
    """The hand case: re-driven weights, 1.56 M ADC conversions in a step on one shared pool of
    8 ADCs at 0.1 ns (10 GS/s) need ≥ 1.56e6 / 8 × 0.1 ns = 19.5 µs (1 ADC: 156 µs); the
    simulated step may not be shorter (charging each ADC one vector's tail gave 3.78 µs)."""
    info = LayerInfo("m", "mzi", 32, 32, 8, 8, 16, 0, 8, 8, 8, optical_path_db=5.0, mzis=28)
    conv = 1_560_000
    vectors = conv // 32                             # 32 outputs per vector
    ev = [ProgramEvent("m", 1, 0, 0),
          MvmEvent("m", 1, vectors, vectors * 32 * 32, vectors * 32, conv, 0)]
    s = summarize(ev, [info])
    red = {"mzi": dataclasses.replace(photonic_spec(), weight_mode="redriven")}
    for pool, bound in ((8, 19.5e-6), (1, 156e-6)):
        assert conv / pool * 0.1e-9 == pytest.approx(bound)
        t = sum(simulate_layers(s, red, adc_pool=pool).values())
        assert t >= bound
        assert t <= 1.01 * bound + vectors / 5e9     # and not absurdly more
    assert des_price(s, red, adc_pool=8).total_latency_s >= 19.5e-6


def test_programming_hidden_under_streaming():
    """Double-buffered knob drivers (``knob_load_overlaps_stream``) load the next setting while
    the current one streams: with a load shorter than settle + stream, every job after the
    first hides its load, in the DES and in the closed form."""
    p, b = 6, 4096
    ev = [ProgramEvent("mzi1", p, p * 256, p),
          MvmEvent("mzi1", p, p * b, p * b * 256, p * b * 16, p * b * 16, 0)]
    s = summarize(ev, [MZI])
    slow_dac = dataclasses.replace(photonic_spec(), t_knob_dac_ns=50.0, t_settle_ns=100.0)
    direct = {"mzi": slow_dac}
    buffered = {"mzi": dataclasses.replace(slow_dac, knob_load_overlaps_stream=True)}
    load = 256 / 4 / 8 * 50e-9                        # 64 knobs per tile over 8 DACs: 0.4 µs
    settle, stream = 100e-9, b / 5e9                  # 0.1 µs, 0.82 µs
    t_direct = simulate_layers(s, direct)["mzi1"]
    t_buf = simulate_layers(s, buffered)["mzi1"]
    assert load < settle + stream
    assert t_direct - t_buf == pytest.approx((p - 1) * load, rel=1e-9)   # hidden after job 1
    assert price(s, buffered).total_latency_s == pytest.approx(t_buf, rel=1e-9)
    assert price(s, direct).total_latency_s == pytest.approx(t_direct, rel=1e-9)


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

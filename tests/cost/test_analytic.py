"""Analytic pricing: closed forms of cost.md §1.3, §4.2, linearity, component semantics."""
import dataclasses
import math

import pytest

from hwsim.cost import (ENERGY_COMPONENTS, LATENCY_COMPONENTS, CostReport, crossbar_spec,
                        held_weight_pj_per_mac, laser_power_w, photonic_spec, price, price_layers)
from hwsim.trace import DigitalEvent, LayerInfo, MvmEvent, ProgramEvent, summarize

MZI = LayerInfo("mzi1", "mzi", 16, 16, 8, 8, 4, 4 * 64, 8, 8, 8, optical_path_db=5.0, mzis=56)
XBAR = LayerInfo("xb1", "crossbar", 16, 10, 16, 10, 1, 160, 4, 8, 8, cells=320)
SPECS = {"mzi": photonic_spec(), "crossbar": crossbar_spec()}


def _summary(p=3, b=64):
    ev = [ProgramEvent("mzi1", p, p * MZI.knobs, p),
          MvmEvent("mzi1", p, p * b, p * b * 256, p * b * 16, p * b * 16, p * b * 8),
          ProgramEvent("xb1", p, p * XBAR.knobs, p),
          MvmEvent("xb1", p, p * b, p * b * 160, p * b * 16, p * b * 10, 0),
          DigitalEvent("host", 1000, 4000)]
    return summarize(ev, [MZI, XBAR])


def test_laser_worked_check():
    # cost.md §1.3: N = 12, 8 b, IL 25.9 dB, S_PD −25 dBm, η 0.2 -> 19.1 W electrical
    assert laser_power_w(25.9, 12, 8, -25.0, 0.2) == pytest.approx(19.1, rel=0.02)
    # scaling laws (cost.md §4.5 red flag 3): 2^b and 10^(IL/10)
    assert laser_power_w(25.9, 12, 4, -25.0, 0.2) == pytest.approx(19.1 / 16, rel=0.02)
    assert laser_power_w(35.9, 12, 8, -25.0, 0.2) / laser_power_w(25.9, 12, 8, -25.0, 0.2) == \
        pytest.approx(10.0)


@pytest.mark.parametrize("n, il, bits, expected", [
    (32, 0.3, 8, 3.2), (32, 0.1, 8, 0.35), (64, 0.1, 8, 0.42), (64, 0.1, 4, 0.06)])
def test_held_weight_examples(n, il, bits, expected):
    # cost.md §4.2 held-weight E/MAC (heater holding excluded)
    assert held_weight_pj_per_mac(n, il, bits, photonic_spec()) == pytest.approx(expected, rel=0.1)


def test_held_weight_converters_alone():
    # cost.md §4.2: N = 32, converters alone 0.20 pJ/MAC (an absurdly sensitive PD removes
    # the laser term)
    spec = dataclasses.replace(photonic_spec(), s_pd_dbm=-200.0)
    assert held_weight_pj_per_mac(32, 0.3, 8, spec) == pytest.approx(0.20, rel=0.05)


def test_report_fields_and_roundtrip():
    r = price(_summary(), SPECS)
    assert set(r.energy_j) == set(ENERGY_COMPONENTS)
    assert set(r.latency_s) == set(LATENCY_COMPONENTS)
    assert r.weight_mode == "held"
    assert r.macs == 3 * 64 * (256 + 160)
    assert r.conversions == 3 * 64 * (16 + 10)
    assert r.macs_per_conversion == pytest.approx(r.macs / r.conversions)
    assert r.pj_per_mac == pytest.approx(r.total_energy_j / r.macs * 1e12)
    assert r.total_energy_j == pytest.approx(sum(r.energy_j.values()))
    d = r.to_dict()
    assert all(isinstance(v, float) for v in d.values())
    assert CostReport.from_dict(d) == r
    layers = price_layers(_summary(), SPECS)
    assert set(layers) == {"mzi1", "xb1", "host"}
    assert sum(x.total_energy_j for x in layers.values()) == pytest.approx(r.total_energy_j)


def _no_static(level="nominal"):
    """Specs with every static term off (idle fractions, laser idle-on, host, peripherals)."""
    return {"mzi": dataclasses.replace(photonic_spec(level), laser_idle_on_fraction=0.0,
                                       converter_idle_fraction=0.0, receiver_idle_fraction=0.0,
                                       p_host_static_w=0.0),
            "crossbar": dataclasses.replace(crossbar_spec(level), converter_idle_fraction=0.0,
                                            p_host_static_w=0.0, p_column_uw=0.0)}


def test_action_energy_linear_in_counts():
    # Counted actions scale with their counts; static terms follow the step latency instead
    # (the pipeline bound is not linear in the number of jobs), so they are switched off here.
    s = _summary()
    s2 = {k: (v if ".info." in k or k.endswith("first_index") else 2 * v) for k, v in s.items()}
    specs = _no_static()
    r, r2 = price(s, specs), price(s2, specs)
    for k in ENERGY_COMPONENTS:
        if k in ("holding", "laser"):
            continue
        assert r2.energy_j[k] == pytest.approx(2 * r.energy_j[k], rel=1e-12), k
    # laser (on only while streaming here) doubles too; heaters hold for the whole step
    assert r2.energy_j["laser"] == pytest.approx(2 * r.energy_j["laser"], rel=1e-12)
    ratio = r2.energy_j["holding"] / r.energy_j["holding"]
    assert ratio == pytest.approx(r2.total_latency_s / r.total_latency_s, rel=1e-12)


def test_zero_summary_zero_energy():
    s = {k: (v if ".info." in k else 0.0) for k, v in _summary().items()}
    r = price(s, SPECS)
    assert r.total_energy_j == 0.0 and r.total_latency_s == 0.0
    r = price(summarize([], [MZI, XBAR]), SPECS)
    assert r.total_energy_j == 0.0


def test_mzi_programming_latency_and_energy():
    p = _no_static()["mzi"]
    ev = [ProgramEvent("mzi1", 5, 5 * MZI.knobs, 5)]
    r = price(summarize(ev, [MZI]), p)
    # 5 jobs on the mesh, each: DAC load (256/4 knobs per tile over 8 DACs at 14 GS/s) + settle
    load = 5 * MZI.knobs / MZI.tiles / 8 * 0.0714e-9
    assert r.latency_s["programming"] == pytest.approx(5 * 10e-6 + load, rel=1e-12)
    assert r.energy_j["programming"] == pytest.approx(5 * MZI.knobs * 3.57e-12)
    # no phases traced: heaters fall back to P_pi per phase shifter (mean phase π on [0, 2π))
    shifters = MZI.tiles * (2 * 8 * 8 + 8)             # 136 per 8×8 SVD tile, not 56 MZIs
    assert r.energy_j["holding"] == pytest.approx(shifters * 30e-3 * r.total_latency_s)


def test_holding_from_traced_phases_and_laser_idle():
    p = photonic_spec()
    info = dataclasses.replace(MZI, phase_shifters=136)
    ev = [ProgramEvent("mzi1", 2, 2 * MZI.knobs, 2, phase_rad_sum=2 * 1000.0),
          MvmEvent("mzi1", 2, 5000, 5000 * 256, 5000 * 16, 5000 * 16, 0)]
    r = price(summarize(ev, [info]), p)
    heat_w = 30e-3 / math.pi * 1000.0                   # P_pi·φ/π summed over shifters
    assert r.metrics["heater_w"] == pytest.approx(heat_w)
    assert r.energy_j["holding"] == pytest.approx(heat_w * r.total_latency_s)
    assert r.latency_s["streaming"] == pytest.approx(5000 / 5e9)
    # laser: link budget with IL = path + modulator + coupling, N_split = tile rows, b = ADC
    # bits; nominal laser stays on for the whole step (CW)
    il = MZI.optical_path_db + p.il_mod_db + p.il_coupling_db
    p_laser = MZI.tiles * laser_power_w(il, 8, 8, -25.0, 0.2)
    assert r.energy_j["laser"] == pytest.approx(p_laser * r.total_latency_s)
    assert r.metrics["laser_on_s"] == pytest.approx(r.total_latency_s)
    assert r.metrics["laser_optical_w"] == pytest.approx(0.2 * p_laser)
    gated = price(summarize(ev, [info]), dataclasses.replace(p, laser_idle_on_fraction=0.0))
    assert gated.energy_j["laser"] == pytest.approx(p_laser * 5000 / 5e9)
    # conversions: 16 samples per vector over 4 tiles × 8 ADCs at 0.1 ns = 0.05 ns per vector,
    # faster than the 0.2 ns symbol: they overlap streaming and leave one vector's tail per job
    assert r.latency_s["conversions"] == pytest.approx(16 / 32 * 0.1e-9)
    # host floor once per step
    assert r.energy_j["host_static"] == pytest.approx(15.0 * r.total_latency_s)


def test_crossbar_programming():
    c = _no_static()["crossbar"]
    ev = [ProgramEvent("xb1", 3, 3 * XBAR.knobs, 3)]
    r = price(summarize(ev, [XBAR]), c)
    cells_written = 3 * XBAR.tiles * XBAR.cells                # differential: 2 cells per knob
    assert r.energy_j["programming"] == pytest.approx(cells_written * c.e_write_pj * 1e-12)
    assert r.latency_s["programming"] == pytest.approx(3 * XBAR.tile_rows * 1e-6)   # row by row
    assert r.energy_j["holding"] == 0.0
    # only changed knobs are written when the trace counts them
    ev = [ProgramEvent("xb1", 3, 3 * XBAR.knobs, 3, knobs_changed=XBAR.knobs)]
    r = price(summarize(ev, [XBAR]), c)
    assert r.energy_j["programming"] == pytest.approx(cells_written / 3 * c.e_write_pj * 1e-12)


def test_levels_monotone_total():
    s = _summary()
    totals = [price(s, {"mzi": photonic_spec(lv), "crossbar": crossbar_spec(lv)}).total_energy_j
              for lv in ("low", "nominal", "high")]
    assert totals[0] < totals[1] < totals[2]


def test_spec_dispatch_errors():
    with pytest.raises(ValueError, match="crossbar"):
        price(_summary(), photonic_spec())
    with pytest.raises(ValueError, match="allowed"):
        price(_summary(), {"mzi": crossbar_spec()})
    with pytest.raises(ValueError, match="no info"):
        price({"ghost.mvm.macs": 1.0}, photonic_spec())
    # single spec or iterable of specs both work
    assert price(_summary(), [photonic_spec(), crossbar_spec()]) == price(_summary(), SPECS)


def test_report_validation():
    with pytest.raises(ValueError, match="energy_j"):
        CostReport({"laser": -1.0}, {})
    with pytest.raises(ValueError, match="weight_mode"):
        CostReport({}, {}, weight_mode="stationary")
    assert math.isnan(CostReport({}, {}).pj_per_mac)


def test_device_traced_optical_power_and_balanced_receivers_are_priced():
    """A device that models its own optical budget (its detection noise comes from that laser
    power) is priced at the same power, W_el = W_opt / wall-plug; a balanced homodyne receiver
    pays two photodiodes per output."""
    p = dataclasses.replace(photonic_spec(), converter_idle_fraction=0.0, receiver_idle_fraction=0.0,
                            laser_idle_on_fraction=0.0)   # no idle receiver or PD terms
    ev = [ProgramEvent("mzi1", 2, 2 * MZI.knobs, 2),
          MvmEvent("mzi1", 2, 5000, 5000 * 256, 5000 * 16, 5000 * 16, 0)]
    direct = price(summarize(ev, [MZI]), p)
    traced = dataclasses.replace(MZI, laser_power_w=0.02, photodiodes_per_output=2)
    r = price(summarize(ev, [traced]), p)
    assert r.metrics["laser_electrical_w"] == pytest.approx(0.02 / p.laser_wpe)
    assert r.metrics["laser_optical_w"] == pytest.approx(0.02)
    assert r.energy_j["laser"] == pytest.approx(0.02 / p.laser_wpe * r.metrics["laser_on_s"])
    adc = 5000 * 16
    assert direct.energy_j["detection"] == pytest.approx(adc * (p.e_pd_pj + p.e_tia_pj) * 1e-12)
    assert r.energy_j["detection"] == pytest.approx(adc * (2 * p.e_pd_pj + p.e_tia_pj) * 1e-12)


def _xbar_summary(rows, cols, vectors, dac_bits=4, adc_bits=8):
    info = LayerInfo("x", "crossbar", rows, cols, rows, cols, 1, rows * cols, 8, dac_bits,
                     adc_bits, cells=2 * rows * cols)
    return summarize([MvmEvent("x", 1, vectors, vectors * rows * cols, vectors * rows,
                               vectors * cols, 0)], [info])


def test_pulse_train_closed_form():
    # b-bit inputs as binary-weighted pulse trains: 2^b − 1 integrator slots of t_read; cells
    # and row drivers pay one pulse per bit pass × bit density (duty × b pulses), each column
    # neuron pays b passes and 2^b − 1 slots (the neuron applies the 2^k weights)
    rows, cols, v, b = 16, 8, 10, 4
    spec = dataclasses.replace(crossbar_spec(), input_mode="pulse_train", pwm_mean_duty=0.4,
                               e_pass_per_column_pj=2.0, e_integrate_step_pj=0.5,
                               p_column_uw=0.0, converter_idle_fraction=0.0, p_host_static_w=0.0)
    r = price(_xbar_summary(rows, cols, v, dac_bits=b), spec)
    pulses = 0.4 * b
    assert r.energy_j["detection"] == pytest.approx(v * rows * cols * 2 * pulses
                                                    * spec.e_cell_read_fj * 1e-15)
    assert r.energy_j["modulators_dacs"] == pytest.approx(v * rows * pulses * spec.e_row_drive_pj * 1e-12)
    assert r.energy_j["peripherals"] == pytest.approx(v * cols * (b * 2.0 + (2 ** b - 1) * 0.5) * 1e-12)
    assert r.latency_s["streaming"] == pytest.approx(v * (2 ** b - 1) * spec.t_read_ns * 1e-9)
    from hwsim.cost import simulate_layers        # the SimPy pipeline sees the same stages
    assert sum(simulate_layers(_xbar_summary(rows, cols, v, dac_bits=b), spec).values()) == \
        pytest.approx(r.total_latency_s, rel=1e-9)
    # the neuron terms are off by default: the other input modes are unchanged by them
    plain = price(_xbar_summary(rows, cols, v, dac_bits=b), crossbar_spec())
    assert crossbar_spec().e_pass_per_column_pj == crossbar_spec().e_integrate_step_pj == 0.0
    assert plain.energy_j["modulators_dacs"] == pytest.approx(v * rows * b * 0.417e-12)


def test_ladder_crossbar_adc_share_per_mac():
    # cost.md §4.4: ≈1.7 pJ per 8-bit conversion shared by a 128-row column ⇒ ≈13 fJ/MAC
    spec = dataclasses.replace(crossbar_spec(), cols_per_adc=1)
    r = price(_xbar_summary(128, 128, 100, adc_bits=8), spec)
    assert r.energy_j["adcs"] / r.macs / 1e-15 == pytest.approx(13.0, rel=0.05)
    assert r.macs_per_conversion == 128                       # red flag 7


def test_ladder_crossbar_spsa_programming_band():
    # cost.md §4.4: SPSA with weight perturbation ≥ 3 full programs of 1e6 weights per step,
    # 30 µJ–3 mJ at 10 pJ–1 nJ per program; here each weight is a differential pair (2 cells per
    # knob: 6e6 cell programs) at 1 / 10 / 100 pJ (cost.md §5.2): 6 / 60 / 600 µJ
    n = 1000
    info = LayerInfo("x", "crossbar", n, n, n, n, 1, n * n, 8, 8, 8, cells=2 * n * n)
    s = summarize([ProgramEvent("x", 3, 3 * n * n, 3)], [info])
    got = [price(s, crossbar_spec(lv)).energy_j["programming"] for lv in ("low", "nominal", "high")]
    assert got == pytest.approx([6e-6, 60e-6, 600e-6], rel=1e-9)

"""Matched-corner ratio bands, device-only energy, inference, sensitivity, inventory and the
scaling projection."""
import math

import pytest

from hwsim.cost import crossbar_spec, photonic_spec, price
from hwsim.cost.bands import TARGET_RULE, format_ratio_bands, matched_ratio, ratio_bands
from hwsim.cost.inference import inference_summary
from hwsim.cost.inventory import chip_inventory, format_inventory
from hwsim.cost.projection import parse_project, project_summary
from hwsim.cost.sensitivity import Param, break_even, default_params, format_tornado, tornado
from hwsim.trace import DependencyEvent, DigitalEvent, LayerInfo, MvmEvent, ProgramEvent, summarize

MZI = LayerInfo("m", "mzi", 16, 16, 8, 8, 4, 256, 8, 8, 8, optical_path_db=5.0, mzis=28,
                phase_shifters=72)
SPECS = {"mzi": photonic_spec(), "crossbar": crossbar_spec()}


def _summary(p=5, b=16):
    ev = [ProgramEvent("m", p, p * 256, p, phase_rad_sum=p * 4 * 72 * 2.0),
          MvmEvent("m", p, p * b, p * b * 256, p * b * 32, p * b * 32, p * b * 16),
          DigitalEvent("host", 4000, 800, role="optimizer"), DependencyEvent("m")]
    return summarize(ev, [MZI])


def test_matched_corners_never_mix():
    dev = {f"energy_per_step_j_{lv}": v for lv, v in zip(("low", "nominal", "high"), (1, 4, 9))}
    gpu = {f"energy_per_step_j_{lv}": v for lv, v in zip(("low", "nominal", "high"), (2, 2, 3))}
    assert matched_ratio(dev, gpu, "energy_per_step_j") == {"low": 0.5, "nominal": 2.0, "high": 3.0}
    rows = {"d": {f"metric.{k}": v for k, v in dev.items()},
            "g": {f"metric.{k}": v for k, v in gpu.items()}}
    text = format_ratio_bands(rows, ["d"], ["g"], "high")
    assert "0.5×" in text and "2×" in text and "3×" in text and "high/high*" in text
    assert "4.5×" not in text and "0.333×" not in text          # 9/2 and 1/3: mixed corners
    assert "weaker side" in TARGET_RULE
    assert math.isnan(ratio_bands(rows, ["d"], ["g"])[("d", "g")]["time/step"]["low"])


def test_device_only_energy_leaves_the_host_out():
    r = price(_summary(), SPECS)
    assert r.device_energy_j == pytest.approx(
        r.total_energy_j - r.energy_j["digital"] - r.energy_j["host_static"])
    assert 0 < r.device_energy_j < r.total_energy_j
    assert r.to_dict()["device_energy_j"] == r.device_energy_j


def test_inference_holds_the_setting_and_streams_once():
    s = _summary()
    inf = inference_summary(s, 16)
    assert inf["m.mvm.vectors"] == 16 and inf["m.mvm.macs"] == 16 * 256
    assert inf["m.mvm.adc_conversions"] == 16 * 32
    assert inf["m.program.settles"] == 0 and inf["m.program.knobs_written"] == 0
    assert inf["m.program.phase_rad_sum"] == pytest.approx(4 * 72 * 2.0)   # one setting
    r = price(inf, SPECS)
    assert r.latency_s["programming"] == 0
    # holding power of the trained setting: P_π/π × Σφ of one setting
    assert r.metrics["heater_w"] == pytest.approx(0.030 / math.pi * 4 * 72 * 2.0)
    with pytest.raises(ValueError, match="batch"):
        inference_summary(s, 0)


def test_tornado_and_break_even_by_hand():
    """ratio = (a + x) / 10 with x the parameter: swing, ranking and break-even x = 10 − a."""
    p1 = Param("x", "mW", (("mzi", "p_pi_mw"),), 30.0, 15.0, 57.8)
    p2 = Param("y", "W", (("mzi", "p_host_static_w"),), 15.0, 14.0, 16.0)

    def evaluate(over):
        x = over.get("mzi", {}).get("p_pi_mw", 30.0)
        y = over.get("mzi", {}).get("p_host_static_w", 15.0)
        return {"r": (2.0 + x) / 10.0 * (y / 15.0)}

    res = tornado(evaluate, [p2, p1])
    assert [m.param.label for m in res["r"]] == ["x", "y"]
    assert res["r"][0].ratio_low == pytest.approx(1.7) and res["r"][0].swing == pytest.approx(59.8 / 17)
    assert break_even(evaluate, "r", p1) == pytest.approx(8.0, rel=1e-6)
    never = Param("z", "", (("mzi", "laser_wpe"),), 0.2, 0.3, 0.05, (1e-4, 1.0))
    assert break_even(lambda o: {"r": 5.0}, "r", never) is None
    text = format_tornado(res, break_evens={"r": 8.0})
    assert "break-even (ratio = 1) at x = 8 mW" in text


def test_default_params_cover_what_matters():
    labels = {p.label for p in default_params(("mzi", "crossbar"), ["H100 SXM5", "A100 SXM4 80GB"])}
    for want in ("P_π (thermo-optic)", "settle time τ", "host power", "laser wall-plug efficiency",
                 "ADC energy (mesh)", "ADC energy (crossbar)", "input pulse duty (crossbar PWM)",
                 "GPU idle power (H100 SXM5)"):
        assert want in labels
    assert "GPU idle power (A100 SXM4 80GB)" not in labels      # measured: no band to move


def test_inventory_counts_the_chip():
    inv = chip_inventory(_summary(), SPECS)
    m = inv["m"]
    assert (m["tiles"], m["mzis"], m["phase_shifters"]) == (4, 112, 288)
    assert (m["input_dacs"], m["knob_dacs"], m["adcs"], m["photodiodes"]) == (32, 32, 32, 32)
    assert m["heater_w"] == pytest.approx(0.030 / math.pi * 4 * 72 * 2.0)
    assert m["laser_w"] > 0 and inv["total"]["tiles"] == 4
    assert "area: not estimated" in format_inventory(inv)


def test_projection_scales_the_step():
    s = _summary()
    same = project_summary(s, 256, 1)               # the run's own size: same price
    assert price(same, SPECS).total_energy_j == pytest.approx(price(s, SPECS).total_energy_j,
                                                              rel=1e-9)
    big = project_summary(s, 4 * 64 * 64, 4)        # 4 layers of 64×64 on 8×8 tiles
    assert big["proj3.info.tiles"] == 64 and big["proj0.mvm.macs"] == 5 * 16 * 64 * 64
    assert big["proj0.program.settles"] == 5 and big["proj0.dependency.independent"] == 1
    assert big["host.digital.flops"] == pytest.approx(4000 * 4 * 64 * 64 / 256)
    assert parse_project("weights=1e6,layers=4") == {"weights": 1000000, "layers": 4}
    for bad in ("weights=1e6", "w=3,layers=2", "weights=0,layers=1", "weights=2.5,layers=1"):
        with pytest.raises(ValueError, match="--project"):
            parse_project(bad)

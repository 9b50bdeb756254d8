"""experiments.price: re-price every row of a stored results file from its traces alone."""
import dataclasses
import math

import pytest

from experiments import price as P
from experiments.results import RunRecord, write_results
from hwsim.cost import CostReport, crossbar_spec, gpu_band, photonic_spec, price
from hwsim.cost.gpu import measure_torch_step, summary_step_work
from hwsim.trace import DigitalEvent, LayerInfo, MvmEvent, ProgramEvent, summarize

MZI = LayerInfo("layer0", "mzi", 16, 8, 8, 8, 2, 2 * 136 + 1, 8, 8, 8, optical_path_db=2.0,
                mzis=64, phase_shifters=136)
XB = LayerInfo("layer0", "crossbar", 16, 8, 16, 8, 1, 129, 8, 8, 8, cells=256)
CONFIG = {"device": "mzi", "device_preset": "mzi-default", "dataset": "digits", "hidden": [8],
          "batch_size": 4, "gpus": ["H100 SXM5"], "cost_level": "nominal", "num_directions": 2}


def _step(info, p, total_writes):
    ev = [ProgramEvent(info.layer, p, p * info.knobs, p, knobs_changed=p * info.knobs,
                       phase_rad_sum=p * 400.0 if info.device == "mzi" else None,
                       writes_per_cell_max=p, writes_per_cell_max_total=total_writes),
          MvmEvent(info.layer, p, 4 * p, 4 * p * 128, 4 * p * 16, 4 * p * 16, 4 * p * 8),
          DigitalEvent("host", 5000, role="estimator")]
    return summarize(ev, [info])


def _record(tmp_path, with_measured=True):
    steps = [_step(MZI, 5, 5 * (i + 1)) for i in range(4)]
    rec = RunRecord(config=dict(CONFIG), step_summaries=steps,
                    history={"test_accuracy": [0.3, 0.6, 0.8, 0.95], "steps": [1, 2, 3, 4]},
                    references={"bp": {"test_accuracy": [0.85, 0.95, 0.97, 0.98],
                                       "steps": [1, 2, 3, 4]}})
    P.store_summary(rec, "crossbar-default MF+DD", _step(XB, 5, 7))
    if with_measured:
        m = measure_torch_step([16, 8], 10, 4, kind="forward_only", directions=2, repeats=1)
        rec.costs["measured (cpu): MF+DD"] = m.to_dict()
    path = tmp_path / "run.h5"
    write_results(path, rec)
    return path, steps


def test_reprice_every_row_from_stored_traces(tmp_path):
    path, steps = _record(tmp_path)
    reports = P.reprice(path)
    assert set(reports) == {"mzi-default MF+DD", "crossbar-default MF+DD", "GPU H100 SXM5: MF+DD",
                            "GPU H100 SXM5: BP", "measured (cpu): MF+DD"}
    specs = {"mzi": photonic_spec(), "crossbar": crossbar_spec()}
    dev = reports["mzi-default MF+DD"]
    assert dev.total_energy_j == pytest.approx(price(P.mean_summary(steps), specs).total_energy_j)
    xb = reports["crossbar-default MF+DD"]
    assert xb.total_energy_j == pytest.approx(price(_step(XB, 5, 7), specs).total_energy_j)
    # endurance from the last step's cumulative writes (crossbar row: its own stored step)
    assert dev.metrics["writes_per_cell_max_total"] == 20.0
    # cross-device row: one stored step, so the run's writes ≈ per-step maximum (5) × 4 steps
    assert xb.metrics["writes_per_cell_max_total"] == 20.0
    # endurance counts program pulses: 20 writes × 10 pulses per write / 1e6 cycles
    assert xb.metrics["endurance_used_fraction"] == pytest.approx(20 * 10 / 1e6)
    # GPU MF+DD row prices the device run's own traced work on the nominal (eager) band
    w = summary_step_work(P.mean_summary(steps))
    assert w["flops"] == pytest.approx(2 * 5 * 4 * 128 + 5000 + 5 * 4 * 8)   # MACs, host, adds
    g = gpu_band(w["flops"], w["bytes"], w["kernels"], P.spec_from_mapping()["gpus"]["H100 SXM5"],
                 p_host_w=15.0)
    assert reports["GPU H100 SXM5: MF+DD"].total_energy_j == pytest.approx(g["nominal"].total_energy_j)
    # measured row carried over unchanged
    assert reports["measured (cpu): MF+DD"].latency_s["measured"] > 0


def test_headline_to_target_from_histories(tmp_path):
    path, _ = _record(tmp_path)
    reports = P.reprice(path)
    dev, bp = reports["mzi-default MF+DD"], reports["GPU H100 SXM5: BP"]
    target = 0.95 * max(0.95, 0.98)     # the higher best, not the weaker side's own
    assert dev.metrics["target_accuracy"] == pytest.approx(target)
    assert dev.metrics["steps_to_target"] == 4 and bp.metrics["steps_to_target"] == 2
    for lv in ("low", "nominal", "high"):
        assert dev.metrics[f"energy_to_target_j_{lv}"] == pytest.approx(
            4 * dev.metrics[f"energy_per_step_j_{lv}"])
        assert bp.metrics[f"time_to_target_s_{lv}"] == pytest.approx(
            2 * bp.metrics[f"latency_per_step_s_{lv}"])
    m = dev.metrics
    assert m["energy_per_step_j_low"] < m["energy_per_step_j_nominal"] < m["energy_per_step_j_high"]
    assert dev.metrics["energy_per_step_j_nominal"] == pytest.approx(dev.total_energy_j)
    assert m["laser_on_s"] > 0 and "endurance_used_fraction" in m
    # every report round-trips through the flat dict the results file stores
    assert CostReport.from_dict(dev.to_dict()) == dev
    # a target nobody reaches: flagged, no to-target figures
    r = P.reprice(path, target_accuracy=0.99)["mzi-default MF+DD"]
    assert r.metrics["target_reached"] == 0.0 and "energy_to_target_j_nominal" not in r.metrics


def test_level_and_spec_file(tmp_path):
    path, _ = _record(tmp_path, with_measured=False)
    nominal = P.reprice(path)["mzi-default MF+DD"]
    low = P.reprice(path, "low")["mzi-default MF+DD"]
    assert low.metrics["cost_level_index"] == 0.0 and nominal.metrics["cost_level_index"] == 1.0
    assert low.total_energy_j == pytest.approx(nominal.metrics["energy_per_step_j_low"])
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text('[mzi]\np_pi_mw = 60.0\n[gpu."H100 SXM5"]\np_idle_w = 100.0\n')
    hot = P.reprice(path, spec_file=spec_file)
    assert hot["mzi-default MF+DD"].metrics["heater_w"] == pytest.approx(
        2 * nominal.metrics["heater_w"])
    assert hot["GPU H100 SXM5: BP"].energy_j["idle"] > P.reprice(path)["GPU H100 SXM5: BP"].energy_j["idle"]
    text = P.format_reprice(hot, "nominal")
    assert "nominal specs" in text and "energy to target [J] high" in text
    bad = tmp_path / "bad.toml"
    bad.write_text("[mzi]\np_pi_watts = 1.0\n")
    with pytest.raises(ValueError, match="p_pi_watts"):
        P.reprice(path, spec_file=bad)
    with pytest.raises(ValueError, match="level"):
        P.reprice(path, "typical")


def test_print_reprice(tmp_path):
    path, _ = _record(tmp_path, with_measured=False)
    lines = []
    P.print_reprice(path, "high", echo=lines.append)
    assert "high specs" in lines[0] and "crossbar-default MF+DD" in lines[0]


def test_measured_rows_label_what_was_measured():
    rows = P.measured_rows(CONFIG, 16, repeats=1)
    assert len(rows) == 2
    for name, r in rows.items():
        assert name.startswith("measured (") and r.latency_s["measured"] > 0
        assert ("time only" in name) == (r.metrics["energy_measured"] == 0.0)

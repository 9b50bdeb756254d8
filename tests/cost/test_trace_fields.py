"""What the tracing oracle derives for pricing: phase shifters, phase sums (heater power),
knobs changed, writes per cell, digital↔analog bytes, event order, host-work roles."""
import math

import pytest
import torch

from hwsim.cost import photonic_spec, price
from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.oracle import TracingOracle
from hwsim.photonic.device import MZIConfig, MZIMeshLayer
from hwsim.trace import DigitalEvent, Trace, summarize


def _mzi(trace, n_in=16, n_out=8):
    return TracingOracle(MZIMeshLayer(n_in, n_out, MZIConfig(block=8), seed=0, name="m"), trace)


def test_phase_shifters_per_tile_are_136_for_8x8():
    trace = Trace()
    o = _mzi(trace)
    info = trace.layers["m"]
    assert info.phase_shifters == 2 * 64 + 8 == 136     # two meshes + Σ, not 64 MZIs
    assert info.mzis == 64
    assert o.info().phase_shifters == 0                  # the device's own description unchanged


def test_phase_sum_changes_and_writes_per_cell():
    trace = Trace()
    o = _mzi(trace)
    w = torch.randn(8, 16, generator=torch.Generator().manual_seed(0)) / 4
    knobs = o._device.knobs_from_weight(w)
    trace.begin_step()
    o.program(knobs)
    ev = trace.events[0]
    wrapped = sum(float(torch.remainder(knobs[n].double(), 2 * math.pi).sum())
                  for n in ("mesh_phases", "sigma_phases"))
    assert ev.phase_rad_sum == pytest.approx(wrapped, rel=1e-6)   # float32 knobs
    assert ev.knobs_changed == o._device.n_knobs          # first write: everything changes
    # a batch of P = 3: setting 0 equals the held one, setting 1 changes one phase, setting 2
    # changes it back
    mesh = knobs["mesh_phases"].unsqueeze(0).repeat(3, 1, 1, 1, 1)
    mesh[1, 0, 0, 0, 0] += 0.1
    batch = {"mesh_phases": mesh, "sigma_phases": knobs["sigma_phases"], "gain": knobs["gain"]}
    o.program(batch)
    ev = [e for e in trace.events if e.kind == "program"][1]
    assert ev.knobs_changed == 2
    assert ev.writes_per_cell_max == 3                    # that phase: first write + 2 changes
    s = trace.end_step()
    assert s["m.program.writes_per_cell_max"] == 3
    # heater power from the traced phases: P_pi/π × Σφ / settings
    r = price(s, photonic_spec())
    assert r.metrics["heater_w"] == pytest.approx(
        30e-3 / math.pi * s["m.program.phase_rad_sum"] / s["m.program.settings"])
    # a new step restarts the per-step count, the total keeps growing
    trace.begin_step()
    o.program(batch)
    s2 = trace.end_step()
    assert s2["m.program.writes_per_cell_max"] == 2
    assert s2["m.program.writes_per_cell_max_total"] == 5


def test_transfer_bytes_signal_fraction_and_order():
    trace = Trace()
    o = _mzi(trace)
    knobs = o._device.knobs_from_weight(torch.eye(8, 16))
    trace.begin_step()
    prog = o.program(knobs)
    x = torch.ones(5, 16)
    o.query(prog, x)
    s = trace.end_step()
    info = trace.layers["m"]
    nb = lambda bits: math.ceil(bits / 8)  # noqa: E731
    knob_bytes = o._device.n_knobs * nb(info.knob_bits)
    io_bytes = (s["m.mvm.dac_conversions"] * nb(info.dac_bits)
                + s["m.mvm.adc_conversions"] * nb(info.adc_bits))
    assert s["m.digital.bytes"] == knob_bytes + io_bytes > 0
    assert s["m.digital.bytes_transfer"] == s["m.digital.bytes"]
    assert s["m.mvm.signal_fraction_sum"] == pytest.approx(5.0)   # constant inputs: full scale
    # event order within the step: program first, then its knob transfer, then the query
    assert s["m.program.first_index"] == 0.0
    assert s["m.digital.first_index"] == 1.0
    assert s["m.mvm.first_index"] == 2.0
    assert s["m.program.events"] == 1 and s["m.mvm.events"] == 1


def test_crossbar_writes_and_endurance():
    trace = Trace()
    o = TracingOracle(CrossbarLayer(8, 4, CrossbarConfig(), seed=0, name="x"), trace)
    knobs = o._device.knobs_from_weight(torch.randn(4, 8) / 3)
    trace.begin_step()
    for _ in range(4):   # the same values four times: only the first write changes anything
        o.program(knobs)
    s = trace.end_step()
    assert s["x.program.knobs_changed"] == o._device.n_knobs
    assert s["x.program.writes_per_cell_max_total"] == 1
    from hwsim.cost import crossbar_spec
    r = price(s, crossbar_spec())
    # endurance is counted in program pulses: 1 write × 10 program-and-verify pulses / 1e6
    assert r.metrics["pulses_per_cell_max_total"] == 10
    assert r.metrics["endurance_used_fraction"] == pytest.approx(10 / 1e6)
    assert price(s, crossbar_spec("high")).metrics["endurance_used_fraction"] == pytest.approx(
        100 / 1e5)
    assert r.metrics["writes_per_cell_max"] == 1


def test_digital_roles():
    t = Trace()
    t.record(DigitalEvent("host", 10, role="estimator"))
    t.record(DigitalEvent("host", 5, role="optimizer"))
    t.record(DigitalEvent("host", 1))
    s = t.summary()
    assert (s["host.digital.flops_estimator"], s["host.digital.flops_optimizer"],
            s["host.digital.flops_host"], s["host.digital.flops"]) == (10, 5, 1, 16)
    with pytest.raises(ValueError, match="role"):
        t.record(DigitalEvent("host", 1, role="magic"))
    # untraced fields stay out of summaries (pricing tells "not traced" from zero)
    from hwsim.trace import ProgramEvent
    assert "a.program.knobs_changed" not in summarize([ProgramEvent("a", 1, 4, 1)])

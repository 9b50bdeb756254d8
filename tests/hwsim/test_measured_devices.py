"""Devices built from measured tables (hwsim.effects.measured) with the shipped example files:
closed forms of the curve-following pulse law and the measured phase DAC, at the layer output on
both readout paths; bad tables rejected with one clear line."""
import math

import numpy as np
import pytest
import torch

from experiments.config import resolve
from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.crossbar.presets import crossbar_from_measured
from hwsim.effects.measured import MeasuredPhaseResponse, MeasuredPulseResponse, load_curve_table
from hwsim.effects.phase_shifter import ThermoOpticDAC
from hwsim.photonic.device import MZIConfig, MZIMeshLayer

PULSE_TABLE = "examples/devices/pcm-like-pulse-curve.toml"
PHASE_TABLE = "examples/devices/thermo-optic-phase-curve.csv"
PATHS = [True, False]


def _neurosim(p, up=True, P=64, A=32.0, gmax=25.0):
    """The model the example table was generated from: G(p) = B(1 − e^{−p/A})."""
    b = gmax / (1 - math.exp(-P / A))
    return b * (1 - math.exp(-p / A)) if up else gmax - b * (1 - math.exp(-p / A))


def test_example_table_loads_as_data():
    curve, spreads = load_curve_table("T", PULSE_TABLE, "conductance_vs_pulse")
    assert len(curve["pulse"]) == 65 and spreads == {"device_to_device_rel": 0.1, "cycle_to_cycle_rel": 0.05}
    assert curve["conductance_up_us"][10] == pytest.approx(_neurosim(10), abs=1e-5)


@pytest.mark.parametrize("fused", PATHS)
def test_noise_free_pulses_follow_the_measured_curve_at_the_layer_output(fused):
    """From g_min, p up pulses land on the table's p-th point (= the model it came from); from
    g_max, p down pulses on the depression curve's; read through the oracle as weights."""
    cfg = crossbar_from_measured(PULSE_TABLE)
    assert (cfg.g_min_us, cfg.g_max_us) == (0.0, pytest.approx(25.0))
    quiet = CrossbarConfig(g_min_us=cfg.g_min_us, g_max_us=cfg.g_max_us, effects=(
        MeasuredPulseResponse(PULSE_TABLE, device_to_device_rel=0.0, cycle_to_cycle_rel=0.0),))
    dev = CrossbarLayer(2, 1, quiet, seed=0)
    dev.fused = fused
    knobs = {"conductances": torch.tensor([[[0.0, 0.0]], [[0.0, 0.0]]]), "tile_scale": torch.ones(1, 1)}
    prog = dev.program(knobs)
    new = dev.pulse(prog, torch.tensor([[[5, 17]], [[0, 0]]]))
    y = dev.query(new, torch.eye(2))[0, :, 0]
    want = torch.tensor([_neurosim(5), _neurosim(17)]) / cfg.g_max_us
    torch.testing.assert_close(y, want, atol=1e-5, rtol=1e-5)
    top = {"conductances": torch.full((2, 1, 2), cfg.g_max_us), "tile_scale": torch.ones(1, 1)}
    down = dev.pulse(dev.program(top), torch.tensor([[[-3, 0]], [[0, 0]]]))
    torch.testing.assert_close(down.state["g"][0, 0, 0, 0], torch.tensor(_neurosim(3, up=False)), atol=1e-4, rtol=1e-5)
    # one pulse from a conductance between table points: interpolated p* + 1
    mid = {"conductances": torch.tensor([[[_neurosim(2.5), 0.0]], [[0.0, 0.0]]]), "tile_scale": torch.ones(1, 1)}
    one = dev.pulse(dev.program(mid), torch.tensor([[[1, 0]], [[0, 0]]]))
    lin = 0.5 * (_neurosim(3) + _neurosim(4))              # piecewise-linear between points 3 and 4
    assert float(one.state["g"][0, 0, 0, 0]) == pytest.approx(lin, rel=2e-3)


def test_per_device_spread_of_the_measured_table():
    """f_i = 1 + 0.1 z_i per cell: one noise-free-c2c pulse from g_min gives Δg = f_i·G(1)."""
    e = MeasuredPulseResponse(PULSE_TABLE, cycle_to_cycle_rel=0.0)
    dev = CrossbarLayer(100, 50, CrossbarConfig(g_min_us=0.0, g_max_us=e.g_range_us[1], effects=(e,)), seed=1)
    prog = dev.program({"conductances": torch.zeros(2, 50, 100), "tile_scale": torch.ones(1, 1)})
    g = dev.pulse(prog, torch.ones(2, 50, 100, dtype=torch.int64)).state["g"][0]
    ratio = (g / _neurosim(1)).double()
    assert float(ratio.std()) == pytest.approx(0.1, rel=0.05) and float(ratio.mean()) == pytest.approx(1.0, abs=0.005)
    torch.testing.assert_close(ratio.float(), dev._cell_state[MeasuredPulseResponse].float(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("fused", PATHS)
def test_measured_phase_dac_at_the_mesh_output(fused):
    """V* = curve⁻¹(φ), V = ΔV·round(V*/ΔV), φ = curve(V) (np.interp on the table): the applied
    phases, and the layer output equals an ideal layer programmed with them; the example table
    (γV² sampled at 33 points) stays within its linear-interpolation error of ThermoOpticDAC."""
    e = MeasuredPhaseResponse(PHASE_TABLE, bits=6, device_to_device_rel=0.0)
    dev = MZIMeshLayer(4, 4, MZIConfig(block=4, effects=(e,)), seed=0)
    ideal = MZIMeshLayer(4, 4, MZIConfig(block=4, effects=()), seed=0)
    dev.fused = ideal.fused = fused
    knobs = dev.knobs_from_weight(torch.randn(4, 4, generator=torch.Generator().manual_seed(0)))
    prog = dev.program(knobs)
    curve, _ = load_curve_table("T", PHASE_TABLE, "phase_vs_voltage")
    v, ph = np.array(curve["voltage_v"]), np.array(curve["phase_rad"])
    dv = v[-1] / 63
    target = np.remainder(knobs["mesh_phases"].double().numpy(), 2 * math.pi)
    applied = np.interp(np.round(np.interp(target, ph, v) / dv) * dv, v, ph)
    np.testing.assert_allclose(prog.state["mesh"][0].numpy(), applied, atol=1e-5)
    want = {**knobs, "mesh_phases": prog.state["mesh"][0], "sigma_phases": prog.state["sigma"][0]}
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(dev.query(prog, x), ideal.query(ideal.program(want), x), rtol=1e-5, atol=1e-5)
    law = ThermoOpticDAC(bits=6, v_pi_v=4.36, v_max_v=math.sqrt(2) * 4.36)
    diff = (prog.state["mesh"][0] - law.phase(law.voltage(knobs["mesh_phases"]))).abs()
    # the same code but for targets near a code boundary (interpolation moves V* by < 1 code)
    assert float((diff < 0.005).float().mean()) > 0.9 and float(diff.max()) < 2 * law.gamma_rad_per_v2 * law.v_max_v * law.step_v


def test_bad_tables_name_the_problem(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("voltage_v,phase_rad\n0,0\n1,0.5\n0.5,7\n")
    with pytest.raises(ValueError, match="monotonic"):
        MeasuredPhaseResponse(str(bad))
    with pytest.raises(ValueError, match="no such file"):
        MeasuredPulseResponse("nowhere.toml")
    evil = tmp_path / "evil.toml"
    evil.write_text('kind = "conductance_vs_pulse"\n[curve]\npulse = ["__import__(\'os\')", 1]\n'
                    'conductance_up_us = [0, 1]\nconductance_down_us = [1, 0]\n')
    with pytest.raises(ValueError, match="non-number"):
        MeasuredPulseResponse(str(evil))
    with pytest.raises(ValueError, match="g_min_us"):
        CrossbarConfig(g_min_us=0.0, g_max_us=40.0, effects=(MeasuredPulseResponse(PULSE_TABLE),))


def test_measured_tables_are_reachable_from_config():
    cfg = resolve({"device": {"preset": "mzi-default", "thermo_optic_dac": {"enabled": False},
                              "measured_phase_response": {"table": PHASE_TABLE, "bits": 8}}})
    assert cfg.device.physics.effect(MeasuredPhaseResponse).bits == 8

"""Phase chain effects (devices.md §5.1–5.5): each against its closed form alone and at the
layer output (the output equals the ideal product of the phases the closed form predicts)."""
import math

import pytest
import torch

from hwsim.effects.crosstalk import ThermalCrosstalk
from hwsim.effects.noise import PhaseBias
from hwsim.effects.phase_shifter import GammaSpread, ThermoOpticDAC
from hwsim.effects.quantize import PhaseDAC
from hwsim.photonic.device import MZIConfig, MZIMeshLayer
from hwsim.photonic.layout import MeshLayout
from hwsim.photonic.topology import ClementsTopology


def _layer(*effects, n=8, k=8, seed=0):
    return MZIMeshLayer(n, n, MZIConfig(block=k, effects=tuple(effects)), seed=seed)


def _weights(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, n, generator=g, dtype=torch.float64), torch.randn(16, n, generator=g)


def _output_equals_twin_of(dev, knobs, mesh, sig, x):
    """The layer output equals the ideal product of the weight built from (mesh, sig)."""
    y = dev.query(dev.program(knobs), x)[0]
    w = dev.digital_twin({"mesh_phases": mesh, "sigma_phases": sig, "gain": knobs["gain"]})
    torch.testing.assert_close(y, x @ w.T.float(), atol=2e-5, rtol=1e-4)


# ------------------------------------------------------------------ voltage DAC, φ = γV²

def test_voltage_dac_law_and_all_codes():
    dac = ThermoOpticDAC(bits=4, v_pi_v=4.0, v_max_v=4.0 * math.sqrt(2))
    assert dac.gamma_rad_per_v2 == pytest.approx(math.pi / 16)
    v = dac.voltage(torch.linspace(0, 2 * math.pi - 1e-6, 20001, dtype=torch.float64))
    codes = torch.round(v / dac.step_v).long()
    assert torch.equal(torch.unique(codes), torch.arange(16))           # all 2^b codes used
    assert float(dac.phase(torch.tensor(dac.v_max_v))) == pytest.approx(2 * math.pi)
    assert float(dac.phase(torch.tensor(4.0))) == pytest.approx(math.pi)   # φ(V_π) = π


def test_voltage_grid_has_sqrt2_the_rms_phase_error_of_a_phase_grid():
    """Closed form: on a V grid spanning V_2π, dφ = 2γV dV and E[(2γV)²] = 2 (2π/V_2π)², so the
    RMS phase error is √2 × that of a uniform phase grid with as many steps."""
    bits = 8
    phi = torch.rand(400_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 * math.pi
    v_pi = 4.36
    dac = ThermoOpticDAC(bits=bits, v_pi_v=v_pi, v_max_v=math.sqrt(2) * v_pi)
    err_v = dac.phase(dac.voltage(phi)) - phi
    step = 2 * math.pi / (2 ** bits - 1)                                # same number of steps
    err_p = torch.round(phi / step) * step - phi
    rms_v, rms_p = float(err_v.pow(2).mean().sqrt()), float(err_p.pow(2).mean().sqrt())
    assert rms_p == pytest.approx(step / math.sqrt(12), rel=0.01)
    assert rms_v / rms_p == pytest.approx(math.sqrt(2), rel=0.02)


def test_phase_dac_uses_all_codes_on_the_periodic_mesh_phases():
    q = PhaseDAC(bits=3).mesh(torch.linspace(0, 2 * math.pi, 1000))
    assert len(torch.unique(torch.round(q / (2 * math.pi / 8)))) == 8


def test_voltage_dac_at_the_layer_output():
    dac = ThermoOpticDAC(bits=6)
    dev = _layer(dac)
    w, x = _weights()
    knobs = dev.knobs_from_weight(w)
    mesh = dac.phase(dac.voltage(knobs["mesh_phases"]))
    sig = dac.phase(dac.voltage(knobs["sigma_phases"], wrap=False))
    _output_equals_twin_of(dev, knobs, mesh, sig, x)
    # and it is not the identity: 6 bits give a visible error
    y = dev.query(dev.program(knobs), x)[0]
    assert float((y - x @ w.T.float()).abs().max()) > 1e-3


# ------------------------------------------------------------------ γ spread

def test_gamma_spread_is_a_truncated_normal_ratio():
    eff = GammaSpread(sigma_rad_per_v2=0.002, v_pi_v=4.36)
    assert eff.relative_sigma == pytest.approx(0.002 / (math.pi / 4.36 ** 2))
    lay = MeshLayout(20, 20, 8, ClementsTopology.build(8))
    r = eff.fabricate(lay, torch.Generator().manual_seed(0))["mesh"]
    sd_trunc = math.sqrt(1 - 2 * 2 * math.exp(-2) / math.sqrt(2 * math.pi) / math.erf(2 / math.sqrt(2)))
    assert float(r.mean()) == pytest.approx(1.0, abs=2e-4)
    assert float(r.std()) == pytest.approx(eff.relative_sigma * sd_trunc, rel=0.03)
    assert float((r - 1).abs().max()) <= 2 * eff.relative_sigma * (1 + 1e-5)


def test_gamma_spread_at_the_layer_output():
    eff = GammaSpread(sigma_rad_per_v2=0.005)
    dev = _layer(eff)
    w, x = _weights()
    knobs = dev.knobs_from_weight(w)
    fab = dev._fab[type(eff)]
    _output_equals_twin_of(dev, knobs, knobs["mesh_phases"] * fab["mesh"], knobs["sigma_phases"] * fab["sigma"], x)


# ------------------------------------------------------------------ thermal crosstalk

def test_crosstalk_neighbours_follow_the_layout():
    lay = MeshLayout(1, 1, 4, ClementsTopology.build(4))
    # Clements n = 4: MZIs 0:(c0,m0) 1:(c0,m2) 2:(c1,m1) 3:(c2,m0) 4:(c2,m2) 5:(c3,m1)
    a = lay.mesh_adjacency[:6, :6]
    expected = {0: {1, 2}, 1: {0, 2}, 2: {0, 1, 3, 4}, 3: {2, 4, 5}, 4: {2, 3, 5}, 5: {3, 4}}
    assert {i: set(torch.nonzero(a[i]).flatten().tolist()) for i in range(6)} == expected
    assert torch.equal(lay.mesh_adjacency, lay.mesh_adjacency.T)
    # one driven heater: each neighbour picks up exactly c·φ, the heater itself is unchanged
    mesh = torch.zeros(1, 1, 1, 2, 16)
    mesh[..., 0, 2] = 1.5
    out, _ = ThermalCrosstalk(coupling=0.01).program_phases(mesh, torch.zeros(1, 1, 1, 4), lay, None)
    got = out[0, 0, 0, 0, :6]
    assert torch.allclose(got, torch.tensor([0.015, 0.015, 1.5, 0.015, 0.015, 0.0]))


def test_crosstalk_at_the_layer_output():
    eff = ThermalCrosstalk(coupling=0.01)
    dev = _layer(eff)
    w, x = _weights()
    knobs = dev.knobs_from_weight(w)
    a, s = dev.layout.mesh_adjacency, dev.layout.sigma_adjacency
    mesh = knobs["mesh_phases"] + 0.01 * knobs["mesh_phases"] @ a.T
    sig = knobs["sigma_phases"] + 0.01 * knobs["sigma_phases"] @ s.T
    _output_equals_twin_of(dev, knobs, mesh, sig, x)


# ------------------------------------------------------------------ the whole chain, in order

def test_phase_chain_order_is_dac_gamma_crosstalk_bias_whatever_the_config_order():
    dac, gam, xt, bias = ThermoOpticDAC(bits=8), GammaSpread(0.004), ThermalCrosstalk(0.01), PhaseBias(0.3)
    dev = _layer(bias, xt, gam, dac, seed=4)                 # deliberately shuffled
    w, x = _weights()
    knobs = dev.knobs_from_weight(w)
    fg, fb = dev._fab[type(gam)], dev._fab[type(bias)]
    a, s = dev.layout.mesh_adjacency, dev.layout.sigma_adjacency
    heat_m = dac.phase(dac.voltage(knobs["mesh_phases"])) * fg["mesh"]
    heat_s = dac.phase(dac.voltage(knobs["sigma_phases"], wrap=False)) * fg["sigma"]
    mesh = heat_m + 0.01 * heat_m @ a.T + fb["mesh"]
    sig = heat_s + 0.01 * heat_s @ s.T + fb["sigma"]
    st = dev.program(knobs).state
    torch.testing.assert_close(st["mesh"][0], mesh, atol=1e-5, rtol=0)
    torch.testing.assert_close(st["sigma"][0], sig, atol=1e-5, rtol=0)
    _output_equals_twin_of(dev, knobs, mesh, sig, x)


def test_phase_bias_at_the_layer_output():
    eff = PhaseBias(half_width_rad=0.2)
    dev = _layer(eff, seed=2)
    w, x = _weights()
    knobs = dev.knobs_from_weight(w)
    fab = dev._fab[type(eff)]
    _output_equals_twin_of(dev, knobs, knobs["mesh_phases"] + fab["mesh"], knobs["sigma_phases"] + fab["sigma"], x)


def test_two_phase_dacs_are_rejected():
    with pytest.raises(ValueError, match="one phase DAC"):
        MZIConfig(effects=(PhaseDAC(), ThermoOpticDAC()))
    with pytest.raises(ValueError, match="v_max_v"):
        ThermoOpticDAC(v_pi_v=4.0, v_max_v=5.0)

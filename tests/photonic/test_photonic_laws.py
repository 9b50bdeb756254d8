"""Photonic laws pinned against closed forms, alone and at the layer output on both paths
(fused numba kernels and the torch path, each against the closed form): detection noise from the
full optical power (field in phase and in quadrature with the LO), the voltage DAC's step and
code use, thermal crosstalk of the output-screen δ and Σ heaters."""
import math

import pytest
import torch

from hwsim.effects.crosstalk import ThermalCrosstalk
from hwsim.effects.detection import K_B, Q_E, Detection
from hwsim.effects.phase_shifter import ThermoOpticDAC
from hwsim.photonic.device import MZIConfig, MZIMeshLayer
from hwsim.photonic.presets import PHOTONIC_PRESETS, V_2PI

PATHS = [True, False]


def _layer(effects, k=2, n=None, fused=True, seed=0):
    n = n or k
    d = MZIMeshLayer(n, n, MZIConfig(block=k, effects=tuple(effects)), seed=seed)
    d.fused = fused
    return d


def _detector_variance(det: Detection, modulators: int, power: float) -> float:
    """σ² of a normalised output at detected power |ŷ|² = ``power`` from the physical constants:
    homodyne 2qB[R(P_LO + P_m|ŷ|²) + 2 I_d] + 4kTB/R_L over (2R√(P_LO P_m))²; intensity
    2qB(R P_m|ŷ|² + I_d) + 4kTB/R_L over (R P_m)²."""
    r, b = det.responsivity_a_per_w, det.bandwidth_hz
    laser = det.modulator_power_w * modulators
    thermal = 4 * K_B * det.temperature_k * b / det.load_ohm
    if det.mode == "homodyne":
        p_m = (1 - det.lo_fraction) * laser / modulators
        p_lo = det.lo_fraction * laser / modulators
        return (2 * Q_E * b * (r * (p_lo + p_m * power) + 2 * det.dark_current_a) + thermal) / (2 * r * math.sqrt(p_lo * p_m)) ** 2
    p_m = laser / modulators
    return (2 * Q_E * b * (r * p_m * power + det.dark_current_a) + thermal) / (r * p_m) ** 2


@pytest.mark.parametrize("fused", PATHS)
@pytest.mark.parametrize("mode", ["homodyne", "intensity"])
@pytest.mark.parametrize("quadrature", [False, True])
def test_detection_noise_follows_the_full_optical_power(fused, mode, quadrature):
    """Field ŷ = e^{iψ}·1 on output 0 (ψ = 0 in phase, π/2 in quadrature with the LO): the
    output's variance is the closed form at |ŷ|² = 1 in both cases (the LO power equals the
    signal power here, so a shot term from (Re ŷ)² alone would be half of it in quadrature)."""
    det = Detection(mode=mode, laser_power_w=1.0, lo_fraction=0.5 if mode == "homodyne" else 0.0,
                    modulator_power_w=0.1)
    dev = _layer((det,), fused=fused)
    knobs = dev.knobs_from_weight(torch.eye(2))
    if quadrature:                        # output screen δ of the U mesh + π/2: W → i W
        knobs["mesh_phases"][0, 0, 1, -2:] += math.pi / 2
    B = 20000
    x = torch.zeros(B, 2)
    x[:, 0] = 1.0
    y = dev.query(dev.program(knobs), x, torch.Generator().manual_seed(3))[0, :, 0].double()
    expected_var = _detector_variance(det, 2, 1.0)
    mean = (0.0 if quadrature else 1.0) if mode == "homodyne" else 1.0
    assert float(y.mean()) == pytest.approx(mean, abs=5 * math.sqrt(expected_var / B) + 1e-6)
    assert float(y.var()) == pytest.approx(expected_var, rel=0.05)
    if mode == "homodyne":                # the (Re ŷ)²-only law would be this much lower
        low = _detector_variance(det, 2, 0.0)
        assert expected_var / low > 1.9


@pytest.mark.parametrize("fused", PATHS)
@pytest.mark.parametrize("quadrature", [False, True])
def test_homodyne_noise_follows_the_full_power_through_a_fine_adc(fused, quadrature):
    """The same law on the readout path with an ADC (the fused kernel's homodyne fast path):
    a 16-bit ADC over ±2 adds Δ²/12 (Δ = 2/32767) to the closed-form variance at |ŷ|² = 1."""
    from hwsim.effects.quantize import OutputADC
    det = Detection(mode="homodyne", laser_power_w=1.0, lo_fraction=0.5, modulator_power_w=0.1)
    adc = OutputADC(bits=16, full_scale=2.0)
    dev = _layer((det, adc), fused=fused)
    knobs = dev.knobs_from_weight(torch.eye(2))
    if quadrature:
        knobs["mesh_phases"][0, 0, 1, -2:] += math.pi / 2
    x = torch.zeros(20000, 2)
    x[:, 0] = 1.0
    y = dev.query(dev.program(knobs), x, torch.Generator().manual_seed(3))[0, :, 0].double()
    expected = _detector_variance(det, 2, 1.0) + adc.step ** 2 / 12
    assert float(y.var()) == pytest.approx(expected, rel=0.05)


def test_noise_law_equals_the_physical_closed_form():
    for mode, lo in (("homodyne", 0.5), ("intensity", 0.0)):
        det = Detection(mode=mode, laser_power_w=1.0, lo_fraction=lo, modulator_power_w=1e-4)
        c0, c1 = det.noise_law(16)
        for s in (0.0, 0.3, 1.0):
            assert c0 + c1 * s == pytest.approx(_detector_variance(det, 16, s), rel=1e-9)


# ------------------------------------------------------------------ voltage DAC

def test_mzi_default_voltage_dac_spans_v_2pi_and_uses_every_code():
    dac = next(e for e in PHOTONIC_PRESETS["mzi-default"]().effects if isinstance(e, ThermoOpticDAC))
    assert dac.v_max_v == pytest.approx(math.sqrt(2) * 4.36) and V_2PI == dac.v_max_v
    assert dac.step_v == pytest.approx(dac.v_max_v / 255)
    phi = torch.linspace(0, 2 * math.pi, 200_001)[:-1]
    codes = torch.unique(torch.round(dac.voltage(phi) / dac.step_v))
    assert codes.numel() == 256                      # 146 of 256 with V_max = 10.8 V


@pytest.mark.parametrize("fused", PATHS)
def test_voltage_dac_step_at_the_layer_output(fused):
    """Targets γ((n + f)·ΔV)² land on γ(round(n + f)·ΔV)², ΔV = V_max/(2^b − 1): the applied
    phases (and so the layer output) equal an ideal layer programmed with those phases."""
    dac = ThermoOpticDAC(bits=6, v_pi_v=4.36, v_max_v=V_2PI)
    gam, dv = math.pi / 4.36 ** 2, V_2PI / 63
    dev, ideal = _layer((dac,), k=4, fused=fused), _layer((), k=4, fused=fused)
    g = torch.Generator().manual_seed(0)
    n = torch.randint(0, 50, dev.layout.mesh_shape, generator=g).double()
    f = torch.rand(dev.layout.mesh_shape, generator=g, dtype=torch.float64) * 0.8 - 0.4   # |f| < 0.5
    knobs = {"mesh_phases": (gam * ((n + f) * dv) ** 2).float(),
             "sigma_phases": torch.full(dev.layout.sigma_shape, 0.3), "gain": torch.ones(1, 1)}
    prog = dev.program(knobs)
    applied = (gam * (n * dv) ** 2).float()
    torch.testing.assert_close(prog.state["mesh"][0], applied, rtol=1e-5, atol=1e-5)
    sig_v = torch.round(torch.sqrt(torch.tensor(0.3, dtype=torch.float64) / gam) / dv) * dv
    want = dict(knobs, mesh_phases=applied, sigma_phases=torch.full(dev.layout.sigma_shape, float(gam * sig_v ** 2)))
    x = torch.randn(5, 4, generator=g)
    torch.testing.assert_close(dev.query(prog, x), ideal.query(ideal.program(want), x), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ crosstalk of δ and Σ heaters

@pytest.mark.parametrize("fused", PATHS)
@pytest.mark.parametrize("which", ["screen", "sigma"])
def test_output_screen_and_sigma_heaters_take_part_in_crosstalk(fused, which):
    """One heater at phase 1 rad, all others 0: its row neighbours get c·1 (δ_{j±1} of the same
    screen, or Σ_{i±1}); at the layer output the device equals an ideal layer with those phases."""
    c, k = 0.02, 4
    dev, ideal = _layer((ThermalCrosstalk(coupling=c),), k=k, fused=fused), _layer((), k=k, fused=fused)
    m = dev.n_mzi
    mesh = torch.zeros(dev.layout.mesh_shape)
    sig = torch.full(dev.layout.sigma_shape, 0.0)
    if which == "screen":
        mesh[0, 0, 1, 2 * m + 1] = 1.0                 # δ_1 of the U mesh
    else:
        sig[0, 0, 1] = 1.0
    knobs = {"mesh_phases": mesh, "sigma_phases": sig, "gain": torch.ones(1, 1)}
    prog = dev.program(knobs)
    want_mesh, want_sig = mesh.clone(), sig.clone()
    if which == "screen":
        want_mesh[0, 0, 1, 2 * m + 0] = c
        want_mesh[0, 0, 1, 2 * m + 2] = c
    else:
        want_sig[0, 0, 0] = c
        want_sig[0, 0, 2] = c
    torch.testing.assert_close(prog.state["mesh"][0], want_mesh)
    torch.testing.assert_close(prog.state["sigma"][0], want_sig)
    x = torch.randn(6, k, generator=torch.Generator().manual_seed(1))
    want = {"mesh_phases": want_mesh, "sigma_phases": want_sig, "gain": torch.ones(1, 1)}
    torch.testing.assert_close(dev.query(prog, x), ideal.query(ideal.program(want), x), rtol=1e-5, atol=1e-6)

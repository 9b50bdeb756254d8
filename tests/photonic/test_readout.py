"""Readout side of the MZI layer: per-block gain, ADC full scale, power-derived detection
(homodyne and intensity), phase noise and drift on the device clock — closed forms alone and at
the layer output."""
import math

import pytest
import torch

from hwsim.effects import rng
from hwsim.effects.detection import K_B, Q_E, Detection
from hwsim.effects.phase_drift import PhaseDrift
from hwsim.effects.noise import DetectorNoise, PhaseNoise
from hwsim.effects.phase_shifter import ThermoOpticDAC
from hwsim.effects.quantize import InputDAC, OutputADC, PhaseDAC
from hwsim.oracle import TracingOracle
from hwsim.photonic.device import MZIConfig, MZIMeshLayer
from hwsim.photonic.presets import adc_full_scale
from hwsim.trace import Trace


def _layer(*effects, n_in=8, n_out=8, k=8, seed=0):
    return MZIMeshLayer(n_in, n_out, MZIConfig(block=k, effects=tuple(effects)), seed=seed)


# ------------------------------------------------------------------ per-block gain (pin)

def _block_errors(dev, w, knobs, x):
    y = dev.query(dev.program(knobs), x, torch.Generator().manual_seed(1))[0]
    yi = x @ w.T
    return [float((y[:, 8 * b:8 * b + 8] - yi[:, 8 * b:8 * b + 8]).norm() / yi[:, 8 * b:8 * b + 8].norm())
            for b in range(2)]


@pytest.mark.parametrize("effects", [
    (ThermoOpticDAC(bits=8), Detection(), InputDAC(8), OutputADC(8, math.sqrt(8))),
    (PhaseDAC(bits=8), DetectorNoise(sigma_norm=0.006), InputDAC(8), OutputADC(8, 2.0))])
def test_a_weak_block_keeps_the_relative_error_of_a_strong_one(effects):
    """Pin (issue): block 20× weaker than the rest, relative error < 2× the strong block's.
    One global gain (emulated with the same device) gives 9–20× (measured 0.039 vs 0.74)."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(8, 8, generator=g) / 8 ** 0.5
    w = torch.cat([a, a / 20], dim=0)                   # two block rows: strong, weak
    x = torch.randn(512, 8, generator=g).clamp(-3, 3)
    dev = _layer(*effects, n_out=16)
    knobs = dev.knobs_from_weight(w)
    assert float(knobs["gain"][1, 0] / knobs["gain"][0, 0]) == pytest.approx(1 / 20, rel=1e-5)
    strong, weak = _block_errors(dev, w, knobs, x)
    assert weak < 2 * strong
    top = knobs["gain"].max()
    sig = torch.cos(knobs["sigma_phases"]) * knobs["gain"][..., None] / top
    one_gain = {**knobs, "gain": torch.full_like(knobs["gain"], float(top)),
                "sigma_phases": torch.arccos(sig.clamp(-1, 1))}
    strong_g, weak_g = _block_errors(dev, w, one_gain, x)
    assert weak_g > 5 * strong_g


def test_per_block_gain_scales_each_block_partial_sum():
    dev = _layer(n_in=16, n_out=8)
    g = torch.Generator().manual_seed(3)
    w = torch.randn(8, 16, generator=g)
    knobs = dev.knobs_from_weight(w)
    assert knobs["gain"].shape == (1, 2)
    knobs["gain"] = knobs["gain"] * torch.tensor([[2.0, 0.5]])
    x = torch.randn(4, 16, generator=g)
    y = dev.query(dev.program(knobs), x)[0]
    torch.testing.assert_close(y, 2 * x[:, :8] @ w[:, :8].T + 0.5 * x[:, 8:] @ w[:, 8:].T, atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------------ ADC full scale

def test_adc_full_scale_passes_aligned_8x8_outputs():
    """|y_i| ≤ σ_max ‖x‖₂ ≤ √k (Cauchy–Schwarz); an input aligned with a row of an orthogonal
    block reaches √k, which a full scale of 2.0 clips and √k does not."""
    assert adc_full_scale(8) == pytest.approx(math.sqrt(8))
    h = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
    w = torch.kron(torch.kron(h, h), h) / math.sqrt(8)   # orthogonal, all |w_ij| = 1/√8
    x = torch.sign(w[:1])                                 # aligned with row 0: y_0 = √8
    for fs, clipped in ((2.0, True), (adc_full_scale(8), False)):
        dev = _layer(OutputADC(bits=12, full_scale=fs))
        y = dev.query(dev.program(dev.knobs_from_weight(w)), x)[0, 0, 0]
        assert (abs(float(y) - math.sqrt(8)) > 0.5) == clipped


# ------------------------------------------------------------------ detection

def test_homodyne_shot_noise_snr_pin():
    """2RP_s/(qB) = 27.95 dB at P_s = 1 µW, B = 20 GHz, R = 1 A/W (strong LO)."""
    det = Detection(responsivity_a_per_w=1.0, bandwidth_hz=20e9)
    assert 10 * math.log10(det.full_scale_snr(1e-6)) == pytest.approx(27.95, abs=0.005)
    # with every term and a weak LO the SNR is lower
    assert det.full_scale_snr(1e-6, p_lo_w=1e-6) < det.full_scale_snr(1e-6)


def test_homodyne_snr_at_the_layer_output():
    """Shot-noise-only receiver (T = 0, no dark current), LO 999× the signal: the layer's
    full-scale SNR is 2RP_m/(qB)·P_LO/(P_LO+P_m) with P_m = 1 µW."""
    k, p_m = 8, 1e-6
    f = 0.999
    det = Detection(laser_power_w=p_m * k / (1 - f), lo_fraction=f, temperature_k=0.0, dark_current_a=0.0)
    assert det.mode_power_w(k) == pytest.approx(p_m)
    dev = _layer(det)
    y = dev.query(dev.program(dev.knobs_from_weight(torch.eye(8))), torch.ones(4096, 8),
                  torch.Generator().manual_seed(0))[0]
    snr_db = 10 * math.log10(1 / float(y.var()))
    p_lo = det.lo_power_w(k)
    expected = 2 * p_m / (Q_E * 20e9) * p_lo / (p_lo + p_m)
    assert float(y.mean()) == pytest.approx(1.0, abs=1e-3)
    assert snr_db == pytest.approx(10 * math.log10(expected), abs=0.1)
    assert snr_db == pytest.approx(27.95, abs=0.1)


def test_homodyne_noise_std_from_optical_power_at_the_layer_output():
    """σ_y = √(2qB[R(P_LO + P_m y²) + 2I_d] + 4k_BTB/R_L) / (2R√(P_LO P_m)) times the block gain."""
    det = Detection(laser_power_w=1e-4, lo_fraction=0.5)
    dev = _layer(det)
    knobs = dev.knobs_from_weight(3.0 * torch.eye(8))             # gain 3, ŷ = x
    y = dev.query(dev.program(knobs), torch.full((4096, 8), 0.5), torch.Generator().manual_seed(0))[0]
    # α = 0.5 (noise management), ŷ = 1 at the detectors
    p_m, p_lo = det.mode_power_w(8), det.lo_power_w(8)
    var_i = 2 * Q_E * 20e9 * (p_lo + p_m + 2e-10) + 4 * K_B * 300 * 20e9 / 166
    sigma = math.sqrt(var_i) / (2 * math.sqrt(p_lo * p_m)) * 3.0 * 0.5
    assert float(y.mean()) == pytest.approx(1.5, abs=0.01)
    assert float(y.std()) == pytest.approx(sigma, rel=0.03)
    for more_power in (Detection(laser_power_w=4e-4, lo_fraction=0.5),):
        dev2 = _layer(more_power)
        y2 = dev2.query(dev2.program(knobs), torch.full((4096, 8), 0.5), torch.Generator().manual_seed(0))[0]
        assert float(y2.std()) < 0.3 * float(y.std())           # 4× power: thermal-limited, σ/4


def test_intensity_detection_is_a_square_law_with_power_noise():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(8, 16, generator=g)
    x = torch.randn(6, 16, generator=g)
    quiet = Detection(mode="intensity", laser_power_w=100.0, lo_fraction=0.0)
    dev = _layer(quiet, n_in=16)
    y = dev.query(dev.program(dev.knobs_from_weight(w)), x, torch.Generator().manual_seed(1))[0]
    expected = (x[:, :8] @ w[:, :8].T) ** 2 + (x[:, 8:] @ w[:, 8:].T) ** 2   # Σ_q |W_pq x_q|²
    torch.testing.assert_close(y, expected, rtol=1e-3, atol=1e-3)
    assert dev.intensity and dev.info().photodiodes_per_output == 1
    # noise std from power: σ = √(2qB(RP_m|ŷ|² + I_d) + 4k_BTB/R_L)/(RP_m)
    det = Detection(mode="intensity", laser_power_w=1e-3, lo_fraction=0.0)
    dev = _layer(det)
    y = dev.query(dev.program(dev.knobs_from_weight(torch.eye(8))), torch.ones(4096, 8),
                  torch.Generator().manual_seed(2))[0]
    p_m = det.mode_power_w(8)
    sigma = math.sqrt(2 * Q_E * 20e9 * (p_m + 1e-10) + 4 * K_B * 300 * 20e9 / 166) / p_m
    assert float(y.mean()) == pytest.approx(1.0, abs=0.01)
    assert float(y.std()) == pytest.approx(sigma, rel=0.03)


def test_detection_power_is_traced_and_checked():
    det = Detection(laser_power_w=0.02, lo_fraction=0.25)
    dev = MZIMeshLayer(16, 16, MZIConfig(block=8, effects=(det,)), name="L")
    info = dev.info()
    assert info.laser_power_w == 0.02 and info.photodiodes_per_output == 2
    assert info.detector_signal_power_w == pytest.approx(0.75 * 0.02 / (2 * 2 * 8))
    trace = Trace()
    oracle = TracingOracle(dev, trace)
    trace.begin_step()
    oracle.query(oracle.program(dev.knobs_from_weight(torch.eye(16))), torch.ones(2, 16))
    s = trace.end_step()
    assert s["L.info.laser_power_w"] == pytest.approx(0.02) and s["L.info.photodiodes_per_output"] == 2
    with pytest.raises(ValueError, match="Detection.mode"):
        Detection(mode="direct")
    with pytest.raises(ValueError, match="lo_fraction"):
        Detection(mode="homodyne", lo_fraction=0.0)


def test_laser_sized_to_the_array_keeps_the_snr_of_every_layer_size():
    """modulator_power_w: P_laser = P_mod · p q k, so the detector noise of a layer with 8× the
    modulators equals the small one's; a fixed laser shared by 8× the modulators gives 8× less
    power per detector: thermal-limited σ ∝ 1/P, so the output noise grows ~8×."""
    sized = Detection(laser_power_w=1.0, lo_fraction=0.5, modulator_power_w=2e-5)
    fixed = Detection(laser_power_w=2e-5 * 8, lo_fraction=0.5)      # equal for the 8-modulator layer
    assert sized.total_laser_power_w(64) == pytest.approx(64 * 2e-5)
    assert sized.mode_power_w(64) == pytest.approx(1e-5) and sized.lo_power_w(64) == pytest.approx(1e-5)
    stds = {}
    for name, det in (("sized", sized), ("fixed", fixed)):
        for n_out in (8, 64):                                       # p q k = 8 or 64 modulators
            dev = _layer(det, n_in=8, n_out=n_out)
            w = torch.zeros(n_out, 8)
            w[:8] = torch.eye(8)
            y = dev.query(dev.program(dev.knobs_from_weight(w)), torch.ones(4096, 8),
                          torch.Generator().manual_seed(0))[0][:, :8]
            stds[name, n_out] = float(y.std())
            assert dev.info().laser_power_w == pytest.approx(det.total_laser_power_w(n_out))
    assert stds["sized", 64] == pytest.approx(stds["sized", 8], rel=0.05)
    assert stds["fixed", 8] == pytest.approx(stds["sized", 8], rel=0.05)
    assert stds["fixed", 64] > 5.0 * stds["fixed", 8]
    with pytest.raises(ValueError, match="modulator_power_w"):
        Detection(modulator_power_w=0.0)


# ------------------------------------------------------------------ phase noise and drift

def test_phase_noise_output_spread_is_linear_in_sigma():
    w = torch.randn(8, 8, generator=torch.Generator().manual_seed(0))
    spread = []
    for s in (0.005, 0.01):
        dev = _layer(PhaseNoise(sigma_rad=s))
        prog = dev.program(dev.knobs_from_weight(w))
        outs = torch.stack([dev.query(prog, torch.ones(1, 8), torch.Generator().manual_seed(i))[0, 0]
                            for i in range(200)])
        spread.append(float(outs.std(0).mean()))
    assert spread[1] / spread[0] == pytest.approx(2.0, rel=0.15)


def test_drift_closed_form_and_the_device_clock():
    drift = PhaseDrift(sigma_rad_per_sqrt_s=0.01)
    dev = _layer(drift)
    w = torch.randn(8, 8, generator=torch.Generator().manual_seed(0))
    x = torch.randn(32, 8, generator=torch.Generator().manual_seed(1))
    prog = dev.program(dev.knobs_from_weight(w), torch.Generator().manual_seed(5))
    xi = dev.drift_normals(prog)
    assert xi.shape == (1, dev.layout.n_shifters)
    # the seeds are drawn at programming, the normals when first needed: rng.normal's numbers
    assert torch.equal(xi, rng.normal((1, dev.layout.n_shifters), torch.Generator().manual_seed(5)))
    m, s = drift.query_phases(prog.state["mesh"], prog.state["sigma"], xi, 4.0)
    n_mesh = prog.state["mesh"][0].numel()
    torch.testing.assert_close((m - prog.state["mesh"]).reshape(1, -1), 0.01 * 2.0 * xi[:, :n_mesh])
    torch.testing.assert_close((s - prog.state["sigma"]).reshape(1, -1), 0.01 * 2.0 * xi[:, n_mesh:])
    ideal = x @ w.T
    y0 = dev.query(prog, x)[0]
    torch.testing.assert_close(y0, ideal, atol=1e-4, rtol=1e-4)           # t = 0: no drift
    e1 = float((dev.query(prog, x, time_s=1.0)[0] - ideal).norm())
    e4 = float((dev.query(dev.aged(prog, 4.0), x)[0] - ideal).norm())   # the clock in the state
    assert e1 > 1e-3
    assert e4 / e1 == pytest.approx(2.0, rel=0.05)                        # ∝ √t, same ξ
    # the same programmed state drifts the same way at the same time (a slow, fixed path)
    assert torch.equal(dev.query(prog, x, time_s=1.0), dev.query(prog, x, time_s=1.0))
    with pytest.raises(ValueError, match="time_s"):
        dev.query(prog, x, time_s=-1.0)


def test_fixed_detector_noise_at_the_layer_output():
    """DetectorNoise adds σ_norm in the block's normalised units: the output std is σ·s·α."""
    dev = _layer(DetectorNoise(sigma_norm=0.02))
    knobs = dev.knobs_from_weight(2.0 * torch.eye(8))             # gain s = 2
    y = dev.query(dev.program(knobs), torch.full((4096, 8), 0.5), torch.Generator().manual_seed(0))[0]
    assert float(y.mean()) == pytest.approx(1.0, abs=0.002)
    assert float(y.std()) == pytest.approx(0.02 * 2.0 * 0.5, rel=0.03)

"""Each microring effect alone against its closed form, on its own and at the layer output."""
import dataclasses
import math

import pytest
import torch

from hwsim.effects.crosstalk import ThermalCrosstalk
from hwsim.effects.detection import Q_E, Detection
from hwsim.effects.phase_shifter import GammaSpread, ThermoOpticDAC
from hwsim.effects.quantize import InputDAC, OutputADC, PhaseDAC, symmetric_quantize
from hwsim.microring.device import MRRBankLayer, MRRConfig
from hwsim.microring.effects import (InterChannelCrosstalk, ResonanceSpread, balanced_noise_law,
                                     bank_response)
from hwsim.microring.presets import mrr_default, mrr_ideal
from hwsim.microring.ring import RingLine

LINE = RingLine(fwhm_nm=0.3, fsr_nm=30.0, through_min=0.1, drop_peak=0.45)


def layer(*effects, n_in=16, n_out=8, seed=0, **cfg):
    base = dataclasses.replace(mrr_default(), effects=tuple(effects), **cfg)
    return MRRBankLayer(n_in, n_out, base, seed=seed, name="L")


def weights(n_out=8, n_in=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n_out, n_in, generator=g) / n_in ** 0.5


def expected(dev, knobs, phases):
    """gain · w(detuning(phases)) assembled: the closed form of the programmed weights."""
    w = dev.line.weight(dev._detuning(phases.double())).float()
    return dev._assemble(w * knobs["gain"][..., None, None])


# ------------------------------------------------------------------ bank response (array stage)
def test_bank_without_crosstalk_is_the_single_ring_line():
    d = torch.linspace(-1, 1, 64, dtype=torch.float64).reshape(8, 8)
    w, s = bank_response(d, LINE, 1.6, neighbours=0)
    L = LINE.shape(d)
    torch.testing.assert_close(w, LINE.weight(d))
    torch.testing.assert_close(s, 0.45 * L + 1 - 0.9 * L)


def test_two_ring_cascade_closed_form():
    """Bank of two rings, one neighbour: channel 0 passes ring 0 then ring 1, channel 1 likewise."""
    d = torch.tensor([-0.2, -0.05], dtype=torch.float64)
    sp = 1.0
    w, s = bank_response(d, LINE, sp, neighbours=1)
    L = lambda x: 1.0 / (1.0 + (2 * x / 0.3) ** 2)   # noqa: E731
    D = lambda l: 0.45 * l                              # noqa: E731
    T = lambda l: 1 - 0.9 * l                           # noqa: E731
    # channel 0: ring 0 at detuning d0, ring 1 at sp + d1 (its tail)
    l00, l10 = L(-0.2), L(sp - 0.05)
    drop0 = D(l00) + D(l10) * T(l00)
    thr0 = T(l00) * T(l10)
    # channel 1: ring 0 at −sp + d0 (before ring 1 on the bus), ring 1 at d1
    l01, l11 = L(-sp - 0.2), L(-0.05)
    drop1 = D(l01) + D(l11) * T(l01)
    thr1 = T(l01) * T(l11)
    torch.testing.assert_close(w, torch.tensor([drop0 - thr0, drop1 - thr1], dtype=torch.float64))
    torch.testing.assert_close(s, torch.tensor([drop0 + thr0, drop1 + thr1], dtype=torch.float64))


def test_crosstalk_tails_shift_weights_by_the_lorentzian_tail():
    """Far-detuned neighbours: channel c loses (1 − T_min)·L(Δλ_ch + δ) of its through power."""
    n, sp = 8, 1.6
    d = torch.full((n,), -0.3, dtype=torch.float64)
    w0, _ = bank_response(d, LINE, sp, 0)
    w1, _ = bank_response(d, LINE, sp, 1)
    tail = LINE.shape(torch.tensor(sp - 0.3, dtype=torch.float64))
    tail_before = LINE.shape(torch.tensor(-sp - 0.3, dtype=torch.float64))
    # an interior channel: one neighbour before it on the bus, one after
    own = LINE.shape(torch.tensor(-0.3, dtype=torch.float64))
    thr = (1 - 0.9 * tail_before) * (1 - 0.9 * own) * (1 - 0.9 * tail)
    drop = 0.45 * tail_before + 0.45 * own * (1 - 0.9 * tail_before) \
        + 0.45 * tail * (1 - 0.9 * tail_before) * (1 - 0.9 * own)
    assert float(w1[3]) == pytest.approx(float(drop - thr), rel=1e-12)
    assert float(w1[3]) > float(w0[3])             # the tails take through power: w rises
    # more neighbours converge: the second ring's tail is a smaller correction than the first's
    w2, _ = bank_response(d, LINE, sp, 2)
    assert abs(float(w2[3] - w1[3])) < abs(float(w1[3] - w0[3]))


def test_interchannel_crosstalk_at_the_layer_output():
    dev = layer(InterChannelCrosstalk(neighbours=2))
    w = weights()
    knobs = dev.knobs_from_weight(w)
    prog = dev.program(knobs)
    x = torch.rand(5, 16)
    wb, _ = bank_response(dev._detuning(knobs["ring_phases"]), dev.line, dev.config.channel_spacing_nm, 2)
    ref = dev._assemble(wb * knobs["gain"][..., None, None])
    torch.testing.assert_close(dev.programmed_weights(prog)[0], ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(dev.query(prog, x)[0], x @ ref.T, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(ref, w, atol=1e-3)


# ------------------------------------------------------------------ program stage
def test_thermal_crosstalk_is_i_plus_c_a_on_heater_phases():
    c = 0.01
    dev = layer(ThermalCrosstalk(coupling=c))
    knobs = dev.knobs_from_weight(weights())
    phi = knobs["ring_phases"]
    a = torch.diag(torch.ones(7), 1) + torch.diag(torch.ones(7), -1)
    applied = phi + c * phi @ a.T                     # neighbours along each bank's bus
    prog = dev.program(knobs)
    ref = expected(dev, knobs, applied)
    torch.testing.assert_close(dev.programmed_weights(prog)[0], ref, atol=1e-5, rtol=1e-4)
    x = torch.rand(4, 16)
    torch.testing.assert_close(dev.query(prog, x)[0], x @ ref.T, atol=1e-4, rtol=1e-4)


def test_thermo_optic_heater_dac_grid():
    dac = ThermoOpticDAC(bits=12, v_pi_v=4.36, v_max_v=10.8)
    dev = layer(dac)
    knobs = dev.knobs_from_weight(weights())
    phi = knobs["ring_phases"].double()
    gamma = math.pi / 4.36 ** 2
    step = 10.8 / 4095
    applied = gamma * (torch.round(torch.sqrt(phi / gamma) / step) * step) ** 2
    prog = dev.program(knobs)
    ref = expected(dev, knobs, applied.float())
    torch.testing.assert_close(dev.programmed_weights(prog)[0], ref, atol=2e-5, rtol=1e-4)
    # the grid error stays within half a voltage step: |Δφ| ≤ γ·(2V·dV/2 + dV²/4)
    v = torch.sqrt(phi / gamma)
    assert float(((applied - phi).abs() - gamma * (v * step + step ** 2 / 4)).max()) <= 1e-9


def test_gamma_spread_scales_each_rings_heater_phase():
    g = GammaSpread(sigma_rad_per_v2=0.01, v_pi_v=4.36)
    dev = layer(g)
    ratio = dev._fab[GammaSpread]["mesh"]
    assert ratio.shape == (1, 2, 8, 8)
    rel = 0.01 / (math.pi / 4.36 ** 2)
    assert float((ratio - 1).abs().max()) <= 2 * rel + 1e-6 and float((ratio - 1).abs().max()) > 0
    knobs = dev.knobs_from_weight(weights())
    ref = expected(dev, knobs, knobs["ring_phases"] * ratio)
    # float32 phases on the steep Lorentzian flank: ~1e-5 absolute
    torch.testing.assert_close(dev.programmed_weights(dev.program(knobs))[0], ref, atol=5e-5, rtol=1e-4)


def test_phase_dac_heater_grid():
    dev = layer(PhaseDAC(bits=10))
    knobs = dev.knobs_from_weight(weights())
    step = 2 * math.pi / 1024
    applied = torch.remainder(torch.round(knobs["ring_phases"].double() / step) * step, 2 * math.pi)
    ref = expected(dev, knobs, applied.float())
    torch.testing.assert_close(dev.programmed_weights(dev.program(knobs))[0], ref, atol=2e-5, rtol=1e-4)


# ------------------------------------------------------------------ fabrication stage
def test_resonance_spread_statistics_and_seeding():
    dev = layer(ResonanceSpread(sigma_nm=0.02), n_in=256, n_out=256, seed=3)
    b = dev._fab[ResonanceSpread]["offset_nm"]
    assert b.shape == (32, 32, 8, 8)
    n = b.numel()
    assert abs(float(b.mean())) < 4 * 0.02 / n ** 0.5
    assert float(b.std()) == pytest.approx(0.02, rel=4 / (2 * n) ** 0.5)
    again = layer(ResonanceSpread(sigma_nm=0.02), n_in=256, n_out=256, seed=3)._fab[ResonanceSpread]
    other = layer(ResonanceSpread(sigma_nm=0.02), n_in=256, n_out=256, seed=4)._fab[ResonanceSpread]
    assert torch.equal(again["offset_nm"], b) and not torch.equal(other["offset_nm"], b)
    torch.testing.assert_close(dev._fab[ResonanceSpread]["mesh"], b * 2 * math.pi / dev.config.fsr_nm)


def test_resonance_spread_at_the_layer_output():
    dev = layer(ResonanceSpread(sigma_nm=0.01))
    knobs = dev.knobs_from_weight(weights())
    b = dev._fab[ResonanceSpread]["offset_nm"]
    w = dev.line.weight(dev._detuning(knobs["ring_phases"].double()) + b.double()).float()
    ref = dev._assemble(w * knobs["gain"][..., None, None])
    prog = dev.program(knobs)
    x = torch.rand(4, 16)
    torch.testing.assert_close(dev.query(prog, x)[0], x @ ref.T, atol=1e-4, rtol=1e-3)


# ------------------------------------------------------------------ query stage
def test_input_dac_at_the_layer_output():
    dev = layer(InputDAC(bits=4))
    w = weights()
    knobs = dev.knobs_from_weight(w)
    x = torch.randn(6, 16)
    alpha = x.abs().amax(dim=-1, keepdim=True)
    xq = symmetric_quantize(x / alpha, 4, 1.0) * alpha
    torch.testing.assert_close(dev.query(dev.program(knobs), x)[0], xq @ dev.digital_twin(knobs).T,
                               atol=1e-4, rtol=1e-4)


def test_output_adc_per_tile_and_pass():
    adc = OutputADC(bits=5, full_scale=2.0)
    dev = layer(adc, n_in=16, n_out=8)
    w = weights()
    knobs = dev.knobs_from_weight(w)
    x = torch.randn(5, 16)
    x = x / x.abs().amax(dim=-1, keepdim=True)            # α = 1
    tw = dev.digital_twin(knobs)
    gain = knobs["gain"]                                   # (1, 2)
    y = torch.zeros(5, 8)
    for b in range(2):                                     # two input tiles, each digitised
        sl = slice(8 * b, 8 * b + 8)
        wt = tw[:, sl] / gain[0, b]
        pos = adc(x[:, sl].clamp(min=0) @ wt.T)
        neg = adc((-x[:, sl]).clamp(min=0) @ wt.T)
        y += gain[0, b] * (pos - neg)
    torch.testing.assert_close(dev.query(dev.program(knobs), x)[0], y, atol=1e-5, rtol=1e-5)


def test_balanced_noise_law_closed_form():
    det = Detection(mode="intensity", laser_power_w=0.1, lo_fraction=0.0, modulator_power_w=1e-3)
    p = 1.25e-4
    c0, c1 = balanced_noise_law(det, p)
    assert c1 == pytest.approx(2 * Q_E * 20e9 / (1.0 * p))
    thermal = 4 * 1.380649e-23 * 300 * 20e9 / 166
    assert c0 == pytest.approx((2 * Q_E * 20e9 * 2 * 1e-10 + thermal) / p ** 2)


@pytest.mark.parametrize("signed", [False, True])
def test_detection_noise_variance_from_optical_power(signed):
    det = Detection(mode="intensity", laser_power_w=0.1, lo_fraction=0.0, modulator_power_w=2e-6)
    dev = layer(det, n_in=8, n_out=8)
    knobs = dev.knobs_from_weight(weights(8, 8))
    prog = dev.program(knobs)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(1, 8, generator=g)
    x0[0, 0] = 1.0                                         # α = 1
    if signed:
        x0[0, 1:4] *= -1.0
    x = x0.expand(6000, 8)
    y = dev.query(prog, x, torch.Generator().manual_seed(1))[0]
    c0, c1 = balanced_noise_law(det, dev.bank_power_w)
    assert dev.bank_power_w == pytest.approx(2e-6 / 8)
    s = dev._assemble(bank_response(dev._detuning(knobs["ring_phases"]), dev.line,
                                    dev.config.channel_spacing_nm, 0)[1])      # (8, 8) D + T
    gain = float(knobs["gain"][0, 0])
    var = (c0 + c1 * (s @ x0.clamp(min=0)[0])) * gain ** 2
    if signed:                                             # the x⁻ pass adds its own noise
        var = var + (c0 + c1 * (s @ (-x0).clamp(min=0)[0])) * gain ** 2
    emp = y.var(dim=0)
    torch.testing.assert_close(emp, var, rtol=0.1, atol=0)
    torch.testing.assert_close(y.mean(dim=0), x0[0] @ dev.digital_twin(knobs).T,
                               atol=float(4 * var.max().sqrt() / 6000 ** 0.5), rtol=0)


# ------------------------------------------------------------------ configuration
@pytest.mark.parametrize("change,match", [
    (dict(channel_spacing_nm=5.0), "channel_spacing_nm"),
    (dict(cold_detuning_nm=0.1), "cold_detuning_nm"),
    (dict(q_loaded=100.0), "q_loaded"),
    (dict(drop_peak=0.05), "drop_peak"),
    (dict(effects=(PhaseDAC(bits=8), ThermoOpticDAC())), "one heater DAC"),
    (dict(effects=(Detection(mode="homodyne"),)), "intensity"),
    (dict(channels=0), "channels"),
])
def test_bad_config_names_the_field(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(mrr_default(), **change)


def test_ideal_preset_weight_range_and_default_adc_range():
    lo, hi = mrr_ideal().weight_range
    assert hi == pytest.approx(1.0, abs=1e-9) and -1.0 < lo < -0.9
    cfg = mrr_default()
    assert cfg.weight_limit == pytest.approx(cfg.line.span - 1.0)   # w_lim = w_hi (ADC range)
    assert cfg.effect(OutputADC).full_scale == pytest.approx(cfg.channels * cfg.weight_limit)
    assert isinstance(cfg, MRRConfig)

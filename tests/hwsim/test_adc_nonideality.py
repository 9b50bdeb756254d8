"""Circuit ADC non-idealities (hwsim.effects.adc) against closed forms: alone, and at the layer
output of a crossbar and an MZI mesh (the torch readout path, which these layers take)."""
import math

import pytest
import torch

from experiments.config import resolve
from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.effects.adc import ADCNonideality
from hwsim.effects.quantize import OutputADC
from hwsim.photonic.device import MZIConfig, MZIMeshLayer

ADC = OutputADC(bits=6, full_scale=4.0)          # n = 31 codes each side, Δ = 4/31
N, D = ADC.max_code, ADC.step
NO_ERRORS = {"offset": torch.zeros(()), "gain": torch.zeros(())}


def test_ideal_nonideality_is_the_ideal_adc():
    y = torch.linspace(-5, 5, 1001)
    torch.testing.assert_close(ADCNonideality().convert(y, ADC, ADCNonideality().draw((), torch.Generator())), ADC(y))


def test_offset_gain_and_bow_closed_forms():
    y = torch.linspace(-3.5, 3.5, 2001, dtype=torch.float64)
    off = ADCNonideality(offset_lsb=0.5)
    got = off.convert(y, ADC, off.draw((), torch.Generator()))
    torch.testing.assert_close(got, D * torch.clamp(torch.round(y / D + 0.5), -N, N))
    gain = ADCNonideality(gain_error=0.05)
    got = gain.convert(y, ADC, gain.draw((), torch.Generator()))
    torch.testing.assert_close(got, D * torch.clamp(torch.round(1.05 * y / D), -N, N))
    bow = ADCNonideality(inl_bow_lsb=1.5)
    codes = torch.arange(-N, N + 1, dtype=torch.float64)
    got = bow.convert(codes * D, ADC, NO_ERRORS)
    torch.testing.assert_close(got, D * (codes + 1.5 * (1 - (codes / N) ** 2)))
    assert float(got[N]) == pytest.approx(1.5 * D) and float(got[-1]) == pytest.approx(ADC.full_scale)
    dnl = (got[1:] - got[:-1]) / D - 1                     # DNL = INL(c) − INL(c − 1)
    torch.testing.assert_close(dnl, 1.5 * ((codes[:-1] / N) ** 2 - (codes[1:] / N) ** 2))


def test_inl_table_per_code_and_per_adc_spread():
    table = tuple(0.25 * math.sin(c) for c in range(2 * N + 1))
    t = ADCNonideality(inl_table=table)
    codes = torch.arange(-N, N + 1, dtype=torch.float64)
    torch.testing.assert_close(t.convert(codes * D, ADC, NO_ERRORS), D * (codes + torch.tensor(table, dtype=torch.float64)))
    spread = ADCNonideality(offset_sigma_lsb=0.3, gain_sigma=0.02).draw((20000,), torch.Generator().manual_seed(0))
    assert float(spread["offset"].std()) == pytest.approx(0.3, rel=0.03)
    assert float(spread["gain"].std()) == pytest.approx(0.02, rel=0.03)
    assert abs(float(torch.corrcoef(torch.stack([spread["offset"], spread["gain"]]))[0, 1])) < 0.03
    with pytest.raises(ValueError, match="inl_table"):
        CrossbarConfig(effects=(OutputADC(bits=6, full_scale=4.0), ADCNonideality(inl_table=(0.0, 1.0))))
    with pytest.raises(ValueError, match="OutputADC"):
        CrossbarConfig(effects=(ADCNonideality(offset_lsb=1.0),))


@pytest.mark.parametrize("fused", [True, False])
def test_crossbar_output_through_circuit_adcs(fused):
    """One tile, unit weights: output o of input x reads Δ·(c + bow·(1 − (c/n)²)) with
    c = clip(round((1 + g_o)·y/Δ + o_o), −n, n), the ADC's own drawn offset and gain."""
    e = ADCNonideality(offset_lsb=0.2, offset_sigma_lsb=0.4, gain_error=0.01, gain_sigma=0.02, inl_bow_lsb=0.7)
    dev = CrossbarLayer(4, 6, CrossbarConfig(effects=(ADC, e)), seed=3)
    dev.fused = fused
    w = torch.rand(6, 4, generator=torch.Generator().manual_seed(0))
    w[0, 0] = 1.0
    x = torch.rand(50, 4, generator=torch.Generator().manual_seed(1)) * 2 - 1
    got = dev.query(dev.program(dev.knobs_from_weight(w)), x)[0].double()
    alpha = x.abs().amax(dim=1, keepdim=True).double()
    y = (x.double() / alpha) @ w.double().T                       # normalised analog outputs (w_max = 1)
    err = dev._adc_errors
    c = torch.clamp(torch.round(y * (1 + err["gain"][0, 0, 0].double()) / D + err["offset"][0, 0, 0].double()), -N, N)
    torch.testing.assert_close(got, alpha * D * (c + 0.7 * (1 - (c / N) ** 2)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fused", [True, False])
def test_mesh_output_through_circuit_adcs(fused):
    e = ADCNonideality(offset_lsb=-0.3, gain_error=0.03, inl_bow_lsb=-0.5)
    dev = MZIMeshLayer(4, 4, MZIConfig(block=4, effects=(ADC, e)), seed=1)
    ideal = MZIMeshLayer(4, 4, MZIConfig(block=4, effects=()), seed=1)
    dev.fused = ideal.fused = fused
    knobs = dev.knobs_from_weight(torch.randn(4, 4, generator=torch.Generator().manual_seed(0)))
    x = torch.rand(30, 4, generator=torch.Generator().manual_seed(1)) * 2 - 1
    alpha = x.abs().amax(dim=1, keepdim=True)
    gain = float(knobs["gain"])
    y = ideal.query(ideal.program(knobs), x)[0] / alpha / gain        # block field, normalised
    c = torch.clamp(torch.round(y * 1.03 / D - 0.3), -N, N)
    want = alpha * gain * D * (c - 0.5 * (1 - (c / N) ** 2))
    torch.testing.assert_close(dev.query(dev.program(knobs), x)[0], want, rtol=1e-4, atol=1e-4)


def test_adc_nonideality_is_reachable_from_config():
    cfg = resolve({"device": {"preset": "crossbar-default", "adc_nonideality": {"inl_bow_lsb": 0.5}}})
    assert cfg.device.physics.effect(ADCNonideality).inl_bow_lsb == 0.5

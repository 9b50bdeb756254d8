"""Bit slicing (hwsim.effects.bit_slicing, hwsim.crossbar.slicing) against its closed forms, at
the layer output on both programming/readout paths; priced per slice; reachable from config."""
import pytest
import torch

from experiments.config import resolve
from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.crossbar.slicing import BitSlicedCrossbar
from hwsim.crossbar.kind import build_crossbar
from hwsim.effects.bit_slicing import BitSlicing
from hwsim.effects.noise import ProgrammingNoise
from hwsim.effects.quantize import ConductanceLevels, OutputADC
from hwsim.trace import MvmEvent

PATHS = [True, False]


def _dev(effects, n_in=32, n_out=24, fused=True, **cfg):
    d = build_crossbar(n_in, n_out, CrossbarConfig(effects=tuple(effects), **cfg), seed=1, name="L")
    d.fused = fused
    return d


def _read(dev, prog):
    return dev.query(prog, torch.eye(dev.n_in))[..., :].transpose(-1, -2)   # (P, n_out, n_in)


def test_significances_and_closed_form_factors():
    s = BitSlicing(slices=4, bits_per_slice=2)
    c = s.significances()
    assert c == pytest.approx([3 / 255, 12 / 255, 48 / 255, 192 / 255]) and sum(c) == pytest.approx(1.0)
    assert s.noise_variance_factor() == pytest.approx(3 * 257 / (5 * 255))       # 0.6047
    assert s.full_code == 255


@pytest.mark.parametrize("fused", PATHS)
@pytest.mark.parametrize("slices, k", [(1, 2), (3, 2), (2, 4)])
def test_level_quantization_error_shrinks_to_one_code_of_the_sliced_word(fused, slices, k):
    """2^k levels per cell: |ŵ − w| ≤ w_max/(2(2^(kn) − 1)) and the RMS error ≈ that step/√12."""
    dev = _dev((BitSlicing(slices=slices, bits_per_slice=k), ConductanceLevels(bits=k)), fused=fused)
    assert isinstance(dev, BitSlicedCrossbar)
    w = torch.rand(24, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    w[0, 0] = 1.0                                                   # w_max = 1 in the one tile
    got = _read(dev, dev.program(dev.knobs_from_weight(w)))[0]
    step = 1.0 / (2 ** (k * slices) - 1)
    err = (got - w).double()
    assert float(err.abs().max()) <= step / 2 + 1e-6
    assert float(err.pow(2).mean().sqrt()) == pytest.approx(step / 12 ** 0.5, rel=0.1)
    torch.testing.assert_close(dev.digital_twin(dev.knobs_from_weight(w)), got, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("fused", PATHS)
def test_programming_noise_variance_falls_by_the_sum_of_squared_significances(fused):
    """Constant σ per cell (no clamp: g_min = 5 µS ≫ σ): Var(ŵ) = w_max²·2σ²/span²·Σ c_i²."""
    sigma, span = 0.25, 20.0
    noise = ProgrammingNoise(c0_us=sigma, c1_us=0.0, c2_us=0.0, g_ref_us=25.0)
    w = torch.rand(24, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    w[0, 0] = 1.0
    var = {}
    for n in (1, 4):
        dev = _dev((BitSlicing(slices=n, bits_per_slice=2), noise), fused=fused, g_min_us=5.0, g_max_us=25.0)
        knobs = dev.knobs_from_weight(w)
        clean = dev.digital_twin(knobs)
        knobs = {k: v.expand(8, *v.shape) for k, v in knobs.items()}          # 8 settings
        got = _read(dev, dev.program(knobs, torch.Generator().manual_seed(2)))
        var[n] = float((got - clean).double().pow(2).mean())
        expected = 2 * (sigma / span) ** 2 * BitSlicing(slices=n, bits_per_slice=2).noise_variance_factor()
        assert var[n] == pytest.approx(expected, rel=0.06)
    assert var[4] / var[1] == pytest.approx(0.6047, rel=0.08)


def test_each_slice_has_its_own_adc_and_is_priced_per_slice():
    plain = _dev((OutputADC(bits=8, full_scale=10.0),))
    sliced = _dev((BitSlicing(slices=3, bits_per_slice=2), OutputADC(bits=8, full_scale=10.0)))
    w = torch.rand(24, 32, generator=torch.Generator().manual_seed(0)) - 0.5
    pp, ps = plain.program(plain.knobs_from_weight(w)), sliced.program(sliced.knobs_from_weight(w))
    ep = next(e for e in plain.query_events(pp, (5, 32)) if isinstance(e, MvmEvent))
    es = next(e for e in sliced.query_events(ps, (5, 32)) if isinstance(e, MvmEvent))
    assert es.adc_conversions == 3 * ep.adc_conversions and es.macs == 3 * ep.macs
    assert es.partial_sum_adds == ep.partial_sum_adds + 5 * 24 * 2
    assert sliced.info().cells == 3 * plain.info().cells and sliced.knob_spec["conductances"].shape == (2, 72, 32)
    # the ADC rounds every slice's own output: a one-slice-code input reads exactly its share
    x = torch.randn(4, 32, generator=torch.Generator().manual_seed(3))
    y = sliced.query(ps, x)
    assert y.shape == (1, 4, 24)


def test_bit_slicing_is_reachable_from_config():
    cfg = resolve({"device": {"preset": "crossbar-default", "bit_slicing": {"slices": 4, "bits_per_slice": 2}}})
    e = cfg.device.physics.effect(BitSlicing)
    assert e == BitSlicing(slices=4, bits_per_slice=2)
    with pytest.raises(ValueError, match="slices"):
        BitSlicing(slices=0)

"""Crossbar noise pins (issue 9; devices.md §6.3, §6.4): alone and at the layer output."""
import math

import pytest
import torch

from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.effects.noise import ProgrammingNoise, ReadNoise
from hwsim.effects.output_noise import OutputNoise

ROWS = torch.stack([torch.ones(64), torch.cat([torch.ones(16), torch.zeros(48)]), torch.full((64,), 0.25),
                    torch.cat([torch.ones(1), torch.zeros(63)])])
PIN = 0.02 * torch.tensor([8.0, 4.0, 4.0, 1.0])


def test_pcm_read_variance_closed_form():
    var = ReadNoise(sigma=0.02).output_variance(torch.ones(1, 1, 64), ROWS.T.unsqueeze(0))
    torch.testing.assert_close(var[0, 0].sqrt(), PIN)
    add = ReadNoise(sigma=0.02, model="additive_constant").output_variance(torch.ones(1, 1, 64), ROWS.T[None])
    torch.testing.assert_close(add[0, 0].sqrt(), torch.tensor([0.16]))


@pytest.mark.parametrize("model,expected", [("pcm_read", PIN), ("additive_constant", torch.full((4,), 0.16))])
def test_read_noise_std_at_the_layer_output(model, expected):
    """Pin: rows [1×64], [1×16, 0×48], [0.25×64], [1, 0×63], x = 1, σ_w = 0.02 → 0.02·[8, 4, 4, 1]."""
    dev = CrossbarLayer(64, 4, CrossbarConfig(effects=(ReadNoise(sigma=0.02, model=model),)), name="L")
    prog = dev.program(dev.knobs_from_weight(ROWS))             # tile w_max = 1, α = 1
    y = dev.query(prog, torch.ones(20_000, 64), torch.Generator().manual_seed(1))[0]
    std = (y - ROWS.sum(-1)).std(dim=0)
    assert torch.all((std / expected - 1).abs() < 0.03), std / 0.02


def test_read_noise_scales_with_the_tile_scale_and_alpha():
    dev = CrossbarLayer(64, 1, CrossbarConfig(effects=(ReadNoise(sigma=0.02),)), name="L")
    prog = dev.program(dev.knobs_from_weight(torch.full((1, 64), 0.5)))
    y = dev.query(prog, torch.full((20_000, 64), 3.0), torch.Generator().manual_seed(1))[0]
    assert float(y.std()) == pytest.approx(0.02 * 8 * 0.5 * 3.0, rel=0.03)   # × w_max × α


@pytest.mark.parametrize("g_hat,sigma_us", [(0.1, 0.448), (1.0, 1.055), (0.5, 0.9521)])
def test_programming_noise_nandakumar_std(g_hat, sigma_us):
    pn = ProgrammingNoise()
    assert float(pn.sigma_us(torch.tensor(g_hat * 25.0), 25.0)) == pytest.approx(sigma_us, abs=1e-3)
    out = pn(torch.full((50, 4000), g_hat * 25.0), 25.0, torch.Generator().manual_seed(0))
    assert float(out.std()) == pytest.approx(sigma_us, rel=0.02)


def test_programming_noise_at_zero_is_clamped():
    """Pin: at ĝ = 0, mean 0.105 µS and std 0.154 µS after the clamp at 0 (σ = 0.26348 µS)."""
    out = ProgrammingNoise()(torch.zeros(50, 8000), 25.0, torch.Generator().manual_seed(0))
    s = 0.26348
    assert s / math.sqrt(2 * math.pi) == pytest.approx(0.105, abs=5e-4)
    assert float(out.mean()) == pytest.approx(0.105, abs=0.002)
    assert float(out.std()) == pytest.approx(0.154, abs=0.002)
    assert float(out.min()) >= 0.0


def test_programming_noise_scales_with_gmax():
    pn = ProgrammingNoise()
    assert float(pn.sigma_us(torch.tensor(50.0), 50.0)) == pytest.approx(2 * 1.05538, abs=1e-4)


def test_programming_noise_at_the_layer_output():
    """w = +1 → G⁺ at ĝ = 1 (σ 1.055 µS), G⁻ at ĝ = 0 (clamped: mean 0.105, std 0.154 µS):
    weight mean 1 − 0.105/25, std sqrt(1.055² + 0.154²)/25 = 0.04266."""
    n = 20_000
    dev = CrossbarLayer(1, n, CrossbarConfig(tile_cols=8192, effects=(ProgrammingNoise(),)), name="L")
    prog = dev.program(dev.knobs_from_weight(torch.ones(n, 1)), torch.Generator().manual_seed(3))
    y = dev.query(prog, torch.ones(1, 1))[0, 0]
    assert float(y.mean()) == pytest.approx(1 - 0.26348 / math.sqrt(2 * math.pi) / 25, abs=1e-3)
    sd0 = 0.26348 * math.sqrt(0.5 - 1 / (2 * math.pi))
    assert float(y.std()) == pytest.approx(math.hypot(1.05538, sd0) / 25, rel=0.03)


def test_output_noise_alone_and_at_the_layer_output():
    assert float(OutputNoise(0.04).output_variance(torch.ones(1, 1, 3), torch.ones(1, 3, 2)).sum()) == \
        pytest.approx(0.0016)
    # zero weights (tile scale 1), two input tiles: the digital sum adds two draws → 0.04·√2
    dev = CrossbarLayer(16, 3, CrossbarConfig(tile_rows=8, effects=(OutputNoise(0.04),)), name="L")
    y = dev.query(dev.program(dev.knobs_from_weight(torch.zeros(3, 16))), torch.ones(20_000, 16),
                  torch.Generator().manual_seed(2))[0]
    assert float(y.std()) == pytest.approx(0.04 * math.sqrt(2), rel=0.03)
    assert float(y.mean()) == pytest.approx(0.0, abs=2e-3)


def test_noise_sources_add_in_variance():
    eff = (ReadNoise(sigma=0.02), OutputNoise(0.04))
    dev = CrossbarLayer(64, 4, CrossbarConfig(effects=eff), name="L")
    y = dev.query(dev.program(dev.knobs_from_weight(ROWS)), torch.ones(20_000, 64),
                  torch.Generator().manual_seed(1))[0]
    expected = (PIN ** 2 + 0.04 ** 2).sqrt()
    assert torch.all(((y - ROWS.sum(-1)).std(0) / expected - 1).abs() < 0.03)


@pytest.mark.parametrize("ctor", [lambda: ReadNoise(model="pcm"), lambda: ReadNoise(sigma=-1),
                                  lambda: ProgrammingNoise(c0_us=float("inf")), lambda: OutputNoise(-0.1)])
def test_bad_noise_settings_name_the_field(ctor):
    with pytest.raises(ValueError, match=r"\w+\.\w+ = .*allowed"):
        ctor()


def _random_tile(seed: int):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 16, 200, generator=gen, dtype=torch.float64)
    w_abs = torch.rand(3, 200, 40, generator=gen, dtype=torch.float64)
    return x, w_abs, torch.bmm(x * x, w_abs) * 0.0175 ** 2      # the closed form in float64


def test_pcm_read_variance_precision_bound():
    """The "auto" product (bf16 operands where native) stays within its documented 3·2⁻⁹ of
    the float64 closed form; "float32" within float32 rounding."""
    x, w_abs, exact = _random_tile(3)
    auto = ReadNoise().output_variance(x.float(), w_abs.float()).double()
    assert float(((auto - exact) / exact).abs().max()) <= 3 * 2.0 ** -9
    full = ReadNoise(variance_precision="float32").output_variance(x.float(), w_abs.float()).double()
    assert float(((full - exact) / exact).abs().max()) < 1e-5
    # float64 inputs keep float64 under "float32" (the mode never lowers a caller's precision)
    f64 = ReadNoise(variance_precision="float32").output_variance(x, w_abs)
    assert f64.dtype == torch.float64 and float(((f64 - exact) / exact).abs().max()) < 1e-12


def test_pcm_read_variance_falls_back_to_float32_without_native_bf16(monkeypatch):
    from hwsim.effects import noise
    monkeypatch.setattr(noise, "_native_bf16", lambda device_type: False)
    assert ReadNoise().weight_dtype(torch.device("cpu")) == torch.float32
    x, w_abs, exact = _random_tile(4)
    v = ReadNoise().output_variance(x.float(), w_abs.float()).double()
    assert float(((v - exact) / exact).abs().max()) < 1e-5


def test_pcm_read_variance_precision_is_validated():
    with pytest.raises(ValueError, match="variance_precision = 'half'; allowed: auto, float32"):
        ReadNoise(variance_precision="half")

"""Device effects pinned to closed forms."""
import math

import pytest
import torch

from hwsim.effects import rng
from hwsim.effects.loss import InsertionLoss
from hwsim.effects.noise import DetectorNoise, PhaseBias, PhaseNoise, ProgrammingNoise, ReadNoise
from hwsim.effects.quantize import ConductanceLevels, InputDAC, OutputADC, PhaseDAC, symmetric_quantize


def sqnr_db(x, q):
    return 10 * math.log10(float((x ** 2).mean() / ((q - x) ** 2).mean()))


@pytest.mark.parametrize("bits", [5, 6, 8, 10, 12])
def test_sqnr_full_scale_sine_is_6_02b_plus_1_76(bits):
    # a full-scale sine sampled at random instants (arcsine-distributed amplitudes)
    g = torch.Generator().manual_seed(0)
    x = torch.sin(2 * math.pi * torch.rand(400_000, generator=g, dtype=torch.float64))
    q = symmetric_quantize(x, bits, 1.0)
    assert abs(sqnr_db(x, q) - (6.02 * bits + 1.76)) < 0.5


@pytest.mark.parametrize("bits", [5, 6, 8, 10])
def test_sqnr_full_scale_uniform_is_6_02b(bits):
    g = torch.Generator().manual_seed(0)
    x = 2 * torch.rand(400_000, generator=g, dtype=torch.float64) - 1
    q = symmetric_quantize(x, bits, 1.0)
    # Uniform full-scale input: signal power r²/3, noise Δ²/12 with Δ = r/(2^(b-1)-1).
    expected = 10 * math.log10(4 * (2 ** (bits - 1) - 1) ** 2)
    assert abs(sqnr_db(x, q) - expected) < 0.1
    assert abs(sqnr_db(x, q) - 6.02 * bits) < 0.6


def test_adc_clips_at_its_range_and_dac_at_one():
    adc = OutputADC(bits=8, full_scale=2.0)
    y = adc(torch.tensor([-5.0, -2.0, 0.0, 0.01, 2.0, 7.0]))
    assert y[0] == -2.0 and y[-1] == 2.0 and y[2] == 0.0
    assert torch.all(InputDAC(bits=4)(torch.tensor([-3.0, 3.0])).abs() <= 1.0)


def test_phase_dac_grid():
    dac = PhaseDAC(bits=4)
    phi = torch.linspace(-10, 10, 1001)
    q = dac.mesh(phi)
    step = 2 * math.pi / 16          # periodic: 2^b distinct codes (0 and 2π are one phase)
    assert len(set(torch.round(q / step).long().tolist())) == 16
    assert torch.all((q >= 0) & (q < 2 * math.pi))
    assert torch.allclose(q / step, torch.round(q / step), atol=1e-4)
    # wrapped distance to the target is at most half a step
    d = torch.remainder(q - phi + math.pi, 2 * math.pi) - math.pi
    assert d.abs().max() <= step / 2 + 1e-5
    s = dac.sigma(torch.linspace(0, math.pi, 77))
    assert torch.allclose(s / (math.pi / 15), torch.round(s / (math.pi / 15)), atol=1e-4)


def test_conductance_levels():
    lv = ConductanceLevels(bits=2)
    g = lv(torch.linspace(0, 25, 101), 0.0, 25.0)
    assert sorted(set(torch.round(g * 1e4).tolist())) == [round(v * 1e4) for v in (0, 25 / 3, 50 / 3, 25)]


def test_normal_is_standard():   # layout preservation: tests/hwsim/test_ziggurat.py
    z = rng.normal((1, 400_000), torch.Generator().manual_seed(2))
    assert abs(float(z.std()) - 1) < 0.01 and abs(float(z.mean())) < 0.01


def test_phase_noise_std_matches_truncated_gaussian():
    sigma, b = 0.01, 2.0
    n = PhaseNoise(sigma_rad=sigma, bound_sigmas=b).sample((200_000,), torch.Generator().manual_seed(0))
    pdf = math.exp(-b * b / 2) / math.sqrt(2 * math.pi)
    z = math.erf(b / math.sqrt(2))
    expected = sigma * math.sqrt(1 - 2 * b * pdf / z)
    assert abs(float(n.std()) / expected - 1) < 0.05
    assert float(n.abs().max()) <= b * sigma + 1e-9


def test_detector_noise_std():
    y = torch.zeros(100, 1000)
    out = DetectorNoise(sigma_norm=0.02)(y, torch.Generator().manual_seed(0))
    assert abs(float(out.std()) / 0.02 - 1) < 0.05


def test_programming_noise_constant_law_std_relative_to_gmax():
    g = torch.full((100, 1000), 12.5)
    out = ProgrammingNoise(c0_us=0.04 * 25.0, c1_us=0.0, c2_us=0.0)(g, 25.0, torch.Generator().manual_seed(0))
    assert abs(float(out.std()) / (0.04 * 25.0) - 1) < 0.05
    assert float(out.min()) >= 0.0


def test_additive_read_noise_scales_with_input_norm():
    y = torch.zeros(1, 50_000, 4)
    x = torch.full((1, 50_000, 9), 1.0)          # ‖x‖₂ = 3
    out = ReadNoise(sigma=0.0175, model="additive_constant")(y, x, torch.full((1, 4, 9), 0.3),
                                                           torch.Generator().manual_seed(0))
    assert abs(float(out.std()) / (0.0175 * 3.0) - 1) < 0.05


def test_phase_bias_is_uniform_in_range():
    b = PhaseBias(half_width_rad=1.0).sample((100_000,), torch.Generator().manual_seed(0))
    assert float(b.min()) >= -1 and float(b.max()) <= 1
    assert abs(float(b.std()) - 1 / math.sqrt(3)) < 0.01


def test_insertion_loss_amplitude():
    assert InsertionLoss(0.5).amplitude ** 2 == pytest.approx(10 ** (-0.05))


@pytest.mark.parametrize("ctor", [
    lambda: OutputADC(bits=0), lambda: OutputADC(bits=-3), lambda: InputDAC(bits=2.5),
    lambda: PhaseDAC(bits=0), lambda: ConductanceLevels(bits=0), lambda: PhaseNoise(sigma_rad=-0.1),
    lambda: DetectorNoise(sigma_norm=-1), lambda: ProgrammingNoise(g_ref_us=-0.01),
    lambda: ReadNoise(sigma=float("nan")), lambda: InsertionLoss(db_per_mzi=-1),
    lambda: OutputADC(full_scale=0), lambda: PhaseBias(half_width_rad=0)])
def test_bad_effect_settings_raise_with_field_names(ctor):
    with pytest.raises(ValueError, match=r"\w+\.\w+ = .*allowed"):
        ctor()


def test_phase_noise_from_normals_matches_truncated_gaussian():
    sigma, b = 0.02, 2.0
    z = rng.normal((1, 400_000), torch.Generator().manual_seed(4))
    n = PhaseNoise(sigma_rad=sigma, bound_sigmas=b).from_normal(z)
    pdf = math.exp(-b * b / 2) / math.sqrt(2 * math.pi)
    expected = sigma * math.sqrt(1 - 2 * b * pdf / math.erf(b / math.sqrt(2)))
    assert abs(float(n.std()) / expected - 1) < 0.05
    assert float(n.abs().max()) <= b * sigma * (1 + 1e-5)


def test_phase_noise_changes_the_mzi_output_distribution():
    """Pitfall: phase noise defined but never applied."""
    from hwsim.photonic.device import MZIConfig, MZIMeshLayer
    outs = []
    for effects in ((), (PhaseNoise(sigma_rad=0.02),)):
        dev = MZIMeshLayer(8, 8, MZIConfig(block=8, effects=effects))
        knobs = dev.knobs_from_weight(torch.eye(8))
        prog = dev.program(knobs)
        g = torch.Generator().manual_seed(0)
        outs.append(torch.stack([dev.query(prog, torch.ones(1, 8), g)[0, 0] for _ in range(20)]))
    assert float(outs[0].std(0).max()) < 1e-6 < float(outs[1].std(0).max())

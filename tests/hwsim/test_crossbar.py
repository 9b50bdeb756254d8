"""Crossbar layer: mapping, tiling, and the fused readout against a tensor-op reference."""
import math

import torch

from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.crossbar.mapping import TileGrid, conductances_to_weights, weights_to_conductances
from hwsim.effects import rng
from hwsim.effects.noise import ReadNoise
from hwsim.effects.quantize import InputDAC, OutputADC, encode_inputs


def test_mapping_round_trip_and_differential_pairs():
    grid = TileGrid(n_in=10, n_out=7, rows=4, cols=3)
    w = torch.randn(7, 10, generator=torch.Generator().manual_seed(0))
    g, scale = weights_to_conductances(w, grid, 1.0, 25.0)
    assert g.shape == (2, 7, 10) and scale.shape == (3, 3)
    assert float(g.min()) >= 1.0 and float(g.max()) <= 25.0
    assert torch.all((g[0] == 1.0) | (g[1] == 1.0))            # one device of each pair at g_min
    torch.testing.assert_close(conductances_to_weights(g, scale, grid, 1.0, 25.0), w)


def test_fused_readout_equals_the_tensor_pipeline():
    cfg = CrossbarConfig(tile_rows=8, tile_cols=4, effects=(
        InputDAC(bits=8), ReadNoise(sigma=0.05), OutputADC(bits=6, full_scale=3.0)))
    dev = CrossbarLayer(20, 10, cfg, name="L")
    gen = torch.Generator().manual_seed(0)
    knobs = dev.knobs_from_weight(torch.randn(10, 20, generator=gen) / 4)
    knobs = {k: v.unsqueeze(0).repeat(3, *([1] * v.dim())) for k, v in knobs.items()}
    prog = dev.program(knobs)
    x = torch.randn(5, 20, generator=gen)
    y = dev.query(prog, x, torch.Generator().manual_seed(9))
    # reference with plain tensor ops and the same noise stream
    xn, alpha = encode_inputs(x, cfg.effect(InputDAC))
    w = dev.digital_twin({k: v[0] for k, v in knobs.items()}) / 1.0
    scale = knobs["tile_scale"][0]
    wn = w / dev.grid.expand(scale)
    xi = rng.normal((3, 3, 5, 10), torch.Generator().manual_seed(9))
    ref = torch.zeros(3, 5, 10)
    adc = cfg.effect(OutputADC)
    for t in range(3):
        sl = slice(8 * t, min(8 * t + 8, 20))
        part = xn[:, sl] @ wn[:, sl].T + 0.05 * xn[:, sl].norm(dim=-1, keepdim=True) * xi[:, t]
        ref += adc(part) * scale[torch.arange(10) // 4, t]
    torch.testing.assert_close(y, ref * alpha, atol=1e-4, rtol=1e-4)


def test_read_noise_std_at_the_output():
    sigma = 0.02
    dev = CrossbarLayer(64, 4, CrossbarConfig(effects=(ReadNoise(sigma=sigma),)), name="L")
    knobs = dev.knobs_from_weight(torch.full((4, 64), 0.5))
    prog = dev.program(knobs)
    x = torch.ones(20_000, 64)
    y = dev.query(prog, x, torch.Generator().manual_seed(1))[0]
    # normalised input x/α = 1 → ‖x‖₂ = 8; tile scale w_max = 0.5; α = 1
    expected = sigma * math.sqrt(64) * 0.5
    assert abs(float((y - y.mean(0)).std()) / expected - 1) < 0.05

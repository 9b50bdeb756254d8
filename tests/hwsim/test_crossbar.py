"""Crossbar layer: mapping, tiling, per-tile input scaling, per-column scales, and the fused
readout against the plain torch path and a tensor-op reference."""
import dataclasses

import numpy as np

import pytest
import torch

from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.crossbar.mapping import TileGrid, conductances_to_weights, weights_to_conductances
from hwsim.effects import rng
from hwsim.effects.drift import Drift, OneOverFNoise
from hwsim.effects.ir_drop import IRDrop
from hwsim.effects.noise import ProgrammingNoise, ReadNoise
from hwsim.effects.output_noise import OutputNoise
from hwsim.effects.quantize import ConductanceLevels, InputDAC, OutputADC
from hwsim.effects.stages import STAGES, stage_of
from hwsim.effects.stuck import StuckCells


def test_mapping_round_trip_and_differential_pairs():
    grid = TileGrid(n_in=10, n_out=7, rows=4, cols=3)
    w = torch.randn(7, 10, generator=torch.Generator().manual_seed(0))
    g, scale = weights_to_conductances(w, grid, 1.0, 25.0)
    assert g.shape == (2, 7, 10) and scale.shape == (3, 3)
    assert float(g.min()) >= 1.0 and float(g.max()) <= 25.0
    assert torch.all((g[0] == 1.0) | (g[1] == 1.0))            # one device of each pair at g_min
    torch.testing.assert_close(conductances_to_weights(g, scale, grid, 1.0, 25.0), w)


def test_per_column_mapping_uses_the_full_range_in_every_column():
    grid = TileGrid(n_in=10, n_out=7, rows=4, cols=3, per_column=True)
    w = torch.randn(7, 10, generator=torch.Generator().manual_seed(0)) * torch.logspace(-2, 0, 7)[:, None]
    g, scale = weights_to_conductances(w, grid, 0.0, 25.0)
    assert scale.shape == (7, 3)
    for b in range(3):   # every column of every input tile reaches g_max on one side
        cols = slice(4 * b, min(4 * b + 4, 10))
        assert torch.allclose(g[:, :, cols].amax(dim=(0, 2)), torch.full((7,), 25.0))
    torch.testing.assert_close(conductances_to_weights(g, scale, grid, 0.0, 25.0), w)


def test_every_crossbar_effect_declares_its_stage():
    for kind in CrossbarConfig.EFFECT_TYPES:
        assert stage_of(kind()) in STAGES
        assert dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen


def _knobs(dev, P, seed=0):
    gen = torch.Generator().manual_seed(seed)
    knobs = dev.knobs_from_weight(torch.randn(dev.n_out, dev.n_in, generator=gen) / 4)
    return {k: v.unsqueeze(0).repeat(P, *([1] * v.dim())) for k, v in knobs.items()}


FUSED_CASES = {
    "additive+adc": (InputDAC(bits=8), ReadNoise(sigma=0.05, model="additive_constant"),
                     OutputADC(bits=6, full_scale=3.0)),
    "pcm_read+out+const-dac": (InputDAC(bits=6, full_scale=2.0), ReadNoise(sigma=0.05),
                               OutputNoise(sigma=0.04), OutputADC(bits=7, full_scale=3.0)),
    "out-only": (OutputNoise(sigma=0.1),),
    "noiseless-adc": (OutputADC(bits=5, full_scale=2.0),),
    "all-program+drift": (StuckCells(p_set=0.05, p_reset=0.05), ConductanceLevels(bits=5),
                          ProgrammingNoise(), IRDrop(r_col_ohm=50.0, r_row_ohm=20.0),
                          Drift(nu_std=0.01), ReadNoise(sigma=0.03), OutputNoise(sigma=0.02),
                          OutputADC(bits=8, full_scale=4.0)),
}


@pytest.mark.parametrize("case", sorted(FUSED_CASES))
@pytest.mark.parametrize("per_column", [False, True])
def test_fused_readout_equals_the_plain_torch_path(case, per_column):
    cfg = CrossbarConfig(tile_rows=8, tile_cols=4, effects=FUSED_CASES[case], scale_per_column=per_column)
    dev = CrossbarLayer(20, 10, cfg, name="L")
    prog = dev.program(_knobs(dev, 3), torch.Generator().manual_seed(1))
    x = torch.randn(3, 5, 20, generator=torch.Generator().manual_seed(2))
    outs = []
    for fused in (True, False):
        dev.fused = fused
        outs.append(dev.query(prog, x, torch.Generator().manual_seed(9), time_s=100.0))
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-5)


def test_plain_path_equals_a_tensor_op_reference():
    cfg = CrossbarConfig(tile_rows=8, tile_cols=4, effects=(
        InputDAC(bits=8), ReadNoise(sigma=0.05, model="additive_constant"), OutputNoise(sigma=0.03),
        OutputADC(bits=6, full_scale=3.0)))
    dev = CrossbarLayer(20, 10, cfg, name="L")
    knobs = _knobs(dev, 3)
    prog = dev.program(knobs)
    x = torch.randn(5, 20, generator=torch.Generator().manual_seed(3))
    y = dev.query(prog, x, torch.Generator().manual_seed(9))
    dac, adc = cfg.effect(InputDAC), cfg.effect(OutputADC)
    scale = knobs["tile_scale"][0]
    wn = dev.digital_twin({k: v[0] for k, v in knobs.items()}) / dev.grid.expand(scale)
    xi = rng.normal((3, 3, 5, 10), torch.Generator().manual_seed(9))
    ref = torch.zeros(3, 5, 10)
    for t in range(3):
        sl = slice(8 * t, min(8 * t + 8, 20))
        alpha = x[:, sl].abs().amax(dim=-1, keepdim=True)            # per-tile abs-max
        xn = dac(x[:, sl] / alpha)
        std = (0.05 ** 2 * (xn ** 2).sum(-1, keepdim=True) + 0.03 ** 2).sqrt()
        part = xn @ wn[:, sl].T + std * xi[:, t]
        ref += adc(part) * scale[torch.arange(10) // 4, t] * alpha
    torch.testing.assert_close(y, ref, atol=1e-4, rtol=1e-4)


def test_weak_tile_gets_its_own_input_scale():
    """Pin (issue 9): a tile whose inputs are 100× below the vector maximum gets the DAC error of
    its own range, ≤ 0.5/127 = 0.39 % of its maximum, not ~36 % as with one global α."""
    dac = InputDAC(bits=8)
    dev = CrossbarLayer(16, 1, CrossbarConfig(tile_rows=8, effects=(dac,)), name="L")
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2000, 16, generator=gen) * 0.99 + 0.01
    x[:, 8:] *= 0.01                                           # weak tile
    w = torch.zeros(1, 16)
    w[0, 8:] = 1.0                                             # only the weak tile contributes
    y = dev.query(dev.program(dev.knobs_from_weight(w)), x)[0, :, 0]
    exact = x[:, 8:].sum(-1)
    alpha = x[:, 8:].abs().amax(-1)
    bound = 8 * alpha * 0.5 / 127                              # 8 inputs, each ≤ half a step
    assert torch.all((y - exact).abs() <= bound * (1 + 1e-4))
    rel_in = float(((dac(x[:, 8:] / alpha[:, None]) * alpha[:, None] - x[:, 8:]).abs() / alpha[:, None]).max())
    assert rel_in <= 0.5 / 127 + 1e-6                          # 0.39 %
    # the same tile scaled by the global maximum (the old behaviour) loses ~36 %
    g_alpha = x.abs().amax(-1, keepdim=True)
    glob = dac(x[:, 8:] / g_alpha) * g_alpha
    assert float(((glob - x[:, 8:]).pow(2).mean() / x[:, 8:].pow(2).mean()).sqrt()) > 0.2


def test_constant_input_range_clips_and_does_not_rescale():
    dev = CrossbarLayer(4, 1, CrossbarConfig(effects=(InputDAC(bits=8, full_scale=2.0),)), name="L")
    prog = dev.program(dev.knobs_from_weight(torch.ones(1, 4)))
    y = dev.query(prog, torch.tensor([[3.0, -5.0, 0.5, 0.0]]))[0, 0]
    step = 2.0 / 127
    expected = 2.0 - 2.0 + round(0.5 / step) * step            # clipped at ±2, 0.5 on the grid
    assert float(y) == pytest.approx(expected, abs=1e-5)


def test_per_column_scales_keep_a_weak_column_at_level_resolution():
    w = torch.tensor([[0.01, -0.02, 0.015, 0.005], [1.0, -0.5, 0.25, 0.8]])
    x = torch.eye(4)
    errs = {}
    for per_column in (False, True):
        cfg = CrossbarConfig(effects=(ConductanceLevels(bits=4),), scale_per_column=per_column)
        dev = CrossbarLayer(4, 2, cfg, name="L")
        y = dev.query(dev.program(dev.knobs_from_weight(w)), x)[0].T    # (2, 4) = W
        errs[per_column] = float(((y[0] - w[0]).abs() / w[0].abs().max()).max())
    assert errs[True] <= 0.5 / 15 + 1e-5                       # half a level of the column's own range
    assert errs[False] > 0.5                                   # the weak column drowns in the tile scale


@pytest.mark.parametrize("var_shape", [(3, 5, 6), (1, 5, 1), (3, 1, 6), (1, 1, 1)])
def test_tile_by_tile_readout_equals_the_one_pass_readout_bit_for_bit(var_shape):
    # Tiles read one after another with the streams carried over draw the numbers of one pass.
    from hwsim.crossbar.kernels import readout, readout_tile
    from hwsim.effects import ziggurat
    r = np.random.default_rng(0)
    T, P, B, n = 3, 3, 5, 6
    y = r.normal(size=(T, P, B, n)).astype(np.float32) * 3
    var = r.uniform(0.0, 0.5, size=(T, *var_shape)).astype(np.float32)
    factor = r.uniform(0.5, 2.0, size=(T, P, n)).astype(np.float32)
    alpha = r.uniform(0.5, 2.0, size=(T, 1, B)).astype(np.float32)
    seeds = np.array([11, 12, 13], np.uint64)
    ref = np.empty((P, B, n), np.float32)
    std = np.sqrt(np.broadcast_to(var, (T, var_shape[0], B, var_shape[2]))).astype(np.float32)
    readout(y, np.ascontiguousarray(std), seeds, True, 0.1, 15, factor, alpha, *ziggurat.TABLES, ref)
    out = np.empty_like(ref)
    states = ziggurat.seed_states(seeds)
    for t in range(T):
        readout_tile(y[t], var[t], states, True, 0.1, 15, factor[t], alpha[t], t == 0,
                     *ziggurat.TABLES, out)
    np.testing.assert_array_equal(out, ref)

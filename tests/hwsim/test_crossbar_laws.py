"""Crossbar laws the audit found unpinned, each against its closed form alone and at the layer
output on both readout paths (fused numba kernel and torch): stuck and worn cells pinned after
programming noise and levels, the endurance boundary, pulsed updates clamped to [g_min, g_max],
IR drop at AIHWKIT's ratio with the exact column solve and the validity warning."""
import math
import warnings

import pytest
import torch

from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.crossbar.presets import CROSSBAR_PRESETS
from hwsim.effects.ir_drop import (FIRST_ORDER_LIMIT, IRDrop, first_order_conductances,
                                   ladder_conductances, nodal_conductances)
from hwsim.effects.noise import ProgrammingNoise
from hwsim.effects.pulsed import PulsedUpdate
from hwsim.effects.quantize import ConductanceLevels
from hwsim.effects.stuck import Endurance, StuckCells

PATHS = [True, False]      # layer.fused: numba readout / torch readout


def _dev(effects, n_in=6, n_out=5, fused=True, **cfg):
    d = CrossbarLayer(n_in, n_out, CrossbarConfig(effects=tuple(effects), **cfg), seed=3, name="L")
    d.fused = fused
    return d


def _weights(dev, prog):
    """Read the effective weights through the oracle: unit input vectors, no converters."""
    return dev.query(prog, torch.eye(dev.n_in))[0].T


@pytest.mark.parametrize("fused", PATHS)
@pytest.mark.parametrize("p_set, p_reset, level", [(1.0, 0.0, 1.0), (0.0, 1.0, 0.0)])
def test_stuck_cells_are_pinned_after_programming_noise_and_levels(fused, p_set, p_reset, level):
    """A stuck cell reads exactly g_max (SET) or g_min (RESET): noise and levels act before the
    pinning, never on the stuck value (G⁺ = G⁻ stuck alike → every weight exactly 0)."""
    noise = ProgrammingNoise(c0_us=2.0, c1_us=0.0, c2_us=0.0)
    dev = _dev((ConductanceLevels(bits=3), noise, StuckCells(p_set=p_set, p_reset=p_reset)), fused=fused)
    prog = dev.program(dev.knobs_from_weight(torch.randn(5, 6, generator=torch.Generator().manual_seed(0))),
                       torch.Generator().manual_seed(1))
    g = prog.state["g"] if "g" in prog.state else None
    w = _weights(dev, prog)
    assert float(w.abs().max()) == 0.0
    if g is not None:
        assert torch.all(g == level * 25.0)


@pytest.mark.parametrize("fused", PATHS)
def test_worn_cells_are_pinned_after_programming_noise_and_levels(fused):
    """Budget 1 write (σ_ln = 0): the second program wears every cell out → exactly g_min, with
    programming noise of 2 µS and 3-bit levels in front."""
    noise = ProgrammingNoise(c0_us=2.0, c1_us=0.0, c2_us=0.0)
    dev = _dev((ConductanceLevels(bits=3), noise, Endurance(cycles_median=1.0, cycles_log_std=0.0)), fused=fused)
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    first = _weights(dev, dev.program(dev.knobs_from_weight(w), gen))
    assert float(first.abs().max()) > 0                     # one write: within budget
    second = _weights(dev, dev.program(dev.knobs_from_weight(-w), gen))
    assert float(second.abs().max()) == 0.0                 # every cell changed → 2 writes > 1


@pytest.mark.parametrize("fused", PATHS)
def test_endurance_boundary_a_cell_fails_after_its_budget_not_at_it(fused):
    """Budget E = 3: after exactly 3 writes the cell works, after the 4th it is stuck at g_min."""
    dev = _dev((Endurance(cycles_median=3.0, cycles_log_std=0.0),), n_in=2, n_out=1, fused=fused)
    ys = []
    for k in range(4):
        w = torch.tensor([[(-1.0) ** k, 2 * (-1.0) ** k]])     # both cells change every write
        ys.append(_weights(dev, dev.program(dev.knobs_from_weight(w))))
    assert int(dev.write_counts().max()) == 4
    torch.testing.assert_close(ys[2], torch.tensor([[1.0, 2.0]]))   # 3rd write: at the budget, works
    assert float(ys[3].abs().max()) == 0.0                              # 4th: beyond it, worn out
    assert dev.wear()["cells_worn_out"] == 4                             # all four cells written 4 times


@pytest.mark.parametrize("fused", PATHS)
def test_pulsed_updates_are_clamped_to_the_conductance_range(fused):
    """Constant steps of 7 µS from 20 µS: 3 up pulses would reach 41 µS → exactly g_max = 25;
    4 down pulses from 3 µS → exactly g_min = 2 (closed form min/max of the running sum)."""
    dev = _dev((PulsedUpdate(dg_min_us=7.0, soft_bounds=False),), n_in=2, n_out=1, fused=fused,
               g_min_us=2.0, g_max_us=25.0)
    knobs = {"conductances": torch.tensor([[[20.0, 3.0]], [[2.0, 2.0]]]), "tile_scale": torch.ones(1, 1)}
    prog = dev.program(knobs)
    pulses = torch.tensor([[[3, -4]], [[0, 0]]])
    new = dev.pulse(prog, pulses)
    torch.testing.assert_close(new.state["g"][0, 0, 0], torch.tensor([25.0, 2.0]))
    torch.testing.assert_close(_weights(dev, new), torch.tensor([[(25.0 - 2.0) / 23.0, 0.0]]))
    one = dev.pulse(prog, torch.tensor([[[1, -1]], [[0, 0]]]))          # inside the range: plain steps
    torch.testing.assert_close(one.state["g"][0, 0, 0], torch.tensor([25.0, 2.0]))
    small = _dev((PulsedUpdate(dg_min_us=1.0, soft_bounds=False),), n_in=2, n_out=1, g_min_us=2.0, g_max_us=25.0)
    s = small.pulse(small.program(knobs), torch.tensor([[[2, -1]], [[0, 0]]]))
    torch.testing.assert_close(s.state["g"][0, 0, 0], torch.tensor([22.0, 2.0]))


# ------------------------------------------------------------------ IR drop

def test_ladder_solve_closed_forms_for_one_and_two_cells():
    """N = 1: G/(1 + rG); N = 2 (open end, one segment to the output): G_eff = G·[1, a+1]/(a²+3a+1),
    a = rG."""
    r, G = 1000.0, 100.0                  # Ω, µS: a = 0.1
    a = r * G * 1e-6
    one = ladder_conductances(torch.tensor([[G]], dtype=torch.float64), r)
    assert float(one) == pytest.approx(G / (1 + a), rel=1e-12)
    two = ladder_conductances(torch.tensor([[G, G]], dtype=torch.float64), r)
    torch.testing.assert_close(two[0], torch.tensor([G, G * (a + 1)], dtype=torch.float64) / (a * a + 3 * a + 1))


def test_ladder_equals_the_dense_nodal_solve_with_near_ideal_rows():
    g = torch.rand(2, 7, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 25.0
    lad = nodal_conductances(g, 0.0, 50.0)
    dense = nodal_conductances(g, 1e-7, 50.0)
    torch.testing.assert_close(lad, dense, rtol=1e-7, atol=1e-9)


def test_first_order_outside_its_validity_warns_and_takes_the_nodal_solve():
    """r·g·N² = 0.35 Ω · 25 µS · 512² = 2.29: the first-order factor clamps 185 of 512 cells of an
    all-on column to zero (the audit's figure); the device warns and solves the ladder instead."""
    g = torch.full((1, 512), 25.0, dtype=torch.float64)
    fo = first_order_conductances(g, 0.0, 0.35)
    assert int((fo == 0).sum()) == 185
    e = IRDrop(level="first_order", r_col_ohm=0.35)
    assert e.severity(25.0, 512, 1) == pytest.approx(2.2938, rel=1e-4)
    with pytest.warns(UserWarning, match="r·g·N²"):
        dev = _dev((e,), n_in=512, n_out=1)
    assert dev._array_stage[0].level == "nodal"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _dev((IRDrop(level="first_order", r_col_ohm=0.35),), n_in=32, n_out=1)._array_stage[0].level \
            == "first_order"                                        # 0.35·25e-6·32² = 0.009 ≤ 0.1
    with pytest.raises(ValueError, match="r_row_ohm"):
        _dev((IRDrop(level="first_order", r_col_ohm=0.35, r_row_ohm=0.35),), n_in=512, n_out=8)
    assert FIRST_ORDER_LIMIT == 0.1


@pytest.mark.parametrize("fused", PATHS)
def test_crossbar_pcm_ir_drop_at_aihwkit_ratio_at_the_layer_output(fused):
    """crossbar-pcm pairs r with g_max as AIHWKIT (r·g_max = 0.35 Ω · 5 µS): 0.07 Ω at 25 µS. An
    all-on 512-row column read through the layer equals Σ_i G_eff,i/g_max of the ladder solve."""
    cfg = CROSSBAR_PRESETS["crossbar-pcm"]()
    ir = next(e for e in cfg.effects if isinstance(e, IRDrop))
    assert ir.r_col_ohm * cfg.g_max_us == pytest.approx(0.35 * 5.0)
    assert ir.level == "nodal"
    dev = _dev((ir,), n_in=512, n_out=1, fused=fused, tile_rows=512)
    y = dev.query(dev.program(dev.knobs_from_weight(torch.ones(1, 512))), torch.ones(1, 512))[0, 0, 0]
    exact = ladder_conductances(torch.full((1, 512), 25.0, dtype=torch.float64), ir.r_col_ohm).sum() / 25.0
    assert float(y) == pytest.approx(float(exact), rel=1e-5)
    rel = 1 - float(exact) / 512
    assert 0.05 < rel < 0.2          # 0.107 measured (first order at this ratio: 0.153)

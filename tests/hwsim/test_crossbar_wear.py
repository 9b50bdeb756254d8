"""Stuck cells, write counters, endurance and pulsed in-situ updates (devices.md §6.6, §6.10, §6.11)."""
import math

import pytest
import torch

from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.effects.pulsed import PulsedUpdate
from hwsim.effects.stuck import Endurance, StuckCells


@pytest.mark.parametrize("p_set,p_reset", [(0.09, 0.02), (0.02, 0.09)])
def test_stuck_fractions(p_set, p_reset):
    state = StuckCells(p_set=p_set, p_reset=p_reset).fabricate((2, 200, 200), torch.Generator().manual_seed(0))
    assert float((state > 0).float().mean()) == pytest.approx(p_set, abs=0.003)
    assert float((state < 0).float().mean()) == pytest.approx(p_reset, abs=0.003)


def test_stuck_map_is_fixed_by_the_seed():
    s = StuckCells(p_set=0.09, p_reset=0.02)
    a, b = (CrossbarLayer(8, 8, CrossbarConfig(effects=(s,)), seed=3) for _ in range(2))
    assert torch.equal(a._cell_state[StuckCells], b._cell_state[StuckCells])
    c = CrossbarLayer(8, 8, CrossbarConfig(effects=(s,)), seed=4)
    assert not torch.equal(a._cell_state[StuckCells], c._cell_state[StuckCells])


def test_stuck_cells_at_the_layer_output():
    dev = CrossbarLayer(30, 20, CrossbarConfig(effects=(StuckCells(p_set=0.1, p_reset=0.1),)), seed=1, name="L")
    w = torch.randn(20, 30, generator=torch.Generator().manual_seed(0))
    knobs = dev.knobs_from_weight(w)
    y = dev.query(dev.program(knobs), torch.eye(30))[0].T            # (20, 30) = the programmed W
    state = dev._cell_state[StuckCells]
    g = knobs["conductances"].clone()
    g[state > 0], g[state < 0] = 25.0, 0.0
    torch.testing.assert_close(y, dev.digital_twin({"conductances": g, "tile_scale": knobs["tile_scale"]}),
                               atol=1e-5, rtol=1e-5)
    assert float((y - w).abs().max()) > 0.1                         # the faults are visible


def test_write_counts_count_changed_cells_in_order():
    dev = CrossbarLayer(4, 3, CrossbarConfig(), name="L")
    knobs = dev.knobs_from_weight(torch.randn(3, 4, generator=torch.Generator().manual_seed(0)))
    dev.program(knobs)
    assert torch.all(dev.write_counts() == 1) and dev.last_cells_written == 24
    dev.program(knobs)                                                # nothing changed
    assert torch.all(dev.write_counts() == 1) and dev.last_cells_written == 0
    g = knobs["conductances"]
    g2 = g.clone()
    g2[0, 0, 0] = 7.0
    batch = {"conductances": torch.stack([g2, g, g2]), "tile_scale": knobs["tile_scale"]}
    dev.program(batch)          # g→g2 (1 cell), g2→g (1), g→g2 (1)
    counts = dev.write_counts()
    assert int(counts[0, 0, 0]) == 4 and int(counts.sum()) == 24 + 3 and dev.last_cells_written == 3
    wear = dev.wear()
    assert wear["writes_total"] == 27 and wear["writes_max_per_cell"] == 4 and wear["cells_worn_out"] == 0


def test_endurance_wears_cells_out_to_reset():
    dev = CrossbarLayer(4, 3, CrossbarConfig(effects=(Endurance(cycles_median=2.5, cycles_log_std=0.0),)), name="L")
    gen = torch.Generator().manual_seed(0)
    x = torch.eye(4)
    for k in range(3):
        w = (-1) ** k * (torch.rand(3, 4, generator=gen) + 0.5)    # sign flips: every cell changes
        y = dev.query(dev.program(dev.knobs_from_weight(w)), x)[0].T
    assert dev.wear()["cells_worn_out"] == 24 and dev.wear()["endurance_used_max"] == pytest.approx(3 / 2.5)
    assert float(y.abs().max()) == 0.0                              # every cell stuck at g_min = 0
    budget = Endurance(cycles_median=1e6, cycles_log_std=0.5).fabricate((1000,), torch.Generator().manual_seed(0))
    assert float(budget.log().mean()) == pytest.approx(math.log(1e6), abs=0.05)
    assert float(budget.log().std()) == pytest.approx(0.5, rel=0.07)


def test_soft_bounds_pulses_closed_form():
    p = PulsedUpdate(dg_min_us=0.5, soft_bounds=True)
    g = torch.full((1, 2, 3), 5.0)
    p.apply_pulses_(g, torch.full((1, 2, 3), 10), 0.0, 25.0, None)
    expected = 25.0 - (25.0 - 5.0) * (1 - 0.5 / 25.0) ** 10
    torch.testing.assert_close(g, torch.full((1, 2, 3), expected))
    g = torch.full((1, 1, 1), 20.0)
    p.apply_pulses_(g, torch.full((1, 1, 1), -4), 0.0, 25.0, None)
    assert float(g) == pytest.approx(20.0 * (1 - 0.5 / 25.0) ** 4, rel=1e-5)


def test_pulse_asymmetry_constant_step_and_c2c_noise():
    p = PulsedUpdate(dg_min_us=0.1, up_down=0.2, soft_bounds=False)
    g = torch.full((1, 1, 2), 10.0)
    p.apply_pulses_(g, torch.tensor([[[5, -5]]]), 0.0, 25.0, None)
    torch.testing.assert_close(g, torch.tensor([[[10.0 + 5 * 0.12, 10.0 - 5 * 0.08]]]))
    noisy = PulsedUpdate(dg_min_us=0.1, c2c_rel=0.3, soft_bounds=False)
    g = torch.full((1, 100_000), 10.0)
    noisy.apply_pulses_(g, torch.ones(1, 100_000, dtype=torch.int64), 0.0, 25.0, torch.Generator().manual_seed(0))
    assert float((g - 10).std()) == pytest.approx(0.03, rel=0.03) and float((g - 10).mean()) == pytest.approx(0.1, abs=1e-3)


def test_pulse_path_at_the_layer_output_counts_every_pulse():
    dev = CrossbarLayer(2, 1, CrossbarConfig(effects=(PulsedUpdate(dg_min_us=1.0),)), name="L")
    prog = dev.program(dev.knobs_from_weight(torch.tensor([[0.0, 0.0]])))   # all cells at 0
    pulses = torch.zeros(2, 1, 2, dtype=torch.int64)
    pulses[0, 0, 0] = 3                                                      # G⁺ of weight 0 up
    new = dev.pulse(prog, pulses)
    y = dev.query(new, torch.eye(2))[0, :, 0]
    g_expected = 25.0 * (1 - (1 - 1.0 / 25.0) ** 3)
    torch.testing.assert_close(y, torch.tensor([g_expected / 25.0, 0.0]))   # tile scale 1 (all-zero W)
    assert int(dev.write_counts()[0, 0, 0]) == 1 + 3 and dev.last_cells_written == 1
    with pytest.raises(ValueError, match="pulses"):
        dev.pulse(prog, torch.zeros(2, 1, 2))                                # float pulses
    plain = CrossbarLayer(2, 1, CrossbarConfig(), name="L")
    with pytest.raises(ValueError, match="PulsedUpdate"):
        plain.pulse(plain.program(plain.knobs_from_weight(torch.ones(1, 2))), pulses)


@pytest.mark.parametrize("ctor", [lambda: StuckCells(p_set=1.5), lambda: StuckCells(p_set=0.6, p_reset=0.6),
                                  lambda: Endurance(cycles_median=0), lambda: PulsedUpdate(dg_min_us=0),
                                  lambda: PulsedUpdate(up_down=2.0)])
def test_bad_wear_settings_name_the_field(ctor):
    with pytest.raises(ValueError, match=r"\w+\.\w+ = .*allowed"):
        ctor()

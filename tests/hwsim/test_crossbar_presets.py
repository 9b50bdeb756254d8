"""Crossbar presets carry the numbers of the sources they cite (hwsim/crossbar/presets.py)."""
import math

import pytest
import torch

from hwsim.crossbar.device import CrossbarLayer
from hwsim.crossbar.presets import CROSSBAR_PRESETS
from hwsim.effects.drift import Drift, OneOverFNoise
from hwsim.effects.ir_drop import IRDrop
from hwsim.effects.noise import ProgrammingNoise, ReadNoise
from hwsim.effects.output_noise import OutputNoise
from hwsim.effects.quantize import InputDAC, OutputADC
from hwsim.effects.stuck import Endurance, StuckCells
from hwsim.presets import DEVICE_PRESETS


def test_every_crossbar_preset_is_a_device_preset():
    assert set(CROSSBAR_PRESETS) <= set(DEVICE_PRESETS)
    assert {"crossbar-ideal", "crossbar-default", "crossbar-pcm", "crossbar-rram"} <= set(DEVICE_PRESETS)


def test_pcm_preset_matches_aihwkit_standard_hwa_training_preset():
    c = CROSSBAR_PRESETS["crossbar-pcm"]()
    assert (c.g_min_us, c.g_max_us, c.tile_rows, c.scale_per_column) == (0.0, 25.0, 512, True)
    assert c.effect(ReadNoise) == ReadNoise(sigma=0.0175, model="pcm_read")
    assert c.effect(OutputNoise).sigma == 0.04
    assert c.effect(OutputADC) == OutputADC(bits=8, full_scale=10.0)
    assert c.effect(InputDAC) == InputDAC(bits=8, full_scale=3.0)        # CONSTANT noise management
    assert c.effect(ProgrammingNoise) == ProgrammingNoise(0.26348, 1.9650, -1.1731, 25.0)
    assert c.effect(Drift) == Drift(law="pcm", t0_s=20.0, compensation="global")
    assert c.effect(OneOverFNoise).t_read_s == 250e-9
    assert c.effect(OneOverFNoise).t0_s == 20.0 and c.read_time_s == 0.0    # t_inference + t_0
    # ir_drop_g_ratio = 1/(0.35 Ω · 5 µS): the same r·g_max at 25 µS; exact column solve
    assert c.effect(IRDrop) == IRDrop(level="nodal", r_col_ohm=0.07, r_row_ohm=0.0)


def test_default_preset_uses_the_laws_it_cites():
    c = CROSSBAR_PRESETS["crossbar-default"]()
    assert c.effect(ReadNoise).model == "pcm_read"
    pn = c.effect(ProgrammingNoise)
    assert float(pn.sigma_us(torch.tensor(0.0), 25.0)) == pytest.approx(0.26348)


def test_rram_preset_numbers():
    c = CROSSBAR_PRESETS["crossbar-rram"]()
    assert c.effect(StuckCells) == StuckCells(p_set=0.0904, p_reset=0.0175)
    assert c.effect(Endurance).cycles_median == 1e6
    pn = c.effect(ProgrammingNoise)
    for g in (50.0, 137.5, 225.0):     # Milo et al.: σ_G = −0.009107 G + 4.782321 µS
        assert float(pn.sigma_us(torch.tensor(g), 225.0)) == pytest.approx(-0.009107 * g + 4.782321, rel=1e-6)


def test_pcm_preset_after_one_hour_keeps_the_output_with_compensation():
    dev = CrossbarLayer(64, 16, CROSSBAR_PRESETS["crossbar-pcm"](), seed=2, name="L")
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(16, 64, generator=gen) / 8
    x = torch.rand(256, 64, generator=gen)
    prog = dev.program(dev.knobs_from_weight(w), torch.Generator().manual_seed(1))
    ideal = x @ w.T
    err = {t: float((dev.query(prog, x, torch.Generator().manual_seed(2), time_s=t)[0] - ideal).pow(2).mean().sqrt()
                    / ideal.pow(2).mean().sqrt()) for t in (0.0, 3600.0)}
    assert 0.02 < err[0.0] < 0.3 and err[3600.0] < 2 * err[0.0]     # noisy, but compensated drift


def test_rram_endurance_has_a_cell_to_cell_spread():
    """Grossi et al., IEEE TED 66(3) 2019: cells fail at different cycle counts; σ_ln = 1.0
    (assumed width): 5 % of cells worn by exp(ln 1e6 − 1.645) ≈ 1.9e5 writes."""
    from hwsim.effects.stuck import Endurance
    e = CROSSBAR_PRESETS["crossbar-rram"]().effect(Endurance)
    assert e.cycles_median == 1e6 and e.cycles_log_std == 1.0
    budget = e.fabricate((20000,), torch.Generator().manual_seed(0))
    assert float(torch.quantile(budget, 0.05)) == pytest.approx(1e6 * math.exp(-1.645), rel=0.06)

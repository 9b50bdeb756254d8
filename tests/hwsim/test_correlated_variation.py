"""Correlated fabrication variation (hwsim.effects.correlated) against the closed-form
covariance σ_die² + σ_within²·exp(−d²/(2ℓ²)), alone and at the layer output on both readout paths
of each device kind."""
import math

import pytest
import torch

from experiments.config import resolve
from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.effects.correlated import (CorrelatedConductance, CorrelatedGamma, CorrelatedPhaseBias,
                                      gaussian_field)
from hwsim.effects.stuck import StuckCells
from hwsim.photonic.device import MZIConfig, MZIMeshLayer

PATHS = [True, False]


def _corr_at(f: torch.Tensor, dy: int, dx: int) -> float:
    """Mean product of a zero-mean unit field at lag (dy, dx), over all pairs and fields."""
    a = f[:, :f.shape[1] - dy, :f.shape[2] - dx]
    b = f[:, dy:, dx:]
    return float((a * b).mean())


@pytest.mark.parametrize("length", [0.0, 2.0, 5.0])
def test_field_covariance_is_the_squared_exponential(length):
    f = gaussian_field((48, 48), length, torch.Generator().manual_seed(0), batch=120)
    assert float(f.var()) == pytest.approx(1.0, rel=0.03)
    for dy, dx in ((0, 1), (1, 0), (0, 2), (2, 2), (0, 5), (3, 4), (0, 10)):
        d2 = dy * dy + dx * dx
        expected = math.exp(-d2 / (2 * length ** 2)) if length > 0 else 0.0
        assert _corr_at(f, dy, dx) == pytest.approx(expected, abs=0.035), (dy, dx)


def test_die_to_die_and_within_die_covariance_closed_form():
    e = CorrelatedConductance(sigma_die=0.03, sigma_within=0.04, correlation_length=3.0)
    assert e.covariance(0) == pytest.approx(0.03 ** 2 + 0.04 ** 2)
    assert e.covariance(3.0) == pytest.approx(0.03 ** 2 + 0.04 ** 2 * math.exp(-0.5))
    um = CorrelatedConductance(sigma_within=1.0, correlation_length=6.0, length_unit="um", pitch_um=2.0)
    assert um.length_cells == 3.0
    # across chips (one per seed): cell variance and the covariance of two cells d apart
    draws = torch.stack([e.fabricate((2, 6, 12), torch.Generator().manual_seed(s)) for s in range(1500)]).double()
    assert float(draws[:, 0, 2, 3].var()) == pytest.approx(e.covariance(0), rel=0.1)
    for d in (1, 3, 6):
        cov = float(torch.cov(torch.stack([draws[:, 0, 2, 3], draws[:, 0, 2, 3 + d]]))[0, 1])
        assert cov == pytest.approx(e.covariance(d), abs=2.5e-4), d
    # the two arrays (G⁺, G⁻) share only the die offset
    cross = float(torch.cov(torch.stack([draws[:, 0, 2, 3], draws[:, 1, 2, 3]]))[0, 1])
    assert cross == pytest.approx(0.03 ** 2, abs=2.5e-4)


@pytest.mark.parametrize("fused", PATHS)
def test_correlated_conductance_at_the_crossbar_output(fused):
    """W = 1 everywhere (G⁺ = g_max, G⁻ = g_min = 0): each read weight is 1 + δ⁺ of its cell,
    the cell's fabricated field; a stuck cell stays pinned (variation acts before pinning)."""
    e = CorrelatedConductance(sigma_die=0.02, sigma_within=0.05, correlation_length=2.0)
    dev = CrossbarLayer(12, 6, CrossbarConfig(effects=(e,)), seed=4)
    dev.fused = fused
    y = dev.query(dev.program(dev.knobs_from_weight(torch.ones(6, 12))), torch.eye(12))[0].T
    torch.testing.assert_close(y, 1.0 + dev._cell_state[CorrelatedConductance][0], atol=1e-5, rtol=1e-5)
    stuck = CrossbarLayer(12, 6, CrossbarConfig(effects=(StuckCells(p_set=1.0), e)), seed=4)
    stuck.fused = fused
    ys = stuck.query(stuck.program(stuck.knobs_from_weight(torch.ones(6, 12))), torch.eye(12))[0]
    assert float(ys.abs().max()) == 0.0            # G⁺ = G⁻ = g_max exactly


@pytest.mark.parametrize("fused", PATHS)
@pytest.mark.parametrize("kind", [CorrelatedPhaseBias, CorrelatedGamma])
def test_correlated_phase_effects_at_the_mesh_output(fused, kind):
    """Applied phases = targets + δ (bias) or × (1 + δ) (γ); the layer output equals an ideal
    layer programmed with those phases; neighbouring heaters' δ follow the closed form."""
    e = kind(sigma_die=0.05, sigma_within=0.1, correlation_length=2.0)
    dev = MZIMeshLayer(8, 8, MZIConfig(block=4, effects=(e,)), seed=2)
    ideal = MZIMeshLayer(8, 8, MZIConfig(block=4, effects=()), seed=2)
    dev.fused = ideal.fused = fused
    knobs = dev.knobs_from_weight(torch.randn(8, 8, generator=torch.Generator().manual_seed(0)))
    knobs["sigma_phases"] = 0.6 + 1.9 * torch.rand(dev.layout.sigma_shape, generator=torch.Generator().manual_seed(4))
    prog = dev.program(knobs)
    fab = dev._fab[kind]
    centre = 0.0 if kind is CorrelatedPhaseBias else 1.0          # δ added, or γ_i/γ = 1 + δ
    assert abs(float(fab["mesh"].mean()) - centre) < 0.4 and 0.02 < float(fab["mesh"].std()) < 0.3
    if kind is CorrelatedPhaseBias:
        want = {**knobs, "mesh_phases": knobs["mesh_phases"] + fab["mesh"], "sigma_phases": knobs["sigma_phases"] + fab["sigma"]}
    else:
        want = {**knobs, "mesh_phases": knobs["mesh_phases"] * fab["mesh"], "sigma_phases": knobs["sigma_phases"] * fab["sigma"]}
    torch.testing.assert_close(prog.state["mesh"], want["mesh_phases"].unsqueeze(0))
    x = torch.randn(5, 8, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(dev.query(prog, x), ideal.query(ideal.program(want), x), rtol=1e-5, atol=1e-5)


def test_shifter_sites_are_distinct_and_neighbouring_heaters_are_one_cell_apart():
    dev = MZIMeshLayer(8, 8, MZIConfig(block=4, effects=()), seed=0)
    (rows, cols), mesh_idx, sig_idx = dev.layout.shifter_sites
    allidx = torch.cat([mesh_idx.reshape(-1), sig_idx.reshape(-1)])
    assert allidx.unique().numel() == allidx.numel() and int(allidx.max()) < rows * cols
    m = dev.n_mzi
    th, ph = mesh_idx[0, 0, 0, 0], mesh_idx[0, 0, 0, m]         # θ and φ of one MZI: adjacent
    assert int(th - ph) == 1
    # chip-to-chip covariance of θ and φ of one MZI (distance 1) against the closed form
    e = CorrelatedPhaseBias(sigma_die=0.0, sigma_within=0.2, correlation_length=1.5)
    fs = torch.stack([e.fabricate(dev.layout, torch.Generator().manual_seed(s))["mesh"][0, 0, 0]
                      for s in range(1500)]).double()
    cov = float(torch.cov(torch.stack([fs[:, 0], fs[:, m]]))[0, 1])
    assert cov == pytest.approx(e.covariance(1.0), abs=0.004)


def test_correlated_variation_is_reachable_from_config():
    cfg = resolve({"device": {"preset": "mzi-default",
                              "correlated_phase_bias": {"sigma_within": 0.1, "correlation_length": 3.0}}})
    assert cfg.device.physics.effect(CorrelatedPhaseBias).sigma_within == 0.1
    with pytest.raises(ValueError, match="length_unit"):
        CorrelatedGamma(length_unit="mm")


def test_variation_acts_once_per_write_not_again_at_pulses():
    """A pulse train of zero pulses leaves the programmed (varied) conductances as they were."""
    from hwsim.effects.pulsed import PulsedUpdate
    e = CorrelatedConductance(sigma_within=0.1, correlation_length=1.0)
    dev = CrossbarLayer(6, 4, CrossbarConfig(effects=(e, PulsedUpdate(dg_min_us=0.1))), seed=1)
    prog = dev.program(dev.knobs_from_weight(torch.ones(4, 6)))
    again = dev.pulse(prog, torch.zeros(2, 4, 6, dtype=torch.int64))
    torch.testing.assert_close(again.state["g"], prog.state["g"])
    torch.testing.assert_close(prog.state["g"][0, 0], 25.0 * (1 + dev._cell_state[CorrelatedConductance][0]))

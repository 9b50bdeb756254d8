"""Drift, drift compensation and 1/f read noise against their closed forms (devices.md §6.4–6.5)."""
import math

import pytest
import torch

from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.effects.drift import Drift, OneOverFNoise, drift_factor


def test_drift_factor_after_one_hour():
    """Pin: ×0.771 after 1 h at ν = 0.05, t₀ = 20 s; ν = 0.1 → 0.595; 1 day, ν = 0.05 → 0.66."""
    assert drift_factor(3600.0, 20.0, 0.05) == pytest.approx(0.7711, abs=1e-4)
    assert drift_factor(3600.0, 20.0, 0.1) == pytest.approx(0.5946, abs=1e-4)
    assert drift_factor(86400.0, 20.0, 0.05) == pytest.approx(0.658, abs=1e-3)
    assert drift_factor(0.0, 20.0, 0.05) == 1.0


def _layer(effects, n_in=8, n_out=4, **cfg):
    return CrossbarLayer(n_in, n_out, CrossbarConfig(effects=effects, **cfg), seed=4, name="L")


def test_drift_at_the_layer_output_without_and_with_global_compensation():
    w = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    x = torch.randn(6, 8, generator=torch.Generator().manual_seed(1))
    ideal = x @ w.T
    raw = _layer((Drift(nu_mean=0.05, compensation="none"),))
    prog = raw.program(raw.knobs_from_weight(w))
    torch.testing.assert_close(raw.query(prog, x, time_s=3600.0)[0], 0.7711095 * ideal, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(raw.query(prog, x)[0], ideal, atol=1e-4, rtol=1e-4)     # t = 0
    comp = _layer((Drift(nu_mean=0.05, compensation="global"),))
    prog = comp.program(comp.knobs_from_weight(w))
    torch.testing.assert_close(comp.query(prog, x, time_s=3600.0)[0], ideal, atol=1e-4, rtol=1e-4)


def test_read_time_default_is_the_config_clock():
    w = torch.ones(1, 8)
    dev = _layer((Drift(nu_mean=0.1, compensation="none"),), n_out=1, read_time_s=3600.0)
    prog = dev.program(dev.knobs_from_weight(w))
    assert float(dev.query(prog, torch.ones(1, 8))[0, 0]) == pytest.approx(8 * 0.5946, rel=1e-3)


def test_drift_exponent_spread_is_per_cell_and_fixed_by_the_seed():
    d = Drift(nu_mean=0.05, nu_std=0.02, compensation="none")
    xi = d.fabricate((2, 100, 100), torch.Generator().manual_seed(0))
    nu = d.exponents(torch.full((2, 100, 100), 25.0), 25.0, xi)
    assert float(nu.std()) == pytest.approx(0.02, rel=0.05) and float(nu.mean()) == pytest.approx(0.05, rel=0.02)
    a, b = _layer((d,)), _layer((d,))
    w = torch.ones(4, 8)
    ya = a.query(a.program(a.knobs_from_weight(w)), torch.eye(8), time_s=3600.0)
    yb = b.query(b.program(b.knobs_from_weight(w)), torch.eye(8), time_s=3600.0)
    assert torch.equal(ya, yb)
    # each weight drifts with its own ν: W(t)_oi = ((t+t0)/t0)^(−ν_oi) (G⁻ = 0 does not matter)
    nu_cells = d.exponents(torch.full((2, 4, 8), 25.0), 25.0, a._cell_state[Drift])[0]
    torch.testing.assert_close(ya[0].T, drift_factor(3600.0, 20.0, nu_cells), atol=1e-5, rtol=1e-5)


def test_pcm_drift_law_exponents():
    d = Drift(law="pcm")
    g = torch.tensor([25.0, 2.5, 0.25])
    nu = d.exponents(g, 25.0, torch.zeros(3))
    mu = [min(max(-0.0155 * math.log(gh) + 0.0244, 0.049), 0.1) for gh in (1.0, 0.1, 0.01)]
    torch.testing.assert_close(nu, torch.tensor(mu))
    sd = d.exponents(g, 25.0, torch.ones(3)) - nu
    expected = [min(max(-0.0125 * math.log(gh) - 0.0059, 0.008), 0.045) for gh in (1.0, 0.1, 0.01)]
    torch.testing.assert_close(sd, torch.tensor(expected))


def _sigma_1f(gh, t, t0=20.0, t_read=250e-9):
    """AIHWKIT pcm.py: Q_s(ĝ)·sqrt(ln((t + t₀ + t_read)/(2 t_read))), Q_s = min(0.0088/ĝ^0.65, 0.2)."""
    arg = (t + t0 + t_read) / (2 * t_read)
    return min(0.0088 / gh ** 0.65, 0.2) * (math.sqrt(math.log(arg)) if arg > 1 else 0.0)


def test_one_over_f_noise_closed_form_with_the_aihwkit_time_origin():
    """t′ = t + t₀ (t₀ = 20 s): 3.68 % of g at ĝ = 1 at t = 0, 3.69 % at 1 s, 4.19 % at 1 h."""
    n = OneOverFNoise()
    assert float(n.relative_sigma(torch.tensor(25.0), 25.0, 0.0)) == pytest.approx(0.03682, abs=1e-5)
    assert float(n.relative_sigma(torch.tensor(25.0), 25.0, 1.0)) == pytest.approx(0.03687, abs=1e-5)
    assert float(n.relative_sigma(torch.tensor(25.0), 25.0, 3600.0)) == pytest.approx(_sigma_1f(1.0, 3600.0), rel=1e-6)
    assert float(n.relative_sigma(torch.tensor(2.5), 25.0, 1.0)) == pytest.approx(_sigma_1f(0.1, 1.0), rel=1e-5)
    assert float(n.relative_sigma(torch.tensor(0.001), 25.0, 1.0)) == pytest.approx(_sigma_1f(4e-5, 1.0), rel=1e-5)
    assert n.active(0.0)


def test_one_over_f_clamp_at_small_times():
    """With t₀ = 0 the logarithm's argument (t + t_read)/(2 t_read) ≤ 1 for t ≤ t_read: no noise
    there (the clamp), and the closed form just above it."""
    n = OneOverFNoise(t0_s=0.0)
    assert float(n.relative_sigma(torch.tensor(25.0), 25.0, 0.0)) == 0.0
    assert float(n.relative_sigma(torch.tensor(25.0), 25.0, 200e-9)) == 0.0
    assert not n.active(200e-9) and n.active(300e-9)
    assert float(n.relative_sigma(torch.tensor(25.0), 25.0, 1e-3)) == pytest.approx(_sigma_1f(1, 1e-3, 0), rel=1e-5)


@pytest.mark.parametrize("fused", [True, False])
def test_one_over_f_noise_at_the_layer_output(fused):
    n_out = 4000
    dev = _layer((OneOverFNoise(),), n_in=1, n_out=n_out, tile_cols=8192)
    dev.fused = fused
    prog = dev.program(dev.knobs_from_weight(torch.ones(n_out, 1)))
    gen = torch.Generator().manual_seed(5)
    y1 = dev.query(prog, torch.ones(1, 1), gen, time_s=1.0)[0, 0]
    assert float(y1.std()) == pytest.approx(_sigma_1f(1, 1.0), rel=0.05) and float(y1.mean()) == pytest.approx(1, abs=3e-3)
    y0 = dev.query(prog, torch.ones(1, 1), gen, time_s=0.0)[0, 0]     # t = 0: already t₀ of noise
    assert float(y0.std()) == pytest.approx(_sigma_1f(1, 0.0), rel=0.05)
    # one draw per cell per query: shared by the vectors of that query, fresh in the next query
    y2 = dev.query(prog, torch.ones(3, 1), gen, time_s=1.0)[0]
    assert torch.equal(y2[0], y2[1]) and not torch.equal(y2[0], y1)
    quiet = _layer((OneOverFNoise(t0_s=0.0),), n_in=1, n_out=n_out, tile_cols=8192)   # the clamp
    quiet.fused = fused
    p0 = quiet.program(quiet.knobs_from_weight(torch.ones(n_out, 1)))
    assert float((quiet.query(p0, torch.ones(1, 1), gen, time_s=100e-9)[0, 0] - 1).abs().max()) < 1e-6


def test_bad_time_and_drift_settings():
    dev = _layer((Drift(),))
    prog = dev.program(dev.knobs_from_weight(torch.ones(4, 8)))
    with pytest.raises(ValueError, match="time_s"):
        dev.query(prog, torch.ones(1, 8), time_s=-1.0)
    for ctor in (lambda: Drift(law="rram"), lambda: Drift(compensation="column"), lambda: Drift(t0_s=0),
                 lambda: OneOverFNoise(t_read_s=0), lambda: OneOverFNoise(t0_s=-1.0)):
        with pytest.raises(ValueError, match=r"\w+\.\w+ = .*allowed"):
            ctor()

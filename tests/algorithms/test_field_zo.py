"""FLOPS and MixedTrain (algorithms/field_zo.py): the estimate against its closed form, rad ↔
range-unit mapping, batched FLOPS samples, sequential MixedTrain probes, every query traced."""
import math

import pytest
import torch

from algorithms import updates
from algorithms.field_zo import (FieldZOTrainer, FLOPSRule, MixedTrainRule, PAIR_RAD_EQUIVALENT,
                                 rad_per_range_unit)
from algorithms.model import model_from_config
from algorithms.network import OracleNetwork
from algorithms.schedules import Constant, Exponential
from algorithms.training import fit
from hwsim.oracle import TracingOracle
from hwsim.presets import build_layer
from hwsim.trace import Trace


def _net(preset, hidden=(8,), n_in=16, seed=0):
    model = model_from_config((n_in,), hidden=list(hidden))
    trace = Trace()
    devs = [build_layer(preset, a, b, seed=i, name=f"layer{i}")
            for i, (a, b) in enumerate(model.device_shapes())]
    g = torch.Generator().manual_seed(seed)
    knobs = [d.knobs_from_weight((2 * torch.rand(b, a, generator=g) - 1) / math.sqrt(a))
             for d, (a, b) in zip(devs, model.device_shapes())]
    net = OracleNetwork.build(model, [TracingOracle(d, trace) for d in devs])
    return net, knobs, trace


def _toy(n=64, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=g)
    y = (x[:, 0] > x[:, 1]).long() + 2 * (x[:, 2] > 0.5).long()
    return x, y


def test_flops_estimate_is_the_one_sided_gaussian_closed_form_and_unbiased():
    """ĝ = (1/Q) Σ (L(Φ+σz) − L0) z / σ; for a quadratic its mean is ∇L (the curvature term of
    a one-sided Gaussian difference has mean zero by symmetry), with weight 1/Q per sample."""
    torch.manual_seed(0)
    d, q = 5, 200_000
    a = torch.randn(d, d)
    h = a @ a.T / d
    grad = torch.randn(d)
    rule = FLOPSRule(sigma_rad=0.1, n_sample=1)   # gradient() averages the rows it is given
    z = torch.randn(q, d, dtype=torch.float64)
    delta = rule.sigma_rad * z
    losses = delta @ grad.double() + 0.5 * ((delta @ h.double()) * delta).sum(1)
    g = rule.gradient(losses, 0.0, z)
    assert torch.allclose(g, grad.double(), atol=0.03)
    # one sample: exactly (L1 − L0) z / σ
    assert torch.allclose(FLOPSRule(0.1, 1).gradient(torch.tensor([0.3]), 0.1, z[:1]),
                          0.2 * z[0] / 0.1)


def test_rad_per_range_unit_maps_each_knob_range():
    net, _, _ = _net("mzi-ideal")
    m = net.maps[0]
    rad = rad_per_range_unit(m)
    sizes = {n: m.spec[n].numel for n in m.phases}
    assert rad.numel() == m.dim
    assert m.phases == ("mesh_phases", "sigma_phases")
    assert torch.allclose(rad[:sizes["mesh_phases"]], torch.tensor(2 * math.pi))
    assert torch.allclose(rad[sizes["mesh_phases"]:], torch.tensor(math.pi))
    cnet, _, _ = _net("crossbar-ideal")
    assert torch.allclose(rad_per_range_unit(cnet.maps[0]), torch.tensor(PAIR_RAD_EQUIVALENT))


def test_flops_batches_its_samples_and_every_query_is_traced():
    net, knobs, trace = _net("mzi-l2ight", hidden=(8, 8))
    tr = FieldZOTrainer(net, knobs, 4, FLOPSRule(0.1, 3), updates.adam(1e-2), seed=0, trace=trace)
    assert len(net.stages) == 2
    x, y = _toy()
    trace.begin_step()
    tr.step(x[:16], y[:16])
    s = trace.end_step()
    # per stage: one clean program + ONE batched program of the Q = 3 samples
    assert sum(v for k, v in s.items() if k.endswith(".mvm.settings")) == 2 * (1 + 3) \
        == tr.device_queries_per_step()
    assert sum(v for k, v in s.items() if k.endswith(".program.settings")) == 2 * (1 + 3)


def test_flops_step_moves_phases_by_eta_g_in_rad():
    """One step: Φ_new − Φ = −η ĝ_Φ in rad for every coordinate (θ in range units × width)."""
    net, knobs, _ = _net("mzi-ideal")
    tr = FieldZOTrainer(net, knobs, 4, FLOPSRule(0.1, 1, Constant(2.0)), updates.sgd(1e-9))
    x, y = _toy()
    th0 = [t.clone() for t in tr.state.theta]
    gen_state = tr.state.streams.directions.get_state()
    tr.step(x[:16], y[:16])
    dirs = torch.Generator()
    dirs.set_state(gen_state)
    z = torch.randn(1, sum(t.numel() for t in th0), generator=dirs)
    rad = torch.cat([rad_per_range_unit(m) for m in net.maps])
    dphi = (torch.cat(tr.state.theta) - torch.cat(th0)) * rad
    # ĝ ∝ z: the step is −2·ΔL/σ·z for one common ΔL
    ratio = dphi / z[0]
    assert torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-3, atol=1e-6)
    assert ratio[0] != 0


def test_flops_learns_through_the_l2ight_preset_and_follows_its_schedule():
    net, knobs, trace = _net("mzi-l2ight", hidden=(8, 8))
    sched = Exponential(0.5, 0.5, 0.2)
    tr = FieldZOTrainer(net, knobs, 4, FLOPSRule(0.1, 4, sched), updates.adam(2e-2), seed=1,
                        trace=trace)
    x, y = _toy(n=128)
    r = fit(tr, x, y, epochs=3, batch_size=32, seed=0, trace=trace)
    assert r.history["knob_lr_rad"] == pytest.approx([0.5, 0.25, 0.2])
    assert r.history["loss.global"][-1] < r.history["loss.global"][0]


def test_mixedtrain_probes_are_sequential_traced_and_accept_only_improvements():
    net, knobs, trace = _net("mzi-ideal", hidden=(8, 8))
    rule = MixedTrainRule(param_sparsity=0.6, grad_sparsity=0.9, schedule=Constant(0.05))
    tr = FieldZOTrainer(net, knobs, 4, rule, updates.sgd(1e-9), seed=0, trace=trace)
    x, y = _toy()
    active = [a.clone() for a in tr._active]
    frac = float(torch.cat(active).float().mean())
    assert abs(frac - 0.4) < 0.05        # 60 % of the phases frozen for good
    th0 = [t.clone() for t in tr.state.theta]
    losses = []
    for _ in range(3):
        trace.begin_step()
        m = tr.step(x[:32], y[:32])
        s = trace.end_step()
        losses.append(m["loss.global"])
        # every probe programs one stage once: the trace holds each (plus clean pass + refresh)
        progs = sum(v for k, v in s.items() if k.endswith(".program.settings"))
        n = len(tr.net.stages)
        assert n + m["coordinate_probes"] < progs <= 2 * n + m["coordinate_probes"]
    for t0, t1, a, mp in zip(th0, tr.state.theta, active, tr.net.maps):
        moved = (t1 != t0)
        assert not moved[~a].any()                       # frozen phases never move
        step = 0.05 / rad_per_range_unit(mp)
        k = torch.remainder((t1 - t0)[moved] / step[moved] + 0.5, 1) - 0.5
        assert torch.all(k.abs() < 1e-3)                 # moves are whole ±η steps
    # on the ideal mesh the loss the rule accepts is monotone within a step; across steps the
    # clean loss must not rise above the start by more than noise-free float error
    assert losses[-1] <= losses[0] + 1e-4
    assert 0 < tr.device_queries_per_step()


def test_bad_settings_name_field_and_allowed():
    with pytest.raises(ValueError, match="FLOPSRule.sigma_rad = 0; allowed"):
        FLOPSRule(sigma_rad=0)
    with pytest.raises(ValueError, match="MixedTrainRule.grad_sparsity = 1.0; allowed"):
        MixedTrainRule(grad_sparsity=1.0)
    with pytest.raises(ValueError, match="FLOPSRule.n_sample"):
        FLOPSRule(n_sample=0)


def test_registered_defaults_are_the_l2ight_configs():
    """flops/learn.yml: lr 2, σ 0.1, n_sample 1, exp 0.99 → 0.0245; mixedtrain/learn.yml:
    lr 0.0245, param_sparsity 0.6, grad_sparsity 0.9, exp 0.99 floored at 0.0245."""
    from algorithms import registry
    f = registry.settings_for("flops").rule()
    assert (f.sigma_rad, f.n_sample) == (0.1, 1)
    assert f.schedule(0) == 2.0 and f.schedule(1) == pytest.approx(1.98)
    assert f.schedule(10_000) == pytest.approx(0.0245)
    m = registry.settings_for("mixedtrain").rule()
    assert (m.param_sparsity, m.grad_sparsity) == (0.6, 0.9)
    assert m.schedule(0) == m.schedule(50) == pytest.approx(0.0245)
    assert registry.ALGORITHMS["mixedtrain"].queries_vary
    with pytest.raises(ValueError, match="param_sparsity"):
        registry.settings_for("mixedtrain", {"param_sparsity": 1.0})

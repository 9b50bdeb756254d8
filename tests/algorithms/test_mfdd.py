"""MF+DD on the parts: DD estimates through the oracle against autograd on the ideal twin (in
the trained knob map's range units, with the Mono-Forward head), training through the
registry and the one loop, determinism, greedy stages, host work by role."""
import math

import pytest
import torch

from algorithms import registry
from algorithms.estimators.weight import Directional
from algorithms.estimators.zeroth_order import DirectionalDerivative
from algorithms.knobmaps import knob_map_for
from algorithms.model import model_from_config
from algorithms.objectives.heads import MonoForwardHead
from algorithms.families.mono_forward import MFDDSettings
from algorithms.training import fit
from hwsim.photonic.device import MZIConfig, MZIMeshLayer
from hwsim.trace import Trace

C = 4


def small_problem(n=8, block=8, B=48, seed=0):
    dev = MZIMeshLayer(n, n, MZIConfig(block=block), seed=seed, name="L")
    g = torch.Generator().manual_seed(seed)
    knobs = dev.knobs_from_weight(torch.randn(n, n, generator=g) / math.sqrt(n))
    # keep Σ phases off their range ends, where projection makes the loss one-sided
    knobs["sigma_phases"] = knobs["sigma_phases"].clamp(0.3, math.pi - 0.3)
    x = torch.randn(B, n, generator=g)
    y = torch.randint(0, C, (B,), generator=g)
    head = MonoForwardHead(C, n)
    params = {"M": torch.randn(C, n, generator=g) / math.sqrt(n)}
    b = 0.1 * torch.randn(n, generator=g)
    kmap = knob_map_for(dev.knob_spec, dev.info().knob_bits)
    return dev, knobs, x, y, (head, params, b), kmap


def loss_via_oracle(dev, kmap, knobs, x, y, objective):
    """θ (P, d) in range units → Mono-Forward local loss (P,), one batched device call."""
    head, params, b = objective

    def loss(theta):
        z = dev.query(dev.program(kmap.unflatten(theta, knobs)), x)
        return head.loss(torch.relu(z + b), y, params)
    return loss


def autograd_grad(dev, kmap, knobs, x, y, objective):
    """∂L/∂θ in range units, by autograd through the differentiable ideal twin."""
    head, params, b = objective
    theta = kmap.flatten(knobs).double().requires_grad_(True)
    k = kmap.unflatten(theta, {n: t.double() for n, t in knobs.items()})
    z = x.double() @ dev.digital_twin(k).T
    loss = head.loss(torch.relu(z + b.double()), y, {"M": params["M"].double()})
    loss.backward()
    return theta.grad.float()


def test_dd_is_unbiased_against_autograd_on_the_ideal_twin():
    dev, knobs, x, y, obj, kmap = small_problem(n=4, block=4)
    g = autograd_grad(dev, kmap, knobs, x, y, obj)
    d, P = kmap.dim, 20_000
    est = Directional(DirectionalDerivative("sphere", P, 1e-3, "central"))
    grad, _, info = est.estimate(loss_via_oracle(dev, kmap, knobs, x, y, obj), kmap.flatten(knobs),
                                 est.init(None), torch.Generator().manual_seed(1))
    assert info["device_queries"] == 2 * P
    # The mean of P one-direction estimates is the P-direction estimate. Its error has
    # E‖ĝ − g‖² ≈ (d − 1)‖g‖²/P (unit sphere × d), so ‖ĝ − g‖ should be ≈ ‖g‖·sqrt(d/P);
    # allow 2× that (a > 4σ event for a chi-like norm with d = 36 degrees of freedom).
    err = (grad - g).norm()
    assert err < 2.0 * g.norm() * math.sqrt(d / P), (float(err), float(g.norm()))
    assert torch.nn.functional.cosine_similarity(grad, g, dim=0) > 0.95


def test_cosine_with_true_gradient_grows_like_sqrt_p_over_d():
    dev, knobs, x, y, obj, kmap = small_problem(n=8, block=8)
    g = autograd_grad(dev, kmap, knobs, x, y, obj)
    d = kmap.dim
    loss = loss_via_oracle(dev, kmap, knobs, x, y, obj)
    theta = kmap.flatten(knobs)
    gen = torch.Generator().manual_seed(3)
    means = {}
    for P in (1, 4, 16):
        est = DirectionalDerivative("sphere", P, 1e-3, "central")
        cos = [float(torch.nn.functional.cosine_similarity(est.estimate(loss, theta, gen).grad, g, dim=0))
               for _ in range(120)]
        means[P] = sum(cos) / len(cos)
    assert means[1] < means[4] < means[16]
    for P in (4, 16):   # E[cos] ≈ sqrt(P/d) for P ≪ d (slightly below: E|u·ĝ| factor)
        assert 0.65 * math.sqrt(P / d) < means[P] < 1.25 * math.sqrt(P / d), (P, means[P], d)


def test_forward_difference_bias_is_first_order_central_second_order():
    """Along a fixed direction, err(ε) = a·ε + c·ε² + …: forward differences carry the O(ε)
    term (a = uᵀHu/2), central differences do not (their error starts at O(ε²))."""
    dev, knobs, x, y, (head, params, b), kmap = small_problem(n=8, block=8)
    obj = (head, params, torch.full_like(b, 20.0))     # all ReLUs active: smooth loss
    g = autograd_grad(dev, kmap, knobs, x, y, obj).double()
    loss = loss_via_oracle(dev, kmap, knobs, x, y, obj)
    theta = kmap.flatten(knobs)
    u = torch.nn.functional.normalize(torch.randn(kmap.dim, generator=torch.Generator().manual_seed(5)), dim=0)
    exact = float(g @ u.double())
    eps = torch.tensor([0.14, 0.12, 0.1, 0.08, 0.06, 0.04], dtype=torch.float64)
    pts = torch.stack([theta + float(e) * u for e in eps] + [theta - float(e) * u for e in eps] + [theta])
    l = loss(pts).double()
    n = len(eps)
    central = (l[:n] - l[n:2 * n]) / (2 * eps) - exact
    forward = (l[:n] - l[-1]) / eps - exact
    basis = torch.stack([eps, eps ** 2], 1)
    a_c = float(torch.linalg.lstsq(basis, central[:, None]).solution[0])
    a_f = float(torch.linalg.lstsq(basis, forward[:, None]).solution[0])
    assert abs(a_f) > 0.01 * abs(exact)            # a real first-order bias term
    assert abs(a_c) < 0.1 * abs(a_f), (a_c, a_f)    # central: no first-order term
    # and the central error shrinks ~ε² over the range
    assert float(central[-1].abs() / central[0].abs()) < 2.0 * float((eps[-1] / eps[0]) ** 2)


# ------------------------------------------------------------------ training on the parts

def make_model(preset_cfg, seed=0, P=16, hidden=(16,), **settings):
    """mfdd from the registry on MZI devices of ``preset_cfg`` (digits, 64 inputs)."""
    from experiments.data import load_dataset, standardize
    data = standardize(load_dataset("digits", seed=seed))
    trace = Trace()
    model = model_from_config((64,), hidden=list(hidden))
    devs = [MZIMeshLayer(a, b, preset_cfg, seed=seed + i, name=f"layer{i}")
            for i, (a, b) in enumerate(model.device_shapes())]
    tr = registry.build("mfdd", MFDDSettings(num_directions=P, **settings), model, devs, 10,
                        seed=seed, trace=trace)
    return tr, data, trace


def test_short_mfdd_run_on_digits_beats_chance_by_far():
    tr, data, trace = make_model(MZIConfig(block=8), prediction="sum")
    res = registry.train(tr, data.x_train, data.y_train, epochs=3, batch_size=64, seed=0,
                         trace=trace, x_test=data.x_test, y_test=data.y_test)
    assert res.history["test_accuracy"][-1] > 0.6          # chance is 0.1
    s = res.step_summaries[0]
    # one clean program per layer + 2P perturbed settings in ONE program call
    assert s["layer0.program.settings"] == 1 + 2 * 16
    assert s["host.digital.flops"] > 0


def test_same_seed_same_metrics_and_traces():
    from hwsim.presets import device_config
    runs = []
    for _ in range(2):
        tr, data, trace = make_model(device_config("mzi-default"), P=4)
        res = registry.train(tr, data.x_train[:256], data.y_train[:256], epochs=1, batch_size=64,
                             seed=0, trace=trace, x_test=data.x_test[:64], y_test=data.y_test[:64])
        runs.append((res.step_losses, res.history, trace.as_records(),
                     [t.clone() for t in tr.state.theta], tr.trainer.knobs()))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1] and runs[0][2] == runs[1][2]
    for a, b in zip(runs[0][3], runs[1][3]):
        assert torch.equal(a, b)
    for ka, kb in zip(runs[0][4], runs[1][4]):
        assert ka.keys() == kb.keys() and all(torch.equal(ka[k], kb[k]) for k in ka)


def test_greedy_schedule_trains_one_stage_at_a_time():
    tr, data, trace = make_model(MZIConfig(block=8), hidden=(16, 16), P=2, schedule="greedy")
    before = [t.clone() for t in tr.state.theta]
    tr.step(data.x_train[:32], data.y_train[:32], [0])
    assert not torch.equal(before[0], tr.state.theta[0])
    assert torch.equal(before[1], tr.state.theta[1])
    # the loop runs stage 0 for every epoch, then stage 1
    tr, data, trace = make_model(MZIConfig(block=8), hidden=(16, 16), P=2, schedule="greedy")
    res = registry.train(tr, data.x_train[:64], data.y_train[:64], epochs=2, batch_size=32, seed=0)
    assert res.history["train_layers"] == [1.0, 1.0, 2.0, 2.0]
    assert [sorted(m) for m in res.step_losses] == [["loss.layer0"]] * 4 + [["loss.layer1"]] * 4


def test_bad_mfdd_settings_raise():
    with pytest.raises(ValueError, match="schedule"):
        MFDDSettings(schedule="sometimes")
    with pytest.raises(ValueError, match="prediction"):
        MFDDSettings(prediction="vote")
    with pytest.raises(ValueError, match="schedule"):
        fit(None, torch.zeros(2, 1), torch.zeros(2), epochs=1, batch_size=1, seed=0,
            schedule="sometimes")


def test_host_work_is_split_into_loss_estimator_and_optimizer():
    """The trace prices host work by role: local losses of every evaluated setting (and the
    clean head pass), the directional combination of the estimate and the optimizer update
    of knobs and digital parameters, each counted."""
    tr, data, trace = make_model(MZIConfig(block=8), hidden=(16,), P=4)
    trace.begin_step()
    tr.step(data.x_train[:32], data.y_train[:32])
    s = trace.end_step()
    B, n = 32, 16
    head = MonoForwardHead(10, n)
    d_k = tr.state.theta[0].numel()
    d_h = 10 * n + n                      # M and the stage bias b
    evals = 2 * 4                          # central differences, P = 4
    assert s["host.digital.flops_loss"] == (1 + evals) * head.flops(B)
    assert s["host.digital.flops_estimator"] == 2 * 4 * d_k
    assert s["host.digital.flops_optimizer"] == 12 * (d_k + d_h)

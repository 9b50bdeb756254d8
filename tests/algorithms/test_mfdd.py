"""MF+DD through the oracle: DD estimates vs autograd on the ideal twin, training, determinism."""
import math

import pytest
import torch

from algorithms import updates
from algorithms.estimators.zeroth_order import DirectionalDerivative
from algorithms.knobs import KnobVector
from algorithms.loop import accuracy, train
from algorithms.mfdd import MFDDConfig, MonoForwardDD
from algorithms.objectives import mono_forward as mf
from algorithms.seeds import generator
from hwsim.oracle import TracingOracle
from hwsim.photonic.device import MZIConfig, MZIMeshLayer
from hwsim.trace import Trace

TRAIN = ("mesh_phases", "sigma_phases")


def small_problem(n=8, block=8, B=48, seed=0):
    dev = MZIMeshLayer(n, n, MZIConfig(block=block), seed=seed, name="L")
    g = torch.Generator().manual_seed(seed)
    knobs = dev.knobs_from_weight(torch.randn(n, n, generator=g) / math.sqrt(n))
    # keep Σ phases off their range ends, where projection makes the loss one-sided
    knobs["sigma_phases"] = knobs["sigma_phases"].clamp(0.3, math.pi - 0.3)
    x = torch.randn(B, n, generator=g)
    y = torch.randint(0, 4, (B,), generator=g)
    head = {"M": torch.randn(4, n, generator=g) / math.sqrt(n), "b": 0.1 * torch.randn(n, generator=g)}
    vec = KnobVector.for_spec(dev.knob_spec, TRAIN)
    return dev, knobs, x, y, head, vec


def loss_via_oracle(dev, vec, knobs, x, y, head):
    def loss(theta):
        z = dev.query(dev.program(vec.unflatten(theta, knobs)), x)
        return mf.local_loss(mf.scores(mf.activations(z, head["b"]), head["M"]), y)
    return loss


def autograd_grad(dev, vec, knobs, x, y, head):
    """∂L/∂θ in normalised knob units, by autograd through the differentiable ideal twin."""
    theta = vec.flatten(knobs).double().requires_grad_(True)
    k = {n: t.double() for n, t in knobs.items()}
    i = 0
    for n in vec.names:
        s = vec.spec[n]
        k[n] = theta[i:i + s.numel].reshape(s.shape) * vec.span(n)
        i += s.numel
    z = x.double() @ dev.digital_twin(k).T
    loss = mf.local_loss(mf.scores(mf.activations(z, head["b"].double()), head["M"].double()), y)
    loss.backward()
    return theta.grad.float()


def test_dd_is_unbiased_against_autograd_on_the_ideal_twin():
    dev, knobs, x, y, head, vec = small_problem(n=4, block=4)
    g = autograd_grad(dev, vec, knobs, x, y, head)
    d, P = vec.dim, 20_000
    est = DirectionalDerivative("sphere", P, 1e-3, "central").estimate(
        loss_via_oracle(dev, vec, knobs, x, y, head), vec.flatten(knobs), torch.Generator().manual_seed(1))
    # The mean of P one-direction estimates is the P-direction estimate. Its error has
    # E‖ĝ − g‖² ≈ (d − 1)‖g‖²/P (unit sphere × d), so ‖ĝ − g‖ should be ≈ ‖g‖·sqrt(d/P);
    # allow 2× that (a > 4σ event for a chi-like norm with d = 36 degrees of freedom).
    err = (est.grad - g).norm()
    assert err < 2.0 * g.norm() * math.sqrt(d / P), (float(err), float(g.norm()))
    assert torch.nn.functional.cosine_similarity(est.grad, g, dim=0) > 0.95


def test_cosine_with_true_gradient_grows_like_sqrt_p_over_d():
    dev, knobs, x, y, head, vec = small_problem(n=8, block=8)
    g = autograd_grad(dev, vec, knobs, x, y, head)
    d = vec.dim
    loss = loss_via_oracle(dev, vec, knobs, x, y, head)
    theta = vec.flatten(knobs)
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
    dev, knobs, x, y, head, vec = small_problem(n=8, block=8)
    head = {"M": head["M"], "b": torch.full_like(head["b"], 20.0)}   # all ReLUs active: smooth loss
    g = autograd_grad(dev, vec, knobs, x, y, head).double()
    loss = loss_via_oracle(dev, vec, knobs, x, y, head)
    theta = vec.flatten(knobs)
    u = torch.nn.functional.normalize(torch.randn(vec.dim, generator=torch.Generator().manual_seed(5)), dim=0)
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


def make_model(preset_cfg, seed=0, P=16, hidden=(16,)):
    from experiments.data import load_dataset, standardize
    data = standardize(load_dataset("digits", seed=seed))
    trace = Trace()
    sizes = [64, *hidden]
    g = torch.Generator().manual_seed(seed)
    oracles, knobs = [], []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        dev = MZIMeshLayer(a, b, preset_cfg, seed=seed + i, name=f"layer{i}")
        oracles.append(TracingOracle(dev, trace))
        knobs.append(dev.knobs_from_weight((2 * torch.rand(b, a, generator=g) - 1) / math.sqrt(a)))
    cfg = MFDDConfig(DirectionalDerivative("sphere", P, 0.05), DirectionalDerivative("sphere", 64, 0.01),
                     prediction="sum")
    model = MonoForwardDD(oracles, knobs, [TRAIN] * len(oracles), 10, cfg, updates.adam(0.002),
                          updates.adam(0.03), seed=seed, trace=trace)
    return model, data, trace


def test_short_mfdd_run_on_digits_beats_chance_by_far():
    model, data, trace = make_model(MZIConfig(block=8))
    res = train(model, data.x_train, data.y_train, epochs=3, batch_size=64, gen=generator(0, "b"),
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
        model, data, trace = make_model(device_config("mzi-default"), P=4)
        res = train(model, data.x_train[:256], data.y_train[:256], epochs=1, batch_size=64,
                    gen=generator(0, "b"), trace=trace, x_test=data.x_test[:64], y_test=data.y_test[:64])
        runs.append((res.step_losses, res.history, trace.as_records(),
                     {k: v.clone() for k, v in model.layers[0].knobs.items()}))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1] and runs[0][2] == runs[1][2]
    for k in runs[0][3]:
        assert torch.equal(runs[0][3][k], runs[1][3][k])


def test_greedy_schedule_trains_one_layer_at_a_time():
    model, data, trace = make_model(MZIConfig(block=8), hidden=(16, 16), P=2)
    before = {k: v.clone() for k, v in model.layers[1].knobs.items()}
    model.step(data.x_train[:32], data.y_train[:32], train_layers=[0])
    for k in before:
        assert torch.equal(before[k], model.layers[1].knobs[k])


def test_bad_mfdd_settings_raise():
    with pytest.raises(ValueError, match="schedule"):
        MFDDConfig(schedule="sometimes")
    with pytest.raises(ValueError, match="prediction"):
        MFDDConfig(prediction="vote")
    with pytest.raises(ValueError, match="prediction rule"):
        mf.predict([torch.zeros(2, 3)], "median")


def test_host_work_is_split_into_loss_estimator_and_optimizer():
    """The trace prices host work by role: local losses of every evaluated setting, the
    directional combination of the estimates and the optimizer update, each counted."""
    model, data, trace = make_model(MZIConfig(block=8), hidden=(16,), P=4)
    trace.begin_step()
    model.step(data.x_train[:32], data.y_train[:32])
    s = trace.end_step()
    B, C, n = 32, 10, 16
    d_k = sum(v.numel() for k, v in model.layers[0].knobs.items()
              if k in ("mesh_phases", "sigma_phases"))
    d_h = C * n + n
    knob_evals = model.config.knob_estimator.evaluations()
    head_evals = model.config.head_estimator.evaluations()
    assert s["host.digital.flops_loss"] == (knob_evals + head_evals) * B * (2 * n * C + 4 * C + 2 * n)
    assert s["host.digital.flops_estimator"] == (2 * model.config.knob_estimator.num_directions * d_k
                                                 + 2 * model.config.head_estimator.num_directions * d_h)
    assert s["host.digital.flops_optimizer"] == 12 * (d_k + d_h)

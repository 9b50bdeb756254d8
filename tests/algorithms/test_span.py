"""Span directions (estimators.span): the projection estimate against autograd on the ideal twin,
and the trainer's directions really span the local gradient's subspace."""
import pytest
import torch

from algorithms import registry
from algorithms.estimators.span import SpanProjection
from algorithms.model import model_from_config
from hwsim.presets import build_layer
from hwsim.trace import Trace

from .test_estimators import Problem, cos


@pytest.fixture(scope="module")
def prob():
    return Problem()


def test_projection_of_the_gradient_onto_the_given_directions(prob):
    g = prob.grad()
    gen = torch.Generator().manual_seed(0)
    dirs = torch.randn(5, prob.d, generator=gen, dtype=torch.float64)
    est = SpanProjection(num_directions=5, epsilon=1e-5)
    got, _, info = est.estimate(prob.loss, prob.theta, (), gen, directions=dirs)
    q, _ = torch.linalg.qr(dirs.T)
    assert torch.allclose(got, q @ (q.T @ g), rtol=1e-3, atol=1e-7)
    assert info["device_queries"] == 10 == est.device_queries() and info["span_rank"] == 5
    # directions containing the gradient recover it exactly; scaling a direction changes nothing
    exact, _, _ = est.estimate(prob.loss, prob.theta, (), gen,
                               directions=torch.cat([3.0 * g[None], dirs[:4]]))
    assert torch.allclose(exact, g, rtol=1e-3, atol=1e-7)


def test_rank_deficient_directions_drop_out_instead_of_adding_noise(prob):
    g = prob.grad()
    dirs = torch.zeros(4, prob.d, dtype=torch.float64)
    dirs[0], dirs[1] = g, 2 * g                     # one direction, given twice; two zero rows
    got, _, info = SpanProjection(4, 1e-5).estimate(prob.loss, prob.theta, (), torch.Generator(),
                                                    directions=dirs)
    assert info["span_rank"] == 1 and torch.allclose(got, g, rtol=1e-3, atol=1e-7)


def test_wrong_directions_shape_is_one_line(prob):
    with pytest.raises(ValueError, match=r"extras\['directions'\] of shape \(3, ") as e:
        SpanProjection(3, 1e-3).estimate(prob.loss, prob.theta, (), torch.Generator(),
                                         directions=torch.zeros(2, prob.d))
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="space"):
        SpanProjection(space="output")


def _stage_gradient(tr, x, y):
    """Autograd of stage 0's local loss through the nominal (ideal twin) map, w.r.t. θ."""
    t = tr.trainer
    net, s = t.net, t.state
    st, o, m = net.stages[0], net.oracles[0], net.maps[0]
    theta = s.theta[0].clone().double().requires_grad_(True)
    w = o.nominal({k: v.double() for k, v in m.unflatten(theta, s.fixed[0]).items()})
    h, _ = st.host_forward((x.double() @ w.T)[None], {k: v.double() for k, v in s.digital[0].items()})
    t.heads[0].loss(h, y, {k: v.double() for k, v in s.heads[0].items()})[0].backward()
    return theta.grad.float()


@pytest.mark.parametrize("directions, P", [("head-span", 12), ("input-span", 12)])
def test_trainer_directions_span_the_exact_local_gradient(directions, P):
    """Stage 0 of 6 → 4 (ReLU), B = 3, C = 4: the head span has C·B = 12 dimensions and the input
    span n_out·B = 12, so P = 12 random directions contain the exact gradient; with fewer, the
    span still holds far more of it than isotropic directions."""
    model = model_from_config((6,), hidden=[4])
    devs = [build_layer("crossbar-ideal", 6, 4, seed=0, name="layer0")]
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(3, 6, generator=g), torch.tensor([0, 1, 3])
    tr = registry.build("mfdd", registry.settings_for("mfdd", {"directions": directions,
                                                               "num_directions": P}),
                        model, devs, 4, seed=0, trace=Trace())
    t = tr.trainer
    p = t._clean_pass(x, 0, t.state.streams.train_program, t.state.streams.train_query)[0]
    dirs = t._span_directions(0, p, t.estimators[0])
    grad = _stage_gradient(tr, x, y)
    q = SpanProjection.orthonormal(dirs)
    assert dirs.shape == (P, t.state.theta[0].numel())
    assert float((grad - q.T @ (q @ grad)).norm() / grad.norm()) < 1e-3
    # 3 of the 12: a ~¼ share of |g|², against 3/24 for isotropic directions in d = 24 knobs
    few = SpanProjection.orthonormal(dirs[:3])
    share = float((few @ grad).norm() ** 2 / grad.norm() ** 2)
    assert share > 0.05


@pytest.mark.parametrize("preset", ["mzi-default", "crossbar-default"])
def test_span_mfdd_queries_equal_the_trace_and_label_names_the_model(preset):
    model = model_from_config((16,), hidden=[8, 8])
    devs = [build_layer(preset, a, b, seed=i, name=f"layer{i}")
            for i, (a, b) in enumerate(model.device_shapes())]
    trace = Trace()
    s = registry.settings_for("mfdd", {"directions": "head-span", "num_directions": 3})
    tr = registry.build("mfdd", s, model, devs, 4, seed=0, trace=trace)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 16, generator=g), torch.randint(0, 4, (16,), generator=g)
    trace.begin_step()
    tr.step(x, y)
    summary = trace.end_step()
    cal = sum(c.queries for c in tr.state.calibration if c is not None)
    expected = registry.ALGORITHMS["mfdd"].queries_per_step(s, 2)
    assert tr.device_queries_per_step() == expected == 2 * (1 + 2 * 3)
    assert sum(v for k, v in summary.items() if k.endswith(".mvm.settings")) == expected + cal
    assert (cal > 0) == (preset == "mzi-default")
    assert tr.label == ("forward-only, calibrated model" if preset == "mzi-default"
                        else "forward-only, nominal model")
    assert registry.results_label("mfdd", registry.settings_for("mfdd")) in (
        "forward-only", "forward-only, calibrated or nominal model")


def test_span_directions_beat_isotropic_ones_in_cosine():
    """196 → 16, B = 32, C = 10: P = 8 head-span directions hold a share ≈ P/(C·B) = 1/40 of the
    exact local gradient's |g|², against ≈ P/d = 1/392 for P = 8 isotropic ones."""
    model = model_from_config((196,), hidden=[16])
    devs = [build_layer("crossbar-ideal", 196, 16, seed=0, name="layer0")]
    g = torch.Generator().manual_seed(2)
    x = torch.randn(32, 196, generator=g) @ torch.randn(196, 196, generator=g) * 0.1
    y = torch.randint(0, 10, (32,), generator=g)
    tr = registry.build("mfdd", registry.settings_for("mfdd", {"directions": "head-span"}),
                        model, devs, 10, seed=0, trace=Trace())
    t = tr.trainer
    p = t._clean_pass(x, 0, t.state.streams.train_program, t.state.streams.train_query)[0]
    grad = _stage_gradient(tr, x, y)
    q = SpanProjection.orthonormal(t._span_directions(0, p, t.estimators[0]))
    share = float((q @ grad).norm() ** 2 / grad.norm() ** 2)
    d = grad.numel()
    assert share > 0.5 * 8 / (10 * 32) and share > 10 * 8 / d, (share, 8 / d)
    iso = SpanProjection.orthonormal(torch.randn(8, d, generator=g))
    assert float((iso @ grad).norm() ** 2 / grad.norm() ** 2) < 5 * 8 / d


@pytest.mark.parametrize("preset", ["crossbar-default", "mzi-default"])
def test_batched_directions_equal_one_direction_at_a_time(preset):
    """The P directions come out of one batched pass through conv, max-pool, flatten, the weight
    cotangent and the Jacobian model; each equals the same maps applied to its cotangent alone."""
    model = model_from_config((1, 6, 6), architecture=["conv2d:2:3:1:1", "bias", "relu",
                                                       "maxpool:2", "flatten"])
    devs = [build_layer(preset, a, b, seed=0, name="layer0") for a, b in model.device_shapes()]
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(3, 36, generator=g), torch.tensor([0, 1, 2])
    tr = registry.build("mfdd", registry.settings_for("mfdd", {"directions": "input-span",
                                                               "num_directions": 3}),
                        model, devs, 3, seed=0, trace=Trace())
    t = tr.trainer
    p = t._clean_pass(x, 0, t.state.streams.train_program, t.state.streams.train_query)[0]
    gen_state = t.state.streams.directions.get_state()
    dirs = t._span_directions(0, p, t.estimators[0])
    t.state.streams.directions.set_state(gen_state)
    st = t.net.stages[0]
    dh = torch.randn(3, 3, st.n_features, generator=t.state.streams.directions)
    pull = t._knob_pullback(0)
    for k in range(3):
        dz, _ = st.host_backward(p["ctxs"], dh[k].reshape(3, *st.out_shape))
        one = pull(st.weight_cotangent(dz, p["a_in"]))
        assert torch.allclose(dirs[k], one, rtol=1e-4, atol=1e-6)

"""Scalable Forward-Forward: class goodness, loss and vote by hand; closed-form gradients against
autograd; the device estimate against autograd on the twin; queries = trace."""
import math

import pytest
import torch

from algorithms import registry
from algorithms.estimators import Directional, DirectionalDerivative, LocalGuess
from algorithms.goodness_training import class_goodness_heads, local_trainer_with_objectives
from algorithms.model import model_from_config
from algorithms.network import OracleNetwork
from algorithms.normalized import NormalizedConv2d, NormalizedDense, normalize_between_blocks
from algorithms.objectives.goodness import ClassGoodnessHead, average_goodness_vote
from algorithms import updates
from hwsim.oracle import TracingOracle
from hwsim.presets import build_layer
from hwsim.trace import Trace


def mvm_settings(summary):
    return sum(v for k, v in summary.items() if k.endswith(".mvm.settings"))


# ------------------------------------------------------------------ by hand
def test_class_goodness_loss_and_vote_on_a_hand_case():
    # one example, K = 2 channels on a 2-position map, C = 2 classes, no normalisation
    head = ClassGoodnessHead(2, 2, 2, normalize=False)
    a = torch.tensor([[1.0, 3.0, 2.0, 0.0]])         # channel 0: (1, 3), channel 1: (2, 0)
    P = torch.tensor([[1.0, 0.0], [1.0, -1.0]])        # class 0 reads ch0; class 1 reads ch0 − ch1
    params = {"M": P}
    # q0 = (1, 3) → g0 = (1 + 9)/2 = 5;  q1 = (1 − 2, 3 − 0) = (−1, 3) → g1 = (1 + 9)/2 = 5
    g = head.scores(a, params)
    assert torch.allclose(g, torch.tensor([[5.0, 5.0]]))
    assert float(head.loss(a, torch.tensor([0]), params)) == pytest.approx(math.log(2))
    P2 = {"M": torch.tensor([[1.0, 0.0], [0.0, 1.0]])}  # g = (5, (4 + 0)/2 = 2)
    g2 = head.scores(a, P2)
    assert torch.allclose(g2, torch.tensor([[5.0, 2.0]]))
    assert float(head.loss(a, torch.tensor([1]), P2)) == pytest.approx(math.log(1 + math.exp(3)))
    # vote: goodness averaged over blocks, argmax
    b1 = torch.tensor([[5.0, 2.0], [0.0, 1.0]])
    b2 = torch.tensor([[0.0, 4.0], [0.0, 3.0]])         # means: (2.5, 3.0), (0, 2)
    assert average_goodness_vote([b1, b2]).tolist() == [1, 1]
    assert average_goodness_vote([b1]).tolist() == [0, 1]


def test_dense_goodness_is_the_conv_rule_on_a_one_by_one_map():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 6, generator=g)
    params = {"M": torch.randn(3, 6, generator=g)}
    dense = ClassGoodnessHead(3, 6, 1)
    q = (a / a.square().mean(-1, keepdim=True).add(1e-6).sqrt()) @ params["M"].T
    assert torch.allclose(dense.scores(a, params), q.square(), atol=1e-6)


@pytest.mark.parametrize("normalize", [True, False])
def test_closed_form_gradients_match_autograd(normalize):
    g = torch.Generator().manual_seed(1)
    head = ClassGoodnessHead(4, 3, 5, normalize=normalize)
    a = torch.randn(7, 15, generator=g).relu().requires_grad_(True)
    P = torch.randn(4, 3, generator=g).requires_grad_(True)
    y = torch.randint(0, 4, (7,), generator=g)
    loss, grads, da = head.loss_and_grads(a.detach(), y, {"M": P.detach()})
    ref = head.loss(a, y, {"M": P})
    ref.backward()
    assert float(loss) == pytest.approx(float(ref.detach()), rel=1e-6)
    assert torch.allclose(grads["M"], P.grad, atol=1e-6)
    assert torch.allclose(da, a.grad, atol=1e-6)


def test_head_validation_is_one_line():
    with pytest.raises(ValueError, match="channels"):
        ClassGoodnessHead(10, 0)
    with pytest.raises(ValueError, match="input width 7"):
        ClassGoodnessHead(2, 2, 2).scores(torch.zeros(1, 7), {"M": torch.zeros(2, 2)})


# ------------------------------------------------------------------ normalised blocks
def test_blocks_after_the_first_get_normalised_inputs():
    model = model_from_config((1, 8, 8), architecture=["conv2d:4:3:1:1", "relu", "maxpool:2",
                                                       "conv2d:4:3:1:1", "relu", "flatten",
                                                       "dense:6", "relu"])
    nm = normalize_between_blocks(model)
    kinds = [type(s.device) for s in nm.stages()]
    assert kinds == [type(model.stages()[0].device), NormalizedConv2d, NormalizedDense]
    a = 3.0 * torch.rand(1, 2, 4, 4, 4)
    cols = nm.stages()[1].device_inputs(a)
    ref = model.stages()[1].device_inputs(a / a.square().mean((2, 3, 4), keepdim=True).sqrt())
    assert torch.allclose(cols, ref, atol=1e-5)
    assert nm.device_shapes() == model.device_shapes()


# ------------------------------------------------------------------ through the device
def _sff(preset="mzi-ideal", estimator=None, hidden=(6, 5), n_in=8, seed=0, trace=None):
    model = normalize_between_blocks(model_from_config((n_in,), hidden=list(hidden)))
    trace = trace if trace is not None else Trace()
    layers = [build_layer(preset, a, b, seed=i, name=f"layer{i}")
              for i, (a, b) in enumerate(model.device_shapes())]
    devs = [TracingOracle(d, trace) for d in layers]
    net = OracleNetwork.build(model, devs)
    g = torch.Generator().manual_seed(seed)
    knobs = [d.knobs_from_weight(torch.randn(b, a, generator=g) / math.sqrt(a))
             for d, (a, b) in zip(layers, model.device_shapes())]
    ests = [estimator] * len(devs)
    return local_trainer_with_objectives(net, knobs, class_goodness_heads(net, 3), ests,
                                         updates.sgd(1e-2), updates.sgd(1e-2), seed=seed,
                                         trace=trace), trace


def _twin_loss_and_grad(tr, i, a_in, y):
    """Autograd of stage i's SFF loss through the ideal twin (design-level map), θ range units."""
    o, m = tr.net.oracles[i], tr.net.maps[i]
    st, head = tr.net.stages[i], tr.heads[i]
    theta = tr.state.theta[i].clone().requires_grad_(True)
    w = o.nominal(m.unflatten(theta, tr.state.fixed[i]))
    z = st.device_readout((st.device_inputs(a_in) @ w.T), a_in.shape[1])
    h, _ = st.host_forward(z[0], tr.state.digital[i])
    loss = head.loss(h.reshape(h.shape[0], -1), y, tr.state.heads[i])
    loss.backward()
    return float(loss.detach()), theta.grad


def test_device_estimate_is_unbiased_against_autograd_on_the_twin():
    tr, _ = _sff(estimator=Directional(DirectionalDerivative("rademacher", 64, 1e-3, "central")))
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(32, 8, generator=g), torch.randint(0, 3, (32,), generator=g)
    p = tr._clean_pass(x, 1, tr.state.streams.train_program, tr.state.streams.train_query)
    for i in (0, 1):
        _, ref = _twin_loss_and_grad(tr, i, p[i]["a_in"], y)
        est = tr.estimators[i]
        draws = torch.stack([est.estimate(tr._stage_loss_fn(i, p[i]["a_in"], y), tr.state.theta[i],
                                          (), tr.state.streams.directions)[0] for _ in range(24)])
        mean = draws.mean(0)
        cos = float(torch.nn.functional.cosine_similarity(mean, ref, dim=0))
        # 24 × 64 Rademacher directions on d knobs: mean within a few standard errors of ∇L
        assert cos > 0.9, (i, cos)
        assert float(mean.norm() / ref.norm()) == pytest.approx(1.0, abs=0.2)


def test_local_guess_along_the_exact_goodness_gradient_is_aligned_on_the_ideal_device():
    # per-knob step 1e-4: at 1e-3 the O(s²) curvature term of the quadratic goodness shortens
    # the measured length by ~7 % (direction still cos > 0.999)
    tr, _ = _sff(estimator=LocalGuess("local", 1e-4))
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(32, 8, generator=g), torch.randint(0, 3, (32,), generator=g)
    p = tr._clean_pass(x, 1, tr.state.streams.train_program, tr.state.streams.train_query)
    for i in (0, 1):
        _, ref = _twin_loss_and_grad(tr, i, p[i]["a_in"], y)
        st, head = tr.net.stages[i], tr.heads[i]
        B = p[i]["z"].shape[0]
        _, _, da = head.loss_and_grads(p[i]["h"].reshape(B, -1), y, tr.state.heads[i])
        dz, _ = st.host_backward(p[i]["ctxs"], da.reshape(B, *st.out_shape))
        guess = tr._guess(i, dz, p[i]["a_in"])
        est, _, _ = tr.estimators[i].estimate(tr._stage_loss_fn(i, p[i]["a_in"], y),
                                              tr.state.theta[i], (), tr.state.streams.directions,
                                              guess=guess)
        # ideal device: the guess is the exact gradient and the measured step its length
        assert float(torch.nn.functional.cosine_similarity(est, ref, dim=0)) > 0.999
        assert float(est.norm() / ref.norm()) == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("estimator", ["rademacher", "frog", "local-guess"])
def test_registry_sff_queries_per_step_equal_the_trace(estimator):
    model = model_from_config((8,), hidden=[6, 5])
    trace = Trace()
    devs = [build_layer("mzi-default", a, b, seed=i, name=f"layer{i}")
            for i, (a, b) in enumerate(model.device_shapes())]
    s = registry.settings_for("sff", {"estimator": estimator, "num_directions": 3})
    t = registry.build("sff", s, model, devs, 3, seed=0, trace=trace)
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(16, 8, generator=g), torch.randint(0, 3, (16,), generator=g)
    per = {"rademacher": 6, "frog": 6, "local-guess": 2}[estimator]
    for step in range(2):
        trace.begin_step()
        t.step(x, y)
        # the calibrated guess measures each stage's Jacobian in the first step (mzi-default
        # declares calibrate): 2 × 136 shifters of an 8×8 block per stage
        cal = 2 * 2 * 136 if (estimator == "local-guess" and step == 0) else 0
        assert mvm_settings(trace.end_step()) == 2 * (1 + per) + cal
        assert t.device_queries_per_step() == 2 * (1 + per)
    assert t.device_queries_per_step() == registry.ALGORITHMS["sff"].queries_per_step(s, 2)
    assert t.label == ("forward-only, calibrated model" if estimator == "local-guess"
                       else "forward-only")
    assert t.predict(x).shape == (16,)


def test_sff_on_a_cnn_has_one_goodness_channel_per_class_per_conv_block():
    model = model_from_config((1, 8, 8), architecture=["conv2d:4:3:1:1", "bias", "relu",
                                                       "maxpool:2", "flatten", "dense:6", "relu"])
    devs = [build_layer("mzi-ideal", a, b, seed=i, name=f"layer{i}")
            for i, (a, b) in enumerate(model.device_shapes())]
    t = registry.build("sff", registry.settings_for("sff", {"num_directions": 2}), model, devs, 3,
                       seed=0, trace=Trace())
    heads = t.trainer.heads
    assert (heads[0].channels, heads[0].positions) == (4, 16)    # 1×1 projection on 4×4×4
    assert (heads[1].channels, heads[1].positions) == (6, 1)
    assert t.trainer.state.heads[0]["M"].shape == (3, 4)
    x = torch.randn(8, 64)
    loss = t.step(x, torch.arange(8) % 3)
    assert all(math.isfinite(v) for v in loss.values())
    # the trainer's prediction is the vote of the goodness averaged over both blocks
    g = t.trainer.stage_scores(x)
    assert [s.shape for s in g] == [(8, 3), (8, 3)]
    assert torch.equal(t.predict(x), average_goodness_vote(g))


def test_sff_settings_validation_is_one_line():
    for values, field in (({"estimator": "adam"}, "estimator"), ({"num_directions": 0}, "num_directions"),
                          ({"architecture": "conv2d:4:3"}, "architecture"),
                          ({"architecture": ["warp:3"]}, "architecture")):
        with pytest.raises(ValueError, match=field) as e:
            registry.settings_for("sff", values)
        assert "\n" not in str(e.value)

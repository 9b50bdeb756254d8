"""Hinton's Forward-Forward: threshold loss and prediction by hand, closed-form gradient against
autograd, label embedding and negatives, the device estimate against autograd on the twin,
queries = trace."""
import math

import pytest
import torch

from algorithms import registry
from algorithms.goodness_training import embed_label
from algorithms.model import model_from_config
from algorithms.objectives.goodness import ThresholdGoodness
from hwsim.presets import build_layer
from hwsim.trace import Trace


def mvm_settings(summary):
    return sum(v for k, v in summary.items() if k.endswith(".mvm.settings"))


def test_threshold_loss_on_a_hand_case():
    obj = ThresholdGoodness(2, threshold=5.0)
    a = torch.tensor([[1.0, 2.0], [3.0, 0.0], [0.0, 1.0], [2.0, 2.0]])   # G = 5, 9, 1, 8
    y = torch.tensor([1, 1, 0, 0])
    assert obj.goodness(a).tolist() == [5.0, 9.0, 1.0, 8.0]
    # positives: softplus(5 − 5) = ln 2, softplus(5 − 9); negatives: softplus(1 − 5), softplus(8 − 5)
    want = (math.log(2) + math.log1p(math.exp(-4))) / 2 + (math.log1p(math.exp(-4))
                                                          + math.log1p(math.exp(3))) / 2
    assert float(obj.loss(a, y)) == pytest.approx(want, rel=1e-6)
    # batched over leading settings
    assert obj.loss(torch.stack([a, a]), y).shape == (2,)


def test_threshold_gradient_matches_autograd():
    g = torch.Generator().manual_seed(0)
    obj = ThresholdGoodness(6, threshold=2.0)
    a = torch.randn(10, 6, generator=g).relu().requires_grad_(True)
    y = torch.tensor([1, 0] * 5)
    loss, grads, da = obj.loss_and_grads(a.detach(), y)
    ref = obj.loss(a, y)
    ref.backward()
    assert float(loss) == pytest.approx(float(ref.detach()), rel=1e-6)
    assert torch.allclose(da, a.grad, atol=1e-6) and grads["M"].numel() == 0
    with pytest.raises(ValueError, match="positive"):
        obj.loss(a.detach(), torch.ones(10, dtype=torch.long))
    with pytest.raises(ValueError, match="threshold"):
        ThresholdGoodness(3, threshold=-1.0)


def _ff(preset="mzi-ideal", n_in=16, hidden=(6, 5), C=3, **values):
    model = model_from_config((n_in,), hidden=list(hidden))
    trace = Trace()
    devs = [build_layer(preset, a, b, seed=i, name=f"layer{i}")
            for i, (a, b) in enumerate(model.device_shapes())]
    t = registry.build("ff", registry.settings_for("ff", values), model, devs, C, seed=0,
                       trace=trace)
    return t, trace


def test_label_embedding_and_wrong_labels():
    x = torch.arange(12.0).reshape(2, 6)
    e = embed_label(x, torch.tensor([2, 0]), 3, 0.5)
    assert e.tolist() == [[0, 0, 0.5, 3, 4, 5], [0.5, 0, 0, 9, 10, 11]]
    t, _ = _ff()
    ff = t.trainer
    y = torch.arange(300) % 3
    neg = ff.wrong_labels(y)
    assert bool((neg != y).all()) and set(neg.tolist()) == {0, 1, 2}
    xs, flags = ff.positive_negative(torch.randn(4, 16), torch.tensor([0, 1, 2, 0]))
    assert xs.shape == (8, 16) and flags.tolist() == [1, 1, 1, 1, 0, 0, 0, 0]
    assert xs[:4, :3].argmax(1).tolist() == [0, 1, 2, 0]
    assert bool((xs[4:, :3].argmax(1) != torch.tensor([0, 1, 2, 0])).all())


def test_prediction_is_the_label_with_the_highest_summed_goodness():
    t, _ = _ff()
    ff = t.trainer
    x = torch.randn(5, 16)
    G = ff.label_goodness(x)                                     # (B, C) summed over blocks
    assert G.shape == (5, 3)
    # by hand: each candidate label through the device, goodness per block, summed
    for c in range(3):
        per = ff.trainer.stage_scores(embed_label(x, torch.full((5,), c), 3, ff.label_value))
        assert torch.allclose(G[:, c], sum(p[:, 0] for p in per), rtol=1e-5, atol=1e-5)
    assert torch.equal(ff.predict(x), G.argmax(1))
    # prediction "last": the last block's goodness only
    last, _ = _ff(prediction="last")
    per = [last.trainer.trainer.stage_scores(embed_label(x, torch.full((5,), c), 3,
                                                         last.trainer.label_value))[-1][:, 0]
           for c in range(3)]
    assert torch.allclose(last.trainer.label_goodness(x), torch.stack(per, 1), rtol=1e-5, atol=1e-5)
    # a hand case of the vote itself: goodness per block (2 blocks, C = 3)
    blocks = torch.tensor([[[1.0, 4.0, 2.0]], [[3.0, 0.5, 2.0]]])   # sums 4, 4.5, 4
    assert int(blocks.sum(0).argmax(-1)) == 1


def test_device_estimate_is_aligned_with_autograd_on_the_twin():
    from algorithms.estimators import Directional
    t, _ = _ff(estimator="rademacher", num_directions=64, epsilon_knob_range_units=1e-3)
    tr = t.trainer.trainer
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(16, 16, generator=g), torch.randint(0, 3, (16,), generator=g)
    xs, flags = t.trainer.positive_negative(x, y)
    p = tr._clean_pass(xs, 1, tr.state.streams.train_program, tr.state.streams.train_query)
    for i in (0, 1):
        o, m, st, obj = tr.net.oracles[i], tr.net.maps[i], tr.net.stages[i], tr.heads[i]
        theta = tr.state.theta[i].clone().requires_grad_(True)
        w = o.nominal(m.unflatten(theta, tr.state.fixed[i]))
        z = st.device_readout(st.device_inputs(p[i]["a_in"]) @ w.T, xs.shape[0])
        h, _ = st.host_forward(z[0], tr.state.digital[i])
        obj.loss(h, flags).backward()
        est = tr.estimators[i]
        assert isinstance(est, Directional)
        draws = torch.stack([est.estimate(tr._stage_loss_fn(i, p[i]["a_in"], flags),
                                          tr.state.theta[i], (), tr.state.streams.directions)[0]
                             for _ in range(24)])
        mean = draws.mean(0)
        assert float(torch.nn.functional.cosine_similarity(mean, theta.grad, dim=0)) > 0.9
        assert float(mean.norm() / theta.grad.norm()) == pytest.approx(1.0, abs=0.2)


@pytest.mark.parametrize("estimator", ["rademacher", "local-guess"])
def test_queries_per_step_equal_the_trace(estimator):
    t, trace = _ff(preset="crossbar-default", estimator=estimator, num_directions=2)
    x, y = torch.randn(8, 16), torch.arange(8) % 3
    per = {"rademacher": 4, "local-guess": 2}[estimator]
    trace.begin_step()
    loss = t.step(x, y)
    assert mvm_settings(trace.end_step()) == t.device_queries_per_step() == 2 * (1 + per)
    assert all(math.isfinite(v) for v in loss.values())
    # prediction: one pass of C·B examples per block (C passes folded into one batch)
    trace.begin_step()
    t.predict(x)
    assert mvm_settings(trace.end_step()) == 2


def test_ff_settings_validation_is_one_line():
    for values, field in (({"threshold_per_unit": 0.0}, "threshold_per_unit"),
                          ({"label_value": -1.0}, "label_value"),
                          ({"estimator": "activity"}, "estimator"),
                          ({"projection_dim": 8}, "projection_dim")):
        with pytest.raises(ValueError, match=field) as e:
            registry.settings_for("ff", values)
        assert "\n" not in str(e.value)

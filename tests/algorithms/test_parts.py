"""Model description, host transforms, heads and knob maps against autograd and closed forms."""
import math

import pytest
import torch
import torch.nn.functional as F

from algorithms.knobmaps import knob_map_for
from algorithms.model import (AvgPool2d, Bias, Conv2d, Dense, Flatten, MaxPool2d, ModelDescription,
                              ReLU, model_from_config, parse_architecture)
from algorithms.network import perturbation_step
from algorithms.objectives.heads import MonoForwardHead
from hwsim.oracle import MissingCapability, TracingOracle
from hwsim.presets import build_layer
from hwsim.trace import Trace


def test_hidden_shorthand_and_architecture_list_agree():
    a = model_from_config((8, 8), hidden=[16, 12])
    b = model_from_config((8, 8), architecture=["dense:16", "bias", "relu",
                                                 {"type": "dense", "out_features": 12}, "bias", "relu"])
    assert a == b
    assert a.device_shapes() == [(64, 16), (16, 12)]


def test_conv_model_shapes():
    m = model_from_config((28, 28), architecture=["conv2d:4:3:1:1", "bias", "relu", "maxpool:2",
                                                   "conv2d:6:3", "bias", "relu", "avgpool:2",
                                                   "flatten", "dense:16", "bias", "relu"])
    st = m.stages()
    assert [s.device_shape for s in st] == [(4, 9), (6, 36), (16, 6 * 6 * 6)]
    assert st[0].out_shape == (4, 14, 14) and st[1].out_shape == (6 * 6 * 6,)


@pytest.mark.parametrize("bad, match", [
    (["relu"], "must start with a device block"),
    (["dense:0"], "Dense.out_features = 0"),
    (["conv2d:4"], "kernel_size"),
    (["dense:4", "dense:x"], "integers"),
    (["pool:2"], "allowed block types"),
    ([{"type": "dense", "width": 3}], "unknown keys"),
])
def test_bad_architectures_give_one_line_errors(bad, match):
    with pytest.raises(ValueError, match=match) as e:
        model_from_config((8, 8), architecture=bad)
    assert "\n" not in str(e.value)


def test_dense_after_conv_needs_flatten():
    with pytest.raises(ValueError, match="flatten"):
        model_from_config((8, 8), architecture=["conv2d:2:3", "dense:4"])


def test_conv_im2col_equals_conv2d():
    blk = Conv2d(5, 3, stride=2, padding=1)
    m = ModelDescription((3, 9, 9), (blk,))
    st = m.stages()[0]
    x = torch.randn(2, 3 * 81)
    w = torch.randn(5, 3, 3, 3)
    a = m.reshape_input(x)
    z = st.device_readout(st.device_inputs(a) @ w.reshape(5, -1).T, 2)[0]
    ref = F.conv2d(x.reshape(2, 3, 9, 9), w, stride=2, padding=1)
    assert torch.allclose(z, ref, atol=1e-5)


@pytest.mark.parametrize("host, shape", [
    ((Bias(), ReLU(), MaxPool2d(2), Flatten()), (3, 6, 6)),
    ((Bias(), ReLU(), AvgPool2d(2), Flatten()), (3, 7, 7)),
    ((Bias(), ReLU()), (5,)),
])
def test_host_pullback_equals_autograd(host, shape):
    from algorithms.model import Stage
    shapes, s = [], shape
    for t in host:
        shapes.append(s)
        s = t.out_shape(s)
    st = Stage(0, Dense(1), host, (1,), shape, tuple(shapes), s)
    z = torch.randn(4, *shape, dtype=torch.float64, requires_grad=True)
    b = torch.randn(shape[0], dtype=torch.float64, requires_grad=True)
    out, ctxs = st.host_forward(z, {"b": b})
    dy = torch.randn_like(out)
    (out * dy).sum().backward()
    dz, g = st.host_backward(ctxs, dy)
    assert torch.allclose(dz, z.grad) and torch.allclose(g["b"], b.grad)


@pytest.mark.parametrize("k", [None, 6])
def test_head_closed_form_equals_autograd(k):
    head = MonoForwardHead(4, 10, k)
    p = head.init(torch.Generator().manual_seed(0))
    a = torch.randn(7, 10, requires_grad=True)
    y = torch.randint(0, 4, (7,))
    M = p["M"].clone().requires_grad_(True)
    head.loss(a, y, {**p, "M": M}).backward()
    loss, g, da = head.loss_and_grads(a.detach(), y, p)
    assert torch.allclose(g["M"], M.grad, atol=1e-6) and torch.allclose(da, a.grad, atol=1e-6)
    if k:
        assert p["R"].shape == (6, 10)   # fixed random projection (k, n)


def _xbar(preset="crossbar-default", n_in=6, n_out=4):
    return build_layer(preset, n_in, n_out, seed=1, name="x")


def test_differential_pairs_one_knob_per_pair_moving_the_free_cell():
    dev = _xbar()
    m = knob_map_for(dev.knob_spec, dev.info().knob_bits)
    assert m.dim == 24 and m.phases == () and m.matrix_shape == (4, 6)
    w = torch.randn(4, 6)
    k0 = dev.knobs_from_weight(w)
    theta = m.flatten(k0)
    back = m.unflatten(theta, k0)
    assert torch.allclose(dev.digital_twin(back), dev.digital_twin(k0), atol=1e-5)
    g = back["conductances"]
    assert bool(((g[0] == 0) | (g[1] == 0)).all())          # one cell of each pair at g_min = 0
    # a ±ε step is two-sided in G⁺ − G⁻ even where a cell sits at its bound
    eps = 0.01
    plus = m.unflatten(theta + eps, k0)["conductances"]
    minus = m.unflatten(theta - eps, k0)["conductances"]
    d_plus = (plus[0] - plus[1]) - (g[0] - g[1])
    d_minus = (minus[0] - minus[1]) - (g[0] - g[1])
    inside = theta.abs().reshape(4, 6) < 0.5 - eps
    assert torch.allclose(d_plus[inside], torch.full_like(d_plus[inside], 2 * 25 * eps), atol=1e-4)
    assert torch.allclose(d_minus[inside], -d_plus[inside], atol=1e-4)


@pytest.mark.parametrize("preset", ["crossbar-default", "mzi-default"])
def test_nominal_vjp_and_pullback_equal_autograd(preset):
    dev = build_layer(preset, 8, 5, seed=2, name="l")
    o = TracingOracle(dev, Trace())
    assert "nominal" in o.capabilities
    m = knob_map_for(o.knob_spec, o.info().knob_bits)
    k0 = dev.knobs_from_weight(torch.randn(5, 8) * 0.3)
    theta = m.flatten(k0) + 1e-3                       # away from the pair kink at 0
    c = torch.randn(5, 8)
    guess = m.pullback(theta, o.nominal_vjp(m.unflatten(theta, k0), c))
    t = theta.clone().requires_grad_(True)
    (dev.digital_twin(m.unflatten(t, k0)) * c).sum().backward()
    assert torch.allclose(guess, t.grad, rtol=1e-4, atol=1e-5)


def test_missing_capability_is_one_line():
    class Bare:
        name, n_in, n_out = "bare", 2, 2
        knob_spec = {}

        def info(self):
            return build_layer("crossbar-ideal", 2, 2).info()

    o = TracingOracle(Bare(), Trace())
    with pytest.raises(MissingCapability, match="'bare' lacks capability 'nominal'") as e:
        o.nominal({})
    assert "\n" not in str(e.value)


def test_perturbation_rule():
    xb = _xbar()
    m = knob_map_for(xb.knob_spec, xb.info().knob_bits)          # 8-bit levels
    assert perturbation_step(m, 0.019) == pytest.approx(0.038)     # 2 σ_write dominates
    assert perturbation_step(m, 0.0) == pytest.approx(4 / (2 * 255))
    mzi = build_layer("mzi-default", 8, 8)
    mm = knob_map_for(mzi.knob_spec, mzi.info().knob_bits)
    assert perturbation_step(mm, 0.0) == pytest.approx(4 / 255)    # 4 phase-DAC steps
    assert perturbation_step(mm, 0.0, 0.05) == 0.05


def test_unflatten_in_place_equals_the_differentiable_form_bit_for_bit():
    # the in-place knob map (no autograd) writes the same float32 numbers as the out-of-place one
    from algorithms.knobmaps import knob_map_for
    from hwsim.presets import build_layer
    for preset in ("crossbar-default", "crossbar-rram", "mzi-default"):
        dev = build_layer(preset, 20, 12, name="L")
        m = knob_map_for(dev.knob_spec, 8)
        theta = torch.rand(5, m.dim, generator=torch.Generator().manual_seed(0)) * 3 - 1.5
        for th in (theta, theta[2]):
            fast = m.unflatten(th, {})
            slow = m.unflatten(th.clone().requires_grad_(True), {})     # the out-of-place path
            assert set(fast) == set(slow)
            for k in fast:
                assert torch.equal(fast[k].view(torch.int32), slow[k].detach().view(torch.int32)), (preset, k)


@pytest.mark.parametrize("shape", [(10,), (64, 10), (65, 128, 10), (3, 8, 100)])
def test_class_log_softmax_equals_torch(shape):
    """The transposed narrow-class path equals torch's log_softmax (C = 10) within 16 ε of the
    log-sum-exp's scale (bit for bit on some CPUs; where torch's vectorised exp takes another
    path for the other layout, the last bits differ); the wide-class path is torch's own."""
    from algorithms.objectives.heads import log_softmax_classes
    g = torch.randn(*shape, generator=torch.Generator().manual_seed(0)) * 5
    a, b = log_softmax_classes(g), torch.log_softmax(g, dim=-1)
    scale = torch.logsumexp(g, -1, keepdim=True).abs().clamp_min(1.0)
    assert bool(((a - b).abs() <= 16 * torch.finfo(torch.float32).eps * scale).all())
    if g.dim() < 2 or g.shape[-1] > 10:
        assert torch.equal(a, b)

"""Tensor-train format, TT layers on devices, and the TT-ZO estimate against autograd on the twin."""
import math

import pytest
import torch

from algorithms import registry as R
from algorithms.families.tensor_train import TTModel, tt_layout
from algorithms.baselines.tt_twin import TTTwinTrainer
from algorithms.estimators.hybrid import HybridZO
from algorithms.tt import TTShape, core_to_matrix, parse_tt_layer, tt_dense_matvec, tt_reconstruct
from algorithms.tt_network import TTNetwork, tt_init_cores
from algorithms.tt_zo import OutputCrossEntropy
from hwsim.crossbar.device import CrossbarLayer
from hwsim.oracle import TracingOracle
from hwsim.photonic.device import MZIMeshLayer
from hwsim.presets import device_config
from hwsim.trace import Trace


def test_reference_layer_has_1824_core_values():
    s = TTShape((7, 4, 4, 7), (8, 4, 4, 8), 6)
    assert s.core_shapes() == [(1, 8, 7, 6), (6, 4, 4, 6), (6, 4, 4, 6), (6, 8, 7, 1)]
    assert s.n_params == 336 + 576 + 576 + 336 == 1824
    assert s.dense_params == 784 * 1024 == 802_816
    assert s.matrix_shapes() == [(8, 42), (24, 24), (24, 24), (48, 7)]
    assert parse_tt_layer("tt:7x4x4x7:8x4x4x8:6", "x") == s
    assert parse_tt_layer("dense:3:5", "x").n_params == 15


def _dense_by_hand(cores, shape):
    """W[(i…),(j…)] = G1[:, i1, j1, :] ⋯ GK[:, iK, jK, :], entry by entry."""
    import itertools
    W = torch.zeros(shape.n_out, shape.n_in, dtype=torch.float64)
    for i in itertools.product(*map(range, shape.out_modes)):
        for j in itertools.product(*map(range, shape.in_modes)):
            prod = torch.eye(1, dtype=torch.float64)
            for k, g in enumerate(cores):
                prod = prod @ g[:, i[k], j[k], :]
            row = sum(i[k] * math.prod(shape.out_modes[k + 1:]) for k in range(shape.cores))
            col = sum(j[k] * math.prod(shape.in_modes[k + 1:]) for k in range(shape.cores))
            W[row, col] = prod[0, 0]
    return W


@pytest.mark.parametrize("shape", [TTShape((2, 3), (3, 2), 2), TTShape((2, 2, 3), (3, 1, 2), 3),
                                   TTShape((5,), (4,), 1)])
def test_reconstruction_and_contraction_equal_the_dense_matrix(shape):
    g = torch.Generator().manual_seed(0)
    cores = [torch.randn(*cs, generator=g, dtype=torch.float64) for cs in shape.core_shapes()]
    W = _dense_by_hand(cores, shape)
    torch.testing.assert_close(tt_reconstruct(cores), W)
    x = torch.randn(2, 5, shape.n_in, generator=g, dtype=torch.float64)
    mats = [core_to_matrix(c).unsqueeze(0) for c in cores]
    torch.testing.assert_close(tt_dense_matvec(mats, x, shape), x @ W.T)


def test_init_variance_matches_the_default_linear_init():
    """Var(W_ij) = 1/(3N) in expectation over draws (entries of one draw share cores, so one
    draw's empirical variance scatters by ~15 %: average 12 draws)."""
    s = TTShape((7, 4, 4, 7), (8, 4, 4, 8), 6)
    v = [tt_reconstruct([c.double() for c in tt_init_cores(s, torch.Generator().manual_seed(i))])
         .pow(2).mean().item() for i in range(12)]
    assert sum(v) / len(v) == pytest.approx(1 / (3 * 784), rel=0.15)


def _net(preset: str, shapes, trace, seed=0):
    phys = device_config(preset)
    cls = CrossbarLayer if preset.startswith("crossbar") else MZIMeshLayer
    devs = [cls(a, b, phys, seed=10 + i, name=f"core{i}") for i, (a, b) in
            enumerate((sl.n_in, sl.n_out) for sl in tt_layout(None, TTModel(tuple(shapes))))]
    return devs, TTNetwork.build(shapes, [TracingOracle(d, trace) for d in devs], "tanh")


@pytest.mark.parametrize("preset", ["crossbar-ideal", "mzi-ideal"])
def test_device_tt_layer_equals_the_host_tt_layer_in_the_ideal_limit(preset):
    shapes = [TTShape((2, 3), (2, 2), 2), TTShape((2, 2), (1, 3), 2)]
    trace = Trace()
    devs, net = _net(preset, shapes, trace)
    knobs = R.initial_knobs("tt-zo", None, TTModel(tuple(shapes)), devs, 0)
    theta = net.initial_theta(knobs)
    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(3)
    trace.begin_step()
    y_dev = net.forward(theta.unsqueeze(0), torch.zeros(3), x, knobs, g, g)[0]
    s = trace.end_step()
    mats = [d.digital_twin(k) for d, k in zip(devs, knobs)]
    y_host = net.host_forward(mats, [torch.zeros(4), torch.zeros(3)], x)[0]
    torch.testing.assert_close(y_dev, y_host, atol=2e-5, rtol=1e-4)
    # every core was programmed once and queried once; its vectors are B·∏n_<k·∏m_>k
    assert s["core3.mvm.events"] == 1 and s["core0.program.events"] == 1
    assert s["core1.mvm.vectors"] == 5 * 2 if "core1.mvm.vectors" in s else True


def test_tt_zo_gradient_is_unbiased_against_autograd_on_the_twin():
    """Mean of the Rademacher forward-difference estimate over many directions equals the
    autograd gradient through the nominal twin (crossbar-ideal: exact, smooth knob map)."""
    shapes = [TTShape((2, 2), (2, 2), 2), TTShape((2, 2), (1, 3), 2)]
    trace = Trace()
    devs, net = _net("crossbar-ideal", shapes, trace)
    knobs = R.initial_knobs("tt-zo", None, TTModel(tuple(shapes)), devs, 0)
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(16, 4, generator=gen)
    y = torch.randint(0, 3, (16,), generator=gen)
    obj = OutputCrossEntropy()
    twin = TTTwinTrainer(net, knobs, obj)
    leaves = {k: v.clone().requires_grad_(True) for k, v in twin.params.items()}
    loss = obj.losses(twin._forward(leaves, x), x, y)[0]
    g_true = torch.cat([torch.autograd.grad(loss, leaves["knobs"], retain_graph=True)[0],
                        torch.autograd.grad(loss, leaves["b0"])[0]])
    theta = net.initial_theta(knobs)
    eps = torch.full((net.dim,), 1e-3)
    out_b = torch.zeros(3)
    lf = lambda st: obj.losses(net.forward(st, out_b, x, knobs, gen, gen), x, y)  # noqa: E731
    est = HybridZO(eps, torch.zeros(net.dim, dtype=torch.bool), 6000, "central")
    g, _, info = est.estimate(lf, theta, (), torch.Generator().manual_seed(5))
    assert info["device_queries"] == 1 + 12_000
    # variance of one direction ≈ ‖g‖² per coordinate: standard error √(d/P)·‖g‖ in norm
    rel = float((g - g_true).norm() / g_true.norm())
    assert rel < 3 * math.sqrt(net.dim / 6000), rel
    # coordinate-wise (CGE) on every coordinate: deterministic, equal to autograd to O(ε²)
    est = HybridZO(eps, torch.ones(net.dim, dtype=torch.bool), 0, "central")
    g, _, _ = est.estimate(lf, theta, (), gen)
    inside = theta.abs() < 0.5 - 2e-3     # a pair at full scale (|θ| = ½) is clamped one way
    assert inside.sum() > 0.8 * net.dim
    torch.testing.assert_close(g[inside], g_true[inside], atol=2e-3, rtol=2e-2)


def test_hybrid_layout_and_query_count():
    est = HybridZO(torch.full((5,), 0.1), torch.tensor([0, 0, 1, 0, 1], dtype=torch.bool), 3)
    s, u = est.settings(torch.zeros(5), torch.Generator().manual_seed(0))
    assert s.shape == (1 + 3 + 2, 5) == (est.device_queries(), 5)
    assert (u[:, [2, 4]] == 0).all() and (u[:, [0, 1, 3]].abs() == 1).all()
    # a linear loss: forward differences are exact per direction
    c = torch.tensor([1.0, -2.0, 3.0, 0.5, -1.0])
    g, _, _ = est.estimate(lambda st: st @ c, torch.zeros(5), (), torch.Generator().manual_seed(0))
    assert g[2].item() == pytest.approx(3.0) and g[4].item() == pytest.approx(-1.0)


def test_tt_zo_settings_errors_are_one_line():
    with pytest.raises(ValueError, match=r"layers\[1\].*allowed: in modes whose product is 1024"):
        R.settings_for("tt-zo", {"layers": ["tt:7x4x4x7:8x4x4x8:6", "tt:7x4x4x7:1x5x2x1:6"]})
    with pytest.raises(ValueError, match=r"layers\[0\] = 'tt:7x4:8:6'.*differ in length"):
        R.settings_for("tt-zo", {"layers": ["tt:7x4:8:6"]})
    with pytest.raises(ValueError, match="gradient = 'exact'; allowed"):
        R.settings_for("tt-zo", {"gradient": "exact"})
    with pytest.raises(ValueError, match="has 8 device slots but 0 devices"):
        R.build("tt-zo", None, None, [], 10, seed=0, trace=Trace())

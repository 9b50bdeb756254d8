"""The seed methods as their papers define them, each deviation a labelled option:
local-guess's global target (Fournier et al., arXiv:2306.06968), mfdd-thesis's greedy schedule
and DAC-floored ε (FFzero reference code), tt-zo's layer-wise perturbation and Adam betas
(``olokevin/scalable_bpfree_onn_training`` ``MNIST/configs/tt.yml``), FROG's plain projection
(``Helmholtz-AI-Energy/frog``)."""
import math

import torch

from algorithms import registry
from algorithms.estimators import FROG
from algorithms.estimators.hybrid import HybridZO
from algorithms.model import model_from_config
from algorithms.trainer import LocalTrainer
from hwsim.photonic.device import MZIConfig, MZIMeshLayer
from hwsim.presets import build_layer
from hwsim.trace import Trace

C = 4


class Recorder:
    """Wraps a knob estimator; keeps the last estimate and the guess it was handed."""

    def __init__(self, inner):
        self.inner, self.last = inner, None
        self.needs = inner.needs

    def init(self, params):
        return self.inner.init(params)

    def device_queries(self):
        return self.inner.device_queries()

    def combine_flops(self, d):
        return self.inner.combine_flops(d)

    def estimate(self, loss_fn, params, state, key, **extras):
        g, state, info = self.inner.estimate(loss_fn, params, state, key, **extras)
        self.last = (g, extras.get("guess"), params.clone())
        return g, state, info


def _ideal_guess_net(target, seed=0):
    """local-guess on two ideal MZI blocks 6 → 4 → 4 (every effect off: the device answers the
    design-level matrix), nominal guess, a small per-knob step."""
    model = model_from_config((6,), hidden=[4, 4])
    devs = [MZIMeshLayer(a, b, MZIConfig(block=4), seed=seed + i, name=f"layer{i}")
            for i, (a, b) in enumerate(model.device_shapes())]
    s = registry.settings_for("local-guess", {"target": target, "guess_model": "nominal",
                                              "epsilon_knob_range_units": 1e-3})
    tr = registry.build("local-guess", s, model, devs, C, seed=seed, trace=Trace())
    tr.trainer.estimators[0] = Recorder(tr.trainer.estimators[0])
    g = torch.Generator().manual_seed(seed + 7)
    x = torch.randn(16, 6, generator=g)
    y = torch.randint(0, C, (16,), generator=g)
    return tr, devs, x, y


def _twin_losses(tr, devs, theta0, x, y):
    """(global, local) losses as functions of stage 0's θ by autograd through the ideal twin,
    with the trainer's own heads, biases and stage-1 knobs (float64)."""
    s, net = tr.trainer.state, tr.trainer.net
    t = theta0.double().requires_grad_(True)

    def stage(i, a, th):
        k = net.maps[i].unflatten(th, {n: v.double() for n, v in s.fixed[i].items()})
        z = a @ devs[i].digital_twin(k).T
        h, _ = net.stages[i].host_forward(z, {n: v.double() for n, v in s.digital[i].items()})
        return h

    def head_loss(i, h):
        hp = {n: v.double() for n, v in s.heads[i].items()}
        return tr.trainer.heads[i].loss(h.unsqueeze(0), y, hp)[0]

    h0 = stage(0, x.double(), t)
    local = head_loss(0, h0)
    glob = head_loss(1, stage(1, h0, s.theta[1].double()))
    g_glob, = torch.autograd.grad(glob, t, retain_graph=True)
    g_loc, = torch.autograd.grad(local, t)
    return g_glob.float(), g_loc.float()


def test_global_target_is_the_projection_of_the_global_gradient_onto_the_guess():
    """Fournier et al.: g = ⟨∇L_global, ĝ⟩ ĝ with the unit local guess ĝ; the device form
    measures ⟨∇L_global, ĝ⟩ by a central difference of the network's loss through block 2.
    On the ideal device the estimate equals that projection (to O(ε²)); the block-local
    option equals the projection of the local gradient instead, and the two differ."""
    for target in ("global", "local"):
        tr, devs, x, y = _ideal_guess_net(target)
        theta_before = tr.trainer.state.theta[0].clone()
        g_glob, g_loc = _twin_losses(tr, devs, theta_before, x, y)      # before the step
        tr.step(x, y)
        g, guess, params = tr.trainer.estimators[0].last
        assert torch.equal(params, theta_before)
        u = guess / guess.norm()
        want = (g_glob if target == "global" else g_loc) @ u * u
        other = (g_loc if target == "global" else g_glob) @ u * u
        assert torch.allclose(g, want, rtol=2e-2, atol=1e-3 * float(want.norm())), \
            (target, float(g @ u), float(want @ u))
        assert float((g - other).norm()) > 0.1 * float(want.norm()), target
    assert tr.label.startswith("forward-only, block-local target")


def test_global_target_queries_the_later_blocks_once_per_estimate_and_says_so():
    model = model_from_config((16,), hidden=[8, 8, 8])
    devs = [build_layer("crossbar-default", a, b, seed=i, name=f"layer{i}")
            for i, (a, b) in enumerate(model.device_shapes())]
    s = registry.settings_for("local-guess", {})
    assert s.target == "global"                       # the paper's target by default
    trace = Trace()
    tr = registry.build("local-guess", s, model, devs, C, seed=0, trace=trace)
    assert tr.label == "forward-only, global target, nominal model"
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 16, generator=g), torch.randint(0, C, (16,), generator=g)
    trace.begin_step()
    tr.step(x, y)
    summary = trace.end_step()
    # clean pass 3 + 2 per block + later blocks (2 after block 0, 1 after block 1) = 12
    assert tr.device_queries_per_step() == registry.ALGORITHMS["local-guess"].queries_per_step(
        s, 3) == 12
    per_layer = {i: summary[f"layer{i}.mvm.settings"] for i in range(3)}
    assert per_layer == {0: 3, 1: 4, 2: 5}
    # the later blocks stream the two candidates' B vectors each through one setting
    assert summary["layer2.mvm.vectors"] == 16 * (1 + 2 + 2 * 2)
    assert summary["layer2.program.settings"] == 1 + 2          # clean + its own ± pair


def test_mfdd_thesis_trains_greedily_layer_1_before_layer_2():
    spec = registry.ALGORITHMS["mfdd-thesis"]
    s = registry.settings_for("mfdd-thesis", {})
    assert s.schedule == "greedy"
    model = model_from_config((16,), hidden=[8, 8])
    devs = [build_layer("crossbar-default", a, b, seed=i, name=f"layer{i}")
            for i, (a, b) in enumerate(model.device_shapes())]
    tr = registry.build("mfdd-thesis", s, model, devs, C, seed=0, trace=Trace())
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 16, generator=g), torch.randint(0, C, (32,), generator=g)
    seen = []
    step = tr.trainer.step

    def spy(xb, yb, train_stages=None):
        before = [t.clone() for t in tr.trainer.state.theta]
        out = step(xb, yb, train_stages)
        seen.append([not torch.equal(a, b) for a, b in zip(before, tr.trainer.state.theta)])
        return out
    tr.trainer.step = spy
    res = registry.train(tr, x, y, epochs=2, batch_size=16, seed=0)
    assert res.history["train_layers"] == [1.0, 1.0, 2.0, 2.0]
    assert seen == [[True, False]] * 4 + [[False, True]] * 4
    assert "greedy layer-wise" in spec.label and "DAC step" in spec.label
    simul = registry.settings_for("mfdd-thesis", {"schedule": "simultaneous",
                                                  "epsilon_min_dac_steps": 0})
    assert registry.results_label("mfdd-thesis", simul) == \
        "forward-only, simultaneous layers, eps = plain thesis norm"


def test_mfdd_thesis_epsilon_is_at_least_one_declared_dac_step_per_knob():
    model = model_from_config((16,), hidden=[8])
    for preset, floored in (("mzi-default", True), ("mzi-ideal", False)):
        devs = [build_layer(preset, 16, 8, seed=0, name="layer0")]
        for steps in (1.0, 0.0):
            s = registry.settings_for("mfdd-thesis", {"epsilon_min_dac_steps": steps})
            tr = registry.build("mfdd-thesis", s, model, devs, C, seed=0, trace=Trace())
            m = tr.trainer.net.maps[0]
            # the declared resolution: knob_bits of info(), as the knob map reads it
            assert m.lsb_range_units == 1 / (2 ** devs[0].info().knob_bits - 1)
            eps_norm = tr.trainer.estimators[0].rule.epsilon
            per_knob = eps_norm / math.sqrt(m.dim)
            if steps:
                assert per_knob >= m.lsb_range_units * (1 - 1e-9)
                assert math.isclose(eps_norm, 1e-3) == (not floored)
            else:
                assert eps_norm == 1e-3 and (per_knob < m.lsb_range_units) == floored


def test_tt_zo_perturbs_one_layer_per_query_group():
    eps = torch.full((10,), 0.1)
    groups = torch.tensor([0] * 4 + [1] * 6)
    est = HybridZO(eps, torch.zeros(10, dtype=torch.bool), 3, "forward", groups)
    assert est.device_queries() == 1 + 3 * 2
    settings, u = est.settings(torch.zeros(10), torch.Generator().manual_seed(0))
    assert settings.shape == (7, 10) and u.shape == (6, 10)
    moved = (settings[1:] != 0)
    assert moved[:3, :4].all() and not moved[:3, 4:].any()      # rows 1-3: layer 0 only
    assert moved[3:, 4:].all() and not moved[3:, :4].any()      # rows 4-6: layer 1 only
    # each group's estimate is its own 3-direction mean: a linear loss gives exactly
    # (1/P) Σ_p (gᵀu_p) u_p on each group
    gvec = torch.linspace(-1, 1, 10)
    g = est.combine(settings @ gvec, u)
    want = torch.cat([(u[:3, :4] @ gvec[:4]) @ u[:3, :4] / 3, (u[3:, 4:] @ gvec[4:]) @ u[3:, 4:] / 3])
    assert torch.allclose(g, want, atol=1e-5)


def test_tt_zo_defaults_are_the_reference_settings_and_the_deviation_is_labelled():
    s = registry.settings_for("tt-zo", registry.ALGORITHMS["tt-zo"].example)
    assert s.perturbation == "layer" and (s.adam_b1, s.adam_b2) == (0.9, 0.5)
    model = model_from_config((64,), hidden=[8])
    devs = [build_layer("crossbar-ideal", sl.n_in, sl.n_out, seed=i, name=sl.name)
            for i, sl in enumerate(registry.device_layout("tt-zo", s, model))]
    trace = Trace()
    tr = registry.build("tt-zo", s, model, devs, 10, seed=0, trace=trace)
    opt = tr.trainer._kopt
    assert (opt.b1, opt.b2) == (0.9, 0.5)
    layers = len(s.layers)
    assert tr.trainer.estimator.device_queries() == 1 + s.num_directions * layers
    assert tr.device_queries_per_step() == registry.ALGORITHMS["tt-zo"].queries_per_step(s, 0)
    assert tr.label == "forward-only, one layer per query group, Adam betas (0.9, 0.5)"
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 64, generator=g), torch.randint(0, 10, (8,), generator=g)
    trace.begin_step()
    tr.step(x, y)
    summary = trace.end_step()
    assert summary["layer0.core0.mvm.settings"] == 1 + s.num_directions * layers
    old = registry.settings_for("tt-zo", {**registry.ALGORITHMS["tt-zo"].example,
                                          "perturbation": "all", "adam_b2": 0.999})
    assert registry.results_label("tt-zo", old) == \
        "forward-only, all layers at once, Adam betas (0.9, 0.999)"


def test_frog_default_is_the_papers_plain_projection():
    s = registry.settings_for("frog", {})
    assert s.scale == "projection" and FROG().scale == "projection"
    # the plain projection of the gradient onto k orthonormal tangents: Σ_j (v_jᵀg) v_j, no d/k
    d, k = 50, 5
    gvec = torch.linspace(-1, 1, d)
    key = torch.Generator().manual_seed(0)
    plain, _, _ = FROG(k, 1e-3, "projection").estimate(lambda t: t @ gvec, torch.zeros(d), (), key)
    V = FROG(k, 1e-3).tangents(d, torch.Generator().manual_seed(0))
    assert torch.allclose(plain, (V @ gvec) @ V, atol=1e-4)
    scaled, _, _ = FROG(k, 1e-3, "unbiased").estimate(lambda t: t @ gvec, torch.zeros(d), (),
                                                      torch.Generator().manual_seed(0))
    assert torch.allclose(scaled, plain * d / k, atol=1e-3)
    assert registry.results_label("frog", s) == "forward-only, plain projection"
    assert registry.results_label("frog", registry.settings_for("frog", {"scale": "unbiased"})) \
        == "forward-only, projection x d/k"

"""Every estimator against autograd on the ideal twin, plus the estimator contract suite.

The loss is a Mono-Forward local loss of one crossbar layer on its ideal twin (no noise), written
as a function of the range-normalised knobs θ, so the estimators see exactly what they see in
training, and autograd gives the true gradient.
"""
import math

import pytest
import torch

from algorithms.estimators import (FROG, Activity, Directional, DirectionalDerivative, LocalGuess,
                                   LowRank, SeedReplay)
from algorithms.knobmaps import knob_map_for
from algorithms.objectives.heads import MonoForwardHead, example_losses
from hwsim.presets import build_layer

N_IN, N_OUT, B = 6, 4, 16


class Problem:
    def __init__(self, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.dev = build_layer("crossbar-ideal", N_IN, N_OUT, seed=0, name="t")
        self.map = knob_map_for(self.dev.knob_spec, 16)
        self.k0 = self.dev.knobs_from_weight(torch.randn(N_OUT, N_IN, generator=g) * 0.5)
        self.theta = self.map.flatten(self.k0).double() * 0.9        # strictly inside the range
        self.x = torch.randn(B, N_IN, generator=g, dtype=torch.float64)
        self.y = torch.randint(0, 3, (B,), generator=g)
        self.head = MonoForwardHead(3, N_OUT)
        self.hp = {k: v.double() for k, v in self.head.init(g).items()}
        self.d = self.theta.numel()

    def weights(self, theta):
        knobs = self.map.unflatten(theta, {k: v.double() for k, v in self.k0.items()})
        return self.dev.digital_twin(knobs)

    def loss(self, settings):                                       # (n, d) → (n,)
        w = self.weights(settings)                                  # (n, n_out, n_in)
        z = self.x @ w.transpose(-1, -2)
        return self.head.loss(torch.relu(z), self.y, self.hp)

    def grad(self):
        t = self.theta.clone().requires_grad_(True)
        self.loss(t.unsqueeze(0))[0].backward()
        return t.grad

    def z_and_grad_z(self):
        z = (self.x @ self.weights(self.theta).T).requires_grad_(True)
        self.head.loss(torch.relu(z), self.y, self.hp).backward()
        return z.detach(), z.grad


@pytest.fixture(scope="module")
def prob():
    return Problem()


def cos(a, b):
    return float(a @ b / (a.norm() * b.norm()))


def mean_of(est, prob, n, **extras):
    gen = torch.Generator().manual_seed(3)
    gs = [est.estimate(prob.loss, prob.theta, est.init(prob.theta), gen, **extras)[0] for _ in range(n)]
    return torch.stack(gs).mean(0)


@pytest.mark.parametrize("est", [
    Directional(DirectionalDerivative("rademacher", 64, 1e-3, "central")),
    Directional(DirectionalDerivative("sphere", 64, 1e-3, "central")),
    LowRank((N_OUT, N_IN), rank=2, num_directions=64, epsilon=1e-3),
    SeedReplay(num_directions=64, epsilon=1e-3, chunk=16),
    FROG(num_tangents=8, epsilon=1e-3, scale="unbiased"),
    LocalGuess("random", epsilon=1e-3),
], ids=["rademacher", "sphere", "lowrank", "seedreplay", "frog", "guess-random"])
def test_unbiased_against_autograd(est, prob):
    g = prob.grad()
    n = 80 if est.device_queries() > 2 else 800      # ~ the same number of directions
    m = mean_of(est, prob, n)
    # relative error of the mean of n estimates: ~ sqrt(d/(P·n)) ≈ 0.1 for these families
    assert (m - g).norm() / g.norm() < 0.35
    assert cos(m, g) > 0.93


def test_frog_cosine_matches_theory(prob):
    """Orthonormal k tangents: ĝ = P_V g, so E[cos²(ĝ, g)] = k/d (Haar subspace)."""
    g, d = prob.grad(), prob.d
    for k in (2, 8):
        est = FROG(num_tangents=k, epsilon=1e-4, scale="projection")
        gen = torch.Generator().manual_seed(k)
        c2 = [cos(est.estimate(prob.loss, prob.theta, (), gen)[0], g) ** 2 for _ in range(200)]
        assert sum(c2) / len(c2) == pytest.approx(k / d, rel=0.2)
        # the projection never overshoots: ‖P_V g‖ ≤ ‖g‖
        assert max(c2) <= 1 + 1e-6


def test_frog_rescaled_frame_keeps_per_knob_step(prob):
    est = FROG(num_tangents=4, epsilon=0.01)
    seen = []
    est.estimate(lambda s: seen.append(s) or prob.loss(s), prob.theta, (), torch.Generator().manual_seed(0))
    step = (seen[0][:4] - prob.theta)
    rms = step.pow(2).mean(dim=1).sqrt()
    assert torch.allclose(rms, torch.full_like(rms, 0.01), rtol=1e-4)


def test_local_guess_projects_onto_the_guess(prob):
    g = prob.grad()
    est = LocalGuess("local", epsilon=1e-4)
    exact, _, info = est.estimate(prob.loss, prob.theta, (), torch.Generator(), guess=g)
    assert torch.allclose(exact, g, rtol=2e-3, atol=1e-6) and info["device_queries"] == 2
    noisy_guess = g + 0.5 * g.norm() / math.sqrt(prob.d) * torch.randn(prob.d, dtype=g.dtype,
                                                                        generator=torch.Generator().manual_seed(1))
    got, _, _ = est.estimate(prob.loss, prob.theta, (), torch.Generator(), guess=noisy_guess)
    u = noisy_guess / noisy_guess.norm()
    assert torch.allclose(got, (g @ u) * u, rtol=2e-3, atol=1e-6)


def test_local_guess_mixed_is_between(prob):
    g = prob.grad()
    gen = torch.Generator().manual_seed(0)
    est = LocalGuess("mixed", epsilon=1e-4, mix_weight=1.0)
    c = [cos(est.estimate(prob.loss, prob.theta, (), gen, guess=g)[0], g) for _ in range(50)]
    assert 0.5 < sum(c) / len(c) < 0.95     # unit(ĝ + r): cos ≈ 1/√2 in high d, more here


def test_activity_against_autograd(prob):
    z, gz = prob.z_and_grad_z()
    est = Activity(num_directions=256, epsilon=1e-4)

    def per_example(zs):
        return example_losses(prob.head.scores(torch.relu(zs), prob.hp), prob.y)

    gen = torch.Generator().manual_seed(0)
    m = torch.stack([est.activity_gradient(per_example, z, z > 0, gen)[0] for _ in range(20)]).mean(0)
    assert cos(m.reshape(-1), gz.reshape(-1)) > 0.95
    assert (m - gz).norm() / gz.norm() < 0.3
    # estimate() hands ĝ_z to the pullback and makes no device query
    seen = {}
    grad, _, info = est.estimate(per_example, prob.theta, (), gen, activity=z, mask=z > 0,
                                 pullback=lambda g: seen.setdefault("g", g).new_zeros(prob.d))
    assert seen["g"].shape == z.shape and info["device_queries"] == 0 and grad.shape == (prob.d,)


ALL = [
    Directional(DirectionalDerivative("rademacher", 4, 1e-2, "central")),
    Directional(DirectionalDerivative("gaussian", 4, 1e-2, "forward")),
    LowRank((N_OUT, N_IN), rank=1, num_directions=4, epsilon=1e-2),
    SeedReplay(num_directions=4, epsilon=1e-2, chunk=3),
    FROG(num_tangents=4, epsilon=1e-2),
    LocalGuess("local", epsilon=1e-2),
    LocalGuess("mixed", epsilon=1e-2),
]


@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__ + getattr(e, "variant", ""))
def test_contract(est, prob):
    calls = []

    def counting(settings):
        calls.append(settings.shape[0])
        return prob.loss(settings)

    extras = {"guess": prob.grad()} if isinstance(est, LocalGuess) else {}
    state = est.init(prob.theta)
    g1, s1, info = est.estimate(counting, prob.theta, state, torch.Generator().manual_seed(5), **extras)
    g2, _, _ = est.estimate(prob.loss, prob.theta, state, torch.Generator().manual_seed(5), **extras)
    assert g1.shape == prob.theta.shape and torch.isfinite(g1).all()
    assert torch.equal(g1, g2)                                      # deterministic given the key
    assert len(calls) == 1                                          # ONE batched evaluation
    assert calls[0] == info["device_queries"] == est.device_queries()
    # nothing of size P·d survives the estimate (state and info are O(d + P))
    kept = [t for t in _tensors(s1) + _tensors(info)]
    assert sum(t.numel() for t in kept) <= prob.d + 64


def _tensors(obj):
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _tensors(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _tensors(v)]
    return []


def test_seed_replay_reproduces_the_gradient_from_seed_and_deltas(prob):
    est = SeedReplay(num_directions=12, epsilon=1e-2, chunk=5)
    g, state, info = est.estimate(prob.loss, prob.theta, [], torch.Generator().manual_seed(9))
    seed, deltas = state[-1]
    assert seed == info["seed"] and deltas.shape == (12,)
    assert torch.allclose(est.replay(seed, deltas, prob.d).to(g.dtype), g)
    # chunked regeneration equals one (P, d) draw: the chunk size does not change the estimate
    g_other, _, _ = SeedReplay(12, 1e-2, chunk=12).estimate(prob.loss, prob.theta, [],
                                                            torch.Generator().manual_seed(9))
    assert torch.allclose(g, g_other)


@pytest.mark.parametrize("make, field", [
    (lambda: FROG(num_tangents=0), "num_tangents"), (lambda: FROG(scale="mean"), "scale"),
    (lambda: LocalGuess("e2e"), "variant"), (lambda: LowRank((3, 0)), "shape"),
    (lambda: SeedReplay(epsilon=-1.0), "epsilon"), (lambda: Activity(epsilon=float("nan")), "epsilon"),
])
def test_bad_settings(make, field):
    with pytest.raises(ValueError, match=field) as e:
        make()
    assert "\n" not in str(e.value)

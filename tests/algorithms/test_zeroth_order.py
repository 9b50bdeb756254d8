"""Tests for algorithms.estimators.zeroth_order (autograd used only as ground truth here)."""
import json
import math

import numpy as np
import pytest
import torch

from algorithms.estimators import (
    DIRECTIONS,
    DirectionalDerivative,
    Estimate,
    direction_scale,
    sample_directions,
)

DT = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- test functions
def make_quadratic(d, seed=0):
    """Batched L(θ) = ½ θᵀAθ + bᵀθ with A SPD; rows of (n, d) → (n,)."""
    g = _gen(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=DT))
    a = q @ torch.diag(torch.linspace(0.5, 2.0, d, dtype=DT)) @ q.T
    b = torch.randn(d, generator=g, dtype=DT)

    def loss(x):
        return 0.5 * torch.einsum("nd,de,ne->n", x, a, x) + x @ b

    return loss, a


def make_logreg(n=64, f=8, c=5, seed=0):
    """Batched softmax cross-entropy of a linear classifier; θ = (W (c×f), b (c)), d = 45."""
    g = _gen(seed)
    x = torch.randn(n, f, generator=g, dtype=DT)
    y = torch.randint(0, c, (n,), generator=g)

    def loss(theta):
        w = theta[:, : c * f].reshape(-1, c, f)
        bias = theta[:, c * f:]
        logits = torch.einsum("nf,mcf->mnc", x, w) + bias[:, None, :]
        logp = torch.log_softmax(logits, dim=-1)
        return -logp[:, torch.arange(n), y].mean(dim=1)

    return loss, c * f + c


def autograd_grad(loss, theta):
    t = theta.clone().requires_grad_(True)
    loss(t[None])[0].backward()
    return t.grad.detach()


def many_estimates(dd, loss, theta, k, seed=0):
    """k independent estimates through the public API: perturbations → one loss call → combine."""
    gen = _gen(seed)
    pairs = [dd.perturbations(theta, gen) for _ in range(k)]
    settings = torch.stack([s for s, _ in pairs])          # (k, n_eval, d)
    dirs = torch.stack([u for _, u in pairs])              # (k, P, d)
    losses = loss(settings.reshape(-1, theta.shape[0])).reshape(k, -1)
    return dd.combine(losses, dirs)                        # (k, d)


# ----------------------------------------------------------------------------- unbiasedness
@pytest.mark.parametrize("problem", ["quadratic", "logreg"])
@pytest.mark.parametrize("p", [1, 4])
def test_sphere_times_d_is_unbiased(problem, p):
    if problem == "quadratic":
        d = 50
        loss, _ = make_quadratic(d)
    else:
        loss, d = make_logreg()
    theta = 0.3 * torch.randn(d, generator=_gen(5), dtype=DT)
    g = autograd_grad(loss, theta)
    k = 3000
    dd = DirectionalDerivative("sphere", num_directions=p, epsilon=1e-3)
    est = many_estimates(dd, loss, theta, k, seed=11)
    err = (est.mean(0) - g).norm()
    # E‖ĝ₁‖² ≈ d‖g‖² per direction (central differences, ε→0), so the standard error of the
    # mean of k estimates with P directions each is ≈ ‖g‖·sqrt(d/(kP)). Require < 4 s.e.
    se = g.norm() * math.sqrt(d / (k * p))
    assert err < 4 * se, (err, se)
    # the per-draw spread matches the theory: E‖ĝ‖² ≈ (1 + (d−1)/P)‖g‖² (algorithms.md §3)
    second = (est ** 2).sum(1).mean() / g.norm() ** 2
    assert abs(second / (1 + (d - 1) / p) - 1) < 0.15


@pytest.mark.parametrize("kind", ["gaussian", "rademacher"])
def test_unit_scale_families_are_unbiased(kind):
    d = 30
    loss, _ = make_quadratic(d)
    theta = torch.randn(d, generator=_gen(2), dtype=DT)
    g = autograd_grad(loss, theta)
    k = 3000
    est = many_estimates(DirectionalDerivative(kind, 2, 1e-3), loss, theta, k, seed=3)
    se = g.norm() * math.sqrt((d + 2) / (k * 2))   # E‖ĝ₁‖² ≤ (d+2)‖g‖² (algorithms.md §1)
    assert (est.mean(0) - g).norm() < 4 * se


# ----------------------------------------------------------------------------- cosine vs P
def test_cosine_grows_with_p_like_sqrt_p_over_d():
    d = 400
    loss, _ = make_quadratic(d, seed=1)
    theta = torch.randn(d, generator=_gen(4), dtype=DT)
    g = autograd_grad(loss, theta)
    means = []
    for p in (1, 4, 16):
        dd = DirectionalDerivative("sphere", num_directions=p, epsilon=1e-3)
        est = many_estimates(dd, loss, theta, 2000 // p, seed=100 + p)
        cos = torch.nn.functional.cosine_similarity(est, g[None], dim=1)
        m = cos.mean().item()
        means.append(m)
        # For P ≪ d, cos ≈ ‖(gᵀu_p/‖g‖)_p‖ ≈ χ_P/√d, so E cos ≈ E[χ_P]/√d
        # = sqrt(2/d)·Γ((P+1)/2)/Γ(P/2) → sqrt(P/d) (factor 0.80, 0.94, 0.98 for P = 1, 4, 16).
        exact = math.sqrt(2 / d) * math.exp(math.lgamma((p + 1) / 2) - math.lgamma(p / 2))
        assert abs(m / exact - 1) < 0.08, (p, m, exact)
        assert abs(m / math.sqrt(p / d) - 1) < 0.25, (p, m)
    assert means[0] < means[1] < means[2]


# ----------------------------------------------------------------------------- bias order
def test_fixed_direction_error_orders():
    # Non-quadratic L(θ) = Σ exp(θ_i) along u = 1/√d: the second and third directional
    # derivatives are > 0, so forward error ≈ (ε/2)·L'' and central error ≈ (ε²/6)·L'''.
    d = 10
    theta = 0.1 * torch.randn(d, generator=_gen(9), dtype=DT)
    u = torch.ones(1, d, dtype=DT) / math.sqrt(d)

    def loss(x):
        return torch.exp(x).sum(1)

    exact = (autograd_grad(loss, theta) @ u[0]).item()
    eps = np.logspace(-3, -1, 9)
    slopes = {}
    for diff in ("central", "forward"):
        errs = []
        for e in eps:
            dd = DirectionalDerivative("sphere", 1, float(e), diff)
            losses = loss(dd.perturb(theta, u))
            delta = dd.differences(losses)[0].item()
            # combine is s·Δ·u with s = d for the sphere
            torch.testing.assert_close(dd.combine(losses, u), d * delta * u[0])
            errs.append(abs(delta - exact))
        slopes[diff] = np.polyfit(np.log(eps), np.log(errs), 1)[0]
    assert abs(slopes["central"] - 2) < 0.1, slopes
    assert abs(slopes["forward"] - 1) < 0.1, slopes


def test_forward_bias_cancels_over_symmetric_directions_for_quadratic():
    d, p, eps = 20, 3, 0.5
    loss, a = make_quadratic(d)
    theta = torch.randn(d, generator=_gen(1), dtype=DT)
    u = sample_directions("sphere", p, d, _gen(2), dtype=DT)
    fwd = DirectionalDerivative("sphere", p, eps, "forward")
    cen = DirectionalDerivative("sphere", p, eps, "central")
    g_plus = fwd.combine(loss(fwd.perturb(theta, u)), u)
    g_minus = fwd.combine(loss(fwd.perturb(theta, -u)), -u)
    g_cen = cen.combine(loss(cen.perturb(theta, u)), u)
    # per direction the forward estimate carries the O(ε) term d·(ε/2)(uᵀAu)u ...
    assert (g_plus - g_cen).norm() > 1e-2 * g_cen.norm()
    # ... which is odd in u, so the ±u average is exactly the (exact-for-quadratics) central one
    torch.testing.assert_close(0.5 * (g_plus + g_minus), g_cen)


def test_forward_is_unbiased_in_expectation_for_quadratic():
    d, k, eps = 30, 4000, 0.3
    loss, a = make_quadratic(d)
    theta = torch.randn(d, generator=_gen(6), dtype=DT)
    g = autograd_grad(loss, theta)
    est = many_estimates(DirectionalDerivative("sphere", 1, eps, "forward"), loss, theta, k, 8)
    # ĝ₁ = d(gᵀu + (ε/2)uᵀAu)u, so E‖ĝ₁‖² ≈ d‖g‖² + (ε·tr A)²/4; s.e. of the mean = sqrt(that/k)
    se = math.sqrt((d * g.norm() ** 2 + (eps * torch.trace(a)) ** 2 / 4) / k)
    assert (est.mean(0) - g).norm() < 4 * se


# ----------------------------------------------------------------------------- estimate()
@pytest.mark.parametrize("kind", DIRECTIONS)
@pytest.mark.parametrize("difference", ["central", "forward"])
@pytest.mark.parametrize("p", [1, 5])
def test_estimate_calls_loss_fn_once_with_layout(kind, difference, p):
    d, eps = 12, 1e-2
    loss, _ = make_quadratic(d)
    theta = torch.randn(d, generator=_gen(3), dtype=DT)
    dd = DirectionalDerivative(kind, p, eps, difference)
    calls = []

    def counting(x):
        calls.append(x.clone())
        return loss(x)

    est = dd.estimate(counting, theta, _gen(42))
    n = 2 * p if difference == "central" else p + 1
    assert dd.evaluations() == n
    assert len(calls) == 1 and calls[0].shape == (n, d)
    assert isinstance(est, Estimate)
    assert est.grad.shape == (d,) and est.grad.dtype == DT
    assert est.losses.shape == (n,)

    # directions come from the generator exactly as sample_directions draws them
    u = sample_directions(kind, p, d, _gen(42), dtype=DT)
    x = calls[0]
    if difference == "central":
        torch.testing.assert_close(x[:p], theta + eps * u)
        torch.testing.assert_close(x[p:], theta - eps * u)
        torch.testing.assert_close(est.base_loss, est.losses.mean().item())
    else:
        assert torch.equal(x[0], theta)
        torch.testing.assert_close(x[1:], theta + eps * u)
        assert est.base_loss == loss(theta[None])[0].item()
    if kind == "sphere":
        torch.testing.assert_close((x[-p:] - theta).norm(dim=1), torch.full((p,), eps, dtype=DT))
    torch.testing.assert_close(est.grad, dd.combine(est.losses, u))
    # same seed → same estimate
    torch.testing.assert_close(dd.estimate(loss, theta, _gen(42)).grad, est.grad)


def test_central_base_loss_estimates_loss():
    d = 10
    loss, _ = make_quadratic(d)
    theta = torch.randn(d, generator=_gen(0), dtype=DT)
    est = DirectionalDerivative("sphere", 3, 1e-3).estimate(loss, theta, _gen(1))
    assert abs(est.base_loss - loss(theta[None]).item()) < 1e-5


def test_estimate_uses_no_global_rng_and_keeps_theta():
    theta = torch.randn(8, generator=_gen(0), dtype=DT)
    theta0 = theta.clone()
    loss, _ = make_quadratic(8)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    DirectionalDerivative("gaussian", 2).estimate(loss, theta, _gen(1))
    assert torch.equal(before, torch.get_rng_state())
    assert torch.equal(theta, theta0)


def test_loss_fn_with_wrong_shape_raises():
    dd = DirectionalDerivative("sphere", 2)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        dd.estimate(lambda x: x.sum(), torch.zeros(5), _gen())
    with pytest.raises(ValueError):
        dd.perturbations(torch.zeros(2, 3), _gen())


@pytest.mark.parametrize("field,value", [
    ("directions", "cube"),
    ("num_directions", 0),
    ("num_directions", -2),
    ("num_directions", 1.5),
    ("num_directions", True),
    ("epsilon", 0.0),
    ("epsilon", -1e-3),
    ("epsilon", float("nan")),
    ("epsilon", float("inf")),
    ("epsilon", "small"),
    ("difference", "backward"),
])
def test_bad_settings_raise_at_construction(field, value):
    with pytest.raises(ValueError) as info:
        DirectionalDerivative(**{field: value})
    msg = str(info.value)
    assert field in msg and repr(value) in msg and "expected" in msg


def test_convention_is_serialisable_and_complete():
    dd = DirectionalDerivative("sphere", 4, 1e-3, "forward")
    conv = dd.convention()
    for key in ("directions", "num_directions", "epsilon", "difference", "scale"):
        assert key in conv
    assert conv["scale"] == "d" and conv["evaluations"] == 5
    json.dumps(conv)
    conv = dd.convention(dim=100)
    assert conv["scale"] == direction_scale("sphere", 100) == 100.0
    assert math.isclose(conv["per_knob_perturbation"], 1e-4)
    assert DirectionalDerivative("gaussian").convention(dim=100)["scale"] == 1.0
    json.dumps(conv)

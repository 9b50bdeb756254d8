"""Sparse-grid exactness and Stein derivative estimates against closed forms."""
import itertools
import math

import numpy as np
import pytest
import torch

from algorithms.sparse_grid import exactness_degree, gauss_hermite_1d, smolyak_grid
from algorithms.stein import monte_carlo_rule, sparse_grid_rule, stein_combine, stein_points


def _gauss_moment(powers) -> float:
    """E ∏ ν_i^{a_i} for ν ~ N(0, I): ∏ (a_i − 1)!! for even a_i, else 0."""
    out = 1.0
    for a in powers:
        if a % 2:
            return 0.0
        out *= math.prod(range(a - 1, 0, -2)) if a else 1.0
    return out


def test_1d_gauss_hermite_is_a_probability_rule_exact_to_degree_2n_minus_1():
    for n in (1, 2, 3, 5):
        x, w = gauss_hermite_1d(n)
        assert w.sum() == pytest.approx(1.0, abs=1e-13)
        for k in range(2 * n):
            assert np.dot(w, x ** k) == pytest.approx(_gauss_moment([k]), abs=1e-9)
        assert abs(np.dot(w, x ** (2 * n)) - _gauss_moment([2 * n])) > 1e-3   # sharp


@pytest.mark.parametrize("dim,level", [(2, 2), (3, 3), (4, 4), (6, 3)])
def test_smolyak_integrates_every_monomial_up_to_its_degree_exactly(dim, level):
    g = smolyak_grid(dim, level)
    deg = exactness_degree(level)
    for powers in itertools.product(range(deg + 1), repeat=dim):
        if sum(powers) > deg:
            continue
        val = g.integrate(lambda x: np.prod(x ** np.array(powers), axis=1))
        assert val == pytest.approx(_gauss_moment(powers), abs=1e-9), powers
    # one degree above: ν_1^{2L} is not integrated exactly (a 1-D factor has only L nodes)
    val = g.integrate(lambda x: x[:, 0] ** (2 * level))
    assert abs(val - _gauss_moment([2 * level])) > 1e-3


def test_level3_node_count_is_polynomial_in_dim():
    for d in (5, 21):
        assert len(smolyak_grid(d, 3).weights) == 1 + 4 * d + 2 * d * (d - 1)
    assert (smolyak_grid(21, 3).weights < 0).any()            # Smolyak weights may be negative


def _quadratic(dim, gen):
    a = torch.randn(dim, dim, generator=gen, dtype=torch.float64)
    A = a + a.T
    b = torch.randn(dim, generator=gen, dtype=torch.float64)
    return A, b, (lambda x: 0.5 * torch.einsum("...i,ij,...j->...", x, A, x) + x @ b)


def test_sparse_grid_stein_is_exact_for_a_quadratic():
    gen = torch.Generator().manual_seed(0)
    D = 5
    A, b, u = _quadratic(D, gen)
    x = torch.rand(7, D, generator=gen, dtype=torch.float64)
    rule = sparse_grid_rule(D, 3)
    for sigma in (0.05, 0.3):
        est = stein_combine(u(stein_points(x, rule, sigma)), rule, sigma)
        torch.testing.assert_close(est.grad, x @ A + b, atol=1e-8, rtol=1e-8)
        torch.testing.assert_close(est.laplacian, torch.full((7,), float(A.trace()), dtype=torch.float64),
                                   atol=1e-7, rtol=1e-8)
        # u_σ = u + σ² tr(A)/2 (the smoothed model)
        torch.testing.assert_close(est.value, u(x) + sigma ** 2 * A.trace() / 2, atol=1e-10, rtol=1e-10)
    # Laplacian over a subset of coordinates (space of a space–time input)
    est = stein_combine(u(stein_points(x, rule, 0.1)), rule, 0.1, laplacian_dims=[0, 1, 2])
    assert est.laplacian[0].item() == pytest.approx(float(A.diagonal()[:3].sum()), abs=1e-7)


def test_monte_carlo_stein_on_a_quadratic_converges_like_one_over_sqrt_n():
    gen = torch.Generator().manual_seed(1)
    D = 4
    A, b, u = _quadratic(D, gen)
    x = torch.rand(1, D, generator=gen, dtype=torch.float64)
    errs = []
    for n in (200, 20000):
        rule = monte_carlo_rule(D, n, torch.Generator().manual_seed(2))
        est = stein_combine(u(stein_points(x, rule, 0.1)), rule, 0.1)
        errs.append(float((est.grad - (x @ A + b)).norm() / (x @ A + b).norm()))
    # 100× the samples: error ~10× smaller (allow 4×–40× for one draw)
    assert 4 < errs[0] / errs[1] < 40


def _sin_case(D=3):
    a = torch.tensor([1.3, -0.7, 2.1][:D], dtype=torch.float64)
    x = torch.tensor([[0.2, 0.5, -0.4], [0.9, 0.1, 0.3]], dtype=torch.float64)[:, :D]
    return a, x, (lambda z: torch.sin(z @ a))


def test_sin_smoothing_bias_is_second_order_in_sigma():
    """Against the derivatives of u itself the error is the smoothing bias 1 − e^{−σ²‖a‖²/2} ≈
    σ²‖a‖²/2: halving σ divides it by ~4 (level 5 grid: quadrature error far below)."""
    a, x, u = _sin_case()
    rule = sparse_grid_rule(3, 5)
    g_true = torch.cos(x @ a).unsqueeze(-1) * a
    l_true = -(a @ a) * torch.sin(x @ a)
    errs = []
    for sigma in (0.2, 0.1, 0.05):
        est = stein_combine(u(stein_points(x, rule, sigma)), rule, sigma)
        errs.append((float((est.grad - g_true).norm() / g_true.norm()),
                     float((est.laplacian - l_true).norm() / l_true.norm())))
        bias = 1 - math.exp(-sigma ** 2 * float(a @ a) / 2)
        assert errs[-1][0] == pytest.approx(bias, rel=0.05)
        assert errs[-1][1] == pytest.approx(bias, rel=0.05)
    for (g1, l1), (g2, l2) in zip(errs, errs[1:]):
        assert 3.5 < g1 / g2 < 4.5 and 3.5 < l1 / l2 < 4.5


def test_sin_quadrature_error_falls_with_grid_level():
    """Against the exact derivatives of u_σ (sin(a·x) e^{−σ²‖a‖²/2}) only the quadrature error
    remains; it falls fast with the level (node count) at fixed σ."""
    a, x, u = _sin_case()
    sigma = 0.3
    damp = math.exp(-sigma ** 2 * float(a @ a) / 2)
    g_s = damp * torch.cos(x @ a).unsqueeze(-1) * a
    l_s = -damp * (a @ a) * torch.sin(x @ a)
    errs = []
    for level in (3, 4, 5, 6):
        rule = sparse_grid_rule(3, level)
        est = stein_combine(u(stein_points(x, rule, sigma)), rule, sigma)
        errs.append(max(float((est.grad - g_s).norm() / g_s.norm()),
                        float((est.laplacian - l_s).norm() / l_s.norm())))
    assert all(e2 < e1 for e1, e2 in zip(errs, errs[1:])), errs
    assert errs[-1] < 1e-3 and errs[0] > 10 * errs[-1]


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(ValueError, match="sigma"):
        stein_points(torch.zeros(2, 3), sparse_grid_rule(3, 3), 0.0)
    with pytest.raises(ValueError, match="level"):
        smolyak_grid(3, 0)
    rule = sparse_grid_rule(2, 3)
    with pytest.raises(ValueError, match="evaluations per point"):
        stein_combine(torch.zeros(2, 4), rule, 0.1)

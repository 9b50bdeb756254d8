"""PDE problems and the Stein PINN loss against closed forms."""
import math

import pytest
import torch

from algorithms.objectives.pde import HJB20, PDEObjective, Poisson1D, relative_l2
from algorithms.stein import SteinEstimate, sparse_grid_rule, stein_points


def test_hjb_exact_solution_satisfies_the_stated_pde_and_terminal_condition():
    p = HJB20()
    x = p.sample_interior(64, torch.Generator().manual_seed(0)).double()
    # exact derivatives of u* = Σ x_i + 1 − t on [0, 1]^20: ∇_x = 1, u_t = −1, Δu = 0
    grad = torch.cat([torch.ones(64, 20), -torch.ones(64, 1)], dim=1).double()
    est = SteinEstimate(p.exact(x), grad, torch.zeros(64, dtype=torch.float64))
    assert p.residual(est, x).abs().max() < 1e-12
    xb = p.sample_boundary(8, torch.Generator().manual_seed(1))
    assert (xb[:, -1] == 1).all()
    torch.testing.assert_close(p.exact(xb), p.boundary_target(xb))


def test_pinn_loss_vanishes_on_the_exact_hjb_solution_and_the_bias_gradient_is_exact():
    """u* is linear, so u*_σ = u* and the level-3 grid gives its derivatives exactly: the loss
    of the exact solution is 0; a constant shift c adds λ c² (boundary term only)."""
    p = HJB20()
    obj = PDEObjective(p, sparse_grid_rule(p.dim, 3), sigma=0.2, boundary_weight=1.0)
    g = torch.Generator().manual_seed(2)
    x, y = p.sample_interior(3, g), p.sample_boundary(2, g)
    pts = obj.inputs(x, y)
    assert pts.shape == (5 * obj.evaluations_per_point, 21) and obj.evaluations_per_point == 925
    # the Stein nodes leave [0, 1]^20; the exact solution is the linear Σx + 1 − t everywhere
    # (= ‖x‖₁ + 1 − t inside the domain, as in the authors' code)
    inside = x.double()
    torch.testing.assert_close(p.exact(inside), inside[:, :20].abs().sum(-1) + 1 - inside[:, -1])
    u = p.exact(pts.double()).reshape(1, -1, 1)     # float64: Δ divides rounding errors by σ²
    # the implemented residual of the smoothed exact solution vanishes to float tolerance: with
    # the Stein nodes in float64 to ~1e-12; with the float32 nodes the network receives, to the
    # node rounding (~6e-8) amplified by the Laplacian's 1/σ² and the grid's negative weights
    nodes64 = stein_points(torch.cat([x, y]).double(), obj.rule, obj.sigma).reshape(-1, 21)
    for u_nodes, tol in ((p.exact(nodes64), 1e-10), (p.exact(pts.double()), 1e-4)):
        est = obj._estimate(u_nodes.reshape(1, -1, 1), 5)
        r = p.residual(SteinEstimate(est.value[..., :3], est.grad[..., :3, :],
                                     est.laplacian[..., :3]), x.double())
        assert r.abs().max().item() < tol
        torch.testing.assert_close(est.value[0, 3:], p.boundary_target(y.double()))
    assert obj.losses(u, x, y).item() == pytest.approx(0.0, abs=1e-5)
    shifted = torch.cat([u, u + 0.3])
    assert obj.losses(shifted, x, y)[1].item() == pytest.approx(0.09, rel=1e-4)
    # exact output-bias gradient against a central difference of the loss
    c = 1e-3
    fd = (obj.losses(u + 0.3 + c, x, y) - obj.losses(u + 0.3 - c, x, y)) / (2 * c)
    assert obj.output_bias_grad((u + 0.3)[0], x, y).item() == pytest.approx(fd.item(), rel=1e-3)


def test_poisson_residual_of_the_smoothed_exact_solution_is_its_smoothing_bias():
    """u = sin(πx): u_σ'' = −π² e^{−σ²π²/2} sin(πx), so the residual is π²(e^{−σ²π²/2} − 1)
    sin(πx) up to the grid error (level 5, σ = 0.05)."""
    p = Poisson1D()
    obj = PDEObjective(p, sparse_grid_rule(1, 5), sigma=0.05)
    x = torch.linspace(0.1, 0.9, 9).reshape(9, 1)
    y = p.sample_boundary(2, torch.Generator())
    u = p.exact(obj.inputs(x, y).double()).float().reshape(1, -1, 1)
    est = obj._estimate(u, 11)
    r = p.residual(SteinEstimate(est.value[..., :9], est.grad[..., :9, :], est.laplacian[..., :9]),
                   x.double())
    expect = math.pi ** 2 * (math.exp(-0.05 ** 2 * math.pi ** 2 / 2) - 1) * torch.sin(math.pi * x[:, 0])
    torch.testing.assert_close(r[0].float(), expect.float(), atol=2e-3, rtol=0)
    assert relative_l2(p.exact(x), p.exact(x)) == 0.0

"""IR drop at three levels (devices.md §6.7): none, first order, nodal — closed forms, a scipy
sparse solve of the same circuit, and the layer output."""
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.effects.ir_drop import IRDrop, first_order_conductances, nodal_conductances


def scipy_column_currents(G_us, x, r_row, r_col):
    """Independent KCL assembly: G (R rows × C cols) µS, drive x (R,) V → column currents (C,) A.
    Row i driven at its column-0 end; column outputs after row R−1 at virtual ground."""
    R, C = G_us.shape
    G = G_us * 1e-6
    n = 2 * R * C
    A = sp.lil_matrix((n, n))
    b = np.zeros(n)
    vr = lambda i, j: i * C + j
    vc = lambda i, j: R * C + i * C + j
    for i in range(R):
        for j in range(C):
            r, c = vr(i, j), vc(i, j)
            # row node: to the left neighbour (or the driver), to the right neighbour, through the cell
            A[r, r] += 1 / r_row + G[i, j]
            if j == 0:
                b[r] += x[i] / r_row
            else:
                A[r, vr(i, j - 1)] -= 1 / r_row
            if j + 1 < C:
                A[r, r] += 1 / r_row
                A[r, vr(i, j + 1)] -= 1 / r_row
            A[r, c] -= G[i, j]
            # column node: up, down (or the grounded output), through the cell
            A[c, c] += G[i, j] + 1 / r_col
            A[c, r] -= G[i, j]
            if i + 1 < R:
                A[c, vc(i + 1, j)] -= 1 / r_col
            if i > 0:
                A[c, c] += 1 / r_col
                A[c, vc(i - 1, j)] -= 1 / r_col
    v = spla.spsolve(A.tocsr(), b)
    return np.array([v[vc(R - 1, j)] / r_col for j in range(C)])


@pytest.mark.parametrize("R,C,r", [(6, 5, 2.0), (8, 8, 50.0), (3, 7, 400.0)])
def test_nodal_solve_equals_a_scipy_sparse_solve(R, C, r):
    gen = torch.Generator().manual_seed(R * C)
    g = torch.rand(C, R, generator=gen, dtype=torch.float64) * 25.0          # [column, row]
    x = torch.randn(R, generator=gen, dtype=torch.float64)
    geff = nodal_conductances(g, r, 0.7 * r)
    ours = (geff @ x).numpy() * 1e-6
    ref = scipy_column_currents(g.T.numpy(), x.numpy(), r, 0.7 * r)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-15)


def test_first_order_uniform_column_closed_form():
    """ΔI/I = r·g·(N+1)(2N+1)/6 for a uniform column of N cells, all driven at x."""
    for N, r, g in [(16, 0.5, 20.0), (64, 0.35, 25.0), (128, 0.1, 5.0)]:
        G = torch.full((1, N), g, dtype=torch.float64)
        eff = first_order_conductances(G, 0.0, r)
        assert float(1 - eff.sum() / G.sum()) == pytest.approx(r * g * 1e-6 * (N + 1) * (2 * N + 1) / 6, rel=1e-12)


def test_first_order_equals_its_min_matrix_form():
    """G_eff,ij = G_ij (1 − r_col Σ_k G_kj min(p_i, p_k) − r_row Σ_l G_il min(q_j, q_l))."""
    g = torch.rand(3, 2, 7, 9, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 25.0
    C, R = 7, 9
    p, q = torch.arange(R, 0, -1, dtype=g.dtype), torch.arange(1, C + 1, dtype=g.dtype)
    m_col, m_row = torch.minimum(p[:, None], p[None, :]), torch.minimum(q[:, None], q[None, :])
    ref = g * (1 - (g @ m_col) * 0.5e-6 - (m_row @ g) * 0.3e-6)
    torch.testing.assert_close(first_order_conductances(g, 0.3, 0.5), ref, rtol=1e-12, atol=1e-12)


def test_first_order_agrees_with_the_nodal_solve_for_small_r_and_pins_the_orientation():
    gen = torch.Generator().manual_seed(0)
    g = torch.rand(2, 5, 6, 7, generator=gen, dtype=torch.float64) * 25.0
    for r in (0.01, 0.1):
        lin, exact = g - first_order_conductances(g, r, 2 * r), g - nodal_conductances(g, r, 2 * r)
        assert float((lin - exact).abs().max() / exact.abs().max()) < 0.01 * r / 0.1 + 1e-6
    # rows far from the column output (i = 0) and columns far from the driver lose most
    G = torch.full((3, 8), 25.0, dtype=torch.float64)
    loss = 1 - nodal_conductances(G, 1.0, 1.0) / G
    assert torch.all(loss[:, :-1] > loss[:, 1:])          # along a column: output after the last row
    assert torch.all(loss[:-1, :] < loss[1:, :])          # along a row: driver before column 0


def test_ir_drop_at_the_layer_output_uniform_column():
    N, r = 64, 0.35
    for level in ("first_order", "nodal"):
        eff = (IRDrop(level=level, r_col_ohm=r, r_row_ohm=1e-6 if level == "nodal" else 0.0),)
        dev = CrossbarLayer(N, 1, CrossbarConfig(tile_rows=N, effects=eff), name="L")
        y = dev.query(dev.program(dev.knobs_from_weight(torch.ones(1, N))), torch.ones(1, N))[0, 0, 0]
        expected = r * 25e-6 * (N + 1) * (2 * N + 1) / 6              # 0.0121
        assert float(1 - y / N) == pytest.approx(expected, rel=0.02 if level == "nodal" else 2e-3)


def test_ir_drop_doubles_with_r_and_acts_per_tile():
    x = torch.ones(1, 32)
    losses = []
    for r in (0.2, 0.4):
        dev = CrossbarLayer(32, 1, CrossbarConfig(tile_rows=16, effects=(IRDrop(r_col_ohm=r),)), name="L")
        y = dev.query(dev.program(dev.knobs_from_weight(torch.ones(1, 32))), x)[0, 0, 0]
        losses.append(1 - float(y) / 32)
    N = 16                                                    # each tile is its own 16-cell column
    assert losses[0] == pytest.approx(0.2 * 25e-6 * (N + 1) * (2 * N + 1) / 6, rel=2e-3)
    assert losses[1] == pytest.approx(2 * losses[0], rel=2e-3)


def test_nodal_refuses_large_tiles_and_bad_settings():
    dev = CrossbarLayer(64, 64, CrossbarConfig(tile_rows=64, tile_cols=64,
                                               effects=(IRDrop(level="nodal", r_col_ohm=1, r_row_ohm=1),)))
    with pytest.raises(ValueError, match="nodal"):
        dev.program(dev.knobs_from_weight(torch.ones(64, 64)))
    for ctor in (lambda: IRDrop(level="spice"), lambda: IRDrop(r_col_ohm=-1),
                 lambda: IRDrop(level="nodal", r_col_ohm=0.0)):
        with pytest.raises(ValueError, match=r"IRDrop\.\w+ = .*allowed"):
            ctor()

"""Clements mesh: numba path == torch path == references, unitarity, loss, gradients, errors."""
import math

import pytest
import torch

from hwsim.photonic.mesh import (clements_unitary, clements_unitary_dense,
                                 clements_unitary_reference, mesh_column_matrices)
from hwsim.photonic.mzi import mzi_transfer
from hwsim.photonic.topology import ClementsTopology


def _knobs(n, batch=(), dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    m = n * (n - 1) // 2
    th = torch.rand(*batch, m, generator=g, dtype=torch.float64) * 2 * math.pi
    ph = torch.rand(*batch, m, generator=g, dtype=torch.float64) * 2 * math.pi
    de = torch.rand(*batch, n, generator=g, dtype=torch.float64) * 2 * math.pi
    return th.to(dtype), ph.to(dtype), de.to(dtype)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 8, 17])
def test_torch_path_matches_dense_product_float64(n):
    th, ph, de = _knobs(n, (3,), torch.float64)
    u = clements_unitary(th, ph, de, backend="torch")
    assert u.dtype == torch.complex128 and u.shape == (3, n, n)
    torch.testing.assert_close(u, clements_unitary_dense(th, ph, de), rtol=0, atol=1e-12)
    torch.testing.assert_close(clements_unitary(th, ph, de, backend="numba"), u, rtol=0, atol=1e-12)


def test_dense_product_is_explicit_column_order():
    # n = 3: U = D · C2 · C1 · C0 with C0, C2 on modes (0,1) and C1 on (1,2)
    th, ph, de = _knobs(3, (), torch.float64)
    cols = mesh_column_matrices(th, ph)
    assert cols.shape == (3, 3, 3)                                   # (column, out, in)
    t = mzi_transfer(th, ph)
    c1 = torch.eye(3, dtype=torch.complex128)
    c1[1:, 1:] = t[1]                                                # MZI 1 on modes (1, 2)
    torch.testing.assert_close(cols[1], c1, rtol=0, atol=0)
    torch.testing.assert_close(cols[0][:2, :2], t[0], rtol=0, atol=0)
    u = torch.diag(torch.polar(torch.ones(3, dtype=torch.float64), de)) @ cols[2] @ cols[1] @ cols[0]
    torch.testing.assert_close(clements_unitary(th, ph, de), u, rtol=0, atol=1e-14)


@pytest.mark.parametrize("n,batch", [(2, (4,)), (3, (2, 3)), (8, (2, 2, 3)), (16, (5,)),
                                     (33, (2,)), (64, (3,))])
def test_fast_path_equals_torch_path_and_reference_float32(n, batch):
    th, ph, de = _knobs(n, batch, torch.float32, seed=n)
    for loss in (0.0, 0.25):
        fast = clements_unitary(th, ph, de, loss, backend="numba")
        slow = clements_unitary(th, ph, de, loss, backend="torch")
        ref = clements_unitary_reference(th, ph, de, loss)
        auto = clements_unitary(th, ph, de, loss)
        for u in (fast, slow, ref, auto):
            assert u.shape == (*batch, n, n) and u.dtype == torch.complex64
        assert (fast - slow).abs().max() <= 1e-5
        assert (fast - ref).abs().max() <= 1e-5
        assert torch.equal(auto, fast)


def test_no_batch_and_broadcast_batch():
    th, ph, de = _knobs(5, (), torch.float32)
    assert clements_unitary(th, ph, de).shape == (5, 5)
    thb = th.expand(2, 3, -1)
    u = clements_unitary(thb, ph, de[None, None])                # broadcast leading dims
    assert u.shape == (2, 3, 5, 5)
    torch.testing.assert_close(u, clements_unitary(th, ph, de).expand(2, 3, 5, 5),
                               rtol=0, atol=1e-6)


@pytest.mark.parametrize("backend", ["torch", "numba"])
@pytest.mark.parametrize("dtype,cdtype,tol", [(torch.float32, torch.complex64, 1e-6),
                                              (torch.float64, torch.complex128, 1e-12)])
def test_unitarity(backend, dtype, cdtype, tol):
    for n in (2, 7, 16):
        u = clements_unitary(*_knobs(n, (4,), dtype), backend=backend)
        assert u.dtype == cdtype
        eye = torch.eye(n, dtype=cdtype)
        assert (u @ u.mH - eye).abs().max() <= tol * (1 if n < 16 else 2)
        assert (u.mH @ u - eye).abs().max() <= tol * (1 if n < 16 else 2)


@pytest.mark.parametrize("backend", ["torch", "numba"])
@pytest.mark.parametrize("n", [2, 3, 4, 5, 8])
def test_bar_state_loss_per_path(backend, n):
    db = 0.7
    topo = ClementsTopology.build(n)
    m = topo.n_mzis
    th = torch.full((m,), math.pi, dtype=torch.float64)              # every MZI in the bar state
    _, ph, de = _knobs(n, (), torch.float64)
    u = clements_unitary(th, ph, de, db, backend=backend)
    power = u.abs() ** 2                                              # [out, in]
    expected = 10.0 ** (-db * topo.mzis_on_path.to(torch.float64) / 10)
    torch.testing.assert_close(torch.diagonal(power), expected, rtol=1e-12, atol=0)
    assert (power - torch.diag(torch.diagonal(power))).abs().max() <= 1e-24
    assert bool((expected < 1).all())                                 # loss lowers power


def test_loss_acts_on_both_arms_uniformly():
    # Any setting: total output power for input j drops by the same per-MZI factor on each
    # path, so with all-interior paths (n=2: one MZI) U = amp · unitary.
    th, ph, de = _knobs(2, (3,), torch.float64)
    u0 = clements_unitary(th, ph, de)
    u1 = clements_unitary(th, ph, de, 3.0)
    torch.testing.assert_close(u1, u0 * 10 ** (-3.0 / 20), rtol=0, atol=1e-14)


def test_zero_loss_is_unitary():
    u = clements_unitary(*_knobs(6, (2,), torch.float64), 0.0)
    assert (u @ u.mH - torch.eye(6, dtype=torch.complex128)).abs().max() <= 1e-12


def test_gradients_flow_through_torch_path():
    th, ph, de = (x.requires_grad_() for x in _knobs(3, (2,), torch.float64))
    assert torch.autograd.gradcheck(lambda a, b, c: clements_unitary(a, b, c, 0.1), (th, ph, de))
    u = clements_unitary(th, ph, de)                                  # auto → torch path
    assert u.requires_grad
    (u.real.sum() + u.imag.sum()).backward()
    assert all(x.grad is not None and torch.isfinite(x.grad).all() for x in (th, ph, de))


@pytest.mark.parametrize("args,match", [
    (((3,), (2,), (3,)), r"phi\.shape\[-1\] must be n\(n-1\)/2 = 3 .*got shape \(2,\)"),
    (((6,), (3,), (3,)), r"theta\.shape\[-1\] must be n\(n-1\)/2 = 3 .*got shape \(6,\)"),
    (((1,), (1,), (1,)), r"delta\.shape\[-1\] .* must be >= 2, got 1"),
    (((2, 3), (3, 3), (3,)), r"batch .* broadcastable"),
])
def test_bad_shapes(args, match):
    th, ph, de = (torch.zeros(s) for s in args)
    with pytest.raises(ValueError, match=match):
        clements_unitary(th, ph, de)


def test_bad_options():
    th, ph, de = _knobs(3)
    with pytest.raises(ValueError, match="backend must be one of"):
        clements_unitary(th, ph, de, backend="gpu")
    with pytest.raises(ValueError, match=r"loss_db must be .* >= 0.*got -0.5"):
        clements_unitary(th, ph, de, -0.5)
    with pytest.raises(ValueError, match="theta must hold real phases"):
        clements_unitary(th.to(torch.complex64), ph, de)

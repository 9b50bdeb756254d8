"""Clements decomposition round trips and Haar sampling."""
import math

import numpy as np
import pytest
import torch

from hwsim.photonic.decompose import clements_decompose, haar_unitary
from hwsim.photonic.mesh import clements_unitary


@pytest.mark.parametrize("n", [2, 3, 4, 7, 8, 16, 33, 64])
def test_mesh_of_decompose_is_u(n):
    u = haar_unitary(n, torch.Generator().manual_seed(n))
    th, ph, de = clements_decompose(u)
    assert th.dtype == ph.dtype == de.dtype == torch.float64
    assert th.shape == ph.shape == (n * (n - 1) // 2,) and de.shape == (n,)
    for x in (th, ph, de):
        assert bool(((x >= 0) & (x < 2 * math.pi)).all())
    for backend in ("torch", "numba"):
        v = clements_unitary(th, ph, de, backend=backend)
        assert (v - u).abs().max() <= 1e-10


@pytest.mark.parametrize("n", [3, 6, 9])
def test_decompose_of_mesh_reproduces_unitary(n):
    g = torch.Generator().manual_seed(100 + n)
    m = n * (n - 1) // 2
    th = torch.rand(m, generator=g, dtype=torch.float64) * 2 * math.pi
    ph = torch.rand(m, generator=g, dtype=torch.float64) * 2 * math.pi
    de = torch.rand(n, generator=g, dtype=torch.float64) * 2 * math.pi
    u = clements_unitary(th, ph, de)
    th2, ph2, de2 = clements_decompose(u.numpy())                     # numpy input too
    assert (clements_unitary(th2, ph2, de2) - u).abs().max() <= 1e-10


def test_special_matrices_with_exact_zeros():
    n = 5
    perm = torch.eye(n, dtype=torch.complex128)[[3, 0, 4, 1, 2]]
    for u in (torch.eye(n, dtype=torch.complex128), perm,
              torch.diag(torch.polar(torch.ones(n, dtype=torch.float64),
                                     torch.arange(n, dtype=torch.float64)))):
        assert (clements_unitary(*clements_decompose(u)) - u).abs().max() <= 1e-12


def test_batched_input():
    g = torch.Generator().manual_seed(7)
    u = torch.stack([torch.stack([haar_unitary(4, g) for _ in range(3)]) for _ in range(2)])
    th, ph, de = clements_decompose(u)
    assert th.shape == (2, 3, 6) and de.shape == (2, 3, 4)
    assert (clements_unitary(th, ph, de) - u).abs().max() <= 1e-10


def test_haar_unitary():
    u = haar_unitary(6, torch.Generator().manual_seed(0))
    assert u.dtype == torch.complex128 and u.shape == (6, 6)
    assert (u @ u.mH - torch.eye(6, dtype=torch.complex128)).abs().max() <= 1e-12
    same = haar_unitary(6, torch.Generator().manual_seed(0))
    assert torch.equal(u, same)
    # Haar check: E|U_ij|² = 1/n and the eigenphases are not biased to 1 (Mezzadri phase fix)
    g = torch.Generator().manual_seed(1)
    us = torch.stack([haar_unitary(3, g) for _ in range(2000)])
    torch.testing.assert_close((us.abs() ** 2).mean(0), torch.full((3, 3), 1 / 3,
                                                                   dtype=torch.float64),
                               rtol=0, atol=0.03)
    assert abs(torch.linalg.eigvals(us).mean().item()) < 0.05


def test_bad_input():
    with pytest.raises(ValueError, match=r"U must be a square matrix .*got shape \(2, 3\)"):
        clements_decompose(np.zeros((2, 3), complex))
    with pytest.raises(ValueError, match=r"U must be unitary.*allowed"):
        clements_decompose(2 * np.eye(3))
    with pytest.raises(ValueError, match=r"number of modes n\) must be >= 2, got 1"):
        clements_decompose(np.eye(1))
    with pytest.raises(ValueError, match=r"n \(matrix size\) must be an int >= 1"):
        haar_unitary(0, None)

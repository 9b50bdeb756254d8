"""MZI transfer matrix: closed form, unitarity, splitting limits, determinant."""
import math

import pytest
import torch

from hwsim.photonic.mzi import coupler, loss_amplitude, mzi_transfer, phase_screen


def _phases(dtype, shape=(5, 3)):
    g = torch.Generator().manual_seed(0)
    th = torch.rand(shape, generator=g, dtype=torch.float64) * 4 * math.pi - math.pi
    ph = torch.rand(shape, generator=g, dtype=torch.float64) * 4 * math.pi - math.pi
    return th.to(dtype), ph.to(dtype)


def test_closed_form_matches_product_of_matrices():
    th, ph = _phases(torch.float64)
    b = coupler(torch.complex128)
    prod = b @ phase_screen(th) @ b @ phase_screen(ph)          # B·P(θ)·B·P(φ)
    t = mzi_transfer(th, ph)
    assert t.shape == (5, 3, 2, 2) and t.dtype == torch.complex128
    torch.testing.assert_close(t, prod, rtol=0, atol=1e-14)


@pytest.mark.parametrize("dtype,cdtype,tol", [(torch.float32, torch.complex64, 1e-6),
                                              (torch.float64, torch.complex128, 1e-12)])
def test_unitary_and_dtype(dtype, cdtype, tol):
    th, ph = _phases(dtype)
    t = mzi_transfer(th, ph)
    assert t.dtype == cdtype
    eye = torch.eye(2, dtype=cdtype)
    assert (t @ t.mH - eye).abs().max() <= tol
    assert (t.mH @ t - eye).abs().max() <= tol


def test_full_cross_and_full_bar():
    phi = torch.tensor([0.0, 1.3, -2.0], dtype=torch.float64)
    cross = mzi_transfer(torch.zeros(3, dtype=torch.float64), phi).abs() ** 2
    bar = mzi_transfer(torch.full((3,), math.pi, dtype=torch.float64), phi).abs() ** 2
    # T[out, in]: light into mode 0 leaves mode 1 for θ = 0 (cross), mode 0 for θ = π (bar)
    torch.testing.assert_close(cross, torch.tensor([[0.0, 1.0], [1.0, 0.0]],
                                                   dtype=torch.float64).expand(3, 2, 2),
                               rtol=0, atol=1e-15)
    torch.testing.assert_close(bar, torch.eye(2, dtype=torch.float64).expand(3, 2, 2),
                               rtol=0, atol=1e-15)


def test_power_splitting_law():
    th, ph = _phases(torch.float64)
    p = mzi_transfer(th, ph).abs() ** 2
    torch.testing.assert_close(p[..., 0, 0], torch.sin(th / 2) ** 2, rtol=0, atol=1e-14)
    torch.testing.assert_close(p[..., 1, 0], torch.cos(th / 2) ** 2, rtol=0, atol=1e-14)


def test_determinant():
    th, ph = _phases(torch.float64)
    det = torch.linalg.det(mzi_transfer(th, ph))
    torch.testing.assert_close(det, torch.polar(torch.ones_like(th), th + ph), rtol=0, atol=1e-13)


def test_broadcast_and_grad():
    th = torch.tensor([0.3, 1.1], dtype=torch.float64, requires_grad=True)
    ph = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    assert mzi_transfer(th, ph).shape == (2, 2, 2)
    assert torch.autograd.gradcheck(lambda a, b: mzi_transfer(a, b), (th, ph))


def test_bad_input():
    with pytest.raises(ValueError, match="theta and phi"):
        mzi_transfer(torch.zeros(2, dtype=torch.complex64), torch.zeros(2))
    with pytest.raises(ValueError, match="loss_db"):
        loss_amplitude(-1.0)
    assert loss_amplitude(20.0) == pytest.approx(0.1)

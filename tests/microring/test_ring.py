"""The ring line against closed forms: Lorentzian, FSR wrap, drop/through/weight, the inverse,
and the ring parameters from couplings against the exact add-drop (Airy) transmission."""
import math

import pytest
import torch

from hwsim.microring.ring import RingLine, lorentzian, ring_from_coupling, wrap_detuning

LINE = RingLine(fwhm_nm=0.3, fsr_nm=30.0, through_min=0.1, drop_peak=0.45)


def test_lorentzian_matches_formula_and_half_width():
    d = torch.linspace(-2, 2, 101, dtype=torch.float64)
    torch.testing.assert_close(lorentzian(d, 0.3), 1.0 / (1.0 + (2 * d / 0.3) ** 2))
    half = lorentzian(torch.tensor([-0.15, 0.0, 0.15], dtype=torch.float64), 0.3)
    torch.testing.assert_close(half, torch.tensor([0.5, 1.0, 0.5], dtype=torch.float64))


def test_wrap_is_periodic_in_the_fsr():
    d = torch.linspace(-1, 1, 21, dtype=torch.float64)
    for m in (-2, 1, 3):
        torch.testing.assert_close(wrap_detuning(d + m * 30.0, 30.0), d, atol=1e-12, rtol=0)
        torch.testing.assert_close(LINE.shape(d + m * 30.0), LINE.shape(d), atol=1e-12, rtol=0)
    w = wrap_detuning(torch.tensor([14.9, 15.0, -15.0, 44.0], dtype=torch.float64), 30.0)
    assert float(w.min()) >= -15.0 and float(w.max()) < 15.0


def test_drop_through_and_weight_formulas():
    d = torch.linspace(-1, 1, 41, dtype=torch.float64)
    L = 1.0 / (1.0 + (2 * d / 0.3) ** 2)
    torch.testing.assert_close(LINE.drop(LINE.shape(d)), 0.45 * L)
    torch.testing.assert_close(LINE.through(LINE.shape(d)), 1.0 - 0.9 * L)
    torch.testing.assert_close(LINE.weight(d), 0.45 * L - (1.0 - 0.9 * L))
    assert LINE.span == pytest.approx(1.35)
    assert float(LINE.weight(torch.tensor(0.0))) == pytest.approx(0.35)


def test_inverse_round_trip_over_the_weight_range():
    w = torch.linspace(-0.95, 0.35, 200, dtype=torch.float64)
    d = LINE.detuning_from_weight(w)
    assert float(d.min()) >= 0.0
    torch.testing.assert_close(LINE.weight(d), w, atol=1e-10, rtol=0)
    torch.testing.assert_close(LINE.weight(-d), w, atol=1e-10, rtol=0)   # the line is even


def _airy(phi, r1, r2, a):
    """Exact add-drop transmissions at round-trip phase φ (Bogaerts et al. 2012)."""
    g = r1 * r2 * a
    den = 1 - 2 * g * math.cos(phi) + g * g
    drop = (1 - r1 ** 2) * (1 - r2 ** 2) * a / den
    through = (r2 ** 2 * a ** 2 - 2 * g * math.cos(phi) + r1 ** 2) / den
    return drop, through


@pytest.mark.parametrize("r1,r2,a", [(0.99, 0.99, 0.99), (0.98, 0.99, 0.995), (0.97, 0.97, 1 - 1e-9)])
def test_ring_from_coupling_matches_the_exact_ring(r1, r2, a):
    line = ring_from_coupling(r1, r2, a, radius_um=5.0, group_index=2.35, wavelength_nm=1550.0)
    assert line.fsr_nm == pytest.approx(1550.0 ** 2 / (2.35 * 2 * math.pi * 5e3))
    d0, t0 = _airy(0.0, r1, r2, a)
    assert line.drop_peak == pytest.approx(d0, rel=1e-12)
    assert line.through_min == pytest.approx(t0, rel=1e-9, abs=1e-12)   # cancellation in the exact form
    # the exact drop falls to half its peak at φ_½, i.e. at the detuning FSR·φ_½/2π: the
    # closed-form FWHM agrees to O(1/F²)
    g = r1 * r2 * a
    phi_half = math.acos(1 - (1 - g) ** 2 / (2 * g))
    fwhm_exact = 2 * phi_half / (2 * math.pi) * line.fsr_nm
    assert line.fwhm_nm == pytest.approx(fwhm_exact, rel=2e-3)
    # the Lorentzian follows the exact drop within a few linewidths
    for k in (0.25, 0.5, 1.0, 2.0):
        delta = k * line.fwhm_nm
        exact = _airy(2 * math.pi * delta / line.fsr_nm, r1, r2, a)[0] / d0
        assert float(line.shape(torch.tensor(delta, dtype=torch.float64))) == pytest.approx(exact, rel=2e-2)


def test_lossless_critically_coupled_ring_spans_minus_one_to_one():
    line = ring_from_coupling(0.98, 0.98, 1 - 1e-12, 5.0, 2.35, 1550.0)
    assert line.through_min == pytest.approx(0.0, abs=1e-12)
    assert line.drop_peak == pytest.approx(1.0, rel=1e-9)
    assert line.span == pytest.approx(2.0, rel=1e-9)


@pytest.mark.parametrize("field,value", [("r1", 1.0), ("a", 0.0), ("radius_um", -1.0),
                                         ("group_index", float("nan"))])
def test_bad_ring_parameters_name_the_field(field, value):
    kw = dict(r1=0.99, r2=0.99, a=0.99, radius_um=5.0, group_index=2.35, wavelength_nm=1550.0)
    kw[field] = value
    with pytest.raises(ValueError, match=field):
        ring_from_coupling(**kw)


def test_weight_at_a_float_equals_the_tensor_path_bit_for_bit():
    """RingLine.weight_at (Python floats, used to check a config without torch) performs the same
    float64 operations as RingLine.weight on a tensor, wrap-around included."""
    import random
    rnd = random.Random(0)
    for _ in range(2000):
        line = RingLine(fwhm_nm=rnd.uniform(0.01, 2.0), fsr_nm=rnd.uniform(1.0, 40.0),
                        through_min=rnd.uniform(0.0, 0.5), drop_peak=rnd.uniform(0.3, 1.0))
        d = rnd.uniform(-100.0, 100.0)
        assert line.weight_at(d) == float(line.weight(torch.tensor(d, dtype=torch.float64)))

"""Tests for algorithms.estimators.directions."""
import math

import pytest
import torch

from algorithms.estimators.directions import DIRECTIONS, direction_scale, sample_directions


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kind", DIRECTIONS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_and_dtype(kind, dtype):
    u = sample_directions(kind, 7, 13, _gen(), dtype=dtype)
    assert u.shape == (7, 13)
    assert u.dtype == dtype
    assert torch.isfinite(u).all()


def test_sphere_rows_unit_norm():
    u = sample_directions("sphere", 500, 37, _gen(), dtype=torch.float64)
    torch.testing.assert_close(u.norm(dim=1), torch.ones(500, dtype=torch.float64))


def test_rademacher_entries_are_pm1():
    u = sample_directions("rademacher", 200, 50, _gen())
    assert set(u.unique().tolist()) == {-1.0, 1.0}
    # balanced: mean of 10_000 signs within 5 standard errors (se = 1/100)
    assert abs(u.mean().item()) < 0.05


@pytest.mark.parametrize("kind", DIRECTIONS)
def test_second_moment(kind):
    # E[u uᵀ] = I/d (sphere) or I (gaussian, rademacher); scale by direction_scale to get I.
    d, n = 8, 40_000
    u = sample_directions(kind, n, d, _gen(1), dtype=torch.float64)
    m = direction_scale(kind, d) * (u.T @ u) / n
    # entries of s·u uᵀ have std ≤ ~sqrt(2) (gaussian diagonal); se over n draws ≈ 0.007.
    torch.testing.assert_close(m, torch.eye(d, dtype=torch.float64), atol=0.05, rtol=0)
    assert u.mean(0).abs().max() < 0.05


@pytest.mark.parametrize("kind", DIRECTIONS)
def test_deterministic_for_seeded_generator(kind):
    a = sample_directions(kind, 5, 20, _gen(123))
    b = sample_directions(kind, 5, 20, _gen(123))
    c = sample_directions(kind, 5, 20, _gen(124))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("kind", DIRECTIONS)
def test_layout_preserving(kind):
    # one (P, d) draw equals P consecutive (1, d) draws from the same generator
    g1, g2 = _gen(7), _gen(7)
    batch = sample_directions(kind, 6, 33, g1, dtype=torch.float64)
    rows = torch.cat([sample_directions(kind, 1, 33, g2, dtype=torch.float64) for _ in range(6)])
    assert torch.equal(batch, rows)


def test_does_not_touch_global_rng():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    sample_directions("gaussian", 4, 4, _gen())
    assert torch.equal(before, torch.get_rng_state())


def test_direction_scale():
    assert direction_scale("sphere", 17) == 17.0
    assert direction_scale("gaussian", 17) == 1.0
    assert direction_scale("rademacher", 17) == 1.0


@pytest.mark.parametrize("args", [("cube", 2, 3), ("sphere", 0, 3), ("sphere", 2, 0),
                                  ("sphere", 1.5, 3)])
def test_bad_arguments_raise(args):
    kind, num, dim = args
    with pytest.raises(ValueError):
        sample_directions(kind, num, dim, _gen())


def test_bad_kind_message_names_allowed():
    with pytest.raises(ValueError, match="cube.*sphere"):
        direction_scale("cube", 3)
    assert math.isfinite(direction_scale("sphere", 1))

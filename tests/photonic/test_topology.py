"""Clements topology: explicit inventories for small n."""
import dataclasses

import pytest
import torch

from hwsim.photonic.topology import ClementsTopology

# n → pairs per column, written out by hand
LAYOUTS = {
    2: [[(0, 1)], []],
    3: [[(0, 1)], [(1, 2)], [(0, 1)]],
    4: [[(0, 1), (2, 3)], [(1, 2)], [(0, 1), (2, 3)], [(1, 2)]],
    5: [[(0, 1), (2, 3)], [(1, 2), (3, 4)], [(0, 1), (2, 3)], [(1, 2), (3, 4)],
        [(0, 1), (2, 3)]],
}
ON_PATH = {2: [1, 1], 3: [2, 3, 1], 4: [2, 4, 4, 2], 5: [3, 5, 5, 5, 2]}


@pytest.mark.parametrize("n", sorted(LAYOUTS))
def test_small_layouts(n):
    t = ClementsTopology.build(n)
    assert t.n == n
    assert t.n_mzis == {2: 1, 3: 3, 4: 6, 5: 10}[n] == n * (n - 1) // 2
    assert t.n_columns == t.depth == n
    assert [t.pairs(k) for k in range(n)] == LAYOUTS[n]
    upper = [m for col in LAYOUTS[n] for m, _ in col]
    column = [k for k, col in enumerate(LAYOUTS[n]) for _ in col]
    assert t.upper_mode.tolist() == upper and t.upper_mode.dtype == torch.long
    assert t.column.tolist() == column and t.column.dtype == torch.long
    for k, sl in enumerate(t.column_slices):
        assert t.column[sl].tolist() == [k] * len(LAYOUTS[n][k])
    assert t.mzis_on_path.tolist() == ON_PATH[n]
    assert t.n_phase_shifters == 2 * t.n_mzis + n == n * n
    assert t.n_couplers == 2 * t.n_mzis
    assert t.n_crossings == 0
    assert t.n_phases == n * n


@pytest.mark.parametrize("n", [6, 7, 16, 33, 64])
def test_general_counts(n):
    t = ClementsTopology.build(n)
    assert t.n_mzis == n * (n - 1) // 2 == len(t.upper_mode)
    assert sum(sl.stop - sl.start for sl in t.column_slices) == t.n_mzis
    assert int(t.mzis_on_path.sum()) == 2 * t.n_mzis
    assert t.mzis_on_path[1:-1].tolist() == [n] * (n - 2)        # interior modes: every column
    assert int(t.mzis_on_path[0]) == (n + 1) // 2
    assert int(t.mzis_on_path[-1]) == n // 2
    assert bool(((t.upper_mode % 2) == (t.column % 2)).all())
    assert int(t.upper_mode.max()) == n - 2


def test_frozen_and_cached():
    t = ClementsTopology.build(4)
    assert ClementsTopology.build(4) is t
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.n = 5


@pytest.mark.parametrize("bad", [1, 0, -3, 2.0, True, "4"])
def test_bad_n(bad):
    with pytest.raises(ValueError, match=r"n \(number of modes\).*>= 2.*got"):
        ClementsTopology.build(bad)

"""The parallel ziggurat sampler against the standard normal distribution."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from hwsim.effects import rng
from hwsim.effects.ziggurat import TABLES, fill_normal


@pytest.fixture(scope="module")
def samples():
    out = np.empty((64, 65_536), np.float32)            # 4.2 M draws, fixed seeds: deterministic
    fill_normal(out, np.arange(1, 65, dtype=np.uint64) * np.uint64(104_729), *TABLES)
    return out.ravel().astype(np.float64)


def test_moments(samples):
    n = samples.size
    assert abs(samples.mean()) < 4 / math.sqrt(n)
    assert abs(samples.std() - 1) < 4 * math.sqrt(0.5 / n)
    assert abs(stats.kurtosis(samples)) < 4 * math.sqrt(24 / n)


def test_histogram_and_tails_match_the_normal_law(samples):
    h, edges = np.histogram(samples, bins=200, range=(-5, 5))
    expected = samples.size * np.diff(stats.norm.cdf(edges))
    chi2 = ((h - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(chi2, 199) > 1e-3
    for threshold in (2.0, 3.0, 3.442619855899, 4.0):   # 3.44 = start of the ziggurat tail
        count = (np.abs(samples) > threshold).sum()
        exp = samples.size * 2 * stats.norm.sf(threshold)
        assert abs(count - exp) < 4 * math.sqrt(exp), threshold


def test_rows_are_independent_streams_of_their_seeds():
    seeds = np.array([7, 8, 9], np.uint64)
    together = np.empty((3, 1000), np.float32)
    fill_normal(together, seeds, *TABLES)
    alone = np.empty((1, 1000), np.float32)
    fill_normal(alone, seeds[1:2], *TABLES)
    assert np.array_equal(together[1], alone[0])
    assert not np.array_equal(together[0], together[1])


def test_rng_normal_batched_equals_sequential_draws():
    g = torch.Generator().manual_seed(3)
    a = rng.normal((4, 5, 6), g)
    g = torch.Generator().manual_seed(3)
    b = torch.cat([rng.normal((1, 5, 6), g) for _ in range(4)])
    assert torch.equal(a, b)

"""bench/pai2023_large_test.py: the moons Bayes accuracy against cases whose answer is known,
the fresh test sample, and the bench end to end on the reproduction's quick settings."""
import numpy as np
import pytest

from experiments.planar import load_planar
from tests.bench_scripts import load

bench = load("pai2023_large_test")


def test_bayes_classifier_is_exact_far_from_the_overlap():
    # points on the two curves' far ends: no noise draw of 0.2 moves the posterior there
    x = np.array([[-1.0, 0.0], [0.0, 1.0], [2.0, 0.5], [1.0, -0.5]])
    y = np.array([0, 0, 1, 1])
    assert bench.moons_bayes_accuracy(x, y) == 1.0
    assert bench.moons_bayes_accuracy(x, 1 - y) == 0.0


def test_bayes_accuracy_tends_to_half_as_the_noise_swamps_the_curves():
    rng = np.random.default_rng(0)
    x = rng.normal(0.5, 50.0, size=(4000, 2))       # far wider than the curves' extent
    y = rng.integers(0, 2, 4000)
    assert bench.moons_bayes_accuracy(x, y, noise=50.0) == pytest.approx(0.5, abs=0.03)


def test_bayes_accuracy_of_the_moons_distribution_falls_with_its_noise():
    x, y = bench.fresh_test("moons", 0, 3000)
    acc = bench.moons_bayes_accuracy(x.numpy(), y.numpy())
    assert 0.95 < acc < 0.99          # noise 0.2: the halves overlap near the tips
    # the same points re-drawn with more noise are harder for their own Bayes classifier
    rng = np.random.default_rng(1)
    noisier = x.numpy() + rng.normal(0.0, 0.3, size=x.shape)
    sigma = float(np.hypot(0.2, 0.3))
    assert bench.moons_bayes_accuracy(noisier, y.numpy(), noise=sigma) < acc - 0.05


def test_fresh_test_points_are_new_and_balanced():
    xtr, _, xte, _ = load_planar("moons", 0, n=250)
    x, y = bench.fresh_test("moons", 0, 1000)
    assert x.shape == (1000, 2) and y.shape == (1000,)
    assert abs(float(y.float().mean()) - 0.5) < 0.01
    seen = {tuple(p) for p in np.round(np.concatenate([xtr.numpy(), xte.numpy()]), 6)}
    assert not any(tuple(p) in seen for p in np.round(x.numpy(), 6))


def test_the_bench_runs_on_the_quick_settings(capsys):
    lines = bench.main(["--quick", "--seeds", "0", "--algorithms", "bp-twin", "--n-test", "200"])
    assert lines[0].startswith("moons bp-twin seed 0:") and "on 200 fresh points" in lines[0]
    acc = float(lines[0].split(":")[1].split("±")[0])
    assert 0.0 <= acc <= 1.0
    assert lines[-1].startswith("BAYES moons")

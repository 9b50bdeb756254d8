"""Two-dimensional classification tasks of Pai et al., Science 380, 398 (2023).

The authors' code (``solgaardlab/phox`` ``phox/apps/viz.py``
``get_planar_dataset_with_circular_bias``) draws

* ``moons``: 500 points of two interleaving half circles with Gaussian noise σ = 0.2
  (scikit-learn ``make_moons(noise=0.2, n_samples=500)``);
* ``ring``: 500 points of a 2-D Gaussian with variance 0.4 per axis split into three classes by
  equal quantiles of the distance from the centre; the middle shell is class 1, the inner disc
  and the outer region class 0 (``make_gaussian_quantiles(n_classes=3, cov=0.4)``, ``y[y == 2] = 0``);

then splits 80 / 20 (``train_test_split(test_size=0.2)``): 400 training and 100 test points.
The generators here follow those definitions with numpy's ``default_rng(seed)``; scikit-learn's
own random streams (its ``random_state=0`` / ``1`` / ``42``) are not reproduced, so the points
differ from the paper's draw while their distribution is the same.

Input encoding (``viz.py`` ``add_bias(x, p=9, n=4)``): a point (x₁, x₂) enters the four ports as
[x₁, x₂, b, b] with b = √((p − min(|x|², p)) / (n − 2)), so every input carries the same power p = 9.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["PLANAR", "make_moons", "make_ring", "circular_bias", "load_planar", "PLANAR_CITATION"]

PLANAR = ("moons", "ring")
N_SAMPLES = 500
TEST_FRACTION = 0.2
MOONS_NOISE = 0.2
RING_VARIANCE = 0.4
BIAS_POWER = 9.0
PLANAR_CITATION = ("Pai et al., Science 380, 398 (2023), doi:10.1126/science.ade8450; data as in "
                   "the authors' solgaardlab/phox phox/apps/viz.py")


def make_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two half circles: outer (cos t, sin t), inner (1 − cos t, 1/2 − sin t), t ∈ [0, π],
    n//2 outer points (class 0), the rest inner (class 1), plus N(0, noise²) per coordinate."""
    n_out = n // 2
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n - n_out)
    x = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)])
    y = np.concatenate([np.zeros(n_out, np.int64), np.ones(n - n_out, np.int64)])
    order = rng.permutation(n)
    return x[order] + rng.normal(0.0, noise, size=(n, 2)), y[order]


def make_ring(n: int, variance: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian N(0, variance·I₂) points ranked by distance from the centre into three equal
    quantile shells (the remainder joins the outer one); the middle shell is class 1, the inner and outer shells class 0."""
    x = rng.normal(0.0, np.sqrt(variance), size=(n, 2))
    rank = np.argsort((x ** 2).sum(1), kind="stable")
    shell = np.empty(n, np.int64)
    shell[rank] = np.repeat(np.arange(3), [n // 3, n // 3, n - 2 * (n // 3)])   # rest: outer
    return x, (shell == 1).astype(np.int64)


def circular_bias(x: torch.Tensor, power: float = BIAS_POWER, ports: int = 4) -> torch.Tensor:
    """(B, 2) points → (B, ports) port amplitudes [x₁, x₂, b, …, b] of total power ``power``."""
    sq = (x ** 2).sum(-1, keepdim=True).clamp(max=power)
    b = torch.sqrt((power - sq) / (ports - 2))
    return torch.cat([x, b.expand(-1, ports - 2)], dim=-1)


def load_planar(name: str, seed: int = 0, n: int = N_SAMPLES):
    """(x_train (N, 2), y_train, x_test (M, 2), y_test) float32/int64 tensors of ``name``."""
    if name not in PLANAR:
        raise ValueError(f"planar data set = {name!r}; allowed: {', '.join(PLANAR)}")
    rng = np.random.default_rng(seed)
    x, y = make_moons(n, MOONS_NOISE, rng) if name == "moons" else make_ring(n, RING_VARIANCE, rng)
    order = rng.permutation(n)
    n_test = int(round(TEST_FRACTION * n))
    test, train = order[:n_test], order[n_test:]
    t = lambda a, dt=torch.float32: torch.from_numpy(np.ascontiguousarray(a)).to(dt)
    return t(x[train]), t(y[train], torch.int64), t(x[test]), t(y[test], torch.int64)

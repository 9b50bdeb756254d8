"""Smolyak sparse grids of Gauss–Hermite rules for expectations under N(0, I_D).

1-D rules (probabilists' Gauss–Hermite, weight e^{−x²/2}/√(2π), built with
``numpy.polynomial.hermite_e.hermegauss`` and normalised to sum 1): level l has n_l = l nodes and
integrates polynomials up to degree 2l − 1 exactly (the "GQN" rules of Heiss & Winschel,
J. Econometrics 144, 62 (2008), which the sparse-grid Stein estimator of Zhao et al.,
arXiv:2308.09858, uses: ``olokevin/scalable_bpfree_onn_training`` ships GQN_d2_l*.asc tables).

Smolyak combination of level L in D dimensions (Smolyak 1963; Novak & Ritter 1999):

    A(L, D) = Σ_l (−1)^{L+D−1−|l|} C(D−1, L+D−1−|l|) ⊗_i U^{l_i}

summed over multi-indices l ∈ ℕ^D, l_i ≥ 1, with max(D, L) ≤ |l| ≤ L + D − 1 (L = 1: the single
node 0). Since each U^{l}
is exact to degree 2l − 1, A(L, D) is exact for every polynomial of *total* degree ≤ 2L − 1
(Heiss & Winschel 2008, Thm. 1); tested. Some weights are negative. Nodes shared by several
product rules are merged (weights added). Node count grows polynomially in D for fixed L
(level 3: 1 + 4D + 2D(D − 1) nodes, 925 for D = 21), unlike the full tensor grid (3^D).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

__all__ = ["gauss_hermite_1d", "smolyak_grid", "SparseGrid", "exactness_degree"]


@lru_cache(maxsize=None)
def gauss_hermite_1d(n: int) -> tuple[np.ndarray, np.ndarray]:
    """n-point rule for E f(ν), ν ~ N(0, 1): nodes (n,), weights (n,) summing to 1."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"gauss_hermite_1d n = {n!r}; allowed: an integer >= 1")
    x, w = hermegauss(n)
    w = w / math.sqrt(2.0 * math.pi)
    x = np.where(np.abs(x) < 1e-14, 0.0, x)          # the middle node of odd rules is exactly 0
    return x, w


def exactness_degree(level: int) -> int:
    """Total polynomial degree integrated exactly by a level-``level`` grid: 2L − 1."""
    return 2 * level - 1


def _excess_vectors(dim: int, total: int):
    """All sparse vectors e ∈ ℕ^dim with Σe = total, as tuples of (index, value>0)."""
    def rec(start: int, left: int):
        if left == 0:
            yield ()
            return
        for i in range(start, dim):
            for v in range(left, 0, -1):
                for rest in rec(i + 1, left - v):
                    yield ((i, v),) + rest
    yield from rec(0, total)


@dataclass(frozen=True)
class SparseGrid:
    """Nodes (Q, D) and weights (Q,) of a rule for E f(ν), ν ~ N(0, I_D); Σ weights = 1."""

    nodes: np.ndarray
    weights: np.ndarray
    level: int

    @property
    def dim(self) -> int:
        return self.nodes.shape[1]

    def integrate(self, f) -> float:
        """Σ_q w_q f(ν_q) for a vectorised f: (Q, D) → (Q,)."""
        return float(np.dot(self.weights, f(self.nodes)))


def smolyak_grid(dim: int, level: int) -> SparseGrid:
    """Smolyak sparse grid of GQN rules, ``level`` L ≥ 1 (exact to total degree 2L − 1)."""
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 1000:
        raise ValueError(f"sparse grid dim = {dim!r}; allowed: an integer in [1, 1000]")
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 8:
        raise ValueError(f"sparse grid level = {level!r}; allowed: an integer in [1, 8]")
    acc: dict[tuple, float] = {}
    top = level + dim - 1
    for s in range(max(dim, level), top + 1):          # s = |l|
        coeff = (-1) ** (top - s) * math.comb(dim - 1, top - s)
        if coeff == 0:
            continue
        for excess in _excess_vectors(dim, s - dim):   # l_i = 1 + e_i; l_i = 1 is the node 0
            idx = [i for i, _ in excess]
            rules = [gauss_hermite_1d(1 + v) for _, v in excess]
            if rules:
                grids = np.meshgrid(*[r[0] for r in rules], indexing="ij")
                wgrid = np.ones_like(grids[0])
                for g, r in zip(np.meshgrid(*[r[1] for r in rules], indexing="ij"), rules):
                    wgrid = wgrid * g
                pts = np.stack([g.reshape(-1) for g in grids], axis=1)
                ws = wgrid.reshape(-1)
            else:
                pts, ws = np.zeros((1, 0)), np.ones(1)
            for p, w in zip(pts, ws):
                key = tuple((i, round(float(v), 12)) for i, v in zip(idx, p) if v != 0.0)
                acc[key] = acc.get(key, 0.0) + coeff * float(w)
    keys = [k for k, w in acc.items() if abs(w) > 1e-15]
    nodes = np.zeros((len(keys), dim))
    for q, k in enumerate(keys):
        for i, v in k:
            nodes[q, i] = v
    weights = np.array([acc[k] for k in keys])
    return SparseGrid(nodes, weights, level)

"""Unitary → Clements-mesh phases, and Haar-random unitaries.

Nulling algorithm of Clements et al., Optica 3(12) 1460 (2016), arXiv:1603.08788, rewritten for
the toolkit MZI (``mzi.py``): T(θ, φ) = i e^{iθ/2} [[e^{iφ} s, c], [e^{iφ} c, −s]],
s = sin(θ/2), c = cos(θ/2), T⁻¹ = T†.

Nulling formulas (derived for this T; x, y are the two entries being mixed):
- right, U ← U·T⁻¹ on columns (m, m+1), row vector (x, y) = (U[r,m], U[r,m+1]):
  new U[r,m] = −i e^{−iθ/2} (e^{−iφ} s x + c y) = 0  ⇐  θ = 2 atan2(|y|, |x|),
  φ = arg(−x ȳ).
- left, U ← T·U on rows (m, m+1), column vector (x, y) = (U[m,c], U[m+1,c]):
  new U[m+1,c] = i e^{iθ/2} (e^{iφ} c x − s y) = 0  ⇐  θ = 2 atan2(|x|, |y|), φ = arg(y x̄).
- push through a diagonal, T(θ,φ)⁻¹ · diag(d₁, d₂) = diag(e₁, e₂) · T(θ, φ′) with
  φ′ = arg(d₁/d₂), e₁ = −e^{−i(θ+φ)} d₂, e₂ = −e^{−iθ} d₂.
"""
from __future__ import annotations

import math

import numpy as np

from hwsim.effects.rng import normal

from .topology import ClementsTopology, MeshTopology, ReckTopology

from hwsim.lazy import torch

__all__ = ["clements_decompose", "reck_decompose", "decompose", "haar_unitary"]

_TWO_PI = 2.0 * math.pi


def haar_unitary(n: int, generator: torch.Generator | None) -> torch.Tensor:
    """Haar-random n x n unitary, complex128: QR of a complex Ginibre matrix with the phases of
    diag(R) moved into Q (Mezzadri, Notices AMS 54, 592 (2007), arXiv:math-ph/0609050)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (matrix size) must be an int >= 1, got {n!r}")
    z = normal((2, n, n), generator, dtype=torch.float64)
    z = torch.complex(z[0], z[1]) / math.sqrt(2.0)
    q, r = torch.linalg.qr(z)
    d = torch.diagonal(r)
    return q * (d / d.abs())[None, :]


def _as_unitary_array(u) -> np.ndarray:
    if isinstance(u, torch.Tensor):
        u = u.detach().cpu().numpy()
    u = np.asarray(u)
    if u.ndim < 2 or u.shape[-1] != u.shape[-2]:
        raise ValueError(f"U must be a square matrix (..., n, n), got shape {u.shape}")
    if u.shape[-1] < 2:
        raise ValueError(f"U.shape[-1] (number of modes n) must be >= 2, got {u.shape[-1]}")
    if not (np.issubdtype(u.dtype, np.complexfloating) or np.issubdtype(u.dtype, np.floating)):
        raise ValueError(f"U must be a real or complex float array, got dtype {u.dtype}")
    return u.astype(np.complex128)


def clements_decompose(u, *, atol: float = 1e-6):
    """Phases (theta, phi, delta) of a Clements mesh realising the unitary ``u``.

    u: (n, n) or (..., n, n) unitary, numpy array or torch tensor, indexed [out, in].
    atol: max allowed |U U† − I| entry, else ValueError.
    Returns float64 torch tensors theta, phi (..., n(n−1)/2) and delta (..., n) in rad, wrapped
    to [0, 2π), in the MZI order of ``ClementsTopology``, such that
    ``clements_unitary(theta, phi, delta) == u``.
    """
    a = _as_unitary_array(u)
    n = a.shape[-1]
    err = np.abs(a @ np.conj(np.swapaxes(a, -1, -2)) - np.eye(n)).max()
    if not err <= atol:
        raise ValueError(f"U must be unitary: max |U U^† − I| = {err:.3g}, allowed <= {atol:g}")
    batch = a.shape[:-2]
    flat = a.reshape(-1, n, n)
    out = [_decompose_one(m) for m in flat]
    th = np.stack([o[0] for o in out]).reshape(*batch, -1)
    ph = np.stack([o[1] for o in out]).reshape(*batch, -1)
    de = np.stack([o[2] for o in out]).reshape(*batch, n)
    return torch.from_numpy(th), torch.from_numpy(ph), torch.from_numpy(de)


def reck_decompose(u, *, atol: float = 1e-6):
    """Phases (theta, phi, delta) of a Reck mesh realising ``u`` (same conventions and checks as
    :func:`clements_decompose`, MZI order of ``ReckTopology``), such that
    ``mesh_unitary(theta, phi, delta, ReckTopology.build(n)) == u``.

    One-sided nulling (Reck et al. 1994; devices.md §2): for rows r = n−1 … 1 and m = 0 … r−1,
    U ← U·T⁻¹(θ, φ) on columns (m, m+1) nulls U[r, m] (θ = 2 atan2(|y|, |x|), φ = arg(−x ȳ)
    with x, y = U[r, m], U[r, m+1]; module docstring). The rest is diagonal, D = diag(e^{iδ}),
    and U = D · T_K ⋯ T_1 with T_1 the first nulling MZI, i.e. applied first to the input.
    """
    a = _check_unitary(u, atol)
    n = a.shape[-1]
    out = [_reck_one(m) for m in a.reshape(-1, n, n)]
    batch = a.shape[:-2]
    return tuple(torch.from_numpy(np.stack([o[i] for o in out]).reshape(*batch, -1)) for i in range(3))


def decompose(u, topology: MeshTopology, *, atol: float = 1e-6):
    """(theta, phi, delta) of ``u`` for the mesh ``topology`` (Clements or Reck)."""
    if topology.name == "reck":
        return reck_decompose(u, atol=atol)
    return clements_decompose(u, atol=atol)


def _check_unitary(u, atol: float) -> np.ndarray:
    a = _as_unitary_array(u)
    n = a.shape[-1]
    err = np.abs(a @ np.conj(np.swapaxes(a, -1, -2)) - np.eye(n)).max()
    if not err <= atol:
        raise ValueError(f"U must be unitary: max |U U^† − I| = {err:.3g}, allowed <= {atol:g}")
    return a


def _reck_one(u: np.ndarray):
    n = u.shape[0]
    w = u.copy()
    sequence = []
    for r in range(n - 1, 0, -1):
        for m in range(r):
            x, y = w[r, m], w[r, m + 1]
            theta = 2.0 * math.atan2(abs(y), abs(x))
            phi = float(np.angle(-x * np.conj(y)))
            _apply_right_inverse(w, m, theta, phi)
            sequence.append((m, theta, phi))
    topo = ReckTopology.build(n)
    # Slot of the i-th MZI of the sequence: the topology sorts the same placement by column.
    last = [-1] * n
    slot = {(int(k), int(m)): g for g, (k, m) in enumerate(zip(topo.column, topo.upper_mode))}
    theta_out = np.empty(topo.n_mzis)
    phi_out = np.empty(topo.n_mzis)
    for m, theta, phi in sequence:
        k = max(last[m], last[m + 1]) + 1
        last[m] = last[m + 1] = k
        g = slot[(k, m)]
        theta_out[g], phi_out[g] = theta, phi
    return _wrap(theta_out), _wrap(phi_out), _wrap(np.angle(np.diag(w)))


def _decompose_one(u: np.ndarray):
    n = u.shape[0]
    w = u.copy()
    right = []   # (m, θ, φ): U ← U·T⁻¹ applied in this order
    left = []    # (m, θ, φ): U ← T·U applied in this order
    # 0-indexed form of Clements' loop (i = 1 … n−1 in the paper's 1-indexed notation).
    for i in range(1, n):
        if i % 2 == 1:
            for j in range(i):
                m = i - j - 1                 # null w[n−1−j, m] with T⁻¹ on columns (m, m+1)
                x, y = w[n - 1 - j, m], w[n - 1 - j, m + 1]
                theta = 2.0 * math.atan2(abs(y), abs(x))
                phi = float(np.angle(-x * np.conj(y)))
                _apply_right_inverse(w, m, theta, phi)
                right.append((m, theta, phi))
        else:
            for j in range(1, i + 1):
                m = n + j - i - 2             # null w[m+1, j−1] with T on rows (m, m+1)
                x, y = w[m, j - 1], w[m + 1, j - 1]
                theta = 2.0 * math.atan2(abs(x), abs(y))
                phi = float(np.angle(y * np.conj(x)))
                _apply_left(w, m, theta, phi)
                left.append((m, theta, phi))
    # w is now diagonal D′, and U = L₁⁻¹ ⋯ L_b⁻¹ · D′ · R_a ⋯ R₁. Push the L⁻¹ through D′
    # from the innermost (L_b) outwards: L⁻¹ D = D″ T(θ, φ′).
    d = np.diag(w).copy()
    pushed = []
    for m, theta, phi in reversed(left):
        d1, d2 = d[m], d[m + 1]
        phi_new = float(np.angle(d1 * np.conj(d2)))
        d[m] = -np.exp(-1j * (theta + phi)) * d2
        d[m + 1] = -np.exp(-1j * theta) * d2
        pushed.append((m, theta, phi_new))
    # Application order (input side first): R₁ … R_a, then T′_b … T′₁ (= pushed order).
    sequence = right + pushed
    topo = ClementsTopology.build(n)
    theta_out = np.full(topo.n_mzis, np.nan)
    phi_out = np.full(topo.n_mzis, np.nan)
    slot = {(int(k), int(m)): g for g, (k, m) in enumerate(zip(topo.column, topo.upper_mode))}
    last = [-1] * n               # last column used on each mode
    for m, theta, phi in sequence:
        # as-soon-as-possible column with the parity of m after earlier MZIs on modes m, m+1
        k = max(last[m], last[m + 1]) + 1
        if k % 2 != m % 2:
            k += 1
        g = slot.get((k, m))
        if g is None or not np.isnan(theta_out[g]):  # internal invariant of the algorithm
            raise RuntimeError(f"decomposition produced an MZI outside the Clements layout "
                               f"(column {k}, modes {m},{m + 1})")
        theta_out[g], phi_out[g] = theta, phi
        last[m] = last[m + 1] = k
    delta = np.angle(d)
    return _wrap(theta_out), _wrap(phi_out), _wrap(delta)


def _wrap(x: np.ndarray) -> np.ndarray:
    """Wrap phases to [0, 2π) (np.mod can return exactly 2π for tiny negative inputs)."""
    y = np.mod(x, _TWO_PI)
    return np.where(y >= _TWO_PI, 0.0, y)


def _t(theta: float, phi: float) -> np.ndarray:
    s, c = math.sin(theta / 2), math.cos(theta / 2)
    e = np.exp(1j * phi)
    return 1j * np.exp(0.5j * theta) * np.array([[e * s, c], [e * c, -s]])


def _apply_right_inverse(w: np.ndarray, m: int, theta: float, phi: float) -> None:
    w[:, m:m + 2] = w[:, m:m + 2] @ np.conj(_t(theta, phi)).T


def _apply_left(w: np.ndarray, m: int, theta: float, phi: float) -> None:
    w[m:m + 2, :] = _t(theta, phi) @ w[m:m + 2, :]

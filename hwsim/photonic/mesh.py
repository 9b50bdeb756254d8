"""Batched phases → Clements-mesh unitary (Clements et al., arXiv:1603.08788).

U = D · T_col(n−1) ⋯ T_col(0), D = diag(e^{iδ_j}); layout and MZI order in ``topology.py``,
MZI convention in ``mzi.py``. Knobs per mesh: theta (n(n−1)/2,), phi (n(n−1)/2,), delta (n,),
all in rad. Optional insertion loss: ``loss_db`` per MZI scales its 2x2 field transfer by
10^(−dB/20) on both arms (power 10^(−dB/10)); modes that sit out a column get no loss there.

Two implementations behind :func:`clements_unitary`:
- torch path: column by column, vectorised over batch and the MZIs of a column; differentiable,
  any device. Used when an input requires grad or is not on the CPU.
- numba path: CPU kernel, one unitary per ``prange`` iteration, real/imag parts in separate
  arrays, pending per-row phase factors instead of per-MZI row phase multiplies, and a per-row
  "light cone" so zeros are never touched. Used otherwise.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .mzi import complex_dtype_for, loss_amplitude, mzi_transfer
from .topology import ClementsTopology, MeshTopology

from hwsim.lazy import broadcast_shapes, torch

__all__ = ["clements_unitary", "clements_unitary_reference", "clements_unitary_dense",
           "mesh_column_matrices", "mesh_unitary", "imperfect_mzi_transfer", "push_pull_transmission",
           "coupler_angles"]

_BACKENDS = ("auto", "torch", "numba")


def _prepare(theta, phi, delta, loss_db):
    """Validate shapes/dtypes; returns (theta, phi, delta) broadcast to a common batch, the
    topology, the real dtype and the loss amplitude."""
    amp = loss_amplitude(loss_db)
    t = {name: torch.as_tensor(x) for name, x in (("theta", theta), ("phi", phi), ("delta", delta))}
    for name, x in t.items():
        if x.is_complex():
            raise ValueError(f"{name} must hold real phases in rad, got dtype {x.dtype}; "
                             f"allowed: float32, float64")
        if x.ndim < 1:
            raise ValueError(f"{name} must have a trailing phase dimension, got a scalar; "
                             f"allowed shapes: (..., n(n-1)/2) for theta/phi, (..., n) for delta")
    n = t["delta"].shape[-1]
    if n < 2:
        raise ValueError(f"delta.shape[-1] (number of modes n) must be >= 2, got {n}")
    m = n * (n - 1) // 2
    for name in ("theta", "phi"):
        if t[name].shape[-1] != m:
            raise ValueError(f"{name}.shape[-1] must be n(n-1)/2 = {m} for n = {n} modes "
                             f"(from delta.shape[-1]), got shape {tuple(t[name].shape)}")
    try:
        batch = broadcast_shapes(*(x.shape[:-1] for x in t.values()))
    except RuntimeError:
        raise ValueError("batch (leading) dims of theta, phi, delta must be broadcastable, got "
                         + ", ".join(f"{k}{tuple(v.shape)}" for k, v in t.items())) from None
    rdtype = torch.float32
    for x in t.values():
        rdtype = torch.promote_types(rdtype, x.dtype) if x.is_floating_point() else rdtype
    if rdtype not in (torch.float32, torch.float64):
        rdtype = torch.float32
    th, ph, de = (x.to(rdtype).expand(*batch, x.shape[-1]) for x in t.values())
    return th, ph, de, ClementsTopology.build(n), rdtype, amp


def clements_unitary(theta, phi, delta, loss_db: float = 0.0, *,
                     backend: str = "auto") -> torch.Tensor:
    """Transfer matrix U[out, in] of a Clements mesh, batched.

    theta, phi: (..., n(n−1)/2) internal/external MZI phases in rad (topology order);
    delta: (..., n) output phase screen in rad; leading dims broadcast. loss_db: insertion loss
    per MZI in dB (>= 0). backend: "auto" (torch path if any input requires grad or is off-CPU,
    else numba), "torch" or "numba".
    Returns (..., n, n), complex64 for float32 phases, complex128 if any input is float64.
    """
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
    th, ph, de, topo, rdtype, amp = _prepare(theta, phi, delta, loss_db)
    if backend == "auto":
        needs_torch = any(x.requires_grad or x.device.type != "cpu" for x in (th, ph, de))
        backend = "torch" if needs_torch else "numba"
    if backend == "torch":
        return _unitary_torch(th, ph, de, topo, amp)
    if any(x.device.type != "cpu" for x in (th, ph, de)):
        raise ValueError("backend='numba' needs CPU tensors; allowed: backend='torch' or 'auto'")
    return _unitary_numba(th, ph, de, topo, amp)


# --------------------------------------------------------------------------- torch path

def _unitary_torch(th, ph, de, topo: ClementsTopology, amp: float) -> torch.Tensor:
    t = mzi_transfer(th, ph)                                     # (..., M, 2, 2)
    return _clements_from_transfers(t * amp if amp != 1.0 else t, de, topo)


def _clements_from_transfers(t: torch.Tensor, de: torch.Tensor, topo: ClementsTopology) -> torch.Tensor:
    """U = D · columns of the 2x2 transfers t (..., M, 2, 2) in Clements order."""
    n = topo.n
    batch = t.shape[:-3]
    cd = t.dtype
    u = torch.eye(n, dtype=cd, device=t.device).expand(*batch, n, n)
    for k, sl in enumerate(topo.column_slices):
        c = sl.stop - sl.start
        if c == 0:
            continue
        o = k % 2
        # rows o .. o+2c−1 form c adjacent pairs: one batched 2x2 matmul per column
        # broadcast-multiply-sum: torch.matmul on many tiny complex 2x2 blocks is ~30x slower
        mid = u[..., o:o + 2 * c, :].reshape(*batch, c, 1, 2, n)
        new = (t[..., sl, :, :, None] * mid).sum(dim=-2).reshape(*batch, 2 * c, n)
        u = torch.cat([u[..., :o, :], new, u[..., o + 2 * c:, :]], dim=-2)
    return torch.polar(torch.ones_like(de), de)[..., :, None].to(cd) * u


# --------------------------------------------------------------------------- reference

def mesh_column_matrices(theta, phi, loss_db: float = 0.0) -> torch.Tensor:
    """Dense n x n transfer matrix of every column, (..., n_columns, n, n).

    theta, phi: (..., n(n−1)/2) in rad. n is inferred from the phase count. Modes that sit out
    a column pass with transfer 1 (no loss). Used as the naive reference.
    """
    theta = torch.as_tensor(theta)
    m = theta.shape[-1] if theta.ndim else -1
    n = int(round((1 + math.sqrt(1 + 8 * max(m, 0))) / 2))
    if m < 1 or n * (n - 1) // 2 != m:
        raise ValueError(f"theta.shape[-1] must be n(n-1)/2 for some n >= 2, got {m}")
    th, ph, _, topo, _, amp = _prepare(theta, phi, torch.zeros(n), loss_db)
    batch = th.shape[:-1]
    t = mzi_transfer(th, ph) * amp                               # (..., M, 2, 2)
    cols = torch.zeros(*batch, n, n, n, dtype=t.dtype, device=t.device)
    idx = torch.arange(n, device=t.device)
    cols[..., idx, idx] = 1.0
    k, a = topo.column.to(t.device), topo.upper_mode.to(t.device)
    for i in range(2):
        for j in range(2):
            cols[..., k, a + i, a + j] = t[..., :, i, j]
    return cols


def clements_unitary_reference(theta, phi, delta, loss_db: float = 0.0) -> torch.Tensor:
    """Straightforward torch column loop (benchmark reference): per column, gather rows
    a = m and b = m+1 of all its MZIs, mix them with the 2x2 transfers, scatter back; then
    apply D. Same arguments, shapes and dtypes as :func:`clements_unitary`."""
    th, ph, de, topo, _, amp = _prepare(theta, phi, delta, loss_db)
    t = mzi_transfer(th, ph) * amp                               # (..., M, 2, 2)
    return column_loop(t, de, topo)


def column_loop(t: torch.Tensor, de: torch.Tensor, topo) -> torch.Tensor:
    """U = D · Π_columns T_col from MZI transfers ``t`` (..., M, 2, 2) in the topology's MZI
    order and screen phases ``de`` (..., n): per column, gather rows a = m and b = m+1 of all
    its MZIs, mix them with their 2x2 transfers and scatter back (any topology)."""
    n = topo.n
    u = torch.eye(n, dtype=t.dtype, device=t.device).expand(*t.shape[:-3], n, n)
    for sl in topo.column_slices:
        a = topo.upper_mode[sl].to(t.device)
        if a.numel() == 0:
            continue
        tk = t[..., sl, :, :, None]                              # (..., c, 2, 2, 1)
        ua, ub = u[..., a, :], u[..., a + 1, :]                  # (..., c, n)
        u = u.clone()
        u[..., a, :] = tk[..., 0, 0, :] * ua + tk[..., 0, 1, :] * ub
        u[..., a + 1, :] = tk[..., 1, 0, :] * ua + tk[..., 1, 1, :] * ub
    return torch.polar(torch.ones_like(de), de)[..., :, None].to(u.dtype) * u


def clements_unitary_dense(theta, phi, delta, loss_db: float = 0.0) -> torch.Tensor:
    """Naive U = D · C_(n−1) ⋯ C_0 from dense column matrices (:func:`mesh_column_matrices`),
    O(n⁴) per unitary; an independent check for tests."""
    th, ph, de, topo, _, _ = _prepare(theta, phi, delta, loss_db)
    cols = mesh_column_matrices(th, ph, loss_db)
    u = cols[..., 0, :, :]
    for k in range(1, topo.n_columns):
        u = cols[..., k, :, :] @ u
    return torch.polar(torch.ones_like(de), de)[..., :, None].to(u.dtype) * u


# --------------------------------------------------------------------------- numba path

# fastmath without nnan/ninf: lets LLVM fuse/vectorise, keeps NaN inputs propagating.
@numba.njit(parallel=True, cache=True, fastmath={"contract", "arcp", "reassoc"})
def _mesh_kernel(sin_h, cos_h, cos_phi, sin_phi, delta, upper, amp,
                 out_re, out_im):  # pragma: no cover - jitted
    """Numba kernel. sin_h, cos_h: sin/cos(θ/2), cos_phi, sin_phi: cos/sin(φ), all (P, M);
    delta: (P, n); upper: (M,) int64; amp: loss amplitude; out_re/out_im: (P, n, n), overwritten
    with Re/Im of U. Float arrays share one dtype (float32 or float64).

    Stored rows S and pending phases ρ (|ρ| = 1) represent U = diag(ρ)·S, so the global
    factor i e^{iθ/2} of each MZI costs O(1) instead of a row multiply. For an MZI on rows
    (a, b): α = e^{iφ} ρ_a / ρ_b, S_a' = α S_a, then S_a ← s S_a' + c S_b,
    S_b ← c S_a' − s S_b (s, c = amp·sin, amp·cos of θ/2) and ρ_a = ρ_b ← i e^{iθ/2} ρ_b.
    lo/hi track the nonzero column range of each stored row (light cone of the identity).
    """
    P, M = sin_h.shape
    n = delta.shape[1]
    for p in numba.prange(P):  # one unitary per iteration: stays in cache
        re = out_re[p]
        im = out_im[p]
        re[:, :] = 0.0
        im[:, :] = 0.0
        lo = np.empty(n, np.int64)
        hi = np.empty(n, np.int64)
        rr = np.ones(n, np.float64)    # Re ρ
        ri = np.zeros(n, np.float64)   # Im ρ
        coef = np.empty(4, re.dtype)   # casts the per-MZI scalars to the working dtype
        for r in range(n):
            re[r, r] = 1.0
            lo[r] = r
            hi[r] = r + 1
        for g in range(M):
            a = upper[g]
            b = a + 1
            sh = np.float64(sin_h[p, g])
            ch = np.float64(cos_h[p, g])
            tr = rr[a] * rr[b] + ri[a] * ri[b]          # ρ_a conj(ρ_b)
            ti = ri[a] * rr[b] - rr[a] * ri[b]
            cp = np.float64(cos_phi[p, g])
            sp = np.float64(sin_phi[p, g])
            coef[0] = sh * amp
            coef[1] = ch * amp
            coef[2] = cp * tr - sp * ti                 # α = e^{iφ} ρ_a conj(ρ_b)
            coef[3] = cp * ti + sp * tr
            s = coef[0]
            c = coef[1]
            ar = coef[2]
            ai = coef[3]
            l0 = min(lo[a], lo[b])
            h0 = max(hi[a], hi[b])
            ra = re[a, l0:h0]
            ia = im[a, l0:h0]
            rb = re[b, l0:h0]
            ib = im[b, l0:h0]
            for j in range(h0 - l0):
                xr = ra[j]
                xi = ia[j]
                pr = ar * xr - ai * xi
                pi = ar * xi + ai * xr
                yr = rb[j]
                yi = ib[j]
                ra[j] = s * pr + c * yr
                ia[j] = s * pi + c * yi
                rb[j] = c * pr - s * yr
                ib[j] = c * pi - s * yi
            lo[a] = l0
            lo[b] = l0
            hi[a] = h0
            hi[b] = h0
            nr = -sh * rr[b] - ch * ri[b]               # i e^{iθ/2} = −sin(θ/2) + i cos(θ/2)
            ni = -sh * ri[b] + ch * rr[b]
            rr[a] = nr
            rr[b] = nr
            ri[a] = ni
            ri[b] = ni
        for r in range(n):                              # U = D · diag(ρ) · S
            ang = np.float64(delta[p, r])
            cd = math.cos(ang)
            sd = math.sin(ang)
            coef[2] = cd * rr[r] - sd * ri[r]
            coef[3] = cd * ri[r] + sd * rr[r]
            ar = coef[2]
            ai = coef[3]
            for j in range(lo[r], hi[r]):
                xr = re[r, j]
                xi = im[r, j]
                re[r, j] = ar * xr - ai * xi
                im[r, j] = ar * xi + ai * xr


def _unitary_numba(th, ph, de, topo: ClementsTopology, amp: float) -> torch.Tensor:
    batch = th.shape[:-1]
    n = topo.n
    m = topo.n_mzis

    def arr(x, k):
        return np.ascontiguousarray(x.detach().reshape(-1, k).numpy())

    half = 0.5 * th.detach()
    # trig precomputed with torch's vectorised sin/cos (scalar libm calls in the kernel cost more)
    sh, ch = arr(torch.sin(half), m), arr(torch.cos(half), m)
    cp, sp = arr(torch.cos(ph.detach()), m), arr(torch.sin(ph.detach()), m)
    d = arr(de, n)
    P = sh.shape[0]
    re = np.empty((P, n, n), sh.dtype)
    im = np.empty((P, n, n), sh.dtype)
    if P:
        _mesh_kernel(sh, ch, cp, sp, d, topo.upper_mode.numpy(), float(amp), re, im)
    u = torch.complex(torch.from_numpy(re), torch.from_numpy(im))
    return u.reshape(*batch, n, n)


# --------------------------------------------------------------------------- any topology, imperfect couplers

def coupler_angles(eps1, eps2):
    """Angles α = π/4 + ε of an MZI's input and output couplers, B(α) = [[cos α, i sin α],
    [i sin α, cos α]] (ε in rad; ε = 0 is the 50:50 coupler)."""
    a1, a2 = math.pi / 4 + eps1, math.pi / 4 + eps2
    return a1, a2


def imperfect_mzi_transfer(theta, phi, eps1, eps2) -> torch.Tensor:
    """MZI with imperfect couplers, T = B(π/4+ε₂) · P(θ) · B(π/4+ε₁) · P(φ), indexed [out, in].

    B(α) = [[cos α, i sin α], [i sin α, cos α]] (devices.md §1.3; neurophox ``bs_error``);
    ε₁ (input coupler), ε₂ (output coupler) in rad. With ε₁ = ε₂ = 0 this is
    :func:`~hwsim.photonic.mzi.mzi_transfer` exactly. Extinction: at θ = π (bar) the cross
    power is sin²(ε₁ − ε₂); at θ = 0 (cross) the bar power is sin²(ε₁ + ε₂) — full bar needs
    t₁ = t₂, full cross t₁ + t₂ = 1 (devices.md §1.3, Fang et al. 2019).
    Shapes broadcast; complex64 for float32, complex128 for float64.
    """
    theta, phi, eps1, eps2 = torch.broadcast_tensors(*(torch.as_tensor(v) for v in (theta, phi, eps1, eps2)))
    cd = complex_dtype_for(theta.dtype)
    a1, a2 = coupler_angles(eps1, eps2)
    c1, s1, c2, s2 = torch.cos(a1), torch.sin(a1), torch.cos(a2), torch.sin(a2)
    et = torch.polar(torch.ones_like(theta), theta).to(cd)      # e^{iθ}
    ep = torch.polar(torch.ones_like(phi), phi).to(cd)          # e^{iφ}
    # B2 · diag(e^{iθ}, 1) · B1, then the input screen diag(e^{iφ}, 1) on column 0.
    m00 = c2 * c1 * et - s2 * s1
    m01 = 1j * (c2 * s1 * et + s2 * c1)
    m10 = 1j * (s2 * c1 * et + c2 * s1)
    m11 = -s2 * s1 * et + c2 * c1
    row0 = torch.stack([m00 * ep, m01.to(cd)], dim=-1)
    row1 = torch.stack([m10 * ep, m11.to(cd)], dim=-1)
    return torch.stack([row0, row1], dim=-2).to(cd)


def push_pull_transmission(phi: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
    """Field transmission of a Σ MZI driven push-pull (arms +φ, −φ), cross port, global i dropped.

    Perfect couplers: cos φ. Couplers π/4 + ε₁, π/4 + ε₂ (eps (..., 2) rad): the cross element of
    B(π/4+ε₂) diag(e^{iφ}, e^{−iφ}) B(π/4+ε₁) over i is cos(ε₁+ε₂) cos φ + i sin(ε₂−ε₁) sin φ
    (derived; pinned against the matrix product in tests). Real for eps None, complex otherwise.
    """
    if eps is None:
        return torch.cos(phi)
    e = eps.to(phi.dtype)
    return torch.complex(torch.cos(e[..., 0] + e[..., 1]) * torch.cos(phi),
                         torch.sin(e[..., 1] - e[..., 0]) * torch.sin(phi))


def mesh_unitary(theta, phi, delta, topology: MeshTopology, loss_db: float = 0.0,
                 coupler_eps: torch.Tensor | None = None) -> torch.Tensor:
    """Transfer matrix U[out, in] = D · T_M ⋯ T_1 of any adjacent-pair mesh (Clements, Reck).

    theta, phi: (..., M) rad in the MZI order of ``topology``; delta: (..., n) rad; loss_db per
    MZI (field 10^(−dB/20) on both arms; modes sitting out a column get no loss);
    coupler_eps: optional (..., M, 2) coupler angle errors ε₁, ε₂ in rad
    (:func:`imperfect_mzi_transfer`). A Clements mesh with perfect couplers goes through
    :func:`clements_unitary` (the numba fast path); everything else through the torch column
    loop below, which equals it for perfect couplers (tests/photonic/test_imperfect_mesh.py).
    """
    if coupler_eps is None and topology.name == "clements":
        return clements_unitary(theta, phi, delta, loss_db)
    amp = loss_amplitude(loss_db)
    th, ph, de = torch.as_tensor(theta), torch.as_tensor(phi), torch.as_tensor(delta)
    batch = broadcast_shapes(th.shape[:-1], ph.shape[:-1], de.shape[:-1],
                                   *(() if coupler_eps is None else (coupler_eps.shape[:-2],)))
    m, n = topology.n_mzis, topology.n
    if th.shape[-1] != m or ph.shape[-1] != m or de.shape[-1] != n:
        raise ValueError(f"phases must have {m} MZI phases and {n} screen phases for the {n}-mode "
                         f"{topology.name} mesh, got theta{tuple(th.shape)}, phi{tuple(ph.shape)}, "
                         f"delta{tuple(de.shape)}")
    th, ph = th.expand(*batch, m), ph.expand(*batch, m)
    if coupler_eps is None:
        t = mzi_transfer(th, ph)
    else:
        e = coupler_eps.to(th.dtype).expand(*batch, m, 2)
        t = imperfect_mzi_transfer(th, ph, e[..., 0], e[..., 1])
    t = t * amp if amp != 1.0 else t
    if topology.name == "clements":   # contiguous pairs per column: the vectorised column loop
        return _clements_from_transfers(t, de.expand(*batch, n), topology)
    return column_loop(t, de.expand(*batch, n), topology)

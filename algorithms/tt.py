"""Tensor-train (TT) matrices and TT layers that run on device oracles (Zhao et al.,
arXiv:2308.09858; algorithms.md §8; TT-matrix format of Oseledets, SIAM J. Sci. Comput. 33, 2295
(2011) and Novikov et al., "Tensorizing neural networks", NeurIPS 2015).

TT matrix: W ∈ ℝ^{M×N}, N = ∏ n_k (input modes), M = ∏ m_k (output modes), cores
G_k ∈ ℝ^{r_{k−1}×m_k×n_k×r_k}, r₀ = r_K = 1:

    W[(i₁…i_K), (j₁…j_K)] = G₁[:, i₁, j₁, :] G₂[:, i₂, j₂, :] ⋯ G_K[:, i_K, j_K, :]

(row-major multi-indices), |θ| = Σ_k r_{k−1} m_k n_k r_k core values. The reference layer
784 → 1024 with modes n = (7, 4, 4, 7), m = (8, 4, 4, 8) and rank 6 has 336 + 576 + 576 + 336 =
1,824 core values against 802,816 dense weights (tested).

How a TT layer maps onto a device (the choice made here, and why)
---------------------------------------------------------------------
Each core is ONE small device matrix, A_k[(a, i), (j, b)] = G_k[a, i, j, b] of shape
(r_{k−1} m_k, n_k r_k) (a plain reshape of the core), and y = W x is computed by K sequential
core contractions (:func:`tt_contract`): the intermediate tensor is re-read as a batch of
vectors of length n_k r_k, streamed through core k's device, and the readout reshaped for the next
core (the photonic tensor-core layout of tensorized ONNs: Xiao et al., APL Photonics 6, 126104
(2021); the companion code ``olokevin/scalable_bpfree_onn_training`` ``MNIST/configs/tonn.yml``).
The alternative — reconstructing W on the host and programming the dense 1024×784 matrix onto a
mesh or crossbar — was rejected: (i) the device knobs would then be the dense layer's (an 8×8-block
MZI mesh holds 12,544 blocks × 136 phases = 1.7 M phases for 784 → 1024; a crossbar 802,816
pairs), so a ZO estimate over the device knobs would not shrink at all, and a ZO estimate over the
host cores would need the designer's weight → knob decomposition of the whole matrix for every one
of the perturbed settings (one SVD + mesh decomposition per block and setting) and would write
all 1.7 M phases per setting; (ii) the TT compression would save nothing on the chip.
With one device per core the knobs ARE the cores (a crossbar holds exactly one differential pair
per core value; an MZI mesh the phases of the core's blocks: 4,080 phases for the layer above,
418× fewer than dense), each perturbed setting programs only the small cores, and the price is
paid where it belongs: K device passes per layer with the intermediates converted DAC → ADC
between cores (B·∏n_{<k}·∏m_{>k} vectors through core k). The oracles' own ``program``/``mvm``
events record every core's writes and conversions, so the trace prices exactly what runs.

Device order: the devices of a layer are its cores 1..K (``TTShape.device_shapes()``), each built
for (n_in, n_out) = (n_k r_k, r_{k−1} m_k); contraction runs core K first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor


__all__ = ["TTShape", "tt_reconstruct", "tt_contract", "core_to_matrix", "matrix_to_core",
           "parse_tt_layer", "tt_dense_matvec"]


def _modes(owner: str, name: str, v) -> tuple[int, ...]:
    if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or not v or any(
            isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in v):
        raise ValueError(f"{owner}.{name} = {v!r}; allowed: a non-empty list of integers >= 1")
    return tuple(int(m) for m in v)


@dataclass(frozen=True)
class TTShape:
    """Modes and rank of one TT matrix (n_out × n_in) = (∏ out_modes × ∏ in_modes)."""

    in_modes: tuple[int, ...]
    out_modes: tuple[int, ...]
    rank: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "in_modes", _modes("TTShape", "in_modes", self.in_modes))
        object.__setattr__(self, "out_modes", _modes("TTShape", "out_modes", self.out_modes))
        if len(self.in_modes) != len(self.out_modes):
            raise ValueError(f"TTShape: in_modes {list(self.in_modes)} and out_modes "
                             f"{list(self.out_modes)} differ in length; allowed: one of each per core")
        r = self.rank
        if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= 4096:
            raise ValueError(f"TTShape.rank = {r!r}; allowed: an integer in [1, 4096]")

    @property
    def cores(self) -> int:
        return len(self.in_modes)

    @property
    def ranks(self) -> tuple[int, ...]:
        """(r₀, …, r_K) = (1, r, …, r, 1)."""
        return (1, *([self.rank] * (self.cores - 1)), 1)

    @property
    def n_in(self) -> int:
        return math.prod(self.in_modes)

    @property
    def n_out(self) -> int:
        return math.prod(self.out_modes)

    def core_shapes(self) -> list[tuple[int, int, int, int]]:
        """(r_{k−1}, m_k, n_k, r_k) per core."""
        r = self.ranks
        return [(r[k], self.out_modes[k], self.in_modes[k], r[k + 1]) for k in range(self.cores)]

    def matrix_shapes(self) -> list[tuple[int, int]]:
        """(n_out, n_in) = (r_{k−1} m_k, n_k r_k) of the device matrix holding core k."""
        return [(a * m, n * b) for a, m, n, b in self.core_shapes()]

    def device_shapes(self) -> list[tuple[int, int]]:
        """(n_in, n_out) per core device, cores 1..K: build one device per entry."""
        return [(c, r) for r, c in self.matrix_shapes()]

    @property
    def n_params(self) -> int:
        """Σ_k r_{k−1} m_k n_k r_k core values."""
        return sum(math.prod(s) for s in self.core_shapes())

    @property
    def dense_params(self) -> int:
        return self.n_in * self.n_out

    def describe(self) -> str:
        if self.cores == 1:
            return f"dense {self.n_in}->{self.n_out}"
        return (f"TT {'x'.join(map(str, self.in_modes))}->{'x'.join(map(str, self.out_modes))} "
                f"rank {self.rank} ({self.n_params} core values, dense {self.dense_params})")


def core_to_matrix(core: Tensor) -> Tensor:
    """G (…, r0, m, n, r1) → A (…, r0·m, n·r1) with A[(a, i), (j, b)] = G[a, i, j, b]."""
    *lead, r0, m, n, r1 = core.shape
    return core.reshape(*lead, r0 * m, n * r1)


def matrix_to_core(a: Tensor, core_shape: Sequence[int]) -> Tensor:
    r0, m, n, r1 = core_shape
    return a.reshape(*a.shape[:-2], r0, m, n, r1)


def tt_reconstruct(cores: Sequence[Tensor]) -> Tensor:
    """Dense W (M, N) from cores G_k (r_{k−1}, m_k, n_k, r_k): the chain of core products."""
    if not cores or cores[0].shape[0] != 1 or cores[-1].shape[-1] != 1:
        raise ValueError("tt_reconstruct: allowed cores with r_0 = r_K = 1")
    acc = cores[0][0]                                                       # (m, n, r)
    for g in cores[1:]:
        if g.shape[0] != acc.shape[-1]:
            raise ValueError(f"tt_reconstruct: rank mismatch {acc.shape[-1]} vs {g.shape[0]}")
        m, n = acc.shape[0] * g.shape[1], acc.shape[1] * g.shape[2]
        acc = torch.einsum("ijr,rklq->ikjlq", acc, g).reshape(m, n, g.shape[-1])
    return acc[..., 0]


def tt_contract(x: Tensor, shape: TTShape, apply: Callable[[int, Tensor], Tensor]) -> Tensor:
    """y = W x by sequential core contractions, core K first.

    Args:
        x: (S, B, N) inputs (S settings, or 1 shared by all settings).
        apply: ``apply(k, v)`` maps vectors v (S', L, n_k r_k) through core k's matrix to
            (S, L, r_{k−1} m_k) (a device query, or a host matmul); S' is 1 or S.

    Returns:
        (S, B, M).
    """
    if x.dim() != 3 or x.shape[-1] != shape.n_in:
        raise ValueError(f"tt_contract: input has shape {tuple(x.shape)}; allowed (S, B, {shape.n_in})")
    S, B = x.shape[0], x.shape[1]
    K, n, m, r = shape.cores, shape.in_modes, shape.out_modes, shape.ranks
    # layout (S, B, N_pre, n_k, r_k, M_suf): N_pre = ∏ n_{<k}, M_suf = ∏ m_{>k} (row-major)
    t = x.reshape(S, B, shape.n_in // n[-1], n[-1], 1, 1)
    for k in range(K - 1, -1, -1):
        s, npre, msuf = t.shape[0], t.shape[2], t.shape[5]
        v = t.permute(0, 1, 2, 5, 3, 4).reshape(s, B * npre * msuf, n[k] * r[k + 1])
        z = apply(k, v)                                                  # (S, L, r_{k−1} m_k)
        s = z.shape[0]
        z = z.reshape(s, B, npre, msuf, r[k], m[k]).permute(0, 1, 2, 4, 5, 3)
        z = z.reshape(s, B, npre, r[k], m[k] * msuf)
        if k > 0:
            t = z.reshape(s, B, npre // n[k - 1], n[k - 1], r[k], m[k] * msuf)
        else:
            t = z
    return t.reshape(t.shape[0], B, shape.n_out)


def tt_dense_matvec(matrices: Sequence[Tensor], x: Tensor, shape: TTShape) -> Tensor:
    """Host reference: :func:`tt_contract` with core matrices A_k (S|1, r_{k−1} m_k, n_k r_k)."""
    return tt_contract(x, shape, lambda k, v: v @ matrices[k].transpose(-1, -2))


def parse_tt_layer(item: str, where: str) -> TTShape:
    """``"dense:N_IN:N_OUT"`` or ``"tt:7x4x4x7:8x4x4x8:6"`` (in modes, out modes, rank)."""
    if not isinstance(item, str):
        raise ValueError(f"{where} = {item!r}; allowed: 'dense:N_IN:N_OUT' or "
                         "'tt:IN_MODES:OUT_MODES:RANK' such as 'tt:7x4x4x7:8x4x4x8:6'")
    parts = item.strip().lower().split(":")
    try:
        if parts[0] == "dense" and len(parts) == 3:
            return TTShape((int(parts[1]),), (int(parts[2]),), 1)
        if parts[0] == "tt" and len(parts) == 4:
            return TTShape(tuple(int(v) for v in parts[1].split("x")),
                           tuple(int(v) for v in parts[2].split("x")), int(parts[3]))
    except ValueError as e:
        if "TTShape" in str(e):
            raise ValueError(f"{where} = {item!r}: {e}") from None
    raise ValueError(f"{where} = {item!r}; allowed: 'dense:N_IN:N_OUT' or "
                     "'tt:IN_MODES:OUT_MODES:RANK' such as 'tt:7x4x4x7:8x4x4x8:6'")

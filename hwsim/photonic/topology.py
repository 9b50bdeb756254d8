"""Index tables and device inventory of MZI meshes.

Clements rectangular mesh on n modes (Clements et al., Optica 3(12) 1460 (2016),
arXiv:1603.08788): n columns; column k (0-indexed, column 0 = input side) holds MZIs on mode
pairs (m, m+1) with m ≡ k (mod 2) and m+1 < n. MZIs are numbered column by column, inside a
column by increasing m. U = D · T_col(n−1) ⋯ T_col(0), D = diag(e^{iδ_j}).

Reck triangular mesh on n modes (Reck et al., PRL 73, 58 (1994), doi:10.1103/PhysRevLett.73.58;
devices.md §2): the MZIs are applied diagonal by diagonal, diagonal r = n−1 … 1 holding the
MZIs on (0,1), (1,2) … (r−1, r) in this order (the order in which the one-sided nulling of
``decompose.reck_decompose`` creates them). Each MZI sits in the earliest column after the
previous MZIs on its two modes, which gives depth 2n−3 (1 for n = 2).

Counts are explicit data because they are easy to get wrong for small n
(flaport/photontorch issue #13). Example n = 4: 6 MZIs, columns [(0,1),(2,3)], [(1,2)],
[(0,1),(2,3)], [(1,2)]. For n = 2 the second column is empty (1 MZI, depth still reported as n).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from hwsim.lazy import torch


__all__ = ["ClementsTopology", "ReckTopology", "MeshTopology", "build_topology", "TOPOLOGIES"]


@dataclass(frozen=True, eq=False)
class MeshTopology:
    """Inventory of an n-mode mesh of MZIs on adjacent modes (Clements or Reck).

    Fields:
        n: number of optical modes.
        n_mzis: n(n−1)/2.
        n_columns: n (column k may be empty only for n = 2).
        upper_mode: LongTensor (n_mzis,), upper mode m of each MZI (it acts on m, m+1).
        column: LongTensor (n_mzis,), column of each MZI.
        column_slices: tuple of n slices; ``column_slices[k]`` selects the MZI indices of column k.
        mzis_on_path: LongTensor (n,), MZIs traversed by mode j when all MZIs are in the bar
            state (= number of columns that include mode j; edge modes skip alternate columns).
        n_phase_shifters: 2 per MZI (θ, φ) + n output-screen shifters = n².
        n_couplers: 2 per MZI (50:50 directional couplers).
        n_crossings: waveguide crossings (0: only adjacent modes interact).
        n_phases: programmable phases = n² (theta, phi: n_mzis each; delta: n).
        depth: optical depth in columns (n for Clements, 2n−3 for Reck).
        name: "clements" or "reck".
    """

    n: int
    n_mzis: int
    n_columns: int
    upper_mode: torch.Tensor
    column: torch.Tensor
    column_slices: tuple[slice, ...]
    mzis_on_path: torch.Tensor
    n_phase_shifters: int
    n_couplers: int
    n_crossings: int
    n_phases: int
    depth: int
    name: str = "clements"

    def pairs(self, k: int) -> list[tuple[int, int]]:
        """Mode pairs (m, m+1) of column k, in MZI order."""
        sl = self.column_slices[k]
        return [(int(m), int(m) + 1) for m in self.upper_mode[sl]]


class ClementsTopology(MeshTopology):
    """Clements rectangular mesh inventory. Build with :meth:`ClementsTopology.build`."""

    @staticmethod
    def build(n: int) -> "MeshTopology":
        """Inventory of the n-mode Clements mesh (n >= 2); cached per n."""
        _check_n(n)
        return _build(n)


class ReckTopology(MeshTopology):
    """Reck triangular mesh inventory. Build with :meth:`ReckTopology.build`."""

    @staticmethod
    def build(n: int) -> "MeshTopology":
        """Inventory of the n-mode Reck mesh (n >= 2); cached per n."""
        _check_n(n)
        return _build_reck(n)


TOPOLOGIES = {"clements": ClementsTopology, "reck": ReckTopology}


def build_topology(name: str, n: int) -> MeshTopology:
    """The mesh inventory of topology ``name`` ("clements" or "reck") on n modes."""
    if name not in TOPOLOGIES:
        raise ValueError(f"mesh topology = {name!r}; allowed: {', '.join(TOPOLOGIES)}")
    return TOPOLOGIES[name].build(n)


def _check_n(n) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n (number of modes) must be an int >= 2, got {n!r}")


def reck_sequence(n: int) -> list[int]:
    """Upper modes of the Reck MZIs in application order (input side first)."""
    return [m for r in range(n - 1, 0, -1) for m in range(r)]


@lru_cache(maxsize=None)
def _build_reck(n: int) -> MeshTopology:
    last = [-1] * n
    placed = []                                   # (column, upper mode)
    on_path = [0] * n
    for m in reck_sequence(n):
        k = max(last[m], last[m + 1]) + 1         # earliest column after both modes are free
        last[m] = last[m + 1] = k
        placed.append((k, m))
        on_path[m] += 1
        on_path[m + 1] += 1
    placed.sort()                                 # MZIs of one column act on disjoint modes: they commute
    depth = max(k for k, _ in placed) + 1
    slices, start = [], 0
    for k in range(depth):
        stop = start + sum(1 for c, _ in placed if c == k)
        slices.append(slice(start, stop))
        start = stop
    n_mzis = len(placed)
    return MeshTopology(
        n=n, n_mzis=n_mzis, n_columns=depth,
        upper_mode=torch.tensor([m for _, m in placed], dtype=torch.long),
        column=torch.tensor([k for k, _ in placed], dtype=torch.long),
        column_slices=tuple(slices), mzis_on_path=torch.tensor(on_path, dtype=torch.long),
        n_phase_shifters=2 * n_mzis + n, n_couplers=2 * n_mzis, n_crossings=0,
        n_phases=n * n, depth=depth, name="reck")


@lru_cache(maxsize=None)
def _build(n: int) -> MeshTopology:
    upper: list[int] = []
    col: list[int] = []
    slices: list[slice] = []
    on_path = [0] * n
    for k in range(n):
        start = len(upper)
        for m in range(k % 2, n - 1, 2):
            upper.append(m)
            col.append(k)
            on_path[m] += 1
            on_path[m + 1] += 1
        slices.append(slice(start, len(upper)))
    n_mzis = len(upper)
    if n_mzis != n * (n - 1) // 2:  # internal consistency, not user input
        raise RuntimeError(f"Clements layout built {n_mzis} MZIs for n={n}")
    return ClementsTopology(
        name="clements",
        n=n,
        n_mzis=n_mzis,
        n_columns=n,
        upper_mode=torch.tensor(upper, dtype=torch.long),
        column=torch.tensor(col, dtype=torch.long),
        column_slices=tuple(slices),
        mzis_on_path=torch.tensor(on_path, dtype=torch.long),
        n_phase_shifters=2 * n_mzis + n,
        n_couplers=2 * n_mzis,
        n_crossings=0,
        n_phases=n * n,
        depth=n,
    )

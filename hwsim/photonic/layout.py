"""Geometry of one tiled photonic layer: p × q blocks of k-mode meshes, and the physical
neighbourhood of their heaters (for thermal crosstalk).

Phase tensors of a layer (a leading settings axis P in front):
    mesh  (P, p, q, 2, k²)  rad; [..., 0, :] V† mesh, [..., 1, :] U mesh, each k² vector
                            [θ (M), φ (M), δ (k)] in the MZI order of the topology (M = k(k−1)/2)
    sigma (P, p, q, k)      rad; Σ MZIs, σ_i = cos φ_i
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


from .topology import MeshTopology

from hwsim.lazy import torch

__all__ = ["MeshLayout"]


@dataclass(frozen=True, eq=False)
class MeshLayout:
    """p × q blocks of k modes on meshes of ``topology``."""

    p: int
    q: int
    k: int
    topology: MeshTopology

    @property
    def n_mzi(self) -> int:
        return self.topology.n_mzis

    @property
    def mesh_shape(self) -> tuple[int, ...]:
        return (self.p, self.q, 2, self.k * self.k)

    @property
    def sigma_shape(self) -> tuple[int, ...]:
        return (self.p, self.q, self.k)

    @property
    def n_shifters(self) -> int:
        """Programmable phase shifters of the layer: two meshes of k² plus k Σ MZIs per block."""
        return self.p * self.q * (2 * self.k * self.k + self.k)

    @property
    def heaters_per_tile(self) -> int:
        """Physical heaters of one block: k² per mesh (θ, φ per MZI and k output-screen δ) and
        two per Σ MZI, which Σ = cos φ drives push-pull (+φ, −φ): 2k² + 2k (144 for k = 8)."""
        return 2 * self.k * self.k + 2 * self.k

    @cached_property
    def mesh_adjacency(self) -> torch.Tensor:
        """(k², k²) 0/1 matrix: which heaters of one mesh are physical neighbours.

        Heaters sit on a grid of (column, upper mode) as in the checkerboard placement of
        torchonn ``ThermalCrosstalkSimulator`` (devices.md §5.5): the θ heaters of two MZIs are
        neighbours when they share a column and their upper modes differ by 2, or sit in
        adjacent columns with upper modes differing by 1; the φ heaters likewise among
        themselves; output-screen heaters δ_j, δ_{j±1} are neighbours.
        """
        t, m, k = self.topology, self.n_mzi, self.k
        col, up = t.column, t.upper_mode
        dc = (col[:, None] - col[None, :]).abs()
        dm = (up[:, None] - up[None, :]).abs()
        mzi = ((dc == 0) & (dm == 2)) | ((dc == 1) & (dm == 1))
        a = torch.zeros(k * k, k * k)
        a[:m, :m] = mzi.float()
        a[m:2 * m, m:2 * m] = mzi.float()
        a[2 * m:, 2 * m:] = self.sigma_adjacency
        return a

    @cached_property
    def sigma_adjacency(self) -> torch.Tensor:
        """(k, k) 0/1 matrix: neighbouring heaters of a row of k Σ MZIs (or k screen heaters)."""
        i = torch.arange(self.k)
        return ((i[:, None] - i[None, :]).abs() == 1).float()

    @cached_property
    def shifter_sites(self) -> tuple[tuple[int, int], torch.Tensor, torch.Tensor]:
        """Heater grid of the layer for spatially correlated variation: (grid shape (rows, cols),
        flat grid index of every mesh shifter (p, q, 2, k²), of every Σ shifter (p, q, k)).

        One grid site per heater, one cell pitch apart: in a mesh of D columns the φ and θ
        heaters of the MZI in column c on modes (m, m+1) sit at (row m, x = 2c) and (m, 2c + 1),
        the output screen δ_j at (j, 2D); a block is V† mesh | Σ row | U mesh left to right
        (width 2(2D + 1) + 1), blocks tile the die as (a, c) → rows a·k, columns c·width.
        """
        t, k, m = self.topology, self.k, self.n_mzi
        depth = int(t.column.max()) + 1 if m else 1
        mesh_w = 2 * depth + 1
        width = 2 * mesh_w + 1
        rows, cols = self.p * k, self.q * width
        a = torch.arange(self.p).reshape(-1, 1, 1, 1)
        c = torch.arange(self.q).reshape(1, -1, 1, 1)
        y = torch.cat([t.upper_mode, t.upper_mode, torch.arange(k)])           # θ, φ, δ of one mesh
        x = torch.cat([2 * t.column + 1, 2 * t.column, torch.full((k,), 2 * depth)])
        mesh_x = torch.stack([x, x + mesh_w + 1]).reshape(1, 1, 2, -1)         # V† | Σ | U
        mesh_idx = (a * k + y.reshape(1, 1, 1, -1)) * cols + c * width + mesh_x
        j = torch.arange(k).reshape(1, 1, -1)
        sigma_idx = (a[..., 0] * k + j) * cols + c[..., 0] * width + mesh_w
        return (rows, cols), mesh_idx, sigma_idx


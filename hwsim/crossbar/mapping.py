"""Weights ↔ differential conductance pairs (devices.md §6.1).

Per tile t with digital scale w_max,t = max |W_t| (AIHWKIT ``SinglePairConductanceConverter``):

    G⁺ = g_min + (g_max − g_min) · max(w, 0) / w_max,   G⁻ = g_min + (g_max − g_min) · max(−w, 0) / w_max
    ŵ  = w_max · (G⁺ − G⁻) / (g_max − g_min)

With ``per_column`` the digital scale is one w_max per column and input tile (AIHWKIT
``MappingParameter.weight_scaling_columnwise`` / ``out_scaling_columnwise``): every column uses
the whole conductance range. Conductances in µS. Tiles are ``rows × cols`` cells: rows carry inputs, columns carry outputs, so
tile (a, b) holds W[a·cols:(a+1)·cols, b·rows:(b+1)·rows].
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from hwsim.lazy import torch


__all__ = ["TileGrid", "weights_to_conductances", "conductances_to_weights"]


@dataclass(frozen=True)
class TileGrid:
    """How an (n_out, n_in) matrix is split into tiles of at most ``rows`` inputs × ``cols`` outputs."""

    n_in: int
    n_out: int
    rows: int
    cols: int
    per_column: bool = False

    @property
    def scale_rows(self) -> int:
        """Rows of the digital scale: one per column (``per_column``) or per output tile."""
        return self.n_out if self.per_column else self.tiles_out

    def output_group(self) -> torch.Tensor:
        """Scale row of every output, shape (n_out,)."""
        o = torch.arange(self.n_out)
        return o if self.per_column else o // self.cols

    @property
    def tiles_out(self) -> int:
        return math.ceil(self.n_out / self.cols)

    @property
    def tiles_in(self) -> int:
        return math.ceil(self.n_in / self.rows)

    def tile_of_each_weight(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Scale indices (a over outputs, b over inputs) of every weight, shapes (n_out, 1), (1, n_in)."""
        a = self.output_group().unsqueeze(1)
        b = (torch.arange(self.n_in) // self.rows).unsqueeze(0)
        return a, b

    def expand(self, per_tile: torch.Tensor) -> torch.Tensor:
        """(..., scale_rows, tiles_in) → (..., n_out, n_in) by repeating each scale's value."""
        a, b = self.tile_of_each_weight()
        return per_tile[..., a, b]


def weights_to_conductances(w: torch.Tensor, grid: TileGrid, g_min: float, g_max: float
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """W (n_out, n_in) → (conductances (2, n_out, n_in) µS, scales (scale_rows, tiles_in))."""
    a, b = grid.tile_of_each_weight()
    flat = (a * grid.tiles_in + b).expand_as(w).reshape(-1)
    wmax = torch.zeros(grid.scale_rows * grid.tiles_in, dtype=w.dtype).scatter_reduce(
        0, flat, w.abs().reshape(-1), reduce="amax").reshape(grid.scale_rows, grid.tiles_in)
    wmax = torch.where(wmax > 0, wmax, torch.ones_like(wmax))
    scale = grid.expand(wmax)
    span = g_max - g_min
    g_pos = g_min + span * w.clamp(min=0) / scale
    g_neg = g_min + span * (-w).clamp(min=0) / scale
    return torch.stack([g_pos, g_neg]).clamp(g_min, g_max), wmax


def conductances_to_weights(g: torch.Tensor, tile_scale: torch.Tensor, grid: TileGrid,
                            g_min: float, g_max: float) -> torch.Tensor:
    """(..., 2, n_out, n_in) µS and (..., scale_rows, tiles_in) scales → weights (..., n_out, n_in)."""
    return grid.expand(tile_scale) * (g[..., 0, :, :] - g[..., 1, :, :]) / (g_max - g_min)

"""IR drop on the wires of a crossbar tile (array stage; devices.md §6.7).

Geometry of one tile of R rows (inputs i) × C columns (outputs j), each of G⁺ and G⁻ in its own
array: row i is driven with voltage x_i at its column-0 end and crosses cells j = 0..C−1 through
``r_row_ohm`` per segment (the driver to cell 0 is one segment); column j collects the cell
currents towards its output at the far end of row R−1, held at virtual ground, through
``r_col_ohm`` per segment (cell R−1 to the output is one segment). So cell (i, j) is q_j = j + 1
row segments from its driver and p_i = R − i column segments from its output.

Levels (``level``; an absent IRDrop effect is level "none", the ideal array):

* ``first_order``: the drop to first order in r·g, which is linear in x, so it folds into
  effective conductances at program time:
      G_eff,ij = G_ij · (1 − r_col Σ_k G_kj min(p_i, p_k) − r_row Σ_l G_il min(q_j, q_l)).
  For a uniform column of N cells (r_row = 0): ΔI/I = r·g·(N+1)(2N+1)/6. Valid for
  r·g·N² ≪ 1; the factor is clamped at 0 beyond that.
* ``nodal``: Kirchhoff's current law at every row and column node, solved exactly. The circuit
  is linear, so the solve with the R unit input vectors gives the effective conductance matrix
  I = G_eff x exactly. With ideal rows (``r_row_ohm = 0``, AIHWKIT's geometry: drop along the
  column only) every column is a ladder network whose node voltages follow a tridiagonal system
  (r·diag(G) + L) v′ = e_out, L the ladder's Laplacian; G_eff,ij = G_ij v′_i — one O(R) Thomas
  solve per column, for tiles of any size. With both wires resistive: a dense solve (float64,
  tiles up to 2·R·C ≤ 2048 nodes; CrossSim ``simulator/circuits/array`` and MemTorch
  ``solve_passive.cpp`` solve the same system).

Validity: the first-order form needs r·g_max·N² ≪ 1 (devices.md §10). Where r·g_max·N² > 0.1
(``FIRST_ORDER_LIMIT``; N the wire's cell count) a ``first_order`` effect warns once and the
device takes the nodal solve instead (:meth:`IRDrop.for_tile`); at 2.29 (0.35 Ω, 25 µS, 512 rows)
the first-order factor clamps 185 of 512 cells of an all-on column to zero.

Conductances in µS, resistances in Ω (r·g uses 1e-6 S/µS).
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import ClassVar


from .validate import require_nonnegative
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["IRDrop", "first_order_conductances", "nodal_conductances", "ladder_conductances",
           "MAX_NODAL_NODES", "FIRST_ORDER_LIMIT"]

IR_LEVELS = ("first_order", "nodal")
MAX_NODAL_NODES = 2048
FIRST_ORDER_LIMIT = 0.1        # r·g_max·N² above which the first-order form is not used
_US = 1e-6


def _suffix_cumsum(a: torch.Tensor, dim: int) -> torch.Tensor:
    return a.flip(dim).cumsum(dim).flip(dim)


def first_order_conductances(g: torch.Tensor, r_row_ohm: float, r_col_ohm: float) -> torch.Tensor:
    """g (..., C, R) µS, indexed [column j, row i] → effective conductances (same shape).

    Σ_k G_kj min(p_i, p_k) = Σ_{m ≥ i} Σ_{k ≤ m} G_kj (p_i = R − i) and
    Σ_l G_il min(q_j, q_l) = Σ_{m ≤ j} Σ_{l ≥ m} G_il (q_j = j + 1): two cumulative sums each,
    O(R·C) instead of the O(R²·C) product with the min matrix.
    """
    col = _suffix_cumsum(g.cumsum(dim=-1), dim=-1)            # along each column (over rows i)
    loss = col.mul_(r_col_ohm * _US)
    if r_row_ohm > 0:
        row = _suffix_cumsum(g, dim=-2).cumsum(dim=-2)        # along each row (over columns j)
        loss.add_(row, alpha=r_row_ohm * _US)
    return g * (1.0 - loss).clamp_(min=0.0)


def _wire_system(R: int, C: int, r_row: float, r_col: float):
    """Node-conductance matrix of the wires alone (S) and the cell index maps."""
    n = 2 * R * C
    K = torch.zeros(n, n, dtype=torch.float64)
    ridx = torch.arange(R * C).reshape(R, C)
    cidx = ridx + R * C
    gr, gc = 1.0 / r_row, 1.0 / r_col

    def link(a, b, gw):
        K[a, a] += gw
        K[b, b] += gw
        K[a, b] -= gw
        K[b, a] -= gw

    for j in range(C - 1):                                     # row wires between cells
        link(ridx[:, j], ridx[:, j + 1], gr)
    for i in range(R - 1):                                     # column wires between cells
        link(cidx[i, :], cidx[i + 1, :], gc)
    K[ridx[:, 0], ridx[:, 0]] += gr                            # driver segment (x_i on the RHS)
    K[cidx[R - 1, :], cidx[R - 1, :]] += gc                    # output segment to virtual ground
    return K, ridx, cidx


def ladder_conductances(g: torch.Tensor, r_col_ohm: float) -> torch.Tensor:
    """Exact solve with ideal rows: g (..., C, R) µS [column j, row i] → G_eff (..., C, R) µS.

    Column node i (row i's cell) links to nodes i ± 1 through r_col; node R−1 links to the
    virtual-ground output through one more segment; node 0 is the open end. KCL:
    G_i (x_i − v_i) + Σ_nb (v_nb − v_i)/r = 0, I = v_{R−1}/r. With A′ = r·diag(G) + L (L the
    ladder Laplacian, diagonal 1, 2, …, 2, 2) and A′ u = e_{R−1}: I = Σ_i G_i u_i x_i, since A′
    is symmetric. Thomas algorithm over the rows, vectorised over columns and settings."""
    R = g.shape[-1]
    a = g.double() * (r_col_ohm * _US)                          # r·G, dimensionless
    diag = a + 2.0
    diag[..., 0] -= 1.0 if R > 1 else 0.0                       # open end: one neighbour
    if R == 1:
        diag[..., 0] = a[..., 0] + 1.0                          # ground only
    # forward sweep (off-diagonals −1): c′_i = −1/(d_i − (−1)·c′_{i−1}), rhs e_{R−1}
    cp = torch.empty_like(diag)
    dp = torch.zeros_like(diag)
    denom = diag[..., 0]
    cp[..., 0] = -1.0 / denom
    for i in range(1, R):
        denom = diag[..., i] + cp[..., i - 1]
        cp[..., i] = -1.0 / denom
    # rhs is zero except the last row: d′_i = 0 for i < R−1, d′_{R−1} = 1/denom_{R−1}
    u = torch.empty_like(diag)
    u[..., R - 1] = 1.0 / denom
    for i in range(R - 2, -1, -1):
        u[..., i] = -cp[..., i] * u[..., i + 1]
    return (g.double() * u).to(g.dtype)


def nodal_conductances(g: torch.Tensor, r_row_ohm: float, r_col_ohm: float) -> torch.Tensor:
    """Exact solve: g (..., C, R) µS → effective conductances G_eff (..., C, R) µS with
    I_j = Σ_i G_eff,ji x_i the column output currents for row drive voltages x. Ideal rows
    (r_row_ohm = 0) take the per-column ladder solve (:func:`ladder_conductances`)."""
    if r_row_ohm == 0.0:
        return ladder_conductances(g, r_col_ohm)
    C, R = g.shape[-2], g.shape[-1]
    if 2 * R * C > MAX_NODAL_NODES:
        raise ValueError(f"IRDrop.level = 'nodal' on a {R}×{C} tile has {2 * R * C} nodes; allowed: "
                         f"≤ {MAX_NODAL_NODES} (use tile_rows·tile_cols ≤ {MAX_NODAL_NODES // 2} or 'first_order')")
    K0, ridx, cidx = _wire_system(R, C, r_row_ohm, r_col_ohm)
    lead = g.shape[:-2]
    gs = g.reshape(-1, C, R).transpose(1, 2).double() * _US      # (N, R, C) in S, [row i, col j]
    N = gs.shape[0]
    K = K0.to(gs.device).expand(N, -1, -1).clone()
    r, c = ridx.reshape(-1), cidx.reshape(-1)
    cell = gs.reshape(N, -1)
    K[:, r, r] += cell
    K[:, c, c] += cell
    K[:, r, c] -= cell
    K[:, c, r] -= cell
    rhs = torch.zeros(2 * R * C, R, dtype=torch.float64, device=gs.device)
    rhs[ridx[:, 0], torch.arange(R)] = 1.0 / r_row_ohm          # unit drive on each row in turn
    v = torch.linalg.solve(K, rhs.expand(N, -1, -1))            # (N, nodes, R)
    current = v[:, cidx[R - 1, :], :] / r_col_ohm               # (N, C, R) A per V
    return (current / _US).to(g.dtype).reshape(*lead, C, R)


@dataclass(frozen=True)
class IRDrop:
    """Wire resistance per cell segment along rows and columns; ``level`` first_order or nodal.

    Defaults: 0.35 Ω per segment on the column (AIHWKIT ``ir_drop_g_ratio`` = 1/(0.35 Ω·5 µS),
    ``simulator/parameters/io.py`` ``IOParameters``, devices.md §6.7): pair it with a 5 µS
    device, or keep the product r·g_max = 1.75e-6 (0.07 Ω at 25 µS); rows ideal (AIHWKIT models
    the drop along the input direction only).
    """

    stage: ClassVar[str] = "array"

    level: str = described(
        "first_order",
        "'first_order' (closed form) or 'nodal' (Kirchhoff's law solved at every node)", "")
    r_col_ohm: float = described(0.35, "wire resistance per cell segment along a column", "Ω")
    r_row_ohm: float = described(0.0, "wire resistance per cell segment along a row", "Ω")

    def __post_init__(self) -> None:
        if self.level not in IR_LEVELS:
            raise ValueError(f"IRDrop.level = {self.level!r}; allowed: {', '.join(IR_LEVELS)} "
                             f"(omit the effect for none)")
        require_nonnegative("IRDrop", "r_col_ohm", self.r_col_ohm)
        require_nonnegative("IRDrop", "r_row_ohm", self.r_row_ohm)
        if self.level == "nodal" and self.r_col_ohm <= 0:
            raise ValueError(f"IRDrop.r_col_ohm = {self.r_col_ohm}; allowed for level 'nodal': > 0")

    def severity(self, g_max_us: float, rows: int, cols: int) -> float:
        """r·g_max·N², the larger of the column (N = rows) and row (N = cols) wire figures."""
        return max(self.r_col_ohm * rows ** 2, self.r_row_ohm * cols ** 2) * g_max_us * _US

    def for_tile(self, g_max_us: float, rows: int, cols: int) -> "IRDrop":
        """The effect a rows × cols tile should apply: itself, or — where a first-order effect
        is outside its validity (r·g_max·N² > ``FIRST_ORDER_LIMIT``) — a warning and the nodal
        solve. Raises where that solve is not available (resistive rows on a large tile)."""
        rgn2 = self.severity(g_max_us, rows, cols)
        if self.level != "first_order" or rgn2 <= FIRST_ORDER_LIMIT:
            return self
        if self.r_row_ohm > 0 and 2 * rows * cols > MAX_NODAL_NODES:
            raise ValueError(f"IRDrop.level = 'first_order' at r·g·N² = {rgn2:.3g} on a {rows}×{cols} tile; "
                             f"allowed: r·g·N² ≤ {FIRST_ORDER_LIMIT}, r_row_ohm = 0 (exact column solve), "
                             f"or tile_rows·tile_cols ≤ {MAX_NODAL_NODES // 2} (nodal solve)")
        warnings.warn(f"IRDrop: r·g·N² = {rgn2:.3g} > {FIRST_ORDER_LIMIT} on a {rows}×{cols} tile: the "
                      f"first-order solve is invalid there; using the nodal solve", stacklevel=3)
        return dataclasses.replace(self, level="nodal")

    def effective(self, g: torch.Tensor) -> torch.Tensor:
        """Effective conductances of one tile's cells, g (..., C, R) µS [column, row]."""
        if self.level == "nodal":
            return nodal_conductances(g, self.r_row_ohm, self.r_col_ohm)
        return first_order_conductances(g, self.r_row_ohm, self.r_col_ohm)

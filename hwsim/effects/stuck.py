"""Stuck cells and wear-out (fabrication stage; devices.md §6.6, §6.11).

StuckCells: each cell is independently stuck at SET (LRS, g_max) with probability ``p_set``
or at RESET (HRS, g_min) with probability ``p_reset``, drawn once from the device seed. Writes
ignore stuck cells (the write is still counted). Measured fractions: 4 Mb HfO₂ RRAM SA0 ≈ 1.75 %,
SA1 ≈ 9.04 % (Chen et al., IEEE TC 64(1) 2015, doi:10.1109/TC.2014.12; unverified per devices.md).

Endurance: cell i fails when its write count exceeds E_i ~ LogNormal(ln ``cycles_median``,
``cycles_log_std``) (a modelling assumption, devices.md §6.6); a failed cell sticks at RESET
(g_min) from then on (assumption: wear-out in PCM/RRAM commonly ends in a stuck state).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import math


from . import rng
from .validate import require_nonnegative, require_positive, require_range
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["StuckCells", "Endurance"]


@dataclass(frozen=True)
class StuckCells:
    """Fractions of cells stuck at SET (g_max) and at RESET (g_min)."""

    stage: ClassVar[str] = "fabrication"

    p_set: float = described(0.0, "fraction of cells stuck at SET (g_max)", "1")
    p_reset: float = described(0.0, "fraction of cells stuck at RESET (g_min)", "1")

    def __post_init__(self) -> None:
        require_range("StuckCells", "p_set", self.p_set, 0.0, 1.0)
        require_range("StuckCells", "p_reset", self.p_reset, 0.0, 1.0)
        if self.p_set + self.p_reset > 1.0:
            raise ValueError(f"StuckCells.p_reset = {self.p_reset} with p_set = {self.p_set}; allowed: p_set + p_reset ≤ 1")

    def fabricate(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """Per-cell state: +1 stuck at SET, −1 stuck at RESET, 0 working (int8)."""
        u = rng.uniform(shape, generator, dtype=torch.float64)
        state = torch.zeros(shape, dtype=torch.int8)
        state[u < self.p_reset] = -1
        state[(u >= self.p_reset) & (u < self.p_reset + self.p_set)] = 1
        return state

    def constrain_(self, g: torch.Tensor, state: torch.Tensor, g_min: float, g_max: float) -> torch.Tensor:
        """Stuck cells keep their stuck conductance whatever was written, in place."""
        g.masked_fill_(state > 0, g_max)
        return g.masked_fill_(state < 0, g_min)


@dataclass(frozen=True)
class Endurance:
    """Write budget per cell: failures after LogNormal(ln cycles_median, cycles_log_std) writes.

    PCM ≈ 1e9 cycles (Burr et al., JVST B 28, 223 (2010)); multilevel HfOx RRAM ≈ 1e6
    (Lee et al., Nat. Mater. 10, 625 (2011)); devices.md §6.11.
    """

    stage: ClassVar[str] = "fabrication"

    cycles_median: float = described(1e9, "median writes a cell survives (log-normal)", "writes")
    cycles_log_std: float = described(0.0, "std of ln(writes to failure)", "1")

    def __post_init__(self) -> None:
        require_positive("Endurance", "cycles_median", self.cycles_median)
        require_nonnegative("Endurance", "cycles_log_std", self.cycles_log_std)

    def fabricate(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """Per-cell endurance E_i (writes), float64."""
        z = rng.normal((1, *shape), generator, dtype=torch.float64)[0]
        return torch.exp(math.log(self.cycles_median) + self.cycles_log_std * z)

    def worn_out(self, writes: torch.Tensor, budget: torch.Tensor) -> torch.Tensor:
        """Boolean mask of cells whose write count exceeds their endurance."""
        return writes.double() > budget

    def constrain_(self, g: torch.Tensor, worn: torch.Tensor, g_min: float, g_max: float) -> torch.Tensor:
        return g.masked_fill_(worn, g_min)

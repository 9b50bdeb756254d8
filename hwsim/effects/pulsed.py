"""Pulsed in-situ updates of conductances (program stage; devices.md §6.10).

Per pulse of direction d = ±1 on a cell of conductance g in [g_min, g_max] (AIHWKIT
``simulator/configs/devices.py`` ``SoftBoundsDevice`` written on the conductance range):

    up   Δg = +dg_up   · (1 − (g − g_min)/(g_max − g_min)) · (1 + σ_c2c ξ)
    down Δg = −dg_down · (1 − (g_max − g)/(g_max − g_min)) · (1 + σ_c2c ξ)

with dg_up = dg_min (1 + up_down), dg_down = dg_min (1 − up_down) (AIHWKIT ``up_down``
asymmetry), ξ ~ N(0, 1) per pulse (cycle-to-cycle noise), then g clipped to [g_min, g_max].
``soft_bounds = False`` drops the bound factor (ConstantStep). Without noise, n up pulses
from g₀ give g_max − g_n = (g_max − g₀)(1 − dg_up/(g_max − g_min))ⁿ.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


from . import rng
from .validate import require_nonnegative, require_positive, require_range
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["PulsedUpdate"]


@dataclass(frozen=True)
class PulsedUpdate:
    """Pulse response of a cell: step ``dg_min_us``, asymmetry, c2c noise, soft bounds."""

    stage: ClassVar[str] = "program"

    dg_min_us: float = described(0.04, "conductance step of one pulse", "µS")
    up_down: float = described(0.0, "up/down asymmetry: steps dg_min·(1 ± up_down)", "1")
    c2c_rel: float = described(0.0, "cycle-to-cycle noise of each step, relative", "1")
    soft_bounds: bool = described(
        True, "steps shrink towards the bounds (false: a constant step)", "")

    def __post_init__(self) -> None:
        require_positive("PulsedUpdate", "dg_min_us", self.dg_min_us)
        require_range("PulsedUpdate", "up_down", self.up_down, -1.0, 1.0)
        require_nonnegative("PulsedUpdate", "c2c_rel", self.c2c_rel)
        if not isinstance(self.soft_bounds, bool):
            raise ValueError(f"PulsedUpdate.soft_bounds = {self.soft_bounds!r}; allowed: true or false")

    def program_(self, g, g_min, g_max, generator):
        """A target write is program-and-verify (exact); pulses act only through ``apply_pulses_``."""
        return g

    def apply_pulses_(self, g: torch.Tensor, pulses: torch.Tensor, g_min: float, g_max: float,
                      generator: torch.Generator | None, state=None) -> torch.Tensor:
        """g (P, ...) µS ← after |pulses| pulses of sign(pulses) per cell, in place (``state``:
        per-cell fabricated state, none for this law).

        Loops over the pulse index (at most max|pulses| rounds), never over cells or settings.
        """
        span = g_max - g_min
        sign = torch.sign(pulses).to(g.dtype)
        left = pulses.abs().to(torch.int64)
        up, down = self.dg_min_us * (1 + self.up_down), self.dg_min_us * (1 - self.up_down)
        for _ in range(int(left.max()) if left.numel() else 0):
            active = left > 0
            step = torch.where(sign > 0, torch.full_like(g, up), torch.full_like(g, -down))
            if self.soft_bounds:
                step = step * torch.where(sign > 0, (g_max - g) / span, (g - g_min) / span)
            if self.c2c_rel > 0:
                step = step * (1 + self.c2c_rel * rng.normal(tuple(g.shape), generator, dtype=g.dtype))
            g.add_(step * active).clamp_(g_min, g_max)
            left -= active.to(left.dtype)
        return g

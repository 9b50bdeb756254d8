"""Insertion loss per MZI (build-time property of a mesh).

Field amplitude 10^(-dB/20) on both arms of every MZI (power 10^(-dB/10)); devices.md §5.7
and pitfall 4 (a power factor applied to fields, or to bar terms only, is wrong).
Default 0.1 dB follows FICONN (< 0.1 dB per component, arXiv:2208.01623v1); LT uses 0.99 dB.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .validate import require_nonnegative
from ..meaning import described

__all__ = ["InsertionLoss"]


@dataclass(frozen=True)
class InsertionLoss:
    """Balanced insertion loss ``db_per_mzi`` (dB of power) on both arms of every MZI,
    including the Σ MZIs (array stage: it shapes the analog computation itself)."""

    stage: ClassVar[str] = "array"

    db_per_mzi: float = described(0.1, "balanced insertion loss on both arms of every MZI", "dB")

    def __post_init__(self) -> None:
        require_nonnegative("InsertionLoss", "db_per_mzi", self.db_per_mzi)

    @property
    def amplitude(self) -> float:
        return 10.0 ** (-self.db_per_mzi / 20.0)

    def array_terms(self, fab) -> dict:
        return {"loss_db": self.db_per_mzi}

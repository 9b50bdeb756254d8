"""Bit slicing: one weight spread over several cell pairs of increasing significance (devices.md
§6.1; CrossSim ``BitSlicedCore``, ISAAC 2 bit/cell × 8 slices ``simulator/configs/ISAAC.json``,
PRIME 4 bit/cell; aihwkit issues #287, #260, #366 ask for it).

A weight w ∈ [−w_max, w_max] is written as the integer magnitude m = round(|w|/w_max·(2^(k·n) − 1))
in base 2^k: m = Σ_i d_i 2^(k·i), d_i ∈ [0, 2^k − 1] (k = ``bits_per_slice``, n = ``slices``);
slice i is a differential cell pair holding d_i on its own column (G⁺ for w > 0, G⁻ for w < 0),
with its own programming noise, levels and ADC; the outputs are recombined digitally:

    ŵ = w_max · Σ_i c_i v_i,   v_i = (G⁺_i − G⁻_i)/(g_max − g_min) ∈ [−1, 1],
    c_i = 2^(k·i) (2^k − 1)/(2^(k·n) − 1),   Σ_i c_i = 1.

Closed forms (tests/hwsim/test_bit_slicing.py): noise-free, with 2^k levels per cell, the
weight error is the rounding of m: |ŵ − w| ≤ w_max/(2(2^(kn) − 1)) instead of w_max/(2(2^k − 1))
for one pair; independent per-cell errors of variance s² in v add up to s²·Σ c_i², so bit
slicing reduces programming-noise variance by Σ c_i² = (2^k − 1)(2^(kn) + 1)/((2^k + 1)(2^(kn) − 1))
(0.605 at k = 2, n = 4: the top slice dominates) and level-quantization error variance by
(2^k − 1)²/(2^(kn) − 1)². Each slice costs its own cells, ADC conversions and a digital
shift-add (priced through the layer's events).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .validate import require_int
from ..meaning import described

__all__ = ["BitSlicing"]


@dataclass(frozen=True)
class BitSlicing:
    """``slices`` cell pairs per weight, ``bits_per_slice`` bits each (significance 2^(k·i))."""

    stage: ClassVar[str] = "program"      # a mapping of each written weight onto cells

    slices: int = described(1, "cell pairs per weight", "cell pairs")
    bits_per_slice: int = described(
        2, "bits per slice (slice i has significance 2^(bits_per_slice·i))", "bits")

    def __post_init__(self) -> None:
        require_int("BitSlicing", "slices", self.slices, 1, 16)
        require_int("BitSlicing", "bits_per_slice", self.bits_per_slice, 1, 16)
        if self.slices * self.bits_per_slice > 52:
            raise ValueError(f"BitSlicing.slices = {self.slices} with bits_per_slice = "
                             f"{self.bits_per_slice}; allowed: slices·bits_per_slice ≤ 52")

    @property
    def full_code(self) -> int:
        """2^(k·n) − 1: the largest integer magnitude of a weight."""
        return 2 ** (self.slices * self.bits_per_slice) - 1

    def significances(self) -> list[float]:
        """c_i = 2^(k·i)(2^k − 1)/(2^(k·n) − 1), i = 0 … n − 1 (sum 1)."""
        k = self.bits_per_slice
        return [2 ** (k * i) * (2 ** k - 1) / self.full_code for i in range(self.slices)]

    def noise_variance_factor(self) -> float:
        """Σ c_i²: variance of independent equal per-slice errors relative to one cell pair."""
        return sum(c * c for c in self.significances())

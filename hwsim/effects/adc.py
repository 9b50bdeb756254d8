"""Circuit ADC non-idealities (query stage; devices.md §6.8 circuit ADCs: CrossSim
``simulator/circuits/adc/`` ramp/SAR/pipeline/cyclic models with mismatch sampled once, Spear et
al., IEEE JxCDC 2023): offset, gain error and integral non-linearity of each output ADC.

For the symmetric b-bit ADC of :class:`~hwsim.effects.quantize.OutputADC` (n = 2^(b−1) − 1 codes
each side, step Δ = r/n), ADC a converts an analog value y as

    c = clip(round(((1 + g_a)·y)/Δ + o_a), −n, n),     reading   Δ·(c + INL(c)),

o_a = ``offset_lsb`` + ``offset_sigma_lsb``·z (LSB), g_a = ``gain_error`` + ``gain_sigma``·z′,
z, z′ ~ N(0, 1) drawn once per ADC from the effect's keyed fabrication stream (one ADC per output
column and input tile on a crossbar, per output and block on an MZI mesh). INL(c) in LSB is
either the parametric bow ``inl_bow_lsb``·(1 − (c/n)²) (zero at both ends of the range, largest
at mid-scale: the classic bow of a resistor- or capacitor-ladder gradient) or a measured table
``inl_table`` of 2n + 1 values for codes −n … n (one table shared by the layer's ADCs; the
per-ADC part of the mismatch is the offset and gain spread). DNL is
INL(c) − INL(c − 1). The digital side reconstructs with the ideal Δ, so every error shows in the
output. Closed forms in tests/hwsim/test_adc_nonideality.py.

Both devices route a layer with this effect through their torch readout path (the fused kernels
implement the ideal ADC only).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


from . import rng
from .validate import require_nonnegative, require_range
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["ADCNonideality"]


@dataclass(frozen=True)
class ADCNonideality:
    """Offset (LSB), gain error (relative), INL (bow in LSB or a table per code) of each ADC."""

    stage: ClassVar[str] = "query"

    offset_lsb: float = described(0.0, "mean offset of every ADC", "LSB")
    offset_sigma_lsb: float = described(0.0, "std of each ADC's offset, drawn once", "LSB")
    gain_error: float = described(0.0, "mean relative gain error of every ADC", "1")
    gain_sigma: float = described(0.0, "std of each ADC's relative gain error, drawn once", "1")
    inl_bow_lsb: float = described(
        0.0, "integral non-linearity bow at mid-scale (zero at both ends of the range)", "LSB")
    inl_table: tuple = described(
        (), "measured INL per code −n … n, 2n + 1 values (empty: the bow)", "LSB")

    def __post_init__(self) -> None:
        require_range("ADCNonideality", "offset_lsb", self.offset_lsb, -1e6, 1e6)
        require_nonnegative("ADCNonideality", "offset_sigma_lsb", self.offset_sigma_lsb)
        require_range("ADCNonideality", "gain_error", self.gain_error, -0.5, 0.5)
        require_nonnegative("ADCNonideality", "gain_sigma", self.gain_sigma)
        require_range("ADCNonideality", "inl_bow_lsb", self.inl_bow_lsb, -1e6, 1e6)
        table = self.inl_table
        if not isinstance(table, (tuple, list)) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                             for v in table):
            raise ValueError(f"ADCNonideality.inl_table = {table!r}; allowed: a list of numbers (LSB per code)")
        if table and self.inl_bow_lsb:
            raise ValueError("ADCNonideality.inl_table given with inl_bow_lsb ≠ 0; allowed: one INL model")
        object.__setattr__(self, "inl_table", tuple(float(v) for v in table))

    def check_codes(self, max_code: int) -> None:
        """The table must have one value per code −n … n."""
        if self.inl_table and len(self.inl_table) != 2 * max_code + 1:
            raise ValueError(f"ADCNonideality.inl_table has {len(self.inl_table)} values; allowed: "
                             f"{2 * max_code + 1} (codes −{max_code} … {max_code} of the OutputADC)")

    def draw(self, adcs: tuple[int, ...], generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Per-ADC offset (LSB) and gain error, shape ``adcs``, from the keyed fabrication stream."""
        z = rng.normal((2, *adcs), generator)
        return {"offset": self.offset_lsb + self.offset_sigma_lsb * z[0],
                "gain": self.gain_error + self.gain_sigma * z[1]}

    def inl(self, codes: torch.Tensor, max_code: int) -> torch.Tensor:
        """INL (LSB) at integer-valued ``codes`` in [−n, n]."""
        if self.inl_table:
            table = torch.tensor(self.inl_table, dtype=codes.dtype, device=codes.device)
            return table[(codes + max_code).long()]
        return self.inl_bow_lsb * (1.0 - (codes / max_code) ** 2)

    def convert(self, y: torch.Tensor, adc, errors: dict[str, torch.Tensor]) -> torch.Tensor:
        """ADC readings Δ·(c + INL(c)) of analog values y (..., *adcs) (errors broadcast)."""
        n, delta = adc.max_code, adc.step
        g, o = errors["gain"].to(y.device), errors["offset"].to(y.device)
        codes = torch.round(y * (1.0 + g) / delta + o).clamp_(-n, n)
        return (codes + self.inl(codes, n)) * delta

"""A bit-sliced crossbar layer (hwsim.effects.bit_slicing): ``slices`` columns per output on one
physical array of n·n_out columns, recombined digitally by significance.

Composition: the physical array is an ordinary :class:`~hwsim.crossbar.device.CrossbarLayer`
(``inner``) of n_in → n·n_out columns (column o·n + i holds slice i of output o), so every slice
has its own programming-noise draw, levels, read noise and ADC, on both readout paths, and the
inner layer's events count every slice's cells and conversions; the recombination adds
n_out·(n − 1) digital shift-adds per vector. Knobs are the physical array's: conductances
(2, n·n_out, n_in) µS and its digital tile scales.
"""
from __future__ import annotations

import dataclasses


from ..effects.bit_slicing import BitSlicing
from ..trace import Event, LayerInfo, MvmEvent
from .device import CrossbarLayer
from .mapping import weights_to_conductances

from hwsim.lazy import torch

__all__ = ["BitSlicedCrossbar"]


class BitSlicedCrossbar(CrossbarLayer):
    """Oracle for one linear layer n_in → n_out whose weights span ``slices`` cell pairs."""

    def __init__(self, n_in: int, n_out: int, config=None, *, seed: int = 0, name: str = "crossbar") -> None:
        self.slicing = s = config.effect(BitSlicing)
        self.name, self.n_in, self.n_out, self.config, self.seed = name, n_in, n_out, config, seed
        inner = dataclasses.replace(config, effects=tuple(e for e in config.effects if not isinstance(e, BitSlicing)))
        self.inner = CrossbarLayer(n_in, n_out * s.slices, inner, seed=seed, name=name)
        self._c = torch.tensor(s.significances(), dtype=torch.float64)

    # the physical array answers for everything but the mapping and the recombination
    knob_spec = property(lambda self: self.inner.knob_spec)
    n_knobs = property(lambda self: self.inner.n_knobs)
    grid = property(lambda self: self.inner.grid)
    fused = property(lambda self: self.inner.fused, lambda self, v: setattr(self.inner, "fused", v))

    def info(self) -> LayerInfo:
        return dataclasses.replace(self.inner.info(), n_out=self.n_out)

    def write_counts(self) -> torch.Tensor:
        return self.inner.write_counts()

    def wear(self) -> dict[str, float]:
        return self.inner.wear()

    def _recombine(self, y: torch.Tensor) -> torch.Tensor:
        """(..., n·n_out) slice outputs → (..., n_out) = Σ_i c_i y[o·n + i]."""
        n = self.slicing.slices
        y = y.reshape(*y.shape[:-1], self.n_out, n)
        return (y.double() @ self._c.to(y.device)).to(y.dtype)

    def digital_twin(self, knobs: dict[str, torch.Tensor]) -> torch.Tensor:
        w = self.inner.digital_twin(knobs)                               # (n·n_out, n_in)
        n = self.slicing.slices
        c = self._c.to(device=w.device, dtype=w.dtype)
        return (w.reshape(self.n_out, n, self.n_in) * c[:, None]).sum(dim=1)

    def knobs_from_weight(self, weight: torch.Tensor) -> dict[str, torch.Tensor]:
        """W (n_out, n_in) → digits d_i of m = round(|w|/w_max·(2^(kn) − 1)) on each slice's pair."""
        w = torch.as_tensor(weight, dtype=torch.float64)
        if tuple(w.shape) != (self.n_out, self.n_in) or not torch.isfinite(w).all():
            raise ValueError(f"{self.name}: weight has shape {tuple(w.shape)}; allowed finite "
                             f"({self.n_out}, {self.n_in})")
        s, c, g = self.slicing, self.config, self.inner.grid
        n, k = s.slices, s.bits_per_slice
        virtual = w.repeat_interleave(n, dim=0)                          # column o·n+i carries W[o]
        _, scale = weights_to_conductances(virtual, g, c.g_min_us, c.g_max_us)
        wmax = g.expand(scale)                                           # (n·n_out, n_in)
        m = torch.round(virtual.abs() / wmax * s.full_code).clamp_(0, s.full_code).to(torch.int64)
        shift = (torch.arange(n).repeat(self.n_out) * k)[:, None]       # slice index of each column
        digit = ((m >> shift) & (2 ** k - 1)).double() / (2 ** k - 1)
        span = c.g_max_us - c.g_min_us
        g_pos = c.g_min_us + span * digit * (virtual > 0)
        g_neg = c.g_min_us + span * digit * (virtual < 0)
        return {"conductances": torch.stack([g_pos, g_neg]).float(), "tile_scale": scale.float()}

    def program(self, knobs, generator: torch.Generator | None = None):
        return self.inner.program(knobs, generator)

    def pulse(self, programmed, pulses, generator: torch.Generator | None = None):
        return self.inner.pulse(programmed, pulses, generator)

    def query(self, programmed, x: torch.Tensor, generator: torch.Generator | None = None, *,
              time_s: float | None = None) -> torch.Tensor:
        return self._recombine(self.inner.query(programmed, x, generator, time_s=time_s))

    def program_events(self, programmed) -> list[Event]:
        return self.inner.program_events(programmed)

    def query_events(self, programmed, x_shape: tuple[int, ...]) -> list[Event]:
        """The physical array's events (every slice's MACs and ADC conversions) plus the digital
        shift-adds of the recombination, n_out·(n − 1) per vector."""
        out = []
        for e in self.inner.query_events(programmed, x_shape):
            if isinstance(e, MvmEvent):
                extra = e.vectors * self.n_out * (self.slicing.slices - 1)
                e = dataclasses.replace(e, partial_sum_adds=e.partial_sum_adds + extra)
            out.append(e)
        return out

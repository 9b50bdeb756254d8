"""Memristive crossbar layer: differential conductance pairs in tiles, digital partial sums.

Query pipeline per tile (AIHWKIT IO order, devices.md §6.8):
    α = max|x| (noise management) → input DAC on [-1, 1] → analog MVM with the normalised
    tile weights (G⁺ − G⁻)/(g_max − g_min) ∈ [-1, 1] → read noise σ_w‖x_tile‖₂ξ → ADC with range
    [-out_bound, out_bound] and clipping → × tile scale × α → digital sum over tiles.

Knobs:
    conductances (2, n_out, n_in) µS in [g_min, g_max]: [0] = G⁺, [1] = G⁻.
    tile_scale   (tiles_out, tiles_in) digital weight scale w_max per tile, in [1e-6, 1e6].
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch

import numpy as np

from ..effects import rng, ziggurat
from ..effects.noise import ProgrammingNoise, ReadNoise
from ..effects.quantize import ConductanceLevels, InputDAC, OutputADC, encode_inputs
from ..effects.validate import (check_effects, find_effect, require_int, require_nonnegative,
                                require_positive)
from ..oracle import KnobSpec, Programmed, check_input, check_knobs
from ..trace import Event, LayerInfo, MvmEvent, ProgramEvent
from .kernels import readout
from .mapping import TileGrid, conductances_to_weights, weights_to_conductances

__all__ = ["CrossbarConfig", "CrossbarLayer"]

_EFFECT_TYPES = (ConductanceLevels, ProgrammingNoise, ReadNoise, InputDAC, OutputADC)
SCALE_RANGE = (1e-6, 1e6)


@dataclass(frozen=True)
class CrossbarConfig:
    """Crossbar settings. g in µS: defaults g_max = 25 µS, g_min = 0 (AIHWKIT ``pcm.py``);
    tile 512 × 512 (AIHWKIT ``StandardHWATrainingPreset`` tile rows 512, arXiv:2302.08469)."""

    EFFECT_TYPES: ClassVar[tuple[type, ...]] = _EFFECT_TYPES

    g_min_us: float = 0.0
    g_max_us: float = 25.0
    tile_rows: int = 512
    tile_cols: int = 512
    effects: tuple = field(default_factory=tuple)

    def __post_init__(self) -> None:
        require_nonnegative("CrossbarConfig", "g_min_us", self.g_min_us)
        require_positive("CrossbarConfig", "g_max_us", self.g_max_us)
        if self.g_max_us <= self.g_min_us:
            raise ValueError(f"CrossbarConfig.g_max_us = {self.g_max_us}; allowed: > g_min_us "
                             f"({self.g_min_us})")
        require_int("CrossbarConfig", "tile_rows", self.tile_rows, 1, 8192)
        require_int("CrossbarConfig", "tile_cols", self.tile_cols, 1, 8192)
        check_effects("CrossbarConfig", self.effects, _EFFECT_TYPES)

    def effect(self, kind: type):
        return find_effect(self.effects, kind)


class CrossbarLayer:
    """Oracle for one linear layer ``n_in → n_out`` on tiled memristive crossbars."""

    def __init__(self, n_in: int, n_out: int, config: CrossbarConfig | None = None, *,
                 seed: int = 0, name: str = "crossbar") -> None:
        require_int("CrossbarLayer", "n_in", n_in, 1, math.inf)
        require_int("CrossbarLayer", "n_out", n_out, 1, math.inf)
        self.name, self.n_in, self.n_out = name, n_in, n_out
        self.config = c = config or CrossbarConfig()
        self.seed = seed   # no build-time effects yet; kept for stuck-cell maps
        self.grid = TileGrid(n_in, n_out, min(c.tile_rows, n_in), min(c.tile_cols, n_out))
        self._levels, self._prog = c.effect(ConductanceLevels), c.effect(ProgrammingNoise)
        self._read, self._dac, self._adc = c.effect(ReadNoise), c.effect(InputDAC), c.effect(OutputADC)
        self._spec = {
            "conductances": KnobSpec("conductances", (2, n_out, n_in), c.g_min_us, c.g_max_us, "uS"),
            "tile_scale": KnobSpec("tile_scale", (self.grid.tiles_out, self.grid.tiles_in),
                                   SCALE_RANGE[0], SCALE_RANGE[1], "1"),
        }

    @property
    def knob_spec(self) -> dict[str, KnobSpec]:
        return self._spec

    @property
    def n_knobs(self) -> int:
        return sum(s.numel for s in self._spec.values())

    def info(self) -> LayerInfo:
        g = self.grid
        return LayerInfo(
            layer=self.name, device="crossbar", n_in=self.n_in, n_out=self.n_out,
            tile_rows=g.rows, tile_cols=g.cols, tiles=g.tiles_out * g.tiles_in, knobs=self.n_knobs,
            knob_bits=self._levels.bits if self._levels else 16,
            dac_bits=self._dac.bits if self._dac else 16, adc_bits=self._adc.bits if self._adc else 16,
            cells=2 * g.rows * g.cols)

    def digital_twin(self, knobs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Ideal weights (n_out, n_in) the knobs encode; differentiable. Baselines only."""
        c = self.config
        return conductances_to_weights(knobs["conductances"], knobs["tile_scale"], self.grid,
                                       c.g_min_us, c.g_max_us)

    def knobs_from_weight(self, weight: torch.Tensor) -> dict[str, torch.Tensor]:
        w = torch.as_tensor(weight, dtype=torch.float32)
        if tuple(w.shape) != (self.n_out, self.n_in) or not torch.isfinite(w).all():
            raise ValueError(f"{self.name}: weight has shape {tuple(w.shape)}; allowed finite "
                             f"({self.n_out}, {self.n_in})")
        g, scale = weights_to_conductances(w, self.grid, self.config.g_min_us, self.config.g_max_us)
        return {"conductances": g, "tile_scale": scale}

    def program(self, knobs, generator: torch.Generator | None = None) -> Programmed:
        """Write P settings: conductance levels, then programming noise per cell."""
        settings = check_knobs(self._spec, knobs, self.name)
        c = self.config
        with torch.no_grad():
            g = knobs["conductances"].detach().float().reshape(-1, 2, self.n_out, self.n_in)
            scale = knobs["tile_scale"].detach().float().reshape(-1, *self._spec["tile_scale"].shape)
            # own contiguous copy (never edit the caller's knob tensors), then edited in place
            g = torch.empty(settings, *g.shape[1:]).copy_(g.expand(settings, *g.shape[1:]))
            scale = scale.expand(settings, *scale.shape[1:])
            if self._levels is not None:
                self._levels.apply_(g, c.g_min_us, c.g_max_us)
            if self._prog is not None:
                self._prog.apply_(g, c.g_max_us, generator)
            w = torch.sub(g[:, 0], g[:, 1]).div_(c.g_max_us - c.g_min_us)  # (P, n_out, n_in) in [-1, 1]
            w_t = w.transpose(1, 2).contiguous()                             # (P, n_in, n_out) for bmm
        return Programmed(settings=settings, state={"w_t": w_t, "scale": scale})

    def query(self, programmed: Programmed, x: torch.Tensor,
              generator: torch.Generator | None = None) -> torch.Tensor:
        P = programmed.settings
        x = check_input(x, self.n_in, P, self.name)
        st, g = programmed.state, self.grid
        with torch.no_grad():
            x = x.detach().float()
            xn, alpha = encode_inputs(x, self._dac)
            w_t, scale = st["w_t"], st["scale"]
            out_tile = torch.arange(self.n_out) // g.cols
            B, T, n_out = xn.shape[1], g.tiles_in, self.n_out
            # Partial sums of every input tile, (T, P, B, n_out): one batched matmul per input
            # tile (the loop runs over the few input tiles, never over P).
            y = torch.empty(T, P, B, n_out)
            norms = torch.empty(T, xn.shape[0], B, 1)
            for b in range(T):
                sl = slice(b * g.rows, min((b + 1) * g.rows, self.n_in))
                torch.bmm(xn[..., sl].expand(P, B, -1), w_t[:, sl, :], out=y[b])
                norms[b] = xn[..., sl].norm(dim=-1, keepdim=True)
            factor = scale[:, out_tile, :].permute(2, 0, 1).contiguous()        # (T, P, n_out)
            if y.device.type == "cpu":
                out = torch.empty(P, B, n_out)
                seeds = rng.row_seeds(P, generator) if self._read is not None else np.zeros(P, np.uint64)
                delta, n_codes = (self._adc.step, self._adc.max_code) if self._adc else (0.0, 0)
                readout(y.numpy(), norms[..., 0].contiguous().numpy(), seeds,
                        self._read.sigma if self._read else 0.0, delta, n_codes,
                        factor.numpy(), *ziggurat.TABLES, out.numpy())
            else:   # same pipeline as tensor ops (non-CPU devices)
                if self._read is not None:
                    xi = rng.normal((P, T, B, n_out), generator, device=y.device).transpose(0, 1)
                    y.addcmul_(xi, norms, value=self._read.sigma)
                if self._adc is not None:
                    factor = factor * self._adc.quantize_(y)                    # y ← integer codes
                out = y.mul_(factor.unsqueeze(2)).sum(dim=0)                     # digital sum
            return out.mul_(alpha)

    def program_events(self, programmed: Programmed) -> list[Event]:
        P = programmed.settings
        # Cells are written row by row; every candidate setting is one full program (+ verify).
        return [ProgramEvent(layer=self.name, settings=P, knobs_written=P * self.n_knobs,
                             settles=P)]

    def query_events(self, programmed: Programmed, x_shape: tuple[int, ...]) -> list[Event]:
        P, B, g = programmed.settings, x_shape[-2], self.grid
        vec = P * B
        return [MvmEvent(layer=self.name, settings=P, vectors=vec, macs=vec * self.n_in * self.n_out,
                         dac_conversions=vec * self.n_in * g.tiles_out,
                         adc_conversions=vec * self.n_out * g.tiles_in,
                         partial_sum_adds=vec * self.n_out * (g.tiles_in - 1))]

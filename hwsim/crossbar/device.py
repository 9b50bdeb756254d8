"""Memristive crossbar layer: differential conductance pairs in tiles, digital partial sums.

A device is its effects, applied stage by stage (hwsim.effects.stages), each through its own
methods:

    fabrication  (once, from the device seed)  StuckCells, Endurance: ``fabricate`` a per-cell
                 state, ``constrain_`` every written conductance; Drift draws its exponent spread
    program      ConductanceLevels, ProgrammingNoise (``program_``), PulsedUpdate (``pulse``)
    array        IRDrop: effective conductances of each tile (``effective``)
    query        Drift and OneOverFNoise act on the conductances at the query's time since
                 programming; InputDAC (per input tile), ReadNoise and OutputNoise
                 (``output_variance``), OutputADC

Query pipeline per tile (AIHWKIT IO order, devices.md §6.8): α per input tile (abs-max or a
constant range) → input DAC on [-1, 1] → analog MVM with the effective normalised tile weights
(G⁺ − G⁻)/(g_max − g_min) → read noise + output noise → ADC with range [-out_bound, out_bound]
and clipping → × digital scale (per tile or per column) × α → digital sum over tiles
(→ × global drift compensation).

Knobs:
    conductances (2, n_out, n_in) µS in [g_min, g_max]: [0] = G⁺, [1] = G⁻.
    tile_scale   (scale_rows, tiles_in) digital weight scale w_max, scale_rows = tiles_out, or
                 n_out with ``scale_per_column``; in [1e-6, 1e6].

Programming without fabrication constraints, array-stage, pulse or time effects (e.g.
``crossbar-default``) runs in one pass on the CPU (:func:`~hwsim.crossbar.kernels.program_weights`:
levels, programming noise, differential pair and the transposed layout the query uses), equal to
the staged torch path given the same streams (tests/hwsim/test_crossbar_fused_program.py);
``layer.fused = False`` forces the staged path, which also serves other devices (CUDA).

State kept by the device (its clock and counters): every query carries ``time_s``, the time since
the queried state was programmed (default ``read_time_s``); per-cell write counts (``write_counts``, ``wear``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..effects import rng
from ..effects.adc import ADCNonideality
from ..effects.bit_slicing import BitSlicing
from ..effects.correlated import CorrelatedConductance
from ..effects.drift import Drift, OneOverFNoise
from ..effects.fabrication import fabricate_all, fabrication_generator
from ..effects.ir_drop import IRDrop
from ..effects.measured import MeasuredPulseResponse
from ..effects.noise import ProgrammingNoise, ReadNoise
from ..effects.output_noise import OutputNoise
from ..effects.pulsed import PulsedUpdate
from ..effects.quantize import ConductanceLevels, InputDAC, OutputADC
from ..effects.stages import by_stage
from ..effects.stuck import Endurance, StuckCells
from ..effects.validate import (check_adc_nonideality, check_effects, find_effect, require_int, require_nonnegative,
                                require_positive)
from ..oracle import KnobSpec, Programmed, check_input, check_knobs
from ..trace import Event, LayerInfo, MvmEvent, ProgramEvent
from .mapping import TileGrid, conductances_to_weights, weights_to_conductances
from ..meaning import described, effects_field

from hwsim.lazy import LazyModule, broadcast_shapes, torch

# numba kernels, compiled-code loading and numba itself on first use (cold start)
counting = LazyModule("hwsim.counting")
kernels = LazyModule("hwsim.crossbar.kernels")
ziggurat = LazyModule("hwsim.effects.ziggurat")

__all__ = ["CrossbarConfig", "CrossbarLayer"]

_EFFECT_TYPES = (StuckCells, Endurance, CorrelatedConductance, ConductanceLevels, ProgrammingNoise,
                 PulsedUpdate, MeasuredPulseResponse, IRDrop, Drift, OneOverFNoise, InputDAC, ReadNoise, OutputNoise, OutputADC,
                 ADCNonideality, BitSlicing)
SCALE_RANGE = (1e-6, 1e6)


@dataclass(frozen=True)
class CrossbarConfig:
    """Crossbar settings. g in µS: defaults g_max = 25 µS, g_min = 0 (AIHWKIT ``pcm.py``);
    tile 512 × 512 (AIHWKIT ``StandardHWATrainingPreset`` tile rows 512, arXiv:2302.08469).
    ``scale_per_column``: one digital scale per column and input tile (else per tile).
    ``read_time_s``: time since programming (s) of a query that carries no ``time_s``."""

    EFFECT_TYPES: ClassVar[tuple[type, ...]] = _EFFECT_TYPES

    g_min_us: float = described(0.0, "lowest programmable conductance", "µS")
    g_max_us: float = described(25.0, "highest programmable conductance", "µS")
    tile_rows: int = described(512, "inputs (rows) per crossbar tile", "rows")
    tile_cols: int = described(512, "outputs (columns) per crossbar tile", "columns")
    effects: tuple = effects_field()
    scale_per_column: bool = described(
        False, "one digital output scale per column and input tile (false: per tile)", "")
    read_time_s: float = described(
        0.0, "time since programming of a query that carries no time_s", "s")

    def __post_init__(self) -> None:
        require_nonnegative("CrossbarConfig", "g_min_us", self.g_min_us)
        require_positive("CrossbarConfig", "g_max_us", self.g_max_us)
        if self.g_max_us <= self.g_min_us:
            raise ValueError(f"CrossbarConfig.g_max_us = {self.g_max_us}; allowed: > g_min_us "
                             f"({self.g_min_us})")
        require_int("CrossbarConfig", "tile_rows", self.tile_rows, 1, 8192)
        require_int("CrossbarConfig", "tile_cols", self.tile_cols, 1, 8192)
        if not isinstance(self.scale_per_column, bool):
            raise ValueError(f"CrossbarConfig.scale_per_column = {self.scale_per_column!r}; "
                             f"allowed: true or false")
        require_nonnegative("CrossbarConfig", "read_time_s", self.read_time_s)
        check_effects("CrossbarConfig", self.effects, _EFFECT_TYPES)
        check_adc_nonideality("CrossbarConfig", self.effects)
        pulsed = [e for e in self.effects if isinstance(e, (PulsedUpdate, MeasuredPulseResponse))]
        if len(pulsed) > 1:
            raise ValueError("CrossbarConfig.effects has PulsedUpdate and MeasuredPulseResponse; "
                             "allowed: one pulse model")
        if pulsed and isinstance(pulsed[0], MeasuredPulseResponse):
            lo, hi = pulsed[0].g_range_us
            if abs(lo - self.g_min_us) > 1e-6 * hi or abs(hi - self.g_max_us) > 1e-6 * hi:
                raise ValueError(f"CrossbarConfig.g_min_us, g_max_us = {self.g_min_us}, {self.g_max_us}; "
                                 f"allowed with MeasuredPulseResponse: its curve's range {lo:g}, {hi:g} µS")

    def effect(self, kind: type):
        return find_effect(self.effects, kind)


def _normals(seeds: np.ndarray, n: int) -> torch.Tensor:
    """(P, n) standard normals, row p from its own stream seeds[p] (as ``rng.normal``)."""
    out = np.empty((len(seeds), n), dtype=np.float32)
    if out.size:
        ziggurat.fill_normal(out, seeds, *ziggurat.TABLES)
    return torch.from_numpy(out)


class CrossbarLayer:
    """Oracle for one linear layer ``n_in → n_out`` on tiled memristive crossbars. A config with
    a BitSlicing effect is built by :func:`hwsim.crossbar.kind.build_crossbar` as a
    :class:`~hwsim.crossbar.slicing.BitSlicedCrossbar` (slices on one physical array of this
    class, recombined digitally)."""

    def __init__(self, n_in: int, n_out: int, config: CrossbarConfig | None = None, *,
                 seed: int = 0, name: str = "crossbar") -> None:
        if config is not None and config.effect(BitSlicing) is not None:
            raise ValueError("CrossbarLayer: a config with a BitSlicing effect spans several cell "
                             "pairs per weight; build it with hwsim.crossbar.kind.build_crossbar")
        require_int("CrossbarLayer", "n_in", n_in, 1, math.inf)
        require_int("CrossbarLayer", "n_out", n_out, 1, math.inf)
        self.name, self.n_in, self.n_out = name, n_in, n_out
        self.config = c = config or CrossbarConfig()
        self.seed = seed
        self.grid = TileGrid(n_in, n_out, min(c.tile_rows, n_in), min(c.tile_cols, n_out),
                             per_column=c.scale_per_column)
        # fabrication constraints in pinning order: variations first, stuck and worn cells last
        self._fabrication = tuple(sorted(by_stage(c.effects, "fabrication"),
                                         key=lambda e: getattr(type(e), "pin_rank", 1)))
        self._program_stage = by_stage(c.effects, "program")
        # array effects for this tile size (IR drop: first order only where it is valid)
        self._array_stage = tuple(e.for_tile(c.g_max_us, self.grid.rows, self.grid.cols)
                                  if hasattr(e, "for_tile") else e for e in by_stage(c.effects, "array"))
        query = by_stage(c.effects, "query")
        # Query-stage roles: converters, additive output noise, conductance evolution in time.
        self._dac, self._adc = find_effect(query, InputDAC), find_effect(query, OutputADC)
        # circuit ADC errors: one ADC per output column and input tile, drawn once (keyed stream)
        self._adc_errors = None
        self._adc_nonideal = find_effect(query, ADCNonideality)
        if self._adc_nonideal is not None:
            self._adc_errors = self._adc_nonideal.draw((self.grid.tiles_in, 1, 1, n_out),
                                                       fabrication_generator(seed, self._adc_nonideal))
        self._noise = tuple(e for e in query if hasattr(e, "output_variance"))
        self._drift, self._one_over_f = find_effect(query, Drift), find_effect(query, OneOverFNoise)
        self._levels = c.effect(ConductanceLevels)
        self._pulsed = c.effect(PulsedUpdate) or c.effect(MeasuredPulseResponse)
        cells = (2, n_out, n_in)
        # one keyed stream per fabricated effect (hwsim.effects.fabrication)
        self._cell_state = fabricate_all(c.effects, seed, cells)
        self._writes = torch.zeros(cells, dtype=torch.int64)
        self._last_written: torch.Tensor | None = None
        self.last_cells_written = 0
        self.fused = True      # numba readout on CPU; False forces the plain torch path
        self._spec = {
            "conductances": KnobSpec("conductances", cells, c.g_min_us, c.g_max_us, "uS"),
            "tile_scale": KnobSpec("tile_scale", (self.grid.scale_rows, self.grid.tiles_in),
                                   SCALE_RANGE[0], SCALE_RANGE[1], "1"),
        }

    # ----------------------------------------------------------------- description
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

    # ----------------------------------------------------------------- wear
    def write_counts(self) -> torch.Tensor:
        """Writes per cell since fabrication, (2, n_out, n_in) int64: a program counts a cell when
        its target differs from the value the previous setting left there (settings are written
        one after another); every pulse of ``pulse`` counts once. Stuck cells are counted too."""
        return self._writes.clone()

    def wear(self) -> dict[str, float]:
        """Endurance summary: total and largest per-cell write count, cells worn out, and the
        largest fraction of a cell's endurance budget used (0 without an Endurance effect)."""
        budget = self._cell_state.get(Endurance)
        used = float((self._writes.double() / budget).max()) if budget is not None else 0.0
        return {"writes_total": float(self._writes.sum()), "writes_max_per_cell": float(self._writes.max()),
                "cells": float(self._writes.numel()), "cells_worn_out": float(self._worn().sum()),
                "endurance_used_max": used, "last_cells_written": float(self.last_cells_written)}

    def _worn(self) -> torch.Tensor:
        e = self.config.effect(Endurance)
        if e is None:
            return torch.zeros(self._writes.shape, dtype=torch.bool)
        return e.worn_out(self._writes, self._cell_state[Endurance])

    def _count_writes(self, g: torch.Tensor) -> None:
        """g (P, 2, n_out, n_in) targets in write order (any strides; never copied)."""
        if self._last_written is None:
            per_cell = torch.ones(g.shape[1:], dtype=torch.int64)
        else:
            per_cell = torch.ne(g[0], self._last_written.to(g.device)).to(torch.int64).cpu()
        if g.shape[0] > 1 and g.stride(0) != 0:      # a broadcast setting changes nothing
            if g.device.type == "cpu":
                flat = g.reshape(g.shape[0], -1)
                counting.count_changes(np.ascontiguousarray(flat.numpy()), per_cell.view(-1).numpy())
            else:
                per_cell += torch.ne(g[1:], g[:-1]).sum(dim=0, dtype=torch.int64).cpu()
        self._writes += per_cell
        self.last_cells_written = int(per_cell.sum())
        self._last_written = g[-1].clone()

    def _fused_program_ok(self, g: torch.Tensor) -> bool:
        """The one-pass kernel covers levels and/or programming noise (in that order) on the
        CPU, without fabrication constraints, array-stage effects, pulses or time effects."""
        kinds = [type(e) for e in self._program_stage]
        return (self.fused and g.device.type == "cpu" and not self._fabrication
                and not self._array_stage and self._pulsed is None and not self._time_dependent()
                and kinds in ([], [ConductanceLevels], [ProgrammingNoise],
                              [ConductanceLevels, ProgrammingNoise]))

    def _program_fused(self, g: torch.Tensor, settings: int, generator) -> torch.Tensor:
        """:func:`~hwsim.crossbar.kernels.program_weights`: w_t (P, n_in, n_out) in one pass."""
        c = self.config
        levels = 2 ** self._levels.bits if self._levels is not None else 0
        noise = c.effect(ProgrammingNoise)
        a2, a1, a0 = noise.coefficients_us(c.g_max_us) if noise is not None else (0.0, 0.0, 0.0)
        seeds = rng.row_seeds(settings, generator) if noise is not None else np.zeros(settings, np.uint64)
        src = g[:1] if g.shape[0] == 1 or g.stride(0) == 0 else g   # one shared setting: read once
        w_t = torch.empty(settings, self.n_in, self.n_out)
        kernels.program_weights(np.ascontiguousarray(src.numpy()), levels, float(c.g_min_us), float(c.g_max_us),
                        noise is not None, float(a2), float(a1), float(a0), seeds, *ziggurat.TABLES,
                        w_t.numpy())
        return w_t

    # ----------------------------------------------------------------- program
    def _constrain_(self, g: torch.Tensor, *, written: bool = False) -> torch.Tensor:
        """Fabrication-stage effects: on a written target (``written``) the static device
        variations (pin_rank 0, e.g. CorrelatedConductance) act once; then every state is pinned
        where a write cannot change it (stuck, worn-out cells)."""
        c = self.config
        for e in self._fabrication:
            if not written and getattr(type(e), "pin_rank", 1) == 0:
                continue
            state = self._worn() if isinstance(e, Endurance) else self._cell_state[type(e)]
            state = state.to(g.device)      # fabricated on the CPU; the device follows the knobs
            e.constrain_(g, state, c.g_min_us, c.g_max_us)
        return g

    def _array(self, g: torch.Tensor) -> torch.Tensor:
        """Array stage: (P, 2, n_out, n_in) µS → effective normalised weights transposed
        (P, n_in, n_out) in [-1, 1] (before IR drop) for the batched matmuls."""
        c, gr = self.config, self.grid
        if self._array_stage:
            g = g.clone()
            for a in range(gr.tiles_out):
                o = slice(a * gr.cols, min((a + 1) * gr.cols, self.n_out))
                for b in range(gr.tiles_in):
                    i = slice(b * gr.rows, min((b + 1) * gr.rows, self.n_in))
                    for e in self._array_stage:
                        g[..., o, i] = e.effective(g[..., o, i])
        w = torch.sub(g[:, 0], g[:, 1]).div_(c.g_max_us - c.g_min_us)
        return w.transpose(1, 2).contiguous()

    def _time_dependent(self) -> bool:
        return self._drift is not None or self._one_over_f is not None

    def _programmed(self, g: torch.Tensor, scale: torch.Tensor, target: torch.Tensor) -> Programmed:
        c = self.config
        w_t = self._array(g)
        state = {"w_t": w_t, "scale": scale}
        if self._time_dependent():
            state.update(g=g, target=target)
            if self._drift is not None:
                state["nu"] = self._drift.exponents(target, c.g_max_us, self._cell_state[Drift].to(target.device))
        elif self._pulsed is not None:
            state["g"] = g
        return Programmed(settings=g.shape[0], state=state)

    def program(self, knobs, generator: torch.Generator | None = None) -> Programmed:
        """Write P settings: the program-stage effects in order (levels, programming noise per
        cell), then fabrication constraints (stuck and worn-out cells); counts the writes."""
        settings = check_knobs(self._spec, knobs, self.name)
        c = self.config
        with torch.no_grad():
            g = knobs["conductances"].detach().float().reshape(-1, *self._spec["conductances"].shape)
            scale = knobs["tile_scale"].detach().float().reshape(-1, *self._spec["tile_scale"].shape)
            if self._fused_program_ok(g):
                self._count_writes(g.expand(settings, *g.shape[1:]))
                w_t = self._program_fused(g, settings, generator)
                return Programmed(settings=settings, state={
                    "w_t": w_t, "scale": scale.expand(settings, *scale.shape[1:])})
            # own contiguous copy (never edit the caller's knob tensors), then edited in place
            g = torch.empty(settings, *g.shape[1:], device=g.device).copy_(g.expand(settings, *g.shape[1:]))
            scale = scale.expand(settings, *scale.shape[1:])
            self._count_writes(g)
            target = g.clone() if self._time_dependent() else g
            for e in self._program_stage:
                e.program_(g, c.g_min_us, c.g_max_us, generator)
            self._constrain_(g, written=True)
            return self._programmed(g, scale, target)

    def pulse(self, programmed: Programmed, pulses: torch.Tensor,
              generator: torch.Generator | None = None) -> Programmed:
        """In-situ update: apply signed pulse counts per cell, (2, n_out, n_in) or (P, 2, n_out,
        n_in) integers, to a programmed state through the PulsedUpdate effect. Returns the new
        state (its clock restarts: time since programming 0). Every pulse counts as a write."""
        if self._pulsed is None:
            raise ValueError(f"{self.name}: pulse() needs a PulsedUpdate or MeasuredPulseResponse effect; allowed effects now: "
                             f"{[type(e).__name__ for e in self.config.effects]}")
        P, c = programmed.settings, self.config
        shape = self._spec["conductances"].shape
        if not isinstance(pulses, torch.Tensor) or tuple(pulses.shape[-3:]) != shape or \
                pulses.dim() not in (3, 4) or (pulses.dim() == 4 and pulses.shape[0] not in (1, P)) or \
                pulses.is_floating_point() or pulses.is_complex():
            raise ValueError(f"{self.name}: pulses must be an integer tensor of shape {shape} or "
                             f"(P, *{shape}) with P in (1, {P})")
        with torch.no_grad():
            st = programmed.state
            g = st["g"].clone()
            n = pulses.reshape(-1, *shape).expand(P, *shape)
            self._pulsed.apply_pulses_(g, n, c.g_min_us, c.g_max_us, generator,
                                       state=self._cell_state.get(type(self._pulsed)))
            self._writes += n.abs().sum(dim=0)
            self.last_cells_written = int((n != 0).sum())
            self._constrain_(g)
            return self._programmed(g, st["scale"], g.clone())

    # ----------------------------------------------------------------- query
    def _encode(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Per input tile: α (abs-max of the tile's inputs, or the DAC's constant range) and the
        DAC-quantised x/α. Returns the tile inputs and α (T, Px, B)."""
        g, dac = self.grid, self._dac
        parts, alphas = [], []
        for b in range(g.tiles_in):
            xb = x[..., b * g.rows:min((b + 1) * g.rows, self.n_in)]
            if dac is not None and dac.full_scale is not None:
                a = torch.full((*xb.shape[:-1], 1), dac.full_scale, dtype=x.dtype).to(x.device)
            else:
                a = xb.abs().amax(dim=-1, keepdim=True).clamp_min(1e-30)
            xn = (xb / a).clamp_(-1.0, 1.0)
            parts.append(dac(xn) if dac is not None else xn)
            alphas.append(a[..., 0])
        return parts, torch.stack(alphas)

    def _conductances_at(self, st, t_s: float, z_cells: torch.Tensor | None) -> torch.Tensor:
        """Query stage on the cells: drift and accumulated 1/f noise at time t_s since programming."""
        c = self.config
        g = st["g"].clone()
        if self._drift is not None:
            g = self._drift.conductances_at(g, st["nu"], t_s)
        if z_cells is not None:
            self._one_over_f.add_(g, st["target"], c.g_max_us, t_s, z_cells.reshape(g.shape))
        return self._constrain_(g.clamp_(min=0.0))

    def _probe(self, w_t: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        """Σ_o |y_o| for the all-ones probe, noise-free, per setting (P,)."""
        w = w_t.transpose(1, 2) * self.grid.expand(scale)
        return w.sum(dim=-1).abs().sum(dim=-1)

    def query(self, programmed: Programmed, x: torch.Tensor,
              generator: torch.Generator | None = None, *, time_s: float | None = None) -> torch.Tensor:
        """Read P programmed settings with inputs x (B, n_in) or (P, B, n_in) → (P, B, n_out).
        ``time_s``: time since the state was programmed (s, ≥ 0; default ``config.read_time_s``)
        for drift and 1/f noise."""
        P = programmed.settings
        x = check_input(x, self.n_in, P, self.name)
        t = self.config.read_time_s if time_s is None else require_nonnegative(self.name, "time_s", time_s)
        st, g = programmed.state, self.grid
        with torch.no_grad():
            x = x.detach().float()
            T, B, n_out = g.tiles_in, x.shape[1], self.n_out
            one_f = self._one_over_f is not None and self._one_over_f.active(t)
            cells = 2 * self.n_out * self.n_in if one_f else 0
            noisy = bool(self._noise)
            seeds = rng.row_seeds(P, generator) if (noisy or one_f) else np.zeros(P, np.uint64)
            w_t, comp = st["w_t"], None
            z = None
            if one_f or (noisy and not self._use_fused(x)):
                z = _normals(seeds, cells + (T * B * n_out if noisy else 0)).to(x.device)
            if (self._drift is not None and t > 0) or one_f:     # drift is 1 at t = 0
                w_t = self._array(self._conductances_at(st, t, z[:, :cells] if one_f else None))
                if self._drift is not None and self._drift.compensation == "global":
                    comp = (self._probe(st["w_t"], st["scale"])
                            / self._probe(w_t, st["scale"]).clamp_min(1e-30)).reshape(P, 1, 1)
            parts, alpha = self._encode(x)
            factor = st["scale"][:, g.output_group(), :].permute(2, 0, 1)     # (T, P, n_out)
            if self._use_fused(x) and not one_f:
                out = self._readout_fused(st, w_t, parts, alpha, factor, seeds, noisy)
                return out.mul_(comp) if comp is not None else out
            # The same pipeline as tensor ops (reference path; non-CPU devices; 1/f noise).
            # Partial sums of every input tile, (T, P, B, n_out): one batched matmul per input
            # tile (the loop runs over the few input tiles, never over P).
            y = torch.empty(T, P, B, n_out, device=x.device)
            var = []
            for b, xb in enumerate(parts):
                torch.bmm(xb.expand(P, B, -1), self._tile_weights(w_t, b), out=y[b])
                if noisy:
                    v = self._tile_variance(xb, self._abs_weights(st, w_t, b))
                    var.append(v.expand(v.shape[0], B, v.shape[2]))
            if noisy:
                xi = z[:, cells:].reshape(P, T, B, n_out).transpose(0, 1)
                y.addcmul_(xi, torch.stack(var).sqrt_())
            if self._adc_nonideal is not None:                                 # circuit ADCs
                y = self._adc_nonideal.convert(y, self._adc, self._adc_errors)
            elif self._adc is not None:
                factor = factor * self._adc.quantize_(y)                      # y ← integer codes
            out = y.mul_(factor.unsqueeze(2)).mul_(alpha.unsqueeze(-1)).sum(dim=0)   # digital sum
            return out.mul_(comp) if comp is not None else out

    def _tile_weights(self, w_t: torch.Tensor, b: int) -> torch.Tensor:
        g = self.grid
        return w_t[:, b * g.rows:min((b + 1) * g.rows, self.n_in), :]

    def _tile_variance(self, xb: torch.Tensor, w_abs: torch.Tensor) -> torch.Tensor:
        """Σ of the query-stage noise variances of one input tile, in the effects' order (as
        ``sum``), in place on the first one when it already has the full broadcast shape
        (``output_variance`` returns a fresh tensor, never a cached one)."""
        v = None
        for e in self._noise:
            ve = e.output_variance(xb, w_abs)
            if v is None:
                v = ve
            elif broadcast_shapes(v.shape, ve.shape) == v.shape and v._base is None:
                v = v.add_(ve)
            else:
                v = v + ve
        return v

    def _readout_fused(self, st, w_t, parts, alpha, factor, seeds, noisy: bool) -> torch.Tensor:
        """CPU readout tile by tile (:func:`~hwsim.crossbar.kernels.readout_tile`): one reused
        partial-sum buffer (P, B, n_out), the noise variance of the tile straight from its
        effects (std taken in the kernel), the streams carried from tile to tile — so neither
        the (T, P, B, n_out) partial sums nor the stacked stds are ever formed."""
        P, B, n_out = st["w_t"].shape[0], parts[0].shape[-2], self.n_out
        states = ziggurat.seed_states(seeds)
        delta, n_codes = (self._adc.step, self._adc.max_code) if self._adc else (0.0, 0)
        y = torch.empty(P, B, n_out)
        out = torch.empty(P, B, n_out)
        none = torch.zeros(1, 1, 1)
        for b, xb in enumerate(parts):
            torch.bmm(xb.expand(P, B, -1), self._tile_weights(w_t, b), out=y)
            var = self._tile_variance(xb, self._abs_weights(st, w_t, b)) if noisy else none
            kernels.readout_tile(y.numpy(), np.ascontiguousarray(var.numpy()), states, noisy, delta, n_codes,
                         np.ascontiguousarray(factor[b].numpy()), np.ascontiguousarray(alpha[b].numpy()),
                         b == 0, *ziggurat.TABLES, out.numpy())
        return out

    def _abs_weights(self, st, w_t: torch.Tensor, b: int) -> torch.Tensor:
        """|w|ᵀ of input tile b (for PCM_READ), cached in the programmed state for its static weights."""
        g = self.grid
        sl = slice(b * g.rows, min((b + 1) * g.rows, self.n_in))
        dtypes = [e.weight_dtype(w_t.device, w_t.dtype) for e in self._noise if hasattr(e, "weight_dtype")]
        dt = dtypes[0] if dtypes else w_t.dtype
        if w_t is not st["w_t"]:
            return w_t[:, sl, :].abs().to(dt)
        cache = st.setdefault("w_abs_t", {})
        if b not in cache:
            cache[b] = w_t[:, sl, :].abs().to(dt)
        return cache[b]

    def _use_fused(self, x: torch.Tensor) -> bool:
        """The numba readout (ideal ADC only) on the CPU; circuit ADC errors take the torch path."""
        return self.fused and x.device.type == "cpu" and self._adc_nonideal is None

    # ----------------------------------------------------------------- trace
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

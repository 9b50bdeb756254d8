"""Devices built from measured data: a table of conductance-vs-pulse curves (crossbar cells) or
of phase-vs-voltage (thermo-optic shifters) with per-device spreads, instead of a preset law
(aihwkit issues #237, #394 and NeuroSim issue #6 ask for it; CrossSim v2.0 builds lookup tables
dG(G) from pulse data, ``examples/lookup_table_generation``; devices.md §6.10).

Table files (read as data only: ``tomllib`` or the ``csv`` module, never executed):

* TOML ``kind = "conductance_vs_pulse"``: ``[curve] pulse``, ``conductance_up_us`` (conductance
  after p potentiating pulses from the low end), ``conductance_down_us`` (after p depressing
  pulses from the high end), ``[spread] device_to_device_rel``, ``cycle_to_cycle_rel``;
  TOML ``kind = "phase_vs_voltage"``: ``[curve] voltage_v``, ``phase_rad``, ``[spread]
  device_to_device_rel``.
* CSV with a header naming the same curve columns (``pulse,conductance_up_us,conductance_down_us``
  or ``voltage_v,phase_rad``); ``#`` lines are comments; spreads then come from the effect's
  fields (which override a TOML table's spreads whenever they are set).

Examples: ``examples/devices/pcm-like-pulse-curve.toml`` and
``examples/devices/thermo-optic-phase-curve.csv`` (generated from published models, labelled so).
Relative paths resolve against the working directory, then the project root.
"""
from __future__ import annotations

import csv
import functools
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar


from . import rng
from .validate import require_bits, require_nonnegative
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["MeasuredPulseResponse", "MeasuredPhaseResponse", "load_curve_table"]

_ROOT = Path(__file__).resolve().parents[2]
_COLUMNS = {"conductance_vs_pulse": ("pulse", "conductance_up_us", "conductance_down_us"),
            "phase_vs_voltage": ("voltage_v", "phase_rad")}


def _resolve(owner: str, path: str) -> Path:
    if not isinstance(path, str) or not path:
        raise ValueError(f"{owner}.table = {path!r}; allowed: the path of a .toml or .csv table")
    p = Path(path)
    for cand in (p, _ROOT / p) if not p.is_absolute() else (p,):
        if cand.is_file():
            return cand
    raise ValueError(f"{owner}.table = {path!r}: no such file; allowed: a .toml or .csv table "
                     f"(relative to the working directory or the project root)")


def load_curve_table(owner: str, path: str, kind: str) -> tuple[dict[str, list[float]], dict[str, float]]:
    """(curve columns, spreads) of a measured table; every error names the file and what is wrong."""
    file = _resolve(owner, path)
    cols, spreads = _COLUMNS[kind], {}
    if file.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(file.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{owner}.table = {path!r}: not valid TOML ({err})") from None
        if data.get("kind") != kind:
            raise ValueError(f"{owner}.table = {path!r}: kind = {data.get('kind')!r}; allowed: {kind!r}")
        curve, spreads = data.get("curve", {}), dict(data.get("spread", {}))
    elif file.suffix.lower() == ".csv":
        lines = [ln for ln in file.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        rows = list(csv.reader(lines))
        header, body = [h.strip() for h in rows[0]], rows[1:]
        curve = {h: [r[i] for r in body] for i, h in enumerate(header)}
    else:
        raise ValueError(f"{owner}.table = {path!r}; allowed: a .toml or .csv file")
    out = {}
    for c in cols:
        if c not in curve:
            raise ValueError(f"{owner}.table = {path!r}: column {c!r} missing; allowed columns: {', '.join(cols)}")
        try:
            vals = [float(v) for v in curve[c]]
        except (TypeError, ValueError):
            raise ValueError(f"{owner}.table = {path!r}: column {c!r} has a non-number; allowed: numbers") from None
        if len(vals) < 2 or not all(math.isfinite(v) for v in vals):
            raise ValueError(f"{owner}.table = {path!r}: column {c!r} needs ≥ 2 finite numbers")
        out[c] = vals
    if len({len(v) for v in out.values()}) != 1:
        raise ValueError(f"{owner}.table = {path!r}: columns {', '.join(cols)} differ in length; allowed: equal")
    for c, vals in out.items():
        if c != cols[0] and c.endswith("down_us"):
            ok = all(b < a for a, b in zip(vals, vals[1:]))
        else:
            ok = all(b > a for a, b in zip(vals, vals[1:]))
        if not ok:
            raise ValueError(f"{owner}.table = {path!r}: column {c!r} is not strictly monotonic; "
                             f"allowed: increasing (decreasing for the depression curve)")
    return out, {k: float(v) for k, v in spreads.items()}


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation of (xp, fp) at x (xp increasing), clamped at the ends."""
    x = x.clamp(float(xp[0]), float(xp[-1]))
    i = torch.searchsorted(xp, x.contiguous(), right=True).clamp_(1, xp.numel() - 1)
    x0, x1, f0, f1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
    return f0 + (f1 - f0) * (x - x0) / (x1 - x0)


@functools.lru_cache(maxsize=32)
def _cached(owner: str, path: str, kind: str, mtime_ns: int):
    curve, spreads = load_curve_table(owner, path, kind)
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in curve.items()}, spreads


def _table(owner: str, path: str, kind: str):
    """(curve tensors, spreads) of a table, read once per file version (the effect keeps no
    state of its own: its fields are its parameters)."""
    return _cached(owner, path, kind, _resolve(owner, path).stat().st_mtime_ns)


def _spread(owner, table_spreads: dict, name: str, override) -> float:
    v = table_spreads.get(name, 0.0) if override is None else override
    return require_nonnegative(owner, name, v)


@dataclass(frozen=True)
class MeasuredPulseResponse:
    """Crossbar cells follow a measured conductance-vs-pulse curve (program stage, ``pulse``).

    A pulse of direction d at conductance g moves the cell along that direction's curve:
    p* = curve_d⁻¹(g), Δg = (curve_d(p* + 1) − curve_d(p*))·f_i·(1 + σ_c2c ξ), f_i = 1 +
    σ_d2d z_i per cell (drawn once, keyed stream), then clip to [g_min, g_max]. Noise-free, p
    pulses from the curve's start land exactly on its p-th point. The curves' range must match
    the device's [g_min_us, g_max_us] (:func:`crossbar_config_from_table` builds that device).
    """

    stage: ClassVar[str] = "program"

    table: str = described(
        "examples/devices/pcm-like-pulse-curve.toml",
        "file of the measured conductance-vs-pulse curves", "")
    device_to_device_rel: float | None = described(
        None, "relative spread of each cell's step (None: the table's [spread] value)", "1")
    cycle_to_cycle_rel: float | None = described(
        None, "relative noise of each pulse's step (None: the table's [spread] value)", "1")

    def __post_init__(self) -> None:
        self._d2d, self._c2c          # loads and checks the table and the spreads now

    @property
    def _curve(self) -> dict[str, torch.Tensor]:
        return _table("MeasuredPulseResponse", self.table, "conductance_vs_pulse")[0]

    @property
    def _d2d(self) -> float:
        spreads = _table("MeasuredPulseResponse", self.table, "conductance_vs_pulse")[1]
        return _spread("MeasuredPulseResponse", spreads, "device_to_device_rel", self.device_to_device_rel)

    @property
    def _c2c(self) -> float:
        spreads = _table("MeasuredPulseResponse", self.table, "conductance_vs_pulse")[1]
        return _spread("MeasuredPulseResponse", spreads, "cycle_to_cycle_rel", self.cycle_to_cycle_rel)

    @property
    def g_range_us(self) -> tuple[float, float]:
        up = self._curve["conductance_up_us"]
        return float(up[0]), float(up[-1])

    def fabricate(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """Per-cell step factor f_i = 1 + σ_d2d z_i (clamped ≥ 0)."""
        return (1.0 + self._d2d * rng.normal((1, *shape), generator, dtype=torch.float64)[0]).clamp_(min=0.0)

    def program_(self, g, g_min, g_max, generator):
        """A target write is program-and-verify (exact); pulses act only through ``apply_pulses_``."""
        return g

    def step(self, g: torch.Tensor, up: bool) -> torch.Tensor:
        """Noise-free Δg (µS) of one pulse at conductance g along the up or down curve."""
        p, c = self._curve["pulse"], self._curve["conductance_up_us" if up else "conductance_down_us"]
        gd = g.double()
        if up:
            ps = _interp(gd, c, p)
        else:                                   # decreasing curve: interpolate on the flipped one
            ps = _interp(gd, c.flip(0), p.flip(0))
        return (_interp(ps + 1.0, p, c) - _interp(ps, p, c)).to(g.dtype)

    def apply_pulses_(self, g: torch.Tensor, pulses: torch.Tensor, g_min: float, g_max: float,
                      generator: torch.Generator | None, state: torch.Tensor | None = None) -> torch.Tensor:
        """g (P, ...) µS ← after |pulses| pulses of sign(pulses) per cell, in place; ``state``:
        the per-cell factors from :meth:`fabricate` (None: 1). Loops over the pulse index only."""
        left = pulses.abs().to(torch.int64)
        up = pulses > 0
        f = None if state is None else state.to(device=g.device, dtype=g.dtype)
        for _ in range(int(left.max()) if left.numel() else 0):
            active = left > 0
            step = torch.where(up, self.step(g, True), self.step(g, False))
            if f is not None:
                step = step * f
            if self._c2c > 0:
                step = step * (1 + self._c2c * rng.normal(tuple(g.shape), generator, dtype=g.dtype))
            g.add_(step * active).clamp_(g_min, g_max)
            left -= active.to(left.dtype)
        return g


@dataclass(frozen=True)
class MeasuredPhaseResponse:
    """Phase shifters follow a measured phase-vs-voltage curve, driven by a ``bits`` voltage DAC
    over the curve's voltage range (program stage; replaces ThermoOpticDAC and GammaSpread):

        V* = curve⁻¹(φ_target mod 2π),  V = ΔV·round(V*/ΔV),  ΔV = V_last/(2^b − 1),
        φ = curve(V)·(1 + σ_d2d z_i)   (per-shifter efficiency spread, drawn once, keyed stream).

    Σ targets in [0, π] are clamped, not wrapped (as ThermoOpticDAC). The curve must reach 2π.
    """

    stage: ClassVar[str] = "program"
    chain_rank: ClassVar[int] = 0          # the DAC end of the phase chain (devices.md §5.1)

    table: str = described(
        "examples/devices/thermo-optic-phase-curve.csv",
        "file of the measured phase-vs-voltage curve", "")
    bits: int = described(8, "resolution of the voltage DAC over the curve's voltage range", "bits")
    device_to_device_rel: float | None = described(
        None, "relative spread of each shifter's efficiency (None: the table's [spread] value)",
        "1")

    def __post_init__(self) -> None:
        require_bits("MeasuredPhaseResponse", "bits", self.bits)
        curve = self._curve
        if float(curve["phase_rad"][-1]) < 2 * math.pi - 1e-6 or float(curve["voltage_v"][0]) < 0:
            raise ValueError(f"MeasuredPhaseResponse.table = {self.table!r}: phases reach "
                             f"{float(curve['phase_rad'][-1]):.4g} rad; allowed: a curve from V ≥ 0 reaching 2π")
        self._d2d

    @property
    def _curve(self) -> dict[str, torch.Tensor]:
        return _table("MeasuredPhaseResponse", self.table, "phase_vs_voltage")[0]

    @property
    def _d2d(self) -> float:
        spreads = _table("MeasuredPhaseResponse", self.table, "phase_vs_voltage")[1]
        return _spread("MeasuredPhaseResponse", spreads, "device_to_device_rel", self.device_to_device_rel)

    @property
    def step_v(self) -> float:
        return float(self._curve["voltage_v"][-1]) / (2 ** self.bits - 1)

    def voltage(self, phi: torch.Tensor, wrap: bool = True) -> torch.Tensor:
        v, p = self._curve["voltage_v"], self._curve["phase_rad"]
        phi = torch.remainder(phi.double(), 2 * math.pi) if wrap else phi.double().clamp_min(0.0)
        vs = _interp(phi, p, v)
        return torch.round(vs / self.step_v).clamp_(0, 2 ** self.bits - 1) * self.step_v

    def phase(self, v: torch.Tensor) -> torch.Tensor:
        return _interp(v, self._curve["voltage_v"], self._curve["phase_rad"])

    def fabricate(self, layout, generator: torch.Generator) -> dict[str, torch.Tensor]:
        def ratio(shape):
            return 1.0 + self._d2d * rng.normal((1, *shape), generator)[0]
        return {"mesh": ratio(layout.mesh_shape), "sigma": ratio(layout.sigma_shape)}

    def program_phases(self, mesh, sigma, layout, fab):
        m = self.phase(self.voltage(mesh)).to(mesh.dtype)
        s = self.phase(self.voltage(sigma.clamp(0.0, math.pi), wrap=False)).to(sigma.dtype)
        if fab is not None:
            m, s = m * fab["mesh"], s * fab["sigma"]
        return m, s

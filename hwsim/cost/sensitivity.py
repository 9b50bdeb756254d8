"""One-at-a-time (tornado) sensitivity of priced ratios to the spec parameters that matter.

Each parameter moves alone from its nominal value to its low and high ends (the spec's own
low / high levels, ``spec._PHOTONIC_RANGE`` / ``_CROSSBAR_RANGE``, or a GPU's idle band) while
every other value stays nominal; the ratios (device / GPU energy, ...) are re-priced at both
ends. Movers are ranked by their swing, max/min of the two ratios (a factor: ratios span
decades). For the top mover of each ratio the **break-even** value (ratio = 1) is searched
over a wide domain around the range (log grid, then bisection): "the mesh matches the H100 at
P_π ≈ … mW". A ratio that stays on one side of 1 has no break-even in that domain (None).

``evaluate(overrides) -> {ratio name: value}`` is supplied by the caller (it knows the run):
``overrides`` are spec-file sections (``{"mzi": {...}, "crossbar": {...}, "gpu": {name: {...}}}``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from .spec import GPU_PRESETS, SENSITIVITY_FIELDS, SPEC_RANGES, spec_from_mapping

__all__ = ["Param", "Mover", "default_params", "tornado", "break_even", "format_tornado"]

Evaluate = Callable[[Mapping], Mapping[str, float]]


@dataclass(frozen=True)
class Param:
    """One spec parameter moved alone: ``targets`` are (section, field) pairs set together
    (section ``"mzi"``, ``"crossbar"`` or ``"gpu.<name>"``); values in the field's unit."""

    label: str
    unit: str
    targets: tuple[tuple[str, str], ...]
    nominal: float
    low: float
    high: float
    domain: tuple[float, float] = (0.0, math.inf)   # allowed values (break-even search)

    def overrides(self, value: float) -> dict:
        out: dict = {}
        for section, name in self.targets:
            if section.startswith("gpu."):
                out.setdefault("gpu", {}).setdefault(section[4:], {})[name] = value
            else:
                out.setdefault(section, {})[name] = value
        return out


@dataclass(frozen=True)
class Mover:
    """A parameter's effect on one ratio: the ratio at its low and high ends and the swing
    (max/min of the two, ≥ 1)."""

    param: Param
    ratio_nominal: float
    ratio_low: float
    ratio_high: float

    @property
    def swing(self) -> float:
        a, b = self.ratio_low, self.ratio_high
        if not (a > 0 and b > 0):
            return math.nan
        return max(a, b) / min(a, b)


def default_params(sections: Sequence[str] = tuple(SENSITIVITY_FIELDS),
                   gpus: Sequence[str] = ()) -> list[Param]:
    """The parameters that matter for the cost ``sections`` in use (``SENSITIVITY_FIELDS``;
    each moved over its section's own low / high range) and the idle power of each GPU in
    ``gpus`` (its band; an assumed idle figure has one), plus the host floor (one host for
    every row: device and GPU rows pay the same, so it moves every section's value)."""
    out: list[Param] = []
    nominal = spec_from_mapping("nominal")
    for section in sections:
        spec = nominal[section]
        for label, unit, name, dom, rng in SENSITIVITY_FIELDS.get(section, ()):
            lo, hi = rng or SPEC_RANGES[section][name]
            out.append(Param(label, unit, ((section, name),), getattr(spec, name), lo, hi, dom))
    host_sections = tuple((sec, "p_host_static_w") for sec in SENSITIVITY_FIELDS)
    first = next(iter(SENSITIVITY_FIELDS))
    lo, hi = SPEC_RANGES[first]["p_host_static_w"]
    out.append(Param("host power", "W", host_sections, nominal[first].p_host_static_w, lo, hi,
                     (0.0, 1e4)))
    for name in gpus:
        g = GPU_PRESETS[name]
        if g.p_idle_at("low") != g.p_idle_at("high"):
            out.append(Param(f"GPU idle power ({name})", "W", ((f"gpu.{name}", "p_idle_w"),),
                             g.p_idle_w, g.p_idle_at("low"), g.p_idle_at("high"),
                             (0.0, g.tdp_w)))
    return out


def tornado(evaluate: Evaluate, params: Sequence[Param]) -> dict[str, list[Mover]]:
    """Ratio name → movers, largest swing first (parameters that do not move it are left out)."""
    base = dict(evaluate({}))
    ends = [(p, evaluate(p.overrides(p.low)), evaluate(p.overrides(p.high))) for p in params]
    out: dict[str, list[Mover]] = {}
    for name, nominal in base.items():
        movers = [Mover(p, nominal, lo.get(name, math.nan), hi.get(name, math.nan))
                  for p, lo, hi in ends]
        movers = [m for m in movers if m.swing == m.swing and m.swing > 1 + 1e-9]
        out[name] = sorted(movers, key=lambda m: -m.swing)
    return out


def break_even(evaluate: Evaluate, name: str, param: Param, target: float = 1.0,
               points: int = 25) -> float | None:
    """Value of ``param`` (others nominal) where ratio ``name`` equals ``target``: a log grid
    over the parameter's domain around its range (1000× beyond each end), then bisection on
    the first sign change nearest the nominal value; None when the ratio never crosses."""
    lo_d, hi_d = param.domain
    a = max(min(param.low, param.high, param.nominal) / 1000.0, lo_d, 1e-12)
    b = min(max(param.low, param.high, param.nominal) * 1000.0, hi_d)
    if not a < b:
        return None
    xs = [a * (b / a) ** (i / (points - 1)) for i in range(points)]
    if param.nominal > 0 and a < param.nominal < b:
        xs = sorted(set(xs + [param.nominal]))

    def f(x: float) -> float:
        r = evaluate(param.overrides(x)).get(name, math.nan)
        return math.log(r / target) if r and r > 0 else math.nan

    fs = [f(x) for x in xs]
    crossings = [(xs[i], xs[i + 1], fs[i], fs[i + 1]) for i in range(len(xs) - 1)
                 if fs[i] == fs[i] and fs[i + 1] == fs[i + 1] and fs[i] * fs[i + 1] <= 0]
    if not crossings:
        return None
    x0, x1, f0, f1 = min(crossings, key=lambda c: abs(math.log(c[0] / param.nominal))
                         if param.nominal > 0 else 0.0)
    for _ in range(40):
        xm = math.sqrt(x0 * x1)
        fm = f(xm)
        if fm != fm:
            break
        if f0 * fm <= 0:
            x1, f1 = xm, fm
        else:
            x0, f0 = xm, fm
    return math.sqrt(x0 * x1)


def _v(x: float, unit: str) -> str:
    return f"{x:.3g}" + (f" {unit}" if unit else "")


def format_tornado(result: Mapping[str, Sequence[Mover]], *, top: int = 5,
                   break_evens: Mapping[str, float | None] | None = None) -> str:
    """Top ``top`` movers of each ratio (low end → high end of each parameter), with the
    break-even value of the top mover where given."""
    lines = [f"Sensitivity (one at a time, others nominal): top {top} movers of each ratio; "
             "ratio at the parameter's low end → high end"]
    for name, movers in result.items():
        if not movers:
            continue
        lines.append(f"{name}: nominal {movers[0].ratio_nominal:.3g}×")
        for m in movers[:top]:
            p = m.param
            lines.append(f"  {p.label:<32} {_v(p.low, p.unit):>10} → {_v(p.high, p.unit):<10} "
                         f"{m.ratio_low:.3g}× → {m.ratio_high:.3g}×  (swing {m.swing:.3g})")
        if break_evens is not None and name in break_evens:
            be, p = break_evens[name], movers[0].param
            lines.append(f"  break-even (ratio = 1) at {p.label} = {_v(be, p.unit)}"
                         if be is not None else
                         f"  no break-even for {p.label} within its domain")
    return "\n".join(lines)

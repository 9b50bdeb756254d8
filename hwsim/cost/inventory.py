"""The chip a priced step implies: what has to exist, and what it draws while it holds a setting.

From a step summary and the specs, per described layer and in total: tiles, MZIs, phase
shifters, memory cells, the mean heater power holding the traced phases, the laser's electrical
power, and the converters (input DAC channels, phase/program DACs, ADCs, photodiodes + TIAs).
Area is estimated only where the spec gives a density; the shipped specs give none, so the
area column says so instead of inventing one.
"""
from __future__ import annotations

import math
from typing import Mapping

from .analytic import (SpecArg, adc_count, count_phase_shifters, plan_layers, price_layers,
                       resolve_specs)
from .spec import PhotonicCostSpec

__all__ = ["INVENTORY_FIELDS", "chip_inventory", "format_inventory"]

INVENTORY_FIELDS = ("tiles", "mzis", "phase_shifters", "cells", "heater_w", "laser_w",
                    "input_dacs", "knob_dacs", "adcs", "photodiodes")


def chip_inventory(summary: Mapping[str, float], spec_by_device: SpecArg
                   ) -> dict[str, dict[str, float]]:
    """Layer name → inventory (``INVENTORY_FIELDS``), plus ``"total"``."""
    specs = resolve_specs(spec_by_device)
    plan, _ = plan_layers(summary, specs)
    reports = price_layers(summary, specs)
    out: dict[str, dict[str, float]] = {}
    for layer, spec, _t in plan:
        if spec is None:
            continue
        g = lambda name: float(summary.get(f"{layer}.info.{name}", 0.0))  # noqa: E731
        tiles = g("tiles")
        photonic = isinstance(spec, PhotonicCostSpec)
        m = reports[layer].metrics
        out[layer] = {
            "tiles": tiles,
            "mzis": tiles * g("mzis"),
            "phase_shifters": tiles * count_phase_shifters(summary, layer) if photonic else 0.0,
            "cells": tiles * g("cells"),
            "heater_w": m.get("heater_w", 0.0),
            "laser_w": m.get("laser_electrical_w", 0.0),
            "input_dacs": tiles * g("tile_rows") if photonic else 0.0,
            "knob_dacs": tiles * spec.knob_dacs_per_tile if photonic else 0.0,
            "adcs": float(adc_count(summary, layer, spec)),
            "photodiodes": tiles * g("tile_cols") * (g("photodiodes_per_output") or 1.0)
            if photonic else 0.0,
        }
    out["total"] = {k: math.fsum(v[k] for v in out.values()) for k in INVENTORY_FIELDS}
    return out


def format_inventory(inv: Mapping[str, Mapping[str, float]], title: str = "") -> str:
    """Plain-text table, one row per layer and the total."""
    head = ["layer", "tiles", "MZIs", "shifters", "cells", "heaters", "laser (el.)",
            "in DACs", "knob DACs", "ADCs", "PDs", "area"]
    rows = []
    for name, d in inv.items():
        rows.append([name] + [f"{d[k]:.0f}" for k in ("tiles", "mzis", "phase_shifters", "cells")]
                    + [f"{d['heater_w']:.3g} W", f"{d['laser_w']:.3g} W"]
                    + [f"{d[k]:.0f}" for k in ("input_dacs", "knob_dacs", "adcs", "photodiodes")]
                    + ["-"])
    w = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i])  # noqa: E731
                              for i, c in enumerate(r))
    lines = ([title] if title else []) + [fmt(head), "  ".join("-" * x for x in w)]
    lines += [fmt(r) for r in rows]
    lines.append("area: not estimated (the specs give no area density)")
    return "\n".join(lines)

"""Analytic scaling projection: a run's step, re-shaped for a larger model, without training.

The traced step of a run says what the algorithm does per layer and step (settings programmed,
vectors streamed per setting, conversions per vector per tile block, host work per knob). A
projection keeps all of that per layer and changes the model: ``layers`` square layers
holding ``weights`` weights in total (n = √(weights / layers) inputs and outputs each), on the
same tile geometry. Per layer, from the run's first described layer (the template):

* tiles = ⌈n / tile_rows⌉·⌈n / tile_cols⌉; knobs, phase shifters, cells per tile unchanged;
* settings, settles and vectors per step unchanged (the estimator's query count does not
  depend on the layer size: P directions per stage);
* MACs = vectors·n²; input DAC and ADC samples, partial sums: the template's per vector and
  per (input or output, tile block), scaled to n;
* knob writes, knobs changed and the traced phase sum: the template's per knob × knobs;
* host FLOPs and bytes (loss, estimator, optimizer, transfers): the template's per weight ×
  weights (estimator and optimizer work is per knob; the loss head is a small part);
* the dependency record is kept (independent stages stay independent).

Steps to a target accuracy cannot be projected (no training): only per-step figures are.
"""
from __future__ import annotations

import math
from typing import Mapping

__all__ = ["project_summary", "parse_project"]


def parse_project(text: str) -> dict[str, int]:
    """``"weights=1e6,layers=4"`` → ``{"weights": 1000000, "layers": 4}`` (ValueError naming the
    bad part and what is allowed)."""
    out: dict[str, int] = {}
    for part in str(text).split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in ("weights", "layers"):
            raise ValueError(f"--project part {part!r} is invalid; allowed: weights=N,layers=L")
        try:
            v = float(value)
        except ValueError:
            raise ValueError(f"--project {key} = {value!r} is invalid; allowed: a number >= 1")
        if not math.isfinite(v) or v < 1 or v != int(v):
            raise ValueError(f"--project {key} = {value!r} is invalid; allowed: an integer >= 1")
        out[key] = int(v)
    if set(out) != {"weights", "layers"}:
        raise ValueError(f"--project {text!r} is incomplete; allowed: weights=N,layers=L")
    return out


def _described(summary: Mapping[str, float]) -> list[str]:
    layers = {k.rsplit(".", 2)[0] for k in summary if k.endswith(".info.tiles")}
    return sorted(layers, key=lambda l: summary.get(f"{l}.mvm.first_index", math.inf))


def project_summary(summary: Mapping[str, float], weights: int, layers: int) -> dict[str, float]:
    """The step summary of ``layers`` square layers with ``weights`` weights in total, priced
    like the run's first described layer (see the module docstring)."""
    if isinstance(weights, bool) or not isinstance(weights, int) or weights < 1:
        raise ValueError(f"weights = {weights!r} is invalid; allowed: an integer >= 1")
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 1:
        raise ValueError(f"layers = {layers!r} is invalid; allowed: an integer >= 1")
    described = _described(summary)
    if not described:
        raise ValueError("the summary describes no device layer; allowed: a device run's step")
    t = described[0]
    g = lambda kind, name: float(summary.get(f"{t}.{kind}.{name}", 0.0))  # noqa: E731
    n = max(1, round(math.sqrt(weights / layers)))
    rows, cols = g("info", "tile_rows"), g("info", "tile_cols")
    t_in, t_out = g("info", "n_in"), g("info", "n_out")
    t_tiles = max(g("info", "tiles"), 1.0)
    tiles = math.ceil(n / rows) * math.ceil(n / cols)
    knob_scale = tiles / t_tiles
    run_weights = sum(float(summary.get(f"{l}.info.n_in", 0)) * float(summary.get(f"{l}.info.n_out", 0))
                      for l in described)
    host_scale = weights / run_weights if run_weights else 1.0
    vectors = g("mvm", "vectors")
    blocks_in = lambda m: math.ceil(m / rows)   # noqa: E731  tile row-blocks of m outputs
    blocks_out = lambda m: math.ceil(m / cols)  # noqa: E731  tile column-blocks of m inputs
    dac_per = g("mvm", "dac_conversions") / (vectors * t_in * blocks_in(t_out)) if vectors else 0
    adc_per = g("mvm", "adc_conversions") / (vectors * t_out * blocks_out(t_in)) if vectors else 0
    ps_per = g("mvm", "partial_sum_adds") / (vectors * t_out * blocks_out(t_in)) if vectors else 0
    out: dict[str, float] = {}
    for i in range(layers):
        name = f"proj{i}"
        for k, v in summary.items():
            if k.startswith(f"{t}.info."):
                out[f"{name}.info.{k[len(t) + 6:]}"] = float(v)
        out.update({f"{name}.info.n_in": float(n), f"{name}.info.n_out": float(n),
                    f"{name}.info.tiles": float(tiles),
                    f"{name}.info.knobs": g("info", "knobs") * knob_scale})
        for k, v in summary.items():
            if not k.startswith(f"{t}.") or ".info." in k:
                continue
            field = k[len(t) + 1:]
            kind, _, fname = field.partition(".")
            if kind == "program" and fname in ("knobs_written", "knobs_changed", "phase_rad_sum"):
                v = v * knob_scale
            elif kind == "digital" and fname.startswith("bytes"):
                v = v * knob_scale
            elif kind == "mvm" and fname == "macs":
                v = vectors * n * n
            elif kind == "mvm" and fname == "dac_conversions":
                v = dac_per * vectors * n * blocks_in(n)
            elif kind == "mvm" and fname == "adc_conversions":
                v = adc_per * vectors * n * blocks_out(n)
            elif kind == "mvm" and fname == "partial_sum_adds":
                v = ps_per * vectors * n * blocks_out(n)
            elif fname == "first_index":
                v = float(v) + i * 1000.0          # keep the chain order
            out[f"{name}.{field}"] = float(v)
    for k, v in summary.items():               # host work per weight
        layer = k.rsplit(".", 2)[0]
        if layer in described:
            continue
        kind = k.rsplit(".", 2)[1]
        scalable = kind == "digital" and not k.endswith((".events", ".first_index"))
        out[k] = float(v) * host_scale if scalable else float(v)
    return out

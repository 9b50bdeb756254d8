"""Device/GPU ratios as bands at matched corners, and the per-result ratio.

A ratio of two priced rows is only meaningful when both sides are priced at the same level:
low/low (both optimistic), nominal/nominal and high/high (both pessimistic). Mixing corners
(an optimistic device against a pessimistic GPU) spans orders of magnitude and says nothing, so
it is never printed. Every ratio is given at the three matched corners, for

* energy per training step, system (device + host floor) and device only;
* time per training step;
* the **per-result ratio**: energy and time to the target test accuracy (steps to target ×
  per-step figure of each side; see :data:`TARGET_RULE`).

Inputs are the headline metrics of :func:`hwsim.cost.report.with_headline` (``<key>_<level>``),
as a ``CostReport.metrics`` dict or a flat stored report (``metric.`` prefix).
"""
from __future__ import annotations

import math
from typing import Mapping

from .spec import LEVELS

__all__ = ["RATIO_QUANTITIES", "TARGET_RULE", "metrics_of", "matched_ratio", "ratio_bands",
           "format_ratio_bands"]

#: (label, headline metric key) of every ratio printed.
RATIO_QUANTITIES = (
    ("energy/step (system)", "energy_per_step_j"),
    ("energy/step (device only)", "device_energy_per_step_j"),
    ("time/step", "latency_per_step_s"),
    ("energy to target", "energy_to_target_j"),
    ("time to target", "time_to_target_s"),
)

#: How the target accuracy of the per-result ratio is chosen (printed with every ratio table).
TARGET_RULE = ("target test accuracy = 0.95 × the higher best accuracy of the device run and the "
               "BP reference (not the weaker side's own best); a side that never reaches it has "
               "no per-result ratio")


def metrics_of(report: Mapping[str, float]) -> dict[str, float]:
    """Headline metrics of a flat stored report (``metric.<key>``) or a metrics dict."""
    if any(k.startswith("metric.") for k in report):
        return {k[7:]: v for k, v in report.items() if k.startswith("metric.")}
    return dict(report)


def matched_ratio(num: Mapping[str, float], den: Mapping[str, float], key: str
                  ) -> dict[str, float]:
    """``num[key_<lv>] / den[key_<lv>]`` at each matched level (nan where either is missing)."""
    out = {}
    for lv in LEVELS:
        a, b = num.get(f"{key}_{lv}"), den.get(f"{key}_{lv}")
        ok = a is not None and b and math.isfinite(a) and math.isfinite(b)
        out[lv] = a / b if ok else math.nan
    return out


def ratio_bands(rows: Mapping[str, Mapping[str, float]], devices, gpus
                ) -> dict[tuple[str, str], dict[str, dict[str, float]]]:
    """(device row, GPU row) → quantity label → level → ratio (matched corners)."""
    m = {n: metrics_of(rows[n]) for n in list(devices) + list(gpus)}
    return {(d, g): {label: matched_ratio(m[d], m[g], key) for label, key in RATIO_QUANTITIES}
            for d in devices for g in gpus}


def _close(a: float, b: float) -> bool:
    return (a != a and b != b) or (a == a and b == b and math.isclose(a, b, rel_tol=1e-9))


def _x(v: float) -> str:
    return "-" if v != v else (f"{v:.3g}×" if v >= 0.01 else f"{v:.2e}×")


def format_ratio_bands(rows: Mapping[str, Mapping[str, float]], devices, gpus,
                       level: str = "nominal") -> str:
    """Plain-text ratio bands: per (device, GPU) pair a heading line, then one line per
    quantity with the three matched corners; ``*`` marks the priced level's column."""
    bands = ratio_bands(rows, devices, gpus)
    head = ["  quantity"] + [f"{lv}/{lv}" + ("*" if lv == level else "") for lv in LEVELS]
    blocks = []
    for (d, g), q in bands.items():
        per_step = {"energy to target": q["energy/step (system)"],
                    "time to target": q["time/step"]}
        # to-target lines only where they differ from the per-step ratio (same steps)
        lines = [[f"  {label}"] + [_x(r[lv]) for lv in LEVELS] for label, r in q.items()
                 if not all(v != v for v in r.values())
                 and not (label in per_step and all(_close(r[lv], per_step[label][lv])
                                                    for lv in LEVELS))]
        if lines:
            blocks.append((f"{d} / {g}", lines))
    if not blocks:
        return ""
    every = [head] + [r for _, lines in blocks for r in lines]
    w = [max(len(r[i]) for r in every) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i])  # noqa: E731
                              for i, c in enumerate(r)).rstrip()
    out = ["Ratios device / GPU at matched corners (* = the priced level; corners are never "
           "mixed).", TARGET_RULE[0].upper() + TARGET_RULE[1:] + ".", fmt(head)]
    for name, lines in blocks:
        out += [name] + [fmt(r) for r in lines]
    return "\n".join(out)

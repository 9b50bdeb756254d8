"""The short summary ``forwardlab run`` ends with (one screen, at most about 25 lines).

Accuracy of each trained model, then the headline of the cost model — energy and latency per
step and to the target accuracy at the record's one cost level, the run's device next to each
GPU baseline, with the ratio band at matched corners (device and GPU both at the low, then both
at the high spec level; never mixed) — and where the full ledger is:
``forwardlab price RUN --detail`` (every part of every row) and ``forwardlab report RUN --out
DIR`` (figures and tables). Row names are whole words, never cut: a name too long for its
column goes on a line of its own.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from .frame import algorithm_words, device_words, is_gpu_report, run_device_report
from .results import RunRecord, priced_rows
from .si import format_si

__all__ = ["run_summary", "headline_rows", "MAX_LINES"]

MAX_LINES = 25
_NAME_W = 34


def _m(d: Mapping[str, float], key: str) -> float | None:
    v = d.get(f"metric.{key}")
    return None if v is None or v != v else float(v)


def headline_rows(rec: RunRecord) -> list[tuple[str, Mapping[str, float]]]:
    """(name in words, report) of the rows the headline shows: the run's own device row, then
    each GPU row of the run's own algorithm and of BP; timed-only rows and rows traced on other
    devices stay in the full ledger."""
    costs = priced_rows(rec.costs)
    device = run_device_report(costs)
    algo = algorithm_words(rec.config, rec.meta)
    rows = []
    if device:
        rows.append((f"{algo} on {device_words(rec.config)}", costs[device]))
    for name, d in costs.items():
        if not is_gpu_report(name, d) or not name.startswith("GPU ") or ": " not in name:
            continue
        gpu, what = name[4:].split(": ", 1)
        rows.append((f"BP on GPU {gpu}" if what == "BP" else f"{algo.split(' (')[0]} on GPU {gpu}", d))
    return rows


def _x(v: float) -> str:
    """A ratio with two or three significant figures and no exponent: 0.25, 8.7, 450."""
    return f"{v:.0f}" if v >= 100 else f"{v:.2g}" if v >= 0.01 else f"{v:.1e}"


def _band_ratio(dev: Mapping[str, float], gpu: Mapping[str, float]) -> str:
    """Device / GPU energy per step at the record's level, and the band at matched corners:
    both at the low spec level … both at the high one (a device figure is never set against a
    GPU figure of another level)."""
    e_d, e_g = dev.get("total_energy_j"), gpu.get("total_energy_j")
    if not e_d or not e_g:
        return ""
    text = f"{e_d / e_g:.3g}×"
    dl, dh = _m(dev, "energy_per_step_j_low"), _m(dev, "energy_per_step_j_high")
    gl, gh = _m(gpu, "energy_per_step_j_low"), _m(gpu, "energy_per_step_j_high")
    if None not in (dl, dh, gl, gh) and gl and gh:
        text += f" (band {_x(dl / gl)}× low/low to {_x(dh / gh)}× high/high)"
    return text


def run_summary(rec: RunRecord, path: str | Path, accuracy: str, written: bool = True) -> str:
    """The lines ``forwardlab run`` ends with; ``accuracy`` is the accuracy table (``written``:
    say that the results file was written)."""
    lines = accuracy.splitlines()
    rows = headline_rows(rec)
    lv = str(rec.config.get("cost.level") or rec.config.get("cost_level") or "nominal")
    if rows:
        target = next((_m(d, "target_accuracy") for _, d in rows if _m(d, "target_accuracy")), None)
        lines += ["", f"Cost per training step ({lv} level throughout; analytic model" +
                  (f"; target test accuracy {target:.4f}" if target else "") + "):"]
        head = ["E/step", "latency/step", "E to target", "t to target"]
        cells = []
        for name, d in rows:
            measured = d.get("metric.energy_measured") != 0.0
            cells.append([format_si(d.get("total_energy_j") if measured else None, "J"),
                          format_si(d.get("total_latency_s"), "s"),
                          format_si(_m(d, f"energy_to_target_j_{lv}"), "J"),
                          format_si(_m(d, f"time_to_target_s_{lv}"), "s")])
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
        name_w = min(_NAME_W, max(len(n) for n, _ in rows))
        lines.append(" " * name_w + "  " + "  ".join(h.rjust(w) for h, w in zip(head, widths)))
        for (name, _), c in zip(rows, cells):
            if len(name) > name_w:            # never cut a name: it gets a line of its own
                lines.append(name)
                name = ""
            lines.append(name.ljust(name_w) + "  " + "  ".join(x.rjust(w) for x, w in zip(c, widths)))
        dev = rows[0][1] if not is_gpu_report("", rows[0][1]) else None
        gpus = [(n, d) for n, d in rows[1:] if not n.startswith("BP ")]
        if dev is not None and gpus:
            lines.append(f"device / GPU energy per step ({lv}; band at matched corners, "
                         "low/low to high/high):")
        for n, d in gpus if dev is not None else []:
            lat = (f", latency {dev['total_latency_s'] / d['total_latency_s']:.3g}×"
                   if d.get("total_latency_s") and dev.get("total_latency_s") else "")
            lines.append(f"  {n.split(' on ', 1)[1]}: energy {_band_ratio(dev, d)}{lat}")
    lines += [""] + ([f"results written to {path}"] if written else []) + [
              f"every cost part and row: forwardlab price {path} --detail",
              f"figures and tables: forwardlab report {path} --out <dir>"]
    return "\n".join(lines)

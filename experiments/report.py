"""Reports read results files only; they never re-run training.

* :func:`accuracy_table` and :func:`cost_section` — the terminal tables of one run (at most
  100 columns; device and GPU parts apart; SI prefixes; absent parts blank; the cost level
  the run was priced at in the header).
* :func:`write_report` — ``forwardlab report PATH... [--by KEY,...] --out DIR``: figures (PNG,
  PDF, SVG), ``runs.csv`` (every scalar per run), ``comparison.tex`` (booktabs) and a
  self-contained ``report.html``; the comparison follows the sweep's declared axes.

Cost reports are rendered generically from their flat keys (``CostReport.to_dict``): a key
``<group>_<unit>.<part>`` is one part of a group (``energy_j.laser``: part "laser" of energy,
in J), ``total_<group>_<unit>`` is that group's total, a group whose values are one-hot flags
(``weight_mode.*``) shows the flag that is set, and any other key is a scalar with its unit
taken from its name (``laser_on_s`` → s). New report fields therefore appear without changes.
"""
from __future__ import annotations

import base64
import html
import math
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .frame import (config_value, cpu_seconds, find_results, frame_from_records,
                    is_gpu_report)
from .results import RunRecord, priced_rows, read_results, unpriced_rows
from .si import format_si, unit_of
from hwsim.cost.bands import format_ratio_bands
from .config import COST_LEVELS

__all__ = ["accuracy_table", "cost_section", "cost_table", "write_report", "TERMINAL_WIDTH"]

TERMINAL_WIDTH = 100
_TWIN = "ideal digital twin, autograd"


# ------------------------------------------------------------------------------ accuracy
def _run_label(algo: str, preset, config=None, stored: str = "") -> str:
    """``stored``: the label the run resolved and wrote (``meta.algorithm_label``); files of
    older versions lack it and get it re-derived from their config."""
    from algorithms.registry import ALGORITHMS as REG
    from . import labels
    if algo not in REG:
        return algo
    if not stored:
        config = config or {}
        settings = {k.split(".", 2)[2]: v for k, v in config.items()
                    if k.startswith("algorithm.settings.")}
        try:
            stored = labels.resolved_label(algo, settings, config.get("device.kind"))
        except ValueError:   # settings of an older file this version does not know
            stored = REG[algo].label
    return labels.run_label(algo, stored, preset)


def accuracy_table(rec: RunRecord) -> str:
    """Final test accuracy of the device run and of each reference, one row each, with what
    training cost where the run recorded it: device settings, streamed vectors, device
    training energy (energy per step × steps) and training CPU time ("-" where a row has none,
    e.g. the twin references' device columns)."""
    algo = config_value(rec.config, "algorithm", "algorithm.name", default="mfdd")
    preset = config_value(rec.config, "device_preset", "device.preset", default="?")
    label = _run_label(str(algo), preset, rec.config, rec.meta.get("algorithm_label", ""))
    if "test_error" in rec.history:      # a PDE run: relative L2 error in place of accuracy
        return _error_table(rec, label)
    rows = [(label, rec.history.get("test_accuracy", [math.nan])[-1],
             _cost_cells(rec.history, _training_energy(rec), cpu_seconds(rec, str(algo))))]
    for mode, hist in rec.references.items():
        rows.append((_run_label(mode, preset), hist.get("test_accuracy", [math.nan])[-1],
                     _cost_cells(hist, None, cpu_seconds(rec, mode))))
    width = max(len(r[0]) for r in rows)
    if not any(any(c != "-" for c in r[2]) for r in rows):      # files without the counts
        lines = [f"{'model':<{width}}  test accuracy", f"{'-' * width}  -------------"]
        lines += [f"{name:<{width}}  {acc:.4f}" for name, acc, _ in rows]
        return "\n".join(lines)
    # cost in what the device did, next to accuracy (cumulative over training)
    head = ["test accuracy", *_COST_HEADS]
    cells = [[f"{acc:.4f}", *c] for _, acc, c in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    width = min(width, TERMINAL_WIDTH - sum(w + 2 for w in widths))
    lines = [f"{'model':<{width}}  " + "  ".join(h.rjust(w) for h, w in zip(head, widths)),
             f"{'-' * width}  " + "  ".join("-" * w for w in widths)]
    for (name, _, _), c in zip(rows, cells):
        if len(name) > width:           # never cut a name: it gets a line of its own
            lines.append(name)
            name = ""
        lines.append(f"{name:<{width}}  " + "  ".join(x.rjust(w) for x, w in zip(c, widths)))
    return "\n".join(lines)


#: the cost columns of the accuracy table: device settings programmed, input vectors streamed
#: (calibration probes included), device training energy and the host's training CPU time
_COST_HEADS = ("settings", "vectors", "energy", "CPU time")


def _count(v) -> str:
    return f"{v:,.0f}" if v is not None and math.isfinite(v) else "-"


def _cost_cells(hist: Mapping, energy_j: float | None, cpu_s: float | None) -> list[str]:
    last = {k: (hist.get(k) or [None])[-1] for k in ("device_settings", "streamed_vectors")}
    return [_count(last["device_settings"]), _count(last["streamed_vectors"]),
            format_si(energy_j, "J") if energy_j is not None else "-",
            format_si(cpu_s, "s") if cpu_s is not None else "-"]


def _training_energy(rec: RunRecord) -> float | None:
    """Device energy of the run's training: its device report's energy per step (the mean
    traced step, analytic model) × its training steps; None where not priced."""
    from .frame import run_device_report
    costs = priced_rows(rec.costs)
    device = run_device_report(costs)
    steps = (rec.history.get("steps") or [None])[-1]
    if device is None or steps is None or "total_energy_j" not in costs[device]:
        return None
    return float(costs[device]["total_energy_j"]) * float(steps)


def _error_table(rec: RunRecord, label: str) -> str:
    """Final relative L2 error of a PDE run and its references (lower is better)."""
    problem = rec.config.get("pde.problem", "?")
    rows = [(label, rec.history["test_error"][-1])]
    rows += [(f"{mode} ({_TWIN})" if _TWIN not in mode else mode,
              hist.get("test_error", [math.nan])[-1]) for mode, hist in rec.references.items()]
    width = max(len(r[0]) for r in rows)
    lines = [f"PDE {problem}", f"{'model':<{width}}  relative L2 error",
             f"{'-' * width}  -----------------"]
    lines += [f"{name:<{width}}  {err:.4g}" for name, err in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ cost tables
@dataclass(frozen=True)
class _Quantity:
    """One row (or column) of a cost table: ``cells[report]`` is the formatted value."""

    group: str      # "energy", "latency", "" for scalars
    name: str       # "total", "laser", "MACs", ...
    cells: dict


def _group_name(prefix: str) -> tuple[str, str]:
    """"energy_j" → ("energy", "J")."""
    unit = unit_of(prefix)
    return (prefix.rsplit("_", 1)[0] if unit else prefix), unit


def _quantities(reports: Mapping[str, Mapping[str, float]]) -> list[_Quantity]:
    """Rows of a cost table from flat report dicts, in order of first appearance.

    A missing key or a part priced at exactly 0 prints blank; totals always print.
    """
    groups: dict[str, list[str]] = {}
    scalars: list[str] = []
    for d in reports.values():
        for key in d:
            if "." in key:
                prefix, part = key.split(".", 1)
                parts = groups.setdefault(prefix, [])
                parts += [part] if part not in parts else []
            elif key not in scalars:
                scalars.append(key)
    totals = {f"total_{p}": p for p in groups}
    out: list[_Quantity] = []
    for prefix, parts in groups.items():
        label, unit = _group_name(prefix)
        flags = [d.get(f"{prefix}.{p}") for d in reports.values() for p in parts]
        if len(parts) > 1 and all(v in (0.0, 1.0, None) for v in flags) and all(
                sum(d.get(f"{prefix}.{p}", 0.0) for p in parts) == 1.0 for d in reports.values()):
            # one-hot flags (weight_mode.held = 1, ...): show the flag that is set
            out.append(_Quantity("", label.replace("_", " "), {
                n: next(p for p in parts if d.get(f"{prefix}.{p}") == 1.0)
                for n, d in reports.items()}))
            continue
        total_key = f"total_{prefix}"
        if any(total_key in d for d in reports.values()):
            out.append(_Quantity(label, "total", {n: format_si(d.get(total_key), unit)
                                                  for n, d in reports.items()}))
        for p in parts:
            out.append(_Quantity(label, p, {n: format_si(d.get(f"{prefix}.{p}") or None, unit)
                                            for n, d in reports.items()}))
    for key in scalars:
        if key in totals:
            continue
        label = _group_name(key)[0]                        # "laser_on_s" → "laser_on"
        out.append(_Quantity("", label.replace("_", " ").replace("macs", "MACs"),
                             {n: format_si(d.get(key) or None, unit_of(key))
                              for n, d in reports.items()}))
    # derived: energy per MAC (cost.md §1.1 pJ/MAC) and MACs per ADC conversion
    per_mac = {n: format_si(d["total_energy_j"] / d["macs"], "J")
               if d.get("macs") and "total_energy_j" in d else "" for n, d in reports.items()}
    per_conv = {n: format_si(d["macs"] / d["conversions"])
                if d.get("macs") and d.get("conversions") else "" for n, d in reports.items()}
    for name, cells in (("energy/MAC", per_mac), ("MACs/conversion", per_conv)):
        out.append(_Quantity("", name, cells))
    return [q for q in out if any(q.cells.values())]   # a part no report has is left out


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(1, width - 1)] + "…"


def _render(corner: str, col_groups: Sequence[str], col_names: Sequence[str],
            rows: Sequence[tuple[str, Sequence[str]]], width: int) -> list[list[str]]:
    """Fixed-width table, first column left-aligned, others right-aligned; columns that do not
    fit in ``width`` continue in further blocks that repeat the first column. Returns blocks of
    lines; each group label is printed over the first column of its group in every block."""
    label_w = max([len(corner)] + [len(r[0]) for r in rows])
    col_w = [max([len(col_names[j]), len(col_groups[j])] + [len(r[1][j]) for r in rows])
             for j in range(len(col_names))]
    label_w = min(label_w, max(8, width - 2 - (max(col_w) if col_w else 0)))
    col_w = [min(w, width - label_w - 2) for w in col_w]
    blocks, start = [], 0
    while start < len(col_names) or not blocks:
        used, stop = label_w, start
        while stop < len(col_names) and (stop == start or used + 2 + col_w[stop] <= width):
            used += 2 + col_w[stop]
            stop += 1
        cols = range(start, stop)
        lines = []
        if any(col_groups[j] for j in cols):
            shown, cells = set(), []
            for j in cols:
                g = col_groups[j] if col_groups[j] not in shown else ""
                shown.add(col_groups[j])
                cells.append(_fit(g, col_w[j]).rjust(col_w[j]))
            lines.append("  ".join([" " * label_w] + cells).rstrip())
        lines.append("  ".join([_fit(corner, label_w).ljust(label_w)]
                               + [_fit(col_names[j], col_w[j]).rjust(col_w[j]) for j in cols]).rstrip())
        lines.append("  ".join(["-" * label_w] + ["-" * col_w[j] for j in cols]))
        for label, cells in rows:
            if len(label) > label_w:        # a name is never cut: it gets a line of its own
                lines.append(label)
                label = ""
            lines.append("  ".join([label.ljust(label_w)]
                                   + [_fit(cells[j], col_w[j]).rjust(col_w[j]) for j in cols]).rstrip())
        blocks.append(lines)
        start = stop
        if not col_names:
            break
    return blocks


def cost_table(reports: Mapping[str, Mapping[str, float]], title: str,
               width: int = TERMINAL_WIDTH) -> str:
    """One cost table of flat report dicts, at most ``width`` columns.

    Two layouts are tried — one row per report (columns grouped by energy/latency/...) and one
    row per quantity (a column per report) — and the one needing fewer wrapped blocks (then
    fewer lines) is used.
    """
    if not reports:
        raise ValueError("reports is empty; allowed: a mapping name -> flat cost report")
    qs = _quantities(reports)
    names = list(reports)
    by_report = _render(title, [q.group for q in qs], [q.name for q in qs],
                        [(n, [q.cells[n] for q in qs]) for n in names], width)
    labels, previous = [], None
    for q in qs:
        labels.append(f"{q.group if q.group != previous else '':<8} {q.name}".rstrip()
                      if q.group else q.name)
        previous = q.group
    by_quantity = _render(title, [""] * len(names), names,
                          [(lab, [q.cells[n] for n in names]) for lab, q in zip(labels, qs)], width)
    best = min((by_report, by_quantity), key=lambda b: (len(b), sum(map(len, b))))
    return "\n\n".join("\n".join(lines) for lines in best)


def _cost_level(config: Mapping) -> str:
    level = config_value(config, "cost.level", "cost_level")
    return str(level) if level not in (None, "") else "not recorded"


# Headline metrics (metric.*) have a table of their own; every other key of a flat cost report
# appears in the component tables, so new report fields show without code changes.
_METRIC_PREFIX = "metric."


def _headline_table(reports: Mapping[str, Mapping[str, float]], width: int,
                    level: str = "nominal") -> str:
    """Energy per step at ``level`` (system and device only) with its low–high band, energy
    and time to the target accuracy and energy per inference at the same ``level`` (levels are
    never mixed in a row), laser-on time and endurance consumed, one row per report (blank
    where a report has none)."""
    lv = level if level in COST_LEVELS else "nominal"
    head = ["", "E/step", "device", "E/step low–high", "E to target", "t to target",
            "E/infer.", "laser on", "endurance"]
    rows = []
    for name, d in reports.items():
        def m(key):
            v = d.get(f"metric.{key}")
            return None if v is None or v != v else v
        band = (f"{format_si(m('energy_per_step_j_low'), 'J')}–{format_si(m('energy_per_step_j_high'), 'J')}"
                if m("energy_per_step_j_low") is not None else "")
        endurance = m("endurance_used_fraction")
        measured_only = d.get("metric.energy_measured") == 0.0
        energy = None if measured_only else (m(f"energy_per_step_j_{lv}")
                                             if m(f"energy_per_step_j_{lv}") is not None
                                             else d.get("total_energy_j"))
        rows.append([name, format_si(energy, "J"),
                     format_si(m(f"device_energy_per_step_j_{lv}"), "J"), band,
                     ("not reached" if m("target_reached") == 0.0 else
                      format_si(m(f"energy_to_target_j_{lv}"), "J")),
                     format_si(m(f"time_to_target_s_{lv}"), "s"),
                     format_si(m(f"energy_per_inference_j_{lv}"), "J"),
                     format_si(m("laser_on_s") or None, "s"),
                     f"{100 * endurance:.3g} %" if endurance else ""])
    target = next((d.get("metric.target_accuracy") for d in reports.values()
                   if d.get("metric.target_accuracy") == d.get("metric.target_accuracy")
                   and d.get("metric.target_accuracy") is not None), None)
    figures_w = sum(max(len(r[i]) for r in [head] + rows) + 2 for i in range(1, len(head)))
    name_w = min(max(len(r[0]) for r in rows), width - figures_w)
    own_line = name_w < 24          # long names: each on its own line above its figures
    widths = [2 if own_line else max(name_w, 8)] + [max(len(r[i]) for r in [head] + rows)
                                                    for i in range(1, len(head))]

    def fmt(r):
        name = r[0]
        first = [name] if len(name) > widths[0] else []   # never cut a name: a line of its own
        cells = [("" if first else name).ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        return "\n".join(first + ["  ".join(cells).rstrip()])
    rows = [r for r in rows if any(r[1:])]                 # timed-only rows: no headline figures
    title = (f"Headline ({lv} level throughout; device = accelerator only, E/step = system with "
             "host; band low–high per step)") + (
        f", target test accuracy {target:.4f} (0.95 × the higher best of this run and BP)"
        if target else "")
    body = []
    for r in rows:
        if own_line:
            body += [_fit(r[0], width)] + ([_fit(fmt([""] + r[1:]), width)] if any(r[1:]) else [])
        else:
            body.append(fmt(r))
    return "\n".join([_fit(title, width), _fit(fmt([""] + head[1:]), width),
                      _fit("  ".join("-" * w for w in widths), width)] + body)


def cost_section(rec: RunRecord, width: int = TERMINAL_WIDTH) -> str:
    """Cost per training step of a run: device reports, GPU baselines, headline metrics and
    device/GPU ratios.

    At most ``width`` columns; SI prefixes; a part a report does not have prints blank; the
    header names the cost level the run was priced at (config ``cost_level`` or ``cost.level``).
    """
    rows = priced_rows(rec.costs)
    if not rows:
        return "(no cost report: the run did not finish)"
    shown = {n: {k: v for k, v in d.items() if not k.startswith(_METRIC_PREFIX)
                 # a timed-only measurement has no energy: blank, not 0 J
                 and not (k.startswith(("total_energy_j", "energy_j.")) and d.get("metric.energy_measured") == 0.0)}
             for n, d in rows.items()}
    device = {n: d for n, d in shown.items() if not is_gpu_report(n, rows[n])}
    gpu = {n: d for n, d in shown.items() if is_gpu_report(n, rows[n])}
    lines = [_fit(f"Cost per training step (analytic model, cost level: "
                  f"{_cost_level(rec.config)}):", width)]
    if device:
        lines += ["", cost_table(device, "device (per step)", width)]
    if gpu:
        lines += ["", cost_table(gpu, "GPU baseline (per step)", width)]
    level = _cost_level(rec.config)
    if any(k.startswith("metric.") for d in rows.values() for k in d):
        lines += ["", _headline_table(rows, width, level)]
    priced_gpu = [g for g in gpu if any(k.startswith("metric.energy_per_step_j_") for k in rows[g])]
    if device and priced_gpu:
        text = format_ratio_bands(rows, list(device), priced_gpu, level)
        if text:
            lines += [""] + [_fit(t, width) if i < 2 else t
                             for i, t in enumerate(text.splitlines())]
    unbanded = [g for g in gpu if g not in priced_gpu]
    if device and unbanded:   # rows stored without a band (older files, measured rows)
        lines += ["", _fit(f"Ratios device / GPU (energy, latency) per training step, {level} "
                           "level only (rows without a stored band):", width)]
        for d in device:
            for g in unbanded:
                e = _ratio(shown[d].get("total_energy_j"), shown[g].get("total_energy_j"))
                t = _ratio(rows[d].get("total_latency_s"), rows[g].get("total_latency_s"))
                parts = ([f"energy {e:.3g}x"] if e == e else []) + ([f"latency {t:.3g}x"] if t == t else [])
                if not parts:
                    continue
                line = f"  {d} / {g}: {', '.join(parts)}"
                if len(line) > width:   # very long report names: the figures go on a second line
                    lines += [_fit(f"  {d} / {g}:", width), f"    {', '.join(parts)}"]
                else:
                    lines.append(line)
    for row, why in unpriced_rows(rec).items():   # the reason wrapped, never cut
        lines += [""] + textwrap.wrap(f"not priced: {row}: {why}", width,
                                      subsequent_indent="  ")
    return "\n".join(lines)


def _ratio(a: float | None, b: float | None) -> float:
    return a / b if a is not None and b else math.nan


# ------------------------------------------------------------------------------ report files
FIGURE_FORMATS = ("png", "pdf", "svg")   # PNG for the page, vector PDF/SVG for papers


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "axis"


def _write_text(folder, name: str, text: str) -> Path:
    """``name`` in the report ``folder`` (an :class:`~experiments.outputs.OutputFolder`),
    written atomically; never through a link, never over a file forwardlab did not write."""
    return folder.write_text(name, text)


def _save(fig, folder, key: str) -> list[Path]:
    """``fig`` as ``key.png``, ``key.pdf`` and ``key.svg`` in the report ``folder`` (each
    written atomically, listed in the folder's manifest)."""
    import matplotlib.pyplot as plt
    paths = []
    try:
        for fmt in FIGURE_FORMATS:
            with folder.atomic(f"{key}.{fmt}") as tmp:
                fig.savefig(tmp, format=fmt, dpi=130, metadata=None if fmt == "png" else
                            {"Creator": "forwardlab"})
            paths.append(folder.dir / f"{key}.{fmt}")
    finally:
        plt.close(fig)
    return paths


_STYLE = ("body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;"
          "line-height:1.4;color:#222}p,figcaption{overflow-wrap:anywhere}"
          "h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}"
          ".scroll{overflow-x:auto;max-width:100%}"
          "table{border-collapse:collapse;font-size:13px;margin:0.6em 0}"
          "th,td{border-bottom:1px solid #ddd;padding:3px 9px;white-space:nowrap}"
          "th{background:#f3f3f3;text-align:center}td.num{text-align:right}td.txt{text-align:left}"
          "img{max-width:100%;height:auto;display:block}figure{margin:1.2em 0}"
          "figcaption{font-size:14px;color:#444;max-width:75ch}"
          "code{font-size:0.95em}"
          "@media (max-width:700px){body{margin:0.5em;padding:0 0.4em}table{font-size:12px}"
          # on a phone a figure keeps a readable size and scrolls sideways in its own box
          "figure .scroll img{max-width:none;width:680px}}")


#: at most this many runs' curves in the cumulative-energy figure (a legible legend)
MAX_ENERGY_CURVES = 8


def _cumulative_energy_curves(df, ordered) -> dict:
    """{run in words: accuracy against cumulative energy (cost_figures.accuracy_energy_curve)}
    for the runs whose own device row carries the low/nominal/high band."""
    from .cost_figures import accuracy_energy_curve
    from .frame import algorithm_words, device_words, run_device_report
    from .results import priced_rows
    curves = {}
    for rec in ordered:
        costs = priced_rows(rec.costs)
        row = run_device_report(costs)
        if row is None or len(curves) >= MAX_ENERGY_CURVES:
            continue
        try:
            curve = accuracy_energy_curve(rec.history, costs[row])
        except ValueError:           # no step count or no band: nothing to draw for this run
            continue
        name = f"{algorithm_words(rec.config, rec.meta)} on {device_words(rec.config)}"
        seed = rec.config.get("run.seed", rec.config.get("seed"))
        curves[name + (f", seed {seed}" if seed is not None else "")] = curve
    return curves


def _tornado(df):
    """(caption, figure) of the one-at-a-time sensitivity of the first run's first device/GPU
    ratio (hwsim.cost.sensitivity), or None where the run cannot be re-priced."""
    from .cost_figures import tornado_figure
    from .price import sensitivity
    for path in df["path"]:
        try:
            movers, evens = sensitivity(path)
        except (ValueError, KeyError):
            continue
        for ratio, top in movers.items():
            if top:
                caption = (f"One-at-a-time sensitivity of {ratio} for {Path(path).name}: each bar "
                           "spans the ratio from the parameter's low to its high sourced value, "
                           "the others at nominal; dashed: nominal; dotted: break-even.")
                return caption, tornado_figure(top, ratio, evens.get(ratio))
    return None


def write_report(paths: "str | Path | Iterable[str | Path]", out_dir: str | Path,
                 by: Sequence[str] | None = None) -> list[Path]:
    """Write the report of the runs under ``paths`` into ``out_dir``; returns the files written.

    The comparison's axes are ``by``, else the axes the sweep folders and runs declare
    (:mod:`experiments.axes`); a run reached through two inputs is counted once.

    Files: ``learning_curves``; ``accuracy_vs_<axis>`` per axis; ``energy_breakdown`` and
    ``accuracy_vs_energy`` when the runs were priced (the latter from three runs on with a
    Pareto front) — each as PNG, PDF and SVG; ``runs.csv`` (every scalar per run, the
    :func:`experiments.load` table, sorted by the axes); ``comparison.tex`` (booktabs: mean ±
    sd over seeds per setting of the axes) and ``comparison.csv``; ``report.html``
    (self-contained: the plots as base64 PNG and the tables).

    Raises:
        ValueError: ``out_dir`` exists and is not a directory, no results file was found, or an
            axis of ``by`` is no config key of the runs.
    """
    from .axes import declared_axes, is_seed_key
    from .plots import (ACCURACY, accuracy_vs_axis_figure, accuracy_vs_energy_figure,
                        energy_breakdown_figure, learning_curves_figure)
    from .tables import comparison_table, runs_table, to_frame, to_html, to_latex
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out = {str(out)!r} is an existing file; allowed: a directory "
                         "(created if missing)")
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    files, skipped = find_results(items)
    records = [(f, read_results(f)) for f in files]
    axes = list(by) if by is not None else declared_axes(items, (r.meta for _, r in records))
    df = frame_from_records(records, axes=axes)
    df.attrs["skipped"] = skipped
    axes = df.attrs["axes"]
    by_path = {str(f): r for f, r in records}
    ordered = [by_path[p] for p in df["path"]]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"out = {str(out)!r} cannot be created ({e.strerror}); allowed: a writable "
                         "directory path") from None
    from .outputs import OutputError, OutputFolder
    folder = OutputFolder(out, "report folder").prepare()
    try:       # the fixed names first: someone else's file there stops the report before writing
        for name in ("runs.csv", "comparison.tex", "comparison.csv", "report.html"):
            folder.claim(name)
    except OutputError as e:
        raise ValueError(str(e)) from None

    seeds = [c for c in df.attrs["config_columns"] if is_seed_key(c) and c in df.columns]
    figures: list[tuple[str, Path]] = []
    written: list[Path] = []

    def add(key: str, caption: str, fig) -> None:
        paths_ = _save(fig, folder, key)
        figures.append((caption, paths_[0]))
        written.extend(paths_)

    add("learning_curves", "Test accuracy per epoch. One colour per setting (algorithm, device "
        "and the other axes; mean over its seeds, band min–max); in the same colour, dashed and "
        "dotted: the MF-AD and BP references of those same runs on the ideal digital twin.",
        learning_curves_figure(df, ordered, axes))
    has_acc = ACCURACY in df.columns and df[ACCURACY].notna().any()
    for axis in axes if has_acc else []:
        others = [a for a in axes if a != axis]
        add(f"accuracy_vs_{_slug(axis)}",
            f"Final test accuracy by {axis} (every seed a point; mean and min–max over seeds)"
            + (f"; one series per setting of {', '.join(others)}." if others else "."),
            accuracy_vs_axis_figure(df, axis, others))
    priced = any(c.startswith("cost.") and ".energy_j." in c for c in df.columns)
    if priced:
        add("energy_breakdown", "Energy per training step by part: device rows above the dashed "
            "line, GPU baselines below it (hatched greys); left the total, right each part's share. "
            "Rows marked * or † were priced from another device's operation counts (see the notes "
            "under the plot).", energy_breakdown_figure(df))
        energy_col = next((c for c in ("train_energy_j", "energy_per_step_j")
                           if df[c].notna().any()), None)
        curves = _cumulative_energy_curves(df, ordered)
        if curves:
            from .cost_figures import accuracy_energy_figure
            add("accuracy_vs_cumulative_energy", "Test accuracy after each evaluation against "
                "the run's cumulative device training energy (steps so far × energy per step): "
                "line at the nominal cost level, band from the low to the high level"
                + (f"; the first {len(curves)} runs." if len(curves) < len(ordered) else "."),
                accuracy_energy_figure(curves))
        tornado = _tornado(df)
        if tornado is not None:
            add("sensitivity_tornado", tornado[0], tornado[1])
        if has_acc and energy_col:
            add("accuracy_vs_energy", "Final test accuracy against each run's device "
                + ("training energy (energy per step × steps)" if energy_col == "train_energy_j"
                   else "energy per training step (no step count recorded)")
                + ("; black: the Pareto front." if df[energy_col].notna().sum() >= 3 else
                   "; no Pareto front for fewer than three runs."),
                accuracy_vs_energy_figure(df, axes, energy_col=energy_col))

    written.append(_write_text(folder, "runs.csv", df.to_csv(index=False)))
    comparison = comparison_table(df, axes)
    caption = (f"Mean ± sample standard deviation over seeds; {len(df)} runs"
               + (f", compared along {', '.join(axes)}" if axes else ""))
    written.append(_write_text(folder, "comparison.tex", to_latex(comparison, caption)))
    written.append(_write_text(folder, "comparison.csv", to_frame(comparison).to_csv(index=False)))

    source = ", ".join(map(str, items))
    parts = [f"<h1>forwardlab report</h1><p>{len(df)} run(s) from {html.escape(source)}. "
             f"Compared along: {html.escape(', '.join(axes) or 'no declared axis (choose with --by)')}"
             f"; spread over: {html.escape(', '.join(seeds) or 'no seed key')}. Every scalar per "
             f"run: <code>runs.csv</code>; this comparison as LaTeX: <code>comparison.tex</code>; "
             f"every figure also as PDF and SVG.</p>"]
    if df.attrs.get("duplicates"):
        parts.append("<p>Counted once (the same run under two inputs): "
                     + html.escape(", ".join(df.attrs["duplicates"])) + "</p>")
    parts += ["<h2>Comparison (mean ± sd over seeds)</h2>", to_html(comparison, "comparison")]
    parts += ["<h2>Runs</h2>", to_html(runs_table(df, axes), "runs")]
    if skipped:
        parts.append("<p>Skipped (not results files): "
                     + "; ".join(html.escape(f"{p}: {why}") for p, why in skipped) + "</p>")
    parts.append("<h2>Figures</h2>")
    for caption, path in figures:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(f"<figure><div class='scroll'><img alt='{html.escape(path.stem.replace('_', ' '))}' "
                     f"src='data:image/png;base64,{data}'></div><figcaption>{html.escape(caption)} "
                     f"<code>{html.escape(path.stem)}.pdf</code>, <code>.svg</code>"
                     "</figcaption></figure>")
    if priced:
        parts += ["<h2>Energy per training step by part</h2>",
                  "<p>Cost levels: " + html.escape(", ".join(sorted(
                      {_cost_level(r.config) for _, r in records}))) + "</p>", _cost_html(df)]
    parts += ["<details><summary>All columns</summary><div class='scroll'>",
              df.to_html(index=False, border=0, na_rep=""), "</div></details>"]
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>forwardlab report</title><style>{_STYLE}</style></head>"
            f"<body>{''.join(parts)}</body></html>")
    written.append(_write_text(folder, "report.html", page))
    return written


def _cost_html(df) -> str:
    """The energy breakdown's rows as a table: the total and each part in one SI unit per
    column (named in the header) and the runs each mean is over."""
    from .plots import energy_breakdown, si_scale
    from .tables import Column, to_html
    rows, comps, energy, gpu, n_runs, marks = energy_breakdown(df)
    totals = energy.sum(axis=1)
    cols = [Column("row", [r + (f" {m}" if m else "") for r, m in zip(rows, marks)], False),
            Column("kind", ["GPU" if g else "device" for g in gpu], False),
            Column("runs", [str(n) for n in n_runs])]
    for name, values in [("total", totals)] + [(c, energy[:, j]) for j, c in enumerate(comps)]:
        factor, unit = si_scale(values, "J")
        cols.append(Column(f"{name.replace('_', ' ')} ({unit})",
                           [f"{v / factor:.3g}" if v else "" for v in values]))
    return to_html(cols, "cost")

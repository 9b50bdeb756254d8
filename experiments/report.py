"""Reports read results files only; they never re-run training.

* :func:`accuracy_table` and :func:`cost_section` — the terminal tables of one run (at most
  100 columns; device and GPU parts apart; SI prefixes; absent parts blank; the cost level
  the run was priced at in the header).
* :func:`write_report` — ``forwardlab report PATH... --out DIR``: PNG plots, ``runs.csv`` (every
  scalar per run) and a self-contained ``report.html``.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .frame import config_value, find_results, frame_from_records, is_gpu_report
from .results import RunRecord, priced_rows, read_results
from .si import format_si, unit_of

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
    """Final test accuracy of the device run and of each reference, one row each."""
    algo = config_value(rec.config, "algorithm", "algorithm.name", default="mfdd")
    preset = config_value(rec.config, "device_preset", "device.preset", default="?")
    label = _run_label(str(algo), preset, rec.config, rec.meta.get("algorithm_label", ""))
    if "test_error" in rec.history:      # a PDE run: relative L2 error in place of accuracy
        return _error_table(rec, label)
    rows = [(label, rec.history.get("test_accuracy", [math.nan])[-1])]
    for mode, hist in rec.references.items():
        rows.append((_run_label(mode, preset), hist.get("test_accuracy", [math.nan])[-1]))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'model':<{width}}  test accuracy", f"{'-' * width}  -------------"]
    lines += [f"{name:<{width}}  {acc:.4f}" for name, acc in rows]
    return "\n".join(lines)


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
            lines.append("  ".join([_fit(label, label_w).ljust(label_w)]
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


def _headline_table(reports: Mapping[str, Mapping[str, float]], width: int) -> str:
    """Energy per step with its low–high band, energy and time to the target accuracy, laser-on
    time and endurance consumed, one row per report (blank where a report has none)."""
    head = ["", "E/step", "E/step low–high", "E to target", "t to target", "laser on", "endurance"]
    rows = []
    for name, d in reports.items():
        def m(key):
            v = d.get(f"metric.{key}")
            return None if v is None or v != v else v
        band = (f"{format_si(m('energy_per_step_j_low'), 'J')}–{format_si(m('energy_per_step_j_high'), 'J')}"
                if m("energy_per_step_j_low") is not None else "")
        endurance = m("endurance_used_fraction")
        energy = None if d.get("metric.energy_measured") == 0.0 else d.get("total_energy_j")
        rows.append([name, format_si(energy, "J"), band,
                     format_si(m("energy_to_target_j_nominal"), "J"),
                     format_si(m("time_to_target_s_nominal"), "s"),
                     format_si(m("laser_on_s") or None, "s"),
                     f"{100 * endurance:.3g} %" if endurance else ""])
    target = next((d.get("metric.target_accuracy") for d in reports.values()
                   if d.get("metric.target_accuracy") == d.get("metric.target_accuracy")
                   and d.get("metric.target_accuracy") is not None), None)
    name_w = min(max(len(r[0]) for r in rows), width - sum(
        max(len(r[i]) for r in [head] + rows) + 2 for i in range(1, len(head))))
    widths = [max(name_w, 8)] + [max(len(r[i]) for r in [head] + rows) for i in range(1, len(head))]

    def fmt(r):
        cells = [_fit(r[0], widths[0]).ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
        return "  ".join(cells).rstrip()
    title = "Headline (nominal level; band low–high)" + (
        f", target test accuracy {target:.4f} (0.95 × the lower best of this run and BP)"
        if target else "")
    return "\n".join([_fit(title, width), fmt(head), "  ".join("-" * w for w in widths)]
                     + [fmt(r) for r in rows])


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
    if any(k.startswith("metric.") for d in rows.values() for k in d):
        lines += ["", _headline_table(rows, width)]
    if device and gpu:
        lines += ["", "Ratios device / GPU (energy, latency) per training step:"]
        for d in device:
            for g in gpu:
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
    return "\n".join(lines)


def _ratio(a: float | None, b: float | None) -> float:
    return a / b if a is not None and b else math.nan


# ------------------------------------------------------------------------------ report files
_FIGURE_CAPTIONS = {
    "learning_curves": "Test accuracy per epoch of every run (solid: device runs, one colour per "
                       "swept-axis setting; dashed/dotted: references on the ideal digital twin).",
    "energy_breakdown": "Energy per training step by component, mean over the runs holding each "
                        "report: device reports left of the dashed line, GPU baselines right. "
                        "Top: stacked absolute energy (log scale); bottom: each part's share.",
    "accuracy_vs_energy": "Final test accuracy against each run's device training energy "
                          "(energy per step × steps); black: the Pareto front.",
}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "axis"


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _summary_table(df, axes: Sequence[str], seeds: Sequence[str]) -> str:
    cols = ["path", *axes, *seeds, "status"]
    if "message" in df.columns and (df["message"].astype(str) != "").any():
        cols.append("message")                       # why a run diverged or stopped
    metric_cols = [c for c in df.columns if c == "test_accuracy"
                   or (c.startswith("ref.") and c.endswith(".test_accuracy"))]
    view = df[cols + metric_cols].copy()
    view["path"] = [Path(p).name for p in view["path"]]
    for c in ("energy_per_step_j", "train_energy_j"):
        if c in df.columns:
            view[c.replace("_j", " [J]")] = [format_si(v, "J") for v in df[c]]
    for c in metric_cols:
        view[c] = [f"{v:.4f}" if v == v else "" for v in view[c]]
    return view.to_html(index=False, border=0, classes="runs")


def _cost_html(df) -> str:
    from .plots import energy_breakdown
    names, comps, energy, gpu = energy_breakdown(df)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["report", "kind", "total", *comps,
                                                          "latency per step"])
    body = []
    for i, n in enumerate(names):
        lat = df.get(f"cost.{n}.total_latency_s")
        lat_text = format_si(lat.mean(), "s") if lat is not None else ""
        cells = [html.escape(n), "GPU" if gpu[i] else "device", format_si(energy[i].sum(), "J")]
        cells += [format_si(v or None, "J") for v in energy[i]] + [lat_text]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table class='cost'><tr>{head}</tr>{''.join(body)}</table>"


def write_report(paths: "str | Path | Iterable[str | Path]", out_dir: str | Path) -> list[Path]:
    """Write the report of the runs under ``paths`` into ``out_dir``; returns the files written.

    Files: ``learning_curves.png``; ``accuracy_vs_<axis>.png`` per swept axis (a config key
    that varies across the runs, seeds excluded; mean and min–max over seeds);
    ``energy_breakdown.png`` and ``accuracy_vs_energy.png`` when the runs were priced;
    ``runs.csv`` (every scalar per run, the :func:`experiments.load` table) and ``report.html``
    (self-contained: the plots as base64 PNG and the tables).

    Raises:
        ValueError: ``out_dir`` exists and is not a directory, or no results file was found.
    """
    from .plots import (ACCURACY, accuracy_vs_axis_figure, accuracy_vs_energy_figure,
                        axis_summary, energy_breakdown_figure, is_seed_key,
                        learning_curves_figure, run_labels, swept_axes)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out = {str(out)!r} is an existing file; allowed: a directory "
                         "(created if missing)")
    files, skipped = find_results(paths)
    records = [(f, read_results(f)) for f in files]
    df = frame_from_records(records)
    df.attrs["skipped"] = skipped
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"out = {str(out)!r} cannot be created ({e.strerror}); allowed: a writable "
                         "directory path") from None

    axes = swept_axes(df)
    seeds = [c for c in df.attrs["config_columns"] if is_seed_key(c) and c in df.columns]
    labels = run_labels(df, axes)
    figures: list[tuple[str, Path]] = []
    written: list[Path] = []

    def add(key: str, caption: str, fig) -> None:
        path = _save(fig, out / f"{key}.png")
        figures.append((caption, path))
        written.append(path)

    add("learning_curves", _FIGURE_CAPTIONS["learning_curves"],
        learning_curves_figure([r for _, r in records], labels))
    summaries = []
    has_acc = ACCURACY in df.columns and df[ACCURACY].notna().any()
    for axis in axes if has_acc else []:
        others = [a for a in axes if a != axis]
        add(f"accuracy_vs_{_slug(axis)}",
            f"Final test accuracy against {axis}: mean over seeds, bars from min to max"
            + (f"; one line per setting of {', '.join(others)}." if others else "."),
            accuracy_vs_axis_figure(df, axis, others))
        summaries.append((axis, axis_summary(df, axis, ACCURACY, others)))
    priced = any(c.startswith("cost.") for c in df.columns)
    if priced:
        add("energy_breakdown", _FIGURE_CAPTIONS["energy_breakdown"], energy_breakdown_figure(df))
        # training energy needs the step count; without it, energy per step ranks runs alike
        energy_col = next((c for c in ("train_energy_j", "energy_per_step_j")
                           if df[c].notna().any()), None)
        if has_acc and energy_col:
            caption = _FIGURE_CAPTIONS["accuracy_vs_energy"]
            if energy_col == "energy_per_step_j":
                caption = caption.replace("training energy (energy per step × steps)",
                                          "energy per training step (no step count recorded)")
            add("accuracy_vs_energy", caption,
                accuracy_vs_energy_figure(df, labels, energy_col=energy_col))

    csv_path = out / "runs.csv"
    df.to_csv(csv_path, index=False)
    written.append(csv_path)

    parts = [f"<h1>forwardlab report</h1><p>{len(df)} run(s) from "
             f"{html.escape(', '.join(map(str, [paths] if isinstance(paths, (str, Path)) else paths)))}"
             f". Swept axes: {html.escape(', '.join(axes) or 'none')}; seed keys: "
             f"{html.escape(', '.join(seeds) or 'none')}. Every scalar per run: "
             f"<code>{csv_path.name}</code>.</p>",
             "<h2>Runs</h2>", _summary_table(df, axes, seeds)]
    if skipped:
        parts.append("<p>Skipped (not results files): "
                     + "; ".join(html.escape(f"{p}: {why}") for p, why in skipped) + "</p>")
    parts.append("<h2>Plots</h2>")
    for caption, path in figures:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(f"<figure><img alt='{html.escape(path.stem)}' "
                     f"src='data:image/png;base64,{data}'><figcaption>{html.escape(caption)}"
                     "</figcaption></figure>")
    for axis, s in summaries:
        parts += [f"<h3>Test accuracy by {html.escape(axis)} (over seeds)</h3>",
                  s.to_html(index=False, border=0, float_format=lambda v: f"{v:.4f}")]
    if priced:
        parts += ["<h2>Cost per training step (mean over runs)</h2>",
                  "<p>Cost levels: " + html.escape(", ".join(sorted(
                      {_cost_level(r.config) for _, r in records}))) + "</p>", _cost_html(df)]
    parts += ["<details><summary>All columns</summary>",
              df.to_html(index=False, border=0, na_rep=""), "</details>"]
    style = ("body{font-family:sans-serif;margin:2em;max-width:1200px}"
             "table{border-collapse:collapse;font-size:12px;margin:1em 0}"
             "td,th{border-bottom:1px solid #ddd;padding:2px 8px;text-align:right}"
             "img{max-width:100%}figure{margin:1em 0}figcaption{font-size:13px;color:#444}")
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>forwardlab report</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
    html_path = out / "report.html"
    html_path.write_text(page, encoding="utf-8")
    written.append(html_path)
    return written

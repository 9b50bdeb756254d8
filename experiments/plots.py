"""Report figures (matplotlib, Agg backend) and the pure functions that choose their data.

Every figure builder returns a ``Figure`` (tests read the plotted data back from it); the
pure helpers — swept axes, the seed summary per axis value, the energy breakdown and the
Pareto front — are tested on hand-made cases.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")   # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from .frame import is_gpu_report  # noqa: E402
from .results import RunRecord  # noqa: E402
from .si import format_si  # noqa: E402

__all__ = ["is_seed_key", "swept_axes", "axis_summary", "pareto_front", "energy_breakdown",
           "learning_curves_figure", "accuracy_vs_axis_figure", "energy_breakdown_figure",
           "accuracy_vs_energy_figure", "ACCURACY"]

ACCURACY = "test_accuracy"
# config keys that differ per run without being an experimental axis
_NOT_AXES = {"out", "output", "out_dir", "run_id", "name", "path"}
_MAX_LEGEND = 12


def is_seed_key(key: str) -> bool:
    """A random-seed config key: "seed", "run.seed", "data_seed", "device.fab_seed"."""
    leaf = key.rsplit(".", 1)[-1]
    return leaf == "seed" or leaf.endswith("_seed")


def _hashable(series: pd.Series) -> pd.Series:
    return series.map(lambda v: "<nan>" if isinstance(v, float) and math.isnan(v) else v)


def swept_axes(df: pd.DataFrame) -> list[str]:
    """Config columns that vary across the runs, seeds and output paths excluded.

    A column whose value is determined by an axis already chosen (``device.kind`` by
    ``device.preset``, the resolved cost-spec values by ``cost.level``) is not an axis of its
    own. Columns with more distinct values are considered first, so the finer key is the axis.
    """
    cols = df.attrs.get("config_columns") or []
    candidates = []
    for i, c in enumerate(cols):
        if c not in df.columns or is_seed_key(c) or c.rsplit(".", 1)[-1] in _NOT_AXES:
            continue
        values = _hashable(df[c])
        n = values.nunique()
        if n >= 2:
            candidates.append((-n, i, c, pd.Series(pd.factorize(values)[0], index=df.index)))
    axes: list[str] = []
    partitions: list[pd.Series] = []
    for _, _, c, codes in sorted(candidates, key=lambda t: (t[0], t[1])):
        if any((pd.crosstab(p, codes) > 0).sum(axis=1).max() == 1 for p in partitions):
            continue          # a function of an earlier axis
        axes.append(c)
        partitions.append(codes)
    return sorted(axes, key=cols.index)


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
               for v in values)


def axis_summary(df: pd.DataFrame, axis: str, metric: str = ACCURACY,
                 by: Sequence[str] = ()) -> pd.DataFrame:
    """Seed spread of ``metric`` per value of ``axis`` (and of the ``by`` columns).

    Returns one row per (``by``..., ``axis``) value with columns ``mean``, ``std`` (sample
    standard deviation, 0 for one run), ``min``, ``max`` and ``n`` (runs, i.e. seeds), sorted.
    Runs whose ``metric`` is NaN (a diverged run) are left out of the statistics.
    """
    for c in (axis, metric, *by):
        if c not in df.columns:
            raise ValueError(f"column {c!r} is not in the runs table; allowed: one of "
                             f"{', '.join(map(repr, df.columns))}")
    keys = [*by, axis]
    data = df[keys + [metric]].dropna(subset=[metric])
    g = data.groupby(keys, sort=True)[metric]
    out = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1).fillna(0.0), "min": g.min(),
                        "max": g.max(), "n": g.size()}).reset_index()
    return out


def pareto_front(energy: Sequence[float], accuracy: Sequence[float]) -> list[int]:
    """Indices of the runs no other run beats on both energy (lower) and accuracy (higher).

    Ordered by increasing energy. Of exact duplicates only the first is kept; NaN points are
    never on the front.
    """
    e = np.asarray(energy, dtype=float)
    a = np.asarray(accuracy, dtype=float)
    if e.shape != a.shape or e.ndim != 1:
        raise ValueError(f"energy and accuracy have shapes {e.shape} and {a.shape}; allowed: "
                         "two 1-D sequences of the same length")
    ok = np.flatnonzero(np.isfinite(e) & np.isfinite(a))
    order = ok[np.lexsort((-a[ok], e[ok]))]      # energy ascending, then accuracy descending
    front, best = [], -math.inf
    for i in order:
        if a[i] > best:
            front.append(int(i))
            best = a[i]
    return front


def energy_breakdown(df: pd.DataFrame) -> tuple[list[str], list[str], np.ndarray, list[bool]]:
    """Mean energy per training step of every cost report, by component.

    Returns ``(reports, components, energy_j, gpu)``: ``energy_j[r, c]`` in J (0 where a
    report lacks the component), the mean over the runs that hold report ``r``; device
    reports come first, then the GPU ones (``gpu[r]`` tells which).
    """
    reports: dict[str, dict[str, float]] = {}
    for col in df.columns:
        if not col.startswith("cost.") or ".energy_j." not in col:
            continue
        name, comp = col[len("cost."):].rsplit(".energy_j.", 1)
        reports.setdefault(name, {})[comp] = float(df[col].mean(skipna=True))
    flags = {n: is_gpu_report(n, {"weight_mode.digital": df[f"cost.{n}.weight_mode.digital"].iloc[0]}
                              if f"cost.{n}.weight_mode.digital" in df.columns else {})
             for n in reports}
    names = [n for n in reports if not flags[n]] + [n for n in reports if flags[n]]
    comps: list[str] = []
    for n in names:
        comps += [c for c in reports[n] if c not in comps]
    matrix = np.array([[reports[n].get(c, 0.0) for c in comps] for n in names], dtype=float)
    matrix = np.nan_to_num(matrix, nan=0.0).reshape(len(names), len(comps))
    return names, comps, matrix, [flags[n] for n in names]


# ------------------------------------------------------------------------------ figures
def _run_label(row: pd.Series, axes: Sequence[str]) -> str:
    return ", ".join(f"{a.rsplit('.', 1)[-1]}={row[a]}" for a in axes) or str(row.get("path", ""))


def learning_curves_figure(records: Sequence[RunRecord], labels: Sequence[str]) -> Figure:
    """Test accuracy per epoch: device runs solid (one colour per label, i.e. per swept-axis
    setting, seeds sharing it), references dashed grey/black."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = {lab: f"C{i % 10}" for i, lab in enumerate(dict.fromkeys(labels))}
    shown: set[str] = set()
    ref_styles = {"mf-ad": ("0.45", "--"), "bp": ("0.0", ":")}
    for rec, lab in zip(records, labels):
        y = rec.history.get(ACCURACY, [])
        if y:
            ax.plot(np.arange(1, len(y) + 1), y, color=colours[lab], marker="o", ms=3,
                    label=lab if lab not in shown and len(shown) < _MAX_LEGEND else None)
            shown.add(lab)
        for algo, hist in rec.references.items():
            y = hist.get(ACCURACY, [])
            if not y:
                continue
            colour, style = ref_styles.get(algo, ("0.6", "-."))
            name = f"{algo.upper()} (ideal digital twin, autograd)"
            ax.plot(np.arange(1, len(y) + 1), y, color=colour, ls=style, marker=".",
                    label=name if name not in shown else None)
            shown.add(name)
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("test accuracy")
    ax.set_title("Learning curves")
    ax.grid(alpha=0.3)
    if shown:
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def accuracy_vs_axis_figure(df: pd.DataFrame, axis: str, others: Sequence[str] = (),
                            metric: str = ACCURACY) -> Figure:
    """``metric`` against one swept axis: mean over seeds with a min–max bar, one line per
    setting of the other axes. Numeric axes spanning > 10× use a log scale."""
    by = [o for o in others if o != axis]
    summary = axis_summary(df, axis, metric, by)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    values = list(dict.fromkeys(summary[axis]))
    numeric = _numeric(values)
    positions = {v: (float(v) if numeric else i) for i, v in enumerate(sorted(values, key=str)
                                                                          if not numeric else values)}
    groups = summary.groupby(by, sort=True) if by else [((), summary)]
    for i, (key, part) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        x = np.array([positions[v] for v in part[axis]], dtype=float)
        order = np.argsort(x)
        mean, lo, hi = (part[c].to_numpy(float)[order] for c in ("mean", "min", "max"))
        label = ", ".join(f"{b.rsplit('.', 1)[-1]}={k}" for b, k in zip(by, key)) or None
        ax.errorbar(x[order], mean, yerr=[mean - lo, hi - mean], marker="o", capsize=4,
                    color=f"C{i % 10}", label=label if i < _MAX_LEGEND else None)
    if numeric:
        vals = np.array([float(v) for v in values])
        if np.all(vals > 0) and vals.max() / vals.min() > 10:
            ax.set_xscale("log")
    else:
        ax.set_xticks(list(positions.values()), [str(v) for v in positions], rotation=20)
    n = summary["n"]
    ax.set_xlabel(axis)
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(f"{metric.replace('_', ' ')} vs {axis} (mean, min–max over "
                 f"{n.min()}{'' if n.min() == n.max() else f'–{n.max()}'} seed(s))")
    ax.grid(alpha=0.3)
    if by:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def energy_breakdown_figure(df: pd.DataFrame) -> Figure:
    """Energy per training step by component, stacked bars, device reports next to GPU ones.

    Two panels share the bars: absolute energy (log scale, one bar per report: the total) and
    each component's share of it (stacked to 100 %), so that parts orders of magnitude apart
    stay visible. The total is written above each bar.
    """
    names, comps, energy, gpu = energy_breakdown(df)
    if not names:
        raise ValueError("the runs hold no cost report; allowed: runs that finished and were priced")
    totals = energy.sum(axis=1)
    x = np.arange(len(names), dtype=float) + np.array(gpu, dtype=float) * 0.6   # gap before GPUs
    fig, (ax_abs, ax_share) = plt.subplots(2, 1, figsize=(max(7.0, 0.75 * len(names) + 3), 7.5),
                                           sharex=True, gridspec_kw={"height_ratios": [1, 1.4]})
    colours = plt.get_cmap("tab20").colors
    bottom_abs = np.zeros(len(names))
    bottom_share = np.zeros(len(names))
    share = np.divide(energy, totals[:, None], out=np.zeros_like(energy), where=totals[:, None] > 0)
    for j, comp in enumerate(comps):
        c = colours[j % len(colours)]
        ax_abs.bar(x, energy[:, j], bottom=bottom_abs, color=c, width=0.7, label=comp)
        ax_share.bar(x, 100 * share[:, j], bottom=bottom_share, color=c, width=0.7)
        bottom_abs += energy[:, j]
        bottom_share += 100 * share[:, j]
    positive = totals[totals > 0]
    if positive.size:
        ax_abs.set_yscale("log")
        ax_abs.set_ylim(positive.min() / 30, positive.max() * 5)
    for xi, t in zip(x, totals):
        ax_abs.text(xi, t * 1.3 if t > 0 else 0, format_si(t, "J"), ha="center", va="bottom",
                    fontsize=7)
    ax_abs.set_ylabel("energy per step [J]")
    ax_share.set_ylabel("share of step energy [%]")
    ax_share.set_ylim(0, 100)
    ax_share.set_xticks(x, names, rotation=35, ha="right", fontsize=7)
    if any(gpu) and not all(gpu):
        first_gpu = gpu.index(True)
        split = (x[first_gpu - 1] + x[first_gpu]) / 2
        for a in (ax_abs, ax_share):
            a.axvline(split, color="0.5", lw=0.8, ls="--")
        top = ax_share.get_xaxis_transform()
        for lo, hi, text in ((x[0], x[first_gpu - 1], "device"), (x[first_gpu], x[-1], "GPU")):
            ax_share.text((lo + hi) / 2, 1.01, text, transform=top, ha="center", va="bottom",
                          fontsize=8, color="0.3")
    ax_abs.set_title("Energy per training step by component (device | GPU baselines)")
    ax_abs.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def accuracy_vs_energy_figure(df: pd.DataFrame, labels: Sequence[str],
                              energy_col: str = "train_energy_j", metric: str = ACCURACY) -> Figure:
    """Final ``metric`` against the run's device training energy (log x), one point per run,
    with the Pareto front (lowest energy for a given accuracy) drawn as a step line."""
    e = df[energy_col].to_numpy(float)
    a = df[metric].to_numpy(float)
    front = pareto_front(e, a)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    colours = {lab: f"C{i % 10}" for i, lab in enumerate(dict.fromkeys(labels))}
    shown: set[str] = set()
    for xi, yi, lab in zip(e, a, labels):
        if not (math.isfinite(xi) and math.isfinite(yi)):
            continue
        ax.scatter([xi], [yi], color=colours[lab], s=28, zorder=3,
                   label=lab if lab not in shown and len(shown) < _MAX_LEGEND else None)
        shown.add(lab)
    if front:
        ax.step(e[front], a[front], where="post", color="k", lw=1.2, zorder=2,
                label="Pareto front")
        ax.scatter(e[front], a[front], facecolors="none", edgecolors="k", s=80, zorder=4)
    finite = e[np.isfinite(e) & (e > 0)]
    if finite.size:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_si(v, "J")))
        narrow = finite.max() / finite.min() < 30          # few decades: label 2× and 5× ticks too
        ax.xaxis.set_minor_formatter(FuncFormatter(
            lambda v, _: format_si(v, "J") if narrow and v > 0 and
            round(v / 10 ** math.floor(math.log10(v))) in (2, 5) else ""))
    what = {"train_energy_j": "training energy",
            "energy_per_step_j": "energy per training step"}.get(energy_col, energy_col)
    ax.set_xlabel(f"device {what}")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title("Accuracy against energy per run")
    ax.grid(alpha=0.3, which="both")
    if shown:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def run_labels(df: pd.DataFrame, axes: Sequence[str]) -> list[str]:
    """Legend label of each run: its swept-axis values (seeds share a label)."""
    return [_run_label(row, axes) for _, row in df.iterrows()]


__all__ += ["run_labels"]

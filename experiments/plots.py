"""Report figures (matplotlib, Agg backend) and the pure functions that choose their data.

Every figure builder returns a ``Figure`` (tests read the plotted data and the text layout back
from it). What the figures follow:

* the comparison's axes are the sweep's declared axes (``df.attrs["axes"]``, see
  :mod:`experiments.axes`); a categorical axis (algorithm, preset, estimator, ...) is drawn as
  grouped points with every seed shown and the min–max spread, never joined by lines; a
  numeric axis as a line through the seed means with a min–max band;
* every series is named in words — the algorithm and the device of its runs
  (``algorithm_label``, ``device_label``) and the other axes' values with units;
* axis titles are :func:`experiments.axes.axis_name` with the unit; a log axis is used only
  where at least two decade ticks fall inside the data, else a linear one; energies are shown in
  one SI-prefixed unit per axis;
* colours: the Okabe–Ito palette for series; device cost parts in Paul Tol's "muted" colours,
  GPU parts in hatched greys, so the two never look alike (both schemes are colour-blind safe:
  Okabe & Ito 2008, https://jfly.uni-koeln.de/color/; Tol 2021, https://personal.sron.nl/~pault/).
"""
from __future__ import annotations

import math
import textwrap
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")   # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, ScalarFormatter  # noqa: E402

from .axes import axis_name, is_categorical, is_seed_key  # noqa: E402
from .frame import is_gpu_report  # noqa: E402
from . import labels  # noqa: E402
from .si import unit_of  # noqa: E402

__all__ = ["is_seed_key", "axis_summary", "pareto_front", "energy_breakdown", "series",
           "value_text", "si_scale", "learning_curves_figure", "accuracy_vs_axis_figure",
           "energy_breakdown_figure", "accuracy_vs_energy_figure", "ACCURACY", "MIN_PARETO_RUNS",
           "SERIES_COLOURS", "DEVICE_PART_COLOURS", "GPU_PART_COLOURS"]

ACCURACY = "test_accuracy"
MIN_PARETO_RUNS = 3          # a front of one or two points says nothing
# Okabe & Ito (2008) colour-blind-safe qualitative palette (black last: it is the reference ink)
SERIES_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
                  "#000000")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
# Tol (2021) "muted" scheme for device parts; GPU parts: greys with a hatch
DEVICE_PART_COLOURS = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77",
                       "#CC6677", "#882255", "#AA4499", "#EE8866")   # + Tol "light" orange
GPU_PART_COLOURS = ("#3B3B3B", "#7A7A7A", "#ADADAD", "#D6D6D6", "#5A5A5A", "#C2C2C2")
GPU_HATCH = "///"
_REF_STYLES = {"mf-ad": "--", "bp": ":"}
_REF_WORDS = {"mf-ad": "MF-AD", "bp": "BP"}
_WIDTH_IN = 7.0              # figure width; titles wrap to it
_CHARS_PER_IN = 11           # characters of 10-pt text per inch (titles wrap at this)


# ------------------------------------------------------------------------------ pure helpers
def axis_summary(df: pd.DataFrame, axis: str, metric: str = ACCURACY,
                 by: Sequence[str] = ()) -> pd.DataFrame:
    """Seed spread of ``metric`` per value of ``axis`` (and of the ``by`` columns).

    Returns one row per (``by``..., ``axis``) value present, with columns ``mean``, ``std``
    (sample standard deviation, 0 for one run), ``min``, ``max`` and ``n`` (runs, i.e. seeds),
    in axis order. Runs whose ``metric`` is NaN (a diverged run) are left out of the statistics.
    """
    for c in (axis, metric, *by):
        if c not in df.columns:
            raise ValueError(f"column {c!r} is not in the runs table; allowed: one of "
                             f"{', '.join(map(repr, df.columns))}")
    keys = list(dict.fromkeys([*by, axis]))
    data = df[keys + [metric]].dropna(subset=[metric])
    g = data.groupby(keys, sort=True, observed=True)[metric]
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


def value_text(key: str, value: Any, units: dict | None = None, with_unit: bool = True) -> str:
    """One axis value as a reader reads it: "0.02 rad", "6", "mzi-default" (``with_unit``
    False: "0.02", for a table whose header carries the unit)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15 and \
            not key.endswith(("_rad", "_s", "_j")):
        value = int(value)
    unit = ((units or {}).get(key) or unit_of(key)) if with_unit else ""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
            and unit and unit != "1":
        return f"{value:g} {unit}"
    if isinstance(value, (float, np.floating)):
        return f"{value:g}"
    return str(value)


def _short_name(key: str) -> str:
    """Axis name without the unit (the value carries it): "phase noise σ"."""
    name = axis_name(key)
    return name[: name.rfind(" (")] if name.endswith(")") and " (" in name else name


def series(df: pd.DataFrame, shown: Sequence[str]) -> list[tuple[tuple, str, np.ndarray]]:
    """The comparison's series: runs sharing the algorithm, the device and every value of the
    ``shown`` axes (seeds apart). Returns ``[(key, label, row positions)]`` in axis order; the
    label names the algorithm and the device in words, then each other shown axis with its value
    and unit ("MF+DD on MZI mesh (mzi-default), phase noise σ = 0.02 rad")."""
    units = df.attrs.get("units", {})
    extra = [a for a in shown if a not in ("algorithm.name", "device.preset", "device.kind")]
    keys = ["algorithm_label", "device_label", *extra]
    view = df.reset_index(drop=True)
    groups = view.groupby(keys, sort=True, observed=True, dropna=False).indices if len(view) else {}
    out = []
    for key, rows in groups.items():
        key = key if isinstance(key, tuple) else (key,)
        label = f"{key[0]} on {key[1]}"
        label += "".join(f", {_short_name(a)} = {value_text(a, v, units)}"
                         for a, v in zip(extra, key[2:]))
        out.append((key, label, np.sort(np.asarray(rows))))
    return out


def si_scale(values: Sequence[float], unit: str) -> tuple[float, str]:
    """One SI prefix for a whole axis or table column: ``(factor, prefixed unit)`` with
    ``value / factor`` in [1, 1000) for the median magnitude (``[1e-3, 0.05]`` J → (1e-3, "mJ"))."""
    from .si import SI_PREFIXES
    v = np.abs(np.asarray([x for x in values if x is not None and np.isfinite(x) and x != 0],
                          dtype=float))
    if not v.size:
        return 1.0, unit
    exp3 = int(np.clip(math.floor(math.log10(float(np.median(v))) / 3), min(SI_PREFIXES),
                       max(SI_PREFIXES)))
    return 1000.0 ** exp3, f"{SI_PREFIXES[exp3]}{unit}"


def _colour(i: int) -> str:
    return SERIES_COLOURS[i % len(SERIES_COLOURS)]


def _marker(i: int) -> str:
    return _MARKERS[(i // len(SERIES_COLOURS) + i) % len(_MARKERS)]


def _wrap(text: str, width_in: float = _WIDTH_IN, scale: float = 1.0) -> str:
    return textwrap.fill(text, max(20, int(width_in * _CHARS_PER_IN * scale)))


def _title(ax, text: str, width_in: float = _WIDTH_IN) -> None:
    ax.set_title(_wrap(text, width_in * 0.95), fontsize=10)


def _n_text(n: Sequence[int] | np.ndarray) -> str:
    n = [int(x) for x in n]
    lo, hi = min(n), max(n)
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def _legend(fig: Figure, handles, labels, title: str | None = None) -> None:
    """A legend under the plot (never over the data), one column when the names are long."""
    if not handles:
        return
    longest = max(len(lab) for lab in labels)
    ncols = 1 if longest > 38 else (2 if longest > 18 else 3)
    fig.legend(handles, labels, loc="outside lower center", ncols=min(ncols, len(labels)),
               fontsize=8, title=title, title_fontsize=8, frameon=False)


def _fig(height: float, n_legend: int = 0, width: float = _WIDTH_IN):
    """A constrained-layout figure tall enough for ``n_legend`` legend rows below the plot."""
    return plt.figure(figsize=(width, height + 0.2 * n_legend), layout="constrained")


def _decade_ticks(lo: float, hi: float) -> int:
    """Powers of ten inside [lo, hi] (both > 0)."""
    return max(0, math.floor(math.log10(hi) + 1e-9) - math.ceil(math.log10(lo) - 1e-9) + 1)


def _numeric_axis(axis, values: np.ndarray) -> None:
    """Log scale where at least two decade ticks fall inside the data, else linear; plain
    numbers without an offset, no minor labels, never fewer than two labelled ticks."""
    v = values[np.isfinite(values)]
    ax_obj = axis.axes
    setter = ax_obj.set_xscale if axis is ax_obj.xaxis else ax_obj.set_yscale
    if v.size and np.all(v > 0) and _decade_ticks(v.min(), v.max()) >= 2:
        setter("log")
        axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        axis.set_minor_formatter(NullFormatter())
        return
    setter("linear")
    axis.set_major_locator(MaxNLocator(nbins=6, min_n_ticks=3))
    fmt = ScalarFormatter(useOffset=False)
    fmt.set_scientific(False)
    axis.set_major_formatter(fmt)
    if v.size and v.min() == v.max():    # one value: a span around it so ticks exist
        pad = abs(v[0]) * 0.1 or 1.0
        (ax_obj.set_xlim if axis is ax_obj.xaxis else ax_obj.set_ylim)(v[0] - pad, v[0] + pad)


def _accuracy_axis(ax, metric: str = ACCURACY) -> None:
    ax.set_ylabel(metric.replace("_", " "))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, min_n_ticks=3))
    lo, hi = ax.get_ylim()
    if hi - lo < 0.02:                       # a flat set of runs: a readable span around it
        mid = (hi + lo) / 2
        ax.set_ylim(mid - 0.01, mid + 0.01)


def _category_text(axis: str, value: Any, df: pd.DataFrame) -> str:
    """Tick text of a categorical value: the algorithm or device in words where the axis names
    one, else the value."""
    col = {"algorithm.name": "algorithm_label", "device.preset": "device_label",
           "device.kind": "device_label"}.get(axis)
    if col and col in df.columns:
        words = set(df.loc[df[axis] == value, col].astype(str))
        if len(words) == 1:           # one name in words (else the runs differ: say the value)
            return textwrap.fill(words.pop(), 22)
    return textwrap.fill(value_text(axis, value, df.attrs.get("units")), 22)


# ------------------------------------------------------------------------------ figures
def learning_curves_figure(df: pd.DataFrame, records: Sequence, axes: Sequence[str] | None = None,
                           metric: str = ACCURACY) -> Figure:
    """``metric`` per epoch: one colour per series (mean over its seeds, min–max band); each
    series' own references (MF-AD dashed, BP dotted, on the ideal twin) in the same colour, so a
    reference curve belongs to its runs. ``records[i]`` is the record of ``df`` row ``i``."""
    axes = list(df.attrs.get("axes", []) if axes is None else axes)
    groups = series(df, axes)
    fig = _fig(4.2, len(groups) + 2)
    ax = fig.add_subplot()
    n_epochs = 1
    handles, labels = [], []
    for i, (_, label, rows) in enumerate(groups):
        colour = _colour(i)
        curves = {"run": [records[r].history.get(metric, []) for r in rows]}
        for algo in _REF_STYLES:
            curves[algo] = [records[r].references.get(algo, {}).get(metric, []) for r in rows]
        for kind, ys in curves.items():
            ys = [y for y in ys if len(y)]
            if not ys:
                continue
            n = min(map(len, ys))
            arr = np.array([y[:n] for y in ys], dtype=float)
            x = np.arange(1, n + 1)
            n_epochs = max(n_epochs, n)
            style = "-" if kind == "run" else _REF_STYLES[kind]
            ax.plot(x, np.nanmean(arr, axis=0), color=colour, ls=style, lw=1.6 if kind == "run" else 1.1,
                    marker=_marker(i) if kind == "run" else None, ms=4)
            if len(ys) > 1:
                ax.fill_between(x, np.nanmin(arr, axis=0), np.nanmax(arr, axis=0), color=colour,
                                alpha=0.15 if kind == "run" else 0.07, lw=0)
        n = len(rows)
        handles.append(Line2D([], [], color=colour, marker=_marker(i), lw=1.6))
        labels.append(f"{label} ({n} run{'s' if n > 1 else ''})")
    refs = [k for k in _REF_STYLES if any(records[r].references.get(k) for r in range(len(df)))]
    for k in refs:
        handles.append(Line2D([], [], color="0.3", ls=_REF_STYLES[k], lw=1.1))
        labels.append(f"{_REF_WORDS[k]} reference of the same run{'s' if len(df) > 1 else ''} "
                      "(ideal digital twin, autograd)")
    ax.set_xlabel("epoch")
    ax.set_xlim(0.7, max(n_epochs, 2) + 0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
    _accuracy_axis(ax, metric)
    spread = " (line: mean over seeds; band: min–max)" if any(len(g[2]) > 1 for g in groups) else ""
    _title(ax, f"{metric.replace('_', ' ').capitalize()} per epoch{spread}")
    ax.grid(alpha=0.3)
    _legend(fig, handles, labels)
    return fig


def accuracy_vs_axis_figure(df: pd.DataFrame, axis: str, others: Sequence[str] = (),
                            metric: str = ACCURACY) -> Figure:
    """``metric`` against one axis, one series per setting of the ``others`` (and per
    algorithm and device). Numeric axis: line through the seed means, min–max band, seeds as
    faint points. Categorical axis: the series side by side at each value, every seed a point,
    the mean a larger marker with a min–max bar — no lines between values."""
    units = df.attrs.get("units", {})
    data = df[df[metric].notna()]
    groups = series(data, [o for o in others if o != axis])
    values = [v for v in (df[axis].cat.categories if isinstance(df[axis].dtype, pd.CategoricalDtype)
                          else dict.fromkeys(df[axis])) if (data[axis] == v).any()]
    categorical = is_categorical(axis, values)
    fig = _fig(4.0, len(groups))
    ax = fig.add_subplot()
    handles, labels, counts = [], [], []
    width = 0.7 / max(1, len(groups))
    for i, (_, label, rows) in enumerate(groups):
        part = data.iloc[rows]
        colour, marker = _colour(i), _marker(i)
        xs, means, los, his = [], [], [], []
        for j, v in enumerate(values):
            y = part.loc[part[axis] == v, metric].to_numpy(float)
            if not y.size:
                continue
            x = (j + (i - (len(groups) - 1) / 2) * width) if categorical else float(v)
            xs.append(x)
            means.append(y.mean())
            los.append(y.min())
            his.append(y.max())
            counts.append(y.size)
            jitter = (np.linspace(-0.25, 0.25, y.size) * width) if categorical else np.zeros(y.size)
            ax.scatter(x + jitter, y, s=12, color=colour, alpha=0.45, lw=0, zorder=2)
        xs, means, los, his = map(np.asarray, (xs, means, los, his))
        if categorical:
            ax.errorbar(xs, means, yerr=[means - los, his - means], fmt=marker, ms=7, color=colour,
                        capsize=4, ls="none", zorder=3)
        else:
            order = np.argsort(xs)
            ax.plot(xs[order], means[order], color=colour, marker=marker, ms=6, zorder=3)
            ax.fill_between(xs[order], los[order], his[order], color=colour, alpha=0.18, lw=0)
        handles.append(Line2D([], [], color=colour, marker=marker, ls="none" if categorical else "-"))
        labels.append(label)
    if categorical:
        ax.set_xticks(range(len(values)), [_category_text(axis, v, df) for v in values], fontsize=8)
        ax.set_xlim(-0.6, len(values) - 0.4)
    else:
        _numeric_axis(ax.xaxis, np.array([float(v) for v in values]))
    ax.set_xlabel(axis_name(axis, units.get(axis)))
    _accuracy_axis(ax, metric)
    how = "points: seeds; marker and bar: mean, min–max" if categorical else \
        "line: mean over seeds; band: min–max; points: seeds"
    _title(ax, f"{metric.replace('_', ' ').capitalize()} by {_short_name(axis)} "
               f"({_n_text(counts or [0])} run(s) per point; {how})")
    ax.grid(alpha=0.3, axis="y" if categorical else "both")
    _legend(fig, handles, labels)
    return fig


# ------------------------------------------------------------------------------ energy
_PART_WORDS = {"modulators_dacs": "modulators + DACs", "adcs": "ADCs", "host_static": "host static",
               "converters_idle": "converters idle"}


def _part_words(part: str) -> str:
    return _PART_WORDS.get(part, part.replace("_", " "))


def _report_words(name: str, row: pd.Series, n_presets: int) -> tuple[str, str]:
    """(words, note mark) of one cost report of a run: the run's own device row
    "MF+DD on MZI mesh (mzi-default)"; a companion device row (one step of the same algorithm
    traced on another preset) "MF+DD on crossbar-default †"; a GPU row "MF+DD on GPU H100 SXM5 *"
    (the run's traced operation counts priced on the GPU; BP: the same network's BP step)."""
    algo = str(row.get("algorithm_label", ""))
    if name == row.get("cost_device"):
        return f"{algo} on {row.get('device_label', '')}", ""
    if name.startswith("GPU ") and ": " in name:
        gpu, what = name[4:].split(": ", 1)
        if what == "BP":
            return f"BP step of the same network on GPU {gpu}", ""
        where = f" (traced on {row.get('device.preset', row.get('device_preset', ''))})" \
            if n_presets > 1 else ""
        return f"{algo} on GPU {gpu}{where}", "*"
    preset = name.rsplit(" ", 1)[0] if " " in name else name
    kind = labels.preset_kind_words(preset)
    return f"{algo} on {kind} ({preset})" if kind else f"{algo} on {preset}", "†"


def _trained_pairs(df: pd.DataFrame) -> set[tuple[str, str]]:
    """(algorithm name, device preset) of every run: a companion row for a pair some run was
    trained on repeats that run's own row."""
    algo = df.get("algorithm.name", df.get("algorithm", pd.Series([""] * len(df))))
    preset = df.get("device.preset", df.get("device_preset", pd.Series([""] * len(df))))
    return {(str(a), str(p)) for a, p in zip(algo, preset)}


def energy_breakdown(df: pd.DataFrame) -> tuple[list[str], list[str], np.ndarray, list[bool],
                                                list[int], list[str]]:
    """Mean energy per training step of every cost row, by part.

    Rows are named in words (:func:`_report_words`: the algorithm of the run and the device or
    GPU), so rows of different algorithms are never averaged together; timed-only rows (no
    energy) are left out. Returns ``(rows, parts, energy_j, gpu, n_runs, marks)``:
    ``energy_j[r, c]`` in J (0 where a row lacks the part) is the mean over the ``n_runs[r]``
    runs holding row ``r``; device rows come first, then GPU ones (``gpu[r]``); ``marks[r]`` is
    "†" for a row traced on another device than the run trained on, "*" for a GPU row priced
    from the device run's operation counts, else "".
    """
    presets = df.get("device_label", pd.Series(dtype=object)).nunique()
    sums: dict[str, dict[str, list[float]]] = {}
    flags: dict[str, tuple[bool, str]] = {}
    names = sorted({c[5:].rsplit(".energy_j.", 1)[0] for c in df.columns
                    if c.startswith("cost.") and ".energy_j." in c})
    trained = _trained_pairs(df)
    for _, row in df.iterrows():
        algo = str(row.get("algorithm.name", row.get("algorithm", "")))
        for name in names:
            total = row.get(f"cost.{name}.total_energy_j")
            if total is None or not np.isfinite(total) or total <= 0 or \
                    row.get(f"cost.{name}.metric.energy_measured") == 0.0:
                continue
            words, mark = _report_words(name, row, presets)
            if mark == "†" and (algo, name.rsplit(" ", 1)[0]) in trained:
                continue               # the runs trained there have this row as their own
            words += f" {mark}" if mark else ""      # never merged with an unmarked row
            gpu = is_gpu_report(name, {"weight_mode.digital": row[f"cost.{name}.weight_mode.digital"]}
                                if f"cost.{name}.weight_mode.digital" in row.index and
                                np.isfinite(row[f"cost.{name}.weight_mode.digital"]) else {})
            flags[words] = (gpu, mark)
            parts = sums.setdefault(words, {"__n": []})
            parts["__n"].append(1.0)
            for c in df.columns:
                prefix = f"cost.{name}.energy_j."
                if c.startswith(prefix) and np.isfinite(row[c]):
                    parts.setdefault(c[len(prefix):], []).append(float(row[c]))
    rows = sorted(sums, key=lambda w: (flags[w][0], flags[w][1] != "", w))
    n_runs = [len(sums[w]["__n"]) for w in rows]
    comps: list[str] = []
    for w in rows:
        comps += [c for c in sums[w] if c != "__n" and c not in comps]
    energy = np.array([[sum(sums[w].get(c, [])) / n for c in comps] for w, n in zip(rows, n_runs)],
                      dtype=float).reshape(len(rows), len(comps))
    marks = [flags[w][1] for w in rows]
    words = [w[: -len(m) - 1] if m else w for w, m in zip(rows, marks)]
    return (words, comps, np.nan_to_num(energy), [flags[w][0] for w in rows], n_runs, marks)


def energy_breakdown_figure(df: pd.DataFrame) -> Figure:
    """Energy per training step of every row (device rows above GPU rows), two panels sharing
    the rows: left the total (log where it spans two decades or more), right each part's share
    of it (stacked to 100 %): device parts in colours, GPU parts in hatched greys. Each row says
    how many runs its mean is over; notes under the plot say which rows were priced from
    another device's operation counts."""
    rows, comps, energy, gpu, n_runs, marks = energy_breakdown(df)
    if not rows:
        raise ValueError("the runs hold no cost report with energy; allowed: runs that finished "
                         "and were priced")
    totals = energy.sum(axis=1)
    dev_parts = [c for j, c in enumerate(comps) if energy[[i for i, g in enumerate(gpu) if not g], j].sum() > 0]
    gpu_parts = [c for j, c in enumerate(comps) if energy[[i for i, g in enumerate(gpu) if g], j].sum() > 0]
    colour = {("d", c): DEVICE_PART_COLOURS[k % len(DEVICE_PART_COLOURS)] for k, c in enumerate(dev_parts)}
    colour.update({("g", c): GPU_PART_COLOURS[k % len(GPU_PART_COLOURS)] for k, c in enumerate(gpu_parts)})
    same_n = len(set(n_runs)) == 1
    ylabels = [textwrap.fill(r + (f" {m}" if m else "") + ("" if same_n else
                                                          f" ({n}\u00a0run{'s' if n > 1 else ''})"),
                             34, break_on_hyphens=False) for r, m, n in zip(rows, marks, n_runs)]
    n_legend = math.ceil(len(dev_parts) / 3) + math.ceil(len(gpu_parts) / 3) + 3
    height = 1.2 + 0.42 * sum(t.count("\n") + 1 for t in ylabels)
    fig = _fig(max(2.6, height), n_legend, width=8.0)
    ax_abs, ax_share = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1, 1.5]})
    y = np.arange(len(rows))[::-1].astype(float)
    factor, unit = si_scale(totals, "J")
    # totals: Okabe–Ito blue (no part has it) for device rows, hatched grey for GPU rows
    ax_abs.barh(y, totals / factor, color=["0.55" if g else SERIES_COLOURS[0] for g in gpu],
                hatch=None, height=0.6)
    for i in range(len(rows)):
        if gpu[i]:
            ax_abs.patches[i].set_hatch(GPU_HATCH)
            ax_abs.patches[i].set_edgecolor("white")
    _numeric_axis(ax_abs.xaxis, totals / factor)
    lo, hi = ax_abs.get_xlim()
    if ax_abs.get_xscale() == "log":
        ax_abs.set_xlim(min(totals[totals > 0]) / factor / 3, max(totals) / factor * 12)
    else:
        ax_abs.set_xlim(0, max(totals) / factor * 1.45)
    for yi, t in zip(y, totals):
        ax_abs.text(t / factor * (1.12 if ax_abs.get_xscale() == "log" else 1.0)
                    + (0 if ax_abs.get_xscale() == "log" else 0.02 * max(totals) / factor),
                    yi, f"{t / factor:.3g}", va="center", ha="left", fontsize=7)
    ax_abs.set_xlabel(f"energy per step ({unit})")
    ax_abs.set_yticks(y, ylabels, fontsize=8)
    share = np.divide(energy, totals[:, None], out=np.zeros_like(energy), where=totals[:, None] > 0)
    left = np.zeros(len(rows))
    for j, c in enumerate(comps):
        for i in range(len(rows)):
            key = ("g" if gpu[i] else "d", c)
            if share[i, j] <= 0 or key not in colour:
                continue
            ax_share.barh(y[i], 100 * share[i, j], left=left[i], color=colour[key], height=0.6,
                          hatch=GPU_HATCH if gpu[i] else None, edgecolor="white", lw=0.3)
            left[i] += 100 * share[i, j]
    ax_share.set_xlim(0, 100)
    ax_share.xaxis.set_major_locator(MaxNLocator(nbins=5, min_n_ticks=3))
    ax_share.set_xlabel("share of step energy (%)")
    ax_share.tick_params(axis="y", left=False)
    if any(gpu) and not all(gpu):
        split = (y[gpu.index(True) - 1] + y[gpu.index(True)]) / 2
        for a in (ax_abs, ax_share):
            a.axhline(split, color="0.4", lw=0.8, ls="--")
    for a in (ax_abs, ax_share):
        a.grid(alpha=0.3, axis="x")
    mean = ("one run" if n_runs[0] == 1 else f"mean over {n_runs[0]} runs") if same_n else \
        "each row: mean over the runs that hold it"
    fig.suptitle(_wrap(f"Energy per training step by part, device rows above GPU rows ({mean})",
                       8.0 * 0.95), fontsize=10)
    handles = [Patch(facecolor=colour[("d", c)], label=_part_words(c)) for c in dev_parts]
    labels = [f"device: {_part_words(c)}" for c in dev_parts]
    handles += [Patch(facecolor=colour[("g", c)], hatch=GPU_HATCH, edgecolor="white") for c in gpu_parts]
    labels += [f"GPU: {_part_words(c)}" for c in gpu_parts]
    notes = []
    if "*" in marks:
        notes.append("* priced from the device run's traced operation counts (MACs, host FLOPs) "
                     "on the GPU's band")
    if "†" in marks:
        notes.append("† one step of the same algorithm traced on that device and priced there "
                     "(not trained on it)")
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=7.5, frameon=False,
               title="\n".join(_wrap(n, 8.0, 1.1) for n in notes) or None, title_fontsize=7.5,
               alignment="left")
    return fig


def accuracy_vs_energy_figure(df: pd.DataFrame, axes: Sequence[str] | None = None,
                              energy_col: str = "train_energy_j", metric: str = ACCURACY) -> Figure:
    """Final ``metric`` against each run's device energy, one point per run, one colour and
    marker per series; with at least :data:`MIN_PARETO_RUNS` runs the Pareto front (lowest
    energy for a given accuracy) as a black step line. The energy axis uses one SI unit; log
    only where two decade ticks fall inside the data."""
    axes = list(df.attrs.get("axes", []) if axes is None else axes)
    e = df[energy_col].to_numpy(float)
    a = df[metric].to_numpy(float)
    groups = series(df, axes)
    fig = _fig(4.2, len(groups) + 1)
    ax = fig.add_subplot()
    factor, unit = si_scale(e, "J")
    handles, labels = [], []
    for i, (_, label, rows) in enumerate(groups):
        ok = rows[np.isfinite(e[rows]) & np.isfinite(a[rows])]
        if not ok.size:
            continue
        ax.scatter(e[ok] / factor, a[ok], color=_colour(i), marker=_marker(i), s=30, zorder=3)
        handles.append(Line2D([], [], color=_colour(i), marker=_marker(i), ls="none"))
        labels.append(label)
    finite = np.isfinite(e) & np.isfinite(a)
    if finite.sum() >= MIN_PARETO_RUNS:
        front = pareto_front(e, a)
        ax.step(e[front] / factor, a[front], where="post", color="k", lw=1.0, zorder=2,
                gid="pareto front")
        ax.scatter(e[front] / factor, a[front], facecolors="none", edgecolors="k", s=90, lw=1.0,
                   zorder=4)
        handles.append(Line2D([], [], color="k", lw=1.0, marker="o", mfc="none", ms=8))
        labels.append("Pareto front (no run has lower energy and higher accuracy)")
    _numeric_axis(ax.xaxis, e[finite] / factor)
    what = {"train_energy_j": "device training energy",
            "energy_per_step_j": "device energy per training step"}.get(energy_col, energy_col)
    ax.set_xlabel(f"{what} ({unit})")
    _accuracy_axis(ax, metric)
    _title(ax, f"Final {metric.replace('_', ' ')} against {what}, one point per run "
               f"({int(finite.sum())} run{'s' if finite.sum() != 1 else ''})")
    ax.grid(alpha=0.3)
    _legend(fig, handles, labels)
    return fig

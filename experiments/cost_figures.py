"""Cost figures the report can call, and the pure functions that choose their data:

* :func:`accuracy_energy_curve` — test accuracy against cumulative training energy of a run,
  at the low / nominal / high cost levels (the band), from the run's own history and the
  priced row's energy per step;
* :func:`accuracy_energy_figure` — those curves, nominal line with the low–high band shaded;
* :func:`tornado_figure` — one ratio's one-at-a-time sensitivity (hwsim.cost.sensitivity):
  a bar per parameter from the ratio at its low end to the ratio at its high end, log scale,
  the nominal ratio and the break-even line (ratio = 1) marked.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")   # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from hwsim.cost.bands import metrics_of  # noqa: E402
from hwsim.cost.spec import LEVELS  # noqa: E402

__all__ = ["accuracy_energy_curve", "accuracy_energy_figure", "tornado_figure"]


def accuracy_energy_curve(history: Mapping[str, Sequence[float]],
                          report: Mapping[str, float]) -> dict[str, list[float]]:
    """``{"accuracy": [...], "steps": [...], "energy_j_<lv>": [...]}``: after each evaluation,
    the cumulative training energy (steps so far × the row's energy per step at each level).

    Args:
        history: the run's ``test_accuracy`` and cumulative ``steps`` per evaluation.
        report: a priced row (``CostReport.metrics`` or a flat stored report) with
            ``energy_per_step_j_<level>``.
    Raises ValueError when either is missing its part."""
    acc, steps = list(history.get("test_accuracy", [])), list(history.get("steps", []))
    if not acc or len(acc) != len(steps):
        raise ValueError("history needs test_accuracy and steps of equal, non-zero length; "
                         f"got {len(acc)} and {len(steps)}")
    m = metrics_of(report)
    missing = [lv for lv in LEVELS if f"energy_per_step_j_{lv}" not in m]
    if missing:
        raise ValueError(f"report has no energy_per_step_j_{missing[0]}; allowed: a priced row "
                         "with its low/nominal/high band")
    out: dict[str, list[float]] = {"accuracy": [float(a) for a in acc],
                                   "steps": [float(s) for s in steps]}
    for lv in LEVELS:
        e = m[f"energy_per_step_j_{lv}"]
        out[f"energy_j_{lv}"] = [float(s) * e for s in steps]
    return out


def accuracy_energy_figure(curves: Mapping[str, Mapping[str, Sequence[float]]]) -> Figure:
    """Test accuracy against cumulative energy (log x), one line per row (nominal) with the
    low–high band shaded between the low and high energy of each point."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, c in curves.items():
        line, = ax.plot(c["energy_j_nominal"], c["accuracy"], marker="o", ms=3, label=name)
        ax.fill_betweenx(c["accuracy"], c["energy_j_low"], c["energy_j_high"],
                         color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xscale("log")
    ax.set_xlabel("cumulative training energy [J] (nominal; band low–high)")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def tornado_figure(movers: Sequence, ratio: str, break_even: float | None = None) -> Figure:
    """Horizontal bars, largest swing on top, from the ratio at each parameter's low end to its
    high end (``hwsim.cost.sensitivity.Mover``); the nominal ratio dashed, ratio = 1 dotted."""
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * max(len(movers), 1) + 1.4))
    labels = []
    for i, m in enumerate(reversed(list(movers))):
        lo, hi = sorted((m.ratio_low, m.ratio_high))
        ax.barh(i, hi - lo, left=lo, color="tab:blue" if m.ratio_high >= m.ratio_low else "tab:orange")
        p = m.param
        labels.append(f"{p.label} ({p.low:.3g}–{p.high:.3g}{' ' + p.unit if p.unit else ''})")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xscale("log")
    if movers:
        ax.axvline(movers[0].ratio_nominal, ls="--", color="k", lw=1, label="nominal")
    ax.axvline(1.0, ls=":", color="r", lw=1, label="break-even (ratio = 1)")
    title = ratio + (f"\nbreak-even of the top mover at {break_even:.3g}" if break_even else "")
    ax.set_title(title, fontsize=8)
    ax.set_xlabel("ratio device / GPU")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig

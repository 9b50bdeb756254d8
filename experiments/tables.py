"""Tables of a comparison for papers and the report page.

* :func:`comparison_table` — one row per setting of the axes (algorithm and device in words,
  then each other axis), the seed mean ± sample standard deviation of accuracy, device settings,
  streamed vectors, energy, latency and training CPU time; each quantity column in one
  SI-prefixed unit (counts whole), named in its header;
* :func:`to_latex` — that table as a booktabs ``tabular`` (``\\toprule``/``\\midrule``/
  ``\\bottomrule``, units in the headers);
* :func:`to_html` — any such table as HTML, values never wrapped (``class="nowrap"``).
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .axes import axis_name, is_categorical
from .plots import series, si_scale, value_text

__all__ = ["Column", "comparison_table", "runs_table", "to_latex", "to_html", "QUANTITIES",
           "COUNT"]

#: unit of a quantity that is a count (printed whole, no SI prefix)
COUNT = "count"
# (column, header, unit) of the quantities compared; a column absent from the runs is left out.
# Cost in what the device does stands next to accuracy: settings programmed, vectors streamed
# (calibration probes included), device energy, and the host's CPU time of training.
QUANTITIES = (("test_accuracy", "test accuracy", ""),
              ("ref.mf-ad.test_accuracy", "MF-AD test accuracy (twin)", ""),
              ("ref.bp.test_accuracy", "BP test accuracy (twin)", ""),
              ("device_settings", "device settings", COUNT),
              ("streamed_vectors", "streamed vectors", COUNT),
              ("energy_per_step_j", "device energy per step", "J"),
              ("latency_per_step_s", "device latency per step", "s"),
              ("train_energy_j", "device training energy", "J"),
              ("energy_to_target_j", "device energy to target", "J"),
              ("cpu_s", "training CPU time", "s"))


@dataclass(frozen=True)
class Column:
    """A table column: its header (unit included) and its cells, already formatted."""

    header: str
    cells: list
    numeric: bool = True


def _mean_sd(values: np.ndarray, factor: float, digits: int) -> str:
    v = values[np.isfinite(values)] / factor
    if not v.size:
        return ""
    if v.size == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def _digits(values: np.ndarray, factor: float) -> int:
    """Decimals (one count for the whole column) that show three significant figures of its
    smallest value."""
    v = np.abs(values[np.isfinite(values)]) / factor
    v = v[v > 0]
    if not v.size:
        return 2
    return int(min(6, max(0, 2 - math.floor(math.log10(float(v.min()))))))


def _quantity_columns(df: pd.DataFrame, groups) -> list[Column]:
    cols = []
    for col, header, unit in QUANTITIES:
        if col not in df.columns or not df[col].notna().any():
            continue
        values = df[col].to_numpy(float)
        factor, shown = si_scale(values, unit) if unit not in ("", COUNT) else (1.0, "")
        digits = 0 if unit == COUNT else _digits(values, factor) if unit else 4
        cells = [_mean_sd(values[rows], factor, digits) for _, _, rows in groups]
        cols.append(Column(f"{header} ({shown})" if shown else header, cells))
    return cols


def comparison_table(df: pd.DataFrame, axes: Sequence[str] | None = None) -> list[Column]:
    """One row per series (algorithm, device and every other axis; seeds pooled), in axis
    order: the algorithm and device in words, each other axis' value, the number of runs, and
    mean ± sd over the runs of each quantity of :data:`QUANTITIES`."""
    axes = list(df.attrs.get("axes", []) if axes is None else axes)
    units = df.attrs.get("units", {})
    extra = [a for a in axes if a not in ("algorithm.name", "device.preset", "device.kind")]
    groups = series(df, extra)
    cols = [Column("algorithm", [k[0] for k, _, _ in groups], numeric=False),
            Column("device", [k[1] for k, _, _ in groups], numeric=False)]
    for i, a in enumerate(extra):
        unit = units.get(a) or ""
        name = axis_name(a, unit or None)
        cols.append(Column(name, [value_text(a, k[2 + i], units, with_unit=False)
                                  for k, _, _ in groups],
                           numeric=not is_categorical(a, [k[2 + i] for k, _, _ in groups])))
    cols.append(Column("runs", [str(len(rows)) for _, _, rows in groups]))
    return cols + _quantity_columns(df, groups)


def runs_table(df: pd.DataFrame, axes: Sequence[str] | None = None) -> list[Column]:
    """One row per run in the runs table's order (sorted by the axes, then seed): file, algorithm
    and device in words, each axis, seed, status and the quantities, units in the headers."""
    axes = list(df.attrs.get("axes", []) if axes is None else axes)
    units = df.attrs.get("units", {})
    seeds = [c for c in df.attrs.get("config_columns", []) if c in df.columns
             and c.rsplit(".", 1)[-1] == "seed"][:1]
    cols = [Column("run", [str(r) if r else str(p).rsplit("/", 1)[-1]
                           for r, p in zip(df.get("run_id", df["path"]), df["path"])], False),
            Column("algorithm", list(df["algorithm_label"]), False),
            Column("device", list(df["device_label"]), False)]
    for a in [a for a in axes if a not in ("algorithm.name", "device.preset", "device.kind")] + seeds:
        name = axis_name(a, units.get(a) or None)
        cols.append(Column(name, [value_text(a, v, units, with_unit=False) for v in df[a]],
                           numeric=not is_categorical(a, list(df[a]))))
    cols.append(Column("status", list(df["status"]) if "status" in df.columns else [""] * len(df),
                       False))
    if "message" in df.columns and (df["message"].astype(str) != "").any():
        cols.append(Column("message", list(df["message"].astype(str)), False))
    singles = [(np.array([i]),) for i in range(len(df))]
    cols += _quantity_columns(df, [(None, None, s[0]) for s in singles])
    return cols


_LATEX = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
          "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
          "±": r"$\pm$", "σ": r"$\sigma$", "ε": r"$\varepsilon$", "µ": r"\textmu{}",
          "γ": r"$\gamma$", "φ": r"$\phi$", "–": "--", "†": r"\dag{}", "×": r"$\times$"}


def _tex(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in str(text))


def to_latex(columns: Sequence[Column], caption: str = "", label: str = "tab:comparison") -> str:
    """A booktabs ``table`` of ``columns`` (needs ``\\usepackage{booktabs}``): text columns
    left-aligned, numbers right-aligned, units in the headers, ± as ``$\\pm$``."""
    spec = "".join("r" if c.numeric else "l" for c in columns)
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{_tex(caption)}}}")
    lines += [rf"\label{{{label}}}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
              " & ".join(_tex(c.header) for c in columns) + r" \\", r"\midrule"]
    n = max((len(c.cells) for c in columns), default=0)
    for i in range(n):
        lines.append(" & ".join(_tex(c.cells[i]) for c in columns) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_html(columns: Sequence[Column], cls: str = "") -> str:
    """An HTML table of ``columns``: units only in the headers, no cell wrapped."""
    head = "".join(f"<th>{html.escape(c.header)}</th>" for c in columns)
    n = max((len(c.cells) for c in columns), default=0)
    body = "".join("<tr>" + "".join(
        f"<td class='{'num' if c.numeric else 'txt'}'>{html.escape(str(c.cells[i]))}</td>"
        for c in columns) + "</tr>" for i in range(n))
    return (f"<div class='scroll'><table class='nowrap {cls}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div>")


def to_frame(columns: Sequence[Column]) -> pd.DataFrame:
    """The table as a DataFrame (headers as column names)."""
    return pd.DataFrame({c.header: c.cells for c in columns})


__all__ += ["to_frame"]

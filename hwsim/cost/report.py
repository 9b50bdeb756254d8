"""Plain-text cost tables: energy (J) and latency (s) per training step, by component."""
from __future__ import annotations

import math
from typing import Mapping

from .analytic import CostReport

__all__ = ["format_cost_table"]


def _fmt(v: float) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3g}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def _components(reports: Mapping[str, CostReport], attr: str) -> list[str]:
    seen: list[str] = []
    for r in reports.values():
        seen += [k for k in getattr(r, attr) if k not in seen]
    return seen


def format_cost_table(reports: Mapping[str, CostReport], reference: str | None = None) -> str:
    """Energy and latency tables per training step, one row per named report.

    Columns: totals, every component seen in any report, MACs, pJ/MAC and MACs per
    conversion. With ``reference`` (a key of ``reports``), ratio rows ``"<name>/<reference>"``
    divide each row by the reference row (total and per component; "-" where undefined).
    """
    if not reports:
        raise ValueError("reports is empty; allowed: a mapping name -> CostReport")
    if reference is not None and reference not in reports:
        raise ValueError(f"reference = {reference!r} is invalid; allowed: one of "
                         f"{', '.join(map(repr, reports))} or None")
    ref = reports[reference] if reference is not None else None
    e_comp, t_comp = _components(reports, "energy_j"), _components(reports, "latency_s")

    def ratio(a: float, b: float) -> float:
        return a / b if b else math.nan

    e_rows, t_rows = [], []
    for name, r in reports.items():
        e_rows.append([name, _fmt(r.total_energy_j)]
                      + [_fmt(r.energy_j.get(c, 0.0)) for c in e_comp]
                      + [_fmt(r.macs), _fmt(r.pj_per_mac), _fmt(r.macs_per_conversion),
                         r.weight_mode])
        t_rows.append([name, _fmt(r.total_latency_s)]
                      + [_fmt(r.latency_s.get(c, 0.0)) for c in t_comp])
    if ref is not None:
        for name, r in reports.items():
            if name == reference:
                continue
            label = f"{name}/{reference}"
            e_rows.append([label, _fmt(ratio(r.total_energy_j, ref.total_energy_j))]
                          + [_fmt(ratio(r.energy_j.get(c, 0.0), ref.energy_j.get(c, 0.0)))
                             for c in e_comp]
                          + [_fmt(ratio(r.macs, ref.macs)),
                             _fmt(ratio(r.pj_per_mac, ref.pj_per_mac)), "-", ""])
            t_rows.append([label, _fmt(ratio(r.total_latency_s, ref.total_latency_s))]
                          + [_fmt(ratio(r.latency_s.get(c, 0.0), ref.latency_s.get(c, 0.0)))
                             for c in t_comp])
    e_head = ["energy per step [J]", "total"] + e_comp + ["MACs", "pJ/MAC", "MACs/conv", "weights"]
    t_head = ["latency per step [s]", "total"] + t_comp
    return _table(e_head, e_rows) + "\n\n" + _table(t_head, t_rows)

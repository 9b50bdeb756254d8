"""Plain-text cost tables: energy (J) and latency (s) per training step, by component."""
from __future__ import annotations

import math
from typing import Mapping

from .analytic import CostReport

__all__ = ["format_cost_table", "steps_to_target", "with_headline"]


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


# --------------------------------------------------------------------------- headline metrics
_LEVELS = ("low", "nominal", "high")


def steps_to_target(accuracy, steps, target: float) -> float | None:
    """Training steps until the test accuracy first reaches ``target``, from a run's own
    history (per-epoch ``accuracy`` and cumulative ``steps``); None if never reached."""
    if len(accuracy) != len(steps):
        raise ValueError(f"accuracy has {len(accuracy)} epochs but steps has {len(steps)}; "
                         "allowed: equal lengths")
    for acc, n in zip(accuracy, steps):
        if acc >= target:
            return float(n)
    return None


def with_headline(band: Mapping[str, CostReport], level: str, *,
                  steps: float | None = None, target_accuracy: float | None = None
                  ) -> CostReport:
    """The report at ``level`` with the headline metrics of its low/nominal/high ``band``:

    ``energy_per_step_j_<lv>`` (system: device + host), ``device_energy_per_step_j_<lv>``
    (device only, :attr:`CostReport.device_energy_j`), ``latency_per_step_s_<lv>`` and, when
    ``steps`` (to the target accuracy) is known, ``energy_to_target_j_<lv>`` = steps × energy
    per step (and its device-only part) and
    ``time_to_target_s_<lv>``, plus ``steps_to_target``, ``target_accuracy`` and
    ``target_reached`` (1/0). ``laser_on_s`` and ``endurance_used_fraction`` are always
    present (0 where the row has no laser or no wearing cells); ``cost_level_index`` says
    which level the report's own components are priced at (0 low, 1 nominal, 2 high)."""
    if set(band) != set(_LEVELS):
        raise ValueError(f"band has levels {sorted(band)}; allowed: exactly {', '.join(_LEVELS)}")
    if level not in _LEVELS:
        raise ValueError(f"level = {level!r} is invalid; allowed: {', '.join(_LEVELS)}")
    base = band[level]
    m = dict(base.metrics)
    m.setdefault("laser_on_s", 0.0)
    m.setdefault("endurance_used_fraction", 0.0)
    m["cost_level_index"] = float(_LEVELS.index(level))
    for lv in _LEVELS:
        m[f"energy_per_step_j_{lv}"] = band[lv].total_energy_j
        m[f"device_energy_per_step_j_{lv}"] = band[lv].device_energy_j
        m[f"latency_per_step_s_{lv}"] = band[lv].total_latency_s
    if target_accuracy is not None:
        m["target_accuracy"] = float(target_accuracy)
        m["target_reached"] = float(steps is not None)
    if steps is not None:
        m["steps_to_target"] = float(steps)
        for lv in _LEVELS:
            m[f"energy_to_target_j_{lv}"] = steps * band[lv].total_energy_j
            m[f"device_energy_to_target_j_{lv}"] = steps * band[lv].device_energy_j
            m[f"time_to_target_s_{lv}"] = steps * band[lv].total_latency_s
    return CostReport(base.energy_j, base.latency_s, base.macs, base.conversions,
                      base.weight_mode, m)

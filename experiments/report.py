"""Reports read results files only; they never re-run training."""
from __future__ import annotations

import math

from hwsim.cost.analytic import CostReport
from hwsim.cost.report import format_cost_table

from .results import RunRecord

__all__ = ["accuracy_table", "cost_section"]


def accuracy_table(rec: RunRecord) -> str:
    algo = rec.config.get("algorithm.name", rec.config.get("algorithm", "mfdd"))
    preset = rec.config.get("device.preset", rec.config.get("device_preset"))
    rows = [(f"{'MF+DD' if algo == 'mfdd' else algo.upper()} on {preset}"
             if algo == "mfdd" else f"{algo.upper()} (ideal digital twin, autograd)",
             rec.history.get("test_accuracy", [math.nan])[-1])]
    labels = {"mf-ad": "MF-AD (ideal digital twin, autograd)", "bp": "BP (ideal digital twin, autograd)"}
    for mode, hist in rec.references.items():
        rows.append((labels.get(mode, mode), hist.get("test_accuracy", [math.nan])[-1]))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'model':<{width}}  test accuracy", f"{'-' * width}  -------------"]
    lines += [f"{name:<{width}}  {acc:.4f}" for name, acc in rows]
    return "\n".join(lines)


def cost_section(rec: RunRecord) -> str:
    """Cost table per training step plus device/GPU energy and latency ratios."""
    if not rec.costs:
        return "(no cost report: the run did not finish)"
    reports = {name: CostReport.from_dict(d) for name, d in rec.costs.items()}
    lines = ["Cost per training step (energy in J, latency in s; analytic model, nominal specs):",
             format_cost_table(reports)]
    devices = [n for n in reports if not n.startswith("GPU ")]
    gpus = [n for n in reports if n.startswith("GPU ")]
    if devices and gpus:
        lines.append("")
        lines.append("Ratios device / GPU (energy, latency) per training step:")
        for d in devices:
            for g in gpus:
                e = reports[d].total_energy_j / reports[g].total_energy_j
                t = reports[d].total_latency_s / reports[g].total_latency_s
                lines.append(f"  {d} / {g}: energy {e:.3g}x, latency {t:.3g}x")
    return "\n".join(lines)

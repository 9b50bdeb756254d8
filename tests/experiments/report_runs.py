"""Small hand-made results files for the report tests: the three jobs a researcher does (a noise
sweep, one run's energy report, 2 algorithms × 2 presets), with new-style config keys, declared
sweep axes and cost rows shaped like the runner's, written in milliseconds."""
from __future__ import annotations

import json
import math
from pathlib import Path

from experiments.results import RunRecord, write_results

GPU = "H100 SXM5"


def _device_cost(kind: str, scale: float) -> dict:
    if kind == "mzi":
        e = {"laser": 1.3e-6, "modulators_dacs": 6.2e-7, "programming": 1.3e-8,
             "holding": 1.16e-3 * scale, "detection": 1.7e-5, "adcs": 2.3e-7,
             "converters_idle": 1.1e-5, "digital": 2.5e-6, "host_static": 7.6e-4}
        t = {"programming": 5e-5, "streaming": 4.8e-7, "conversions": 1e-10, "digital": 1.8e-7}
    else:
        e = {"modulators_dacs": 5.5e-7, "programming": 2.4e-8 * scale, "detection": 6.3e-7,
             "adcs": 3.4e-8, "converters_idle": 5e-7, "peripherals": 1.7e-6, "digital": 2.5e-6,
             "host_static": 3.55e-2}
        t = {"programming": 3.2e-4, "streaming": 2.05e-3, "conversions": 6.3e-9, "digital": 1.9e-7}
    d = {f"energy_j.{k}": v for k, v in e.items()} | {f"latency_s.{k}": v for k, v in t.items()}
    total = math.fsum(e.values())
    return d | {"macs": 1.23e6, "conversions": 1.5e5, "total_energy_j": total,
                "total_latency_s": math.fsum(t.values()), "weight_mode.held": 1.0,
                "weight_mode.redriven": 0.0, "weight_mode.digital": 0.0,
                "metric.energy_per_step_j_low": total / 10, "metric.energy_per_step_j_high": total * 3,
                "metric.energy_to_target_j_nominal": total * 6,
                "metric.time_to_target_s_nominal": math.fsum(t.values()) * 6,
                "metric.target_accuracy": 0.6}


def _gpu_cost(work: float) -> dict:
    e = {"compute": 3.4e-5 * work, "memory": 2e-5, "idle": 7.3e-3, "host_static": 1.8e-3}
    t = {"compute": 2e-7 * work, "launch": 1.2e-4}
    d = {f"energy_j.{k}": v for k, v in e.items()} | {f"latency_s.{k}": v for k, v in t.items()}
    total = math.fsum(e.values())
    return d | {"macs": 1.76e6, "conversions": 0.0, "total_energy_j": total,
                "total_latency_s": math.fsum(t.values()), "weight_mode.held": 0.0,
                "weight_mode.redriven": 0.0, "weight_mode.digital": 1.0,
                "metric.energy_per_step_j_low": total / 100,
                "metric.energy_per_step_j_high": total * 4,
                "metric.energy_to_target_j_nominal": total * 7,
                "metric.time_to_target_s_nominal": math.fsum(t.values()) * 7,
                "metric.target_accuracy": 0.6}


def record(*, algorithm="mfdd", preset="mzi-default", sigma=0.002, seed=0, epochs=3,
           axes=(), companion=True, acc_shift=0.0, label="forward-only", run_id=None) -> RunRecord:
    kind = "crossbar" if preset.startswith("crossbar") else "mzi"
    short = "MF+DD" if algorithm == "mfdd" else algorithm
    cfg = {"run.seed": seed, "run.epochs": epochs, "run.out": "", "model.hidden": [8],
           "algorithm.name": algorithm, "algorithm.settings.recalibrate_every": 20,
           "device.kind": kind, "device.preset": preset, "device.phase_noise.sigma_rad": sigma,
           "cost.level": "nominal", "cost.gpus": [GPU]}
    base = 0.8 - 3 * sigma + 0.01 * seed + acc_shift - (0.05 if kind == "crossbar" else 0.0)
    acc = [base - 0.1 * (epochs - 1 - e) / max(1, epochs - 1) for e in range(epochs)]
    steps = [12.0 * (e + 1) for e in range(epochs)]
    scale = 1.0 + 10 * sigma
    costs = {f"{preset} {short}": _device_cost(kind, scale)}
    if companion:
        other = "crossbar-default" if kind == "mzi" else "mzi-default"
        costs[f"{other} {short}"] = _device_cost("crossbar" if kind == "mzi" else "mzi", scale)
    costs[f"GPU {GPU}: {short}"] = _gpu_cost(2.0 if algorithm == "mfdd" else 1.0)
    costs[f"GPU {GPU}: BP"] = _gpu_cost(0.5)
    costs["measured (cpu, time only): MF+DD"] = {"latency_s.measured": 7.8e-4,
                                                 "total_latency_s": 7.8e-4,
                                                 "metric.energy_measured": 0.0,
                                                 "weight_mode.digital": 1.0}
    refs = {"mf-ad": {"test_accuracy": [a + 0.02 for a in acc]},
            "bp": {"test_accuracy": [a + 0.04 for a in acc]}}
    meta = {"algorithm_label": label}
    if axes:
        meta["sweep_axes"] = json.dumps(list(axes))
    rid = run_id or f"{algorithm}-{preset}-{sigma}-{seed}".replace(".", "p")
    return RunRecord(config=cfg, history={"test_accuracy": acc, "steps": steps}, references=refs,
                     costs=costs, run_id=rid, meta=meta)


def noise_sweep(root: Path, sigmas=(0.002, 0.02, 0.05), seeds=(0, 1, 2)) -> Path:
    axes = ("device.phase_noise.sigma_rad", "run.seed")
    for s in sigmas:
        for seed in seeds:
            rec = record(sigma=s, seed=seed, axes=axes)
            write_results(root / "runs" / f"{rec.run_id}.h5", rec)
    (root / "sweep.json").write_text(json.dumps({"axes": list(axes)}))
    return root


def algorithm_sweep(root: Path, seeds=(0, 1)) -> Path:
    """2 algorithms × 2 presets × seeds: local-guess carries its own GPU row label."""
    axes = ("algorithm.name", "device.preset", "run.seed")
    for algo, label, shift in (("mfdd", "forward-only", 0.0), ("local-guess", "calibrated model", 0.03)):
        for preset in ("mzi-default", "crossbar-default"):
            for seed in seeds:
                rec = record(algorithm=algo, preset=preset, seed=seed, axes=axes, label=label,
                             acc_shift=shift)
                write_results(root / "runs" / f"{rec.run_id}.h5", rec)
    (root / "sweep.json").write_text(json.dumps({"axes": list(axes)}))
    return root


def one_run(root: Path) -> Path:
    rec = record()
    return write_results(root / "run.h5", rec)


def two_runs(root: Path) -> Path:
    for seed in (0, 1):
        rec = record(seed=seed, sigma=0.01)
        write_results(root / f"run{seed}.h5", rec)
    return root

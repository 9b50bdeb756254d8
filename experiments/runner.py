"""Run one experiment: data → devices → training → references → cost → results file."""
from __future__ import annotations

import platform
import time
from typing import Callable

import numpy as np
import torch

from algorithms.baselines.twin import LABEL as TWIN_LABEL
from algorithms.loop import Divergence, TrainResult, train
from algorithms.seeds import generator
from hwsim.cost.analytic import CostReport, price
from hwsim.cost.gpu import gpu_step_cost, mlp_bytes, mlp_forward_flops
from hwsim.cost.spec import GPU_PRESETS, crossbar_spec, photonic_spec
from hwsim.presets import device_kind
from hwsim.trace import Trace

from .build import build_baseline, build_mfdd
from .config import RunConfig
from .data import Dataset, load_dataset, standardize
from .results import RunRecord, write_results

__all__ = ["run", "mean_summary", "price_run", "ALGO_LABELS"]

ALGO_LABELS = {"mfdd": "MF+DD", "mf-ad": f"MF-AD ({TWIN_LABEL})", "bp": f"BP ({TWIN_LABEL})"}
# Eager kernel launches per step (cost.md §4.3: 15–25 for a small MLP BP step); a forward-only
# step launches about the same per evaluation batch, per layer.
BP_KERNELS = 20
FORWARD_ONLY_KERNELS_PER_LAYER = 8


def mean_summary(summaries: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for s in summaries for k in s})
    n = max(1, len(summaries))
    return {k: sum(s.get(k, 0.0) for s in summaries) / n for k in keys}


def _specs(level: str) -> dict:
    return {"mzi": photonic_spec(level), "crossbar": crossbar_spec(level)}


def price_run(cfg: RunConfig, n_in: int, n_classes: int, device_summaries: dict[str, dict]
              ) -> dict[str, CostReport]:
    """Cost per training step: every priced device trace plus GPU baselines of the same step."""
    reports: dict[str, CostReport] = {}
    for label, summary in device_summaries.items():
        reports[label] = price(summary, _specs(cfg.cost_level))
    sizes = [n_in, *cfg.hidden]
    flops = mlp_forward_flops(sizes, cfg.batch_size) + sum(
        2.0 * cfg.batch_size * h * n_classes for h in cfg.hidden)           # local heads
    nbytes = mlp_bytes(sizes, cfg.batch_size)
    queries = (2 * cfg.num_directions if cfg.difference == "central" else cfg.num_directions + 1)
    for name in cfg.gpus:
        gpu = GPU_PRESETS[name]
        reports[f"GPU {name}: BP"] = gpu_step_cost(flops, "bp", 0, nbytes, BP_KERNELS, gpu)
        reports[f"GPU {name}: MF+DD"] = gpu_step_cost(
            flops, "forward_only", queries, nbytes,
            FORWARD_ONLY_KERNELS_PER_LAYER * len(cfg.hidden) * 2, gpu)
    return reports


def _one_step_summary(cfg: RunConfig, preset: str, data: Dataset) -> dict[str, float]:
    """Trace of one MF+DD training step on another device preset (same model, batch, algorithm)."""
    trace = Trace()
    model, _ = build_mfdd(cfg, data.x_train.shape[1], data.n_classes, trace, preset=preset)
    idx = torch.arange(min(cfg.batch_size, data.x_train.shape[0]))
    trace.begin_step()
    model.step(data.x_train[idx], data.y_train[idx])
    return trace.end_step()


def _versions() -> dict[str, str]:
    import h5py, numba, scipy, simpy
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "h5py": h5py.__version__, "simpy": simpy.__version__,
            "numba": numba.__version__, "forwardlab": "0.1.0"}


def run(cfg: RunConfig, *, echo: Callable[[str], None] = print,
        progress: Callable[[int, str], Callable[[int], None]] | None = None) -> RunRecord:
    """Train as configured, write the results file and return its record.

    ``progress(total_steps, label)`` may return a per-step callback (the CLI's progress bar).
    On divergence the results file records ``status="diverged"`` and ``Divergence`` propagates.
    """
    torch.set_num_threads(max(1, torch.get_num_threads()))
    data = load_dataset(cfg.dataset, cfg.data_dir, seed=cfg.seed)
    if cfg.standardize:
        data = standardize(data)
    n_in, C = data.x_train.shape[1], data.n_classes
    steps_per_epoch = -(-data.x_train.shape[0] // cfg.batch_size)
    rec = RunRecord(config=cfg.flat(), versions=_versions())
    echo(f"forwardlab: {cfg.dataset} ({data.x_train.shape[0]} train / {data.x_test.shape[0]} test), "
         f"MLP {n_in}-{'-'.join(map(str, cfg.hidden))} with {C}-class local heads, "
         f"device {cfg.device_preset}, algorithm {ALGO_LABELS[cfg.algorithm]}")

    def fit(model, label: str, trace: Trace | None) -> TrainResult:
        layers = len(cfg.hidden) if cfg.schedule == "greedy" else 1
        total = cfg.epochs * layers * steps_per_epoch
        cb = progress(total, label) if progress else None
        t0 = time.perf_counter()

        def on_epoch(e: int, m: dict) -> None:
            echo(f"  [{label}] epoch {e + 1}: test accuracy {m['test_accuracy']:.4f}"
                 f"  ({time.perf_counter() - t0:.1f} s)")

        return train(model, data.x_train, data.y_train, epochs=cfg.epochs, batch_size=cfg.batch_size,
                     gen=generator(cfg.seed, f"batches/{label}"), schedule=cfg.schedule, trace=trace,
                     x_test=data.x_test, y_test=data.y_test, on_step=cb, on_epoch=on_epoch)

    device_summaries: dict[str, dict] = {}
    current = ALGO_LABELS[cfg.algorithm]
    try:
        if cfg.algorithm == "mfdd":
            trace = Trace()
            model, _ = build_mfdd(cfg, n_in, C, trace)
            result = fit(model, "MF+DD on " + cfg.device_preset, trace)
            rec.history = result.history
            rec.step_summaries = result.step_summaries
            device_summaries[f"{cfg.device_preset} MF+DD"] = mean_summary(result.step_summaries)
            other = "crossbar-default" if device_kind(cfg.device_preset) == "mzi" else "mzi-default"
            device_summaries[f"{other} MF+DD"] = _one_step_summary(cfg, other, data)
        else:
            model = build_baseline(cfg, cfg.algorithm, n_in, C)
            rec.history = fit(model, current, None).history
        if cfg.references and cfg.algorithm == "mfdd":
            for mode in ("mf-ad", "bp"):
                current = ALGO_LABELS[mode]
                ref = build_baseline(cfg, mode, n_in, C)
                rec.references[mode] = fit(ref, current, None).history
    except Divergence as e:
        rec.status, rec.message = "diverged", f"{current}: {e}"
        if current in (ALGO_LABELS["mf-ad"], ALGO_LABELS["bp"]) and cfg.algorithm == "mfdd":
            rec.references[next(m for m in ("mf-ad", "bp") if ALGO_LABELS[m] == current)] = e.history
        else:
            rec.history = e.history
        write_results(cfg.out, rec)
        raise Divergence(rec.message, e.history) from None
    reports = price_run(cfg, n_in, C, device_summaries)
    rec.costs = {name: r.to_dict() for name, r in reports.items()}
    write_results(cfg.out, rec)
    return rec

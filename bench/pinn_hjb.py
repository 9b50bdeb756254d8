"""BP-free PINN on the 20-dim HJB problem (Zhao et al., arXiv:2308.09858): relative L2 error
of the TT-ZO PINN through mzi-ideal and mzi-default next to the same PINN trained with autograd
on the ideal digital twin, with device queries and cost (the runner's pricing path).

    python bench/pinn_hjb.py [--steps 60] [--presets mzi-ideal mzi-default] [--config FILE]

Every row uses examples/pinn-hjb20.toml (network, Stein rule, collocation sizes, learning rates)
unless ``--config`` names another file; ``--steps`` replaces epochs × steps_per_epoch. The twin
row trains the same network, initial knobs, loss and collocation points with exact parameter
gradients. Printed per row: relative L2 error before and after, device queries (core device
calls) in total, and the analytic cost of the traced steps at the nominal level (energy per
step, total energy) next to the GPU band of the same traced work.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from algorithms.baselines.tt_twin import LABEL  # noqa: E402
from algorithms.training import fit  # noqa: E402
from experiments.build import Blueprint, build_stage, stage  # noqa: E402
from experiments.config import load_toml, resolve, set_dotted  # noqa: E402
from experiments.pde import pde_task, relative_error  # noqa: E402
from experiments.price import mean_summary, price_summaries  # noqa: E402
from hwsim.trace import Trace  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(ROOT / "examples" / "pinn-hjb20.toml"))
    p.add_argument("--presets", nargs="+", default=["mzi-ideal", "mzi-default"])
    p.add_argument("--steps", type=int, default=60)
    args = p.parse_args()
    torch.set_num_threads(1)
    base = load_toml(args.config)
    set_dotted(base, "run.epochs", 1)
    set_dotted(base, "pde.steps_per_epoch", args.steps)
    rows = []
    quiet = lambda s: None  # noqa: E731
    for i, preset in enumerate(args.presets + ["twin"]):
        m = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
        set_dotted(m, "device.preset", args.presets[0] if preset == "twin" else preset)
        cfg = resolve(m)
        task = pde_task(cfg.pde, cfg.run.seed)
        obj = task.objective
        trace = Trace() if preset != "twin" else None
        algo = "tt-autograd" if preset == "twin" else "tt-zo"
        bp = Blueprint.of(cfg)
        trainable = build_stage(bp, stage(bp, algo, (task.problem.dim,)), 0, trace,
                                objective=obj)
        model, label = trainable.trainer, f"tt-zo on {preset}"
        if preset == "twin":
            label = f"tt-fo ({LABEL})"
        err0 = relative_error(model, obj, task.x_test, task.u_exact)
        t0 = time.process_time()
        res = fit(trainable, epochs=cfg.run.epochs, seed=cfg.run.seed, task=task, trace=trace,
                  on_epoch=lambda e, em: quiet(em))
        hist, summaries = res.history, res.step_summaries
        cpu = time.process_time() - t0
        queries, e_step, e_gpu = 0, float("nan"), float("nan")
        if summaries:
            queries = model.device_queries_per_step() * len(summaries)
            config = {k: v for k, v in cfg.flat().items() if k != "model.hidden"}
            rep = price_summaries(config, {preset: mean_summary(summaries)},
                                  last_summary=summaries[-1])
            e_step = rep[preset].total_energy_j
            gpu = [r for n, r in rep.items() if n.startswith("GPU")]
            e_gpu = gpu[0].total_energy_j if gpu else float("nan")
        rows.append((label, err0, hist["test_error"][-1], len(summaries) or args.steps, queries,
                     e_step, e_step * len(summaries) if summaries else float("nan"), e_gpu, cpu))
        print(f"  done {label}: error {err0:.4f} -> {hist['test_error'][-1]:.4f} ({cpu:.0f} s CPU)",
              flush=True)
    c = cfg.pde
    print(f"\nHJB-20 (u_t + Δu − 0.05‖∇u‖² = −2, u(x,1) = ‖x‖₁), PINN {trainable.trainer.net.describe()}, "
          f"{obj.rule.name} ({obj.rule.evaluations} evaluations per point), σ = {c.sigma}, "
          f"{c.interior_points} interior + {c.boundary_points} terminal points per step, "
          f"{args.steps} steps, N = {trainable.settings.num_directions} directions, seed {cfg.run.seed}")
    head = (f"{'row':<44} {'rel. L2 before':>14} {'after':>7} {'steps':>6} {'device queries':>14} "
            f"{'E/step (nominal)':>16} {'E total':>9} {'GPU E/step':>10} {'CPU s':>6}")
    print(head)
    print("-" * len(head))
    for label, e0, e1, n, q, es, et, eg, cpu in rows:
        print(f"{label:<44} {e0:>14.4f} {e1:>7.4f} {n:>6} {q:>14} {es:>16.3g} {et:>9.3g} "
              f"{eg:>10.3g} {cpu:>6.0f}")
    print("(energies in J, analytic model at the nominal level; GPU E/step = the same traced work "
          "on the first configured GPU's band; device queries = core device calls)")


if __name__ == "__main__":
    main()

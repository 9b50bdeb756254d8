"""The largest MLP and CNN that train one Fashion-MNIST epoch in a time budget, per preset.

Estimated, not run: one epoch is 60 000 / B steps (B = 128: 469), so a 10-minute epoch allows
1.28 s of CPU per step. For each preset and algorithm this measures the training step's CPU
time (one thread, median of ``--steps`` after a warm-up step) at a few widths, fits
t(width) = a · width^b through them (log-log least squares) and solves for the width at the
budget. Evaluation passes and data loading are left out (a few % of an epoch). The
algorithm choice: the fastest one that reaches MF-AD − 2 points — local-guess (Fashion-MNIST full
data, mzi-default, MLP 784-128-128, 1 epoch, seed 0: 0.832 against MF-AD 0.834; those tables were
made by older code and have been removed from bench/results, so read this as that record), with
mfdd (P = 32) for comparison.

Run: python bench/largest_model.py [--budget-min 10] [--steps 2] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)

B, TRAIN = 128, 60_000
#: Widths measured per (model kind, algorithm): MLP 784-h, CNN conv(c, 3×3) → pool → dense 32.
WIDTHS = {("mlp", "local-guess"): (128, 512, 1024), ("mlp", "mfdd"): (32, 64, 128),
          ("cnn", "local-guess"): (4, 8, 16), ("cnn", "mfdd"): (2, 4, 8)}


def architecture(kind: str, width: int):
    if kind == "mlp":
        return None, [width]
    return ([f"conv2d:{width}:3:1:1", "bias", "relu", "maxpool:2", "flatten", "dense:32", "bias",
             "relu"], None)


def step_cpu_s(preset: str, algorithm: str, kind: str, width: int, steps: int, data) -> float:
    from algorithms import registry
    from algorithms.model import model_from_config
    from hwsim.presets import build_layer
    from hwsim.trace import Trace
    arch, hidden = architecture(kind, width)
    shape = (1, 28, 28) if kind == "cnn" else (784,)
    model = model_from_config(shape, architecture=arch, hidden=hidden)
    devices = [build_layer(preset, a, b, seed=1000 + i, name=f"layer{i}")
               for i, (a, b) in enumerate(model.device_shapes())]
    trace = Trace()
    values = {"num_directions": 32} if algorithm == "mfdd" else {}
    t = registry.build(algorithm, registry.settings_for(algorithm, values), model, devices, 10,
                       seed=0, trace=trace)
    x, y = data                                  # flattened images: the model reshapes them
    times = []
    for i in range(steps + 1):
        xb, yb = x[i * B:(i + 1) * B], y[i * B:(i + 1) * B]
        c0 = time.process_time()
        trace.begin_step()
        t.step(xb, yb)
        trace.end_step()
        if i:                                  # the first step warms up
            times.append(time.process_time() - c0)
    return statistics.median(times)


def fit_width(points: list[tuple[int, float]], budget_s: float) -> tuple[float, float, float]:
    """t = a·w^b through (w, t) points (log-log least squares); the width where t = budget."""
    lx = [math.log(w) for w, _ in points]
    ly = [math.log(t) for _, t in points]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    b = sum((u - mx) * (v - my) for u, v in zip(lx, ly)) / sum((u - mx) ** 2 for u in lx)
    a = math.exp(my - b * mx)
    return a, b, (budget_s / a) ** (1.0 / b)


def _merge_json(path: str, out: dict) -> None:
    """Add this run's rows to ``path`` (a run per preset/kind may write the same file)."""
    old = {}
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
    keys = {(r["preset"], r["kind"], r["algorithm"]) for r in out["rows"]}
    out["rows"] = [r for r in old.get("rows", []) if (r["preset"], r["kind"], r["algorithm"])
                   not in keys] + out["rows"]
    with open(path, "w") as f:
        json.dump(out, f, indent=2)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget-min", type=float, default=10.0)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--presets", nargs="+", default=["mzi-default", "crossbar-default"])
    ap.add_argument("--kinds", nargs="+", default=["mlp", "cnn"])
    ap.add_argument("--algorithms", nargs="+", default=["local-guess", "mfdd"])
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    from experiments.data import load_dataset, standardize
    ds = standardize(load_dataset("fashion-mnist"))
    data = (ds.x_train[:(args.steps + 1) * B], ds.y_train[:(args.steps + 1) * B])
    steps_per_epoch = math.ceil(TRAIN / B)
    budget = 60.0 * args.budget_min / steps_per_epoch
    print(f"budget: {args.budget_min:g} min per epoch = {steps_per_epoch} steps of B = {B} -> "
          f"{budget:.3f} s of CPU per step (one thread; estimated from measured steps)")
    out: dict = {"budget_s_per_step": budget, "steps_per_epoch": steps_per_epoch, "rows": []}
    for preset in args.presets:
        for kind in args.kinds:
            for algo in args.algorithms:
                pts = [(w, step_cpu_s(preset, algo, kind, w, args.steps, data))
                       for w in WIDTHS[(kind, algo)]]
                a, b, w_max = fit_width(pts, budget)
                what = "784-h MLP, h" if kind == "mlp" else "CNN conv(c,3x3)-pool-dense32, c"
                row = {"preset": preset, "kind": kind, "algorithm": algo, "points": pts,
                       "exponent": b, "largest_width": w_max,
                       "epoch_min_at_largest_measured": pts[-1][1] * steps_per_epoch / 60}
                out["rows"].append(row)
                print(f"{preset:<17} {kind} {algo:<11} " + ", ".join(
                    f"w={w}: {1e3 * t:.0f} ms" for w, t in pts)
                    + f"  t ~ w^{b:.2f}; {what} <= {w_max:.0f} for a {args.budget_min:g}-min epoch"
                    + (f" (extrapolated {w_max / pts[-1][0]:.1f}x past the widest measured: not "
                       "trusted)" if w_max > 2 * pts[-1][0] else ""), flush=True)
    if args.json:
        _merge_json(args.json, out)
    return out


if __name__ == "__main__":
    main()

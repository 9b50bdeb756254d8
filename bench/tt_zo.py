"""TT-ZO on Fashion-MNIST (Zhao et al., arXiv:2308.09858): a TT network trained forward-only
through the device, against its dense ZO counterpart at equal device queries and against
first-order training of the same TT network on the ideal digital twin.

    python bench/tt_zo.py [--preset crossbar-ideal] [--n-train 4000] [--n-test 2000]
        [--batch 100] [--epochs 1] [--hidden-modes 8x4x4x8] [--rank 6] [--directions 10]

Rows (same data order, same steps, same seed):
* ``tt-zo``: 784 → H → 10 with both layers in TT format (reference code ``tt.yml``: in modes
  7x4x4x7, hidden modes 8x4x4x8 (H = 1024), output 1x5x2x1, rank 6), one device per core, one
  Rademacher forward-difference estimate (N directions) over every core knob and hidden bias;
* ``dense-zo``: the same network with dense layers (one core each: 784·H and H·10 device
  knobs), the same estimator and N: equal settings per step, so equal device queries per step
  counted as network evaluations (the table also gives the device calls, cores × settings);
* ``tt-fo``: the same TT network, knobs and initial values, Adam with autograd through the
  nominal twin (labelled "ideal digital twin, autograd").
Printed: test accuracy, trained coordinates d, settings and device calls per step, device
queries in total, and CPU seconds (one thread). Learning rates are fixed (no test-set tuning).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from algorithms import registry  # noqa: E402
from algorithms.baselines.tt_twin import LABEL  # noqa: E402
from algorithms.families.tensor_train import TTModel  # noqa: E402
from algorithms.seeds import generator  # noqa: E402
from algorithms.tt import TTShape  # noqa: E402
from algorithms.tt_zo import OutputCrossEntropy  # noqa: E402
from experiments.data import load_dataset, standardize  # noqa: E402
from experiments.build import build_devices  # noqa: E402
from hwsim.presets import device_config  # noqa: E402
from hwsim.trace import Trace  # noqa: E402


def _accuracy(model, x, y) -> float:
    correct = 0
    for i in range(0, x.shape[0], 500):
        correct += int((model.predict(x[i:i + 500]) == y[i:i + 500]).sum())
    return correct / x.shape[0]


def _train(model, x, y, args, trace=None) -> tuple[float, int]:
    g = generator(args.seed, "bench/batches")
    t0, steps = time.process_time(), 0
    for _ in range(args.epochs):
        for idx in torch.randperm(x.shape[0], generator=g).split(args.batch):
            if trace is not None:
                trace.begin_step()
            model.step(x[idx], y[idx])
            if trace is not None:
                trace.end_step()
            steps += 1
    return time.process_time() - t0, steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="crossbar-ideal")
    p.add_argument("--n-train", type=int, default=4000)
    p.add_argument("--n-test", type=int, default=2000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--hidden-modes", default="8x4x4x8")
    p.add_argument("--rank", type=int, default=6)
    p.add_argument("--directions", type=int, default=10)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip-dense", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    data = standardize(load_dataset("fashion-mnist", None, seed=args.seed))
    x, y = data.x_train[:args.n_train], data.y_train[:args.n_train]
    xt, yt = data.x_test[:args.n_test], data.y_test[:args.n_test]
    hm = tuple(int(v) for v in args.hidden_modes.split("x"))
    H = math.prod(hm)
    tt = [TTShape((7, 4, 4, 7), hm, args.rank), TTShape(hm, (1, 5, 2, 1), args.rank)]
    dense = [TTShape((784,), (H,), 1), TTShape((H,), (10,), 1)]
    physics = device_config(args.preset)
    settings = registry.settings_for("tt-zo", {
        "layers": [f"tt:7x4x4x7:{args.hidden_modes}:{args.rank}",
                   f"tt:{args.hidden_modes}:1x5x2x1:{args.rank}"],
        "num_directions": args.directions, "knob_lr_range_units": args.lr, "head_lr": 1e-2,
        "write_noise_range_units": 0.0 if args.preset.endswith("ideal") else None})
    rows = []
    for name, shapes in (("tt-zo", tt), ("dense-zo", dense), ("tt-fo", tt)):
        if name == "dense-zo" and args.skip_dense:
            continue
        trace = Trace()
        net_of = TTModel(tuple(shapes), "relu")
        algo = "tt-autograd" if name == "tt-fo" else "tt-zo"
        devices = build_devices(physics, registry.device_layout(algo, settings, net_of), args.seed)
        t = registry.build(algo, settings, net_of, devices, 10, seed=args.seed, trace=trace,
                           objective=OutputCrossEntropy())
        if name == "tt-fo":
            m = t.trainer
            d, settings_per_step, calls = m.net.dim + 10, 0, 0
            cpu, steps = _train(m, x, y, args)
        else:
            m = t.trainer
            d = m.net.dim
            settings_per_step = m.estimator.device_queries()
            calls = m.device_queries_per_step()
            cpu, steps = _train(m, x, y, args, trace)
        acc = _accuracy(m, xt, yt)
        rows.append((name, "forward-only on " + args.preset if name != "tt-fo" else LABEL, acc, d,
                     settings_per_step, calls, calls * steps, cpu, steps))
        print(f"  done {name}: accuracy {acc:.4f} in {cpu:.0f} s CPU", flush=True)
    print(f"\nFashion-MNIST, {args.n_train} train / {args.n_test} test, batch {args.batch}, "
          f"{args.epochs} epoch(s), seed {args.seed}; TT 784-{H}-10 rank {args.rank}, "
          f"N = {args.directions} Rademacher directions (forward differences), Adam lr "
          f"{args.lr} (knob range units)")
    head = (f"{'row':<9} {'label':<34} {'test acc':>8} {'d':>9} {'settings/step':>13} "
            f"{'device calls/step':>17} {'device calls':>12} {'CPU s':>7}")
    print(head)
    print("-" * len(head))
    for name, label, acc, d, sps, cps, total, cpu, steps in rows:
        print(f"{name:<9} {label:<34} {acc:>8.4f} {d:>9} {sps:>13} {cps:>17} {total:>12} {cpu:>7.0f}")
    print(f"(steps: {rows[0][-1]}; 'settings' = network evaluations per step, equal for tt-zo and "
          "dense-zo; a device call programs and queries one core device)")


if __name__ == "__main__":
    main()

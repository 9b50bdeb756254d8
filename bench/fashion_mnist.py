"""Benchmark: MF+DD on Fashion-MNIST through the ideal and the default MZI preset, with the
accuracy reached per number of forward queries, next to MF-AD and BP (ideal digital twin,
autograd) on the same architecture. Not a CI test: it takes tens of minutes on 2 cores.

Data: the official IDX files (Debian package ``dataset-fashion-mnist``, $FORWARDLAB_DATA, or
the download cache). Results files go to ``bench/results/`` (override with --out-dir).

Run: python bench/fashion_mnist.py [--epochs 3] [--hidden 64] [--directions 32]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from experiments.config import resolve  # noqa: E402
from experiments.runner import run, set_threads  # noqa: E402


def queries_per_epoch(rec) -> list[float]:
    """Cumulative forward queries (device settings evaluated on a minibatch) at each epoch end."""
    per_step = [sum(v for k, v in s.items() if k.endswith(".mvm.settings")) for s in rec.step_summaries]
    ends = [int(s) for s in rec.history["steps"]]
    return [float(sum(per_step[:e])) for e in ends]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--hidden", type=int, nargs="+", default=[64])
    ap.add_argument("--directions", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args()
    set_threads(1)      # one thread per process, as the CLI and the tests (see README)
    os.makedirs(args.out_dir, exist_ok=True)
    rows = []
    for preset in ("mzi-ideal", "mzi-default"):
        cfg = resolve({"data": {"dataset": "fashion-mnist"},
                       "model": {"hidden": list(args.hidden)},
                       "algorithm": {"num_directions": args.directions},
                       "run": {"epochs": args.epochs, "batch_size": args.batch_size,
                               "references": preset == "mzi-ideal"},
                       "device": {"preset": preset}})
        t0 = time.perf_counter()
        rec = run(cfg, os.path.join(args.out_dir, f"fmnist-{preset}.h5"), overwrite=True,
                  echo=lambda s: print(s, flush=True))
        wall = time.perf_counter() - t0
        for e, (q, acc) in enumerate(zip(queries_per_epoch(rec), rec.history["test_accuracy"])):
            rows.append((f"MF+DD on {preset}", e + 1, q, acc))
        for mode, hist in rec.references.items():
            for e, acc in enumerate(hist["test_accuracy"]):
                rows.append((f"{mode.upper()} (ideal digital twin, autograd)", e + 1, float("nan"), acc))
        print(f"[{preset}] wall time {wall:.0f} s")
    print("\nFashion-MNIST, MLP 784-" + "-".join(map(str, args.hidden)) + " with local heads")
    print(f"{'model':<40} {'epoch':>5} {'forward queries':>16} {'test accuracy':>14}")
    for name, e, q, acc in rows:
        qs = "-" if q != q else f"{q:,.0f}"
        print(f"{name:<40} {e:>5} {qs:>16} {acc:>14.4f}")


if __name__ == "__main__":
    main()

"""Time to a target accuracy on Fashion-MNIST per algorithm: accuracy against CPU seconds and
against device energy, one plot — to pick an algorithm by time as well as by accuracy.

Every algorithm trains the same network on the same data subset, minibatch order and initial
weights (``bench/energy_to_accuracy.py``'s ``train_one``, one thread); test accuracy after every
epoch. CPU seconds: the process CPU time of the training (evaluation included), spread evenly
over the epochs (every epoch takes the same steps). Energy: forward-only algorithms are priced
from their own traced steps on the device (nominal level); the autograd baselines (mf-ad, bp:
ideal digital twin, no device ran) on the GPU band of ``--gpu`` (nominal). The target is
``--target`` or 0.95 × the lowest best accuracy, so every run reaches it.

Run: python bench/time_to_accuracy.py [--algorithms mfdd local-guess frog mf-ad bp]
     [--preset mzi-default] [--n-train 1024] [--epochs 4] [--out bench/results/time_to_accuracy]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import energy_to_accuracy as e2a  # noqa: E402  (sets threads and the import path)

from algorithms import registry  # noqa: E402
from algorithms.model import model_from_config  # noqa: E402
from experiments.price import TARGET_FRACTION  # noqa: E402
from hwsim.cost.spec import spec_from_mapping  # noqa: E402


def first_at(values: list[float], acc: list[float], target: float) -> float | None:
    return next((v for v, a in zip(values, acc) if a >= target), None)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algorithms", nargs="+", default=["mfdd", "local-guess", "frog", "mf-ad", "bp"])
    ap.add_argument("--preset", default="mzi-default")
    ap.add_argument("--n-train", type=int, default=1024)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--hidden", nargs="+", type=int, default=[64])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--gpu", default="H100 SXM5")
    ap.add_argument("--target", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/results/time_to_accuracy")
    a = ap.parse_args(argv)
    train, test = e2a.subset("fashion-mnist", a.n_train, a.n_test, a.seed)
    n_in = int(train[0].shape[1])
    model = model_from_config((n_in,), hidden=a.hidden)
    p_host = spec_from_mapping("nominal", None)["mzi"].p_host_static_w
    config = {"cost_level": "nominal", "gpus": [], "hidden": a.hidden,
              "batch_size": a.batch_size, "dataset": "fashion-mnist"}
    runs = {}
    for name in a.algorithms:
        values = e2a.DEFAULT_SETTINGS.get(name, {})
        acc, steps, summaries, cpu, label = e2a.train_one(name, model, a.preset, train, test,
                                                          a.epochs, a.batch_size, a.seed, values)
        twin = registry.ALGORITHMS[name].label.startswith("ideal digital twin")
        # energy per step does not depend on the target (0.0 here: the target is set below)
        if twin:
            row, _, _ = e2a.price_bp_run([n_in, *a.hidden], a.batch_size, a.gpu, acc, steps,
                                         0.0, p_host)
            where = f"GPU {a.gpu} (nominal band)"
        else:
            row = e2a.price_device_run(summaries, acc, steps, config, 0.0)
            where = f"{a.preset} (nominal)"
        e_step = row.metrics["energy_per_step_j_nominal"]
        cpu_at = [cpu * (i + 1) / len(acc) for i in range(len(acc))]
        runs[name] = {"accuracy": acc, "steps": steps, "cpu_s": cpu_at,
                      "energy_j": [e_step * s for s in steps], "priced_on": where, "label": label}
        print(f"  {name:12s} accuracy per epoch {' '.join(f'{x:.3f}' for x in acc)}  "
              f"({cpu:.1f} s CPU, {e_step:.3g} J/step on {where})", flush=True)
    target = a.target if a.target is not None else \
        TARGET_FRACTION * min(max(r["accuracy"]) for r in runs.values())
    print(f"\nTo test accuracy {target:.4f} (Fashion-MNIST, {a.n_train} train / {a.n_test} test, "
          f"MLP {n_in}-{'-'.join(map(str, a.hidden))}, batch {a.batch_size}, {a.epochs} epochs, "
          f"seed {a.seed}, one thread):")
    print(f"{'algorithm':<12} {'best acc':>8} {'CPU s to target':>16} {'energy J to target':>19}  priced on")
    for name, r in runs.items():
        c = first_at(r["cpu_s"], r["accuracy"], target)
        e = first_at(r["energy_j"], r["accuracy"], target)
        r.update(cpu_to_target_s=c, energy_to_target_j=e)
        print(f"{name:<12} {max(r['accuracy']):8.3f} {('-' if c is None else f'{c:.1f}'):>16} "
              f"{('-' if e is None else f'{e:.3g}'):>19}  {r['priced_on']}")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _plot(runs, target, out.with_suffix(".png"))
    with open(out.with_suffix(".json"), "w") as f:
        json.dump({"target": target, "args": vars(a), "runs": runs}, f, indent=2)
    print(f"wrote {out.with_suffix('.png')} and {out.with_suffix('.json')}")
    return runs


def _plot(runs: dict, target: float, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax_t, ax_e) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for name, r in runs.items():
        ax_t.plot(r["cpu_s"], r["accuracy"], marker="o", label=name)
        ax_e.plot(r["energy_j"], r["accuracy"], marker="o", label=name)
    for ax in (ax_t, ax_e):
        ax.axhline(target, color="grey", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    ax_t.set_xlabel("CPU seconds of the simulation (one thread)")
    ax_e.set_xlabel("energy of the training steps [J] (device, or GPU for autograd)")
    ax_t.set_ylabel("test accuracy")
    ax_e.legend(fontsize=8)
    fig.suptitle("Fashion-MNIST: accuracy against time and against energy")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()

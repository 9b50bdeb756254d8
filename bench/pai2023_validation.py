"""Choices of the ``pai2023`` reproduction where the paper is silent, made on a VALIDATION split:
the last 20 % of each seed's training points (shuffled by the data generator) are held out, the
rest trains; the test points are never touched. Accuracy: error-free inference of the trained
phases, as the reproduction scores it.

    PYTHONPATH=$PWD nice -n 10 python bench/pai2023_validation.py \
        --tasks ring moons --seeds 0 1 2 --algorithms bp-twin insitu-bp --inits uniform haar \
        > bench/results/pai2023_validation.txt

Prints one line per (task, algorithm, init, seed) and the mean per (task, algorithm, init).
"""
from __future__ import annotations

import argparse
import statistics
import time

from algorithms.optical_readout import Readout
from experiments.planar import circular_bias, load_planar
from experiments.reproduce.common import run_algorithm
from experiments.reproduce.pai2023 import CONFIG, samples


def validation_split(task: str, seed: int, n: int):
    """(x_fit, y_fit, x_val, y_val): the training points of ``seed`` split 80 / 20."""
    xtr, ytr, _, _ = load_planar(task, seed, n=n)
    cut = int(round(0.8 * len(xtr)))
    return (circular_bias(xtr[:cut]), ytr[:cut], circular_bias(xtr[cut:]), ytr[cut:])


def _value(text: str):
    """An override's value: int, float, true/false, or the string itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", nargs="+", default=["ring", "moons"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--algorithms", nargs="+", default=["bp-twin"])
    ap.add_argument("--inits", nargs="+", default=["uniform", "haar"])
    ap.add_argument("--override", nargs="*", default=[],
                    help="algorithm.key=value settings overrides, e.g. insitu-bp.lr=0.05")
    args = ap.parse_args()
    readout = Readout(**CONFIG["readout"])
    over: dict = {}
    for item in args.override:
        key, value = item.split("=")
        alg, field = key.split(".")
        over.setdefault(alg, {})[field] = _value(value)
    summary: dict = {}
    for task in args.tasks:
        for alg in args.algorithms:
            settings = {**CONFIG["algorithms"][alg], **over.get(alg, {})}
            for init in args.inits:
                for seed in args.seeds:
                    t0 = time.process_time()
                    data = validation_split(task, seed, samples(CONFIG, task))
                    curve = run_algorithm(alg, settings, CONFIG["preset"], readout, data, seed,
                                          inference="error-free", init=init, evals=1)
                    acc = curve.accuracy[-1]
                    summary.setdefault((task, alg, init), []).append(acc)
                    print(f"{task} {alg} {init} seed {seed}: val {acc:.3f} "
                          f"({time.process_time() - t0:.0f} s CPU) settings {settings}", flush=True)
    for (task, alg, init), accs in summary.items():
        print(f"MEAN {task} {alg} {init}: val {statistics.fmean(accs):.3f} "
              f"(min {min(accs):.3f}, {len(accs)} seeds)", flush=True)


if __name__ == "__main__":
    main()

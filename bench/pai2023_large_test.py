"""How far the ``pai2023`` scores are set by the paper's small test sets: the reproduction's
networks, trained on exactly its training points (the same seed, data, protocol, restarts and
error-free inference), scored on a large fresh test sample of the same distribution, beside the
Bayes-optimal accuracy of that distribution.

The published protocol scores 50 moons / 100 ring test points, where one point is 2 / 1 %; the
reproduction keeps that protocol. This bench does not replace it: it measures the accuracy the
trained network generalises to (``--n-test`` fresh points drawn with another generator seed) and
the ceiling no classifier can pass on moons (:func:`moons_bayes_accuracy`: the class posterior
of each point under the generating distribution — a point on either half circle, the circle
parameter uniform on [0, π], plus N(0, 0.2²) per coordinate — integrated on a fine grid of the
circle parameter). For ring the classes are deterministic shells of the same Gaussian, so the
Bayes accuracy is 1 and not computed.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python bench/pai2023_large_test.py --task moons \
        --seeds 0 1 2 3 4 --algorithms bp-twin insitu-bp --n-test 5000

Prints one line per (algorithm, seed): large-sample accuracy and its binomial standard error,
then the mean per algorithm and the Bayes accuracy on the same sample.
"""
from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch

from algorithms.optical_readout import Readout
from experiments.planar import MOONS_NOISE, load_planar
from experiments.reproduce.pai2023 import CONFIG, QUICK, train

#: generator seeds of the fresh test samples: far from the reproduction's seeds 0-4
FRESH_SEED_OFFSET = 10_000


def fresh_test(task: str, seed: int, n_test: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_test`` points of ``task`` from generator seed FRESH_SEED_OFFSET + seed (the
    training and test parts of that draw together: every point is new)."""
    xa, ya, xb, yb = load_planar(task, FRESH_SEED_OFFSET + seed, n=n_test)
    return torch.cat([xa, xb]), torch.cat([ya, yb])


def moons_bayes_accuracy(x: np.ndarray, y: np.ndarray, noise: float = MOONS_NOISE,
                         grid: int = 2001) -> float:
    """Accuracy of the Bayes classifier of the moons distribution on points ``x`` (N, 2) with
    labels ``y`` (N,): class c's density is (1/π)∫₀^π N(x; m_c(t), noise²·I) dt with
    m_0(t) = (cos t, sin t), m_1(t) = (1 − cos t, 1/2 − sin t) and equal priors; the integral is
    a mean over ``grid`` points of t (the generator spaces t evenly, :func:`make_moons`)."""
    t = np.linspace(0.0, np.pi, grid)
    means = (np.stack([np.cos(t), np.sin(t)], 1), np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1))
    dens = [np.exp(-((x[:, None, :] - m[None]) ** 2).sum(-1) / (2 * noise ** 2)).mean(1)
            for m in means]
    return float(((dens[1] > dens[0]).astype(np.int64) == y).mean())


def main(argv=None) -> list[str]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="moons", choices=["moons", "ring"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--algorithms", nargs="+", default=["bp-twin", "insitu-bp"])
    ap.add_argument("--n-test", type=int, default=5000)
    ap.add_argument("--quick", action="store_true", help="the reproduction's --quick settings")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    config = QUICK if a.quick else CONFIG
    readout = Readout(**config["readout"])
    fresh = {seed: fresh_test(a.task, seed, a.n_test) for seed in a.seeds}
    lines, accs = [], {}
    for alg in a.algorithms:
        for seed in a.seeds:
            t0 = time.process_time()
            acc = train(config, a.task, alg, seed, test=fresh[seed], evals=1,
                        readout=readout).accuracy[-1]
            accs.setdefault(alg, []).append(acc)
            n = len(fresh[seed][1])
            se = math.sqrt(acc * (1 - acc) / n)
            lines.append(f"{a.task} {alg} seed {seed}: {acc:.4f} ± {se:.4f} on {n} fresh "
                         f"points ({time.process_time() - t0:.0f} s CPU)")
            print(lines[-1], flush=True)
    for alg, v in accs.items():
        sd = statistics.stdev(v) if len(v) > 1 else 0.0
        lines.append(f"MEAN {a.task} {alg}: {statistics.fmean(v):.4f} ± {sd:.4f} over "
                     f"{len(v)} seeds")
        print(lines[-1], flush=True)
    if a.task == "moons":
        bayes = [moons_bayes_accuracy(*(t.numpy() for t in fresh[s])) for s in a.seeds]
        lines.append(f"BAYES moons (noise {MOONS_NOISE}): {statistics.fmean(bayes):.4f} on the "
                     f"same fresh points (per seed {' '.join(f'{b:.4f}' for b in bayes)})")
        print(lines[-1], flush=True)
    return lines


if __name__ == "__main__":
    main()

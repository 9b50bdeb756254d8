"""The seed methods as their papers define them against their earlier forms, on the shipped digits.

    python bench/seed_methods_digits.py [--preset mzi-default] [--hidden 32 32] [--epochs 3]
        [--seeds 0 1 2] [--batch-size 64]

Each pair differs only in the paper-defined setting (defaults = the paper's; the other row is the
labelled option): local-guess ``target`` global / local, mfdd-thesis greedy + DAC-floored ε /
simultaneous + plain norm, FROG plain projection / × d/k, tt-zo one layer per query group with
Adam betas (0.9, 0.5) / all at once with (0.9, 0.999). Next to them, the same MLP's frozen-knob
control and MF-AD (ideal digital twin, autograd), same seeds, batches and initial weights per
seed. Settings are the registry defaults (nothing is tuned, so no validation split is used); the
digits split is the shipped stratified 1437 train / 360 test split drawn with each seed. greedy
trains ``--epochs`` epochs per layer (so mfdd-thesis's greedy row takes n_layers × the steps).
tt-zo trains its own tensor-train network (the registry's digits example), not the MLP.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import algorithms.baselines  # noqa: E402,F401  (registers the autograd baselines)
from algorithms import registry  # noqa: E402
from algorithms.model import model_from_config  # noqa: E402
from experiments.build import build_devices  # noqa: E402
from experiments.data import load_dataset, standardize  # noqa: E402
from hwsim.presets import device_config  # noqa: E402
from hwsim.trace import Trace  # noqa: E402

TT = dict(registry.ALGORITHMS["tt-zo"].example)
#: (row, algorithm, settings): paper-defined default first, the labelled option second
ROWS = (
    ("frozen", "frozen", {}),
    ("mf-ad", "mf-ad", {}),
    ("local-guess target=global", "local-guess", {"target": "global"}),
    ("local-guess target=local", "local-guess", {"target": "local"}),
    ("mfdd-thesis greedy, eps>=1 DAC", "mfdd-thesis", {}),
    ("mfdd-thesis simult., plain eps", "mfdd-thesis",
     {"schedule": "simultaneous", "epsilon_min_dac_steps": 0}),
    ("frog projection", "frog", {"scale": "projection"}),
    ("frog x d/k", "frog", {"scale": "unbiased"}),
    ("tt-zo per layer, b2=0.5", "tt-zo", dict(TT)),
    ("tt-zo all at once, b2=0.999", "tt-zo", dict(TT, perturbation="all", adam_b2=0.999)),
)


def accuracy(tr, x, y) -> float:
    return float((tr.predict(x) == y).float().mean())


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="mzi-default")
    p.add_argument("--hidden", nargs="+", type=int, default=[32, 32])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--rows", nargs="+", default=None, help="row names to run (default: all)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    model = model_from_config((64,), hidden=a.hidden)
    t_start = time.perf_counter()
    print(f"digits, {a.preset}, MLP 64-{'-'.join(map(str, a.hidden))}, {a.epochs} epochs "
          f"(greedy: per layer), batch {a.batch_size}, seeds {a.seeds}")
    print(f"{'row':32s} {'test acc (mean ± sd)':>22s} {'per seed':>24s} {'queries/seed':>13s}  label")
    for row, name, values in ROWS:
        if a.rows and row not in a.rows:
            continue
        accs, queries, label = [], [], ""
        for seed in a.seeds:
            data = standardize(load_dataset("digits", seed=seed))
            trace = Trace()
            s = registry.settings_for(name, values)
            devs = build_devices(device_config(a.preset),
                                 registry.device_layout(name, s, model), seed)
            tr = registry.build(name, s, model, devs, 10, seed=seed, trace=trace)
            res = registry.train(tr, data.x_train, data.y_train, epochs=a.epochs,
                                 batch_size=a.batch_size, seed=seed, trace=trace)
            accs.append(accuracy(tr, data.x_test, data.y_test))
            queries.append(sum(v for st in res.step_summaries for k, v in st.items()
                               if k.endswith(".mvm.settings")))
            label = tr.label
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"{row:32s} {statistics.mean(accs):>13.4f} ± {sd:.4f} "
              f"{' '.join(f'{v:.4f}' for v in accs):>24s} {statistics.mean(queries):>13.0f}  "
              f"{label}", flush=True)
    print(f"({time.perf_counter() - t_start:.0f} s)")


if __name__ == "__main__":
    main()

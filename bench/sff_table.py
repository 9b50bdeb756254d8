"""SFF (CNN and MLP) vs MF+DD vs BP vs FF on Fashion-MNIST through mzi-default and
crossbar-default: test accuracy and device queries, side by side in one run (one thread).

    python bench/sff_table.py            # a few minutes of CPU
    python bench/sff_table.py --quick    # smaller subset (smoke)

Reduced to fit a few minutes of one CPU thread (say so next to any number taken from here):
a stratified-by-chance training subset (``N_TRAIN`` of 60 000), a test subset (``N_TEST`` of
10 000), ``EPOCHS`` epoch(s), small networks (MLP 784-64-64; CNN conv 8@5×5 stride 2 → dense 64),
one seed. The absolute accuracies are therefore far below the papers' (SFF CIFAR-10 CNN 81.38 %
third-party note on arXiv:2501.03176; FF MNIST 1.36 % error, arXiv:2212.13345 §3.3); compare the
rows with each other. The readout-repeatability line says how much of a 784-wide first-layer
readout survives the device's query noise (mzi-default, its laser sized to the array: ~0.97). Device queries = settings programmed and queried during training, from
the trace (BP trains on the ideal digital twin: 0 device queries, labelled so).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import algorithms.baselines  # noqa: E402,F401  (registers the twin builders)
from algorithms import registry  # noqa: E402
from algorithms.model import model_from_config  # noqa: E402
from algorithms.training import accuracy  # noqa: E402
from experiments.data import load_dataset, standardize  # noqa: E402
from experiments.build import build_devices  # noqa: E402
from hwsim.presets import build_layer, device_config  # noqa: E402
from hwsim.trace import Trace  # noqa: E402

N_TRAIN, N_TEST, EPOCHS, BATCH, SEED = 1500, 1000, 1, 64, 0
PRESETS = ("mzi-default", "crossbar-default")
MLP = ["dense:64", "bias", "relu", "dense:64", "bias", "relu"]
CNN = ["conv2d:8:5:2:0", "bias", "relu", "flatten", "dense:64", "bias", "relu"]

#: (row label, algorithm, architecture, settings)
ROWS = [
    ("SFF CNN, local guess", "sff", CNN, {"estimator": "local-guess"}),
    ("SFF MLP, local guess", "sff", MLP, {"estimator": "local-guess"}),
    ("SFF MLP, Rademacher P=8", "sff", MLP, {"estimator": "rademacher"}),
    ("MF+DD MLP (mfdd)", "mfdd", MLP, {}),
    ("FF MLP, local guess", "ff", MLP, {"estimator": "local-guess"}),
    ("BP MLP (twin)", "bp", MLP, {}),
]


def mvm_settings(summary) -> float:
    return sum(v for k, v in summary.items() if k.endswith(".mvm.settings"))


def run_row(algo, arch, values, preset, data):
    x, y, xt, yt = data
    shape = (28, 28) if arch[0].startswith("conv") else (784,)
    model = model_from_config(shape, architecture=arch)
    settings = registry.settings_for(algo, values)
    devices = build_devices(device_config(preset), registry.device_layout(algo, settings, model),
                            SEED)
    trace = Trace()
    t = registry.build(algo, settings, model, devices, 10, seed=SEED, trace=trace)
    t0 = time.process_time()
    res = registry.train(t, x, y, epochs=EPOCHS, batch_size=BATCH, seed=SEED, trace=trace)
    train_s = time.process_time() - t0
    acc = accuracy(t, xt, yt)
    queries = sum(mvm_settings(s) for s in res.step_summaries)
    return acc, queries, t.label, train_s


def readout_repeatability(preset: str, x: torch.Tensor) -> float:
    """cos between two readouts of the same programmed first layer (784 → 64, kaiming init) on
    the same inputs: 1 = noise-free, ~0 = the readout is dominated by query noise. Measured on
    the device as a user could (two queries), printed so the table explains itself."""
    d = build_layer(preset, 784, 64, seed=0, name="probe")
    g = torch.Generator().manual_seed(SEED)
    w = (2 * torch.rand(64, 784, generator=g) - 1) / 28.0          # kaiming_uniform(a=√5)
    prog = d.program(d.knobs_from_weight(w), g)
    z1, z2 = d.query(prog, x, g)[0], d.query(prog, x, g)[0]
    return float(torch.nn.functional.cosine_similarity(z1.flatten(), z2.flatten(), dim=0))


def main(argv=None) -> None:
    global N_TRAIN, N_TEST
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1000 train / 500 test examples")
    args = ap.parse_args(argv)
    if args.quick:
        N_TRAIN, N_TEST = 1000, 500
    torch.set_num_threads(1)
    ds = standardize(load_dataset("fashion-mnist"))
    g = torch.Generator().manual_seed(SEED)
    tr = torch.randperm(ds.x_train.shape[0], generator=g)[:N_TRAIN]
    te = torch.randperm(ds.x_test.shape[0], generator=g)[:N_TEST]
    data = (ds.x_train[tr], ds.y_train[tr], ds.x_test[te], ds.y_test[te])
    print(f"Fashion-MNIST subset: {N_TRAIN} train / {N_TEST} test, {EPOCHS} epoch(s), batch "
          f"{BATCH}, seed {SEED}, one thread")
    print("first-layer readout repeatability (cos of two queries, 784->64): " + ", ".join(
        f"{p} {readout_repeatability(p, data[0][:BATCH]):.3f}" for p in PRESETS))
    head = f"{'algorithm':<26} {'label':<30} " + " ".join(
        f"{p + ' acc':>18} {'queries':>9}" for p in PRESETS) + f" {'CPU s':>7}"
    print(head)
    print("-" * len(head))
    for name, algo, arch, values in ROWS:
        cells, labels, cpu = [], [], 0.0
        for preset in PRESETS:
            acc, q, label, s = run_row(algo, arch, values, preset, data)
            cells.append(f"{acc:>18.3f} {int(q):>9d}")
            labels.append(label)
            cpu += s
        label = " / ".join(dict.fromkeys(labels))      # per preset where they differ
        print(f"{name:<26} {label:<30} " + " ".join(cells) + f" {cpu:>7.0f}", flush=True)


if __name__ == "__main__":
    main()

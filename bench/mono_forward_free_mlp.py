"""A control for the Mono-Forward table: the published MF protocol on a *free* MLP (plain torch
tensors, no device twin), on exactly the data split ``bench/mono_forward_table.py`` uses.

    python bench/mono_forward_free_mlp.py [--seeds 0 1 2] [--epochs-per-layer 12]
        [--features per-pixel|global] [--out FILE.jsonl]

Why: MF-AD on the ideal crossbar twin tests 88.92 ± 0.33 % where Spyra & Dzwinel publish
89.6–89.8 % (arXiv 2511.01061). The twin differs from their network in one way by design (every
weight is bounded by its tile's conductance range, θ ∈ [−½, ½]); the data pipeline (split,
normalisation) and the optimiser are shared with this control. So this control says where the
gap lives: if a free MLP trained by their protocol on our split lands where the twin does, the
gap is not the twin's; if it lands on 89.6–89.8 %, the twin (its weight bound or its θ units)
costs the difference.

The protocol, as their code defines it (``Przemyslaw11/BeyondBackpropagation``
``src/architectures/mf_mlp.py`` and ``src/algorithms/mf.py`` at commits da873e3 / 869d7b0;
re-implemented here from its description, not copied):

* MLP 784-1000-1000, ReLU, biases 0; weights U(−√6/√n_in, √6/√n_in): their layers call
  ``kaiming_uniform_(w, a=√5, nonlinearity="relu")``, and torch's gain for "relu" is √2 whatever
  ``a`` is (``torch.nn.init.calculate_gain``), so the bound is √2·√(3/n_in) = √6/√n_in — 2.45×
  torch's ``nn.Linear`` default U(±1/√n_in), which ``--weight-init linear-default`` keeps as a
  labelled option (this control's first runs used it); one projection matrix M_i (10 × n_i, no
  bias) per hidden activation a_i, U(−1/√n_i, 1/√n_i) (``kaiming_uniform_(a=√5)``, leaky-ReLU
  gain); the local loss CE(a_i M_iᵀ, y);
* greedy: layer i's (W_i, b_i, M_i) trained together by one Adam (lr 3.873086e-4, weight decay 0)
  for 12 epochs while earlier layers are frozen, then the next layer (their M_0 on the raw input
  is trained first as well; it does not enter the prediction, so it is skipped here);
* batches of 128, shuffled every epoch; prediction argmax(a_L M_Lᵀ) ("Evaluating MF using a_2 and
  M_2" in their log);
* their early stopping (validation local loss, patience 10 of 12 epochs) is reported, not applied:
  the test accuracy is printed at the last epoch and at the best-validation epoch, as the table.

One thread; autograd on a free network (labelled: this is a control, not a device algorithm).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from bench.fashion_algorithms import split  # noqa: E402
from bench.mono_forward_table import (  # noqa: E402
    MF_LR, PUBLISHED_MF, WEIGHT_INITS, add_data_args, mean_sd)


def uniform(shape, bound: float, gen: torch.Generator) -> torch.Tensor:
    return (2 * torch.rand(*shape, generator=gen) - 1) * bound


def init_network(widths, n_classes: int, gen: torch.Generator, weight_init: str = "reference"):
    """[(W (n_out, n_in), b (n_out,), M (C, n_out))] per hidden layer: W U(±g/√n_in) with g from
    ``WEIGHT_INITS``, b = 0, M U(±1/√n_out)."""
    g = WEIGHT_INITS[weight_init]
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        layers.append({"W": uniform((n_out, n_in), g / math.sqrt(n_in), gen),
                       "b": torch.zeros(n_out),
                       "M": uniform((n_classes, n_out), 1 / math.sqrt(n_out), gen)})
    return layers


def forward(layers, x: torch.Tensor, upto: int) -> torch.Tensor:
    """a_upto (B, n): ReLU activations after ``upto`` layers (0 = the input)."""
    a = x
    for p in layers[:upto]:
        a = torch.relu(a @ p["W"].T + p["b"])
    return a


@torch.no_grad()
def accuracy(layers, x, y, chunk: int = 2000) -> float:
    hits = 0
    for i in range(0, x.shape[0], chunk):
        a = forward(layers, x[i:i + chunk], len(layers))
        hits += int(((a @ layers[-1]["M"].T).argmax(-1) == y[i:i + chunk]).sum())
    return hits / x.shape[0]


def train_seed(seed: int, hidden, epochs: int, batch: int, lr: float, features: str,
               n_train: int, n_val: int, n_test: int, weight_bound: float = 0.0,
               weight_init: str = "reference"):
    """Greedy MF on a free MLP; returns per-epoch (layer, val accuracy, test accuracy).
    ``weight_bound`` B > 0 clips every weight to ±B/√n_in after each step: the crossbar twin's
    conductance range at B = 1 (its tile scale is the start's largest |W| ≈ 1/√n_in), so the
    bound's cost is measured without any other difference of the twin."""
    (xt, yt), (xv, yv), (xs, ys) = split(n_train, n_val, n_test, seed, features=features)
    gen = torch.Generator().manual_seed(1000 + seed)
    layers = init_network([xt.shape[1], *hidden], 10, gen, weight_init)
    history = []
    for i, p in enumerate(layers):
        params = [p[k].requires_grad_(True) for k in ("W", "b", "M")]
        opt = torch.optim.Adam(params, lr=lr, weight_decay=0.0)
        lim = weight_bound / math.sqrt(p["W"].shape[1])
        for _ in range(epochs):
            order = torch.randperm(xt.shape[0], generator=gen)
            for s in range(0, xt.shape[0], batch):
                idx = order[s:s + batch]
                with torch.no_grad():
                    a_prev = forward(layers, xt[idx], i)
                a = torch.relu(a_prev @ p["W"].T + p["b"])
                loss = F.cross_entropy(a @ p["M"].T, yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                if weight_bound > 0:
                    with torch.no_grad():
                        p["W"].clamp_(-lim, lim)
            # the prediction of the network so far: its last trained layer's head
            trained = layers[:i + 1]
            history.append((i + 1, accuracy(trained, xv, yv), accuracy(trained, xs, ys)))
            print(f"    seed {seed} layer {i + 1} epoch {len(history)}: val {history[-1][1]:.4f} "
                  f"test {history[-1][2]:.4f} ({time.process_time():.0f} s CPU)", flush=True)
        for q in params:
            q.requires_grad_(False)
    return history


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--hidden", type=int, nargs="+", default=[1000, 1000])
    ap.add_argument("--epochs-per-layer", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=128)
    add_data_args(ap)                  # the table's split and features
    ap.add_argument("--weight-bound", type=float, default=0.0,
                    help="clip weights to ±B/√n_in after every step (1: the crossbar twin's "
                         "range); 0: free")
    ap.add_argument("--weight-init", choices=sorted(WEIGHT_INITS), default="reference",
                    help="reference: U(±√6/√n_in), the reference code's kaiming_uniform with "
                         "nonlinearity='relu'; linear-default: U(±1/√n_in), torch's nn.Linear")
    ap.add_argument("--out", default="", help="append one JSON line per seed")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    last, best = [], []
    for seed in a.seeds:
        h = train_seed(seed, a.hidden, a.epochs_per_layer, a.batch_size, MF_LR, a.features,
                       a.n_train, a.n_val, a.n_test, a.weight_bound, a.weight_init)
        final = [r for r in h if r[0] == len(a.hidden)]
        last.append(final[-1][2])
        best.append(max(final, key=lambda r: r[1])[2])
        if a.out:
            with open(a.out, "a") as f:
                f.write(json.dumps({"seed": seed, "features": a.features, "hidden": a.hidden,
                                    "weight_bound": a.weight_bound, "weight_init": a.weight_init,
                                    "epochs_per_layer": a.epochs_per_layer, "history": h}) + "\n")
    m, sd = mean_sd(last)
    mb, sdb = mean_sd(best)
    print(f"free MLP 784-{'-'.join(map(str, a.hidden))}, MF greedy {a.epochs_per_layer}/layer, "
          f"features {a.features}, init {a.weight_init}, weight bound {a.weight_bound or 'none'}, seeds {a.seeds}: test {100 * m:.2f} ± {100 * sd:.2f} % (last), "
          f"{100 * mb:.2f} ± {100 * sdb:.2f} % (best val); published "
          f"{100 * PUBLISHED_MF[0]:.1f}–{100 * PUBLISHED_MF[1]:.1f} %")


if __name__ == "__main__":
    main()

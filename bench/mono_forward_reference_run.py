"""The Mono-Forward reference code itself, run here: what its published protocol gives on this
machine's Fashion-MNIST files, beside the twin's MF-AD row (``bench/mono_forward_table.py``) and
the free-MLP control (``bench/mono_forward_free_mlp.py``).

    python bench/mono_forward_reference_run.py --reference DIR [--seeds 51 53 43] [--data-dir D]

``DIR`` is a checkout of github.com/Przemyslaw11/BeyondBackpropagation at commit 869d7b0 (the
thesis codebase: ``src/architectures/mf_mlp.py``, ``src/algorithms/mf.py``); this script
imports its ``MF_MLP``, ``train_mf_model`` and ``evaluate_mf_model`` from there and copies none of
its code. Nothing of it is installed or shipped with this project. It executes that checkout's
code: point it only at a checkout you trust.

What this script supplies is only what their experiment runner would (their
``configs/mf/fashion_mnist_mlp_2x1000.yaml`` and ``src/data_utils/``):

* data: the official files through this project's verified loader (pixels / 255, as
  ``ToTensor``), then ``Normalize(0.2860, 0.3530)`` (their ``DATASET_STATS``); the 60,000 training
  images split 54,000 / 6,000 by ``random_split`` with ``Generator().manual_seed(seed)``; batches of
  128 shuffled every epoch; their ``set_seed(seed)`` first;
* the MF settings of the config: Adam 3.873086e-4, weight decay 0, 12 epochs per layer, early
  stopping on the validation local loss (patience 10, min delta 1e-4);
* their monitoring and tracking modules (``pynvml``, ``wandb``, ``codecarbon``) are replaced by
  empty stand-ins: they only log. CPU, one thread; their logs ran on a GPU with torch 2.4, so the
  same seed is not the same run here.

Their logged runs (slurm_logs/mf/MF_FMNIST_MLP_s{2,10,12}-*.out, seeds 43 / 51 / 53, May 2025):
89.62 / 89.69 / 89.84 % test accuracy. The trainer at 869d7b0 also trains M_0 on the raw input
first, which those logs do not show; M_0 does not enter the prediction (a_2 M_2ᵀ), it only
draws from the same random stream before layer 1.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import types
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from bench.mono_forward_table import LOGGED_MF, MF_LR, logged, mean_sd  # noqa: E402
from experiments.data import load_dataset  # noqa: E402

#: the files of the reference checkout this script imports (commit 869d7b0)
REQUIRED = ("src/architectures/mf_mlp.py", "src/algorithms/mf.py", "src/utils/helpers.py")
#: their config (configs/mf/fashion_mnist_mlp_2x1000.yaml at 869d7b0)
CONFIG = {"algorithm_params": {"optimizer_type": "Adam", "lr": MF_LR,
                               "weight_decay": 0.0, "epochs_per_layer": 12, "log_interval": 9999,
                               "mf_early_stopping_enabled": True, "mf_early_stopping_patience": 10,
                               "mf_early_stopping_min_delta": 0.0001}}
MEAN, STD = 0.2860, 0.3530           # their DATASET_STATS["fashionmnist"]


def check_reference(root: Path) -> None:
    """One clear line when ``root`` is not the reference checkout."""
    missing = [f for f in REQUIRED if not (root / f).is_file()]
    if missing:
        raise SystemExit(f"--reference {root}: missing {', '.join(missing)}; allowed: a checkout of "
                         "Przemyslaw11/BeyondBackpropagation at commit 869d7b0")


def import_reference(root: Path):
    """(MF_MLP, train_mf_model, evaluate_mf_model, set_seed) from the checkout, with empty
    stand-ins for the logging-only modules it imports."""
    for name in ("pynvml", "wandb", "codecarbon"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["pynvml"].c_nvmlDevice_t = object
    sys.modules["wandb"].run = None
    sys.modules["wandb"].sdk = types.SimpleNamespace(wandb_run=types.SimpleNamespace(Run=object))
    sys.path.insert(0, str(root))
    from src.algorithms.mf import evaluate_mf_model, train_mf_model
    from src.architectures.mf_mlp import MF_MLP
    from src.utils.helpers import set_seed
    return MF_MLP, train_mf_model, evaluate_mf_model, set_seed


def normalised(ds):
    """(train, test) TensorDatasets of ``ds`` (pixels in [0, 1]) with their Normalize applied."""
    from torch.utils.data import TensorDataset
    return (TensorDataset((ds.x_train - MEAN) / STD, ds.y_train),
            TensorDataset((ds.x_test - MEAN) / STD, ds.y_test))


def run_seed(ref, seed: int, data) -> float:
    """Test accuracy (fraction) of one reference MF run on ``data`` = :func:`normalised`."""
    from torch.utils.data import DataLoader, random_split
    MF_MLP, train_mf_model, evaluate_mf_model, set_seed = ref
    full, test = data
    set_seed(seed)
    n_val = len(full) // 10
    train, val = random_split(full, [len(full) - n_val, n_val],
                              generator=torch.Generator().manual_seed(seed))
    loaders = [DataLoader(train, batch_size=128, shuffle=True),
               DataLoader(val, batch_size=256), DataLoader(test, batch_size=256)]
    model = MF_MLP(784, [1000, 1000], 10, activation="ReLU", bias=True)
    flat = lambda x: x.view(x.shape[0], -1)  # noqa: E731  (their default input adapter)
    cpu = torch.device("cpu")
    train_mf_model(model, loaders[0], CONFIG, cpu, flat, val_loader=loaders[1])
    return evaluate_mf_model(model, loaders[2], cpu, flat)["eval_accuracy"] / 100.0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, required=True,
                    help="checkout of Przemyslaw11/BeyondBackpropagation at 869d7b0")
    ap.add_argument("--seeds", type=int, nargs="+", default=[51, 53, 43])
    ap.add_argument("--data-dir", default=None, help="Fashion-MNIST files (default: the "
                    "project's search order)")
    a = ap.parse_args(argv)
    check_reference(a.reference)
    torch.set_num_threads(1)
    ref = import_reference(a.reference)
    data = normalised(load_dataset("fashion-mnist", a.data_dir))   # read once, every seed splits it
    accs = []
    for seed in a.seeds:
        t0 = time.process_time()
        accs.append(run_seed(ref, seed, data))
        log = f"; their log {100 * LOGGED_MF[seed]:.2f} %" if seed in LOGGED_MF else ""
        print(f"reference MF seed {seed}: test {100 * accs[-1]:.2f} % "
              f"({time.process_time() - t0:.0f} s CPU{log})", flush=True)
    m, sd = mean_sd(accs)
    print(f"reference code, here, seeds {a.seeds}: {100 * m:.2f} ± {100 * sd:.2f} %; their logged "
          f"runs {logged(LOGGED_MF)}")


if __name__ == "__main__":
    main()

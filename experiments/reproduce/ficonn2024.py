"""FICONN: Bandyopadhyay et al., "Single-chip photonic deep neural network with forward-only
training", Nature Photonics (2024), doi:10.1038/s41566-024-01567-z, arXiv:2208.01623.

Published: six-class vowel classification in situ 92.5 % test accuracy, 92.7 % for the digital
model; 410 ps latency per inference (abstract). Protocol here:

* data: Hillenbrand et al. vowels ae, aw, uw, er, iy, ih; F1–F3 at steady state and at 50 %;
  unmeasurable tokens dropped; each sample scaled by its maximum; stratified 540 / 294
  (:mod:`experiments.vowels`; the real file from ``--data-dir`` or the author's address);
* device: preset ``ficonn-6x3`` (three 6×6 Clements units, 12 NOFUs, 132 parameters; the
  ``mzi-ficonn`` cost preset's precision and noise plus the calibration fidelity, see
  :mod:`hwsim.photonic.network_presets`);
* readout: one logit per output port, cross-entropy;
* algorithms: ``ficonn-spsa`` (±δ on all 132 parameters at once, two-sided difference, full
  training set per iteration: three passes with the loss pass) and ``bp-twin`` (the digital
  model: autograd on the ideal twin).

Choices where the sources at hand are silent: logit scale 10 (output powers are ≤ 6 in the
readout units; unscaled logits barely separate six classes); δ = 0.05 (replications); η = 5 with
a cosine decay over 3000 full-training-set iterations (the quoted η = 0.002 barely moves the
loss under the ‖Δ‖-normalised rule); bp-twin Adam lr 0.05, 1000 full-batch steps, cosine decay;
NOFU constants and readout noise (assumed, see the preset). η, the iteration counts and the
logit scale are NOT validated on the real vowel file, which was not available where this
reproduction was written. ``--quick`` runs on a synthetic stand-in (six Gaussian vowel clusters at textbook
mean formants), labelled as such in every output: it is not the Hillenbrand data.
"""
from __future__ import annotations

import numpy as np
import torch

from algorithms.optical_readout import Readout
from experiments.data import load_dataset

from .base import ChipFigure, Published, Reproduction, register
from .common import inference_latency_s, run_algorithm

SOURCE = ("Bandyopadhyay et al., Nat. Photon. (2024), abstract: 92.5 % in situ, 92.7 % digital; "
          "410 ps latency")

CONFIG = {
    "dataset": "vowels",
    "preset": "ficonn-6x3",
    "readout": {"kind": "ports", "scale": 10.0},
    "algorithms": {
        "ficonn-spsa": {"lr": 5.0, "delta": 0.05, "epochs": 3000, "batch": 540, "decay": True},
        "bp-twin": {"lr": 0.05, "epochs": 1000, "batch": 540, "decay": True},
    },
    "target_accuracy": 0.925,
}
QUICK = {
    **CONFIG,
    "dataset": "synthetic-vowels",
    "algorithms": {
        "ficonn-spsa": {"lr": 2.0, "delta": 0.05, "epochs": 8, "batch": 60},
        "bp-twin": {"lr": 0.05, "epochs": 8, "batch": 60},
    },
}

#: Approximate mean F1, F2, F3 (Hz) of adult American English vowels (textbook values of the
#: Peterson–Barney / Hillenbrand kind); used only to draw the labelled synthetic stand-in.
_STAND_IN_MEANS = {"ae": (660, 1850, 2500), "aw": (600, 900, 2500), "uw": (330, 1000, 2350),
                   "er": (480, 1350, 1700), "iy": (300, 2300, 3000), "ih": (430, 2000, 2600)}


def synthetic_vowels(seed: int, per_class: int = 60):
    """SYNTHETIC stand-in (not the Hillenbrand data): 6 classes × ``per_class`` tokens, formants
    with 10 % spread, the 50 % point a 3 %-perturbed copy; max-scaled like the real features."""
    rng = np.random.default_rng(seed + 12345)
    xs, ys = [], []
    for i, means in enumerate(_STAND_IN_MEANS.values()):
        ss = np.asarray(means) * (1 + 0.1 * rng.standard_normal((per_class, 3)))
        mid = ss * (1 + 0.03 * rng.standard_normal((per_class, 3)))
        xs.append(np.concatenate([ss, mid], 1))
        ys.append(np.full(per_class, i))
    x, y = np.concatenate(xs), np.concatenate(ys)
    x = x / x.max(1, keepdims=True)
    order = rng.permutation(len(y))
    n_test = len(y) // 3
    te, tr = order[:n_test], order[n_test:]
    f = lambda a: torch.tensor(a, dtype=torch.float32)
    return f(x[tr]), torch.tensor(y[tr]), f(x[te]), torch.tensor(y[te])


def run_seed(config: dict, seed: int, data_dir=None, part=None) -> dict:
    if config["dataset"] == "synthetic-vowels":
        data = synthetic_vowels(seed, per_class=config.get("stand_in_per_class", 20))
    else:
        ds = load_dataset("vowels", data_dir, seed=seed)
        data = (ds.x_train, ds.y_train, ds.x_test, ds.y_test)
    readout = Readout(**config["readout"])
    metrics, curves = {"dataset": config["dataset"]}, {}
    for alg, settings in config["algorithms"].items():
        curve = run_algorithm(alg, settings, config["preset"], readout, data, seed)
        metrics[f"vowels/{alg}/test_acc"] = curve.accuracy[-1]
        curves[f"vowels/{alg}"] = curve.as_dict()
    lat, energy = inference_latency_s(config["preset"], data[2])
    metrics["inference/latency_s"] = lat
    metrics["inference/energy_j"] = energy
    return {"metrics": metrics, "curves": curves}


register(Reproduction(
    name="ficonn2024", paper="Bandyopadhyay et al., Nat. Photon. (2024), arXiv:2208.01623",
    headline="forward-only in situ training, 6-mode 3-layer chip: 92.5 % vowels (digital 92.7 %)",
    config=CONFIG, quick=QUICK,
    published=(Published("vowels/ficonn-spsa/test_acc", 0.925, 0.015, SOURCE),
               Published("vowels/bp-twin/test_acc", 0.927, 0.015, SOURCE)),
    chip=(ChipFigure("inference/latency_s", 410e-12, "s", SOURCE),),
    run_seed=run_seed, notes=__doc__))

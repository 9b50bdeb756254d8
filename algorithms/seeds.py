"""Explicit random streams: one ``torch.Generator`` per named component, derived from a seed.

Every stream a run draws from is named here, so that what two algorithms share at a seed is
decided in one place. Shared by every algorithm of a seed (fair comparisons by construction):

* ``BATCHES``        minibatch order (``algorithms.training.fit``)
* ``INIT_WEIGHTS``   initial weight matrices, one per device slot (:func:`initial_weights`)
* ``INIT_TT_CORES``  initial tensor-train cores (tensor-train family)
* ``INIT_HEADS``     initial local heads (forward-only trainers and the twin baselines alike)
* :func:`device_stream` fabrication of device slot ``i`` (errors, spreads, noise streams)
* ``VAL_SPLIT``      the validation split held out of the training set
* ``PDE_COLLOCATION``, ``PDE_TEST``  collocation and test points of a PDE task

Per-trainer streams (directions, program and query noise, calibration, …) are
``TRAINER_STREAMS`` under ``stream/<name>``; the others are owned by one component each
(``FF_NEGATIVES``, ``HWA_KNOB_NOISE``, ``MODULE_PROGRAM``, ``MODULE_QUERY``).
"""
from __future__ import annotations

import hashlib
import math

from hwsim.lazy import torch


__all__ = ["derive_seed", "generator", "device_seed", "device_stream", "initial_weights",
           "kaiming_uniform", "BATCHES", "INIT_WEIGHTS", "INIT_TT_CORES", "INIT_HEADS",
           "VAL_SPLIT", "PDE_COLLOCATION", "PDE_TEST", "FF_NEGATIVES", "HWA_KNOB_NOISE",
           "MODULE_PROGRAM", "MODULE_QUERY", "TRAINER_STREAMS"]

BATCHES = "batches"
INIT_WEIGHTS = "init-weights"
INIT_TT_CORES = "init/tt-cores"
INIT_HEADS = "init/heads"
VAL_SPLIT = "val-split"
PDE_COLLOCATION = "pde/collocation"
PDE_TEST = "pde/test"
FF_NEGATIVES = "ff/negatives"
HWA_KNOB_NOISE = "hwa/knob-noise"
MODULE_PROGRAM = "module/program"
MODULE_QUERY = "module/query"
#: a trainer's own streams, each ``stream/<name>`` (algorithms.trainer.Streams, in field order)
TRAINER_STREAMS = ("train/directions", "train/program", "train/query", "eval/program",
                   "eval/query", "deploy/program", "deploy/query", "train/calibrate")


def derive_seed(seed: int, name: str) -> int:
    """A 63-bit seed for component ``name`` derived deterministically from ``seed``."""
    h = hashlib.sha256(f"{int(seed)}/{name}".encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)


def generator(seed: int, name: str) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(seed, name))


def device_stream(slot: int | str) -> str:
    """Stream of device slot ``slot`` (``device/0``, … ; tensor-train cores ``device/tt<j>``)."""
    return f"device/{slot}"


def device_seed(seed: int, stream: str) -> int:
    """The integer seed a device is fabricated from (fits the devices' 62-bit seeds)."""
    return derive_seed(seed, stream) % (2 ** 62)


def kaiming_uniform(n_out: int, n_in: int, gen: torch.Generator) -> torch.Tensor:
    """PyTorch's default Linear init, kaiming_uniform(a=√5) = U(−1/√n_in, 1/√n_in)."""
    return (2 * torch.rand(n_out, n_in, generator=gen) - 1) / math.sqrt(n_in)


def initial_weights(seed: int, shapes) -> list[torch.Tensor]:
    """One kaiming_uniform(a=√5) weight (n_out, n_in) per ``(n_in, n_out)`` in ``shapes``, in
    order, from the stream ``INIT_WEIGHTS`` of ``seed``: what every algorithm, every reference
    and every bench script starts from at that seed."""
    gen = generator(seed, INIT_WEIGHTS)
    return [kaiming_uniform(n_out, n_in, gen) for n_in, n_out in shapes]

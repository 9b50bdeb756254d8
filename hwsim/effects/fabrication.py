"""Fabrication draws keyed per effect type: one random stream per (device seed, effect type).

A fabricated chip is fixed by its device seed. Each fabrication-time draw (phase biases, γ
spread, coupler errors, stuck cells, endurance budgets, drift exponents, correlated fields,
ring resonances, per-ADC offsets, ...) comes from its own generator, seeded from the device seed
and the *name of the effect's type* — never from one generator consumed in effect order. So
adding, removing or reordering one effect leaves every other effect's draws bit-identical: an
ablation "the same chip with one more effect" is the same chip (tests/hwsim/test_fabrication_keys.py
pins it on every device kind). Any device kind uses :func:`fabrication_generator` (or
:func:`fabricate_all`) for its fabricated effects.
"""
from __future__ import annotations

import zlib

from hwsim.lazy import torch


__all__ = ["fabrication_seed", "fabrication_generator", "fabricate_all"]


def fabrication_seed(seed: int, effect) -> int:
    """The 63-bit stream seed of ``effect``'s fabrication draws on the chip of device ``seed``
    (CRC-32 of the effect type's name: stable across runs and Python versions, unlike hash())."""
    return (int(seed) * 1_000_003 + zlib.crc32(type(effect).__name__.encode())) % (2 ** 63)


def fabrication_generator(seed: int, effect) -> torch.Generator:
    """A fresh CPU generator for ``effect``'s fabrication draws on the chip of device ``seed``."""
    return torch.Generator().manual_seed(fabrication_seed(seed, effect))


def fabricate_all(effects, seed: int, *args) -> dict:
    """{effect type: effect.fabricate(*args, generator)} for every effect with a ``fabricate``
    method, each from its own keyed stream (:func:`fabrication_generator`)."""
    return {type(e): e.fabricate(*args, fabrication_generator(seed, e))
            for e in effects if hasattr(e, "fabricate")}

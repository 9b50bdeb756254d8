"""Explicit random streams: one ``torch.Generator`` per named component, derived from a seed."""
from __future__ import annotations

import hashlib

import torch

__all__ = ["derive_seed", "generator"]


def derive_seed(seed: int, name: str) -> int:
    """A 63-bit seed for component ``name`` derived deterministically from ``seed``."""
    h = hashlib.sha256(f"{int(seed)}/{name}".encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)


def generator(seed: int, name: str) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(seed, name))

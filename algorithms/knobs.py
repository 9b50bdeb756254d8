"""Flat, normalised parameter vectors for a dict of device knobs.

Zeroth-order estimators work on one vector θ ∈ ℝ^d. Knobs have different units (rad, µS), so
each knob is divided by the width of its allowed range (2π for mesh phases, π for Σ phases,
g_max − g_min for conductances): a perturbation ε then means the same fraction of the range
on every device, and learning rates transfer between devices.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch

from hwsim.oracle import KnobSpec

__all__ = ["KnobVector"]


@dataclass(frozen=True)
class KnobVector:
    """Maps the ``names`` knobs of a spec to a normalised flat vector and back."""

    spec: Mapping[str, KnobSpec]
    names: tuple[str, ...]

    @classmethod
    def for_spec(cls, spec: Mapping[str, KnobSpec], names: Sequence[str] | None = None) -> "KnobVector":
        names = tuple(spec) if names is None else tuple(names)
        unknown = [n for n in names if n not in spec]
        if unknown:
            raise ValueError(f"trainable knobs {unknown} not in the device's knobs {sorted(spec)}")
        return cls(spec, names)

    @property
    def dim(self) -> int:
        return sum(self.spec[n].numel for n in self.names)

    def span(self, name: str) -> float:
        s = self.spec[name]
        return s.high - s.low

    def flatten(self, knobs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Knobs (one setting) → normalised vector (d,)."""
        return torch.cat([knobs[n].reshape(-1).float() / self.span(n) for n in self.names])

    def unflatten(self, theta: torch.Tensor, fixed: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Vectors (d,) or (P, d) → knob dict (with P leading dim), projected into range.

        Knobs not in ``names`` are taken from ``fixed`` (shared by all settings).
        """
        lead = theta.shape[:-1]
        out, i = dict(fixed), 0
        for n in self.names:
            s = self.spec[n]
            v = theta[..., i:i + s.numel].reshape(*lead, *s.shape) * self.span(n)
            out[n] = s.project(v)
            i += s.numel
        return out

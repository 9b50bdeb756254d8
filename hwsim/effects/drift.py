"""Conductance drift and accumulated 1/f read noise since programming (query stage, §6.5, §6.4).

Drift (PCM, AIHWKIT ``inference/noise/pcm.py`` ``PCMLikeNoiseModel``):

    g(t) = g_prog · ((t + t₀)/t₀)^(−ν_i),  t = time since the cell was programmed, t₀ = 20 s,
    ν_i = |μ_ν + σ_ν ξ_i|,  ξ_i fixed per cell at fabrication (device seed).

``law = "constant"`` uses μ_ν = ``nu_mean``, σ_ν = ``nu_std``; ``law = "pcm"`` uses the
conductance-dependent PCM fit μ_ν = clip(−0.0155 ln ĝ + 0.0244, 0.049, 0.1),
σ_ν = clip(−0.0125 ln ĝ − 0.0059, 0.008, 0.045), ĝ = g_target/g_max (``pcm.py``).
ν = 0.05 gives ×0.771 after 1 h (3600 s) at t₀ = 20 s.

Global drift compensation (AIHWKIT ``inference/compensation/drift.py``
``GlobalDriftCompensation``): a fixed probe (all-ones input) is read right after programming and
at t; outputs are scaled digitally by Σ|y_probe(0)| / Σ|y_probe(t)| per setting. The probe is read
noise-free here (the reference reads it through the noisy tile).

1/f noise accumulated since programming (``pcm.py`` ``apply_drift_noise_to_conductance``):

    g ← g + |g| · Q_s · sqrt(ln((t′ + t_read)/(2 t_read))) · ξ,   Q_s = min(0.0088/ĝ^0.65, 0.2),
    t′ = t + t₀  (AIHWKIT: ``t = t_inference + self.t_0``, t₀ = 20 s, the same origin as drift),

t_read = 250 ns; at ĝ = 1: 3.68 % of g at t = 0 (t′ = 20 s), 3.69 % at t = 1 s, 4.19 % after
1 h (closed forms in tests/hwsim/test_crossbar_time.py). Zero when t′ ≤ t_read (the
logarithm's argument ≤ 1: the clamp that only a ``t0_s`` below t_read can reach). One draw per cell per query, shared by the vectors
of that query (1/f fluctuations are slow against one batch read).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar


from . import rng
from .validate import require_nonnegative, require_positive
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["Drift", "OneOverFNoise", "drift_factor"]

DRIFT_LAWS = ("constant", "pcm")
COMPENSATION = ("none", "global")


def drift_factor(t_s: float, t0_s: float, nu: torch.Tensor | float):
    """((t + t₀)/t₀)^(−ν)."""
    base = (t_s + t0_s) / t0_s
    if isinstance(nu, torch.Tensor):
        return torch.pow(torch.full_like(nu, base), -nu)
    return base ** (-nu)


@dataclass(frozen=True)
class Drift:
    """Power-law conductance drift with a per-cell exponent and optional global compensation."""

    stage: ClassVar[str] = "query"

    nu_mean: float = described(
        0.05, "mean drift exponent μ_ν (law 'constant'): g(t) = g·((t + t₀)/t₀)^−ν", "1")
    nu_std: float = described(0.0, "std of the per-cell drift exponent σ_ν (law 'constant')", "1")
    t0_s: float = described(20.0, "time origin t₀ of the drift power law", "s")
    law: str = described(
        "constant",
        "drift exponent law: 'constant' (nu_mean, nu_std) or 'pcm' (the conductance-dependent PCM fit)",
        "")
    compensation: str = described(
        "global", "drift compensation by a probe read: 'none' or 'global'", "")

    def __post_init__(self) -> None:
        require_nonnegative("Drift", "nu_mean", self.nu_mean)
        require_nonnegative("Drift", "nu_std", self.nu_std)
        require_positive("Drift", "t0_s", self.t0_s)
        if self.law not in DRIFT_LAWS:
            raise ValueError(f"Drift.law = {self.law!r}; allowed: {', '.join(DRIFT_LAWS)}")
        if self.compensation not in COMPENSATION:
            raise ValueError(f"Drift.compensation = {self.compensation!r}; allowed: {', '.join(COMPENSATION)}")

    def fabricate(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """Per-cell standard normal ξ_i of the exponent spread (drawn once from the device seed)."""
        return rng.normal((1, *shape), generator)[0]

    def exponents(self, g_target: torch.Tensor, g_max: float, xi: torch.Tensor) -> torch.Tensor:
        """ν_i = |μ_ν + σ_ν ξ_i| for cells programmed to g_target (µS); xi from ``fabricate``."""
        if self.law == "pcm":
            lg = torch.log((g_target / g_max).clamp_min(1e-6))
            mu = (-0.0155 * lg + 0.0244).clamp_(0.049, 0.1)
            sd = (-0.0125 * lg - 0.0059).clamp_(0.008, 0.045)
            return (mu + sd * xi).abs_()
        return (self.nu_mean + self.nu_std * xi).abs()

    def conductances_at(self, g: torch.Tensor, nu: torch.Tensor, t_s: float) -> torch.Tensor:
        """g(t) for programmed conductances g (µS) with exponents nu (same shape)."""
        return g * drift_factor(t_s, self.t0_s, nu)


@dataclass(frozen=True)
class OneOverFNoise:
    """PCM 1/f read noise accumulated since programming (AIHWKIT ``pcm.py`` read noise)."""

    stage: ClassVar[str] = "query"

    q_s: float = described(
        0.0088, "1/f noise coefficient at ĝ = 1: Q_s = min(q_s/ĝ^g_exponent, q_s_max)", "1")
    q_s_max: float = described(0.2, "cap on Q_s", "1")
    g_exponent: float = described(0.65, "exponent of ĝ in Q_s", "1")
    t_read_s: float = described(250e-9, "read duration t_read of the 1/f noise integral", "s")
    # time origin: AIHWKIT ``PCMLikeNoiseModel.t_0`` = 20 s (pcm.py)
    t0_s: float = described(20.0, "time origin t₀ added to the time since programming", "s")

    def __post_init__(self) -> None:
        require_nonnegative("OneOverFNoise", "q_s", self.q_s)
        require_nonnegative("OneOverFNoise", "q_s_max", self.q_s_max)
        require_nonnegative("OneOverFNoise", "g_exponent", self.g_exponent)
        require_positive("OneOverFNoise", "t_read_s", self.t_read_s)
        require_nonnegative("OneOverFNoise", "t0_s", self.t0_s)

    def relative_sigma(self, g_target: torch.Tensor, g_max: float, t_s: float) -> torch.Tensor:
        """σ/g per cell: Q_s(ĝ) · sqrt(ln((t + t₀ + t_read)/(2 t_read))), 0 for t + t₀ ≤ t_read."""
        arg = (t_s + self.t0_s + self.t_read_s) / (2.0 * self.t_read_s)
        root = math.sqrt(math.log(arg)) if arg > 1.0 else 0.0
        gh = (g_target.abs() / g_max).clamp_min(1e-3)          # pcm.py clamps ĝ at 1e-3
        return (self.q_s / gh.pow(self.g_exponent)).clamp_(max=self.q_s_max).mul_(root)

    def active(self, t_s: float) -> bool:
        """Whether any 1/f noise has accumulated at ``t_s`` s after programming."""
        return t_s + self.t0_s > self.t_read_s

    def add_(self, g: torch.Tensor, g_target: torch.Tensor, g_max: float, t_s: float,
             z: torch.Tensor) -> torch.Tensor:
        """g ← g + |g|·σ_rel·z in place, given standard normals z of g's shape."""
        return g.addcmul_(g.abs() * self.relative_sigma(g_target, g_max, t_s), z)

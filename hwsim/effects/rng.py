"""Layout-preserving random draws from an explicit ``torch.Generator``.

All noise in ``hwsim`` is drawn through these helpers. They consume the generator stream in
row-major order of the requested shape (built on ``torch.rand``), so drawing a ``(P, ...)``
tensor in one call gives exactly the numbers of P consecutive ``(...)`` draws from the same
generator. That is what makes "P settings in one call equal P separate calls" hold.
(``torch.randn`` does not have this property on CPU: it fills in vectorised chunks.)
"""
from __future__ import annotations

import math

import torch

__all__ = ["uniform", "normal", "truncated_normal"]

_TINY = 1e-12


def uniform(shape: tuple[int, ...], generator: torch.Generator | None, *,
            dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """U[0, 1) samples of ``shape``."""
    return torch.rand(shape, generator=generator, dtype=torch.float64, device=device).to(dtype)


def normal(shape: tuple[int, ...], generator: torch.Generator | None, *,
           dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard normal samples via the inverse CDF of one uniform per value."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64, device=device)
    u = u.clamp(_TINY, 1.0 - _TINY)
    return torch.special.ndtri(u).to(dtype)


def truncated_normal(shape: tuple[int, ...], generator: torch.Generator | None, bound: float, *,
                     dtype: torch.dtype = torch.float32,
                     device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard normal truncated to ``[-bound, bound]`` (inverse-CDF sampling)."""
    if not bound > 0:
        raise ValueError(f"truncation bound must be > 0, got {bound}")
    lo = 0.5 * math.erfc(bound / math.sqrt(2.0))
    u = torch.rand(shape, generator=generator, dtype=torch.float64, device=device)
    u = lo + u * (1.0 - 2.0 * lo)
    return torch.special.ndtri(u.clamp(_TINY, 1.0 - _TINY)).to(dtype)

"""Layout-preserving random draws from an explicit ``torch.Generator``.

All noise in ``hwsim`` is drawn through these helpers. Drawing a ``(P, ...)`` tensor in one
call gives exactly the numbers of P consecutive ``(1, ...)`` draws from the same generator:
that is what makes "P settings in one call equal P separate calls" hold.

``torch.rand`` and ``torch.randint`` consume the stream element by element, so uniforms and
per-row seeds are layout-preserving as they are. :func:`normal` draws one seed per row and
fills each row from its own stream (pinned by a test).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .ziggurat import TABLES, fill_normal

__all__ = ["uniform", "row_seeds", "normal", "truncated_normal", "normal_from_uniform", "truncated_from_uniform",
           "truncated_from_normal"]

_TINY = 1e-12


def uniform(shape: tuple[int, ...], generator: torch.Generator | None, *,
            dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """U[0, 1) samples of ``shape``."""
    return torch.rand(shape, generator=generator, dtype=torch.float64, device=device).to(dtype)


def row_seeds(rows: int, generator: torch.Generator | None) -> np.ndarray:
    """One 63-bit stream seed per row (uint64 array), drawn layout-preservingly."""
    seeds = torch.randint(0, 2 ** 63 - 1, (rows,), generator=generator, dtype=torch.int64)
    return seeds.numpy().astype(np.uint64)


def normal(shape: tuple[int, ...], generator: torch.Generator | None, *,
           dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard normal samples; every row along the first axis is its own stream.

    On CPU each row gets one 63-bit seed drawn from ``generator`` (``torch.randint`` is
    layout-preserving) and is filled by the parallel ziggurat sampler of
    :mod:`hwsim.effects.ziggurat`. Elsewhere ``torch.randn`` fills rows padded to a multiple
    of 16 (its Box–Muller block size) so that rows stay aligned across calls.
    """
    if len(shape) == 0:
        return normal((1,), generator, dtype=dtype, device=device)[0]
    lead, row = shape[0], math.prod(shape[1:])
    if torch.device(device).type == "cpu":
        out = np.empty((lead, row), dtype=np.float32)
        seeds = row_seeds(lead, generator)
        if out.size:
            fill_normal(out, seeds, *TABLES)
        return torch.from_numpy(out).reshape(shape).to(dtype)
    padded = -(-max(row, 1) // 16) * 16
    z = torch.randn((lead, padded), generator=generator, dtype=dtype, device=device)
    return z[:, :row].reshape(shape)


def normal_from_uniform(u: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard normal values from U[0, 1) values (inverse CDF, float64 internally)."""
    return torch.special.ndtri(u.double().clamp(_TINY, 1.0 - _TINY)).to(dtype)


def truncated_from_uniform(u: torch.Tensor, bound: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard normal truncated to [-bound, bound] from U[0, 1) values (inverse CDF)."""
    if not bound > 0:
        raise ValueError(f"truncation bound must be > 0, got {bound}")
    lo = 0.5 * math.erfc(bound / math.sqrt(2.0))
    return normal_from_uniform(lo + u.double() * (1.0 - 2.0 * lo), dtype)


def truncated_from_normal(z: torch.Tensor, bound: float) -> torch.Tensor:
    """Standard normal truncated to [-bound, bound] from standard normal values z (same shape):
    u = Φ(z) is uniform, mapped into [Φ(-bound), Φ(bound)] and back through Φ⁻¹. The
    quantiles stay inside [Φ(-bound), Φ(bound)], so float32 is accurate here."""
    if not bound > 0:
        raise ValueError(f"truncation bound must be > 0, got {bound}")
    lo = 0.5 * math.erfc(bound / math.sqrt(2.0))
    return torch.special.ndtri(lo + torch.special.ndtr(z) * (1.0 - 2.0 * lo))


def truncated_normal(shape: tuple[int, ...], generator: torch.Generator | None, bound: float, *,
                     dtype: torch.dtype = torch.float32,
                     device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard normal truncated to ``[-bound, bound]`` (inverse-CDF sampling)."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64, device=device)
    return truncated_from_uniform(u, bound, dtype)

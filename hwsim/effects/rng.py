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


from hwsim.lazy import LazyModule, torch

# numba kernels, compiled-code loading and numba itself on first use (cold start)
ziggurat = LazyModule("hwsim.effects.ziggurat")

__all__ = ["uniform", "row_seeds", "row_states", "normal_from_states", "truncated_from_states", "normal", "truncated_normal", "normal_from_uniform", "truncated_from_uniform",
           "truncated_from_normal"]

_TINY = 1e-12


def uniform(shape: tuple[int, ...], generator: torch.Generator | None, *,
            dtype: torch.dtype | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """U[0, 1) samples of ``shape``, drawn on the generator's device, returned on ``device``."""
    dtype = torch.float32 if dtype is None else dtype
    return torch.rand(shape, generator=generator, dtype=torch.float64,
                      device=_draw_device(generator)).to(device=device, dtype=dtype)


def _draw_device(generator: torch.Generator | None) -> torch.device:
    """Where a generator can draw: its own device (CPU for None)."""
    return generator.device if generator is not None else torch.device("cpu")


def row_seeds(rows: int, generator: torch.Generator | None) -> np.ndarray:
    """One 63-bit stream seed per row (uint64 array), drawn layout-preservingly (on the
    generator's own device, so a CUDA generator works too)."""
    dev = generator.device if generator is not None else "cpu"
    seeds = torch.randint(0, 2 ** 63 - 1, (rows,), generator=generator, dtype=torch.int64, device=dev)
    return seeds.cpu().numpy().astype(np.uint64)


def row_states(rows: int, generator: torch.Generator | None) -> np.ndarray:
    """(rows, 4) uint64 stream states, one stream per row seeded from ``generator`` (the same
    streams :func:`normal` uses); continue them with :func:`normal_from_states`."""
    return ziggurat.seed_states(row_seeds(rows, generator))


def normal_from_states(states: np.ndarray, n: int, *, dtype: torch.dtype | None = None,
                       device: torch.device | str = "cpu") -> torch.Tensor:
    """(rows, n) standard normals, row r continuing stream ``states[r]`` (advanced in place), so
    consecutive draws split one :func:`normal` draw of the rows into column blocks. Drawn on the
    CPU (numba ziggurat) and moved to ``device``: every device sees the same numbers."""
    dtype = torch.float32 if dtype is None else dtype
    out = np.empty((states.shape[0], n), dtype=np.float32)
    if out.size:
        ziggurat.fill_normal_from(out, states, *ziggurat.TABLES)
    return torch.from_numpy(out).to(device=device, dtype=dtype)


def truncated_from_states(states: np.ndarray, n: int, bound: float, *,
                          dtype: torch.dtype | None = None,
                          device: torch.device | str = "cpu") -> torch.Tensor:
    """(rows, n) standard normals truncated to [−bound, bound], by rejection inside each row's
    stream ``states[r]`` (advanced in place; the following draws continue after the accepted
    values). Exact truncated normals, and no ndtr/ndtri pass. CPU draw, moved to ``device``."""
    dtype = torch.float32 if dtype is None else dtype
    if not bound > 0:
        raise ValueError(f"truncation bound must be > 0, got {bound}")
    out = np.empty((states.shape[0], n), dtype=np.float32)
    if out.size:
        ziggurat.fill_truncated_from(out, states, float(bound), *ziggurat.TABLES)
    return torch.from_numpy(out).to(device=device, dtype=dtype)


def normal_from_seeds(seeds: np.ndarray, n: int) -> torch.Tensor:
    """(rows, n) float32 standard normals on the CPU, row r from stream ``seeds[r]`` — what
    :func:`normal` draws once it has taken those seeds from its generator."""
    out = np.empty((len(seeds), n), dtype=np.float32)
    if out.size:
        ziggurat.fill_normal(out, seeds, *ziggurat.TABLES)
    return torch.from_numpy(out)


def normal(shape: tuple[int, ...], generator: torch.Generator | None, *,
           dtype: torch.dtype | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard normal samples; every row along the first axis is its own stream.

    On CPU each row gets one 63-bit seed drawn from ``generator`` (``torch.randint`` is
    layout-preserving) and is filled by the parallel ziggurat sampler of
    :mod:`hwsim.effects.ziggurat`; so is a CUDA target with a CPU generator (the numbers are
    then moved: the same on every device). With a generator on the target device
    ``torch.randn`` fills rows padded to a multiple of 16 (its Box–Muller block size) so that
    rows stay aligned across calls.
    """
    dtype = torch.float32 if dtype is None else dtype
    if len(shape) == 0:
        return normal((1,), generator, dtype=dtype, device=device)[0]
    lead, row = shape[0], math.prod(shape[1:])
    on_device = generator is not None and generator.device.type == torch.device(device).type
    if torch.device(device).type == "cpu" or not on_device:
        # CPU streams (also for a CPU generator with a CUDA target: the same numbers anywhere)
        out = np.empty((lead, row), dtype=np.float32)
        seeds = row_seeds(lead, generator)
        if out.size:
            ziggurat.fill_normal(out, seeds, *ziggurat.TABLES)
        return torch.from_numpy(out).reshape(shape).to(device=device, dtype=dtype)
    padded = -(-max(row, 1) // 16) * 16
    z = torch.randn((lead, padded), generator=generator, dtype=dtype, device=device)
    return z[:, :row].reshape(shape)


def normal_from_uniform(u: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Standard normal values from U[0, 1) values (inverse CDF, float64 internally)."""
    dtype = torch.float32 if dtype is None else dtype
    return torch.special.ndtri(u.double().clamp(_TINY, 1.0 - _TINY)).to(dtype)


def truncated_from_uniform(u: torch.Tensor, bound: float, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Standard normal truncated to [-bound, bound] from U[0, 1) values (inverse CDF)."""
    dtype = torch.float32 if dtype is None else dtype
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
                     dtype: torch.dtype | None = None,
                     device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard normal truncated to ``[-bound, bound]`` (inverse-CDF sampling)."""
    dtype = torch.float32 if dtype is None else dtype
    u = torch.rand(shape, generator=generator, dtype=torch.float64, device=_draw_device(generator))
    return truncated_from_uniform(u.to(device), bound, dtype)

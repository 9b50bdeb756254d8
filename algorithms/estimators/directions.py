"""Random probe directions for zeroth-order (forward-only) gradient estimates.

Generic estimator (algorithms.md §0-§1)::

    ĝ = (s / P) Σ_p Δ_p u_p ,   Δ_p = directional finite difference of L along u_p

The scale ``s`` makes ĝ unbiased (to O(ε²)) because E[u uᵀ] = I for Gaussian and Rademacher
directions but I/d for unit-sphere directions:

=========== ============================ ============ ==========================================
kind        u                            s            used by
=========== ============================ ============ ==========================================
sphere      z/‖z‖, z ~ N(0, I_d)         d            FFzero DD (arXiv:2603.24790), MF+DD
gaussian    N(0, I_d)                    1            MeZO (arXiv:2305.17333), DeepZero RGE
                                                      (arXiv:2310.02025)
rademacher  u_j ∈ {±1} i.i.d.            1            SPSA, tensor-compressed ZO
=========== ============================ ============ ==========================================

Draws come only from the ``torch.Generator`` passed in (no global RNG; algorithms.md §14.2). They
are *layout preserving*: built on ``torch.rand`` (consumed in row-major order) and an inverse-CDF
normal — Rademacher signs on ``torch.randint`` words, one random bit per sign — so one ``(P, d)``
draw equals P consecutive ``(1, d)`` draws from the same generator.
(``torch.randn`` does not have this property on CPU: it fills in vectorised chunks.)
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor


__all__ = ["DIRECTIONS", "sample_directions", "direction_scale"]

DIRECTIONS: tuple[str, ...] = ("sphere", "gaussian", "rademacher")

_TINY = 1e-12  # clamp for the inverse normal CDF (cuts tails beyond ~7σ)


def _check_kind(kind: str) -> None:
    if kind not in DIRECTIONS:
        raise ValueError(f"directions={kind!r} is not supported; allowed: {', '.join(DIRECTIONS)}")


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} is not allowed; expected an integer >= 1")


def _standard_normal(shape: tuple[int, ...], generator: torch.Generator,
                     device: torch.device | str) -> Tensor:
    """N(0, 1) samples (float64) from one uniform per value, in row-major generator order."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64, device=device)
    return torch.special.ndtri(u.clamp_(_TINY, 1.0 - _TINY))


_BITS = 32   # random bits per drawn word (torch.randint over a power-of-two range is uniform)


def _rademacher(num: int, dim: int, generator: torch.Generator, dtype: torch.dtype,
                device: torch.device | str) -> Tensor:
    """±1 signs from random bits: ⌈dim/32⌉ 32-bit words per row, one bit per sign (32× fewer
    generator draws than one uniform per sign). Words are drawn row by row in generator order,
    so the draw stays layout preserving; drawn on the generator's device, returned on ``device``."""
    words = -(-dim // _BITS)
    gen_dev = generator.device if generator is not None else torch.device("cpu")
    w = torch.randint(0, 2 ** _BITS, (num, words), generator=generator, dtype=torch.int64, device=gen_dev)
    octets = w.to(torch.int32).view(torch.uint8)          # 4 bytes per word (little endian)
    shifts = torch.arange(8, dtype=torch.uint8, device=gen_dev)
    bits = ((octets.unsqueeze(-1) >> shifts) & 1).reshape(num, words * _BITS)[:, :dim]
    return bits.to(device=device, dtype=dtype).mul_(-2).add_(1)


def sample_directions(kind: str, num: int, dim: int, generator: torch.Generator,
                      dtype: torch.dtype | None = None,
                      device: torch.device | str = "cpu") -> Tensor:
    """Draw ``num`` i.i.d. directions in ℝ^dim.

    Args:
        kind: one of :data:`DIRECTIONS`.
        num: number of directions P (>= 1).
        dim: dimension d (>= 1).
        generator: the only source of randomness.
        dtype, device: of the returned tensor (sampling happens in float64).

    Returns:
        Tensor of shape ``(num, dim)``. ``sphere`` rows have unit norm; ``gaussian`` rows are
        N(0, I_d); ``rademacher`` entries are exactly ±1.
    """
    dtype = torch.float32 if dtype is None else dtype
    _check_kind(kind)
    _check_positive_int("num", num)
    _check_positive_int("dim", dim)
    if kind == "rademacher":
        return _rademacher(num, dim, generator, dtype, device)
    z = _standard_normal((num, dim), generator, device)
    if kind == "sphere":
        z = z / torch.linalg.vector_norm(z, dim=1, keepdim=True)
    return z.to(dtype)


def direction_scale(kind: str, dim: int) -> float:
    """Scale s in ĝ = (s/P) Σ Δ_p u_p that makes ĝ unbiased: ``dim`` for the sphere, else 1."""
    _check_kind(kind)
    _check_positive_int("dim", dim)
    return float(dim) if kind == "sphere" else 1.0

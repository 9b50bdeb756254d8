"""Noise effects, split by when they are sampled (devices.md conventions).

fabrication  PhaseBias            static bias b_i ~ U(-h, h) rad per phase shifter (L2ight
                                  ``assign_random_phase_bias``, arXiv:2110.14807)
program-time ProgrammingNoise     g ← max(g + σ(ĝ)·ξ, 0) per cell per program call, σ the
                                  Nandakumar polynomial at each cell's ĝ (ICECS 2019; AIHWKIT ``pcm.py``)
query-time   PhaseNoise           n_i ~ N(0, σ²) truncated at ±2σ, redrawn every query
                                  (torchonn ``mzi_linear.py``; Fang et al. 2019 σ ∈ [0, 0.02])
             DetectorNoise        additive Gaussian on each detected output (normalized units)
             ReadNoise            output-referred read noise, PCM_READ σ_w sqrt(Σ|w|x²) ξ or
                                  ADDITIVE_CONSTANT σ_w ‖x‖₂ ξ (AIHWKIT ``IOParameters.w_noise``)
All draws use :mod:`hwsim.effects.rng` with an explicit generator.
"""
from __future__ import annotations

import functools
import math

from dataclasses import dataclass
from typing import ClassVar


from . import rng
from .validate import require_nonnegative, require_positive
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["PhaseBias", "PhaseNoise", "DetectorNoise", "ProgrammingNoise", "ReadNoise"]


@dataclass(frozen=True)
class PhaseBias:
    """Static phase bias per phase shifter, uniform in [-half_width_rad, half_width_rad] rad.
    Not heater-induced, so it is added last in the phase chain (devices.md §5.1)."""

    stage: ClassVar[str] = "fabrication"
    chain_rank: ClassVar[int] = 3

    half_width_rad: float = described(
        1.0, "static phase bias per shifter, uniform in ±half_width_rad", "rad")

    def __post_init__(self) -> None:
        require_positive("PhaseBias", "half_width_rad", self.half_width_rad)

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return (2.0 * rng.uniform(shape, generator) - 1.0) * self.half_width_rad

    def fabricate(self, layout, generator: torch.Generator) -> dict[str, torch.Tensor]:
        return {"mesh": self.sample(layout.mesh_shape, generator),
                "sigma": self.sample(layout.sigma_shape, generator)}

    def program_phases(self, mesh, sigma, layout, fab):
        return mesh + fab["mesh"], sigma + fab["sigma"]


@dataclass(frozen=True)
class PhaseNoise:
    """Dynamic phase noise (rad), truncated Gaussian at ±``bound_sigmas``·σ, redrawn per query."""

    stage: ClassVar[str] = "query"

    sigma_rad: float = described(0.002, "std of the phase noise redrawn at every query", "rad")
    bound_sigmas: float = described(2.0, "the Gaussian is truncated at ±bound_sigmas·σ", "σ")

    def __post_init__(self) -> None:
        require_nonnegative("PhaseNoise", "sigma_rad", self.sigma_rad)
        require_positive("PhaseNoise", "bound_sigmas", self.bound_sigmas)

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
        return self.sigma_rad * rng.truncated_normal(shape, generator, self.bound_sigmas)

    def from_normal(self, z: torch.Tensor) -> torch.Tensor:
        """Noise values (rad) from standard normal values of the same shape."""
        return self.sigma_rad * rng.truncated_from_normal(z, self.bound_sigmas)

    def from_truncated(self, t: torch.Tensor) -> torch.Tensor:
        """Noise values (rad) from standard normals already truncated to ±``bound_sigmas``."""
        return self.sigma_rad * t

    def draw(self, states, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        """(P, n) truncated standard normals for :meth:`query_phases`, by rejection inside the
        per-setting streams ``states`` (:func:`hwsim.effects.rng.truncated_from_states`)."""
        return rng.truncated_from_states(states, n, self.bound_sigmas, device=device)

    def query_phases(self, mesh, sigma, t: torch.Tensor):
        """Phases plus noise from truncated standard normals t (P, n_mesh + n_sigma), as
        :meth:`draw` makes them."""
        n = self.from_truncated(t)
        n_mesh = mesh[0].numel()
        return mesh + n[:, :n_mesh].reshape(mesh.shape), sigma + n[:, n_mesh:].reshape(sigma.shape)


@dataclass(frozen=True)
class DetectorNoise:
    """Additive Gaussian detector noise of std ``sigma_norm`` in normalized output units (a
    fixed noise floor; :class:`~hwsim.effects.detection.Detection` derives it from power)."""

    stage: ClassVar[str] = "query"

    sigma_norm: float = described(
        0.01, "std of a fixed additive detector noise floor", "normalized output units")

    def __post_init__(self) -> None:
        require_nonnegative("DetectorNoise", "sigma_norm", self.sigma_norm)

    def __call__(self, y: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return y + self.sigma_norm * rng.normal(tuple(y.shape), generator, dtype=y.dtype, device=y.device)

    def from_normal(self, y: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Add noise σ·z given standard normal values ``z`` (same shape as y), in place."""
        return y.add_(z, alpha=self.sigma_norm)


def require_finite(owner: str, field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{owner}.{field} = {value!r}; allowed: a finite number")
    return float(value)


@dataclass(frozen=True)
class ProgrammingNoise:
    """Write noise per programmed cell (program stage), at each cell's own target ĝ = g/g_max:

        g ← max(g + σ(ĝ)·ξ, 0),  σ(ĝ) = (c0_us + c1_us·ĝ + c2_us·ĝ²) · (g_max / g_ref_us)  µS.

    Defaults: the Nandakumar et al. (ICECS 2019, IEEE doc 8964852) PCM fit used by AIHWKIT
    ``inference/noise/pcm.py`` ``PCMLikeNoiseModel`` (prog coefficients 0.26348, 1.9650,
    −1.1731 µS at g_max = 25 µS): σ = 0.448 µS at ĝ = 0.1, 1.055 µS at ĝ = 1 (devices.md §6.3).
    A constant law σ_rel·g_max is c0_us = σ_rel·g_ref_us, c1_us = c2_us = 0. σ is clamped at 0
    where a fit would go negative.
    """

    stage: ClassVar[str] = "program"

    c0_us: float = described(
        0.26348, "constant term of the write-noise std σ(ĝ) = c0 + c1·ĝ + c2·ĝ²", "µS")
    c1_us: float = described(1.9650, "linear term of the write-noise std (× ĝ = g/g_max)", "µS")
    c2_us: float = described(-1.1731, "quadratic term of the write-noise std (× ĝ²)", "µS")
    g_ref_us: float = described(
        25.0, "g_max the coefficients were fitted at (σ scales by g_max/g_ref_us)", "µS")

    def __post_init__(self) -> None:
        for name in ("c0_us", "c1_us", "c2_us"):
            require_finite("ProgrammingNoise", name, getattr(self, name))
        require_positive("ProgrammingNoise", "g_ref_us", self.g_ref_us)

    def sigma_us(self, g: torch.Tensor, g_max: float) -> torch.Tensor:
        """σ (µS) of each cell at its own target conductance g (µS)."""
        k = g_max / self.g_ref_us     # Horner form in place: ((c2·ĝ + c1)·ĝ + c0)·k, ĝ = g/g_max
        s = g.mul(self.c2_us * k / (g_max * g_max)).add_(self.c1_us * k / g_max).mul_(g)
        return s.add_(self.c0_us * k).clamp_(min=0.0)

    def coefficients_us(self, g_max: float) -> tuple[float, float, float]:
        """(a2, a1, a0) with σ(g) = max(a2·g² + a1·g + a0, 0) µS for g in µS: the law of
        :meth:`sigma_us` in the conductance itself (for the fused programming kernel of
        :mod:`hwsim.crossbar.kernels`; pinned equal to :meth:`sigma_us` in tests)."""
        ref = g_max / self.g_ref_us
        return self.c2_us * ref / (g_max * g_max), self.c1_us * ref / g_max, self.c0_us * ref

    def __call__(self, g: torch.Tensor, g_max: float,
                 generator: torch.Generator | None) -> torch.Tensor:
        return self.apply_(g.clone(), g_max, generator)

    def apply_(self, g: torch.Tensor, g_max: float, generator: torch.Generator | None) -> torch.Tensor:
        """In place; g (P, ...) µS contiguous with the settings axis first (one stream per setting)."""
        xi = rng.normal(tuple(g.shape), generator, dtype=g.dtype, device=g.device)
        return g.addcmul_(xi, self.sigma_us(g, g_max)).clamp_(min=0.0)

    def program_(self, g: torch.Tensor, g_min: float, g_max: float,
                 generator: torch.Generator | None) -> torch.Tensor:
        """Program-stage hook of the crossbar device."""
        return self.apply_(g, g_max, generator)


READ_NOISE_MODELS = ("pcm_read", "additive_constant")
VARIANCE_PRECISIONS = ("auto", "float32")


@functools.lru_cache(maxsize=None)
def _native_bf16(device_type: str) -> bool:
    """Whether matmuls in bfloat16 run natively here (AVX512-BF16/AMX through oneDNN on CPU,
    bf16 tensor cores on CUDA); elsewhere bf16 is emulated and slower than float32."""
    try:    # private oneDNN query: absent from some builds, then bf16 is not assumed native
        if device_type == "cpu":
            return bool(torch.backends.mkldnn.is_available()
                        and torch.ops.mkldnn._is_mkldnn_bf16_supported())
        if device_type == "cuda":
            return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    except (AttributeError, RuntimeError):
        pass
    return False


@dataclass(frozen=True)
class ReadNoise:
    """Short-term read noise per MVM, output-referred (query stage), AIHWKIT ``IOParameters.w_noise``:

        pcm_read           y_i += σ_w · sqrt(Σ_j |w_ij| x_j²) · ξ_i   (``WeightNoiseType.PCM_READ``)
        additive_constant  y_i += σ_w · ‖x‖₂ · ξ_i                    (``ADDITIVE_CONSTANT``)

    w in [-1, 1] (normalised tile weights), x the DAC-quantised normalised tile input; σ_w =
    ``sigma`` relative to the weight range (0.0175 in ``StandardHWATrainingPreset``,
    arXiv:2302.08469). The two agree when every |w_ij| = 1.
    """

    stage: ClassVar[str] = "query"

    sigma: float = described(
        0.0175, "read-noise std σ_w per MVM, relative to the weight range", "1")
    model: str = described(
        "pcm_read", "'pcm_read' (σ·sqrt(Σ|w|x²)) or 'additive_constant' (σ·‖x‖₂)", "")
    #: Precision of the pcm_read product Σ_j |w_ij| x_j². "auto": bfloat16 operands (float32
    #: accumulation, bf16 result) where the device multiplies bf16 natively, else float32. Why: the
    #: product only scales the noise. bf16 rounds |w|, x² and the sum each to a relative 2⁻⁹, so the
    #: variance is off by ≤ 3·2⁻⁹ (all terms are positive) and σ by ≤ 0.3 % — inside the spread of
    #: σ_w itself, a fitted constant — while the product costs a quarter of the float32 one that
    #: would otherwise double a query's time (measured: crossbar query 2.67× → 1.66× a matmul).
    #: The signal product stays float32: bf16 would round it to an ADC step. "float32": the
    #: product in the inputs' own precision (float32 or float64) everywhere.
    variance_precision: str = described(
        "auto",
        "precision of the pcm_read variance product: 'auto' (bfloat16 where native) or 'float32'",
        "")

    def __post_init__(self) -> None:
        require_nonnegative("ReadNoise", "sigma", self.sigma)
        if self.model not in READ_NOISE_MODELS:
            raise ValueError(f"ReadNoise.model = {self.model!r}; allowed: {', '.join(READ_NOISE_MODELS)}")
        if self.variance_precision not in VARIANCE_PRECISIONS:
            raise ValueError(f"ReadNoise.variance_precision = {self.variance_precision!r}; allowed: "
                             f"{', '.join(VARIANCE_PRECISIONS)}")

    def weight_dtype(self, device: torch.device, dtype: torch.dtype | None = None) -> torch.dtype:
        """dtype of the |w|ᵀ operand of the pcm_read product on ``device`` for inputs of ``dtype``
        (callers cache |w|ᵀ in it): bfloat16 under "auto" where native, else ``dtype``."""
        dtype = torch.float32 if dtype is None else dtype
        if self.model == "pcm_read" and self.variance_precision == "auto" and _native_bf16(device.type):
            return torch.bfloat16
        return dtype

    def output_variance(self, x: torch.Tensor, w_abs_t: torch.Tensor) -> torch.Tensor:
        """Variance of the added noise, in x's dtype. x (P|1, B, rows) tile input, w_abs_t (P, rows,
        n) |w|ᵀ (any float dtype; converted to :meth:`weight_dtype`); returns (P, B, n) for
        pcm_read, (P|1, B, 1) for additive_constant."""
        if self.model == "pcm_read":
            dt = self.weight_dtype(x.device, x.dtype)
            x2 = (x * x).to(dt)
            w = w_abs_t.to(dt)
            return torch.bmm(x2.expand(w.shape[0], -1, -1), w).to(x.dtype).mul_(self.sigma ** 2)
        return (x * x).sum(dim=-1, keepdim=True).mul_(self.sigma ** 2)

    def __call__(self, y: torch.Tensor, x: torch.Tensor, w: torch.Tensor,
                 generator: torch.Generator | None) -> torch.Tensor:
        """y (P, B, n) tile outputs + noise for tile input x (P|1, B, rows) and weights w (P, n, rows)."""
        var = self.output_variance(x, w.abs().transpose(1, 2))
        xi = rng.normal(tuple(y.shape), generator, dtype=y.dtype, device=y.device)
        return y + xi * var.sqrt()

"""Output noise before the ADC (query stage; devices.md §6.4, §6.8 step 4).

Additive Gaussian y_i += σ_out·ξ_i on every tile partial sum, in normalised output units
(the analog core's output for inputs in [-1, 1] and weights in [-1, 1]). AIHWKIT
``IOParameters.out_noise``: 0.06 by default, 0.04 in ``StandardHWATrainingPreset``
(Rasch et al., Nat. Commun. 14, 5282 (2023), arXiv:2302.08469).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


from .validate import require_nonnegative
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["OutputNoise"]


@dataclass(frozen=True)
class OutputNoise:
    """Additive output noise of std ``sigma`` (normalised output units) per tile partial sum."""

    stage: ClassVar[str] = "query"

    sigma: float = described(
        0.04, "std of the additive noise per tile partial sum", "normalized output units")

    def __post_init__(self) -> None:
        require_nonnegative("OutputNoise", "sigma", self.sigma)

    def output_variance(self, x: torch.Tensor, w_abs_t: torch.Tensor) -> torch.Tensor:
        """Variance σ_out², shape (1, 1, 1): independent of the input and the weights."""
        return torch.full((1, 1, 1), self.sigma ** 2, dtype=x.dtype).to(x.device)

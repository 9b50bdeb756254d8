"""Local-guess projection (Fournier, Rivaud, Belilovsky, Eickenberg, Oyallon, arXiv:2306.06968;
``streethagore/ForwardLocalGradient`` ``compute_projection``; algorithms.md §6).

The update is the projection of the target gradient onto a guess direction ĝ (the target is
whatever ``loss_fn`` measures: the trainer's ``target`` — the network's end-to-end loss through
the later blocks, the paper's global target, or the block's own head loss):

    g = ⟨g_target, ĝ⟩ ĝ / ‖ĝ‖²,   ⟨g_target, û⟩ ≈ [L(θ + s û) − L(θ − s û)] / (2s),  û = ĝ/‖ĝ‖

measured on the device with one central difference (2 settings). The trainer supplies the guess
(``extras["guess"]``, shape (d,)): the exact digital ∂L/∂z of the block's local head mapped into
knob space through the device's ``nominal`` Jacobian (a designer-level model, no hidden errors).
The device measurement corrects the step's length and sign for whatever the nominal model gets
wrong. Variants the paper compares:

* ``"local"``: û = guess/‖guess‖;
* ``"random"``: û uniform on the sphere, scaled by d so the estimate is unbiased;
* ``"mixed"``: û = unit(unit(guess) + mix_weight · r), r uniform on the sphere.

``epsilon`` is the per-knob rms step (s = ε·√d), chosen against DAC step and noise by the
trainer's rule.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import math
from dataclasses import dataclass


from .base import check_losses, unit
from .directions import sample_directions
from ..checks import positive_float as _positive

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["LocalGuess", "VARIANTS"]

VARIANTS = ("local", "random", "mixed")


@dataclass(frozen=True)
class LocalGuess:
    variant: str = "local"
    epsilon: float = 0.02
    mix_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"LocalGuess.variant = {self.variant!r}; allowed: {VARIANTS}")
        object.__setattr__(self, "epsilon", _positive("LocalGuess", "epsilon", self.epsilon))
        object.__setattr__(self, "mix_weight", _positive("LocalGuess", "mix_weight", self.mix_weight))

    @property
    def needs_guess(self) -> bool:
        return self.variant != "random"

    @property
    def needs(self) -> frozenset[str]:
        return frozenset({"guess"}) if self.needs_guess else frozenset()

    def combine_flops(self, d: int) -> float:
        return 2.0 * d          # one measured step along one unit direction

    def init(self, params: Tensor) -> tuple:
        return ()

    def device_queries(self) -> int:
        return 2

    def estimate(self, loss_fn, params: Tensor, state, key, *, guess: Tensor | None = None, **extras):
        d = params.numel()
        if self.needs_guess:
            if guess is None or guess.shape != params.shape:
                raise ValueError(f"LocalGuess({self.variant!r}) needs extras['guess'] of shape "
                                 f"{tuple(params.shape)}")
        r = sample_directions("sphere", 1, d, key)[0].to(params.dtype) if self.variant != "local" else None
        if self.variant == "local":
            u = unit(guess)
        elif self.variant == "random":
            u = r
        else:
            u = unit(unit(guess) + self.mix_weight * r)
        s = self.epsilon * math.sqrt(d)
        losses = check_losses(loss_fn(torch.stack([params + s * u, params - s * u])), 2)
        delta = (losses[0] - losses[1]) / (2 * s)
        grad = delta * u * (d if self.variant == "random" else 1.0)
        info = {"device_queries": 2, "loss": float(losses.mean()), "per_knob_step": self.epsilon,
                "directional_derivative": float(delta)}
        if guess is not None:
            info["guess_norm"] = float(torch.linalg.vector_norm(guess))
        return grad, state, info

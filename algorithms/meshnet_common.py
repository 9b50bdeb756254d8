"""What the whole-network photonic algorithms share: initial knobs, the trainable protocol."""
from __future__ import annotations

import math
from typing import Mapping


from hwsim.oracle import KnobSpec

from hwsim.lazy import torch

__all__ = ["initial_knobs", "cosine_factor"]


def initial_knobs(spec: Mapping[str, KnobSpec], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Phases uniform on [0, 2π) (an unstructured start; Pai's code starts from simphox's
    triangular-mesh initialiser, not reproduced); NOFU taps β = 0.5 and bias π (the NOFU at
    full transmission for weak light: sin²(π/2) = 1). Float32, one setting."""
    out = {}
    for name, ks in spec.items():
        if name == "nofu_beta":
            out[name] = torch.full(ks.shape, 0.5)
        elif name == "nofu_bias":
            out[name] = torch.full(ks.shape, math.pi)
        elif ks.periodic:
            out[name] = torch.rand(ks.shape, generator=generator) * (ks.high - ks.low) + ks.low
        else:
            out[name] = torch.rand(ks.shape, generator=generator) * (ks.high - ks.low) + ks.low
    return out


def cosine_factor(step: int, total: int | None) -> float:
    """Step-size factor ½(1 + cos(π t/T)) at step t of T (1 when ``total`` is None or 0): the
    noisy in-situ gradients otherwise keep the knobs jittering at the noise floor."""
    if not total:
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))

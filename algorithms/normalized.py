"""Device blocks whose input is normalised per example: "block outputs normalised and detached"
of (Scalable) Forward-Forward (Hinton arXiv:2212.13345: length-normalise the hidden vector
before the next layer; Krutsylo arXiv:2501.03176: block output layer-normalised and detached).

The normalisation sits on the *input side* of the next device block (host arithmetic on the
vectors before they are sent to the device), not at the end of the previous stage, so the
previous stage's objective still sees the un-normalised output: for FF the goodness Σ a² would
be a constant after length normalisation. Detaching is inherent: no gradient crosses a device.

    x̂ = x / sqrt(mean(x²) + eps)     over all features of one example (unit RMS, i.e. length √n;
                                      Hinton's normalisation up to the constant √n, which keeps
                                      the next block's readout in the same range as the first)

``NormalizedDense`` / ``NormalizedConv2d`` subclass the model's device blocks only to override
``columns`` (the host pre-processing of the block input); everything that checks the block kind
(stage splitting, im2col readout, ∂L/∂W for the local guess) keeps working, and the local guess
sees the normalised inputs the device sees.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass


from .model import Conv2d, Dense, ModelDescription

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["NormalizedDense", "NormalizedConv2d", "rms_normalize", "normalize_between_blocks",
           "RMS_EPS"]

RMS_EPS = 1e-6      # guards an all-zero (dead ReLU) example; far below any readout scale


def rms_normalize(a: Tensor, n_feature_dims: int) -> Tensor:
    """Normalise a (…, *features) to unit RMS over its last ``n_feature_dims`` dimensions."""
    dims = tuple(range(a.dim() - n_feature_dims, a.dim()))
    return a / torch.sqrt(a.square().mean(dim=dims, keepdim=True) + RMS_EPS)


@dataclass(frozen=True)
class NormalizedDense(Dense):
    """Dense device block fed with the per-example RMS-normalised input."""

    def columns(self, a: Tensor, in_shape: tuple[int, ...]) -> Tensor:
        return super().columns(rms_normalize(a, len(in_shape)), in_shape)


@dataclass(frozen=True)
class NormalizedConv2d(Conv2d):
    """Conv2d device block (im2col) fed with the per-example RMS-normalised (C, H, W) input."""

    def columns(self, a: Tensor, in_shape: tuple[int, ...]) -> Tensor:
        return super().columns(rms_normalize(a, len(in_shape)), in_shape)


def normalize_between_blocks(model: ModelDescription) -> ModelDescription:
    """The same network with every device block after the first fed a normalised input."""
    blocks, seen = [], False
    for b in model.blocks:
        if isinstance(b, (Dense, Conv2d)):
            if seen and type(b) is Dense:
                b = NormalizedDense(b.out_features)
            elif seen and type(b) is Conv2d:
                b = NormalizedConv2d(b.out_channels, b.kernel_size, b.stride, b.padding)
            seen = True
        blocks.append(b)
    return ModelDescription(model.input_shape, tuple(blocks))

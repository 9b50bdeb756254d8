"""Activity perturbation (Ren, Kornblith, Liao, Hinton, arXiv:2210.03310, ICLR'23;
algorithms.md §5): perturb the block's outputs instead of its weights, per example.

The device answers the clean readout once; the perturbations happen on the host, on the
digitised readout z (B, m), so this estimate makes NO device query:

    u_b ~ N(0, I) ⊙ mask_b              (mask: active units; inactive ReLUs have zero gradient)
    δ_b = [ℓ_b(z_b + ε u_b) − ℓ_b(z_b − ε u_b)] / (2ε)       per-example local losses
    ĝ_z[b] = (1/(P·B)) Σ_p δ_pb u_pb    (L = mean_b ℓ_b)

and the weight-space estimate ĝ_W = Σ_b ĝ_z[b] x_bᵀ is mapped to knobs by ``extras["pullback"]``
(the trainer's nominal-Jacobian VJP). Variance is lower than weight perturbation by about the
fan-in (Ren et al.).

Form of the call: ``loss_fn(z_settings (n_eval, B, m)) → per-example losses (n_eval, B)``;
extras ``activity`` = z (B, m), ``mask`` (B, m) bool (optional), ``pullback`` (B, m) → (d,).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass


from .directions import sample_directions
from ..checks import count as _count, positive_float as _positive

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["Activity"]


@dataclass(frozen=True)
class Activity:
    num_directions: int = 4
    epsilon: float = 1e-2           # in readout units

    def __post_init__(self) -> None:
        _count("Activity", "num_directions", self.num_directions)
        object.__setattr__(self, "epsilon", _positive("Activity", "epsilon", self.epsilon))

    needs = frozenset({"activity"})

    def combine_flops(self, d: int) -> float:
        return 2.0 * self.num_directions * d

    def init(self, params: Tensor) -> tuple:
        return ()

    def device_queries(self) -> int:
        return 0

    def activity_gradient(self, loss_fn, z: Tensor, mask: Tensor | None, key) -> tuple[Tensor, float]:
        """ĝ_z (B, m) and the mean base loss."""
        P, (B, m) = self.num_directions, z.shape
        u = sample_directions("gaussian", P * B, m, key).reshape(P, B, m).to(z.dtype)
        if mask is not None:
            u = u * mask
        zs = torch.cat([z + self.epsilon * u, z - self.epsilon * u])       # (2P, B, m)
        ell = torch.as_tensor(loss_fn(zs)).detach()
        if ell.shape != (2 * P, B):
            raise ValueError(f"Activity: loss_fn must return per-example losses of shape "
                             f"({2 * P}, {B}), got {tuple(ell.shape)}")
        delta = (ell[:P] - ell[P:]) / (2 * self.epsilon)                      # (P, B)
        return torch.einsum("pb,pbm->bm", delta, u) / (P * B), float(ell.mean())

    def estimate(self, loss_fn, params: Tensor, state, key, *, activity: Tensor, pullback,
                 mask: Tensor | None = None, **extras):
        gz, loss = self.activity_gradient(loss_fn, activity, mask, key)
        grad = pullback(gz)
        if grad.shape != params.shape:
            raise ValueError(f"Activity: pullback returned {tuple(grad.shape)}; "
                             f"allowed {tuple(params.shape)}")
        return grad, state, {"device_queries": 0, "loss": loss}

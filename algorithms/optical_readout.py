"""Digital readout of a photonic network's output powers: logits and cross-entropy.

``pairs`` (Pai et al., Science 380, 398 (2023); authors' ``solgaardlab/phox``
``phox/apps/onn.py`` ``optical_softmax``): two logits, the summed powers of ports (0, 1) and
(2, 3); softmax cross-entropy; class 1 when the second sum is larger.
``ports``: one logit per output port (FICONN's six outputs for six vowels), times ``scale``.

Powers are in the device's readout units (B, N) or (P, B, N); the cotangent ∂ℓ/∂P is the closed
form softmax(z) − onehot(y) pulled back through the port grouping (no autograd).
"""
from __future__ import annotations

from dataclasses import dataclass

from hwsim.lazy import torch, nn_functional as F


__all__ = ["Readout", "READOUTS"]

READOUTS = ("pairs", "ports")


@dataclass(frozen=True)
class Readout:
    """kind: "pairs" or "ports"; scale: logit = scale × power (dimensionless)."""

    kind: str = "pairs"
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in READOUTS:
            raise ValueError(f"Readout.kind = {self.kind!r}; allowed: {', '.join(READOUTS)}")
        if not (isinstance(self.scale, (int, float)) and self.scale > 0):
            raise ValueError(f"Readout.scale = {self.scale!r}; allowed: a number > 0")

    def logits(self, powers: torch.Tensor) -> torch.Tensor:
        if self.kind == "pairs":
            n = powers.shape[-1] // 2
            z = torch.stack([powers[..., :n].sum(-1), powers[..., n:].sum(-1)], -1)
        else:
            z = powers
        return self.scale * z

    def losses(self, powers: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-sample cross-entropy (…, B)."""
        z = self.logits(powers.float())
        return -torch.log_softmax(z, -1).gather(-1, y.expand(*z.shape[:-1]).unsqueeze(-1)).squeeze(-1)

    def cotangent(self, powers: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(∂ℓ_b/∂P_b (B, N), ℓ_b (B,)) in closed form."""
        z = self.logits(powers.float())
        dz = torch.softmax(z, -1) - F.one_hot(y, z.shape[-1]).to(z.dtype)
        if self.kind == "pairs":
            n = powers.shape[-1] // 2
            dp = torch.cat([dz[..., :1].expand(*dz.shape[:-1], n),
                            dz[..., 1:].expand(*dz.shape[:-1], powers.shape[-1] - n)], -1)
        else:
            dp = dz
        return self.scale * dp, self.losses(powers, y)

    def predict(self, powers: torch.Tensor) -> torch.Tensor:
        return self.logits(powers).argmax(-1)

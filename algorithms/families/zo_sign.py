"""zo-sign: sign-only zeroth-order training of each block's knobs (ZO-signSGD).

Liu, Chen, Chen & Hong, "signSGD via Zeroth-Order Oracle", ICLR 2019 (Algorithm 1): the
update is θ ← θ − δ · sign(ĝ) with ĝ the random-direction gradient estimate averaged over
the directions of a step. Here ĝ is mfdd's Rademacher central-difference estimate of the local
(Mono-Forward) loss, ĝ = (1/P) Σ_p Δ_p u_p with Δ_p = [L(θ + εu_p) − L(θ − εu_p)] / (2ε), and
only its sign reaches the update rule: every knob moves by exactly ± the knob learning rate
(with the default ``knob_optimizer = "sgd"``), whatever the scale of the estimate. Heads and
biases train with their exact gradients as in mfdd.

Device queries per step and block: 1 clean + 2P. Host FLOPs of an estimate: Σ_p Δ_p u_p
(2 per direction and knob) plus one sign per knob.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass, field


from ..estimators import DirectionalDerivative
from ..registry import AlgorithmSpec, register
from ..settings import CommonSettings, integer, setting
from .mono_forward import local_trainer

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["SignDirectional", "ZOSignSettings"]


@dataclass(frozen=True)
class SignDirectional:
    """sign(ĝ) of a directional-derivative estimate ĝ (``rule``); no state."""

    rule: DirectionalDerivative = field(default_factory=DirectionalDerivative)
    needs = frozenset()

    def init(self, params: Tensor) -> tuple:
        return ()

    def device_queries(self) -> int:
        return self.rule.evaluations()

    def combine_flops(self, d: int) -> float:
        return 2.0 * self.rule.num_directions * d + d

    def estimate(self, loss_fn, params: Tensor, state, key, **extras):
        est = self.rule.estimate(loss_fn, params, key)
        return torch.sign(est.grad), state, {
            "device_queries": self.device_queries(), "loss": est.base_loss,
            "per_knob_step": self.rule.per_knob_perturbation(params.numel())}


@dataclass(frozen=True)
class ZOSignSettings(CommonSettings):
    """zo-sign: Rademacher ±ε per knob (per-knob step by the device's rule), central
    differences, P directions, update θ ← θ − lr · sign(ĝ) (``knob_optimizer`` sgd)."""

    # δ = 1e-3 chosen on a validation split: digits (MLP 64-32-32, mzi-default, P = 32, 5
    # epochs, 10 % of the training set held out, seed 0) val 0.896 at 3e-4, 0.931 at 1e-3,
    # 0.903 at 3e-3
    knob_lr_range_units: float = setting(1e-3, "sign step δ of every knob per update",
                                         "knob range units")
    knob_optimizer: str | None = setting("sgd", "the knobs' update rule (sgd: a step of exactly "
                                         "δ·sign(ĝ))")
    num_directions: int = setting(32, "Rademacher directions per estimate (P)", "count")

    def __post_init__(self) -> None:
        super().__post_init__()
        integer(type(self).__name__, "num_directions", self.num_directions, 1, 4096)


register(AlgorithmSpec(
    "zo-sign", "sign of the Rademacher ZO estimate (ZO-signSGD, Liu et al. ICLR 2019); exact head",
    ZOSignSettings,
    lambda req: local_trainer(req, lambda s, net, steps: [SignDirectional(DirectionalDerivative(
        "rademacher", s.num_directions, e, "central")) for e in steps]),
    lambda s, n: n * (1 + 2 * s.num_directions), "forward-only"))

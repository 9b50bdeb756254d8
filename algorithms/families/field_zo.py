"""The field's zeroth-order on-chip baselines for MZI networks: ``flops`` and ``mixedtrain``.

* ``flops`` — FLOPS (Gu, Zhao, Feng, Pan, Chen, "FLOPS: Efficient On-Chip Learning for Optical
  Neural Networks Through Stochastic Zeroth-Order Optimization", DAC 2020).
* ``mixedtrain`` — MixedTrain (Gu, Zhu, Feng, Jiang, Chen, Pan, "Efficient On-Chip Learning for
  Optical Neural Networks Through Power-Aware Sparse Zeroth-Order Optimization", AAAI 2021,
  arXiv:2012.11148).

Defaults are the settings their authors publish in ``JeremieMelo/L2ight`` (commit 21fdac8):
``config/mnist/cnn3/flops/learn.yml`` (lr 2, sigma 0.1, n_sample 1; scheduler exp, lr_gamma
0.99, lr_min 0.0245) and ``config/fmnist/cnn3/mixedtrain/learn.yml`` (lr 0.0245, param_sparsity
0.6, grad_sparsity 0.9; scheduler exp 0.99, lr_min 0.0245). The trainers, the rad ↔ range-unit
mapping and what is and is not batched are in :mod:`algorithms.field_zo`. Both papers fine-tune a
pretrained network (their configs restore a checkpoint); here they start from the same initial
knobs as every algorithm of a seed unless ``initial_knobs`` are given (the L2ight flow).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..field_zo import FieldZOTrainer, FLOPSRule, MixedTrainRule
from ..network import OracleNetwork
from ..registry import AlgorithmSpec, register
from ..settings import (LRScheduleSettings, OPTIMIZERS, choice, head_optimizer, integer,
                        positive, setting)

__all__ = ["FLOPSSettings", "MixedTrainSettings"]


@dataclass(frozen=True)
class _FieldSettings(LRScheduleSettings):
    """Keys both share: the last head's exact-gradient update rule (digital, host only)."""

    head_lr: float = setting(1e-2, "step size of the last stage's digital head and bias", "1")
    optimizer: str = setting("adam", f"update rule of the digital head, one of {OPTIMIZERS}")
    clip_norm: float | None = setting(None, "clip the head update's global norm (None: no "
                                      "clip)", "gradient units")
    lr_rad: float = setting(2.0, "knob step size (schedule base)", "rad of phase per unit of "
                            "the rad-space estimate")

    def __post_init__(self) -> None:
        super().__post_init__()
        o = type(self).__name__
        positive(o, "head_lr", self.head_lr)
        choice(o, "optimizer", self.optimizer, OPTIMIZERS)
        positive(o, "clip_norm", self.clip_norm, allow_none=True)
        positive(o, "lr_rad", self.lr_rad)


@dataclass(frozen=True)
class FLOPSSettings(_FieldSettings):
    """FLOPS: Φ ← Φ − η (1/Q) Σ_q [L(Φ + δ_q) − L(Φ)] δ_q / σ², δ_q ~ N(0, σ² I) over all
    phases. η: 2 rad decayed ×0.99 per epoch to 0.0245 rad (lr_min = 0.0245 / 2 of the base)."""

    lr_schedule: str = setting("exponential", "learning-rate schedule per epoch")
    lr_min: float = setting(0.0245 / 2.0, "floor of the schedule as a fraction of lr_rad "
                            "(L2ight: 0.0245 rad of 2)", "1")
    sigma_rad: float = setting(0.1, "std of the Gaussian perturbation of every phase", "rad")
    n_sample: int = setting(1, "perturbed settings per step (Q), one batched device call",
                            "count")

    def __post_init__(self) -> None:
        super().__post_init__()
        positive(type(self).__name__, "sigma_rad", self.sigma_rad)
        integer(type(self).__name__, "n_sample", self.n_sample, 1, 4096)

    def rule(self) -> FLOPSRule:
        return FLOPSRule(self.sigma_rad, self.n_sample, self.lr_schedule_for(self.lr_rad))


@dataclass(frozen=True)
class MixedTrainSettings(_FieldSettings):
    """MixedTrain: a fixed ``param_sparsity`` of the phases frozen; each step each active phase
    visited with probability 1 − ``grad_sparsity``, tried at +η, else set to −η; η = 0.0245 rad
    (exp 0.99 floored at 0.0245: constant)."""

    lr_rad: float = setting(0.0245, "coordinate step η (schedule base)", "rad")
    lr_schedule: str = setting("exponential", "learning-rate schedule per epoch")
    lr_min: float = setting(1.0, "floor as a fraction of lr_rad (L2ight: 0.0245 of 0.0245)", "1")
    param_sparsity: float = setting(0.6, "fraction of the phases frozen for good (a fixed "
                                    "random mask)", "1")
    grad_sparsity: float = setting(0.9, "probability of skipping an active phase in a step",
                                   "1")

    def __post_init__(self) -> None:
        super().__post_init__()
        o = type(self).__name__
        MixedTrainRule(self.param_sparsity, self.grad_sparsity)   # its one-line checks
        for n in ("param_sparsity", "grad_sparsity"):
            v = getattr(self, n)
            if not 0 <= v < 1:
                raise ValueError(f"{o}.{n} = {v!r}; allowed: a number in [0, 1)")

    def rule(self) -> MixedTrainRule:
        return MixedTrainRule(self.param_sparsity, self.grad_sparsity,
                              self.lr_schedule_for(self.lr_rad))


def _build(req):
    net = OracleNetwork.build(req.model, req.oracles)
    return FieldZOTrainer(net, req.initial_knobs, req.n_classes, req.settings.rule(),
                          head_optimizer(req.settings), seed=req.seed, trace=req.trace)


register(AlgorithmSpec(
    "flops", "FLOPS (Gu et al., DAC 2020): one-sided Gaussian ZO of all phases on the global "
    "loss, SGD with exponential decay (L2ight settings)", FLOPSSettings, _build,
    lambda s, n: n * (1 + s.n_sample), "forward-only, global loss", order=60))
register(AlgorithmSpec(
    "mixedtrain", "MixedTrain (Gu et al., AAAI 2021): sparse sequential coordinate descent on "
    "the global loss; 1 + 1–2 probes per visited phase (L2ight settings)", MixedTrainSettings,
    _build, lambda s, n: n, "forward-only, global loss", order=61, queries_vary=True))

"""Scalable Forward-Forward and Forward-Forward on the existing :class:`LocalTrainer`.

Both are block-local training through the device: every stage is trained on its own goodness
objective (:mod:`algorithms.objectives.goodness`) with no gradient between blocks; the device
knobs of a stage get a forward-only estimate of that objective (any estimator the LocalTrainer
takes: directional derivatives, FROG, local guess, …) and the objective's digital parameters
(the SFF 1×1 projection, the stage biases) their exact closed-form gradient. Blocks after the
first see a normalised input (:func:`algorithms.normalized.normalize_between_blocks`).

* SFF (Krutsylo, arXiv:2501.03176) is the LocalTrainer itself with class-goodness heads and the
  ``"sum"`` prediction (argmax of the summed = averaged goodness over blocks).
* FF (Hinton, arXiv:2212.13345) wraps a LocalTrainer with threshold-goodness objectives:
  :class:`ForwardForward` embeds the label into the input (one-hot in the first C features,
  Hinton's "first 10 pixels"), forms positive (true label) and negative (a uniformly drawn wrong
  label) examples, trains on both in ONE batch of 2B (every device query carries both), and
  predicts by running all C labels (one batch of C·B) and taking the label with the highest
  goodness summed over blocks.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence


from .estimators.base import Estimator
from .model import Conv2d, Flatten
from .network import OracleNetwork
from .objectives.goodness import ClassGoodnessHead, ThresholdGoodness
from .seeds import FF_NEGATIVES, generator
from .trainer import LocalTrainer
from .updates import GradientTransformation

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["class_goodness_heads", "threshold_objectives", "local_trainer_with_objectives",
           "ForwardForward", "embed_label"]


def class_goodness_heads(net: OracleNetwork, n_classes: int) -> list[ClassGoodnessHead]:
    """One SFF head per stage: channels × positions of a conv output (also when the stage ends
    in a flatten), n × 1 of a dense one."""
    out = []
    for st in net.stages:
        shape = st.out_shape
        if st.host and isinstance(st.host[-1], Flatten):    # flatten keeps the (K, H, W) order
            shape = st.host_shapes[-1]
        if len(shape) == 3:
            out.append(ClassGoodnessHead(n_classes, shape[0], shape[1] * shape[2]))
        else:
            out.append(ClassGoodnessHead(n_classes, st.n_features, 1))
    return out


def threshold_objectives(net: OracleNetwork, threshold_per_unit: float) -> list[ThresholdGoodness]:
    """One FF objective per stage, θ = threshold_per_unit × width (so one setting serves every
    width: θ per unit is the mean squared activity at the decision boundary)."""
    return [ThresholdGoodness(st.n_features, threshold_per_unit * st.n_features)
            for st in net.stages]


def local_trainer_with_objectives(net: OracleNetwork, initial_knobs: Sequence[Mapping[str, Tensor]],
                                  objectives: Sequence, estimators: Sequence[Estimator | None],
                                  knob_optimizer: GradientTransformation,
                                  digital_optimizer: GradientTransformation, *,
                                  prediction: str = "sum", seed: int = 0,
                                  trace=None, **trainer_kwargs) -> LocalTrainer:
    """A :class:`LocalTrainer` whose per-stage objectives are ``objectives`` (any object with the
    local-head interface) instead of Mono-Forward heads; its train state is initialised from
    them (objective parameters from the same ``init/heads`` stream)."""
    if len(objectives) != len(net.stages):
        raise ValueError(f"objectives has {len(objectives)} entries; allowed one per stage "
                         f"({len(net.stages)})")
    n_classes = max(getattr(o, "n_classes", 1) for o in objectives)
    return LocalTrainer(net, initial_knobs, n_classes, estimators, knob_optimizer,
                        digital_optimizer, prediction=prediction, seed=seed, trace=trace,
                        heads=objectives, **trainer_kwargs)


def embed_label(x: Tensor, labels: Tensor, n_classes: int, value: float) -> Tensor:
    """x (B, D) with its first C features replaced by ``value`` × one-hot(label): (B, D)."""
    if x.shape[1] < n_classes:
        raise ValueError(f"embed_label: input width {x.shape[1]}; allowed: >= n_classes "
                         f"({n_classes}) to hold the label")
    onehot = torch.nn.functional.one_hot(labels, n_classes).to(x.dtype) * value
    return torch.cat([onehot, x[:, n_classes:]], dim=1)


class ForwardForward:
    """Hinton's FF through the device on a LocalTrainer with :class:`ThresholdGoodness`.

    ``step(x, y)`` trains on [positive; negative] examples; ``predict(x)`` scores every label.
    Negative labels come from their own stream (``seed``/"ff/negatives"), so evaluating never
    changes training draws.
    """

    def __init__(self, trainer: LocalTrainer, n_classes: int, *, label_value: float = 1.0,
                 seed: int = 0) -> None:
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"ForwardForward.n_classes = {n_classes!r}; allowed: an integer >= 2")
        if not all(isinstance(h, ThresholdGoodness) for h in trainer.heads):
            raise ValueError("ForwardForward needs a LocalTrainer with ThresholdGoodness "
                             "objectives (see local_trainer_with_objectives)")
        if isinstance(trainer.net.stages[0].device, Conv2d) and trainer.net.model.input_shape[0] != 1:
            raise ValueError("ForwardForward embeds the label in the first input features; "
                             "allowed: flat or one-channel inputs")
        self.trainer, self.n_classes, self.label_value = trainer, n_classes, float(label_value)
        self._negatives = generator(seed, FF_NEGATIVES)

    @property
    def state(self):
        return self.trainer.state

    @property
    def heads(self):
        return self.trainer.heads

    def wrong_labels(self, y: Tensor) -> Tensor:
        """A uniformly drawn wrong label per example: (y + U{1..C−1}) mod C."""
        shift = torch.randint(1, self.n_classes, y.shape, generator=self._negatives)
        return (y + shift) % self.n_classes

    def positive_negative(self, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """(2B, D) inputs [true label; wrong label] and their flags (2B,) [1…; 0…]."""
        xs = torch.cat([embed_label(x, y, self.n_classes, self.label_value),
                        embed_label(x, self.wrong_labels(y), self.n_classes, self.label_value)])
        flags = torch.cat([torch.ones_like(y), torch.zeros_like(y)])
        return xs, flags

    def step(self, x: Tensor, y: Tensor, train_stages=None) -> dict[str, float]:
        xs, flags = self.positive_negative(x, y)
        return self.trainer.step(xs, flags, train_stages)

    def label_goodness(self, x: Tensor) -> Tensor:
        """Goodness summed over blocks (the last block only for prediction "last") for every
        candidate label: (B, C), one device pass of C·B examples (evaluation streams)."""
        B, C = x.shape[0], self.n_classes
        labels = torch.arange(C).repeat_interleave(B)                      # (C·B,)
        xs = embed_label(x.repeat(C, 1), labels, C, self.label_value)
        with torch.no_grad():
            per_stage = self.trainer.stage_scores(xs)                      # [(C·B, 1)]
        if self.trainer.prediction == "last":
            per_stage = per_stage[-1:]
        return torch.stack(per_stage).sum(0).reshape(C, B).T

    def predict(self, x: Tensor) -> Tensor:
        return self.label_goodness(x).argmax(-1)

    def device_queries_per_step(self, train_stages=None) -> int:
        return self.trainer.device_queries_per_step(train_stages)

"""Goodness family: Scalable Forward-Forward (sff) and Hinton's Forward-Forward (ff) on a
LocalTrainer with goodness objectives (:mod:`algorithms.goodness_training`), their blocks'
knobs trained by a forward-only estimator (``estimator``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..estimators import FROG, Directional, DirectionalDerivative, LocalGuess
from ..estimators.local_guess import VARIANTS
from ..goodness_training import (ForwardForward, class_goodness_heads,
                                 local_trainer_with_objectives, threshold_objectives)
from ..model import parse_architecture
from ..network import OracleNetwork, knob_steps
from ..normalized import normalize_between_blocks
from ..registry import AlgorithmSpec, BuildRequest, guess_model_for, register
from ..settings import (CommonSettings, bad, choice, head_optimizer, integer, knob_optimizer,
                        positive, setting)

__all__ = ["GoodnessSettings", "SFFSettings", "FFSettings", "GOODNESS_ESTIMATORS"]

#: Forward-only knob estimators the goodness algorithms (sff, ff) take for their blocks.
GOODNESS_ESTIMATORS = ("rademacher", "frog", "local-guess")


def _architecture(owner, v):
    if v is None:
        return None
    if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)) or not v or not all(
            isinstance(b, str) for b in v):
        raise bad(owner, "architecture", v, "None (the model's MLP) or a non-empty list of "
                  "block strings like 'conv2d:8:3:1:1'")
    parse_architecture(list(v), f"{owner}.architecture")
    return tuple(v)


@dataclass(frozen=True)
class GoodnessSettings(CommonSettings):
    """Keys shared by sff and ff: the block estimator and its size.

    ``estimator``: "rademacher" (±ε per knob, central, ``num_directions`` P), "frog"
    (``num_directions`` orthonormal tangents) or "local-guess" (the objective's exact ∂L/∂z
    through the nominal Jacobian, needs the device's ``nominal`` capability; ``variant``).
    ``architecture``: block strings (model.py form) for a CNN on square one-channel images,
    e.g. ["conv2d:8:3:1:1", "bias", "relu", "maxpool:2", …]; None: the run's MLP (the run
    builds the model it describes; see ``experiments.build``).
    """

    knob_lr_range_units: float = setting(1e-2, "step size on θ (as mfdd, chosen there on a "
                                         "validation split)", "knob range units")
    prediction: str = setting("sum", "goodness summed (= averaged) over blocks, or 'last'")
    estimator: str = setting("rademacher", f"block estimator, one of {GOODNESS_ESTIMATORS}")
    num_directions: int = setting(8, "directions or tangents per estimate", "count")
    variant: str = setting("local", f"local-guess variant, one of {VARIANTS}")
    architecture: tuple | None = setting(None, "block strings of a CNN on square one-channel "
                                         "images (None: the run's MLP)")

    def __post_init__(self) -> None:
        super().__post_init__()
        o = type(self).__name__
        choice(o, "estimator", self.estimator, GOODNESS_ESTIMATORS)
        integer(o, "num_directions", self.num_directions, 1, 4096)
        choice(o, "variant", self.variant, VARIANTS)
        object.__setattr__(self, "architecture", _architecture(o, self.architecture))
        if self.projection_dim is not None:
            raise bad(o, "projection_dim", self.projection_dim,
                      "None (the goodness heads read the block output itself)")


@dataclass(frozen=True)
class SFFSettings(GoodnessSettings):
    """sff: Scalable Forward-Forward (arXiv:2501.03176): class goodness of a 1×1 projection
    (one channel per class), CE over goodness, normalised detached block inputs, vote by the
    goodness averaged over blocks (prediction "sum"; "last": last block only)."""


@dataclass(frozen=True)
class FFSettings(GoodnessSettings):
    """ff: Hinton's Forward-Forward (arXiv:2212.13345): label one-hot in the first C inputs
    (``label_value``), positive = true label, negative = a uniformly drawn wrong label, loss
    softplus(θ − G_pos) + softplus(G_neg − θ) with G = Σ a² and θ = ``threshold_per_unit`` ×
    width; prediction: the label with the highest goodness summed over blocks ("last": last)."""

    # θ per unit of width = mean squared activity at the boundary; label_value = the embedded
    # one-hot's value on standardised inputs. Chosen on a validation split held out of the
    # Fashion-MNIST training set (3000 train / 1000 val, crossbar-default, MLP 784-128-128, local
    # guess, 2 epochs, knob lr 1e-2): (label, θ/unit) = (1, 0.1) 0.159, (4, 0.1) 0.510,
    # (1, 0.5) 0.418, (4, 0.5) 0.649. A label of 1 is lost among standardised pixels up to ~8;
    # θ = 1.0/unit sits far above the activities at kaiming init (readout rms 0.2–0.4, digits)
    # and left only the positive term active (nothing learned in 3 epochs).
    threshold_per_unit: float = setting(0.5, "goodness threshold per unit of width",
                                        "readout units² per unit")
    label_value: float = setting(4.0, "value of the embedded one-hot label", "input units")

    def __post_init__(self) -> None:
        super().__post_init__()
        positive(type(self).__name__, "threshold_per_unit", self.threshold_per_unit)
        positive(type(self).__name__, "label_value", self.label_value)


def _label(s: GoodnessSettings) -> str:
    uses_nominal = s.estimator == "local-guess" and s.variant != "random"
    return "forward-only, nominal model" if uses_nominal else "forward-only"


def _queries(s: GoodnessSettings, n: int) -> int:
    per = {"rademacher": 2 * s.num_directions, "frog": 2 * s.num_directions, "local-guess": 2}
    return n * (1 + per[s.estimator])


def _build(req: BuildRequest):
    s = req.settings
    net = OracleNetwork.build(normalize_between_blocks(req.model), req.oracles)
    steps = knob_steps(net.oracles, net.maps, s)
    if s.estimator == "rademacher":
        estimators = [Directional(DirectionalDerivative("rademacher", s.num_directions, e,
                                                        "central")) for e in steps]
    elif s.estimator == "frog":
        estimators = [FROG(s.num_directions, e, "unbiased") for e in steps]
    else:
        estimators = [LocalGuess(s.variant, e) for e in steps]
    objectives = (class_goodness_heads(net, req.n_classes) if req.name == "sff"
                  else threshold_objectives(net, s.threshold_per_unit))
    # the local guess maps through the calibrated Jacobian where every device declares it
    inner = local_trainer_with_objectives(
        net, req.initial_knobs, objectives, estimators, knob_optimizer(s), head_optimizer(s),
        prediction=s.prediction, seed=req.seed, trace=req.trace,
        guess_model=guess_model_for(req.name, s, req.oracles))
    if req.name == "sff":
        return inner
    return ForwardForward(inner, req.n_classes, label_value=s.label_value, seed=req.seed)


def _spec(name: str, description: str, settings_type: type, order: int) -> AlgorithmSpec:
    return AlgorithmSpec(name, description, settings_type, _build, _queries, "forward-only",
                         label_for=_label, uses_jacobian=lambda s: s.estimator == "local-guess",
                         capability_for=lambda s: "nominal" if (s.estimator == "local-guess" and
                                                                s.variant != "random") else None,
                         order=order)


register(_spec("sff", "Scalable Forward-Forward: class goodness per block (estimator: "
               "rademacher|frog|local-guess; local-guess needs nominal)", SFFSettings, 11))
register(_spec("ff", "Hinton's Forward-Forward: pos/neg label embedding, goodness threshold "
               "(same estimators)", FFSettings, 12))

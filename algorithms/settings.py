"""The settings vocabulary every algorithm family shares: one error format, fields that carry
their meaning and unit, and the settings common to device-trained algorithms.

A settings class is a frozen dataclass whose fields are the ``[algorithm.settings]`` keys. Declare
each field with :func:`setting` so that its meaning and unit travel with it
(``forwardlab config show --explain`` prints them)::

    num_directions: int = setting(8, "random directions per estimate", "count")

and check values in ``__post_init__`` with the shared checks of :mod:`algorithms.checks`
(re-exported here); every one raises

    ValueError("<Class>.<field> = <value>; allowed: <what is allowed>")

on one line.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from . import updates
from .checks import bad, choice, integer, nonnegative, positive
from .schedules import SCHEDULE_KINDS, Schedule, schedule_from
from .trainer import CALIBRATION_PROBES, GUESS_MODELS, PREDICTIONS, SCHEDULES

__all__ = ["setting", "bad", "positive", "nonnegative", "integer", "choice",
           "LRScheduleSettings", "CommonSettings", "GuessModelSettings", "OPTIMIZERS", "optimizer",
           "knob_optimizer", "head_optimizer"]

OPTIMIZERS = ("adam", "sgd", "momentum")


def setting(default: Any, meaning: str, unit: str = "") -> Any:
    """A settings field with its meaning and unit in ``metadata`` (mutable defaults are not
    allowed in frozen settings: use tuples). The metadata keys are those of
    ``hwsim.meaning.described``, which device fields use and ``config show --explain`` reads;
    algorithms may import only hwsim's oracle and trace vocabulary, hence this twin."""
    return dataclasses.field(default=default, metadata={"meaning": meaning, "unit": unit})


# --------------------------------------------------------------------------- rate schedules
SCHEDULE_TARGETS = ("both", "knobs", "heads")


@dataclass(frozen=True)
class LRScheduleSettings:
    """The learning-rate schedule keys (flat, as L2ight's ``scheduler`` table: name, lr_gamma,
    lr_min); :meth:`lr_schedule_for` turns them into an :mod:`algorithms.schedules` object."""

    lr_schedule: str = setting("constant", f"learning-rate schedule per epoch, one of "
                               f"{SCHEDULE_KINDS}")
    lr_gamma: float = setting(0.99, "decay factor: per epoch (exponential) or per "
                              "lr_step_every epochs (step)", "1")
    lr_min: float = setting(0.0, "floor of the exponential and cosine schedules, as a fraction "
                            "of the base rate", "1")
    lr_step_every: int = setting(10, "epochs between decays of the step schedule", "epochs")
    lr_cosine_epochs: int = setting(50, "epochs of the cosine half-period", "epochs")
    warmup_epochs: int = setting(0, "linear warm-up epochs before the schedule", "epochs")
    lr_schedule_targets: str = setting("both", f"which rates follow the schedule, one of "
                                       f"{SCHEDULE_TARGETS}")

    def __post_init__(self) -> None:
        o = type(self).__name__
        choice(o, "lr_schedule", self.lr_schedule, SCHEDULE_KINDS)
        choice(o, "lr_schedule_targets", self.lr_schedule_targets, SCHEDULE_TARGETS)
        positive(o, "lr_gamma", self.lr_gamma)
        if self.lr_gamma > 1:
            raise bad(o, "lr_gamma", self.lr_gamma, "a number in (0, 1]")
        nonnegative(o, "lr_min", self.lr_min)
        if self.lr_min > 1:
            raise bad(o, "lr_min", self.lr_min, "a fraction of the base rate in [0, 1]")
        integer(o, "lr_step_every", self.lr_step_every, 1, 10 ** 6)
        integer(o, "lr_cosine_epochs", self.lr_cosine_epochs, 1, 10 ** 6)
        integer(o, "warmup_epochs", self.warmup_epochs, 0, 10 ** 6)

    def lr_schedule_for(self, lr: float) -> Schedule:
        """The schedule of base rate ``lr`` (floors scale with it: η_min = lr_min · lr)."""
        spec = {"kind": self.lr_schedule, "warmup_epochs": self.warmup_epochs}
        spec.update({"step": {"every": self.lr_step_every, "gamma": self.lr_gamma},
                     "exponential": {"gamma": self.lr_gamma, "lr_min": self.lr_min * lr},
                     "cosine": {"epochs": self.lr_cosine_epochs, "lr_min": self.lr_min * lr},
                     "constant": {}}[self.lr_schedule])
        return schedule_from(lr, spec, f"{type(self).__name__}.lr_schedule")

    def lr_factors(self, epoch: int) -> tuple[float, float]:
        """(knob, head) multipliers of the base rates in ``epoch``: the schedule of base 1
        (floors are fractions of the base, so one schedule serves every rate)."""
        f = self.lr_schedule_for(1.0)(epoch)
        t = self.lr_schedule_targets
        return (f if t in ("both", "knobs") else 1.0, f if t in ("both", "heads") else 1.0)


# --------------------------------------------------------------------------- common settings
@dataclass(frozen=True)
class CommonSettings(LRScheduleSettings):
    """Keys every device-trained algorithm has (the rate-schedule keys first). Learning rates act on range-normalised knobs
    (θ = knob / range width, so one unit is the knob's whole range)."""

    knob_lr_range_units: float | None = setting(
        2e-3, "step size of the knobs' update rule (None where allowed: the device's hint)",
        "knob range units")
    head_lr: float = setting(1e-2, "step size of the digital heads and biases", "1")
    optimizer: str = setting("adam", f"update rule of heads and knobs, one of {OPTIMIZERS}")
    knob_optimizer: str | None = setting(None, "the knobs' own update rule (None: optimizer)")
    clip_norm: float | None = setting(None, "clip the update's global norm (None: no clip)",
                                      "gradient units")
    schedule: str = setting("simultaneous", f"stage schedule, one of {SCHEDULES}")
    prediction: str = setting("sum", f"how stages vote, one of {PREDICTIONS} (sum: the "
                              "stages' head scores summed)")
    projection_dim: int | None = setting(None, "random projection k of every local head wider "
                                         "than k (None: none)", "features")
    epsilon_knob_range_units: float = setting(
        0.01, "requested per-knob perturbation; the device's rule may raise it",
        "knob range units")
    write_noise_range_units: float | None = setting(
        None, "datasheet write-noise sigma per knob (None: the device's hint)",
        "knob range units")

    #: whether ``knob_lr_range_units = None`` is allowed (the device kind's hint decides)
    _LR_BY_DEVICE = False

    def __post_init__(self) -> None:
        super().__post_init__()
        o = type(self).__name__
        positive(o, "knob_lr_range_units", self.knob_lr_range_units,
                 allow_none=self._LR_BY_DEVICE)
        positive(o, "head_lr", self.head_lr)
        choice(o, "optimizer", self.optimizer, OPTIMIZERS)
        if self.knob_optimizer is not None:
            choice(o, "knob_optimizer", self.knob_optimizer, OPTIMIZERS)
        positive(o, "clip_norm", self.clip_norm, allow_none=True)
        choice(o, "schedule", self.schedule, SCHEDULES)
        choice(o, "prediction", self.prediction, PREDICTIONS)
        integer(o, "projection_dim", self.projection_dim, allow_none=True)
        positive(o, "epsilon_knob_range_units", self.epsilon_knob_range_units)
        if self.epsilon_knob_range_units > 0.25:
            raise bad(o, "epsilon_knob_range_units", self.epsilon_knob_range_units,
                      "<= 0.25 (a quarter of the knob range)")
        nonnegative(o, "write_noise_range_units", self.write_noise_range_units, allow_none=True)


@dataclass(frozen=True)
class GuessModelSettings(CommonSettings):
    """Keys of algorithms whose directions go through the device's Jacobian model.
    ``guess_model``: "calibrated" (measured by forward queries, re-measured every
    ``recalibrate_every`` steps), "nominal" (the design-level Jacobian), or "auto" (calibrated
    where every device declares ``calibrate``, else nominal)."""

    guess_model: str = setting("auto", "Jacobian model of the guess: auto, nominal or calibrated")
    recalibrate_every: int = setting(20, "re-measure the calibrated Jacobian every N steps",
                                     "steps")
    calibrate_subset: int | None = setting(None, "knob indices per block per calibration "
                                           "(None: all)", "knobs")
    calibrate_probe_rows: int | None = setting(
        None, "probe vectors per calibration setting, rounded up to the Hadamard size >= the "
        "layer's inputs (None: the device's default, 1024 on MZI meshes)", "vectors")
    calibrate_probes: str = setting("hadamard", f"probe inputs of a calibration setting, one of "
                                    f"{CALIBRATION_PROBES} (minibatch: the step's own inputs, W "
                                    "by least squares on their span)")
    broyden: float = setting(0.0, "weight of the rank-one secant (Broyden) update of the "
                             "calibrated Jacobian from each step's own readouts (0: off)", "1")

    def __post_init__(self) -> None:
        super().__post_init__()
        o = type(self).__name__
        choice(o, "guess_model", self.guess_model, ("auto", *GUESS_MODELS))
        integer(o, "recalibrate_every", self.recalibrate_every, 1, 10 ** 9)
        integer(o, "calibrate_subset", self.calibrate_subset, 1, 10 ** 6, allow_none=True)
        integer(o, "calibrate_probe_rows", self.calibrate_probe_rows, 1, 10 ** 6,
                allow_none=True)
        choice(o, "calibrate_probes", self.calibrate_probes, CALIBRATION_PROBES)
        nonnegative(o, "broyden", self.broyden)
        if self.broyden > 1:
            raise bad(o, "broyden", self.broyden, "a weight in [0, 1] (0: off)")

    def calibration_keys(self) -> dict:
        """The trainer keys of the calibrated Jacobian model (:class:`LocalTrainer`)."""
        return {"recalibrate_every": self.recalibrate_every,
                "calibrate_subset": self.calibrate_subset,
                "calibrate_probe_rows": self.calibrate_probe_rows,
                "calibrate_probes": self.calibrate_probes, "broyden": self.broyden}


# --------------------------------------------------------------------------- update rules
def optimizer(name: str, lr: float, clip: float | None) -> updates.GradientTransformation:
    """The update rule ``name`` at ``lr``, after a global-norm clip where ``clip`` is set."""
    base = {"adam": updates.adam, "sgd": updates.sgd, "momentum": updates.momentum}[name](lr)
    return updates.chain(updates.clip_by_global_norm(clip), base) if clip else base


def knob_optimizer(settings, knob_lr: float | None = None) -> updates.GradientTransformation:
    """The knobs' update rule: ``knob_optimizer`` where set, else the common ``optimizer``, at
    ``knob_lr`` (default: the settings' ``knob_lr_range_units``)."""
    lr = settings.knob_lr_range_units if knob_lr is None else knob_lr
    return optimizer(getattr(settings, "knob_optimizer", None) or settings.optimizer, lr,
                     settings.clip_norm)


def head_optimizer(settings) -> updates.GradientTransformation:
    """The digital heads' and biases' update rule: ``optimizer`` at ``head_lr``."""
    return optimizer(settings.optimizer, settings.head_lr, settings.clip_norm)

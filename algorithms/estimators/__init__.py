"""Forward-only gradient estimators, optax-shaped (see :mod:`.base`)."""
from .activity import Activity
from .base import Estimator
from .directions import DIRECTIONS, direction_scale, sample_directions
from .frog import FROG
from .local_guess import LocalGuess
from .weight import Directional, LowRank, SeedReplay
from .zeroth_order import (
    DIFFERENCES,
    ZEROTH_ORDER_CONVENTIONS,
    DirectionalDerivative,
    Estimate,
)

__all__ = [
    "Activity", "Directional", "Estimator", "FROG", "LocalGuess", "LowRank", "SeedReplay",
    "DIRECTIONS",
    "DIFFERENCES",
    "ZEROTH_ORDER_CONVENTIONS",
    "DirectionalDerivative",
    "Estimate",
    "direction_scale",
    "sample_directions",
]

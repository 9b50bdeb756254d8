"""Forward-only gradient estimators (zeroth-order directional derivatives)."""
from .directions import DIRECTIONS, direction_scale, sample_directions
from .zeroth_order import (
    DIFFERENCES,
    ZEROTH_ORDER_CONVENTIONS,
    DirectionalDerivative,
    Estimate,
)

__all__ = [
    "DIRECTIONS",
    "DIFFERENCES",
    "ZEROTH_ORDER_CONVENTIONS",
    "DirectionalDerivative",
    "Estimate",
    "direction_scale",
    "sample_directions",
]

"""Shared argument checks: every error names the field, the value and what is allowed."""
from __future__ import annotations

import math

__all__ = ["require_bits", "require_int", "require_nonnegative", "require_positive", "require_range",
           "check_effects", "find_effect", "check_adc_nonideality"]


def require_bits(owner: str, field: str, value: object, max_bits: int = 32) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= max_bits:
        raise ValueError(f"{owner}.{field} = {value!r}; allowed: an integer number of bits "
                         f"in [1, {max_bits}]")
    return value


def require_nonnegative(owner: str, field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0:
        raise ValueError(f"{owner}.{field} = {value!r}; allowed: a finite number >= 0")
    return float(value)


def require_positive(owner: str, field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{owner}.{field} = {value!r}; allowed: a finite number > 0")
    return float(value)


def require_range(owner: str, field: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise ValueError(f"{owner}.{field} = {value!r}; allowed: a number in [{low}, {high}]")
    return float(value)


def require_int(owner: str, field: str, value: object, low: int, high: int | float) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{owner}.{field} = {value!r}; allowed: an integer in [{low}, {high}]")
    return value


def check_effects(owner: str, effects: tuple, allowed: tuple[type, ...]) -> None:
    """Effects must be instances of ``allowed`` types, at most one of each."""
    seen = set()
    for e in effects:
        if not isinstance(e, allowed):
            raise ValueError(f"{owner}.effects contains {e!r}; allowed types: "
                             f"{[t.__name__ for t in allowed]}")
        if type(e) in seen:
            raise ValueError(f"{owner}.effects has two {type(e).__name__} effects; allowed: one")
        seen.add(type(e))


def find_effect(effects: tuple, kind: type):
    """The effect of type ``kind`` in ``effects``, or None (an absent effect is not modelled)."""
    return next((e for e in effects if isinstance(e, kind)), None)


def check_adc_nonideality(owner: str, effects: tuple) -> None:
    """An ADCNonideality effect needs the OutputADC it perturbs (and a table of its codes)."""
    names = {type(e).__name__: e for e in effects}
    if "ADCNonideality" not in names:
        return
    if "OutputADC" not in names:
        raise ValueError(f"{owner}.effects has ADCNonideality without OutputADC; allowed: "
                         f"ADCNonideality together with an OutputADC")
    names["ADCNonideality"].check_codes(names["OutputADC"].max_code)

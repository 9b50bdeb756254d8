"""Shared value checks with one error format, for settings and every configurable object of
``algorithms`` (estimators, update rules)::

    ValueError("<owner>.<name> = <value>; allowed: <what is allowed>")

on one line, naming the field, the value and what is allowed. No dependencies.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Any

__all__ = ["bad", "positive", "nonnegative", "integer", "choice", "count", "positive_float"]


def bad(owner: str, name: str, value: Any, allowed: str) -> ValueError:
    """The one error format: ``owner.name = value; allowed: allowed``."""
    return ValueError(f"{owner}.{name} = {value!r}; allowed: {allowed}")


def _none_ok(allow_none: bool) -> str:
    return " or None" if allow_none else ""


def positive(owner: str, name: str, v: Any, allow_none: bool = False) -> None:
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v) or v <= 0:
        raise bad(owner, name, v, "a finite number > 0" + _none_ok(allow_none))


def nonnegative(owner: str, name: str, v: Any, allow_none: bool = False) -> None:
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v) or v < 0:
        raise bad(owner, name, v, "a finite number >= 0" + _none_ok(allow_none))


def integer(owner: str, name: str, v: Any, lo: int = 1, hi: int = 100_000,
            allow_none: bool = False) -> None:
    if v is None and allow_none:
        return
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise bad(owner, name, v, f"an integer in [{lo}, {hi}]" + _none_ok(allow_none))


def choice(owner: str, name: str, v: Any, allowed) -> None:
    if v not in allowed:
        raise bad(owner, name, v, str(tuple(allowed)))


def count(owner: str, name: str, v: Any) -> int:
    """An integer >= 1 (returned)."""
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise bad(owner, name, v, "an integer >= 1")
    return v


def positive_float(owner: str, name: str, v: Any) -> float:
    """A finite number > 0, returned as float."""
    positive(owner, name, v)
    return float(v)

"""Fields that say what they mean: device configs and effect dataclasses declare each field's
meaning and unit in its ``dataclasses.field`` metadata, so that the config can print them
(``forwardlab config show --explain``) without a hand-kept table::

    sigma_rad: float = described(0.002, "std of the phase noise redrawn per query", "rad")

The metadata keys are ``"meaning"`` and ``"unit"`` (the same keys the algorithms' settings
fields carry); :func:`meanings` reads them from any dataclass.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

__all__ = ["described", "effects_field", "meanings"]

_NO_DEFAULT: Any = dataclasses.MISSING


def described(default: Any = _NO_DEFAULT, meaning: str = "", unit: str = "", *,
              factory: Callable[[], Any] | None = None) -> Any:
    """A dataclass field with its ``meaning`` and ``unit`` in ``metadata`` (``factory``: a
    default factory instead of a default, e.g. the effect tuple of a device config). ``unit``
    is "" for words (choices, names), "1" for dimensionless numbers."""
    if not meaning:
        raise ValueError("described(meaning = ''); allowed: a non-empty phrase saying what the "
                         "field sets")
    metadata = {"meaning": meaning, "unit": unit}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def effects_field() -> Any:
    """The ``effects`` field of a device config: a tuple of effect objects, default none."""
    return described(factory=tuple, meaning="the effect stages modelled, at most one of each "
                     "type (an absent one is not modelled); a [device.<effect>] table each")


def meanings(cls: type) -> dict[str, str]:
    """Field name → "meaning [unit]" of a dataclass (a field without metadata: "")."""
    out = {}
    for f in dataclasses.fields(cls):
        meaning, unit = f.metadata.get("meaning", ""), f.metadata.get("unit", "")
        out[f.name] = f"{meaning} [{unit}]" if meaning and unit else meaning
    return out

"""Typed effect stages: a device is its ordered effect objects, grouped by the stage they act in.

Stages, in the order a device applies them (design.md, "The oracle contract"):

    fabrication  sampled once from the device seed when the device is built (phase bias,
                 beamsplitter imbalance, stuck cells, γ spread, drift-exponent spread)
    program      applied by ``program(knobs)`` to every written setting (knob DAC, thermal
                 crosstalk, programming noise, conductance levels, write counting)
    array        the analog computation itself (insertion loss, IR drop, per-block gain)
    query        applied on every ``query`` (phase noise and drift, read noise, detection, ADC)

Every effect is a frozen dataclass with a class attribute ``stage`` (one of ``STAGES``); its
dataclass fields are its parameters (units in the names) and, through experiments.config, its
config keys. A device's config lists the effect types it accepts in ``EFFECT_TYPES``.
"""
from __future__ import annotations

__all__ = ["STAGES", "stage_of", "by_stage"]

STAGES = ("fabrication", "program", "array", "query")


def stage_of(effect) -> str:
    """The stage an effect acts in (its class attribute ``stage``)."""
    stage = getattr(type(effect), "stage", None)
    if stage not in STAGES:
        raise ValueError(f"{type(effect).__name__}.stage = {stage!r}; allowed: {', '.join(STAGES)}")
    return stage


def by_stage(effects: tuple, stage: str) -> tuple:
    """The effects of one stage, in the order given."""
    if stage not in STAGES:
        raise ValueError(f"stage = {stage!r}; allowed: {', '.join(STAGES)}")
    return tuple(e for e in effects if stage_of(e) == stage)

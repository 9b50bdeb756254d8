"""Run configuration: one frozen, validated dataclass; TOML files and CLI options map onto it.

Unknown keys, wrong types and values out of range raise ``ConfigError`` (a ``ValueError``)
naming the field, the value and what is allowed.
"""
from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from algorithms.estimators.directions import DIRECTIONS
from algorithms.estimators.zeroth_order import DIFFERENCES
from algorithms.mfdd import SCHEDULES
from algorithms.objectives.mono_forward import PREDICTION_RULES
from hwsim.cost.spec import GPU_PRESETS
from hwsim.presets import DEVICE_PRESETS, device_kind

from .data import DATASETS

__all__ = ["ConfigError", "RunConfig", "ALGORITHMS", "DEVICES", "OPTIMIZERS", "load_config"]

ALGORITHMS = ("mfdd", "mf-ad", "bp")
DEVICES = ("mzi", "crossbar")
OPTIMIZERS = ("adam", "sgd", "momentum")
COST_LEVELS = ("low", "nominal", "high")


class ConfigError(ValueError):
    """A configuration value is not allowed."""


@dataclass(frozen=True)
class RunConfig:
    """Everything one run needs. Defaults reproduce ``forwardlab run`` with no arguments."""

    device: str = "mzi"
    preset: str | None = None          # default: "<device>-default"
    algorithm: str = "mfdd"
    dataset: str = "digits"
    data_dir: str | None = None
    standardize: bool = True           # z-score features with training statistics
    hidden: tuple[int, ...] = (32, 32)
    epochs: int = 20
    batch_size: int = 64
    # MF+DD estimator for the device knobs (ε in units of the knob range, see algorithms.knobs).
    # Rademacher directions perturb every knob by ±ε: 0.005 × 2π = 0.031 rad, above the 8-bit
    # phase-DAC step 2π/255 = 0.025 rad (algorithms.md §1: per-knob size must exceed the DAC step).
    directions: str = "rademacher"
    num_directions: int = 32
    epsilon: float = 0.005
    difference: str = "central"
    # estimator for the digital head (M_i, b_i): no device queries
    head_directions: str = "sphere"
    head_num_directions: int = 64
    head_epsilon: float = 0.01
    optimizer: str = "adam"
    lr: float = 0.002
    head_lr: float = 0.03
    clip: float | None = None
    schedule: str = "simultaneous"
    prediction: str = "sum"
    baseline_lr: float = 0.01
    references: bool = True            # also train MF-AD and BP on the ideal twin
    gpus: tuple[str, ...] = ("H100 SXM5", "A100 SXM4 80GB", "Jetson AGX Orin 64GB")
    cost_level: str = "nominal"
    seed: int = 0
    out: str = "results/run.h5"

    def __post_init__(self) -> None:
        def choice(name: str, allowed) -> None:
            v = getattr(self, name)
            if not isinstance(v, str) or v not in allowed:
                raise ConfigError(f"{name} = {v!r}; allowed: {', '.join(map(str, allowed))}")

        def integer(name: str, low: int, high: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
                raise ConfigError(f"{name} = {v!r}; allowed: an integer in [{low}, {high}]")

        def positive(name: str, high: float = math.inf) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or not 0 < v <= high:
                raise ConfigError(f"{name} = {v!r}; allowed: a number in (0, {high}]")

        choice("device", DEVICES)
        if self.preset is not None:
            choice("preset", sorted(DEVICE_PRESETS))
            if device_kind(self.preset) != self.device:
                raise ConfigError(f"preset = {self.preset!r} is a {device_kind(self.preset)} preset "
                                  f"but device = {self.device!r}; allowed: presets starting with "
                                  f"'{self.device}-'")
        choice("algorithm", ALGORITHMS)
        choice("dataset", DATASETS)
        for name in ("directions", "head_directions"):
            choice(name, DIRECTIONS)
        choice("difference", DIFFERENCES)
        choice("optimizer", OPTIMIZERS)
        choice("schedule", SCHEDULES)
        choice("prediction", PREDICTION_RULES)
        choice("cost_level", COST_LEVELS)
        integer("epochs", 1, 100_000)
        integer("batch_size", 1, 1_000_000)
        integer("num_directions", 1, 100_000)
        integer("head_num_directions", 1, 100_000)
        integer("seed", 0, 2 ** 63 - 1)
        for name in ("epsilon", "head_epsilon"):
            positive(name, 1.0)
        for name in ("lr", "head_lr", "baseline_lr"):
            positive(name, 100.0)
        if self.clip is not None:
            positive("clip")
        if not isinstance(self.hidden, tuple) or not self.hidden or any(
                isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= 100_000 for h in self.hidden):
            raise ConfigError(f"hidden = {self.hidden!r}; allowed: a non-empty list of layer widths "
                              "(integers in [1, 100000])")
        if not isinstance(self.gpus, tuple) or any(not isinstance(g, str) or g not in GPU_PRESETS
                                                       for g in self.gpus):
            raise ConfigError(f"gpus = {self.gpus!r}; allowed: a list drawn from {sorted(GPU_PRESETS)}")
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise ConfigError(f"data_dir = {self.data_dir!r}; allowed: a directory path")
        if not isinstance(self.standardize, bool):
            raise ConfigError(f"standardize = {self.standardize!r}; allowed: true or false")
        if not isinstance(self.references, bool):
            raise ConfigError(f"references = {self.references!r}; allowed: true or false")
        if not isinstance(self.out, str) or not self.out:
            raise ConfigError(f"out = {self.out!r}; allowed: a file path")

    @property
    def device_preset(self) -> str:
        return self.preset or f"{self.device}-default"

    def flat(self) -> dict[str, Any]:
        """Flat dict of plain values (for HDF5 attributes)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else ("" if v is None else v)
        out["device_preset"] = self.device_preset
        return out

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: "RunConfig | None" = None) -> "RunConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown config key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}")
        clean = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        if isinstance(clean.get("preset"), str) and clean["preset"] in DEVICE_PRESETS \
                and "device" not in clean:
            clean["device"] = device_kind(clean["preset"])   # the preset names its device
        try:
            return dataclasses.replace(base or cls(), **clean)
        except TypeError as e:   # pragma: no cover - dataclasses.replace only fails on names
            raise ConfigError(str(e)) from None


def load_config(path: str | Path, base: RunConfig | None = None) -> RunConfig:
    """Read a TOML file of top-level keys (the RunConfig field names)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        values = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {str(p)!r} is not valid TOML: {e}") from None
    nested = [k for k, v in values.items() if isinstance(v, dict)]
    if nested:
        raise ConfigError(f"config file {str(p)!r} has table(s) {nested}; allowed: top-level keys only")
    return RunConfig.from_mapping(values, base)

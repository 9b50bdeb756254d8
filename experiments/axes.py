"""The axes a report compares along, and how they are named on a figure or in a table.

A sweep declares its axes (``[sweep.grid]`` and ``[sweep.zip]`` keys); they are stored in the
sweep folder (``sweep.json``) and in every run of it (``meta.sweep_axes``), and they — never a
key inferred from which config values happen to differ — drive every report. Loose runs get
their axes from ``forwardlab report PATH... --by KEY[,KEY]``.

* :func:`declared_axes` — the axes declared by the sweep folders and runs under some paths;
* :func:`axis_name` — a key as a reader names it, with its unit: ``device.phase_noise.sigma_rad``
  → ``"phase noise σ (rad)"``;
* :func:`is_categorical` — a key (algorithm, preset, estimator, ...) or values without an order.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .si import unit_of

__all__ = ["SWEEP_FILE", "META_KEY", "INDEX_FIELDS", "declared_axes", "axes_of_meta", "axis_name", "is_categorical",
           "is_seed_key", "CATEGORICAL_KEYS", "parse_by"]

SWEEP_FILE = "sweep.json"
# the columns of a sweep's index.csv besides its axes
INDEX_FIELDS = ("run_id", "status", "test_accuracy", "seconds", "path", "message")
META_KEY = "sweep_axes"
# keys whose values name things (never ordered on a number line)
CATEGORICAL_KEYS = ("algorithm.name", "device.preset", "device.kind", "data.dataset",
                    "cost.level", "algorithm.settings.directions", "algorithm.settings.difference",
                    "algorithm.settings.guess_model", "algorithm.settings.optimizer",
                    "algorithm.settings.schedule", "algorithm.settings.prediction",
                    "algorithm.settings.estimator", "algorithm.settings.variant")
# words for keys whose last component alone would be unclear
_NAMES = {"algorithm.name": "algorithm", "device.preset": "device preset",
          "device.kind": "device kind", "data.dataset": "data set", "cost.level": "cost level",
          "run.seed": "seed", "run.epochs": "epochs", "run.batch_size": "batch size",
          "algorithm.settings.num_directions": "directions P",
          "algorithm.num_directions": "directions P",
          "algorithm.settings.epsilon_knob_range_units": "perturbation ε (knob range)",
          "algorithm.epsilon": "perturbation ε (knob range)",
          "algorithm.settings.lr": "knob learning rate (knob range)",
          "algorithm.lr": "knob learning rate (knob range)"}
_GREEK = {"sigma": "σ", "epsilon": "ε", "eps": "ε", "gamma": "γ", "alpha": "α", "beta": "β",
          "lambda": "λ", "mu": "µ", "tau": "τ", "phi": "φ", "theta": "θ", "delta": "δ"}


def is_seed_key(key: str) -> bool:
    """A random-seed config key: "seed", "run.seed", "data_seed", "device.fab_seed"."""
    leaf = key.rsplit(".", 1)[-1]
    return leaf == "seed" or leaf.endswith("_seed")


def axis_name(key: str, unit: str | None = None) -> str:
    """A config key as a reader names it, with its unit in parentheses (``unit`` overrides the
    unit read from the key's name; "1" and "" mean none).

    ``device.phase_noise.sigma_rad`` → "phase noise σ (rad)"; ``algorithm.name`` → "algorithm";
    ``device.output_adc.bits`` → "output adc bits".
    """
    if key in _NAMES:
        return _NAMES[key]
    unit = unit_of(key) if unit is None else unit
    parts = key.split(".")
    leaf = parts[-1]
    if unit and leaf.lower().endswith("_" + _suffix(leaf)):
        leaf = leaf[: -len(_suffix(leaf)) - 1]
    words = [_GREEK.get(w, w) for w in leaf.split("_") if w]
    # the owning table says what the leaf is of ("phase noise σ", not just "σ")
    owner = parts[-2] if len(parts) >= 2 and parts[-2] not in ("settings", "run", "model") else ""
    text = " ".join([*(owner.replace("_", " ").split() if owner else []), *words])
    return f"{text} ({unit})" if unit and unit != "1" else text


def _suffix(leaf: str) -> str:
    return leaf.rsplit("_", 1)[-1] if "_" in leaf else ""


def _is_number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return not (isinstance(v, float) and math.isnan(v))
    try:
        import numpy as np
        return isinstance(v, (np.integer, np.floating)) and not np.isnan(v)
    except ImportError:   # pragma: no cover - numpy is a dependency
        return False


def is_categorical(key: str, values: Iterable[Any] = ()) -> bool:
    """True for keys that name things (:data:`CATEGORICAL_KEYS`, any ``.name``/``.preset``/
    ``.kind``/``.estimator`` key) and for values that are not all numbers."""
    leaf = key.rsplit(".", 1)[-1]
    if key in CATEGORICAL_KEYS or leaf in ("name", "preset", "kind", "estimator", "variant"):
        return True
    vals = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    return not vals or not all(_is_number(v) for v in vals)


def axes_of_meta(meta: Mapping[str, Any]) -> list[str]:
    """The sweep axes a run stored (``meta.sweep_axes``, JSON list), [] if none."""
    raw = meta.get(META_KEY)
    if not raw:
        return []
    try:
        axes = json.loads(raw) if isinstance(raw, str) else list(raw)
    except (json.JSONDecodeError, TypeError):
        # read_results gives meta values as str(): a JSON list comes back as a Python list's
        # text; literal_eval reads literals only (never executes anything)
        import ast
        try:
            axes = ast.literal_eval(raw)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return []
    if not isinstance(axes, (list, tuple)):
        return []
    return [str(a) for a in axes if isinstance(a, str)]


def _sweep_file_axes(directory: Path) -> list[str]:
    """Axes of a sweep folder: ``sweep.json``, else the axis columns of ``index.csv``."""
    f = directory / SWEEP_FILE
    if f.is_file():
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
            return [str(a) for a in doc.get("axes", []) if isinstance(a, str)]
        except (OSError, ValueError, AttributeError):
            return []
    index = directory / "index.csv"
    if index.is_file():
        try:
            header = index.read_text(encoding="utf-8").splitlines()[0].split(",")
        except (OSError, IndexError):
            return []
        return [h for h in header if h and h not in INDEX_FIELDS]
    return []


def declared_axes(paths: Iterable[str | Path], metas: Iterable[Mapping[str, Any]] = ()) -> list[str]:
    """The union, in order of first appearance, of the axes declared by the sweep folders among
    ``paths`` (and the folders above a named run file) and by the runs' ``meta`` dicts."""
    out: list[str] = []

    def add(axes: Sequence[str]) -> None:
        out.extend(a for a in axes if a not in out)

    for p in map(Path, paths):
        for d in ([p] if p.is_dir() else [p.parent, p.parent.parent]):
            add(_sweep_file_axes(d))
    for meta in metas:
        add(axes_of_meta(meta))
    return out


def parse_by(text: str | None) -> list[str] | None:
    """``--by "algorithm.name,device.preset"`` → the keys; None when not given.

    Raises:
        ValueError: an empty key or one without a dot.
    """
    if text is None:
        return None
    keys = [k.strip() for k in text.split(",")]
    for k in keys:
        if not k or "." not in k:
            raise ValueError(f"--by {text!r}: key {k!r}; allowed: comma-separated dotted config "
                             "keys such as algorithm.name,device.preset")
    return list(dict.fromkeys(keys))

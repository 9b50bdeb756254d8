"""Nested run configuration: sections for the run, the model, the algorithm, the device, the
cost model and the data. TOML tables mirror the sections; ``--set dotted.key=value`` overrides
any key.

Resolution order: defaults → device preset (a named starting point) → TOML file → CLI flags →
``--set``. The resolved config is explicit: it names every device effect (absent ones as
``enabled = false``) and every cost-spec value, so ``config_to_toml(resolve(...))`` fed back to
``resolve`` reproduces the same run (same run id).

Device physics is mapped generically: a device config (``MZIConfig``/``CrossbarConfig``) lists
the effect types it accepts in ``EFFECT_TYPES``; each effect is a frozen dataclass whose fields
are its config keys under ``device.<effect_snake_name>.<field>`` (e.g.
``device.phase_noise.sigma_rad``), and the device config's own fields are ``device.<field>``
(e.g. ``device.block``). A new effect needs no config code. Cost specs likewise:
``cost.mzi.<field>``, ``cost.crossbar.<field>`` and ``cost.gpu."<preset>".<field>`` override
the specs at ``cost.level`` (the sections of a cost spec file, ``cost.spec_file``, are the same).

Every error is a ``ConfigError`` (a ``ValueError``) naming the full key path, the value and
what is allowed.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

from algorithms.estimators.zeroth_order import DIFFERENCES
from algorithms.settings import setting
from algorithms.trainer import PREDICTIONS
from algorithms.training import SCHEDULES
from hwsim.cost.spec import GPU_PRESETS, LEVELS, spec_from_mapping
from hwsim.kinds import KINDS
from hwsim.meaning import described, meanings
from hwsim.presets import DEVICE_PRESETS, device_config, device_kind

from .config_text import (ConfigError, config_value, deep_merge, flatten_config,
                          load_toml, mapping_to_toml, parse_set, set_dotted, SHORTHAND,  # noqa: F401
                          with_comments)
from .data import DATASETS

__all__ = ["ConfigError", "Config", "RunSection", "ModelSection", "AlgorithmSection",
           "DeviceSection", "CostSection", "DataSection", "PDESection", "PDE_PROBLEMS", "ALGORITHMS", "DEVICES", "OPTIMIZERS",
           "COST_LEVELS", "SECTIONS", "resolve", "load_toml", "parse_set", "set_dotted",
           "config_to_toml", "deep_merge", "effect_name", "flatten_config", "config_value", "MIN_EPSILON",
           "SHORTHAND", "RETIRED"]

def _registry_names() -> tuple[str, ...]:
    from algorithms.registry import ALGORITHMS as REG
    first = ("mfdd", "mf-ad", "bp")
    return first + tuple(n for n in REG if n not in first)


#: Every algorithm of algorithms.registry (mfdd, the default, and its references first).
ALGORITHMS = _registry_names()
#: every registered device kind (hwsim.kinds), and the preset a run starts from by default
DEVICES = tuple(KINDS)
DEFAULT_PRESET = "mzi-default"
OPTIMIZERS = ("adam", "sgd", "momentum")
COST_LEVELS = LEVELS
# ε is a fraction of the knob range; below 1e-6 the perturbation is at most ~8 float32 ulps of
# a knob near its range end and the difference quotient is rounding noise (or exactly 0).
MIN_EPSILON = 1e-6
MAX_THREADS = 256


# --------------------------------------------------------------------------- field checks
def _choice(path: str, v: object, allowed) -> None:
    if not isinstance(v, str) or v not in allowed:
        raise ConfigError(f"{path} = {v!r}; allowed: {', '.join(map(str, allowed))}")


def _integer(path: str, v: object, low: int, high: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise ConfigError(f"{path} = {v!r}; allowed: an integer in [{low}, {high}]")


def _number(path: str, v: object, low: float, high: float, what: str = "", *,
            open_low: bool = True) -> None:
    ok = (not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
          and (low < v if open_low else low <= v) and v <= high)
    if not ok:
        bracket = "(" if open_low else "["
        raise ConfigError(f"{path} = {v!r}; allowed: a number in {bracket}{low:g}, {high:g}]"
                          + (f" ({what})" if what else ""))


def _boolean(path: str, v: object) -> None:
    if not isinstance(v, bool):
        raise ConfigError(f"{path} = {v!r}; allowed: true or false")


def _text(path: str, v: object, what: str) -> None:
    if not isinstance(v, str) or not v or "\x00" in v:
        raise ConfigError(f"{path} = {v!r}; allowed: {what}")


# --------------------------------------------------------------------------- sections
@dataclass(frozen=True)
class RunSection:
    """How the run is executed and where it is stored."""

    seed: int = setting(0, "root of every random stream (batches, init, devices, noise)")
    epochs: int = setting(20, "passes over the training set (greedy: per stage)", "epochs")
    batch_size: int = setting(64, "examples per training step", "examples")
    references: bool = setting(True, "also train the references (MF-AD and BP on the ideal twin)")
    out: str = setting("", "results file (\"\": results/run-<run id>.h5)")
    threads: int = setting(1, "torch intra-op threads per run process (see README)", "threads")
    checkpoint: bool = setting(True, "checkpoint at each epoch boundary (for --resume)")

    def __post_init__(self) -> None:
        _integer("run.seed", self.seed, 0, 2 ** 63 - 1)
        _integer("run.epochs", self.epochs, 1, 100_000)
        _integer("run.batch_size", self.batch_size, 1, 1_000_000)
        _boolean("run.references", self.references)
        _boolean("run.checkpoint", self.checkpoint)
        _integer("run.threads", self.threads, 1, MAX_THREADS)
        if not isinstance(self.out, str) or "\x00" in self.out:
            raise ConfigError(f"run.out = {self.out!r}; allowed: a file path (\"\" for the default "
                              "results/run-<run id>.h5)")


@dataclass(frozen=True)
class ModelSection:
    """Network: an MLP of device layers with Mono-Forward local heads."""

    hidden: tuple[int, ...] = setting((32, 32), "widths of the MLP's device layers", "units")
    # A block list, e.g. ["conv2d:4:5:2:2", "bias", "relu", "flatten", "dense:64", "bias", "relu"]
    # (algorithms.model.parse_architecture); when given it replaces the ``hidden`` MLP and the
    # run trains through the algorithm registry (every algorithm, baselines on the same blocks).
    architecture: tuple = setting((), "block list replacing the hidden MLP (empty: the MLP)")

    def __post_init__(self) -> None:
        if not isinstance(self.architecture, tuple):
            raise ConfigError(f"model.architecture = {self.architecture!r}; allowed: a list of "
                              "blocks such as \"dense:64\", \"conv2d:4:5:2:2\", \"relu\"")
        if self.architecture:
            from algorithms.model import parse_architecture
            try:
                parse_architecture(list(self.architecture))
            except ValueError as e:
                raise ConfigError(str(e).splitlines()[0]) from None
        if not isinstance(self.hidden, tuple) or not self.hidden or any(
                isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= 100_000
                for h in self.hidden):
            raise ConfigError(f"model.hidden = {list(self.hidden) if isinstance(self.hidden, tuple) else self.hidden!r}; "
                              "allowed: a non-empty list of layer widths (integers in [1, 100000])")


#: Keys of the one-class MF+DD that no longer mean anything, and what replaces each.
RETIRED = {
    "head_directions": "mfdd trains its digital heads with their exact gradient; the thesis's "
                       "ZO head is algorithm.name = 'mfdd-thesis' (sphere directions)",
    "head_num_directions": "mfdd trains its digital heads with their exact gradient; the "
                           "thesis's ZO head is algorithm.name = 'mfdd-thesis' with "
                           "algorithm.settings.head_num_directions",
    "head_epsilon": "mfdd trains its digital heads with their exact gradient; the thesis's ZO "
                    "head is algorithm.name = 'mfdd-thesis' with algorithm.settings.head_epsilon",
    "baseline_lr": "it acted on raw knob units; the MF-AD and BP references train the "
                   "range-normalised knobs with the registry's TwinSettings (one learning rate "
                   "means the same on every device); to set it, run a reference alone: "
                   "algorithm.name = 'mf-ad' or 'bp' with algorithm.settings.knob_lr_range_units",
}


@dataclass(frozen=True)
class AlgorithmSection:
    """Training algorithm (``name``, any of ``forwardlab algorithms``) and its settings.

    ``settings``: the fields of the algorithm's settings dataclass (algorithms.registry); the
    resolved section lists every field, defaults from the registry with the config's values on
    top. The shorthand keys (``SHORTHAND``: directions, num_directions, epsilon, difference,
    optimizer, lr, head_lr, clip, schedule, prediction) set the matching settings field; the
    retired keys (``RETIRED``) are one-line errors naming what replaces them.
    """

    name: str = "mfdd"
    settings: dict = field(default_factory=dict)
    directions: str | None = None
    num_directions: int | None = None
    epsilon: float | None = None             # requested per-knob step, fraction of the knob range
    difference: str | None = None
    optimizer: str | None = None
    lr: float | None = None                  # knob learning rate, range units
    head_lr: float | None = None
    clip: float | None = None
    schedule: str | None = None
    prediction: str | None = None
    head_directions: str | None = None       # retired (RETIRED)
    head_num_directions: int | None = None   # retired
    head_epsilon: float | None = None        # retired
    baseline_lr: float | None = None         # retired

    def __post_init__(self) -> None:
        _choice("algorithm.name", self.name, ALGORITHMS)
        if not isinstance(self.settings, dict):
            raise ConfigError(f"algorithm.settings = {self.settings!r}; allowed: a table of the "
                              "algorithm's settings")
        for key, why in RETIRED.items():
            if getattr(self, key) is not None:
                raise ConfigError(f"algorithm.{key} = {getattr(self, key)!r} is retired: {why}")
        given = {k: getattr(self, k) for k in SHORTHAND if getattr(self, k) is not None}
        self._check_shorthand(given)
        from algorithms.registry import settings_for, ALGORITHMS as REG
        allowed = {f.name for f in dataclasses.fields(REG[self.name].settings_type)}
        values = dict(self.settings)
        for key, v in given.items():
            target = SHORTHAND[key]
            if target not in allowed:
                raise ConfigError(f"algorithm.{key} = {v!r} does not apply to algorithm "
                                  f"{self.name!r}; allowed: algorithm.settings keys "
                                  f"{', '.join(sorted(allowed))}")
            if target in values and values[target] != v:
                raise ConfigError(f"algorithm.{key} = {v!r} and algorithm.settings.{target} = "
                                  f"{values[target]!r} set the same value; allowed: one of them")
            values[target] = v
        try:
            resolved = settings_for(self.name, values)
        except (ValueError, TypeError) as e:
            via = [f"algorithm.{k} (= algorithm.settings.{SHORTHAND[k]})" for k in given
                   if re.search(rf"\b{SHORTHAND[k]}\b", str(e))]
            raise ConfigError(f"{via[0] + ': ' if via else ''}algorithm.settings: {e}") from None
        # explicit: every field of the settings, so the resolved config stands alone
        object.__setattr__(self, "settings", {f.name: _plain(getattr(resolved, f.name))
                                              for f in dataclasses.fields(resolved)
                                              if getattr(resolved, f.name) is not None})
        for k in given:
            object.__setattr__(self, k, None)

    @staticmethod
    def _check_shorthand(given: Mapping[str, Any]) -> None:
        from algorithms.families.mono_forward import MFDD_DIRECTIONS
        checks = {"directions": lambda p, v: _choice(p, v, MFDD_DIRECTIONS),
                  "difference": lambda p, v: _choice(p, v, DIFFERENCES),
                  "optimizer": lambda p, v: _choice(p, v, OPTIMIZERS),
                  "schedule": lambda p, v: _choice(p, v, SCHEDULES),
                  "prediction": lambda p, v: _choice(p, v, PREDICTIONS),
                  "num_directions": lambda p, v: _integer(p, v, 1, 100_000),
                  "epsilon": lambda p, v: _number(
                      p, v, MIN_EPSILON, 1.0, "fraction of the knob range; smaller steps vanish "
                      "in float32 rounding", open_low=False),
                  "lr": lambda p, v: _number(p, v, 0.0, 100.0),
                  "head_lr": lambda p, v: _number(p, v, 0.0, 100.0),
                  "clip": lambda p, v: _number(p, v, 0.0, 1e12, "global-norm clip; omit for none")}
        for k, v in given.items():
            checks[k](f"algorithm.{k}", v)

    def settings_object(self):
        """The algorithm's settings dataclass (algorithms.registry)."""
        from algorithms.registry import settings_for
        return settings_for(self.name, self.settings)


@dataclass(frozen=True)
class DeviceSection:
    """Device kind, the preset it started from and the fully resolved physics."""

    kind: str = described(factory=lambda: device_kind(DEFAULT_PRESET),
                          meaning="device kind, one of the registered kinds (forwardlab presets)")
    preset: str = described(DEFAULT_PRESET, "named device preset the physics starts from")
    physics: Any = None                # the kind's config class (resolved; see resolve())


@dataclass(frozen=True)
class CostSection:
    """Cost model: level, optional spec file, resolved specs and the GPU baselines."""

    level: str = "nominal"
    spec_file: str = ""
    gpus: tuple[str, ...] = ("H100 SXM5", "A100 SXM4 80GB", "Jetson AGX Orin 64GB")
    devices: Any = None                # {cost section of a device kind: its spec} (resolved)
    gpu: Any = None                    # {preset name: GpuSpec} for the GPUs in ``gpus`` (resolved)

    def __getattr__(self, name: str):
        """A device kind's resolved spec by its section name (``cfg.cost.<section>``)."""
        devices = self.__dict__.get("devices") or {}
        if name in devices:
            return devices[name]
        raise AttributeError(f"CostSection has no attribute or cost section {name!r}")

    def specs(self) -> dict:
        """Specs keyed by cost section, as ``hwsim.cost.analytic.price`` takes them."""
        return dict(self.devices)


@dataclass(frozen=True)
class DataSection:
    dataset: str = setting("digits", f"data set, one of {DATASETS}")
    data_dir: str = setting("", "IDX files' folder (\"\": $FORWARDLAB_DATA, system path, cache, "
                            "download)")
    standardize: bool = setting(True, "z-score features with training statistics")
    val_split: float = setting(0.0, "share of the training set held out for validation", "1")

    def __post_init__(self) -> None:
        _choice("data.dataset", self.dataset, DATASETS)
        _number("data.val_split", self.val_split, 0.0, 0.5,
                "fraction of the training set held out as a validation split; 0 for none",
                open_low=False)
        _boolean("data.standardize", self.standardize)
        if not isinstance(self.data_dir, str) or "\x00" in self.data_dir:
            raise ConfigError(f"data.data_dir = {self.data_dir!r}; allowed: a directory path")
        if self.dataset == "digits" and self.data_dir:
            raise ConfigError(f"data.data_dir = {self.data_dir!r} with data.dataset = 'digits'; "
                              "allowed: no data directory (digits ships with forwardlab), or a "
                              "directory of IDX files with fashion-mnist or mnist")


PDE_PROBLEMS = ("poisson1d", "hjb20")
#: Default PINN networks per problem (layer strings of algorithms.tt.parse_tt_layer): input →
#: 1 output; TT layers where the widths factor, dense ones (one core) elsewhere.
PDE_ARCHITECTURES = {"poisson1d": ("dense:1:16", "tt:4x4:4x4:2", "dense:16:1"),
                     "hjb20": ("tt:3x7:4x4:2", "dense:16:1")}
PDE_DIMS = {"poisson1d": 1, "hjb20": 21}


@dataclass(frozen=True)
class PDESection:
    """A physics-informed (PDE) task instead of classification: ``problem`` set ("" = none).

    The network (``architecture``, ``activation``) maps the problem's inputs to u; the Stein
    derivatives use a Smolyak Gauss–Hermite grid of ``sparse_grid_level`` at smoothing ``sigma``
    (input units); every step samples ``interior_points`` collocation and ``boundary_points``
    boundary points; an epoch is ``steps_per_epoch`` steps; the metric is the relative L2 error on
    ``test_points`` points."""

    problem: str = ""
    architecture: tuple = ()
    activation: str = "tanh"
    sigma: float = 0.1
    sparse_grid_level: int = 3
    interior_points: int = 16
    boundary_points: int = 8
    boundary_weight: float = 1.0
    steps_per_epoch: int = 50
    test_points: int = 256

    def __post_init__(self) -> None:
        if self.problem == "":
            return
        if self.problem not in PDE_PROBLEMS:
            raise ConfigError(f"pde.problem = {self.problem!r}; allowed: {', '.join(PDE_PROBLEMS)} "
                              "(or \"\" for a classification run)")
        from algorithms.tt_network import ACTIVATIONS, check_chain
        from algorithms.tt import parse_tt_layer
        if not isinstance(self.architecture, tuple):
            raise ConfigError(f"pde.architecture = {self.architecture!r}; allowed: a list of layer "
                              "strings such as 'tt:4x4:4x4:2' or 'dense:16:1'")
        if not self.architecture:
            object.__setattr__(self, "architecture", PDE_ARCHITECTURES[self.problem])
        try:
            shapes = [parse_tt_layer(a, f"pde.architecture[{i}]")
                      for i, a in enumerate(self.architecture)]
            check_chain(shapes, PDE_DIMS[self.problem], 1, "pde.architecture")
        except ValueError as e:
            raise ConfigError(str(e)) from None
        _choice("pde.activation", self.activation, ACTIVATIONS)
        _number("pde.sigma", self.sigma, 0.0, 1.0, "Stein smoothing in input units")
        if isinstance(self.sparse_grid_level, bool) or not isinstance(self.sparse_grid_level, int) \
                or not 3 <= self.sparse_grid_level <= 6:
            raise ConfigError(f"pde.sparse_grid_level = {self.sparse_grid_level!r}; allowed: an "
                              "integer in [3, 6] (the Laplacian needs exactness degree >= 4)")
        _integer("pde.interior_points", self.interior_points, 1, 100_000)
        _integer("pde.boundary_points", self.boundary_points, 1, 100_000)
        _number("pde.boundary_weight", self.boundary_weight, 0.0, 1e6, open_low=False)
        _integer("pde.steps_per_epoch", self.steps_per_epoch, 1, 1_000_000)
        _integer("pde.test_points", self.test_points, 1, 1_000_000)


SECTIONS = ("run", "model", "algorithm", "device", "cost", "data")
#: Sections a config may have that its resolved mapping writes only when used.
OPTIONAL_SECTIONS = ("pde",)


@dataclass(frozen=True)
class Config:
    """A fully resolved run configuration (build it with :func:`resolve`)."""

    run: RunSection = field(default_factory=RunSection)
    model: ModelSection = field(default_factory=ModelSection)
    algorithm: AlgorithmSection = field(default_factory=AlgorithmSection)
    device: DeviceSection = field(default_factory=DeviceSection)
    cost: CostSection = field(default_factory=CostSection)
    data: DataSection = field(default_factory=DataSection)
    pde: PDESection = field(default_factory=PDESection)

    def to_mapping(self) -> dict[str, dict[str, Any]]:
        """Nested plain values (TOML-ready; None values are omitted)."""
        return config_to_mapping(self)

    def flat(self) -> dict[str, Any]:
        """Dotted keys → plain values (HDF5 attributes, DataFrame columns)."""
        return flatten_config(self.to_mapping())

    @property
    def config_hash(self) -> str:
        """SHA-256 (hex) of everything that determines the results, not where they go or how
        fast they come (``NOT_IN_RUN_ID``): a checkpoint is only resumed by the config that
        wrote it."""
        m = self.to_mapping()
        for k in NOT_IN_RUN_ID:
            m["run"].pop(k, None)
        return hashlib.sha256(json.dumps(m, sort_keys=True, default=str).encode()).hexdigest()

    @property
    def run_id(self) -> str:
        """Stable id: the first 12 hex digits of :attr:`config_hash`."""
        return self.config_hash[:12]


# Keys that change where or how fast a run executes, never its results.
NOT_IN_RUN_ID = ("out", "threads", "checkpoint")


# --------------------------------------------------------------------------- generic mapping
def effect_name(cls: type) -> str:
    """Config name of an effect class: PhaseNoise → phase_noise, OutputADC → output_adc."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", cls.__name__).lower()


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:   # pragma: no cover - unresolvable annotation: no coercion
        return {}


def _coerce(cls: type, name: str, value: Any) -> Any:
    """TOML → field value: ints for float fields become floats, lists become tuples."""
    hint = _hints(cls).get(name)
    if isinstance(value, list):   # only tuple fields take lists (else the error shows the list)
        return tuple(value) if hint is tuple or typing.get_origin(hint) is tuple else value
    floaty = hint is float or (typing.get_origin(hint) in (typing.Union, __import__("types").UnionType)
                               and float in typing.get_args(hint))
    if floaty and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _plain(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


def _fields(obj) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(obj) if f.init]


def _build_dataclass(cls: type, base, values: Mapping[str, Any], path: str):
    """``base`` (an instance or None) with ``values`` replaced, validated; errors name ``path``."""
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"unknown key {path}.{unknown[0]}; allowed in [{path}]: "
                          f"{', '.join(names) or '(none)'}")
    for k, v in values.items():
        if isinstance(v, dict) and not (cls is AlgorithmSection and k == "settings"):
            raise ConfigError(f"{path}.{k} is a table; allowed: a value")
    clean = {k: _coerce(cls, k, v) for k, v in values.items()}
    try:
        return dataclasses.replace(base, **clean) if base is not None else cls(**clean)
    except ConfigError as e:
        raise ConfigError(_keyed(str(e), cls, path)) from None
    except TypeError as e:
        missing = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in clean
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        raise ConfigError(f"[{path}] needs {', '.join(missing) or 'other keys'} ({e}); allowed "
                          f"keys: {', '.join(names)}") from None
    except ValueError as e:
        raise ConfigError(_keyed(str(e), cls, path)) from None


def _keyed(message: str, cls: type, path: str) -> str:
    """An object's own error ("PhaseNoise.sigma = -1; ...") with the config key path instead
    of the class name ("device.phase_noise.sigma_rad = -1; ..."), plus the unit its name carries."""
    from .si import unit_of
    m = re.match(rf"{re.escape(cls.__name__)}\.(\w+)", message)
    if not m:
        return message if message.startswith(path) else f"{path}: {message}"
    field_name = m.group(1)
    unit = unit_of(field_name)
    out = f"{path}.{field_name}" + message[m.end():]
    return out + (f" (unit: {unit})" if unit and f"({unit}" not in out else "")


def _device_physics(kind: str, preset: str, values: Mapping[str, Any]):
    """Resolved device config: the preset with device fields and effect tables applied."""
    base = device_config(preset)
    cls = type(base)
    by_name = {effect_name(t): t for t in cls.EFFECT_TYPES}
    device_fields = [f.name for f in _fields(base) if f.name != "effects"]
    top = {k: v for k, v in values.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in values.items() if isinstance(v, dict)}
    bad = sorted(set(top) - set(device_fields))
    if bad:
        hint = (f"; {bad[0]} is an effect, write it as a table [device.{bad[0]}]"
                if bad[0] in by_name else "")
        raise ConfigError(f"unknown key device.{bad[0]}; allowed: kind, preset, "
                          f"{', '.join(device_fields)}, or an effect table "
                          f"({', '.join(by_name)}){hint}")
    bad = sorted(set(tables) - set(by_name))
    if bad:
        raise ConfigError(f"unknown effect device.{bad[0]} for {kind} devices; allowed: "
                          f"{', '.join(by_name)}")
    effects = {type(e): e for e in base.effects}
    for name, table in tables.items():
        t = by_name[name]
        table = dict(table)
        enabled = table.pop("enabled", True)
        _boolean(f"device.{name}.enabled", enabled)
        if not enabled:
            if table:
                raise ConfigError(f"device.{name} is disabled but sets {', '.join(table)}; allowed: "
                                  "enabled = false alone, or enabled = true with parameters")
            effects.pop(t, None)
            continue
        effects[t] = _build_dataclass(t, effects.get(t), table, f"device.{name}")
    # Order: the preset's, then added effects in the device's EFFECT_TYPES order, whatever
    # order a file lists them in, so a resolved config reproduces the same device. (Devices
    # apply effects by stage; the order only matters within a stage.)
    order = [type(e) for e in base.effects] + [t for t in cls.EFFECT_TYPES
                                               if t not in {type(e) for e in base.effects}]
    ordered = tuple(effects[t] for t in order if t in effects)
    clean = {k: _coerce(cls, k, v) for k, v in top.items()}
    try:
        return dataclasses.replace(base, effects=ordered, **clean)
    except ValueError as e:
        raise ConfigError(_keyed(str(e), cls, "device")) from None


def _cost_parts() -> tuple[str, ...]:
    """Cost spec sections a config may set: every device kind's, and the GPUs'."""
    return (*(k.cost_section for k in KINDS.values()), "gpu")


def _cost_section(values: Mapping[str, Any]) -> CostSection:
    values = dict(values)
    level = values.pop("level", "nominal")
    _choice("cost.level", level, COST_LEVELS)
    spec_file = values.pop("spec_file", "")
    if not isinstance(spec_file, str) or "\x00" in spec_file:
        raise ConfigError(f"cost.spec_file = {spec_file!r}; allowed: a TOML file path with "
                          f"{_tables()} tables")
    gpus = values.pop("gpus", CostSection.gpus)
    if isinstance(gpus, list):
        gpus = tuple(gpus)
    if not isinstance(gpus, tuple) or any(not isinstance(g, str) or g not in GPU_PRESETS for g in gpus):
        raise ConfigError(f"cost.gpus = {_plain(gpus)!r}; allowed: a list drawn from "
                          f"{', '.join(sorted(GPU_PRESETS))}")
    parts = _cost_parts()
    overrides: dict[str, dict] = {k: {} for k in parts}
    if spec_file:
        from_file = load_toml(spec_file, what="cost spec file")
        bad = sorted(set(from_file) - set(parts))
        if bad:
            raise ConfigError(f"cost spec file {spec_file!r}: unknown table [{bad[0]}]; allowed: "
                              f"{_tables()}")
        for k, v in from_file.items():
            if not isinstance(v, dict):
                raise ConfigError(f"cost spec file {spec_file!r}: {k} must be a table")
            overrides[k] = deep_merge(overrides[k], v)
    for part in parts:
        v = values.pop(part, {})
        if not isinstance(v, dict):
            raise ConfigError(f"cost.{part} = {v!r}; allowed: a table of spec fields")
        overrides[part] = deep_merge(overrides[part], v)
    if values:
        raise ConfigError(f"unknown key cost.{sorted(values)[0]}; allowed: level, spec_file, gpus, "
                          f"{', '.join(parts)}")
    base = spec_from_mapping(level, None)
    devices = {sec: _build_dataclass(type(base[sec]), base[sec], overrides[sec], f"cost.{sec}")
               for sec in parts[:-1]}
    gpu_specs = {}
    for name, table in overrides["gpu"].items():
        if name not in GPU_PRESETS:
            raise ConfigError(f"unknown GPU cost.gpu.{name!r}; allowed: "
                              f"{', '.join(sorted(GPU_PRESETS))}")
        if not isinstance(table, dict):
            raise ConfigError(f"cost.gpu.{name!r} = {table!r}; allowed: a table of GPU spec fields")
    for name in gpus:
        gpu_specs[name] = _build_dataclass(type(GPU_PRESETS[name]), GPU_PRESETS[name],
                                           overrides["gpu"].get(name, {}), f"cost.gpu.{name!r}")
    return CostSection(level=level, spec_file=spec_file, gpus=gpus, devices=devices, gpu=gpu_specs)


def _tables() -> str:
    return ", ".join(f"[{p}]" for p in _cost_parts()[:-1]) + ", [gpu.\"<preset>\"]"


def resolve(mapping: Mapping[str, Any] | None = None) -> Config:
    """Validate a nested mapping (TOML tables) and resolve presets into a :class:`Config`."""
    mapping = dict(mapping or {})
    tables = SECTIONS + OPTIONAL_SECTIONS
    bad = sorted(set(mapping) - set(tables))
    if bad:
        raise ConfigError(f"unknown section or key {bad[0]!r}; allowed top-level tables: "
                          f"{', '.join(tables)}")
    for name in tables:
        if name in mapping and not isinstance(mapping[name], dict):
            raise ConfigError(f"{name} = {mapping[name]!r} is a value; allowed: a table [{name}]")
    sec = {name: dict(mapping.get(name, {})) for name in tables}
    run = _build_dataclass(RunSection, None, sec["run"], "run")
    model = _build_dataclass(ModelSection, None, sec["model"], "model")
    algorithm = _build_dataclass(AlgorithmSection, None, sec["algorithm"], "algorithm")
    data = _build_dataclass(DataSection, None, sec["data"], "data")
    pde = _build_dataclass(PDESection, None, sec["pde"], "pde")
    if pde.problem and algorithm.name != "tt-zo":
        raise ConfigError(f"algorithm.name = {algorithm.name!r} with pde.problem = {pde.problem!r}; "
                          "allowed: tt-zo (the PINN trains through the device with TT-ZO)")
    dev = sec["device"]
    kind, preset = dev.pop("kind", None), dev.pop("preset", None)
    if kind is not None:
        _choice("device.kind", kind, DEVICES)
    if preset is not None:
        _choice("device.preset", preset, sorted(DEVICE_PRESETS))
        if kind is not None and device_kind(preset) != kind:
            raise ConfigError(f"device.preset = {preset!r} is a {device_kind(preset)} preset but "
                              f"device.kind = {kind!r}; allowed: presets starting with '{kind}-'")
        kind = device_kind(preset)
    kind = kind or device_kind(DEFAULT_PRESET)
    preset = preset or KINDS[kind].default_preset
    device = DeviceSection(kind=kind, preset=preset, physics=_device_physics(kind, preset, dev))
    cost = _cost_section(sec["cost"])
    return Config(run=run, model=model, algorithm=algorithm, device=device, cost=cost, data=data,
                  pde=pde)


def config_to_mapping(cfg: Config) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in ("run", "model", "algorithm", "data"):
        s = getattr(cfg, name)
        out[name] = {f.name: _plain(getattr(s, f.name)) for f in _fields(s)
                     if getattr(s, f.name) is not None}
    phys = cfg.device.physics
    dev: dict[str, Any] = {"kind": cfg.device.kind, "preset": cfg.device.preset}
    for f in _fields(phys):
        if f.name != "effects":
            dev[f.name] = _plain(getattr(phys, f.name))
    present = {type(e): e for e in phys.effects}
    for t in type(phys).EFFECT_TYPES:
        e = present.get(t)
        if e is None:
            dev[effect_name(t)] = {"enabled": False}
        else:
            dev[effect_name(t)] = {"enabled": True, **{f.name: _plain(getattr(e, f.name))
                                                       for f in _fields(e)
                                                       if getattr(e, f.name) is not None}}
    out["device"] = dev
    if cfg.pde.problem:     # classification configs keep their mapping (and run id) unchanged
        out["pde"] = {f.name: _plain(getattr(cfg.pde, f.name)) for f in _fields(cfg.pde)}
    c = cfg.cost
    # spec_file is not written: its values are explicit below, so the resolved config stands alone.
    out["cost"] = {"level": c.level, "gpus": list(c.gpus),
                   **{sec: dict(_plain_items(spec)) for sec, spec in c.devices.items()},
                   "gpu": {name: dict(_plain_items(g)) for name, g in c.gpu.items()}}
    return out


def _plain_items(obj):
    for f in _fields(obj):
        v = getattr(obj, f.name)
        if v is not None:
            yield f.name, _plain(v)


# --------------------------------------------------------------------------- TOML out
def explanations(cfg: Config) -> dict[str, str]:
    """Dotted key → "meaning [unit]" of every resolved key whose field declares them
    (``field(metadata={"meaning", "unit"})``): the run, model, data and PDE sections, the
    algorithm's settings, and the device — its kind's config fields and every field of every
    effect the kind accepts (``[device.<effect>]``, enabled or not)."""
    from algorithms.registry import ALGORITHMS as REG
    out = {f"algorithm.settings.{k}": v
           for k, v in meanings(REG[cfg.algorithm.name].settings_type).items()}
    for name in ("run", "model", "data", "pde", "device"):
        out.update({f"{name}.{k}": v for k, v in meanings(type(getattr(cfg, name))).items()})
    physics = type(cfg.device.physics)
    out.update({f"device.{k}": v for k, v in meanings(physics).items() if k != "effects"})
    for effect in physics.EFFECT_TYPES:
        table = f"device.{effect_name(effect)}"
        out[f"{table}.enabled"] = "whether this effect is modelled"
        out.update({f"{table}.{k}": v for k, v in meanings(effect).items()})
    return {k: v for k, v in out.items() if v}


def config_to_toml(cfg: Config, *, explain: bool = False) -> str:
    """The fully resolved config as TOML (``forwardlab run --config`` accepts it back); with
    ``explain`` every key that declares its meaning and unit carries them as a comment."""
    head = (f"# forwardlab resolved config, run id {cfg.run_id}\n"
            f"# device physics from preset {cfg.device.preset!r}, cost spec at level "
            f"{cfg.cost.level!r}; every value is explicit.\n\n")
    text = mapping_to_toml(cfg.to_mapping())
    return head + (with_comments(text, explanations(cfg)) if explain else text)

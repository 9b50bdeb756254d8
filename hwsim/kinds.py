"""Device kinds: each kind of device declares, in one place, everything the rest of forwardlab
needs to know about it. Nothing outside a kind's own package names the kind.

Adding a kind (e.g. a microring weight bank, ``hwsim/microring/``) is one package plus one
registration line::

    # hwsim/microring/kind.py — discovered: every ``kind`` module of a subpackage of hwsim
    from ..kinds import DeviceKind, register
    from .device import MRRConfig, MRRWeightBank
    from .presets import MRR_PRESETS

    register(DeviceKind(
        name="mrr",                              # the trace's ``LayerInfo.device``, config ``device.kind``
        label="microring weight bank",           # how tables name it
        config_type=MRRConfig,                   # frozen dataclass of effect dataclasses
        build=MRRWeightBank,                     # (n_in, n_out, config, *, seed, name) -> device
        presets=MRR_PRESETS,                     # {"mrr-ideal": factory, "mrr-default": factory}
        knob_names=("heater_power",),            # its KnobSpec names
        cost_section="mrr",                      # its section of the cost spec (hwsim.cost.spec)
        capabilities=frozenset({"nominal"}),     # optional oracle capabilities its devices declare
        hints={"write_noise_range_units": 0.0,   # algorithm-facing defaults (Oracle.hints)
               "zo_knob_lr_range_units": 2e-3,
               "hwa_knob_noise_range_units": 1e-3},
        default_preset="mrr-default",       # its starting preset (and cross-device cost rows)
    ))

plus its cost-spec section in :mod:`hwsim.cost`: the spec dataclass and its section in
``hwsim/cost/spec.py`` (``_SECTIONS``, named by ``cost_section``) and the spec type the
analytic model accepts for that section (``hwsim/cost/analytic.py``, ``resolve_specs``). The
trace carries each layer's kind (``info.kind_<name>``) and the cost model prices a layer with
the spec of its kind's ``cost_section``; the config's ``[cost.<section>]`` table, the
cross-device cost rows and the labels follow from the registration. Fields:

* ``name``: the kind as the trace carries it (``LayerInfo.device``) and ``[device] kind``;
* ``label``: a human name for tables ("MZI mesh");
* ``config_type`` / ``build``: the resolved physics class and ``build(n_in, n_out, config, *,
  seed, name)``, the device (an :class:`~hwsim.oracle.Oracle`); every field of the config class
  and of its ``EFFECT_TYPES`` says what it means (:func:`hwsim.meaning.described`, a test);
* ``presets``: preset name → config factory (``forwardlab presets``);
* ``knob_names``: the names of its knob tensors;
* ``cost_section``: the cost spec section pricing it;
* ``capabilities``: the optional capabilities (:data:`hwsim.oracle.CAPABILITIES`) its devices
  declare;
* ``hints``: technology values algorithms may use through ``Oracle.hints()`` (never hidden
  per-device values): ``write_noise_range_units`` (datasheet write noise per knob, range units),
  ``zo_knob_lr_range_units`` (a ZO knob step size chosen on validation splits),
  ``hwa_knob_noise_range_units`` (noise injected by hardware-aware training);
* ``footprint``: ``(config, n_in, n_out) → Footprint``, the kind's memory formula: what one
  device of that shape holds and the tile sizes its batched evaluation scales with, computed
  from the config alone, so that a run too large for the machine is refused before any device
  is built (``experiments.runner.estimate_eval_bytes``);
* ``default_preset``: the preset a kind starts from (``[device] kind`` alone), and the one a
  run on another kind is also priced on (cross-device cost rows).
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

__all__ = ["DeviceKind", "Footprint", "fabricated_bytes", "register", "KINDS", "kind", "kind_or_none", "kind_of_config",
           "kind_of_preset", "all_presets"]


@dataclass(frozen=True)
class Footprint:
    """One device of ``n_in → n_out`` as its config determines it, before it is built.

    ``knobs``: its knob count (Σ of its KnobSpec sizes); ``tiles`` of ``tile_rows`` ×
    ``tile_cols`` (its LayerInfo values); ``resident_bytes``: the arrays the built device holds
    (fabricated errors, write counters, cached layouts), an estimate that
    tests/hwsim/test_kinds.py holds within a factor 2 of the built device's arrays."""

    knobs: int
    tiles: int
    tile_rows: int
    tile_cols: int
    resident_bytes: int


def fabricated_bytes(effects, elements: int, itemsize: int = 4) -> int:
    """Bytes of the fabrication draws of ``effects``: one ``itemsize`` value per element (knob
    or cell) for every effect that fabricates (``fabricate`` method; hwsim.effects.fabrication)."""
    return itemsize * elements * sum(1 for e in effects if hasattr(e, "fabricate"))


@dataclass(frozen=True)
class DeviceKind:
    """One kind of device (see the module docstring)."""

    name: str
    label: str
    config_type: type
    build: Callable[..., Any]
    presets: Mapping[str, Callable[[], Any]]
    knob_names: tuple[str, ...]
    cost_section: str
    capabilities: frozenset[str] = frozenset()
    hints: Mapping[str, float] = field(default_factory=dict)
    default_preset: str | None = None
    order: int = 100                 # listing order (presets, tables); new kinds after 100
    #: a kind whose cost section lives in its own package: level → its spec (a frozen dataclass
    #: with ``pricing_spec()`` returning the PhotonicCostSpec / CrossbarCostSpec whose law prices
    #: it); None for the sections built into hwsim.cost.spec
    cost_spec: Callable[[str], Any] | None = None
    #: (config, available bytes) → None, or a one-line ValueError naming the config value whose
    #: largest dense structure cannot fit (checked before anything is built); None: no check
    memory_check: Callable[[Any, float], None] | None = None
    #: (config, n_in, n_out) → :class:`Footprint` from the config alone (see the module
    #: docstring); every registered kind declares one (tests/hwsim/test_kinds.py)
    footprint: Callable[[Any, int, int], Footprint] | None = None


_KINDS: dict[str, DeviceKind] = {}
_discovered = False


def register(k: DeviceKind) -> DeviceKind:
    """Add kind ``k`` (its package's ``kind`` module calls this at import)."""
    if k.name in _KINDS and _KINDS[k.name] is not k:
        raise ValueError(f"device kind {k.name!r} is registered twice")
    _KINDS[k.name] = k
    return k


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    root = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(root.__path__):
        if info.ispkg:
            pkg = importlib.import_module(f"{__package__}.{info.name}")
            if any(m.name == "kind" for m in pkgutil.iter_modules(pkg.__path__)):
                importlib.import_module(f"{pkg.__name__}.kind")


class _Kinds(Mapping):
    def __getitem__(self, name: str) -> DeviceKind:
        _discover()
        return _KINDS[name]

    def __iter__(self):
        _discover()
        return iter(sorted(_KINDS, key=lambda n: _KINDS[n].order))

    def __len__(self) -> int:
        _discover()
        return len(_KINDS)


#: every registered kind by name, in discovery order
KINDS: Mapping[str, DeviceKind] = _Kinds()


def kind(name: str) -> DeviceKind:
    """The kind ``name``; one-line ValueError naming the allowed kinds."""
    if name not in KINDS:
        raise ValueError(f"device kind = {name!r}; allowed: {', '.join(KINDS)}")
    return KINDS[name]


def kind_or_none(name: str | None) -> DeviceKind | None:
    return KINDS.get(name) if name is not None else None


def kind_of_config(config: Any) -> DeviceKind:
    """The kind whose config class ``config`` is; ValueError for any other object."""
    for k in KINDS.values():
        if isinstance(config, k.config_type):
            return k
    raise ValueError(f"device physics {type(config).__name__}; allowed: a config of a registered "
                     f"kind ({', '.join(k.config_type.__name__ for k in KINDS.values())})")


def all_presets() -> dict[str, Callable[[], Any]]:
    """Every preset of every kind, by name."""
    out: dict[str, Callable[[], Any]] = {}
    for k in KINDS.values():
        out.update(k.presets)
    return out


def kind_of_preset(preset: str) -> DeviceKind:
    """The kind that declares preset ``preset``; one-line ValueError naming the presets."""
    for k in KINDS.values():
        if preset in k.presets:
            return k
    raise ValueError(f"unknown device preset {preset!r}; allowed: {sorted(all_presets())}")

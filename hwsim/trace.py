"""Trace vocabulary: what an oracle call did, in counts that a cost model can price.

Devices describe themselves once with a :class:`LayerInfo` and then emit additive events:

* :class:`ProgramEvent` – knob values written to the device (phase DAC writes, conductance
  pulses) and the number of sequential settle periods they cost.
* :class:`MvmEvent` – one batched query: vectors streamed, MACs, input DAC and output ADC
  conversions, digital partial-sum additions.
* :class:`DependencyEvent` – what a layer's work within the step waits for: by default (no
  event) everything after the previous layer's (data dependence, layers one after another);
  ``independent=True`` says the layer's settings after its first (the clean readout on the
  forward chain) need only that readout, so they may run concurrently with other layers' work
  on the layer's own tiles (local losses from clean readouts, Mono-Forward style).
* :class:`DigitalEvent` – host/controller arithmetic (local heads, losses, estimator and update
  arithmetic) in FLOPs and bytes moved, tagged with a ``role`` (``"estimator"``, ``"loss"``,
  ``"optimizer"``, ``"transfer"`` for digital↔analog traffic, ``"host"`` when unsplit).

A :class:`Trace` collects events and cuts them into training steps. Step summaries are flat
``dict[str, float]`` keyed ``"<layer>.<kind>.<field>"`` so they can be stored in HDF5 and
re-priced later without the events (``hwsim.cost.price``). Most fields add up over a step;
a few are aggregated otherwise (``_MAXIMAL``: running maxima such as writes per cell), and every
``(layer, kind)`` pair also gets ``"<layer>.<kind>.events"`` (calls) and
``"<layer>.<kind>.first_index"`` (position of its first event within the step: the event order).
DigitalEvents add ``"<layer>.digital.flops_<role>"`` / ``"bytes_<role>"`` per role.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Iterable, Mapping, Union

__all__ = [
    "LayerInfo",
    "ProgramEvent",
    "MvmEvent",
    "DigitalEvent",
    "DependencyEvent",
    "Event",
    "Trace",
    "summarize",
    "layer_kind",
    "is_kind_field",
    "KIND_PREFIX",
    "ROLES",
    "device_totals",
]


@dataclass(frozen=True)
class LayerInfo:
    """Static description of one device layer (recorded once per layer).

    Attributes:
        layer: unique layer name used as the key prefix in summaries.
        device: the device kind (:mod:`hwsim.kinds`, e.g. the MZI mesh's or the crossbar's).
        n_in, n_out: logical layer size (inputs, outputs).
        tile_rows, tile_cols: physical tile (mesh or array) size; an MZI block has
            ``tile_rows == tile_cols == k`` modes.
        tiles: number of physical tiles holding the layer (all resident, working in parallel).
        knobs: number of programmable knob values of the layer (one setting).
        knob_bits: resolution of a knob write (phase DAC bits, conductance levels as bits).
        dac_bits, adc_bits: input DAC and output ADC resolution.
        optical_path_db: insertion loss of the worst path through one tile in dB (0 for
            electrical devices); drives the laser link budget.
        mzis: MZIs per tile (0 for crossbars).
        cells: memory cells per tile (0 for photonic meshes).
        phase_shifters: thermo-optic phase shifters per tile (every phase knob element: an
            8×8 SVD tile has 2·64 mesh + 8 Σ = 136, not its 64 MZIs); 0 for crossbars. Filled
            in by :class:`~hwsim.oracle.TracingOracle` from the knob spec (unit ``"rad"``).
        laser_power_w: optical laser power feeding the layer, W (0: not modelled).
        detector_signal_power_w: signal power of a full-scale input at one modulator, W
            (what reaches a detector before mesh loss; 0: not modelled).
        photodiodes_per_output: 2 for balanced homodyne, 1 for direct detection.
    """

    layer: str
    device: str
    n_in: int
    n_out: int
    tile_rows: int
    tile_cols: int
    tiles: int
    knobs: int
    knob_bits: int
    dac_bits: int
    adc_bits: int
    optical_path_db: float = 0.0
    mzis: int = 0
    cells: int = 0
    phase_shifters: int = 0
    laser_power_w: float = 0.0
    detector_signal_power_w: float = 0.0
    photodiodes_per_output: int = 1


@dataclass(frozen=True)
class ProgramEvent:
    """``program(knobs)`` wrote ``settings`` candidate settings of one layer.

    Attributes:
        knobs_written: knob values written in total (settings x knobs per setting).
        settles: sequential settle/verify periods (one per candidate setting: the P
            settings of a perturbation batch are applied one after another on a chip).
        knobs_changed: knob values that differ from the value the device held just before
            (setting 0 against the previous write of this layer, setting i against i−1):
            what a write-on-change controller actually drives (and what wears cells).
        phase_rad_sum: Σ over the written settings of Σ over phase shifters of the applied
            phase wrapped into [0, 2π) (rad); heater hold power = P_π/π × this / settings
            (thermo-optic φ ∝ P, cost.md §1.3).
        writes_per_cell_max: most writes any single knob element (cell, phase shifter)
            received so far in the current step (max-aggregated).
        writes_per_cell_max_total: the same since the layer was created (max-aggregated):
            the endurance consumed.

    The four fields above are ``None`` when not traced (devices emit events without them;
    :class:`~hwsim.oracle.TracingOracle` fills them in); ``None`` fields stay out of summaries,
    so pricing can tell "not traced" from zero.
    """

    layer: str
    settings: int
    knobs_written: int
    settles: int
    kind: str = "program"
    knobs_changed: int | None = None
    phase_rad_sum: float | None = None
    writes_per_cell_max: int | None = None
    writes_per_cell_max_total: int | None = None


@dataclass(frozen=True)
class MvmEvent:
    """``query(programmed, x)`` streamed vectors through one layer.

    Attributes:
        settings: number of programmed settings queried (P).
        vectors: input vectors streamed per tile column (P x B).
        macs: multiply-accumulates performed by the analog core (P x B x n_in x n_out).
        dac_conversions: input DAC samples (one per input element per tile row-block).
        adc_conversions: output ADC samples (one per output element per tile column-block).
        partial_sum_adds: digital additions that combine tile partial sums.
        signal_fraction_sum: Σ over streamed vectors of mean(x²)/max(x²): the mean fraction of
            full-scale optical (or drive) power the encoded inputs carried; the laser itself
            burns its link-budget power regardless (CW source, modulators attenuate).
    """

    layer: str
    settings: int
    vectors: int
    macs: int
    dac_conversions: int
    adc_conversions: int
    partial_sum_adds: int
    kind: str = "mvm"
    signal_fraction_sum: float | None = None


@dataclass(frozen=True)
class DigitalEvent:
    """Digital work on the host/controller: ``flops`` floating-point ops, ``bytes`` moved.

    ``role`` says what the work was for (``ROLES``); ``"transfer"`` events carry the bytes sent
    to the DACs and read back from the ADCs (recorded by the tracing oracle)."""

    layer: str
    flops: int
    bytes: int = 0
    kind: str = "digital"
    role: str = "host"


@dataclass(frozen=True)
class DependencyEvent:
    """How a layer's work in this step depends on the layers before it (read by pricing).

    ``independent=True``: the layer's first setting (its clean readout) sits on the forward
    chain (it needs the previous layer's clean output); every later setting of the step needs
    only that readout, so it runs concurrently with the other layers' work on its own tiles.
    Summaries carry ``"<layer>.dependency.independent"`` (max over the step: 1.0 or 0.0); traces
    without the event price layers one after another (data dependence), as before."""

    layer: str
    independent: bool = True
    kind: str = "dependency"


Event = Union[ProgramEvent, MvmEvent, DigitalEvent, DependencyEvent]

ROLES = ("host", "estimator", "loss", "optimizer", "transfer")
_ADDITIVE = {
    "program": ("settings", "knobs_written", "settles", "knobs_changed", "phase_rad_sum"),
    "mvm": ("settings", "vectors", "macs", "dac_conversions", "adc_conversions", "partial_sum_adds",
            "signal_fraction_sum"),
    "digital": ("flops", "bytes"),
    "dependency": (),
}
_MAXIMAL = {"program": ("writes_per_cell_max", "writes_per_cell_max_total"),
            "dependency": ("independent",)}
_STATIC = tuple(f.name for f in fields(LayerInfo) if f.name not in ("layer", "device"))


#: summary field naming a described layer's device kind: ``"<layer>.info.kind_<kind>" = 1.0``
KIND_PREFIX = "kind_"
#: summaries written before the kind was carried: ``"<layer>.info.is_mzi"`` (1.0 / 0.0)
_LEGACY_FLAG = "is_mzi"
_LEGACY_KINDS = {True: "mzi", False: "crossbar"}


def layer_kind(summary: Mapping[str, float], layer: str) -> str | None:
    """The device kind of a described layer of a step summary (None: not described), also
    from results files that carry the older ``is_mzi`` flag."""
    head = f"{layer}.info.{KIND_PREFIX}"
    for key, v in summary.items():
        if key.startswith(head) and v and "." not in key[len(head):]:
            return key[len(head):]
    flag = summary.get(f"{layer}.info.{_LEGACY_FLAG}")
    return None if flag is None else _LEGACY_KINDS[bool(flag)]


def is_kind_field(field: str) -> bool:
    """Whether an ``info`` field of a summary names the layer's kind (a described layer)."""
    return field.startswith(KIND_PREFIX) or field == _LEGACY_FLAG


def summarize(events: Iterable[Event], layers: Iterable[LayerInfo] = ()) -> dict[str, float]:
    """Sum events into a flat ``{"<layer>.<kind>.<field>": value}`` dict.

    Static layer descriptions are added as ``"<layer>.info.<field>"`` (numbers) and the
    layer's device kind as ``"<layer>.info.kind_<kind>" = 1.0`` (read it with
    :func:`layer_kind`).
    """
    out: dict[str, float] = {}
    for info in layers:
        for name in _STATIC:
            out[f"{info.layer}.info.{name}"] = float(getattr(info, name))
        out[f"{info.layer}.info.{KIND_PREFIX}{info.device}"] = 1.0
    for i, ev in enumerate(events):
        head = f"{ev.layer}.{ev.kind}."
        for name in _ADDITIVE[ev.kind]:
            v = getattr(ev, name)
            if v is not None:
                out[head + name] = out.get(head + name, 0.0) + float(v)
        for name in _MAXIMAL.get(ev.kind, ()):
            v = getattr(ev, name)
            if v is not None:
                out[head + name] = max(out.get(head + name, 0.0), float(v))
        if ev.kind == "digital":
            for name in ("flops", "bytes"):
                key = f"{head}{name}_{ev.role}"
                out[key] = out.get(key, 0.0) + float(getattr(ev, name))
        out[head + "events"] = out.get(head + "events", 0.0) + 1.0
        out.setdefault(head + "first_index", float(i))
    return out


class Trace:
    """Collects events and splits them into steps.

    Usage::

        trace = Trace()
        trace.begin_step()
        ... oracle calls record into trace ...
        summary = trace.end_step()      # flat dict of numbers for this step
    """

    def __init__(self) -> None:
        self.layers: dict[str, LayerInfo] = {}
        self.events: list[Event] = []
        self.steps: list[dict[str, float]] = []
        self._step_start = 0

    def describe(self, info: LayerInfo) -> None:
        """Register a layer; a second, different description of the same name is an error."""
        old = self.layers.get(info.layer)
        if old is not None and old != info:
            raise ValueError(f"layer name {info.layer!r} is already described differently; "
                             "layer names must be unique within a trace")
        self.layers[info.layer] = info

    def record(self, event: Event) -> None:
        if event.kind not in _ADDITIVE:
            raise ValueError(f"unknown event kind {event.kind!r}; allowed: {sorted(_ADDITIVE)}")
        if event.kind == "digital" and event.role not in ROLES:
            raise ValueError(f"DigitalEvent.role = {event.role!r} is invalid; allowed: "
                             f"{', '.join(ROLES)}")
        self.events.append(event)

    @property
    def step_index(self) -> int:
        """Index of the step being recorded (number of steps closed so far)."""
        return len(self.steps)

    def begin_step(self) -> None:
        self._step_start = len(self.events)

    def end_step(self) -> dict[str, float]:
        """Close the current step; returns and stores its summary."""
        summary = summarize(self.events[self._step_start:], self.layers.values())
        self.steps.append(summary)
        self._step_start = len(self.events)
        return summary

    def summary(self) -> dict[str, float]:
        """Summary of every event recorded so far."""
        return summarize(self.events, self.layers.values())

    def as_records(self) -> list[dict]:
        """Events as plain dicts (for determinism checks and storage)."""
        return [asdict(e) for e in self.events]


def device_totals(summaries: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """What the devices did over many step summaries: ``settings`` (device settings programmed,
    Σ ``*.program.settings``) and ``vectors`` (input vectors streamed through a programmed
    setting, Σ ``*.mvm.vectors``: a calibration setting streams its probe rows, a training
    setting its minibatch)."""
    settings = vectors = 0.0
    for s in summaries:
        for k, v in s.items():
            if k.endswith(".program.settings"):
                settings += v
            elif k.endswith(".mvm.vectors"):
                vectors += v
    return {"settings": settings, "vectors": vectors}

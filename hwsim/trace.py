"""Trace vocabulary: what an oracle call did, in counts that a cost model can price.

Devices describe themselves once with a :class:`LayerInfo` and then emit additive events:

* :class:`ProgramEvent` – knob values written to the device (phase DAC writes, conductance
  pulses) and the number of sequential settle periods they cost.
* :class:`MvmEvent` – one batched query: vectors streamed, MACs, input DAC and output ADC
  conversions, digital partial-sum additions.
* :class:`DigitalEvent` – host/controller arithmetic (local heads, losses, estimator and update
  arithmetic) in FLOPs and bytes moved.

A :class:`Trace` collects events and cuts them into training steps. Step summaries are flat
``dict[str, float]`` keyed ``"<layer>.<kind>.<field>"`` so they can be stored in HDF5 and
re-priced later without the events (``hwsim.cost.price``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Iterable, Union

__all__ = [
    "LayerInfo",
    "ProgramEvent",
    "MvmEvent",
    "DigitalEvent",
    "Event",
    "Trace",
    "summarize",
]


@dataclass(frozen=True)
class LayerInfo:
    """Static description of one device layer (recorded once per layer).

    Attributes:
        layer: unique layer name used as the key prefix in summaries.
        device: ``"mzi"`` or ``"crossbar"``.
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
    """

    layer: str
    settings: int
    knobs_written: int
    settles: int
    kind: str = "program"


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
    """

    layer: str
    settings: int
    vectors: int
    macs: int
    dac_conversions: int
    adc_conversions: int
    partial_sum_adds: int
    kind: str = "mvm"


@dataclass(frozen=True)
class DigitalEvent:
    """Digital work on the host/controller: ``flops`` floating-point ops, ``bytes`` moved."""

    layer: str
    flops: int
    bytes: int = 0
    kind: str = "digital"


Event = Union[ProgramEvent, MvmEvent, DigitalEvent]

_ADDITIVE = {
    "program": ("settings", "knobs_written", "settles"),
    "mvm": ("settings", "vectors", "macs", "dac_conversions", "adc_conversions", "partial_sum_adds"),
    "digital": ("flops", "bytes"),
}
_STATIC = tuple(f.name for f in fields(LayerInfo) if f.name not in ("layer", "device"))


def summarize(events: Iterable[Event], layers: Iterable[LayerInfo] = ()) -> dict[str, float]:
    """Sum events into a flat ``{"<layer>.<kind>.<field>": value}`` dict.

    Static layer descriptions are added as ``"<layer>.info.<field>"`` (numbers) and
    ``"<layer>.info.is_mzi"`` (1.0 for photonic meshes, 0.0 for crossbars).
    """
    out: dict[str, float] = {}
    for info in layers:
        for name in _STATIC:
            out[f"{info.layer}.info.{name}"] = float(getattr(info, name))
        out[f"{info.layer}.info.is_mzi"] = 1.0 if info.device == "mzi" else 0.0
    for ev in events:
        for name in _ADDITIVE[ev.kind]:
            key = f"{ev.layer}.{ev.kind}.{name}"
            out[key] = out.get(key, 0.0) + float(getattr(ev, name))
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
        self.events.append(event)

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

"""Closed-form pricing of a step summary (cost.md §1.1–1.4): energy in J, latency in s.

Model choices (documented, kept simple):

* **Layers run one after another** within a step; inside a layer the stages
  program → stream → convert → digital are not overlapped (an upper bound without
  pipelining). Step latency = Σ_layers Σ_stages. Digital events of layers without an
  ``info`` entry (e.g. ``"host"``) add to the digital stage.
* All tiles of a layer are resident and work in parallel, so stage times are per tile.
* **MZI** (weight-stationary thermo-optic phases, weight mode ``"held"``):
  programming = settles × t_settle; streaming = vectors / f_mod; laser on during streaming at
  the link-budget power (cost.md §1.3, thermal-noise-limited receiver, b = ADC bits, no
  extinction-ratio factor, N_split = tile rows, IL = optical_path_db + modulator IL + coupling);
  heaters draw mzis × P_π × heater_mean_fraction per tile for the whole step: the part during the
  layer's own settles is booked under ``programming``, the rest under ``holding``.
* **Crossbar** (non-volatile conductances, ``"held"``): programming = settles × tile rows ×
  t_write (row by row) and cells written × e_write; inputs bit-serial (``dac_bits`` read passes
  per vector: row drives, cell reads and t_read each × dac_bits).
* Conversions stage = ADC conversions / (tiles × ⌈tile_cols / cols_per_adc⌉) × t_conv.
* ``conversions`` in a report counts ADC (output) conversions: the "MACs per conversion"
  denominator of cost.md §1.1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Union

from .spec import (FJ, MW, PJ, CrossbarCostSpec, PhotonicCostSpec, adc_energy_pj,
                   dac_energy_pj, dbm_to_mw)

__all__ = [
    "ENERGY_COMPONENTS", "LATENCY_COMPONENTS", "WEIGHT_MODES", "CostReport",
    "price", "price_layers", "laser_power_w", "held_weight_pj_per_mac", "layer_stage_times",
]

ENERGY_COMPONENTS = ("laser", "modulators_dacs", "programming", "holding", "detection",
                     "adcs", "digital")
LATENCY_COMPONENTS = ("programming", "streaming", "conversions", "digital")
WEIGHT_MODES = ("held", "redriven", "digital")

Spec = Union[PhotonicCostSpec, CrossbarCostSpec]
SpecArg = Union[Spec, Mapping[str, Spec], Iterable[Spec]]


@dataclass(frozen=True)
class CostReport:
    """Energy (J) and latency (s) of one training step, broken down by component.

    Attributes:
        energy_j: component -> energy in J.
        latency_s: component -> latency in s (components run one after another).
        macs: multiply-accumulates of the step.
        conversions: ADC (output) conversions of the step.
        weight_mode: ``"held"`` (weight-stationary), ``"redriven"`` or ``"digital"`` (GPU).
    """

    energy_j: dict[str, float]
    latency_s: dict[str, float]
    macs: float = 0.0
    conversions: float = 0.0
    weight_mode: str = "held"

    def __post_init__(self) -> None:
        for name in ("energy_j", "latency_s"):
            d = {str(k): float(v) for k, v in dict(getattr(self, name)).items()}
            for k, v in d.items():
                if not math.isfinite(v) or v < 0:
                    raise ValueError(f"CostReport.{name}[{k!r}] = {v!r} is invalid; "
                                     "allowed: a finite number >= 0")
            object.__setattr__(self, name, d)
        for name in ("macs", "conversions"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"CostReport.{name} = {v!r} is invalid; "
                                 "allowed: a finite number >= 0")
            object.__setattr__(self, name, float(v))
        if self.weight_mode not in WEIGHT_MODES:
            raise ValueError(f"CostReport.weight_mode = {self.weight_mode!r} is invalid; "
                             f"allowed: {', '.join(WEIGHT_MODES)}")

    @property
    def total_energy_j(self) -> float:
        return math.fsum(self.energy_j.values())

    @property
    def total_latency_s(self) -> float:
        return math.fsum(self.latency_s.values())

    @property
    def pj_per_mac(self) -> float:
        """Total energy per MAC in pJ (nan without MACs)."""
        return self.total_energy_j / PJ / self.macs if self.macs else math.nan

    @property
    def macs_per_conversion(self) -> float:
        """MACs per ADC conversion (nan without conversions)."""
        return self.macs / self.conversions if self.conversions else math.nan

    def __add__(self, other: "CostReport") -> "CostReport":
        if not isinstance(other, CostReport):
            return NotImplemented
        if other.weight_mode != self.weight_mode:
            raise ValueError(f"cannot add CostReports with weight_mode {self.weight_mode!r} "
                             f"and {other.weight_mode!r}; allowed: equal modes")
        return CostReport(_merge(self.energy_j, other.energy_j),
                          _merge(self.latency_s, other.latency_s),
                          self.macs + other.macs, self.conversions + other.conversions,
                          self.weight_mode)

    def to_dict(self) -> dict[str, float]:
        """Flat dict of floats (HDF5-friendly); inverse of :meth:`from_dict`."""
        out = {f"energy_j.{k}": v for k, v in self.energy_j.items()}
        out.update({f"latency_s.{k}": v for k, v in self.latency_s.items()})
        out.update(macs=self.macs, conversions=self.conversions,
                   total_energy_j=self.total_energy_j, total_latency_s=self.total_latency_s)
        out.update({f"weight_mode.{m}": float(m == self.weight_mode) for m in WEIGHT_MODES})
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, float]) -> "CostReport":
        modes = [m for m in WEIGHT_MODES if d.get(f"weight_mode.{m}", 0.0) == 1.0]
        if len(modes) != 1:
            raise ValueError(f"CostReport.from_dict: weight_mode flags {modes!r} are invalid; "
                             f"allowed: exactly one of {', '.join(WEIGHT_MODES)} set to 1.0")
        return cls({k[9:]: v for k, v in d.items() if k.startswith("energy_j.")},
                   {k[10:]: v for k, v in d.items() if k.startswith("latency_s.")},
                   float(d.get("macs", 0.0)), float(d.get("conversions", 0.0)), modes[0])


def _merge(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0.0) + v
    return out


# --------------------------------------------------------------------------- physics
def laser_power_w(il_path_db: float, n_split: int, bits: int, s_pd_dbm: float,
                  laser_wpe: float) -> float:
    """Electrical laser power in W for one core (cost.md §1.3, LT ``cal_laser_power``).

    P_el [mW] = 10^((S_PD + IL_path + 10·log10 N_split)/10) / η_WPE · 2^b
    (thermal-noise-limited receiver, no extinction-ratio factor).
    """
    if n_split < 1:
        raise ValueError(f"n_split = {n_split!r} is invalid; allowed: an integer >= 1")
    p_mw = dbm_to_mw(s_pd_dbm + il_path_db + 10.0 * math.log10(n_split)) / laser_wpe * 2.0 ** bits
    return p_mw * MW


# --------------------------------------------------------------------------- summary access
def _layers(summary: Mapping[str, float]) -> tuple[list[str], list[str]]:
    """(layers with info, other layer names with events), in first-seen order."""
    info, other = [], []
    for key in summary:
        name, _, rest = key.rpartition(".")
        layer, _, kind = name.rpartition(".")
        if not layer:
            raise ValueError(f"summary key {key!r} is invalid; allowed: '<layer>.<kind>.<field>'")
        if kind == "info":
            if rest == "is_mzi" and layer not in info:
                info.append(layer)
        elif layer not in other:
            other.append(layer)
    return info, [n for n in other if n not in info]


def _get(summary: Mapping[str, float], layer: str, kind: str, name: str) -> float:
    return float(summary.get(f"{layer}.{kind}.{name}", 0.0))


def _resolve_specs(spec_by_device: SpecArg) -> dict[str, Spec]:
    """Normalize to {"mzi": ..., "crossbar": ...} (either may be missing)."""
    if isinstance(spec_by_device, (PhotonicCostSpec, CrossbarCostSpec)):
        specs: Iterable = [spec_by_device]
    elif isinstance(spec_by_device, Mapping):
        out: dict[str, Spec] = {}
        for k, v in spec_by_device.items():
            want = {"mzi": PhotonicCostSpec, "crossbar": CrossbarCostSpec}.get(k)
            if want is None or not isinstance(v, want):
                raise ValueError(f"spec_by_device[{k!r}] = {type(v).__name__} is invalid; "
                                 "allowed: 'mzi' -> PhotonicCostSpec, "
                                 "'crossbar' -> CrossbarCostSpec")
            out[k] = v
        return out
    else:
        specs = list(spec_by_device)
    out = {}
    for s in specs:
        if isinstance(s, PhotonicCostSpec):
            out["mzi"] = s
        elif isinstance(s, CrossbarCostSpec):
            out["crossbar"] = s
        else:
            raise ValueError(f"spec {s!r} is invalid; allowed: PhotonicCostSpec, "
                             "CrossbarCostSpec")
    return out


def _n_adcs(summary: Mapping[str, float], layer: str, spec: Spec) -> int:
    tiles = _get(summary, layer, "info", "tiles")
    cols = _get(summary, layer, "info", "tile_cols")
    return int(tiles) * math.ceil(cols / spec.cols_per_adc)


def layer_stage_times(summary: Mapping[str, float], layer: str, spec: Spec) -> dict[str, float]:
    """Stage times (s) of one described layer: programming, streaming, conversions, digital."""
    g = lambda kind, name: _get(summary, layer, kind, name)  # noqa: E731
    settles, vectors = g("program", "settles"), g("mvm", "vectors")
    if isinstance(spec, PhotonicCostSpec):
        t_prog = settles * spec.t_settle_s
        t_stream = vectors / (spec.f_mod_ghz * 1e9)
    else:
        t_prog = settles * g("info", "tile_rows") * spec.t_write_s
        t_stream = vectors * g("info", "dac_bits") * spec.t_read_s
    conv = g("mvm", "adc_conversions")
    t_conv = 0.0
    if conv:
        n_adcs = _n_adcs(summary, layer, spec)
        if n_adcs < 1:
            raise ValueError(f"layer {layer!r} has {conv:g} ADC conversions but no ADCs "
                             "(info.tiles or info.tile_cols is 0); allowed: tiles, tile_cols >= 1")
        t_conv = conv / n_adcs * spec.t_adc_conv_s
    t_dig = (g("mvm", "partial_sum_adds") + g("digital", "flops")) / (spec.f_digital_gflops * 1e9)
    return {"programming": t_prog, "streaming": t_stream, "conversions": t_conv,
            "digital": t_dig}


def _layer_energy(summary: Mapping[str, float], layer: str, spec: Spec,
                  t: Mapping[str, float]) -> tuple[dict[str, float], float]:
    """Energy (J) without holding, and the layer's heater power (W; 0 for crossbars)."""
    g = lambda kind, name: _get(summary, layer, kind, name)  # noqa: E731
    e = dict.fromkeys(ENERGY_COMPONENTS, 0.0)
    tiles = g("info", "tiles")
    dac, adc, macs = g("mvm", "dac_conversions"), g("mvm", "adc_conversions"), g("mvm", "macs")
    dac_bits, adc_bits = int(g("info", "dac_bits")), int(g("info", "adc_bits"))
    if adc:
        e["adcs"] = adc * adc_energy_pj(spec.e_adc_pj, adc_bits, spec.adc_ref_bits) * PJ
    e["digital"] = (g("mvm", "partial_sum_adds") * spec.e_partial_sum_add_pj
                    + g("digital", "flops") * spec.e_digital_pj_per_flop
                    + g("digital", "bytes") * spec.e_digital_pj_per_byte) * PJ
    p_heat = 0.0
    if isinstance(spec, PhotonicCostSpec):
        if t["streaming"]:
            il = g("info", "optical_path_db") + spec.il_mod_db + spec.il_coupling_db
            p_tile = laser_power_w(il, int(g("info", "tile_rows")), adc_bits, spec.s_pd_dbm,
                                   spec.laser_wpe)
            e["laser"] = tiles * p_tile * t["streaming"]
        if dac:
            e["modulators_dacs"] = dac * (dac_energy_pj(spec.e_dac_pj, dac_bits, spec.dac_ref_bits)
                                          + spec.e_mod_fj_per_bit * FJ / PJ) * PJ
        kw = g("program", "knobs_written")
        if kw:
            e_knob = dac_energy_pj(spec.e_knob_write_pj, int(g("info", "knob_bits")),
                                   spec.dac_ref_bits)
            e["programming"] = kw * e_knob * PJ
        p_heat = tiles * g("info", "mzis") * spec.p_hold_per_mzi_w
        e["programming"] += p_heat * t["programming"]
        e["detection"] = adc * (spec.e_pd_pj + spec.e_tia_pj) * PJ
    else:
        e["modulators_dacs"] = dac * dac_bits * spec.e_row_drive_pj * PJ
        rows, cols, cells, knobs = (g("info", k) for k in ("tile_rows", "tile_cols", "cells",
                                                             "knobs"))
        reads_per_mac = cells / (rows * cols) if cells and rows and cols else 1.0
        e["detection"] = macs * reads_per_mac * dac_bits * spec.e_cell_read_fj * FJ
        cells_per_knob = tiles * cells / knobs if cells and knobs else 1.0
        e["programming"] = g("program", "knobs_written") * cells_per_knob * spec.e_write_pj * PJ
    return e, p_heat


def _default_digital_spec(specs: Mapping[str, Spec]) -> Spec:
    return specs.get("mzi") or specs["crossbar"]


def _terms(summary: Mapping[str, float], specs: Mapping[str, Spec]):
    """Per layer: (name, energy without holding, stage times, heater power, macs, conversions)."""
    if not specs:
        raise ValueError("spec_by_device is empty; allowed: a PhotonicCostSpec and/or "
                         "a CrossbarCostSpec")
    described, others = _layers(summary)
    out = []
    for layer in described:
        dev = "mzi" if _get(summary, layer, "info", "is_mzi") else "crossbar"
        if dev not in specs:
            raise ValueError(f"layer {layer!r} is a {dev} layer but no spec for {dev!r} was "
                             f"given; allowed: pass a {'PhotonicCostSpec' if dev == 'mzi' else 'CrossbarCostSpec'}")
        spec = specs[dev]
        t = layer_stage_times(summary, layer, spec)
        e, p_heat = _layer_energy(summary, layer, spec, t)
        out.append((layer, e, t, p_heat, _get(summary, layer, "mvm", "macs"),
                    _get(summary, layer, "mvm", "adc_conversions")))
    dspec = _default_digital_spec(specs)
    for layer in others:
        for kind in ("program", "mvm"):
            if any(k.startswith(f"{layer}.{kind}.") for k in summary):
                raise ValueError(f"layer {layer!r} has {kind} events but no info entry; "
                                 "allowed: only digital events for undescribed layers")
        flops, nbytes = _get(summary, layer, "digital", "flops"), _get(summary, layer, "digital",
                                                                       "bytes")
        e = dict.fromkeys(ENERGY_COMPONENTS, 0.0)
        e["digital"] = (flops * dspec.e_digital_pj_per_flop + nbytes * dspec.e_digital_pj_per_byte
                        ) * PJ
        t = dict.fromkeys(LATENCY_COMPONENTS, 0.0)
        t["digital"] = flops / (dspec.f_digital_gflops * 1e9)
        out.append((layer, e, t, 0.0, 0.0, 0.0))
    return out


def _assemble(terms, t_step: float) -> dict[str, CostReport]:
    reports = {}
    for layer, e, t, p_heat, macs, conv in terms:
        e = dict(e)
        e["holding"] = p_heat * max(t_step - t["programming"], 0.0)
        reports[layer] = CostReport(e, dict(t), macs, conv, "held")
    return reports


def price_layers(summary: Mapping[str, float], spec_by_device: SpecArg) -> dict[str, CostReport]:
    """Per-layer reports of one step (holding uses the whole step's latency)."""
    terms = _terms(summary, _resolve_specs(spec_by_device))
    t_step = math.fsum(v for _, _, t, *_ in terms for v in t.values())
    return _assemble(terms, t_step)


def _sum_reports(reports: Iterable[CostReport]) -> CostReport:
    total = CostReport(dict.fromkeys(ENERGY_COMPONENTS, 0.0),
                       dict.fromkeys(LATENCY_COMPONENTS, 0.0), 0.0, 0.0, "held")
    for r in reports:
        total = total + r
    return total


def price(summary: Mapping[str, float], spec_by_device: SpecArg) -> CostReport:
    """Price one step summary (``hwsim.trace.summarize`` output).

    Args:
        summary: flat ``"<layer>.<kind>.<field>"`` dict of one step.
        spec_by_device: a spec, ``{"mzi": PhotonicCostSpec, "crossbar": CrossbarCostSpec}``
            or an iterable of specs; each described layer is priced with the spec of its kind
            (``info.is_mzi``); digital events of undescribed layers use the photonic spec if
            given, else the crossbar spec.

    Returns:
        CostReport with energy (J) per ``ENERGY_COMPONENTS`` and latency (s) per
        ``LATENCY_COMPONENTS``.
    """
    return _sum_reports(price_layers(summary, spec_by_device).values())


def held_weight_pj_per_mac(n: int, il_mzi_db: float, bits: int,
                           spec: PhotonicCostSpec) -> float:
    """Held-weight E/MAC (pJ) of one N×N SVD-mesh core (cost.md §4.2), via :func:`price`.

    E/MAC = (N·(E_DAC + E_MZM) + N·(E_ADC + E_TIA + E_PD) + P_laser/f) / N², heater holding
    excluded; path IL = IL_MZI·(2N + 1) (LT ``cal_insertion_loss``) + modulator IL + coupling.
    """
    layer = "core"
    summary = {f"{layer}.info.{k}": float(v) for k, v in dict(
        n_in=n, n_out=n, tile_rows=n, tile_cols=n, tiles=1, knobs=0, knob_bits=bits,
        dac_bits=bits, adc_bits=bits, optical_path_db=il_mzi_db * (2 * n + 1), mzis=0, cells=0,
        is_mzi=1).items()}
    summary.update({f"{layer}.mvm.settings": 1.0, f"{layer}.mvm.vectors": 1.0,
                    f"{layer}.mvm.macs": float(n * n), f"{layer}.mvm.dac_conversions": float(n),
                    f"{layer}.mvm.adc_conversions": float(n)})
    r = price(summary, spec)
    e = sum(r.energy_j[c] for c in ("laser", "modulators_dacs", "detection", "adcs"))
    return e / PJ / (n * n)

"""Closed-form pricing of a step summary (cost.md §1.1–1.4): energy in J, latency in s.

Energy = Σ counted actions × energy per action + Σ static power × time (cost.md §1.1):

* **actions** (from the trace): knob writes (only knobs that changed, when the trace says so),
  input DAC + modulator symbols or crossbar row drives, cell reads, PD/TIA and ADC samples,
  partial-sum adds, host FLOPs and bytes (including digital↔analog transfers), cell programs;
* **static ledger** over the step latency T_step:
  laser (link-budget power × (streaming time + ``laser_idle_on_fraction`` × the rest)),
  heaters (P_π/π × Σ traced phase per setting — per phase shifter, 136 per 8×8 SVD tile),
  converters and receivers between samples (``converter_idle_fraction`` /
  ``receiver_idle_fraction`` × their active power), crossbar array + peripherals per tile,
  and the host floor ``p_host_static_w`` (once per step, booked on the ``"host"`` entry).

Latency = per-perturbation pipeline bound. A layer's ``settings`` are J jobs; each job holds
the layer's array for programming (DAC load + settle / row writes) and streaming, then its
ADC bank for the conversions, then the host for its digital work. Jobs of a layer pipeline
through these three resources (conversion and host work of job j overlap programming of job
j+1, as the hardware allows); identical jobs give the flow-shop makespan
a + b + c + (J − 1)·max(a, b, c). Layers run one after another (data dependence) unless the
trace marks a layer independent (``DependencyEvent``: local losses from clean readouts): then
only its clean readout sits on the forward chain and its other jobs run concurrently with the
other layers' on its own tiles (:func:`schedule`). Latency
components are the critical path: each stage's single-job time, plus (J − 1) × the bottleneck
stage's time on that stage, so they sum to the bound. The SimPy model (``des.py``) simulates the
same pipeline with explicit shared resources and equals this bound when uncontended.

``conversions`` in a report counts ADC (output) conversions: the "MACs per conversion"
denominator of cost.md §1.1. ``metrics`` carry non-additive facts: laser-on time and powers,
heater power, writes per cell and endurance consumed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Union

from ..trace import is_kind_field, layer_kind
from .spec import (FJ, MW, NS, PJ, CrossbarCostSpec, PhotonicCostSpec, adc_energy_pj,
                   dac_energy_pj, dbm_to_mw)

__all__ = [
    "ENERGY_COMPONENTS", "LATENCY_COMPONENTS", "WEIGHT_MODES", "CostReport",
    "price", "price_layers", "laser_power_w", "held_weight_pj_per_mac", "layer_stage_times",
    "pipeline_makespan", "flow_shop_makespan", "shot_noise_laser_power_w", "schedule",
    "StageTimes",
]

ENERGY_COMPONENTS = ("laser", "modulators_dacs", "programming", "holding", "detection",
                     "adcs", "converters_idle", "peripherals", "digital", "host_static")
LATENCY_COMPONENTS = ("programming", "streaming", "conversions", "digital")
WEIGHT_MODES = ("held", "redriven", "digital")
# Energy components of the host system, outside the accelerator (device-only energy leaves
# them out; GPU rows book their host floor on "host_static" too).
SYSTEM_ONLY_COMPONENTS = frozenset({"digital", "host_static"})
# Metrics that combine by maximum when reports are added (the rest add up).
_MAX_METRICS = ("writes_per_cell_max", "writes_per_cell_max_total", "pulses_per_cell_max_total",
                "endurance_used_fraction")

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
        metrics: name -> value of facts that are not energy or latency components, units in
            the names (``laser_on_s``, ``laser_electrical_w``, ``laser_optical_w``,
            ``heater_w``, ``writes_per_cell_max`` (this step), ``writes_per_cell_max_total``,
            ``endurance_used_fraction``, band and to-target figures...). Added reports sum them,
            except the maxima in ``_MAX_METRICS``.
    """

    energy_j: dict[str, float]
    latency_s: dict[str, float]
    macs: float = 0.0
    conversions: float = 0.0
    weight_mode: str = "held"
    metrics: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("energy_j", "latency_s"):
            d = {str(k): float(v) for k, v in dict(getattr(self, name)).items()}
            for k, v in d.items():
                if not math.isfinite(v) or v < 0:
                    raise ValueError(f"CostReport.{name}[{k!r}] = {v!r} is invalid; "
                                     "allowed: a finite number >= 0")
            object.__setattr__(self, name, d)
        m = {str(k): float(v) for k, v in dict(self.metrics).items()}
        for k, v in m.items():
            if not math.isfinite(v):
                raise ValueError(f"CostReport.metrics[{k!r}] = {v!r} is invalid; "
                                 "allowed: a finite number")
        object.__setattr__(self, "metrics", m)
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
    def device_energy_j(self) -> float:
        """Energy of the accelerator alone (J): every component except the host's digital
        work and the host floor (``SYSTEM_ONLY_COMPONENTS``); the system figure is
        :attr:`total_energy_j`."""
        return math.fsum(v for k, v in self.energy_j.items() if k not in SYSTEM_ONLY_COMPONENTS)

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
        metrics = _merge(self.metrics, other.metrics)
        for k in _MAX_METRICS:
            if k in self.metrics and k in other.metrics:
                metrics[k] = max(self.metrics[k], other.metrics[k])
        return CostReport(_merge(self.energy_j, other.energy_j),
                          _merge(self.latency_s, other.latency_s),
                          self.macs + other.macs, self.conversions + other.conversions,
                          self.weight_mode, metrics)

    def to_dict(self) -> dict[str, float]:
        """Flat dict of floats (HDF5-friendly); inverse of :meth:`from_dict`."""
        out = {f"energy_j.{k}": v for k, v in self.energy_j.items()}
        out.update({f"latency_s.{k}": v for k, v in self.latency_s.items()})
        out.update(macs=self.macs, conversions=self.conversions,
                   total_energy_j=self.total_energy_j, total_latency_s=self.total_latency_s,
                   device_energy_j=self.device_energy_j)
        out.update({f"weight_mode.{m}": float(m == self.weight_mode) for m in WEIGHT_MODES})
        out.update({f"metric.{k}": v for k, v in self.metrics.items()})
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, float]) -> "CostReport":
        modes = [m for m in WEIGHT_MODES if d.get(f"weight_mode.{m}", 0.0) == 1.0]
        if len(modes) != 1:
            raise ValueError(f"CostReport.from_dict: weight_mode flags {modes!r} are invalid; "
                             f"allowed: exactly one of {', '.join(WEIGHT_MODES)} set to 1.0")
        return cls({k[9:]: v for k, v in d.items() if k.startswith("energy_j.")},
                   {k[10:]: v for k, v in d.items() if k.startswith("latency_s.")},
                   float(d.get("macs", 0.0)), float(d.get("conversions", 0.0)), modes[0],
                   {k[7:]: v for k, v in d.items() if k.startswith("metric.")})


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




def pipeline_makespan(a: float, b: float, c: float, jobs: int) -> float:
    """Makespan (s) of ``jobs`` identical jobs through three resources in series with
    per-job times a, b, c: a + b + c + (jobs − 1)·max(a, b, c) (permutation flow shop)."""
    return flow_shop_makespan((a, b, c), jobs)


def flow_shop_makespan(stages: Iterable[float], jobs: int) -> float:
    """Makespan (s) of ``jobs`` identical jobs through resources in series with per-job
    times ``stages``: Σ stages + (jobs − 1)·max(stages) (permutation flow shop)."""
    stages = tuple(stages)
    if jobs < 1 or not stages:
        return 0.0
    return math.fsum(stages) + (jobs - 1) * max(stages)


H_PLANCK = 6.62607015e-34   # J·s (exact, SI 2019)
C_LIGHT = 299_792_458.0      # m/s (exact)


def shot_noise_laser_power_w(il_path_db: float, n_detectors: int, bits: int, f_sample_hz: float,
                             wavelength_nm: float, laser_wpe: float) -> float:
    """Electrical laser power (W) when each detector needs the shot-noise floor
    P_det = 4^b·hν·f_s (cost.md §1.3; Hamerly et al., PRX 9, 021032 (2019)):
    P_el = n_detectors · P_det · 10^(IL/10) / η_WPE."""
    if n_detectors < 1:
        raise ValueError(f"n_detectors = {n_detectors!r} is invalid; allowed: an integer >= 1")
    h_nu = H_PLANCK * C_LIGHT / (wavelength_nm * 1e-9)
    p_det = 4.0 ** bits * h_nu * f_sample_hz
    return n_detectors * p_det * 10.0 ** (il_path_db / 10.0) / laser_wpe


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
            if is_kind_field(rest) and layer not in info:
                info.append(layer)
        elif layer not in other:
            other.append(layer)
    return info, [n for n in other if n not in info]


def summary_value(summary: Mapping[str, float], layer: str, kind: str, name: str) -> float:
    return float(summary.get(f"{layer}.{kind}.{name}", 0.0))


def resolve_specs(spec_by_device: SpecArg) -> dict[str, Spec]:
    """Normalize to {"mzi": ..., "crossbar": ...} (either may be missing)."""
    if isinstance(spec_by_device, (PhotonicCostSpec, CrossbarCostSpec)):
        specs: Iterable = [spec_by_device]
    elif isinstance(spec_by_device, Mapping):
        out: dict[str, Spec] = {}
        for k, v in spec_by_device.items():
            if callable(getattr(v, "pricing_spec", None)):   # a kind's own section (hwsim.kinds)
                v = v.pricing_spec()
                if isinstance(v, (PhotonicCostSpec, CrossbarCostSpec)):
                    out[k] = v
                    continue
            want = {"mzi": PhotonicCostSpec, "crossbar": CrossbarCostSpec}.get(k)
            if want is None and isinstance(v, (PhotonicCostSpec, CrossbarCostSpec)):
                out[k] = v                # another kind, already resolved to the law pricing it
                continue
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


def adc_count(summary: Mapping[str, float], layer: str, spec: Spec) -> int:
    tiles = summary_value(summary, layer, "info", "tiles")
    cols = summary_value(summary, layer, "info", "tile_cols")
    return int(tiles) * math.ceil(cols / spec.cols_per_adc)


def count_phase_shifters(summary: Mapping[str, float], layer: str) -> float:
    """Phase shifters per tile; traces written before the field existed get the SVD count
    2·k² + k (two Clements meshes of k² shifters plus the Σ row)."""
    n = summary_value(summary, layer, "info", "phase_shifters")
    if n:
        return n
    k = summary_value(summary, layer, "info", "tile_rows")
    return 2 * k * k + k


def _knob_writes(summary: Mapping[str, float], layer: str) -> float:
    """Knob values actually driven: those that changed when the trace counts them."""
    if f"{layer}.program.knobs_changed" in summary:
        return summary_value(summary, layer, "program", "knobs_changed")
    return summary_value(summary, layer, "program", "knobs_written")


@dataclass(frozen=True)
class StageTimes:
    """Busy time (s) of one layer's stages within a step and its job count.

    ``program_s`` and ``stream_s`` hold the array, ``convert_s`` the ADC bank, ``digital_s``
    the host (partial sums and the layer's digital events); ``dac_load_s`` is the part of
    ``program_s`` spent loading knob values through the DAC banks (the rest is settling).
    With ``load_overlapped`` the knob DACs load into holding registers while the previous
    job still streams (double-buffered drivers): the load is a stage of its own, ahead of the
    array, and hides under streaming when shorter than settle + stream."""

    program_s: float
    stream_s: float
    convert_s: float
    digital_s: float
    dac_load_s: float
    jobs: int
    load_overlapped: bool = False
    convert_busy_s: float | None = None   # whole ADC workload per channel (None: = convert_s)
    vectors: float = 0.0                  # vectors streamed, all jobs

    @property
    def busy_s(self) -> float:
        return self.convert_s if self.convert_busy_s is None else self.convert_busy_s

    def stages(self, steady: bool = False) -> tuple[float, ...]:
        """Per-job time of each pipeline stage, in order (s). The first job's conversion
        stage is the tail left after its streaming; in the steady state (``steady``) a job
        occupies the ADC bank for its whole workload (its early conversions cannot overlap
        its own streaming while the bank still converts the previous job)."""
        j = max(self.jobs, 1)
        conv = max(self.busy_s, self.convert_s) / j if steady else self.convert_s / j
        if self.load_overlapped:
            return (self.dac_load_s / j, (self.program_s - self.dac_load_s + self.stream_s) / j,
                    conv, self.digital_s / j)
        return (self.program_s + self.stream_s) / j, conv, self.digital_s / j

    def per_job(self) -> tuple[float, float, float]:
        """(array, conversion, digital) time per job (s); the array includes the knob load."""
        j = max(self.jobs, 1)
        return (self.program_s + self.stream_s) / j, self.convert_s / j, self.digital_s / j

    def first(self, n: int) -> "StageTimes":
        """The same layer's first ``n`` jobs alone (all stages scaled by n / jobs)."""
        n = min(max(int(n), 0), self.jobs)
        f = n / self.jobs if self.jobs else 0.0
        return StageTimes(self.program_s * f, self.stream_s * f, self.convert_s * f,
                          self.digital_s * f, self.dac_load_s * f, n, self.load_overlapped,
                          None if self.convert_busy_s is None else self.convert_busy_s * f,
                          self.vectors * f)

    def critical_path(self) -> dict[str, float]:
        """Latency components (s) of the pipeline bound; they sum to the makespan."""
        if self.jobs < 1:
            return dict.fromkeys(LATENCY_COMPONENTS, 0.0)
        j = self.jobs
        st = self.stages()
        prog_share = ((self.program_s - self.dac_load_s) / j if self.load_overlapped
                      else self.program_s / j)
        out = {"programming": (self.program_s / j), "streaming": self.stream_s / j,
               "conversions": self.convert_s / j, "digital": self.digital_s / j}
        extra = j - 1
        if extra:
            st = self.stages(steady=True)
            k = max(range(len(st)), key=lambda i: (st[i], -i))   # first bottleneck stage
            names = (("programming",), ("programming", "streaming"), ("conversions",),
                     ("digital",)) if self.load_overlapped else (
                     ("programming", "streaming"), ("conversions",), ("digital",))
            if names[k] == ("programming", "streaming"):
                out["programming"] += extra * prog_share
                out["streaming"] += extra * self.stream_s / j
            elif names[k] == ("programming",):
                out["programming"] += extra * self.dac_load_s / j
            else:
                out[names[k][0]] += extra * st[k]
        return out

    @property
    def makespan_s(self) -> float:
        """First job's stages + (jobs − 1) × the steady-state bottleneck (s)."""
        if self.jobs < 1:
            return 0.0
        return math.fsum(self.stages()) + (self.jobs - 1) * max(self.stages(steady=True))


def _jobs(summary: Mapping[str, float], layer: str) -> int:
    settings = max(summary_value(summary, layer, "program", "settings"), summary_value(summary, layer, "mvm", "settings"))
    if settings:
        return max(1, int(round(settings)))
    busy = any(summary_value(summary, layer, k, n) for k, n in (("mvm", "vectors"), ("program", "settles"),
                                                        ("digital", "flops")))
    return 1 if busy else 0


def layer_stage_times(summary: Mapping[str, float], layer: str, spec: Spec) -> StageTimes:
    """Stage busy times of one described layer (see :class:`StageTimes`)."""
    g = lambda kind, name: summary_value(summary, layer, kind, name)  # noqa: E731
    settles, vectors, tiles = g("program", "settles"), g("mvm", "vectors"), g("info", "tiles")
    dac_load = 0.0
    if isinstance(spec, PhotonicCostSpec):
        if spec.weight_mode == "held":
            # knob values of all tiles load in parallel, knob_dacs_per_tile channels per tile
            per_tile = _knob_writes(summary, layer) / max(tiles, 1.0)
            dac_load = per_tile / spec.knob_dacs_per_tile * spec.t_knob_dac_ns * NS
            t_prog = settles * spec.t_settle_s + dac_load
        else:   # electro-optic, re-driven every clock: no settle
            t_prog = 0.0
        t_stream = vectors / (spec.f_mod_ghz * 1e9)
    else:
        t_prog = settles * g("info", "tile_rows") * spec.t_write_s
        if spec.input_mode == "pwm":
            t_stream = vectors * spec.t_pwm_ns * NS
        elif spec.input_mode == "pulse_train":   # 2^b − 1 unit-pulse slots per vector
            t_stream = vectors * _pulse_slots(g("info", "dac_bits")) * spec.t_read_s
        else:
            t_stream = vectors * g("info", "dac_bits") * spec.t_read_s
    conv = g("mvm", "adc_conversions")
    jobs = _jobs(summary, layer)
    t_conv = t_busy = 0.0
    if conv:
        n_adcs = adc_count(summary, layer, spec)
        if n_adcs < 1:
            raise ValueError(f"layer {layer!r} has {conv:g} ADC conversions but no ADCs "
                             "(info.tiles or info.tile_cols is 0); allowed: tiles, tile_cols >= 1")
        t_busy = conv / n_adcs * spec.t_adc_conv_s
        t_conv = _conversion_tail(t_busy, t_stream, vectors, jobs)
    t_dig = (g("mvm", "partial_sum_adds") + g("digital", "flops")) / (spec.f_digital_gflops * 1e9)
    overlapped = bool(getattr(spec, "knob_load_overlaps_stream", False)) and dac_load > 0
    return StageTimes(t_prog, t_stream, t_conv, t_dig, dac_load, jobs, overlapped, t_busy, vectors)


def _pulse_slots(bits: float) -> float:
    """Unit-pulse slots of a binary-weighted pulse train of ``bits`` bits: Σ_k 2^k = 2^b − 1."""
    return 2.0 ** int(bits) - 1.0


def _conversion_tail(t_conv_busy: float, t_stream: float, vectors: float, jobs: int) -> float:
    """ADC time (s, all jobs) left after each job's streaming ends.

    Within a job the ADCs convert vector v while vector v+1 streams (two-stage flow shop of the
    job's V vectors, per-vector times s and c): they finish c + (V − 1)·max(0, c − s) after the
    last vector has streamed. Without vectors the whole conversion time is the tail."""
    if jobs < 1:
        return t_conv_busy
    v = vectors / jobs
    if v < 1 or t_stream <= 0:
        return t_conv_busy
    c, s = t_conv_busy / jobs / v, t_stream / jobs / v
    return jobs * (c + (v - 1) * max(0.0, c - s))


def _idle(n: float, p_active_w: float, fraction: float, t_active_s: float, t_step_s: float) -> float:
    """Energy (J) of ``n`` components drawing ``fraction`` × active power outside their
    active time within the step."""
    return n * p_active_w * fraction * max(t_step_s - t_active_s, 0.0)


def _digital_energy(summary: Mapping[str, float], layer: str, spec: Spec) -> float:
    g = lambda kind, name: summary_value(summary, layer, kind, name)  # noqa: E731
    return (g("mvm", "partial_sum_adds") * spec.e_partial_sum_add_pj
            + g("digital", "flops") * spec.e_digital_pj_per_flop
            + g("digital", "bytes") * spec.e_digital_pj_per_byte) * PJ


def _photonic_energy(summary, layer, spec: PhotonicCostSpec, t: StageTimes, t_step: float):
    g = lambda kind, name: summary_value(summary, layer, kind, name)  # noqa: E731
    e = dict.fromkeys(ENERGY_COMPONENTS, 0.0)
    m: dict[str, float] = {}
    tiles, rows, cols = g("info", "tiles"), g("info", "tile_rows"), g("info", "tile_cols")
    dac, adc, vectors = g("mvm", "dac_conversions"), g("mvm", "adc_conversions"), g("mvm", "vectors")
    dac_bits, adc_bits = int(g("info", "dac_bits")), int(g("info", "adc_bits"))
    f_hz = spec.f_mod_ghz * 1e9
    # laser: link budget per tile (cost.md §1.3), on while streaming, and idle-on otherwise
    il = g("info", "optical_path_db") + spec.il_mod_db + spec.il_coupling_db
    if g("info", "laser_power_w") > 0:
        # The device models its own optical budget (its detection noise comes from this laser
        # power, hwsim/effects/detection.py): price the same power, W_el = W_opt / wall-plug.
        p_laser = g("info", "laser_power_w") / spec.laser_wpe
    elif spec.receiver_model == "shot":
        p_laser = tiles * shot_noise_laser_power_w(il, max(int(cols), 1), adc_bits, f_hz,
                                                   spec.wavelength_nm, spec.laser_wpe)
    else:
        p_laser = tiles * laser_power_w(il, max(int(rows), 1), adc_bits, spec.s_pd_dbm,
                                        spec.laser_wpe)
    busy = t.program_s + t.stream_s + t.convert_s + t.digital_s
    if busy or t_step:
        t_on = t.stream_s + spec.laser_idle_on_fraction * max(t_step - t.stream_s, 0.0)
        e["laser"] = p_laser * t_on
        m.update(laser_on_s=t_on, laser_electrical_w=p_laser, laser_optical_w=p_laser * spec.laser_wpe)
    # input DACs + modulators (one channel per tile row), active while streaming
    e_in_pj = dac_energy_pj(spec.e_dac_pj, dac_bits, spec.dac_ref_bits) + spec.e_mod_fj_per_bit * FJ / PJ
    e["modulators_dacs"] = dac * e_in_pj * PJ
    n_in_ch = tiles * rows
    t_in = dac / (n_in_ch * f_hz) if n_in_ch else 0.0
    e["converters_idle"] += _idle(n_in_ch, e_in_pj * PJ * f_hz, spec.converter_idle_fraction,
                                  t_in, t_step)
    # programming: knob DAC samples; "redriven" re-drives every shifter every clock
    shifters = tiles * count_phase_shifters(summary, layer)
    e_knob = dac_energy_pj(spec.e_knob_write_pj, int(g("info", "knob_bits")), spec.dac_ref_bits) * PJ
    e["programming"] = _knob_writes(summary, layer) * e_knob
    if spec.weight_mode == "redriven":   # one weight DAC per MZI per clock (LT photonic_MZI.py)
        e["programming"] += vectors * tiles * g("info", "mzis") * e_knob
        p_heat = 0.0
    else:
        settings, phase = g("program", "settings"), g("program", "phase_rad_sum")
        if settings and f"{layer}.program.phase_rad_sum" in summary:
            p_heat = spec.p_pi_mw * MW / math.pi * phase / settings    # P_π·φ/π per shifter
        else:
            p_heat = shifters * spec.p_hold_per_shifter_w
        if busy or t_step:
            e["holding"] = p_heat * t_step
    m["heater_w"] = p_heat
    # receivers (PD + TIA) and ADCs: per sample while active, idle fraction otherwise
    # a balanced homodyne receiver has two photodiodes per output (one TIA on their difference)
    n_pd = g("info", "photodiodes_per_output") or 1.0
    e_rx_pj = n_pd * spec.e_pd_pj + spec.e_tia_pj
    e["detection"] = adc * e_rx_pj * PJ
    n_rx = tiles * cols
    t_rx = adc / (n_rx * f_hz) if n_rx else 0.0
    # Between samples the TIA stays biased (receiver_idle_fraction); a photodiode dissipates
    # V_bias·(R·P_det + I_dark), i.e. it draws power only while light reaches it: its idle
    # energy follows the laser's off-stream duty, not a bias that is always on (dark current,
    # 25–60 nA × ~2 V ≈ 0.1 µW, is negligible). See tests/cost/test_receiver_physics.py.
    e["detection"] += _idle(n_rx, spec.e_tia_pj * PJ * f_hz, spec.receiver_idle_fraction,
                            t_rx, t_step)
    e["detection"] += _idle(n_rx, n_pd * spec.e_pd_pj * PJ * f_hz, spec.laser_idle_on_fraction,
                            t_rx, t_step)
    e_adc = adc_energy_pj(spec.e_adc_pj, adc_bits, spec.adc_ref_bits) * PJ
    e["adcs"] = adc * e_adc
    n_adcs = adc_count(summary, layer, spec)
    e["converters_idle"] += _idle(n_adcs, e_adc / spec.t_adc_conv_s, spec.converter_idle_fraction,
                                  adc / max(n_adcs, 1) * spec.t_adc_conv_s, t_step)
    e["digital"] = _digital_energy(summary, layer, spec)
    m["writes_per_cell_max"] = g("program", "writes_per_cell_max")
    m["writes_per_cell_max_total"] = g("program", "writes_per_cell_max_total")
    m["endurance_used_fraction"] = 0.0   # thermo-optic heaters do not wear out with writes
    return e, m


def _crossbar_energy(summary, layer, spec: CrossbarCostSpec, t: StageTimes, t_step: float):
    g = lambda kind, name: summary_value(summary, layer, kind, name)  # noqa: E731
    e = dict.fromkeys(ENERGY_COMPONENTS, 0.0)
    tiles = g("info", "tiles")
    dac, adc, macs = g("mvm", "dac_conversions"), g("mvm", "adc_conversions"), g("mvm", "macs")
    dac_bits, adc_bits = int(g("info", "dac_bits")), int(g("info", "adc_bits"))
    rows, cols, cells, knobs = (g("info", k) for k in ("tile_rows", "tile_cols", "cells", "knobs"))
    reads_per_mac = cells / (rows * cols) if cells and rows and cols else 1.0
    if spec.input_mode == "pwm":   # one pulse per input; cell energy ∝ pulse duration
        passes = 1
        e["modulators_dacs"] = dac * spec.e_row_drive_pj * PJ
        e["detection"] = (macs * reads_per_mac * spec.e_cell_read_fj * FJ * spec.pwm_mean_duty
                          * spec.t_pwm_ns / spec.t_read_ns)
    elif spec.input_mode == "pulse_train":
        # one read pulse per input-bit pass on the rows whose bit is 1 (duty = mean bit
        # density); the binary weight 2^k of bit k is applied by the column neuron, which
        # integrates that bit's sample 2^k times (the 2^b − 1 slots priced below), not by
        # sending 2^k pulses through the array. NeuRRAM's published input-pulse energy grows
        # linearly in input bits — 3.96, 7.73, 11.51 fJ/op at 1, 2, 3 magnitude bits (Wan et
        # al., Nature 608, 504 (2022), Fig. 12b as transcribed in mit-emze/cimloop
        # wan_nature_2022/_tests.py), not as 2^b − 1 — and cimloop's reproduction charges row
        # drivers and cells once per input bit (arch.yaml: cim_unit / row_drivers per
        # ENCODED_INPUT_BITS) and the 2^n − 1 steps to the integrator only
        # (helper_functions.py bits2integration_steps).
        passes = dac_bits
        pulses = spec.pwm_mean_duty * dac_bits
        e["modulators_dacs"] = dac * pulses * spec.e_row_drive_pj * PJ
        e["detection"] = macs * reads_per_mac * pulses * spec.e_cell_read_fj * FJ
    else:                          # dac_bits 1-bit passes
        passes = dac_bits
        e["modulators_dacs"] = dac * dac_bits * spec.e_row_drive_pj * PJ
        e["detection"] = macs * reads_per_mac * dac_bits * spec.e_cell_read_fj * FJ
    cells_per_knob = tiles * cells / knobs if cells and knobs else 1.0
    e["programming"] = _knob_writes(summary, layer) * cells_per_knob * spec.e_write_pj * PJ
    e_adc = adc_energy_pj(spec.e_adc_pj, adc_bits, spec.adc_ref_bits) * PJ
    e["adcs"] = adc * e_adc
    n_adcs = adc_count(summary, layer, spec)
    e["converters_idle"] = _idle(n_adcs, e_adc / spec.t_adc_conv_s, spec.converter_idle_fraction,
                                 adc / max(n_adcs, 1) * spec.t_adc_conv_s, t_step)
    # column readout (current-to-voltage + bias) per column: on while reading, idle fraction else
    n_cols = tiles * cols
    p_col = spec.p_column_uw * 1e-6
    e["peripherals"] = n_cols * p_col * (t.stream_s + spec.converter_idle_fraction
                                         * max(t_step - t.stream_s, 0.0))
    # integrating column neurons: one per ADC conversion (output value), per input-bit pass
    # (wordline toggle + sample) and per unit-pulse slot integrated (NeuRRAM, Wan et al. 2022)
    slots = _pulse_slots(dac_bits) if spec.input_mode == "pulse_train" else 0.0
    e["peripherals"] += adc * (passes * spec.e_pass_per_column_pj
                               + slots * spec.e_integrate_step_pj) * PJ
    e["digital"] = _digital_energy(summary, layer, spec)
    w_step, w_total = g("program", "writes_per_cell_max"), g("program", "writes_per_cell_max_total")
    m = {"writes_per_cell_max": w_step, "writes_per_cell_max_total": w_total,
         "pulses_per_cell_max_total": w_total * spec.pulses_per_write,
         "endurance_used_fraction": w_total * spec.pulses_per_write / spec.endurance_cycles}
    return e, m


def _default_digital_spec(specs: Mapping[str, Spec]) -> Spec:
    return next(iter(specs.values()))     # the first kind's (photonic before crossbar)


def _section(kind: str) -> str:
    """The cost-spec section pricing a device kind (``hwsim.kinds``)."""
    from ..kinds import kind_or_none
    k = kind_or_none(kind)
    return k.cost_section if k is not None else kind


def plan_layers(summary: Mapping[str, float], specs: Mapping[str, Spec]):
    """Per entry: (name, spec or None for host-only entries, StageTimes)."""
    if not specs:
        raise ValueError("spec_by_device is empty; allowed: a PhotonicCostSpec and/or "
                         "a CrossbarCostSpec")
    described, others = _layers(summary)
    # trace order within the step (first event of each layer); undated layers keep their place
    first = {layer: min((summary[k] for k in summary if k.startswith(f"{layer}.")
                         and k.endswith(".first_index")), default=math.inf)
             for layer in described}
    described = sorted(described, key=lambda layer: first[layer])
    plan = []
    for layer in described:
        dev = _section(layer_kind(summary, layer))
        if dev not in specs:
            raise ValueError(f"layer {layer!r} is a {dev} layer but no spec for {dev!r} was "
                             f"given; allowed: pass its cost spec (sections: {', '.join(specs)})")
        plan.append((layer, specs[dev], layer_stage_times(summary, layer, specs[dev])))
    # host work and the host floor: the spec of the step's first device layer (a crossbar
    # run with both specs given is not priced with the photonic host), else the default
    dspec = plan[0][1] if plan else _default_digital_spec(specs)
    for layer in others:
        for kind in ("program", "mvm"):
            if any(k.startswith(f"{layer}.{kind}.") for k in summary):
                raise ValueError(f"layer {layer!r} has {kind} events but no info entry; "
                                 "allowed: only digital events for undescribed layers")
        flops = summary_value(summary, layer, "digital", "flops")
        t_dig = flops / (dspec.f_digital_gflops * 1e9)
        plan.append((layer, None, StageTimes(0.0, 0.0, 0.0, t_dig, 0.0, 1 if flops else 0)))
    return plan, dspec


def assemble_report(summary, plan, dspec: Spec, latencies: Mapping[str, Mapping[str, float]],
              t_step: float) -> dict[str, CostReport]:
    """Reports per entry, given each entry's latency components and the step latency."""
    reports = {}
    for layer, spec, t in plan:
        lat = dict(latencies[layer])
        macs = summary_value(summary, layer, "mvm", "macs")
        conv = summary_value(summary, layer, "mvm", "adc_conversions")
        if spec is None:
            e = dict.fromkeys(ENERGY_COMPONENTS, 0.0)
            e["digital"] = _digital_energy(summary, layer, dspec)
            m: dict[str, float] = {}
            mode = "held"
        elif isinstance(spec, PhotonicCostSpec):
            e, m = _photonic_energy(summary, layer, spec, t, t_step)
            mode = spec.weight_mode
        else:
            e, m = _crossbar_energy(summary, layer, spec, t, t_step)
            mode = "held"
        reports[layer] = CostReport(e, lat, macs, conv, mode, m)
    # host floor, once per step (booked on the "host" entry, created if absent)
    host = reports.get("host") or CostReport(dict.fromkeys(ENERGY_COMPONENTS, 0.0),
                                             dict.fromkeys(LATENCY_COMPONENTS, 0.0))
    e = dict(host.energy_j)
    e["host_static"] = e.get("host_static", 0.0) + dspec.p_host_static_w * t_step
    reports["host"] = CostReport(e, host.latency_s, host.macs, host.conversions,
                                 host.weight_mode, {**host.metrics, "t_step_s": t_step})
    return reports


def independent_stages(summary: Mapping[str, float], layer: str) -> bool:
    return summary_value(summary, layer, "dependency", "independent") > 0


def schedule(summary: Mapping[str, float], plan, makespan=None
             ) -> tuple[dict[str, dict[str, float]], float, dict[str, float]]:
    """When each entry of the step runs, as the trace's dependencies allow.

    Described layers follow the forward chain in trace order. A dependent layer (the default)
    starts after the previous layer's work and holds the chain for its whole pipeline; an
    independent one (``"<layer>.dependency.independent"``, local losses from clean readouts)
    holds the chain only for its first job (the clean readout the next layer needs) and runs
    its remaining jobs on its own tiles while the chain moves on. The device part ends when the
    chain and every layer have finished; host-only entries then run one after another.

    Args:
        plan: ``plan_layers`` output entries (name, spec or None, StageTimes).
        makespan: optional ``f(name, StageTimes) -> s`` (the DES passes its own); default the
            flow-shop bound.

    Returns:
        (latency components per entry — non-zero only on the critical path, so that they sum
        to the step latency —, step latency in s, finish time in s per entry).
    """
    span = makespan or (lambda _name, t: t.makespan_s)
    chain, finish, path = 0.0, {}, []
    crit_end, crit_path = 0.0, []
    for layer, spec, t in plan:
        if spec is None:
            continue
        total = span(layer, t)
        end = chain + total
        if independent_stages(summary, layer) and t.jobs > 1:
            clean = t.first(1)
            if end > crit_end:
                crit_end, crit_path = end, path + [(layer, t.critical_path())]
            path.append((layer, clean.critical_path()))
            chain += span(layer, clean)
        else:
            path.append((layer, t.critical_path()))
            chain = end
        finish[layer] = end
    if chain >= crit_end:
        crit_end, crit_path = chain, path
    lat = {layer: dict.fromkeys(LATENCY_COMPONENTS, 0.0) for layer, _, _ in plan}
    for layer, comp in crit_path:
        lat[layer] = comp
    t = crit_end
    for layer, spec, st in plan:
        if spec is None:
            lat[layer] = st.critical_path()
            t += span(layer, st)
            finish[layer] = t
    return lat, t, finish


def price_layers(summary: Mapping[str, float], spec_by_device: SpecArg) -> dict[str, CostReport]:
    """Per-layer reports of one step (static terms use the whole step's latency); the host
    floor is booked on ``"host"``. Latency components are the step's critical path
    (:func:`schedule`), booked on the entries that lie on it."""
    plan, dspec = plan_layers(summary, resolve_specs(spec_by_device))
    lat, t_step, _ = schedule(summary, plan)
    return assemble_report(summary, plan, dspec, lat, t_step)


def sum_reports(reports: Iterable[CostReport]) -> CostReport:
    reports = list(reports)
    mode = next((r.weight_mode for r in reports if r.macs), reports[0].weight_mode if reports
                else "held")
    total = CostReport(dict.fromkeys(ENERGY_COMPONENTS, 0.0),
                       dict.fromkeys(LATENCY_COMPONENTS, 0.0), 0.0, 0.0, mode)
    for r in reports:
        total = total + CostReport(r.energy_j, r.latency_s, r.macs, r.conversions, mode, r.metrics)
    return total


def price(summary: Mapping[str, float], spec_by_device: SpecArg) -> CostReport:
    """Price one step summary (``hwsim.trace.summarize`` output).

    Args:
        summary: flat ``"<layer>.<kind>.<field>"`` dict of one step.
        spec_by_device: a spec, ``{"mzi": PhotonicCostSpec, "crossbar": CrossbarCostSpec}``
            or an iterable of specs; each described layer is priced with the spec of its kind
            (``info.kind_<kind>``, older summaries ``info.is_mzi``); digital events of undescribed layers and the host floor use
            the spec of the first described layer (the photonic spec if there is none).

    Returns:
        CostReport with energy (J) per ``ENERGY_COMPONENTS``, latency (s) per
        ``LATENCY_COMPONENTS`` (the pipeline bound's critical path) and ``metrics``.
    """
    return sum_reports(price_layers(summary, spec_by_device).values())


def held_weight_pj_per_mac(n: int, il_mzi_db: float, bits: int,
                           spec: PhotonicCostSpec) -> float:
    """Held-weight E/MAC (pJ) of one N×N SVD-mesh core (cost.md §4.2), via :func:`price`.

    E/MAC = (N·(E_DAC + E_MZM) + N·(E_ADC + E_TIA + E_PD) + P_laser/f) / N², heater holding
    excluded; path IL = IL_MZI·(2N + 1) (LT ``cal_insertion_loss``) + modulator IL + coupling.
    The laser is charged for the streaming symbol only (``laser_idle_on_fraction`` = 0).
    """
    from dataclasses import replace
    spec = replace(spec, laser_idle_on_fraction=0.0, converter_idle_fraction=0.0,
                   receiver_idle_fraction=0.0)
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

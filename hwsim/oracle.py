"""The oracle boundary between device models and training algorithms.

A device is programmed with knob values and queried with inputs. It answers with what a real
chip would let you measure: detached, noisy, quantized tensors. Algorithms only ever see an
:class:`Oracle` (in practice a :class:`TracingOracle`, which records every call in a
:class:`~hwsim.trace.Trace`); they never see the device's true weights or an autograd graph.

Shapes: knob tensors have the shape given by their :class:`KnobSpec` with an optional leading
perturbation dimension ``P``; inputs are ``(B, n_in)`` or ``(P, B, n_in)``; outputs are always
``(P, B, n_out)`` (``P = 1`` when the knobs carried no perturbation dimension).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Protocol, runtime_checkable

import numpy as np

from .trace import DigitalEvent, Event, LayerInfo, Trace

from hwsim.lazy import LazyModule, torch

# numba kernels, compiled-code loading and numba itself on first use (cold start)
counting = LazyModule("hwsim.counting")

__all__ = ["KnobSpec", "Programmed", "Oracle", "CapableOracle", "TracingOracle", "check_knobs",
           "check_input", "CAPABILITIES", "MissingCapability", "device_capabilities"]

#: Optional device capabilities (design.md "The oracle contract"). ``nominal``: the design-level
#: differentiable map knobs → matrix, without hidden per-device errors or noise (for the MZI and
#: crossbar devices: their ``digital_twin``, which ignores every effect); ``calibrate``: estimate
#: hidden static errors from forward queries only (traced); ``adjoint``: in-situ backpropagation
#: by forward, adjoint and interference passes read by power monitors (meshes with monitors,
#: ``hwsim.photonic.adjoint``; traced as device work).
CAPABILITIES = ("nominal", "calibrate", "adjoint")


class MissingCapability(ValueError):
    """An algorithm asked a device for an optional capability it does not declare."""


@dataclass(frozen=True)
class KnobSpec:
    """Name, shape, range and unit of one programmable knob tensor.

    ``periodic`` knobs (phases) accept any finite value; the device wraps them into
    ``[low, high)``. Other knobs must lie inside ``[low, high]``.
    """

    name: str
    shape: tuple[int, ...]
    low: float
    high: float
    unit: str
    periodic: bool = False

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    def project(self, value: torch.Tensor) -> torch.Tensor:
        """Map a value into the allowed set (wrap periodic knobs, clamp the others)."""
        if self.periodic:
            span = self.high - self.low
            return torch.remainder(value - self.low, span) + self.low
        return value.clamp(self.low, self.high)

    def project_(self, value: torch.Tensor) -> torch.Tensor:
        """:meth:`project` in place on a tensor the caller owns (the same float operations)."""
        if self.periodic:
            span = self.high - self.low
            value.sub_(self.low)
            return torch.remainder(value, span, out=value).add_(self.low)
        return value.clamp_(self.low, self.high)


@dataclass(frozen=True)
class Programmed:
    """A programmed device state: ``settings`` candidate settings, opaque device state."""

    settings: int
    state: Mapping[str, Any] = field(repr=False)


@runtime_checkable
class Oracle(Protocol):
    """What an algorithm may do with a device (see ``design.md``: the oracle contract).

    The optional capabilities — ``capabilities``, ``require``, ``nominal``, ``nominal_vjp``,
    ``calibrate`` (where the device declares them, :data:`CAPABILITIES`) and ``hints``
    (technology values for algorithms, possibly empty) — are declared by
    :class:`CapableOracle`, which :class:`TracingOracle` implements; they are kept out of this
    protocol so that ``isinstance(device, Oracle)`` checks the required contract only."""

    name: str
    n_in: int
    n_out: int

    @property
    def knob_spec(self) -> Mapping[str, KnobSpec]: ...

    def info(self) -> LayerInfo: ...

    def program(self, knobs: Mapping[str, torch.Tensor],
                generator: torch.Generator | None = None) -> Programmed: ...

    def query(self, programmed: Programmed, x: torch.Tensor,
              generator: torch.Generator | None = None) -> torch.Tensor: ...

    def program_events(self, programmed: Programmed) -> list[Event]: ...

    def query_events(self, programmed: Programmed, x_shape: tuple[int, ...]) -> list[Event]: ...


class CapableOracle(Oracle, Protocol):
    """An oracle with its optional capabilities declared (what :class:`TracingOracle` offers;
    ``require`` raises :class:`MissingCapability` where the device lacks one)."""

    @property
    def capabilities(self) -> frozenset[str]: ...

    def require(self, capability: str) -> None: ...

    def nominal(self, knobs: Mapping[str, torch.Tensor]) -> torch.Tensor: ...

    def nominal_vjp(self, knobs: Mapping[str, torch.Tensor],
                    cotangent: torch.Tensor) -> dict[str, torch.Tensor]: ...

    def calibrate(self, *args, generator: torch.Generator | None = None, **kwargs) -> Any: ...

    def adjoint(self, programmed: Programmed, x: torch.Tensor, output_cotangent,
                generator: torch.Generator | None = None) -> Any: ...

    def hints(self) -> Mapping[str, float]: ...


def check_knobs(spec: Mapping[str, KnobSpec], knobs: Mapping[str, torch.Tensor],
                device_name: str) -> int:
    """Validate a knob dict against its spec; returns P (1 when no perturbation dim).

    Raises ``ValueError`` naming the knob, the value and what is allowed.
    """
    unknown = sorted(set(knobs) - set(spec))
    missing = sorted(set(spec) - set(knobs))
    if unknown or missing:
        raise ValueError(f"{device_name}: knobs must be exactly {sorted(spec)}; "
                         f"unknown {unknown}, missing {missing}")
    p_seen: int | None = None
    for name, ks in spec.items():
        t = knobs[name]
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"{device_name}: knob {name!r} must be a torch.Tensor, got {type(t).__name__}")
        shape = tuple(t.shape)
        if shape == ks.shape:
            p = 1
        elif len(shape) == len(ks.shape) + 1 and shape[1:] == ks.shape:
            p = shape[0]
            if p < 1:
                raise ValueError(f"{device_name}: knob {name!r} has an empty perturbation dimension")
        else:
            raise ValueError(f"{device_name}: knob {name!r} has shape {shape}; allowed {ks.shape} "
                             f"or (P, *{ks.shape})")
        if p != 1:   # P = 1 (or no P dimension) broadcasts against any P
            if p_seen not in (None, 1) and p != p_seen:
                raise ValueError(f"{device_name}: knob {name!r} has P={p} but another knob has "
                                 f"P={p_seen}; allowed: one P for all knobs (or 1)")
            p_seen = p
        if t.is_complex():
            raise ValueError(f"{device_name}: knob {name!r} must be real and finite")
        # one pass: min and max propagate NaN and show ±inf; a knob broadcast over P (stride 0
        # on the settings axis) holds one setting, so it is checked once, not once per copy
        v = t.detach()
        while v.dim() > len(ks.shape) and v.stride(0) == 0:
            v = v[0]
        lo, hi = (float(a) for a in torch.aminmax(v)) if v.numel() else (0.0, 0.0)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"{device_name}: knob {name!r} must be real and finite")
        if not ks.periodic:
            tol = 1e-6 * max(1.0, abs(ks.low), abs(ks.high))   # float32 rounding of the bounds
            if lo < ks.low - tol or hi > ks.high + tol:
                raise ValueError(f"{device_name}: knob {name!r} has values in [{lo:.4g}, {hi:.4g}] "
                                 f"{ks.unit}; allowed [{ks.low:.4g}, {ks.high:.4g}] {ks.unit}")
    return p_seen or 1


def check_input(x: torch.Tensor, n_in: int, settings: int, device_name: str) -> torch.Tensor:
    """Validate a query input and return it as ``(P or 1, B, n_in)``."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{device_name}: input must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 2:
        x = x.unsqueeze(0)
    if x.dim() != 3 or x.shape[-1] != n_in:
        raise ValueError(f"{device_name}: input has shape {tuple(x.shape)}; allowed (B, {n_in}) "
                         f"or (P, B, {n_in})")
    if x.shape[0] not in (1, settings):
        raise ValueError(f"{device_name}: input has P={x.shape[0]} but the device holds "
                         f"{settings} programmed settings; allowed P=1 or P={settings}")
    if x.is_complex() or not torch.isfinite(x).all():
        raise ValueError(f"{device_name}: input must be real and finite")
    return x


class TracingOracle:
    """Wraps a device, forwards ``program``/``query`` and records their events in ``trace``.

    This is the only object algorithms receive: it exposes the oracle contract and nothing
    else (no digital twin, no true weights).

    What pricing needs and only the calls reveal is derived here from what the wrapper sees
    (the device's own events are enriched, never replaced):

    * phase shifters per tile: the elements of knobs with unit ``"rad"`` / tiles;
    * per program: Σ applied phase (wrapped into [0, 2π)) → heater hold power, knob values
      changed against the value held before (per setting, in order), writes per knob element
      (this step and since creation: endurance);
    * per query: the mean full-scale signal fraction of the streamed inputs;
    * bytes moved digital↔analog (knob values to the phase/program DACs, inputs to the input
      DACs, ADC samples back) as ``DigitalEvent(role="transfer")`` of this layer.
    """

    def __init__(self, device: Oracle, trace: Trace) -> None:
        self._device = device
        self.trace = trace
        self.name = device.name
        self.n_in = device.n_in
        self.n_out = device.n_out
        info = device.info()
        rad = [n for n, ks in device.knob_spec.items() if ks.unit == "rad"]
        if not info.phase_shifters and rad and info.tiles:
            shifters = sum(device.knob_spec[n].numel for n in rad) // info.tiles
            info = replace(info, phase_shifters=shifters)
        self._info = info
        self._rad = rad
        self._last: dict[str, torch.Tensor] | None = None          # knob values held now
        self._writes_step: dict[str, torch.Tensor] | None = None   # writes per element, step
        self._writes_total: dict[str, torch.Tensor] | None = None  # writes per element, ever
        self._step_seen = -1
        trace.describe(info)

    @property
    def knob_spec(self) -> Mapping[str, KnobSpec]:
        return self._device.knob_spec

    def info(self) -> LayerInfo:
        return self._device.info()

    def _write_stats(self, knobs: Mapping[str, torch.Tensor], settings: int) -> dict:
        """Phase sum, knobs changed and writes per cell of one ``program`` call.

        Works per knob tensor without broadcasting P-free knobs to P copies (a knob without a
        perturbation dimension is written once and then held: it changes at most at setting 0).
        """
        spec = self._device.knob_spec
        if self._last is None:
            self._last = {}
            self._writes_total = {n: torch.zeros(ks.numel, dtype=torch.int32)
                                  for n, ks in spec.items()}
        step = self.trace.step_index
        if self._writes_step is None or step != self._step_seen:
            self._writes_step = {n: torch.zeros(ks.numel, dtype=torch.int32)
                                 for n, ks in spec.items()}
            self._step_seen = step
        phase, changed_total = 0.0, 0
        for name, ks in spec.items():
            t = knobs[name].detach().reshape(-1, ks.numel)              # (1 or P, K)
            fast = t.device.type == "cpu" and t.dtype == torch.float32   # one-pass kernels
            if name in self._rad:   # heaters only add phase: power ∝ φ mod 2π
                wrapped = (counting.wrapped_sum(np.ascontiguousarray(t.numpy()), 2 * math.pi) if fast else
                           float(torch.remainder(t, 2 * math.pi).sum(dtype=torch.float64)))
                phase += wrapped * (settings // t.shape[0])
            prev = self._last.get(name)
            first = torch.ones(ks.numel, dtype=torch.bool) if prev is None else torch.ne(t[0], prev)
            per_cell = first.to(torch.int32)
            if t.shape[0] > 1 and fast:
                counting.count_changes(np.ascontiguousarray(t.numpy()), per_cell.numpy())
            elif t.shape[0] > 1:
                per_cell += torch.ne(t[1:], t[:-1]).sum(dim=0, dtype=torch.int32)
            self._last[name] = t[-1].clone()
            self._writes_step[name] += per_cell
            self._writes_total[name] += per_cell
            changed_total += int(per_cell.sum())
        return {"knobs_changed": changed_total, "phase_rad_sum": phase,
                "writes_per_cell_max": max(int(w.max()) for w in self._writes_step.values()),
                "writes_per_cell_max_total": max(int(w.max()) for w in self._writes_total.values())}

    def _transfer(self, samples: int, bits: int) -> None:
        if samples:
            self.trace.record(DigitalEvent(layer=self.name, flops=0, role="transfer",
                                           bytes=int(samples) * math.ceil(bits / 8)))

    def program(self, knobs: Mapping[str, torch.Tensor],
                generator: torch.Generator | None = None) -> Programmed:
        programmed = self._device.program(knobs, generator)
        stats = self._write_stats(knobs, programmed.settings)
        for ev in self._device.program_events(programmed):
            if ev.kind == "program" and ev.layer == self.name:
                ev = replace(ev, **stats)
                self.trace.record(ev)
                self._transfer(ev.knobs_written, self._info.knob_bits)
            else:
                self.trace.record(ev)
        return programmed

    def query(self, programmed: Programmed, x: torch.Tensor,
              generator: torch.Generator | None = None, *,
              time_s: float | None = None) -> torch.Tensor:
        """Query the device; ``time_s`` (s since programming) reaches the device's clock (drift,
        1/f noise) when given, else the device uses its own default read time."""
        y = (self._device.query(programmed, x, generator) if time_s is None
             else self._device.query(programmed, x, generator, time_s=time_s))
        with torch.no_grad():
            xx = x.detach().float().reshape(-1, x.shape[-1]) ** 2
            peak = xx.max(dim=-1).values
            frac = torch.where(peak > 0, xx.mean(dim=-1) / peak.clamp_min(1e-300), 0.0)
            reps = programmed.settings if x.dim() == 2 or x.shape[0] == 1 else 1
            signal = float(frac.sum()) * reps
        for ev in self._device.query_events(programmed, tuple(x.shape)):
            if ev.kind == "mvm" and ev.layer == self.name:
                ev = replace(ev, signal_fraction_sum=signal)
                self.trace.record(ev)
                self._transfer(ev.dac_conversions, self._info.dac_bits)
                self._transfer(ev.adc_conversions, self._info.adc_bits)
            else:
                self.trace.record(ev)
        return y

    # ------------------------------------------------------------------ optional capabilities
    @property
    def capabilities(self) -> frozenset[str]:
        """Optional capabilities the wrapped device declares (a subset of ``CAPABILITIES``)."""
        return device_capabilities(self._device)

    def require(self, capability: str) -> None:
        if capability not in self.capabilities:
            raise MissingCapability(f"device {self.name!r} lacks capability {capability!r} "
                                    f"(it declares {sorted(self.capabilities) or 'none'})")

    def hints(self) -> dict[str, float]:
        """Technology values of the device's kind for algorithms (``hwsim.kinds``: datasheet
        write noise, tuned ZO step sizes, …); a device may declare its own ``hints()``.
        Never hidden per-device values."""
        own = getattr(self._device, "hints", None)
        if callable(own):
            return dict(own())
        from .kinds import kind_or_none
        k = kind_or_none(self._info.device)
        return dict(k.hints) if k is not None else {}

    def nominal(self, knobs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Design-level matrix (n_out, n_in) for one knob setting; differentiable, no hidden
        errors.

        Nothing here reads a device's hidden static errors or noise: it is what the chip's
        designer knows (Clements/SVD layout for a mesh, the differential mapping for a crossbar).
        """
        self.require("nominal")
        return self._device.digital_twin(dict(knobs))

    def nominal_knobs(self, weight: torch.Tensor) -> dict[str, torch.Tensor]:
        """Design-level knobs that encode ``weight`` (n_out, n_in): the inverse of
        :meth:`nominal` (for a mesh: block SVD + Clements decomposition), what the designer
        programs to ask for a matrix; no hidden errors are read (the ``nominal`` capability)."""
        self.require("nominal")
        inverse = getattr(self._device, "knobs_from_weight", None)
        if not callable(inverse):
            raise MissingCapability(f"device {self.name!r} has no design-level weight → knob "
                                    "map; allowed: a device with knobs_from_weight")
        return inverse(weight)

    def nominal_vjp(self, knobs: Mapping[str, torch.Tensor], cotangent: torch.Tensor
                    ) -> dict[str, torch.Tensor]:
        """Jᵀ c of the nominal map at ``knobs``: cotangent (n_out, n_in), or (P, n_out, n_in) for
        P cotangents at once (vectorised, one forward of the map) → one tensor per knob.

        The knob cotangents have the knobs' shapes (with the leading P) and units of
        1/knob-unit; host arithmetic only (no device query is made or recorded).
        """
        from torch.func import vjp, vmap   # the nominal map is a host-side design model

        self.require("nominal")
        names = sorted(knobs)
        prim = tuple(knobs[n].detach().float() for n in names)
        _, pull = vjp(lambda *t: self._device.digital_twin(dict(zip(names, t))), *prim)
        c = cotangent.to(prim[0].dtype)
        grads = pull(c) if c.dim() == 2 else vmap(pull)(c)
        return dict(zip(names, (g.detach() for g in grads)))

    def calibrate(self, *args, generator: torch.Generator | None = None, **kwargs):
        """Forward-query calibration of hidden static errors, where the device declares it."""
        self.require("calibrate")
        return self._device.calibrate(self, *args, generator=generator, **kwargs)

    def adjoint(self, programmed: Programmed, x: torch.Tensor, output_cotangent,
                generator: torch.Generator | None = None):
        """Measured ∂L/∂knobs from forward, adjoint and sum passes (3 passes per sample, traced),
        where the device declares ``adjoint``; ``output_cotangent`` maps measured output powers to
        (∂ℓ/∂P, ℓ) on the host."""
        self.require("adjoint")
        return self._device.adjoint(self, programmed, x, output_cotangent, generator=generator)


# --------------------------------------------------------------------------- capabilities
def device_capabilities(device: Any) -> frozenset[str]:
    """Capabilities a bare device offers: its declared ones, ``nominal`` where it has a
    ``digital_twin``, ``calibrate`` where it has a ``calibrate`` method."""
    caps = set(getattr(device, "capabilities", ()) or ())
    if callable(getattr(device, "digital_twin", None)):
        caps.add("nominal")   # digital_twin ignores every effect: exactly the design-level map
    if callable(getattr(device, "calibrate", None)):
        caps.add("calibrate")
    return frozenset(caps)

"""A whole photonic neural network as one device: L unitary MZI meshes on N modes with a
nonlinearity between them and photodiodes on the last layer's outputs.

Two published chips are this device with different settings (presets in
``hwsim/photonic/network_presets.py``):

* Pai et al., Science 380, 398 (2023), doi:10.1126/science.ade8450 — a three-layer, four-port
  network of triangular (Reck) meshes; the nonlinearity is measured electronically: each layer's
  output powers are read, |y| = √P is re-injected into the next layer (authors' code
  ``solgaardlab/phox`` ``phox/apps/onn.py``: ``Tri(4, activation=jnp.abs)`` × 3). The chip has a
  power monitor at every phase shifter, which is what makes in-situ backpropagation possible
  (the ``adjoint`` capability, :mod:`hwsim.photonic.adjoint`).
* FICONN (Bandyopadhyay et al., Nat. Photon. 2024, arXiv:2208.01623) — three 6×6 Clements units
  with an optical NOFU (:mod:`hwsim.effects.nofu`) on every mode between them; no monitors.

Mesh convention (devices.md §1–2): every MZI is external phase φ on its upper input, 50:50
coupler B = (1/√2)[[1, i], [i, 1]], internal phase θ on the upper arm, coupler; after the MZIs an
output screen γ_j on every mode. MZIs follow the topology order of :mod:`.topology`; phases of a
layer are one vector [θ (M), φ (M), γ (N)] (M = N(N−1)/2), the order of ``MZIMeshLayer``.

Units: x is a real amplitude per mode (B, N); a unit amplitude carries ``unit_power_w`` watts.
Readouts are powers in units of that unit power (|y|² for the ideal mesh), so an ideal query of
the abs network equals the twin's |U₃|U₂|U₁x||||² exactly.

Non-idealities (each sampled at its stage, design.md):
  fabrication  ``phase_error_rad``: static phase error of every shifter left after calibration;
               ``shifter_loss_db_std``: random excess loss per shifter (dB, Gaussian).
  program      ``phase_bits``: phase DAC rounding on [0, 2π).
  query        ``phase_noise_rad``: phase jitter redrawn every query; ``io_amp_error`` /
               ``io_phase_error``: relative amplitude error and phase error (× π rad) of every
               field injected into or measured coherently out of the chip (authors'
               ``photonicbackprop`` ``mnist/mnist_insitu_train.py`` ``get_noisy_input`` /
               ``get_noisy_meas``); ``monitor_noise`` / ``readout_noise``: K of
               P̂ = P + √(K·P)·n on the monitor (tap photodiode) / output-detector powers
               normalised to the pass's injected power (same script: ``poiss_K``, applied there
               to the monitor powers);
               ``input_bits`` / ``adc_bits``: input DAC and readout ADC (FICONN).

Shapes: knobs "phases" (L, N²) rad periodic; with the NOFU nonlinearity also "nofu_beta"
(L−1, N) in [0, 1] and "nofu_bias" (L−1, N) rad periodic; a leading P programs P settings.
query: x (B, N) or (P, B, N) → output powers (P, B, N), detached.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import torch

from ..effects.nofu import NOFU, nofu_transfer
from ..effects.validate import require_int, require_nonnegative, require_positive
from ..oracle import KnobSpec, Programmed, check_input, check_knobs
from ..trace import Event, LayerInfo, MvmEvent, ProgramEvent
from .topology import TOPOLOGIES, build_topology

__all__ = ["MeshNetworkConfig", "MeshNetwork", "NONLINEARITIES", "mesh_ops", "propagate",
           "layer_maps", "LayerMaps"]

NONLINEARITIES = ("abs-measured", "nofu")
_SQRT_HALF = 1.0 / math.sqrt(2.0)


@dataclass(frozen=True)
class MeshNetworkConfig:
    """Settings of a mesh network (see the module docstring for every field's meaning)."""

    modes: int = 4
    layers: int = 3
    mesh: str = "reck"
    nonlinearity: str = "abs-measured"
    monitors: bool = True
    unit_power_w: float = 1e-3
    phase_error_rad: float = 0.0
    shifter_loss_db_std: float = 0.0
    phase_bits: int = 0            # 0: continuous phases
    phase_noise_rad: float = 0.0
    io_amp_error: float = 0.0
    io_phase_error: float = 0.0
    monitor_noise: float = 0.0
    readout_noise: float = 0.0
    input_bits: int = 0            # 0: ideal input modulators
    adc_bits: int = 0              # 0: ideal readout
    nofu: NOFU | None = None

    def __post_init__(self) -> None:
        o = "MeshNetworkConfig"
        require_int(o, "modes", self.modes, 2, 64)
        require_int(o, "layers", self.layers, 1, 16)
        if self.mesh not in TOPOLOGIES:
            raise ValueError(f"{o}.mesh = {self.mesh!r}; allowed: {', '.join(TOPOLOGIES)}")
        if self.nonlinearity not in NONLINEARITIES:
            raise ValueError(f"{o}.nonlinearity = {self.nonlinearity!r}; allowed: "
                             f"{', '.join(NONLINEARITIES)}")
        if self.nonlinearity == "nofu" and self.nofu is None:
            raise ValueError(f"{o}.nofu = None with nonlinearity 'nofu'; allowed: a NOFU(...)")
        if self.nonlinearity == "nofu" and self.monitors:
            raise ValueError(f"{o}.monitors = True with nonlinearity 'nofu'; allowed: monitors "
                             "only on measured-nonlinearity networks (the adjoint needs the "
                             "error field re-injected at every layer's output)")
        require_positive(o, "unit_power_w", self.unit_power_w)
        for f in ("phase_error_rad", "shifter_loss_db_std", "phase_noise_rad", "io_amp_error",
                  "io_phase_error", "monitor_noise", "readout_noise"):
            require_nonnegative(o, f, getattr(self, f))
        for f in ("phase_bits", "input_bits", "adc_bits"):
            require_int(o, f, getattr(self, f), 0, 32)


def mesh_ops(topology) -> list[tuple[str, int, int]]:
    """The mesh as elementary operations in propagation order: ("ps", mode, phase index) and
    ("bs", upper mode, -1). Phase indices follow [θ (M), φ (M), γ (N)]."""
    m_count, ops = topology.n_mzis, []
    for i in range(m_count):
        m = int(topology.upper_mode[i])
        ops += [("ps", m, m_count + i), ("bs", m, -1), ("ps", m, i), ("bs", m, -1)]
    ops += [("ps", j, 2 * m_count + j) for j in range(topology.n)]
    return ops


def propagate(modes: list[torch.Tensor], ops, transmission: torch.Tensor, *, reverse: bool = False,
              record: bool = False):
    """Send a field through one mesh. ``modes``: N complex tensors (...); ``transmission``:
    complex (..., N²) per-shifter factor a_k e^{iφ_k}. Reverse = the reciprocal backward pass
    (each element's transpose in reverse order: screens are diagonal and B is symmetric).
    Returns (modes out, complex fields at the shifters (..., N²) when ``record``, else None);
    the field at a shifter is read just after it in the direction of travel (its power is the
    same on either side). Out-of-place: differentiable."""
    modes = list(modes)
    fields = [None] * transmission.shape[-1] if record else None
    for kind, m, k in (reversed(ops) if reverse else ops):
        if kind == "ps":
            modes[m] = modes[m] * transmission[..., k]
            if record:
                fields[k] = modes[m]
        else:
            a, b = modes[m], modes[m + 1]
            modes[m], modes[m + 1] = (a + 1j * b) * _SQRT_HALF, (1j * a + b) * _SQRT_HALF
    return modes, (torch.stack(fields, dim=-1) if record else None)


@dataclass(frozen=True)
class LayerMaps:
    """Linear maps of one programmed layer (P settings), from propagating the N basis fields:
    forward: y = x @ out (P, N, N); fields at the shifters f = x @ at_shifters (P, N, N²);
    backward (error e injected at the outputs): x_adj = e @ back_out (P, N, N) = e @ Uᵀ,
    fields at the shifters b = e @ back_at_shifters (P, N, N²)."""

    out: torch.Tensor
    at_shifters: torch.Tensor
    back_out: torch.Tensor
    back_at_shifters: torch.Tensor


def layer_maps(ops, transmission: torch.Tensor, n: int, *, backward: bool = True) -> LayerMaps:
    """:class:`LayerMaps` of a mesh with per-shifter factors ``transmission`` (P, N²)."""
    eye = torch.eye(n, dtype=transmission.dtype).expand(transmission.shape[0], n, n)
    t = transmission.unsqueeze(1)                                    # (P, 1, N²)
    out, at = propagate(list(eye.unbind(-1)), ops, t, record=True)
    if not backward:
        return LayerMaps(torch.stack(out, -1), at, None, None)
    bout, bat = propagate(list(eye.unbind(-1)), ops, t, reverse=True, record=True)
    return LayerMaps(torch.stack(out, -1), at, torch.stack(bout, -1), bat)


def _quantize_unit(x: torch.Tensor, bits: int, full_scale: float) -> torch.Tensor:
    """Uniform b-bit quantizer on [0, full_scale] (inputs are non-negative amplitudes)."""
    if bits <= 0:
        return x
    step = full_scale / (2 ** bits - 1)
    return torch.round(x.clamp(0.0, full_scale) / step) * step


class MeshNetwork:
    """Oracle for a whole mesh network (module docstring); capability ``adjoint`` when the
    network has power monitors and a measured nonlinearity."""

    def __init__(self, config: MeshNetworkConfig | None = None, *, seed: int = 0,
                 name: str = "meshnet") -> None:
        self.config = c = config or MeshNetworkConfig()
        self.name = name
        self.n_in = self.n_out = c.modes
        self.topology = build_topology(c.mesh, c.modes)
        self.ops = mesh_ops(self.topology)
        self.n_phases = c.modes ** 2
        spec = {"phases": KnobSpec("phases", (c.layers, self.n_phases), 0.0, 2 * math.pi, "rad",
                                   periodic=True)}
        if c.nonlinearity == "nofu":
            spec["nofu_beta"] = KnobSpec("nofu_beta", (c.layers - 1, c.modes), 0.0, 1.0, "1")
            spec["nofu_bias"] = KnobSpec("nofu_bias", (c.layers - 1, c.modes), 0.0, 2 * math.pi,
                                         "rad", periodic=True)
        self._spec = spec
        gen = torch.Generator().manual_seed(seed)
        shape = (c.layers, self.n_phases)
        self._phase_error = torch.randn(shape, generator=gen, dtype=torch.float64) * c.phase_error_rad
        loss_db = torch.randn(shape, generator=gen, dtype=torch.float64).abs() * c.shifter_loss_db_std
        self._amplitude = 10.0 ** (-loss_db / 20.0)
        self.capabilities = ("adjoint",) if (c.monitors and c.nonlinearity == "abs-measured") else ()

    def layer_device(self, index: int) -> "MeshNetwork":
        """Layer ``index`` of this chip as a device of its own: one mesh of the same fabricated
        chip (its static phase errors and shifter losses, not a fresh draw) with the same
        per-query errors, queried alone. Its readout is the layer's output powers |y|² (B, N);
        on the measured-abs network the host takes √ of them and re-injects the result into
        the next layer's device, exactly what :meth:`query` does between layers. This is the
        view of the chip that layer-local (Mono-Forward) algorithms train through; it has no
        monitors (it offers no ``adjoint``). Knobs: "phases" (1, N²)."""
        c = self.config
        if c.nonlinearity != "abs-measured":
            raise ValueError(f"layer_device: nonlinearity = {c.nonlinearity!r}; allowed: "
                             "'abs-measured' (a NOFU network has no electronic readout between "
                             "layers)")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < c.layers:
            raise ValueError(f"layer_device: index = {index!r}; allowed: an integer in "
                             f"[0, {c.layers - 1}]")
        from dataclasses import replace
        layer = MeshNetwork(replace(c, layers=1, monitors=False), seed=0,
                            name=f"{self.name}/layer{index}")
        layer._phase_error = self._phase_error[index:index + 1].clone()
        layer._amplitude = self._amplitude[index:index + 1].clone()
        return layer

    # ------------------------------------------------------------------ contract
    @property
    def knob_spec(self) -> Mapping[str, KnobSpec]:
        return self._spec

    def info(self) -> LayerInfo:
        c, t = self.config, self.topology
        return LayerInfo(self.name, "mzi", c.modes, c.modes, c.modes, c.modes, c.layers,
                         sum(ks.numel for ks in self._spec.values()), c.phase_bits or 16,
                         c.input_bits or 16, c.adc_bits or 16, optical_path_db=0.0, mzis=t.n_mzis)

    def program(self, knobs: Mapping[str, torch.Tensor],
                generator: torch.Generator | None = None) -> Programmed:
        settings = check_knobs(self._spec, knobs, self.name)
        c = self.config
        ph = knobs["phases"].detach().to(torch.float64)
        if c.phase_bits:
            step = 2 * math.pi / 2 ** c.phase_bits
            ph = torch.round(torch.remainder(ph, 2 * math.pi) / step) * step
        state: dict[str, Any] = {"phases": ph + self._phase_error}
        if c.nonlinearity == "nofu":
            state["beta"] = knobs["nofu_beta"].detach().to(torch.float64)
            state["bias"] = knobs["nofu_bias"].detach().to(torch.float64)
        return Programmed(settings, state)

    def program_events(self, programmed: Programmed) -> list[Event]:
        n = sum(ks.numel for ks in self._spec.values())
        return [ProgramEvent(self.name, programmed.settings, programmed.settings * n,
                             programmed.settings)]

    def query_events(self, programmed: Programmed, x_shape: tuple[int, ...]) -> list[Event]:
        return [self.pass_event(programmed.settings, x_shape, monitors=False)]

    def pass_event(self, settings: int, x_shape: tuple[int, ...], *, monitors: bool) -> MvmEvent:
        """One optical pass of every vector through all L layers (with monitor reads when
        ``monitors``); the measured nonlinearity re-injects every layer (L DAC/ADC rounds)."""
        c = self.config
        b = x_shape[-2] if len(x_shape) >= 2 else 1
        p = x_shape[0] if len(x_shape) == 3 and x_shape[0] > 1 else settings
        vec = p * b
        rounds = c.layers if c.nonlinearity == "abs-measured" else 1
        adc = vec * c.modes * rounds + (vec * self.n_phases * c.layers if monitors else 0)
        return MvmEvent(self.name, settings, vec, vec * c.layers * c.modes * c.modes,
                        vec * c.modes * rounds, adc, 0)

    # ------------------------------------------------------------------ physics
    def transmission(self, programmed: Programmed, layer: int,
                     generator: torch.Generator | None) -> torch.Tensor:
        """Per-shifter complex factor a_k e^{iφ_k} of one layer, shape (P, N²); the phase
        noise is redrawn per query and setting (devices.md §5.4)."""
        ph = programmed.state["phases"][..., layer, :].reshape(-1, self.n_phases)
        if self.config.phase_noise_rad:
            ph = ph + torch.randn(ph.shape, generator=generator,
                                  dtype=torch.float64) * self.config.phase_noise_rad
        return self._amplitude[layer] * torch.polar(torch.ones_like(ph), ph)

    def maps(self, programmed: Programmed, generator: torch.Generator | None, *,
             backward: bool = False) -> list[LayerMaps]:
        """One :class:`LayerMaps` per layer for this query (phase noise drawn once)."""
        return [layer_maps(self.ops, self.transmission(programmed, layer, generator),
                           self.config.modes, backward=backward)
                for layer in range(self.config.layers)]

    def io_error(self, field: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Field × (1 + σ_a n₁) e^{iπ σ_p n₂}: injection or coherent-measurement error."""
        c = self.config
        if not (c.io_amp_error or c.io_phase_error):
            return field
        n1 = torch.randn(field.shape, generator=generator, dtype=torch.float64)
        n2 = torch.randn(field.shape, generator=generator, dtype=torch.float64)
        return field * (1.0 + c.io_amp_error * n1) * torch.polar(torch.ones_like(n2),
                                                                 math.pi * c.io_phase_error * n2)

    def measure_power(self, power: torch.Tensor, injected: torch.Tensor,
                      generator: torch.Generator | None, k: float) -> torch.Tensor:
        """P̂ = P + √(K·P·P_in)·n: shot noise of strength ``k`` (K) on powers normalised to the
        pass's injected power ``injected`` (broadcastable), in the same units as ``power``."""
        if not k:
            return power
        n = torch.randn(power.shape, generator=generator, dtype=torch.float64)
        return power + torch.sqrt(k * power.clamp_min(0.0) * injected) * n

    def query(self, programmed: Programmed, x: torch.Tensor,
              generator: torch.Generator | None = None) -> torch.Tensor:
        c = self.config
        x = check_input(x, c.modes, programmed.settings, self.name).to(torch.float64)
        if c.input_bits:
            x = _quantize_unit(x, c.input_bits, 1.0)
        p = max(programmed.settings, x.shape[0])
        x = x.expand(p, *x.shape[1:])
        maps = self.maps(programmed, generator)
        if c.nonlinearity == "abs-measured":
            a = x
            for layer in range(c.layers):
                p_in = (a ** 2).sum(-1, keepdim=True)
                field = self.io_error(a.to(torch.complex128), generator)
                out = self.io_error(field @ maps[layer].out, generator)   # measured output
                power = self.measure_power(out.real ** 2 + out.imag ** 2, p_in, generator,
                                           c.readout_noise)
                a = power.clamp_min(0.0).sqrt()
            y = power
        else:
            field = x.to(torch.complex128) * math.sqrt(c.unit_power_w)
            p_in = (x ** 2).sum(-1, keepdim=True)
            for layer in range(c.layers):
                field = field @ maps[layer].out
                if layer < c.layers - 1:
                    beta = programmed.state["beta"][..., layer, :].reshape(-1, 1, c.modes)
                    bias = programmed.state["bias"][..., layer, :].reshape(-1, 1, c.modes)
                    field = nofu_transfer(field, beta, bias, c.nofu.kappa_rad_per_w)
            y = (field.real ** 2 + field.imag ** 2) / c.unit_power_w
            y = self.measure_power(y, p_in, generator, c.readout_noise)
            if c.adc_bits:
                y = _quantize_unit(y, c.adc_bits, float(c.modes))
        return y.to(torch.float32).detach()

    # ------------------------------------------------------------------ capabilities
    def adjoint(self, oracle, programmed: Programmed, x: torch.Tensor, output_cotangent,
                generator: torch.Generator | None = None):
        """In-situ backpropagation by forward, adjoint and interference passes
        (:func:`hwsim.photonic.adjoint.adjoint_gradient`); traced through ``oracle``."""
        from .adjoint import adjoint_gradient
        return adjoint_gradient(self, oracle, programmed, x, output_cotangent, generator)

    def twin_forward(self, knobs: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Ideal digital twin (design-level, no errors or noise): output powers (B, N),
        differentiable in the knobs. For labelled autograd baselines and tests only."""
        c = self.config
        x = x.to(torch.float64)
        field = x.to(torch.complex128) * (1.0 if c.nonlinearity == "abs-measured"
                                          else math.sqrt(c.unit_power_w))
        for layer in range(c.layers):
            ph = knobs["phases"][layer].to(torch.float64).reshape(1, self.n_phases)
            field = field @ layer_maps(self.ops, torch.polar(torch.ones_like(ph), ph), c.modes,
                                       backward=False).out[0]
            if layer < c.layers - 1:
                if c.nonlinearity == "abs-measured":
                    field = field.abs().to(torch.complex128)
                else:
                    field = nofu_transfer(field, knobs["nofu_beta"][layer].to(torch.float64),
                                          knobs["nofu_bias"][layer].to(torch.float64),
                                          c.nofu.kappa_rad_per_w)
        power = field.real ** 2 + field.imag ** 2
        return power if c.nonlinearity == "abs-measured" else power / c.unit_power_w

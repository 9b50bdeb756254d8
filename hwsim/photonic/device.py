"""MZI-mesh photonic layer: a real-valued W = Re(U Σ V†) per k×k block, with one electronic
gain per block, tiled over the layer.

Each k×k block is one resident photonic core (Shen et al., Nat. Photon. 11, 441 (2017),
arXiv:1610.02365; SVD layout of torchonn ``mzi_linear.py``, devices.md §3–4):

    x_q ──DAC/modulators──▶ V† mesh (Clements or Reck, k modes) ──▶ Σ row: σ_i = cos φ_i ──▶ U mesh
        ──▶ detection (homodyne Re ŷ, or intensity |ŷ|²) ──▶ ADC ──▶ × s_pq ──▶ Σ_q digitally

Per-block gain: every block's partial sum is digitised on its own, so its scale s_pq (the
block's largest singular value) is applied per block after detection: the analog core always
works at full scale (|σ| ≤ 1), and a weak block gets the same relative phase-DAC, detector and
ADC error as a strong one. Inputs are normalised per vector by α = max|x| (noise management)
unless the input DAC has a fixed range.

Effects are staged objects (:mod:`hwsim.effects.stages`); the device only calls their methods:
    fabrication  ``fabricate(layout, generator)`` once from the device seed
                 (PhaseBias, GammaSpread, BeamsplitterImbalance)
    program      the phase chain, ``program_phases(mesh, sigma, layout, fab)``, in the physical
                 order of devices.md §5.1 (class attribute ``chain_rank``): DAC (PhaseDAC or
                 ThermoOpticDAC) → γ spread → thermal crosstalk → bias
    array        ``array_terms(fab)``: insertion loss, coupler errors used by the mesh build
    query        ``query_phases`` (PhaseNoise, PhaseDrift at the time since programming),
                 ``detect`` (Detection), DetectorNoise, then the OutputADC
InputDAC and OutputADC are the converter ends of the chain.

Paths: small blocks (k ≤ 16) on the CPU take the fused numba kernels of
:mod:`hwsim.photonic.kernels` (block build, and block MVM + detection + ADC + gain + digital sum
in one pass, never forming the (P, B, p, q, k) block outputs); larger blocks and other devices
(CUDA) take the torch path (library matmul). Both consume the same per-setting random streams
and are pinned equal in tests/photonic/test_fused.py; ``layer.fused = False`` forces the torch
path. Every tensor follows the device of the knobs and inputs.

Knobs (one setting; a leading P dimension programs P settings at once):
    mesh_phases  (p, q, 2, k²)  rad, periodic. [..., 0, :] is the V† mesh, [..., 1, :] the U mesh;
                                each k² vector is [θ (k(k-1)/2), φ (k(k-1)/2), δ (k)] in the MZI
                                order of the mesh topology.
    sigma_phases (p, q, k)      rad in [0, π]; σ_i = cos φ_i (push-pull drive).
    gain         (p, q)         electronic gain s per block, dimensionless, in [1e-6, 1e6].
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .calibrate import DEFAULT_PROBE_ROWS, DEFAULT_STEP_RAD, BlockJacobian, measure_block_jacobian
from ..effects import rng
from ..effects.adc import ADCNonideality
from ..effects.beamsplitter import BeamsplitterImbalance
from ..effects.correlated import CorrelatedGamma, CorrelatedPhaseBias
from ..effects.crosstalk import ThermalCrosstalk
from ..effects.detection import Detection
from ..effects.fabrication import fabricate_all, fabrication_generator
from ..effects.phase_drift import PhaseDrift
from ..effects.loss import InsertionLoss
from ..effects.measured import MeasuredPhaseResponse
from ..effects.noise import DetectorNoise, PhaseBias, PhaseNoise
from ..effects.phase_shifter import GammaSpread, ThermoOpticDAC
from ..effects.quantize import InputDAC, OutputADC, PhaseDAC, encode_inputs
from ..effects.stages import by_stage
from ..effects.validate import check_adc_nonideality, check_effects, find_effect, require_int, require_nonnegative
from ..oracle import KnobSpec, Programmed, check_input, check_knobs
from ..trace import Event, LayerInfo, MvmEvent, ProgramEvent
from .decompose import decompose
from .layout import MeshLayout
from .mzi import loss_amplitude
from .topology import TOPOLOGIES, build_topology
from ..meaning import described, effects_field

from hwsim.lazy import LazyModule, torch

# numba kernels, compiled-code loading and numba itself on first use (cold start)
kernels = LazyModule("hwsim.photonic.kernels")
_mesh = LazyModule("hwsim.photonic.mesh")   # (parameters named mesh are phases)
phase_chain = LazyModule("hwsim.photonic.phase_chain")
ziggurat = LazyModule("hwsim.effects.ziggurat")

__all__ = ["MZIConfig", "MZIMeshLayer"]

_PHOTONIC_EFFECTS = (PhaseDAC, ThermoOpticDAC, MeasuredPhaseResponse, GammaSpread, CorrelatedGamma, ThermalCrosstalk, PhaseBias,
                     CorrelatedPhaseBias, BeamsplitterImbalance, InsertionLoss, PhaseNoise, PhaseDrift,
                     Detection, DetectorNoise)
_CONVERTERS = (InputDAC, OutputADC, ADCNonideality)
_EFFECT_TYPES = _PHOTONIC_EFFECTS + _CONVERTERS
GAIN_RANGE = (1e-6, 1e6)


@dataclass(frozen=True)
class MZIConfig:
    """Settings of an MZI-mesh layer: block size k, mesh topology ("clements" or "reck") and a
    tuple of effect objects (an absent effect is simply not modelled; at most one of each type;
    PhaseDAC and ThermoOpticDAC exclude each other)."""

    EFFECT_TYPES: ClassVar[tuple[type, ...]] = _EFFECT_TYPES

    block: int = described(
        8, "modes k of each mesh block: a layer is tiled into k×k unitary blocks", "modes")
    effects: tuple = effects_field()
    mesh: str = described("clements", "mesh topology of each block: 'clements' or 'reck'", "")

    def __post_init__(self) -> None:
        require_int("MZIConfig", "block", self.block, 2, 256)
        check_effects("MZIConfig", self.effects, _EFFECT_TYPES)
        check_adc_nonideality("MZIConfig", self.effects)
        if self.mesh not in TOPOLOGIES:
            raise ValueError(f"MZIConfig.mesh = {self.mesh!r}; allowed: {', '.join(TOPOLOGIES)}")
        dacs = [type(e).__name__ for e in self.effects
                if isinstance(e, (PhaseDAC, ThermoOpticDAC, MeasuredPhaseResponse))]
        if len(dacs) > 1:
            raise ValueError(f"MZIConfig.effects has {' and '.join(dacs)}; allowed: one phase DAC")

    def effect(self, kind: type):
        return find_effect(self.effects, kind)


class MZIMeshLayer:
    """Oracle for one real-valued linear layer ``n_in → n_out`` on tiled MZI meshes."""

    def __init__(self, n_in: int, n_out: int, config: MZIConfig | None = None, *,
                 seed: int = 0, name: str = "mzi") -> None:
        require_int("MZIMeshLayer", "n_in", n_in, 1, math.inf)
        require_int("MZIMeshLayer", "n_out", n_out, 1, math.inf)
        self.name = name
        self.n_in, self.n_out = n_in, n_out
        self.config = c = config or MZIConfig()
        k = self.k = c.block
        self.p, self.q = math.ceil(n_out / k), math.ceil(n_in / k)
        self.topology = build_topology(c.mesh, k)
        self.layout = MeshLayout(self.p, self.q, k, self.topology)
        self.n_mzi = self.topology.n_mzis
        self._dac, self._adc = c.effect(InputDAC), c.effect(OutputADC)
        # circuit ADC errors: one ADC per output and block, drawn once from a keyed stream
        self._adc_nonideal, self._adc_errors = c.effect(ADCNonideality), None
        if self._adc_nonideal is not None:
            self._adc_errors = self._adc_nonideal.draw((1, 1, self.p, self.q, k),
                                                       fabrication_generator(seed, self._adc_nonideal))
        photonic = tuple(e for e in c.effects if not isinstance(e, _CONVERTERS))
        # Fabrication stage: drawn once from the device seed, one keyed stream per effect type
        # (hwsim.effects.fabrication), so adding an effect never re-rolls another's draws.
        # (any stage: a measured shifter's per-device spread is fabricated too)
        self._fab = fabricate_all(photonic, seed, self.layout)
        self._chain = sorted((e for e in photonic if hasattr(e, "program_phases")),
                             key=lambda e: type(e).chain_rank)
        self._array = tuple(e for e in photonic if hasattr(e, "array_terms"))
        query = by_stage(photonic, "query")
        self._phase_noise = next((e for e in query if isinstance(e, PhaseNoise)), None)
        self._drift = next((e for e in query if isinstance(e, PhaseDrift)), None)
        self._detection = next((e for e in query if isinstance(e, Detection)), None)
        self._det_noise = next((e for e in query if isinstance(e, DetectorNoise)), None)
        # fused numba kernels for small blocks on the CPU; False forces the plain torch path
        self.fused = True
        # the program chain in one numba pass (hwsim.photonic.phase_chain), bit for bit the
        # effect-by-effect torch chain; False keeps the torch chain alone (benchmarks, tests)
        self.fuse_chain = True
        self._fab_cache: dict = {}
        self._coupler_cache: np.ndarray | None = None
        self._spec = {
            "mesh_phases": KnobSpec("mesh_phases", self.layout.mesh_shape, 0.0, 2 * math.pi,
                                    "rad", periodic=True),
            "sigma_phases": KnobSpec("sigma_phases", self.layout.sigma_shape, 0.0, math.pi, "rad"),
            "gain": KnobSpec("gain", (self.p, self.q), GAIN_RANGE[0], GAIN_RANGE[1], "1"),
        }

    @property
    def _bias_mesh(self) -> torch.Tensor:
        """Static bias of the mesh shifters (rad), for tests of seeding."""
        bias = self.config.effect(PhaseBias)
        return self._fab[type(bias)]["mesh"]

    # ----------------------------------------------------------------- description
    @property
    def knob_spec(self) -> dict[str, KnobSpec]:
        return self._spec

    @property
    def n_knobs(self) -> int:
        return sum(s.numel for s in self._spec.values())

    @property
    def intensity(self) -> bool:
        """True when the detectors measure |ŷ|² (the layer is then a square law, not linear)."""
        return self._detection is not None and not self._detection.coherent

    @property
    def _needs_field(self) -> bool:
        """Whether the detectors need the whole complex block field, not only Re ŷ: the shot
        noise of both homodyne and intensity detection follows the full optical power |ŷ|²."""
        return self._detection is not None

    def info(self) -> LayerInfo:
        k = self.k
        loss = self.config.effect(InsertionLoss)
        loss_db = loss.db_per_mzi if loss else 0.0
        # Worst path: the most MZIs a mode meets in each of the two meshes plus one Σ MZI.
        path_db = loss_db * (2 * int(self.topology.mzis_on_path.max()) + 1)
        phase_dac = (self.config.effect(PhaseDAC) or self.config.effect(ThermoOpticDAC)
                     or self.config.effect(MeasuredPhaseResponse))
        det = self._detection
        modulators = self.p * self.q * k
        return LayerInfo(
            layer=self.name, device="mzi", n_in=self.n_in, n_out=self.n_out, tile_rows=k,
            tile_cols=k, tiles=self.p * self.q, knobs=self.n_knobs,
            knob_bits=phase_dac.bits if phase_dac else 16,
            dac_bits=self._dac.bits if self._dac else 16,
            adc_bits=self._adc.bits if self._adc else 16,
            optical_path_db=path_db, mzis=2 * self.n_mzi + k, cells=0,
            laser_power_w=det.total_laser_power_w(modulators) if det else 0.0,
            detector_signal_power_w=det.mode_power_w(modulators) if det else 0.0,
            photodiodes_per_output=det.photodiodes_per_output if det else 1)

    # ----------------------------------------------------------------- digital side
    def _split(self, mesh: torch.Tensor):
        m = self.n_mzi
        return mesh[..., :m], mesh[..., m:2 * m], mesh[..., 2 * m:]

    def _complex_blocks(self, mesh: torch.Tensor, sig: torch.Tensor, loss_db: float = 0.0,
                        coupler_eps: torch.Tensor | None = None,
                        sigma_eps: torch.Tensor | None = None) -> torch.Tensor:
        """Block fields U diag(Σ) V† (..., p, q, k, k) from applied phases (normalised, |σ| ≤ 1)."""
        th, ph, de = self._split(mesh)
        u = _mesh.mesh_unitary(th, ph, de, self.topology, loss_db, coupler_eps)   # (..., p, q, 2, k, k)
        vdag, uu = u[..., 0, :, :], u[..., 1, :, :]
        s = self._sigma_transmission(sig, loss_db, sigma_eps).to(u.dtype)
        return (uu * s.unsqueeze(-2)) @ vdag

    @staticmethod
    def _sigma_transmission(sig: torch.Tensor, loss_db: float, sigma_eps: torch.Tensor | None) -> torch.Tensor:
        """Field transmission of the Σ MZIs (..., k): push-pull drive, coupler errors, loss."""
        amp = 10.0 ** (-loss_db / 20.0)                           # Σ attenuator is one MZI too
        return _mesh.push_pull_transmission(sig, sigma_eps) * amp      # Σ MZIs, push-pull drive

    def _assemble(self, blocks: torch.Tensor) -> torch.Tensor:
        """(..., p, q, k, k) → (..., n_out, n_in) dense matrix."""
        *lead, p, q, k, _ = blocks.shape
        w = blocks.transpose(-3, -2).reshape(*lead, p * k, q * k)
        return w[..., : self.n_out, : self.n_in]

    def digital_twin(self, knobs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Ideal weight matrix (n_out, n_in) the knobs encode (no effects); differentiable.

        For baselines only: algorithms never see this.
        """
        blocks = self._complex_blocks(knobs["mesh_phases"], knobs["sigma_phases"]).real
        gain = knobs["gain"].reshape(self.p, self.q, 1, 1)
        return self._assemble(blocks * gain)

    def knobs_from_weight(self, weight: torch.Tensor) -> dict[str, torch.Tensor]:
        """Knobs that encode ``weight`` (n_out, n_in) on the ideal device (block SVD + mesh
        decomposition); each block's gain is its largest singular value."""
        w = torch.as_tensor(weight, dtype=torch.float64)
        if tuple(w.shape) != (self.n_out, self.n_in) or not torch.isfinite(w).all():
            raise ValueError(f"{self.name}: weight has shape {tuple(w.shape)}; allowed finite "
                             f"({self.n_out}, {self.n_in})")
        k, p, q = self.k, self.p, self.q
        padded = torch.zeros(p * k, q * k, dtype=torch.float64)
        padded[: self.n_out, : self.n_in] = w
        blocks = padded.reshape(p, k, q, k).transpose(1, 2).numpy()
        u, s, vh = np.linalg.svd(blocks)                          # (p, q, k, k), (p, q, k)
        top = s.max(axis=-1)
        gain = np.where(top > 0, top, 1.0).clip(*GAIN_RANGE)
        mats = np.stack([vh, u], axis=2)                          # (p, q, 2, k, k)
        th, ph, de = decompose(mats, self.topology)
        mesh = torch.cat([th, ph, de], dim=-1)
        sig = np.arccos(np.clip(s / gain[..., None], -1.0, 1.0))
        return {"mesh_phases": mesh.float(),
                "sigma_phases": torch.tensor(sig, dtype=torch.float32),
                "gain": torch.tensor(gain, dtype=torch.float32)}

    def calibrate(self, oracle, knobs: dict[str, torch.Tensor], *,
                  generator: torch.Generator | None = None, step_rad: float = DEFAULT_STEP_RAD,
                  probe_rows: int = DEFAULT_PROBE_ROWS, indices=None,
                  subset: int | None = None) -> BlockJacobian:
        """Measure every block's ∂W/∂knob at ``knobs`` through ``oracle`` (forward queries only,
        traced there; :mod:`hwsim.photonic.calibrate`); ``indices``: the block's knob indices to
        measure (None: all ``calibration_knobs``). Reads no hidden error."""
        return measure_block_jacobian(oracle, knobs, block=self.k, step_rad=step_rad,
                                      probe_rows=probe_rows, indices=indices, subset=subset,
                                      generator=generator)

    @property
    def calibration_knobs(self) -> int:
        """Knob indices per block a calibration can measure (mesh shifters, then Σ shifters)."""
        return math.prod(self.layout.mesh_shape[2:]) + self.k

    # ----------------------------------------------------------------- oracle calls
    def program(self, knobs, generator: torch.Generator | None = None) -> Programmed:
        """Apply the phase chain (program stage and fabrication errors) to P settings at once;
        ``generator`` draws the per-setting drift directions when PhaseDrift is modelled."""
        settings = check_knobs(self._spec, knobs, self.name)
        with torch.no_grad():
            device = knobs["mesh_phases"].device   # the device follows the knobs (and inputs)
            fab = self._fab_on(device)
            mesh = knobs["mesh_phases"].detach().float().reshape(-1, *self.layout.mesh_shape)
            sig = knobs["sigma_phases"].detach().float().reshape(-1, *self.layout.sigma_shape)
            gain = knobs["gain"].detach().float().reshape(-1, self.p, self.q)
            if self._fused_chain and mesh.device.type == "cpu":   # one numba pass, same bits
                mesh, sig = phase_chain.fused_chain(self._chain, mesh, sig, settings, self.layout, fab)
                gain = gain.expand(settings, *gain.shape[1:])
            else:
                mesh, sig, gain = (t.expand(settings, *t.shape[1:]) for t in (mesh, sig, gain))
                for e in self._chain:
                    mesh, sig = e.program_phases(mesh, sig, self.layout, fab.get(type(e)))
            state = {"mesh": mesh, "sigma": sig, "gain": gain, "time_s": 0.0}
            if self._drift is not None:
                state["drift_seeds"] = self._drift.program_draw(settings, self.layout, generator)
            if self._phase_noise is None:   # static phases (drift is zero at t = 0): build once
                state["blocks"] = self._blocks(mesh, sig)
        return Programmed(settings=settings, state=state)

    def drift_normals(self, programmed: Programmed) -> torch.Tensor:
        """ξ (P, n_shifters) of PhaseDrift for a programmed state, drawn from its seeds when
        first needed and kept in the state (on the state's device)."""
        st = programmed.state
        if "drift" not in st:
            st["drift"] = self._drift.normals(st["drift_seeds"], self.layout).to(st["mesh"].device)
        return st["drift"]

    def aged(self, programmed: Programmed, time_s: float) -> Programmed:
        """The same programmed state, queried ``time_s`` seconds after programming (device clock)."""
        require_nonnegative(self.name, "time_s", time_s)
        return Programmed(settings=programmed.settings, state={**programmed.state, "time_s": float(time_s)})

    @property
    def _fused_chain(self) -> bool:
        """The program chain takes the one-pass kernel (:mod:`hwsim.photonic.phase_chain`) when
        ``fused`` and every program effect is one it implements (on CPU tensors)."""
        return self.fused and self.fuse_chain and phase_chain.fusable_chain(self._chain)

    def _fab_on(self, device: torch.device) -> dict:
        """The fabrication draws (made on the CPU from the device seed) on ``device``."""
        device = torch.device(device)
        if device.type == "cpu":
            return self._fab
        key = str(device)
        if key not in self._fab_cache:
            self._fab_cache[key] = {t: {n: v.to(device) for n, v in d.items()} for t, d in self._fab.items()}
        return self._fab_cache[key]

    def _array_terms(self, device: torch.device | str = "cpu") -> dict:
        terms: dict = {}
        fab = self._fab_on(device)
        for e in self._array:
            terms.update(e.array_terms(fab.get(type(e))))
        return terms

    def _fusable(self, t: torch.Tensor) -> bool:
        """Small blocks on the CPU take the fused kernels (unless ``fused`` is switched off)."""
        return (self.fused and t.device.type == "cpu" and self.k <= kernels.FUSED_MAX_BLOCK
                and self._adc_nonideal is None)      # the fused readout has the ideal ADC only

    def _blocks(self, mesh: torch.Tensor, sig: torch.Tensor):
        """Blocks seen by the detectors: complex fields where a Detection effect reads the
        optical power, else Re. Fused form (CPU, k ≤ 16): a pair (Re W, Im W or None) of
        float32 (P, p, q, k, k)."""
        if self._fusable(mesh):
            return self._fused_blocks(mesh, sig)
        b = self._complex_blocks(mesh, sig, **self._array_terms(mesh.device))
        return b if self._needs_field else b.real.to(torch.float32)

    def _coupler_table(self, eps: torch.Tensor | None) -> np.ndarray:
        """(G, 2, M, 4) float64 (cos α₁, sin α₁, cos α₂, sin α₂) of every mesh MZI's couplers
        (G = p·q blocks, or 1 for perfect couplers); static, so built once."""
        if self._coupler_cache is None:
            m = self.n_mzi
            e = torch.zeros(1, 2, m, 2, dtype=torch.float64) if eps is None else \
                eps.detach().cpu().double().reshape(-1, 2, m, 2)
            a1, a2 = _mesh.coupler_angles(e[..., 0], e[..., 1])
            tab = torch.stack([torch.cos(a1), torch.sin(a1), torch.cos(a2), torch.sin(a2)], dim=-1)
            self._coupler_cache = np.ascontiguousarray(tab.numpy())
        return self._coupler_cache

    def _fused_blocks(self, mesh: torch.Tensor, sig: torch.Tensor):
        """Block fields of P settings with :func:`~hwsim.photonic.kernels.build_blocks`."""
        terms = self._array_terms()
        loss_db = terms.get("loss_db", 0.0)
        k, p, q, m = self.k, self.p, self.q, self.n_mzi
        P = mesh.shape[0]
        mm = mesh.reshape(P * p * q, 2, k * k)

        # cos and sin of all phases in two vectorised passes over the contiguous phases (the
        # same numbers as per-slice calls); the kernel reads θ, φ, δ as views into them
        c_all, s_all = torch.cos(mm.contiguous()).numpy(), torch.sin(mm.contiguous()).numpy()
        ct, cp, cd = c_all[..., :m], c_all[..., m:2 * m], c_all[..., 2 * m:]
        st, sp, sd = s_all[..., :m], s_all[..., m:2 * m], s_all[..., 2 * m:]
        s = self._sigma_transmission(sig, loss_db, terms.get("sigma_eps")).reshape(P * p * q, k)
        s_re = np.ascontiguousarray((s.real if s.is_complex() else s).numpy())
        s_im = np.ascontiguousarray(s.imag.numpy()) if s.is_complex() else np.zeros_like(s_re)
        n = P * p * q
        out_re = np.empty((n, k, k), np.float32)
        out_im = np.empty((n, k, k) if self._needs_field else (1, 1, 1), np.float32)
        if n:
            kernels.build_blocks(ct, st, cp, sp, cd, sd, self._coupler_table(terms.get("coupler_eps")),
                         self.topology.upper_mode.numpy().astype(np.int64), float(loss_amplitude(loss_db)),
                         s_re, s_im, out_re, out_im, self._needs_field)
        shape = (P, p, q, k, k)
        re = torch.from_numpy(out_re).reshape(shape)
        return re, (torch.from_numpy(out_im).reshape(shape) if self._needs_field else None)

    def query(self, programmed: Programmed, x: torch.Tensor,
              generator: torch.Generator | None = None, *, time_s: float | None = None) -> torch.Tensor:
        """Readout (P, B, n_out) for inputs (B, n_in) or (P, B, n_in); detached.

        ``time_s``: seconds since programming (default: the state's own clock, 0 unless
        :meth:`aged`); only PhaseDrift depends on it.
        """
        P = programmed.settings
        x = check_input(x, self.n_in, P, self.name)
        st = programmed.state
        t = st.get("time_s", 0.0) if time_s is None else require_nonnegative(self.name, "time_s", time_s)
        with torch.no_grad():
            device = st["mesh"].device
            x = x.detach().to(device=device, dtype=torch.float32)
            k, p, q = self.k, self.p, self.q
            xn, alpha = encode_inputs(x, self._dac)
            if q * k != self.n_in:
                xn = torch.nn.functional.pad(xn, (0, q * k - self.n_in))
            xb = xn.reshape(*xn.shape[:-1], q, k)                          # (P|1, B, q, k)
            # All query-time noise of a setting comes from its own stream of standard normals
            # (truncated phase noise by rejection first, then detection, then the detector
            # floor), so P settings in one call consume the generator exactly like P separate calls.
            n_phase = self.layout.n_shifters if self._phase_noise else 0
            n_det = xb.shape[1] * p * q * k
            n_dets = [n_det if e is not None else 0 for e in (self._detection, self._det_noise)]
            n_z = n_phase + sum(n_dets)
            states = rng.row_states(P, generator) if n_z else None
            z = self._phase_noise.draw(states, n_phase, device) if n_phase else None
            if "blocks" in st and (self._drift is None or t == 0.0):
                blocks = st["blocks"]
            else:
                mesh, sig = st["mesh"], st["sigma"]
                if self._phase_noise is not None:
                    mesh, sig = self._phase_noise.query_phases(mesh, sig, z[:, :n_phase])
                if self._drift is not None and t != 0.0:      # no drift at t = 0: ξ not needed
                    mesh, sig = self._drift.query_phases(mesh, sig, self.drift_normals(programmed), t)
                blocks = self._blocks(mesh, sig)
            if isinstance(blocks, tuple):
                y = self._fused_readout(blocks, xb, st["gain"], states)
            else:
                zz = rng.normal_from_states(states, sum(n_dets), device=device) if sum(n_dets) else None
                y = self._plain_readout(blocks, xb, st["gain"], zz, n_dets)
            y = y[..., : self.n_out]
            scale = alpha ** 2 if self.intensity else alpha
            return (y * scale).contiguous()

    def _plain_readout(self, blocks: torch.Tensor, xb: torch.Tensor, gain: torch.Tensor,
                       z: torch.Tensor | None, n_dets: list[int]) -> torch.Tensor:
        """Torch path (any device, any block size): block outputs (P, B, p, q, k) → detection,
        detector floor, ADC, per-block gain, digital sum over q → (P, B, p·k)."""
        P, k, p, q = blocks.shape[0], self.k, self.p, self.q
        xin = xb.expand(P, *xb.shape[1:]).to(blocks.dtype)
        y = torch.einsum("Pabij,PBbj->PBabi", blocks, xin)
        # normals are laid out (P, p, q, B, k): block by block, as the fused kernel consumes them
        lay = (P, p, q, y.shape[1], k)
        at = 0
        if self._detection is not None:
            zd = z[:, at:at + n_dets[0]].reshape(lay).permute(0, 3, 1, 2, 4)
            y = self._detection.detect(y, zd, modulators=p * q * k)
            at += n_dets[0]
        if y.is_complex():
            y = y.real
        y = y.contiguous()
        if self._det_noise is not None:
            y = self._det_noise.from_normal(y, z[:, at:at + n_dets[1]].reshape(lay).permute(0, 3, 1, 2, 4))
        if self._adc_nonideal is not None:                       # circuit ADCs, (P, B, p, q, k)
            y = self._adc_nonideal.convert(y, self._adc, self._adc_errors)
        elif self._adc is not None:
            y = self._adc(y)
        gain = gain.reshape(P, 1, p, q, 1)
        if self.intensity:   # |s α ŷ|²: the square law acts on the scaled block field
            y = y * gain ** 2
        else:
            y = y * gain
        return y.sum(dim=-2).reshape(P, -1, p * k)                       # digital sum over q

    def _fused_readout(self, blocks, xb: torch.Tensor, gain: torch.Tensor,
                       states: np.ndarray | None) -> torch.Tensor:
        """:func:`~hwsim.photonic.kernels.readout`: the same pipeline as :meth:`_plain_readout`
        in one pass, never forming the (P, B, p, q, k) block outputs."""
        w_re, w_im = blocks
        P, k, p = w_re.shape[0], self.k, self.p
        det = self._detection
        mode = 0 if det is None else (1 if det.coherent else 2)
        c0, c1 = det.noise_law(p * self.q * k) if det is not None else (0.0, 0.0)
        floor = self._det_noise.sigma_norm if self._det_noise is not None else 0.0
        delta, n_codes = (self._adc.step, self._adc.max_code) if self._adc is not None else (0.0, 0)
        if states is None:
            states = np.zeros((P, 4), np.uint64)
        out = np.empty((P, xb.shape[1], p * k), np.float32)
        wi = w_im if w_im is not None else torch.zeros(1, 1, 1, 1, 1)
        kernels.readout(w_re.numpy(), wi.numpy(), np.ascontiguousarray(xb.permute(0, 2, 3, 1).numpy()), mode, float(c0), float(c1),
                float(floor), float(delta), int(n_codes),
                np.ascontiguousarray(gain.reshape(P, p, self.q).numpy()), 2 if self.intensity else 1,
                states, *ziggurat.TABLES, out)
        return torch.from_numpy(out)

    def program_events(self, programmed: Programmed) -> list[Event]:
        P = programmed.settings
        return [ProgramEvent(layer=self.name, settings=P, knobs_written=P * self.n_knobs, settles=P)]

    def query_events(self, programmed: Programmed, x_shape: tuple[int, ...]) -> list[Event]:
        P = programmed.settings
        B = x_shape[-2]
        vec = P * B
        tiles = self.p * self.q
        return [MvmEvent(layer=self.name, settings=P, vectors=vec, macs=vec * tiles * self.k ** 2,
                         dac_conversions=vec * tiles * self.k, adc_conversions=vec * tiles * self.k,
                         partial_sum_adds=vec * self.p * (self.q - 1) * self.k)]

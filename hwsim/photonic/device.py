"""MZI-mesh photonic layer: a real-valued W = s · Re(U Σ V†) tiled into k×k blocks.

Each k×k block is one resident photonic core (Shen et al., Nat. Photon. 11, 441 (2017),
arXiv:1610.02365; SVD layout of torchonn ``mzi_linear.py``, devices.md §3–4):

    x_q ──DAC/modulators──▶ V† mesh (Clements, k modes) ──▶ Σ row: σ_i = cos φ_i ──▶ U mesh
        ──▶ coherent (homodyne) detection: Re(E) ──▶ detector noise ──▶ ADC ──▶ Σ_q digitally

Outputs of the blocks of one block row are summed digitally after their ADCs; the global gain
``s`` is an electronic gain after detection. Inputs are normalised per vector by α = max|x|
(noise management) unless the input DAC has a fixed range.

Knobs (one setting; a leading P dimension programs P settings at once):
    mesh_phases  (p, q, 2, k²)  rad, periodic. [..., 0, :] is the V† mesh, [..., 1, :] the U mesh;
                                each k² vector is [θ (k(k-1)/2), φ (k(k-1)/2), δ (k)] in the MZI
                                order of :class:`~hwsim.photonic.topology.ClementsTopology`.
    sigma_phases (p, q, k)      rad in [0, π]; σ_i = cos φ_i.
    gain         (1,)           electronic gain s, dimensionless, in [1e-6, 1e6].
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from ..effects import rng
from ..effects.loss import InsertionLoss
from ..effects.noise import DetectorNoise, PhaseBias, PhaseNoise
from ..effects.quantize import InputDAC, OutputADC, PhaseDAC, encode_inputs
from ..effects.validate import check_effects, find_effect, require_int
from ..oracle import KnobSpec, Programmed, check_input, check_knobs
from ..trace import Event, LayerInfo, MvmEvent, ProgramEvent
from .decompose import clements_decompose
from .mesh import clements_unitary
from .topology import ClementsTopology

__all__ = ["MZIConfig", "MZIMeshLayer"]

_EFFECT_TYPES = (PhaseDAC, PhaseBias, PhaseNoise, InsertionLoss, InputDAC, OutputADC, DetectorNoise)
GAIN_RANGE = (1e-6, 1e6)


@dataclass(frozen=True)
class MZIConfig:
    """Settings of an MZI-mesh layer. ``effects`` is a tuple of effect objects; an absent
    effect is simply not modelled. Allowed effect types: PhaseDAC, PhaseBias, PhaseNoise,
    InsertionLoss, InputDAC, OutputADC, DetectorNoise (at most one of each)."""

    EFFECT_TYPES: ClassVar[tuple[type, ...]] = _EFFECT_TYPES

    block: int = 8
    effects: tuple = field(default_factory=tuple)

    def __post_init__(self) -> None:
        require_int("MZIConfig", "block", self.block, 2, 256)
        check_effects("MZIConfig", self.effects, _EFFECT_TYPES)

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
        self.config = config or MZIConfig()
        k = self.k = self.config.block
        self.p, self.q = math.ceil(n_out / k), math.ceil(n_in / k)
        self.topology = ClementsTopology.build(k)
        self.n_mzi = k * (k - 1) // 2
        c = self.config
        self._dac_phase, self._bias = c.effect(PhaseDAC), c.effect(PhaseBias)
        self._phase_noise, self._loss = c.effect(PhaseNoise), c.effect(InsertionLoss)
        self._dac, self._adc, self._det = c.effect(InputDAC), c.effect(OutputADC), c.effect(DetectorNoise)
        # Build-time (fabrication) errors, drawn once from the device seed.
        gen = torch.Generator().manual_seed(seed)
        if self._bias is not None:
            self._bias_mesh = self._bias.sample((self.p, self.q, 2, k * k), gen)
            self._bias_sigma = self._bias.sample((self.p, self.q, k), gen)
        self._spec = {
            "mesh_phases": KnobSpec("mesh_phases", (self.p, self.q, 2, k * k), 0.0, 2 * math.pi,
                                    "rad", periodic=True),
            "sigma_phases": KnobSpec("sigma_phases", (self.p, self.q, k), 0.0, math.pi, "rad"),
            "gain": KnobSpec("gain", (1,), GAIN_RANGE[0], GAIN_RANGE[1], "1"),
        }

    # ----------------------------------------------------------------- description
    @property
    def knob_spec(self) -> dict[str, KnobSpec]:
        return self._spec

    @property
    def n_knobs(self) -> int:
        return sum(s.numel for s in self._spec.values())

    def info(self) -> LayerInfo:
        k = self.k
        loss_db = self._loss.db_per_mzi if self._loss else 0.0
        # Worst path: depth k through each of the two meshes plus one Σ MZI.
        path_db = loss_db * (2 * int(self.topology.mzis_on_path.max()) + 1)
        return LayerInfo(
            layer=self.name, device="mzi", n_in=self.n_in, n_out=self.n_out, tile_rows=k,
            tile_cols=k, tiles=self.p * self.q, knobs=self.n_knobs,
            knob_bits=self._dac_phase.bits if self._dac_phase else 16,
            dac_bits=self._dac.bits if self._dac else 16,
            adc_bits=self._adc.bits if self._adc else 16,
            optical_path_db=path_db, mzis=2 * self.n_mzi + k, cells=0)

    # ----------------------------------------------------------------- digital side
    def _split(self, mesh: torch.Tensor):
        m = self.n_mzi
        return mesh[..., :m], mesh[..., m:2 * m], mesh[..., 2 * m:]

    def _normalized_blocks(self, mesh: torch.Tensor, sig: torch.Tensor, loss_db: float) -> torch.Tensor:
        """Block matrices Re(U diag(cos σ) V†) (..., p, q, k, k) from applied phases."""
        th, ph, de = self._split(mesh)
        u = clements_unitary(th, ph, de, loss_db=loss_db)        # (..., p, q, 2, k, k)
        vdag, uu = u[..., 0, :, :], u[..., 1, :, :]
        amp = 10.0 ** (-loss_db / 20.0)                           # Σ attenuator is one MZI too
        s = torch.cos(sig).to(u.dtype) * amp
        return (uu * s.unsqueeze(-2)) @ vdag

    def _assemble(self, blocks: torch.Tensor) -> torch.Tensor:
        """(..., p, q, k, k) → (..., n_out, n_in) dense matrix."""
        *lead, p, q, k, _ = blocks.shape
        w = blocks.transpose(-3, -2).reshape(*lead, p * k, q * k)
        return w[..., : self.n_out, : self.n_in]

    def digital_twin(self, knobs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Ideal weight matrix (n_out, n_in) the knobs encode (no effects); differentiable.

        For baselines only: algorithms never see this.
        """
        blocks = self._normalized_blocks(knobs["mesh_phases"], knobs["sigma_phases"], 0.0).real
        return knobs["gain"].reshape(()) * self._assemble(blocks)

    def knobs_from_weight(self, weight: torch.Tensor) -> dict[str, torch.Tensor]:
        """Knobs that encode ``weight`` (n_out, n_in) on the ideal device (SVD + Clements)."""
        w = torch.as_tensor(weight, dtype=torch.float64)
        if tuple(w.shape) != (self.n_out, self.n_in) or not torch.isfinite(w).all():
            raise ValueError(f"{self.name}: weight has shape {tuple(w.shape)}; allowed finite "
                             f"({self.n_out}, {self.n_in})")
        k, p, q = self.k, self.p, self.q
        padded = torch.zeros(p * k, q * k, dtype=torch.float64)
        padded[: self.n_out, : self.n_in] = w
        blocks = padded.reshape(p, k, q, k).transpose(1, 2).numpy()
        u, s, vh = np.linalg.svd(blocks)                          # (p, q, k, k), (p, q, k)
        gain = float(s.max()) if s.max() > 0 else 1.0
        mesh = np.zeros((p, q, 2, k * k))
        for a in range(p):
            for b in range(q):
                for j, mat in enumerate((vh[a, b], u[a, b])):
                    th, ph, de = clements_decompose(mat)
                    mesh[a, b, j] = np.concatenate([np.asarray(th), np.asarray(ph), np.asarray(de)])
        sig = np.arccos(np.clip(s / gain, -1.0, 1.0))
        return {"mesh_phases": torch.tensor(mesh, dtype=torch.float32),
                "sigma_phases": torch.tensor(sig, dtype=torch.float32),
                "gain": torch.tensor([gain], dtype=torch.float32)}

    # ----------------------------------------------------------------- oracle calls
    def program(self, knobs, generator: torch.Generator | None = None) -> Programmed:
        """Apply program-time effects (phase DAC, static bias) to P settings at once."""
        settings = check_knobs(self._spec, knobs, self.name)
        with torch.no_grad():
            mesh = knobs["mesh_phases"].detach().float().reshape(-1, *self._spec["mesh_phases"].shape)
            sig = knobs["sigma_phases"].detach().float().reshape(-1, *self._spec["sigma_phases"].shape)
            gain = knobs["gain"].detach().float().reshape(-1, 1)
            mesh, sig, gain = (t.expand(settings, *t.shape[1:]) for t in (mesh, sig, gain))
            if self._dac_phase is not None:
                mesh, sig = self._dac_phase.mesh(mesh), self._dac_phase.sigma(sig)
            if self._bias is not None:
                mesh, sig = mesh + self._bias_mesh, sig + self._bias_sigma
            state = {"mesh": mesh, "sigma": sig, "gain": gain}
            if self._phase_noise is None:   # static phases: build the blocks once
                state["blocks"] = self._blocks(mesh, sig)
        return Programmed(settings=settings, state=state)

    def _blocks(self, mesh: torch.Tensor, sig: torch.Tensor) -> torch.Tensor:
        loss_db = self._loss.db_per_mzi if self._loss else 0.0
        return self._normalized_blocks(mesh, sig, loss_db).real

    def query(self, programmed: Programmed, x: torch.Tensor,
              generator: torch.Generator | None = None) -> torch.Tensor:
        """Readout (P, B, n_out) for inputs (B, n_in) or (P, B, n_in); detached."""
        P = programmed.settings
        x = check_input(x, self.n_in, P, self.name)
        st = programmed.state
        with torch.no_grad():
            x = x.detach().float()
            k, p, q = self.k, self.p, self.q
            xn, alpha = encode_inputs(x, self._dac)
            if q * k != self.n_in:
                xn = torch.nn.functional.pad(xn, (0, q * k - self.n_in))
            xb = xn.reshape(*xn.shape[:-1], q, k)                          # (P|1, B, q, k)
            # All query-time noise of a setting comes from one contiguous draw of standard normals,
            # so P settings in one call consume the generator exactly like P separate calls.
            n_mesh, n_sig = st["mesh"][0].numel(), st["sigma"][0].numel()
            n_det = xb.shape[1] * p * q * k
            n_z = (n_mesh + n_sig if self._phase_noise else 0) + (n_det if self._det else 0)
            z = rng.normal((P, n_z), generator) if n_z else None
            if "blocks" in st:
                blocks = st["blocks"]
            else:
                noise = self._phase_noise.from_normal(z[:, : n_mesh + n_sig])
                blocks = self._blocks(st["mesh"] + noise[:, :n_mesh].reshape(st["mesh"].shape),
                                      st["sigma"] + noise[:, n_mesh:].reshape(st["sigma"].shape))
            # Partial sums of every block: (P, B, p, q, k).
            y = torch.einsum("Pabij,PBbj->PBabi", blocks, xb.expand(P, *xb.shape[1:]))
            if self._det is not None:
                y = self._det.from_normal(y, z[:, n_z - n_det:].reshape(y.shape))
            if self._adc is not None:
                y = self._adc(y)
            y = y.sum(dim=-2).reshape(P, -1, p * k)[..., : self.n_out]     # digital sum over q
            return (y * alpha * st["gain"].reshape(P, 1, 1)).contiguous()

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

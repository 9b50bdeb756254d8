"""Microring-resonator (MRR) weight bank layer, broadcast-and-weight (Tait et al., "Neuromorphic
photonic networks using silicon photonic weight banks", Sci. Rep. 7:7430 (2017); Tait et al.,
"Microring weight banks", IEEE JSTQE 22(6) (2016); Bangari et al., DEAP-CNNs, IEEE JSTQE 26(1)
(2020)), tiled with a digital sum of the tiles:

    x_j ──input DAC──▶ intensity modulator on wavelength λ_j (one WDM channel per input)
        ──▶ WDM bus, split to the k banks of the tile (broadcast)
        ──▶ bank i: n add-drop rings, ring j tuned near λ_j by its heater (weight W_ij)
        ──▶ balanced photodiodes (drop − through) ──▶ ADC ──▶ × gain_pq ──▶ Σ_q digitally

A tile holds k banks (outputs) of n rings (inputs); the layer is p × q tiles, p = ⌈n_out/k⌉,
q = ⌈n_in/n⌉, all resident. Weight of ring (i, j): w = D − T = A·L(δ_ij) − 1 (see
:mod:`hwsim.microring.ring`), δ_ij its resonance minus λ_j. Each ring sits at a designed cold
detuning −δ₀ (blue of its channel) and is heated red-wards: its heater adds a round-trip phase
φ ∈ [0, φ_max], δ = FSR·φ/(2π) − δ₀, up to half a channel spacing red of its channel. Weights use the branch
δ ∈ [−Δλ_ch/2, 0] (a ring stays within half a channel spacing of its channel), on which w rises
monotonically from w_lo = w(Δλ_ch/2) to w_hi = A − 1; a tile maps its weights onto the symmetric
range [−w_lim, w_lim], w_lim = min(w_hi, −w_lo), and the tile's electronic gain (TIA / digital
scale) restores the scale: the layer computes Σ_q gain_pq · W̃_pq x_q.

Signed inputs: light intensity is non-negative, so x = x⁺ − x⁻ streams in two passes (the
second only for vectors with a negative entry), each detected and digitised, and the two are
subtracted digitally. Inputs are normalised per vector by α = max|x| (noise management) unless
the input DAC has a fixed range, as for the mesh.

Effects, in their stages (an absent effect is not modelled; at most one of each):
    fabrication  ResonanceSpread, GammaSpread (heater efficiency per ring), each from its own
                 keyed stream of the device seed
    program      heater DAC (ThermoOpticDAC φ = γV² on a voltage grid, or PhaseDAC) → γ spread →
                 ThermalCrosstalk between adjacent rings of a bank (φ' = φ + c·A φ) →
                 the resonance spread, in the physical order (the phase chain of the mesh)
    array        InterChannelCrosstalk (neighbouring rings' Lorentzian tails on every channel)
    query        InputDAC, Detection (balanced pair, shot + dark + thermal noise from the optical
                 power of the bank), OutputADC

Knobs (one setting; a leading P programs P settings at once):
    ring_phases  (p, q, k, n)  rad in [0, 2π(δ₀ + spacing/2)/FSR]: heater round-trip phase of
                               each ring (``phase_max``); the heater power is P_FSR·φ/(2π)
                               (thermo-optic shift ∝ power), so the trace's phase sum prices the
                               static heater power.
    gain         (p, q)        electronic gain per tile, dimensionless, in [1e-6, 1e6].
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar


from ..effects import rng
from ..effects.crosstalk import ThermalCrosstalk
from ..effects.detection import Detection
from ..effects.fabrication import fabricate_all
from ..effects.phase_shifter import GammaSpread, ThermoOpticDAC
from ..effects.quantize import InputDAC, OutputADC, PhaseDAC, encode_inputs
from ..effects.validate import (check_effects, find_effect, require_int, require_positive,
                                require_range)
from ..oracle import KnobSpec, Programmed, check_input, check_knobs
from ..trace import Event, LayerInfo, MvmEvent, ProgramEvent
from .effects import InterChannelCrosstalk, ResonanceSpread, balanced_noise_law, bank_response
from .ring import RingLine
from ..meaning import described, effects_field

from hwsim.lazy import torch

__all__ = ["MRRConfig", "MRRBankLayer", "BankLayout", "GAIN_RANGE", "DEVICE"]

DEVICE = "mrr"
GAIN_RANGE = (1e-6, 1e6)
TWO_PI = 2.0 * math.pi
_EFFECT_TYPES = (ThermoOpticDAC, PhaseDAC, GammaSpread, ThermalCrosstalk, ResonanceSpread,
                 InterChannelCrosstalk, InputDAC, Detection, OutputADC)
#: elements per setting of one query chunk (vectors × tiles × tile outputs): bounds the memory
#: of the per-tile outputs (every tile digitises its own), P × this many values per tensor
_CHUNK_ELEMENTS = 1 << 17


@dataclass(frozen=True)
class MRRConfig:
    """Settings of a microring weight-bank layer.

    ``channels`` n rings per bank (WDM channels per tile), ``bank_rows`` k banks per tile
    (outputs sharing one broadcast bus); the ring line: ``q_loaded`` (Δλ = λ₀/Q FWHM),
    ``fsr_nm``, ``extinction_ratio_db`` (through-port floor T_min = 10^(−ER/10)) and
    ``drop_peak`` (drop transmission on resonance); ``channel_spacing_nm`` (n·spacing ≤ FSR);
    ``cold_detuning_nm`` δ₀, the designed offset of a cold ring blue of its channel
    (≥ spacing/2, so the whole weight branch is reachable by heating, < FSR)."""

    EFFECT_TYPES: ClassVar[tuple[type, ...]] = _EFFECT_TYPES

    channels: int = described(8, "rings per bank: WDM channels (inputs) per tile", "rings")
    bank_rows: int = described(8, "banks per tile: outputs sharing one broadcast bus", "banks")
    wavelength_nm: float = described(1550.0, "centre wavelength λ₀ of the channel grid", "nm")
    q_loaded: float = described(
        5000.0, "loaded quality factor Q (Lorentzian linewidth Δλ = λ₀/Q)", "1")
    fsr_nm: float = described(32.5, "free spectral range of a ring", "nm")
    extinction_ratio_db: float = described(
        30.0, "through-port extinction on resonance (floor T_min = 10^(−ER/10))", "dB")
    drop_peak: float = described(1.0, "drop-port transmission on resonance", "1")
    channel_spacing_nm: float = described(
        1.6, "WDM channel spacing (channels × spacing ≤ FSR)", "nm")
    cold_detuning_nm: float = described(
        1.0, "designed offset of a cold ring blue of its channel (≥ spacing/2, < FSR)", "nm")
    effects: tuple = effects_field()

    def __post_init__(self) -> None:
        require_int("MRRConfig", "channels", self.channels, 1, 1024)
        require_int("MRRConfig", "bank_rows", self.bank_rows, 1, 1024)
        require_positive("MRRConfig", "wavelength_nm", self.wavelength_nm)
        require_positive("MRRConfig", "q_loaded", self.q_loaded)
        require_positive("MRRConfig", "fsr_nm", self.fsr_nm)
        require_range("MRRConfig", "extinction_ratio_db", self.extinction_ratio_db, 0.0, 100.0)
        require_range("MRRConfig", "drop_peak", self.drop_peak, 0.0, 1.0)
        require_positive("MRRConfig", "channel_spacing_nm", self.channel_spacing_nm)
        check_effects("MRRConfig", self.effects, _EFFECT_TYPES)
        if self.channels * self.channel_spacing_nm > self.fsr_nm:
            raise ValueError(f"MRRConfig.channel_spacing_nm = {self.channel_spacing_nm!r}; allowed: "
                             f"channels × spacing <= fsr_nm ({self.fsr_nm}), i.e. <= "
                             f"{self.fsr_nm / self.channels:.4g} nm for {self.channels} channels")
        if not 0.5 * self.channel_spacing_nm <= self.cold_detuning_nm < self.fsr_nm:
            raise ValueError(f"MRRConfig.cold_detuning_nm = {self.cold_detuning_nm!r}; allowed: a "
                             f"number in [channel_spacing_nm/2, fsr_nm) = "
                             f"[{0.5 * self.channel_spacing_nm:.4g}, {self.fsr_nm:.4g})")
        if self.fwhm_nm >= self.channel_spacing_nm:
            raise ValueError(f"MRRConfig.q_loaded = {self.q_loaded!r}; allowed: a linewidth "
                             f"λ/Q below the channel spacing ({self.channel_spacing_nm} nm), "
                             f"Q > {self.wavelength_nm / self.channel_spacing_nm:.4g}")
        if self.weight_limit <= 0.0:
            raise ValueError(f"MRRConfig.drop_peak = {self.drop_peak!r}; allowed: a drop peak above "
                             f"the through floor 10^(-ER/10) = {self.line.through_min:.4g} (else the "
                             f"balanced weight cannot be positive)")
        if self.effect(PhaseDAC) is not None and self.effect(ThermoOpticDAC) is not None:
            raise ValueError("MRRConfig.effects has PhaseDAC and ThermoOpticDAC; allowed: one heater DAC")
        det = self.effect(Detection)
        if det is not None and det.mode != "intensity":
            raise ValueError(f"MRRConfig Detection.mode = {det.mode!r}; allowed: 'intensity' (the "
                             "balanced pair is two direct photodiodes, drop and through)")

    def effect(self, kind: type):
        return find_effect(self.effects, kind)

    @property
    def fwhm_nm(self) -> float:
        """Loaded linewidth Δλ = λ₀ / Q (nm)."""
        return self.wavelength_nm / self.q_loaded

    @property
    def line(self) -> RingLine:
        return RingLine(fwhm_nm=self.fwhm_nm, fsr_nm=self.fsr_nm,
                        through_min=10.0 ** (-self.extinction_ratio_db / 10.0),
                        drop_peak=self.drop_peak)

    @property
    def weight_range(self) -> tuple[float, float]:
        """(w_lo, w_hi): weights at the branch ends δ = −spacing/2 and δ = 0."""
        line = self.line
        return line.weight_at(0.5 * self.channel_spacing_nm), line.span - 1.0

    @property
    def weight_limit(self) -> float:
        """w_lim = min(w_hi, −w_lo): the symmetric weight range a tile maps onto."""
        lo, hi = self.weight_range
        return min(hi, -lo)


@dataclass(frozen=True, eq=False)
class BankLayout:
    """p × q tiles of k banks × n rings, and the heater neighbourhood along each bank's bus.

    Exposes the layout interface of the shared heater effects (``mesh_shape``, ``sigma_shape``,
    ``mesh_adjacency``, ``sigma_adjacency``): the ring heaters play the role of the mesh
    shifters, and there is no second group (``sigma`` is empty)."""

    p: int
    q: int
    k: int
    n: int
    fsr_nm: float

    @property
    def mesh_shape(self) -> tuple[int, ...]:
        return (self.p, self.q, self.k, self.n)

    @property
    def sigma_shape(self) -> tuple[int, ...]:
        return (self.p, self.q, 0)

    @cached_property
    def mesh_adjacency(self) -> torch.Tensor:
        """(n, n) 0/1: rings j and j ± 1 of one bank are neighbours (a row along the bus)."""
        i = torch.arange(self.n)
        return ((i[:, None] - i[None, :]).abs() == 1).float()

    @cached_property
    def sigma_adjacency(self) -> torch.Tensor:
        return torch.zeros(0, 0)


class MRRBankLayer:
    """Oracle for one real-valued linear layer ``n_in → n_out`` on tiled microring weight banks."""

    def __init__(self, n_in: int, n_out: int, config: MRRConfig | None = None, *,
                 seed: int = 0, name: str = "mrr") -> None:
        require_int("MRRBankLayer", "n_in", n_in, 1, math.inf)
        require_int("MRRBankLayer", "n_out", n_out, 1, math.inf)
        self.name, self.n_in, self.n_out = name, n_in, n_out
        self.config = c = config or MRRConfig()
        self.k, self.n = c.bank_rows, c.channels
        self.p, self.q = math.ceil(n_out / self.k), math.ceil(n_in / self.n)
        self.layout = BankLayout(self.p, self.q, self.k, self.n, c.fsr_nm)
        self.line = c.line
        self.w_lim = c.weight_limit
        self._dac, self._adc = c.effect(InputDAC), c.effect(OutputADC)
        self._detection = c.effect(Detection)
        xtalk = c.effect(InterChannelCrosstalk)
        self._neighbours = xtalk.neighbours if xtalk is not None else 0
        # one keyed stream per fabricated effect (hwsim.effects.fabrication): adding an effect
        # never re-rolls another's draws
        self._fab = fabricate_all(c.effects, seed, self.layout)
        self._chain = sorted((e for e in c.effects if hasattr(e, "program_phases")),
                             key=lambda e: type(e).chain_rank)
        self._spec = {
            "ring_phases": KnobSpec("ring_phases", self.layout.mesh_shape, 0.0, self.phase_max, "rad"),
            "gain": KnobSpec("gain", (self.p, self.q), GAIN_RANGE[0], GAIN_RANGE[1], "1"),
        }

    # ----------------------------------------------------------------- description
    @property
    def knob_spec(self) -> dict[str, KnobSpec]:
        return self._spec

    @property
    def phase_max(self) -> float:
        """Heater range (rad of round-trip phase): from cold (δ = −δ₀) to half a channel spacing
        red of the channel, 2π(δ₀ + spacing/2)/FSR — every weight of the branch plus the margin
        for the resonance spread on both sides. A driver range matched to the weight range keeps
        knob steps in range units meaningful (a full FSR would put the whole weight branch
        inside a few percent of the range)."""
        c = self.config
        return TWO_PI * (c.cold_detuning_nm + 0.5 * c.channel_spacing_nm) / c.fsr_nm

    @property
    def n_knobs(self) -> int:
        return sum(s.numel for s in self._spec.values())

    @property
    def modulators(self) -> int:
        """Input modulators of the layer (one per channel per tile; all tiles resident)."""
        return self.p * self.q * self.n

    @property
    def bank_power_w(self) -> float:
        """Optical power of a full-scale channel at one bank: the modulator's power split over
        the k banks of its tile (broadcast)."""
        return self._detection.mode_power_w(self.modulators) / self.k

    def info(self) -> LayerInfo:
        heater = self.config.effect(ThermoOpticDAC) or self.config.effect(PhaseDAC)
        det = self._detection
        return LayerInfo(
            layer=self.name, device=DEVICE, n_in=self.n_in, n_out=self.n_out,
            tile_rows=self.n, tile_cols=self.k, tiles=self.p * self.q, knobs=self.n_knobs,
            knob_bits=heater.bits if heater else 16,
            dac_bits=self._dac.bits if self._dac else 16,
            adc_bits=self._adc.bits if self._adc else 16,
            # broadcast split of each channel over the k banks of a tile
            optical_path_db=10.0 * math.log10(self.k),
            laser_power_w=det.total_laser_power_w(self.modulators) if det else 0.0,
            detector_signal_power_w=self.bank_power_w if det else 0.0,
            photodiodes_per_output=2)

    # ----------------------------------------------------------------- design-level map
    def _detuning(self, phases: torch.Tensor) -> torch.Tensor:
        """Ring resonance minus its channel (nm) from applied round-trip phases (rad)."""
        return phases * (self.config.fsr_nm / TWO_PI) - self.config.cold_detuning_nm

    def _assemble(self, tiles: torch.Tensor) -> torch.Tensor:
        """(..., p, q, k, n) → (..., n_out, n_in)."""
        *lead, p, q, k, n = tiles.shape
        w = tiles.transpose(-3, -2).reshape(*lead, p * k, q * n)
        return w[..., : self.n_out, : self.n_in]

    def digital_twin(self, knobs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Design-level weights (n_out, n_in) the knobs encode: the designer's Lorentzian, without
        fabrication spread, crosstalk, quantization or noise; differentiable. Also the nominal
        map of local-guess (no hidden device error is read here)."""
        w = self.line.weight(self._detuning(knobs["ring_phases"]))
        gain = knobs["gain"][..., None, None]
        return self._assemble(w * gain)

    def knobs_from_weight(self, weight: torch.Tensor) -> dict[str, torch.Tensor]:
        """Knobs encoding ``weight`` (n_out, n_in) on the design-level map: per tile the gain
        max|W_tile|/w_lim, and per ring the closed-form inverse of the Lorentzian on the branch
        δ ∈ [−spacing/2, 0]: φ = 2π(δ₀ − |δ|)/FSR."""
        w = torch.as_tensor(weight, dtype=torch.float64)
        if tuple(w.shape) != (self.n_out, self.n_in) or not torch.isfinite(w).all():
            raise ValueError(f"{self.name}: weight has shape {tuple(w.shape)}; allowed finite "
                             f"({self.n_out}, {self.n_in})")
        p, q, k, n = self.p, self.q, self.k, self.n
        padded = torch.zeros(p * k, q * n, dtype=torch.float64)
        padded[: self.n_out, : self.n_in] = w
        tiles = padded.reshape(p, k, q, n).transpose(1, 2)              # (p, q, k, n)
        top = tiles.abs().amax(dim=(-2, -1))
        gain = torch.where(top > 0, top / self.w_lim, torch.ones_like(top)).clamp(*GAIN_RANGE)
        target = (tiles / gain[..., None, None]).clamp(-self.w_lim, self.w_lim)
        d = self.line.detuning_from_weight(target)
        phases = (self.config.cold_detuning_nm - d) * (TWO_PI / self.config.fsr_nm)
        return {"ring_phases": phases.float().contiguous(), "gain": gain.float()}

    # ----------------------------------------------------------------- oracle calls
    def program(self, knobs, generator: torch.Generator | None = None) -> Programmed:
        """Apply the heater chain (DAC, thermal crosstalk, resonance spread) to P settings at
        once and evaluate every bank's response (with the inter-channel crosstalk)."""
        settings = check_knobs(self._spec, knobs, self.name)
        with torch.no_grad():
            phases = knobs["ring_phases"].detach().float().reshape(-1, *self.layout.mesh_shape)
            gain = knobs["gain"].detach().float().reshape(-1, self.p, self.q)
            phases = phases.expand(settings, *phases.shape[1:])
            gain = gain.expand(settings, *gain.shape[1:])
            empty = phases.new_zeros(settings, *self.layout.sigma_shape)
            for e in self._chain:
                phases, empty = e.program_phases(phases, empty, self.layout, self._fab.get(type(e)))
            w, s = bank_response(self._detuning(phases), self.line, self.config.channel_spacing_nm,
                                 self._neighbours)
            # (P, p, q, k, n) → (P, q, n, p·k): the layout of the query's batched matmuls
            state = {"weights_t": self._for_matmul(w), "gain": gain.transpose(1, 2).contiguous()}
            if self._detection is not None:
                state["power_t"] = self._for_matmul(s)
            else:
                state["power_t"] = None
        return Programmed(settings=settings, state=state)

    def programmed_weights(self, programmed: Programmed) -> torch.Tensor:
        """Effective weights (P, n_out, n_in) a programmed state holds (gain included), before
        query-time effects. For tests and benchmarks: the oracle boundary does not expose it."""
        st = programmed.state
        w = st["weights_t"]
        P = w.shape[0]
        tiles = w.reshape(P, self.q, self.n, self.p, self.k).permute(0, 3, 1, 4, 2)   # (P,p,q,k,n)
        return self._assemble(tiles * st["gain"].transpose(1, 2)[..., None, None])

    def _for_matmul(self, t: torch.Tensor) -> torch.Tensor:
        P = t.shape[0]
        return t.permute(0, 2, 4, 1, 3).reshape(P, self.q, self.n, self.p * self.k).contiguous()

    def _chunks(self, B: int) -> list[slice]:
        """Input-tile chunks of a query. Their size depends on B and the layer only, never on P,
        so every setting draws its noise in the same order in a batched and in a separate call."""
        step = max(1, _CHUNK_ELEMENTS // max(B * self.p * self.k, 1))
        return [slice(a, min(a + step, self.q)) for a in range(0, self.q, step)]

    def _pass(self, x: torch.Tensor, wt: torch.Tensor, pw: torch.Tensor | None, states,
              noise_law: tuple[float, float]) -> torch.Tensor:
        """One optical pass through a chunk of tiles: x (P|1, qc, B, n) intensities in [0, 1],
        wt / pw (P, qc, n, p·k) balanced weights / summed port powers → detected, digitised
        tile outputs (P, qc, B, p·k). ``states``: the settings' noise streams (advanced)."""
        t = torch.matmul(x, wt)
        if pw is not None:
            c0, c1 = noise_law
            var = torch.matmul(x, pw).mul_(c1).add_(c0).clamp_(min=0.0)
            z = rng.normal_from_states(states, t[0].numel(), device=t.device).reshape(t.shape)
            t.addcmul_(var.sqrt_(), z)
        if self._adc is not None:
            t.mul_(self._adc.quantize_(t))      # codes × Δ: the ADC's values, in place
        return t

    def query(self, programmed: Programmed, x: torch.Tensor,
              generator: torch.Generator | None = None) -> torch.Tensor:
        """Readout (P, B, n_out) for inputs (B, n_in) or (P, B, n_in); detached."""
        P = programmed.settings
        x = check_input(x, self.n_in, P, self.name)
        st = programmed.state
        with torch.no_grad():
            wt, pw, gain = st["weights_t"], st["power_t"], st["gain"]
            x = x.detach().to(device=wt.device, dtype=torch.float32)
            xn, alpha = encode_inputs(x, self._dac)
            negative = (xn < 0).any(dim=-1)                                   # (P|1, B)
            st["negative_vectors"] = int(negative.sum()) * (P if xn.shape[0] == 1 else 1)
            pad = self.q * self.n - self.n_in
            if pad:
                xn = torch.nn.functional.pad(xn, (0, pad))
            B = xn.shape[1]
            xq = xn.reshape(xn.shape[0], B, self.q, self.n).transpose(1, 2)   # (P|1, q, B, n)
            det = self._detection
            states = rng.row_states(P, generator) if det is not None else None
            law = balanced_noise_law(det, self.bank_power_w) if det is not None else (0.0, 0.0)
            pw = pw if det is not None else None
            # second pass (x⁻) only for settings with a negative input; per setting, so a
            # setting's draws do not depend on the others
            rows = torch.nonzero(negative.any(dim=-1).expand(P)).flatten()
            rows_np = rows.cpu().numpy()
            sign = negative.to(wt.dtype).reshape(-1, 1, B, 1)                # (P|1, 1, B, 1)
            if len(rows):
                wt_r, pw_r = wt[rows], (pw[rows] if pw is not None else None)
                s2 = sign[rows] if sign.shape[0] > 1 else sign
            y = torch.zeros(P, B, self.p, self.k, device=wt.device)
            for sl in self._chunks(B):
                tile = self._pass(xq[:, sl].clamp(min=0.0), wt[:, sl],
                                  pw[:, sl] if pw is not None else None, states, law)
                if len(rows):
                    xm = (-xq[:, sl]).clamp_(min=0.0)
                    xm = xm[rows] if xm.shape[0] > 1 else xm
                    sub = states[rows_np].copy() if states is not None else None
                    t2 = self._pass(xm, wt_r[:, sl], pw_r[:, sl] if pw_r is not None else None,
                                    sub, law)
                    if sub is not None:
                        states[rows_np] = sub
                    tile[rows] -= t2 * s2                                     # digital x⁺ − x⁻
                qc = tile.shape[1]
                tile = tile.reshape(P, qc, B, self.p, self.k)
                y += (tile * gain[:, sl].reshape(P, qc, 1, self.p, 1)).sum(dim=1)   # Σ over q
            y = y.reshape(P, B, self.p * self.k)[..., : self.n_out]
            return (y * alpha).contiguous()

    # ----------------------------------------------------------------- trace
    def program_events(self, programmed: Programmed) -> list[Event]:
        P = programmed.settings
        return [ProgramEvent(layer=self.name, settings=P, knobs_written=P * self.n_knobs, settles=P)]

    def query_events(self, programmed: Programmed, x_shape: tuple[int, ...]) -> list[Event]:
        """Vectors streamed: P·B plus one more pass per vector with a negative entry (counted by
        the last query of ``programmed``)."""
        P, B = programmed.settings, x_shape[-2]
        neg = int(programmed.state.get("negative_vectors", 0))
        vec = P * B + neg
        tiles = self.p * self.q
        return [MvmEvent(layer=self.name, settings=P, vectors=vec,
                         macs=vec * tiles * self.k * self.n,
                         dac_conversions=vec * tiles * self.n, adc_conversions=vec * tiles * self.k,
                         partial_sum_adds=vec * self.p * (self.q - 1) * self.k + neg * self.p * self.q * self.k)]

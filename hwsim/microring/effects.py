"""Effects particular to microring weight banks, each in its typed stage
(:mod:`hwsim.effects.stages`). The heater DAC (``ThermoOpticDAC`` or ``PhaseDAC``), the thermal
crosstalk between heaters (``ThermalCrosstalk``), the input DAC, the photodetectors
(``Detection``) and the output ADC are the shared effect objects of :mod:`hwsim.effects`.

fabrication  ResonanceSpread         static resonance offset per ring, Gaussian in nm, drawn once
                                     from the device seed (fabrication variation of the ring
                                     width/thickness; de Lima et al., "Design automation of
                                     photonic resonator weights", Nanophotonics (2022),
                                     doi:10.1515/nanoph-2022-0049, which reviews these variations)
array        InterChannelCrosstalk   every ring also filters its neighbours' wavelengths: the
                                     Lorentzian tails of the rings along the bus (Tait et al.,
                                     "Microring weight banks", IEEE JSTQE 22(6) 2016)
query        :func:`balanced_noise_law`: shot, dark and thermal noise of the balanced drop/through
                                     photodiode pair, from the optical power the bank receives
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar


from ..effects import rng
from ..effects.detection import Q_E, Detection
from ..effects.validate import require_int, require_nonnegative
from .ring import RingLine
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["ResonanceSpread", "InterChannelCrosstalk", "bank_response", "balanced_noise_law"]


@dataclass(frozen=True)
class ResonanceSpread:
    """Static resonance offset b ~ N(0, σ²) nm per ring (fabrication stage).

    On the ring's round-trip phase it is a bias 2π·b/FSR added after the heater effects (a
    fabrication offset is not heater-induced: it is last in the phase chain, as
    :class:`~hwsim.effects.noise.PhaseBias` is for the mesh)."""

    stage: ClassVar[str] = "fabrication"
    chain_rank: ClassVar[int] = 3

    sigma_nm: float = described(0.03, "std of each ring's static resonance offset", "nm")

    def __post_init__(self) -> None:
        require_nonnegative("ResonanceSpread", "sigma_nm", self.sigma_nm)

    def fabricate(self, layout, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """{"offset_nm": (p, q, k, n) offsets, "mesh": the same as round-trip phases (rad)}."""
        shape = layout.mesh_shape
        z = rng.normal((1, math.prod(shape)), generator).reshape(shape)
        offset = self.sigma_nm * z
        return {"offset_nm": offset, "mesh": offset * (2.0 * math.pi / layout.fsr_nm),
                "sigma": torch.zeros(layout.sigma_shape)}

    def program_phases(self, mesh, sigma, layout, fab):
        return mesh + fab["mesh"].to(mesh.device), sigma


@dataclass(frozen=True)
class InterChannelCrosstalk:
    """Ring m of a bank also filters channel c ≠ m: the ``neighbours`` nearest rings on each side
    along the bus act on every channel (array stage), through their Lorentzian tails.

    Channels pass the rings of a bank in bus order m = 0, 1, …: for channel c the through port
    keeps Π_m T_m(λ_c) and the drop port collects Σ_m D_m(λ_c) Π_{m' < m} T_m'(λ_c) (light a ring
    drops is not filtered again on the drop bus: first order in the tails)."""

    stage: ClassVar[str] = "array"

    neighbours: int = described(
        2, "nearest rings on each side whose Lorentzian tails also filter a channel", "rings")

    def __post_init__(self) -> None:
        require_int("InterChannelCrosstalk", "neighbours", self.neighbours, 1, 64)


def bank_response(detuning_nm: torch.Tensor, line: RingLine, spacing_nm: float,
                  neighbours: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Balanced weights and total power of every channel of every bank.

    ``detuning_nm`` (..., n): each ring's resonance minus its own channel's wavelength (channels
    spaced ``spacing_nm`` apart, ring m on channel m). Returns (W, S), both (..., n):
    W_c = drop_c − through_c (what the balanced pair measures per unit power on channel c) and
    S_c = drop_c + through_c (the power both photodiodes receive: their shot noise).
    ``neighbours`` = 0: each ring acts on its own channel only, W = A·L(δ) − 1.
    """
    n = detuning_nm.shape[-1]
    running = torch.ones_like(detuning_nm)
    drop = torch.zeros_like(detuning_nm)
    loss = 1.0 - line.through_min
    k = min(neighbours, n - 1)
    for o in range(-k, k + 1):              # bus order: ring c + o for o = −k … k
        # ring c + o seen from channel c: its own detuning plus o channel spacings
        if o == 0:
            shape = line.shape(detuning_nm)
        else:
            pad = (0, o) if o > 0 else (-o, 0)
            part = detuning_nm[..., o:] if o > 0 else detuning_nm[..., :o]
            shape = line.shape(torch.nn.functional.pad(part, pad).add_(o * spacing_nm))
            idx = torch.arange(n, device=detuning_nm.device)
            shape.mul_(((idx < n - o) if o > 0 else (idx >= -o)).to(shape.dtype))
        drop.addcmul_(shape, running, value=line.drop_peak)     # D_m Π_{m' < m} T_m'
        running.addcmul_(running, shape, value=-loss)            # × T_m = 1 − (1 − T_min) L_m
    return drop - running, drop + running


def balanced_noise_law(det: Detection, bank_power_w: float) -> tuple[float, float]:
    """(c0, c1): variance of a normalised balanced-pair output is c0 + c1·s, s = Σ_c S_c x_c.

    Two direct photodiodes (drop, through) on one transimpedance amplifier (``det.mode`` must be
    "intensity": each diode is a direct detector; Tait et al., Sci. Rep. 7:7430 (2017) balanced
    weight-bank detection). Per full-scale channel the bank receives ``bank_power_w``; currents
    are divided by R·P_bank, so a lossless drop gives 1:
    σ_I² = 2qB(R·P_bank·s + 2·I_dark) + 4k_BTB/R_L (dark current of both diodes, one load).
    """
    r, b = det.responsivity_a_per_w, det.bandwidth_hz
    scale = r * bank_power_w
    c0 = (2 * Q_E * b * 2 * det.dark_current_a + det.thermal_var_a2()) / scale ** 2
    c1 = 2 * Q_E * b / scale
    return c0, c1

"""Photodetection with noise derived from the optical power at each detector (query stage).

Power budget (devices.md §5.9–5.10, cost.md §1.3): one laser of ``laser_power_w`` feeds the
layer — or, with ``modulator_power_w`` set, a laser sized to the array, ``modulator_power_w`` per
input modulator (P_laser = modulator_power_w · p q k), so the SNR does not fall with the layer
size (a fixed 10 mW fanned out over a 784×128 layer's 12,544 modulators leaves 0.4 µW each and a
thermal-noise-limited SNR below 1); a fraction ``lo_fraction`` goes to the local oscillators (homodyne only), the rest is
split evenly over the p·q·k input modulators. An input x_j = ±1 carries P_m = (1 − f_LO)
P_laser/(p q k) at its modulator; block outputs ŷ_i (field units of √P_m, insertion loss and Σ
included) reach detector i with power P_m |ŷ_i|².

* ``homodyne`` (balanced, LO from the same laser, phase-locked; two photodiodes per output,
  Hamerly et al., PRX 9, 021032 (2019)): I = 2R √(P_LO P_m) Re ŷ, P_LO = f_LO P_laser/(p q k)
  per detector; σ_I² = 2qB[R(P_LO + P_m|ŷ|²) + 2 I_dark] + 4 k_B T B / R_L — the shot noise of the
  full optical power on the two photodiodes, |ŷ|² = (Re ŷ)² + (Im ŷ)², whatever the phase of the
  field against the LO (a field in quadrature adds no signal but all its shot noise). With a strong LO the
  full-scale SNR is 2R P_m/(qB): 27.95 dB at P_m = 1 µW, B = 20 GHz, R = 1 A/W.
* ``intensity`` (direct detection, Shen et al. 2017, FICONN): I = R P_m |ŷ|²,
  σ_I² = 2qB(I + I_dark) + 4 k_B T B / R_L; the layer output is |ŷ|² (square law, sign lost).

Outputs are returned in normalised units (I divided by the full-scale responsivity factor), so
an ideal detector returns Re ŷ or |ŷ|². Detector constants: photontorch ``photodetector.py``
(R = 1 A/W, I_dark = 0.1 nA, R_L = 166 Ω, T = 300 K, B = 20 GHz; devices.md §5.10).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar


from .validate import require_nonnegative, require_positive, require_range
from ..meaning import described

from hwsim.lazy import torch

__all__ = ["Detection", "Q_E", "K_B"]

Q_E = 1.602176634e-19     # elementary charge, C (SI exact)
K_B = 1.380649e-23        # Boltzmann constant, J/K (SI exact)
MODES = ("homodyne", "intensity")


@dataclass(frozen=True)
class Detection:
    """Detector per output: balanced homodyne or intensity, with shot, thermal and dark noise."""

    stage: ClassVar[str] = "query"

    mode: str = described(
        "homodyne", "'homodyne' (balanced, signed field) or 'intensity' (|y|², sign lost)", "")
    # 10 mW on-chip laser (toolkit value; cost.md §1.3 budget)
    laser_power_w: float = described(0.01, "on-chip laser power of the layer", "W")
    # half the laser to the LOs (toolkit value)
    lo_fraction: float = described(
        0.5, "fraction of the laser sent to the local oscillators (homodyne)", "1")
    # photontorch ``photodetector.py``
    responsivity_a_per_w: float = described(1.0, "photodiode responsivity", "A/W")
    # photontorch; cost.md PD bandwidth 20 GHz
    bandwidth_hz: float = described(
        20e9, "detector bandwidth B (shot and thermal noise power ∝ B)", "Hz")
    # photontorch
    temperature_k: float = described(
        300.0, "temperature of the load's thermal (Johnson) noise", "K")
    # photontorch R_L
    load_ohm: float = described(166.0, "load resistance R_L of the thermal noise", "Ω")
    # photontorch I_dark
    dark_current_a: float = described(1e-10, "photodiode dark current", "A")
    modulator_power_w: float | None = described(
        None,
        "laser sized to the array: power per input modulator (None: laser_power_w per layer)", "W")

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"Detection.mode = {self.mode!r}; allowed: {', '.join(MODES)}")
        require_positive("Detection", "laser_power_w", self.laser_power_w)
        require_range("Detection", "lo_fraction", self.lo_fraction, 0.0, 0.999)
        if self.mode == "homodyne" and self.lo_fraction == 0.0:
            raise ValueError("Detection.lo_fraction = 0.0; allowed: > 0 for mode 'homodyne' (it needs a LO)")
        require_positive("Detection", "responsivity_a_per_w", self.responsivity_a_per_w)
        require_positive("Detection", "bandwidth_hz", self.bandwidth_hz)
        require_nonnegative("Detection", "temperature_k", self.temperature_k)
        require_positive("Detection", "load_ohm", self.load_ohm)
        require_nonnegative("Detection", "dark_current_a", self.dark_current_a)
        if self.modulator_power_w is not None:
            require_positive("Detection", "modulator_power_w", self.modulator_power_w)

    @property
    def coherent(self) -> bool:
        return self.mode == "homodyne"

    @property
    def photodiodes_per_output(self) -> int:
        return 2 if self.coherent else 1

    def total_laser_power_w(self, modulators: int) -> float:
        """Optical power of the laser feeding ``modulators`` input modulators, W."""
        if self.modulator_power_w is None:
            return self.laser_power_w
        return self.modulator_power_w * modulators

    def mode_power_w(self, modulators: int) -> float:
        """P_m: signal power of a full-scale input at one of ``modulators`` modulators."""
        share = 1.0 - (self.lo_fraction if self.coherent else 0.0)
        return share * self.total_laser_power_w(modulators) / modulators

    def lo_power_w(self, detectors: int) -> float:
        return (self.lo_fraction * self.total_laser_power_w(detectors) / detectors
                if self.coherent else 0.0)

    def thermal_var_a2(self) -> float:
        return 4.0 * K_B * self.temperature_k * self.bandwidth_hz / self.load_ohm

    def full_scale_snr(self, p_signal_w: float, p_lo_w: float | None = None) -> float:
        """SNR (power ratio) of a full-scale output ŷ = 1 at signal power ``p_signal_w``.

        Homodyne with ``p_lo_w=None`` is the strong-LO limit 2R P_s/(qB) (shot noise of the LO
        only); otherwise every noise term of :meth:`detect` is included.
        """
        r, b = self.responsivity_a_per_w, self.bandwidth_hz
        if self.coherent and p_lo_w is None:
            return 2.0 * r * p_signal_w / (Q_E * b)
        if self.coherent:
            signal = (2.0 * r * math.sqrt(p_lo_w * p_signal_w)) ** 2
            var = 2 * Q_E * b * (r * (p_lo_w + p_signal_w) + 2 * self.dark_current_a) + self.thermal_var_a2()
            return signal / var
        i = r * p_signal_w
        return i ** 2 / (2 * Q_E * b * (i + self.dark_current_a) + self.thermal_var_a2())

    def noise_law(self, modulators: int) -> tuple[float, float]:
        """(c0, c1): the variance of a normalised detector output is c0 + c1·|ŷ|² (the detected
        optical power, homodyne and intensity alike) — the closed form of :meth:`detect` (same terms,
        divided by the squared full-scale responsivity factor), for the fused readout kernel
        (:mod:`hwsim.photonic.kernels`; the two are pinned equal in tests)."""
        r, b = self.responsivity_a_per_w, self.bandwidth_hz
        p_m = self.mode_power_w(modulators)
        thermal = self.thermal_var_a2()
        if self.coherent:
            p_lo = self.lo_power_w(modulators)
            scale = 2.0 * r * math.sqrt(p_lo * p_m)
            c0 = (2 * Q_E * b * (r * p_lo + 2 * self.dark_current_a) + thermal) / scale ** 2
            return c0, 2 * Q_E * b * r * p_m / scale ** 2
        scale = r * p_m
        return (2 * Q_E * b * self.dark_current_a + thermal) / scale ** 2, 2 * Q_E * b / scale

    def detect(self, field: torch.Tensor, z: torch.Tensor, modulators: int) -> torch.Tensor:
        """Normalised detector outputs from block output fields ŷ (complex; a real tensor is taken
        as a field in phase with the LO), given standard normals ``z`` of the same shape.
        ``modulators`` = p·q·k input modulators fed by the laser (= detectors)."""
        r, b = self.responsivity_a_per_w, self.bandwidth_hz
        p_m = self.mode_power_w(modulators)
        if self.coherent:
            p_lo = self.lo_power_w(modulators)
            y = field.real if field.is_complex() else field
            power = field.abs() ** 2 if field.is_complex() else y * y   # |ŷ|²: all the light
            scale = 2.0 * r * math.sqrt(p_lo * p_m)                 # A per unit of Re ŷ
            shot = 2 * Q_E * b * (r * (p_lo + p_m * power) + 2 * self.dark_current_a)
            sigma = torch.sqrt(shot + self.thermal_var_a2()) / scale
            return y + sigma * z
        power = field.abs() ** 2 if field.is_complex() else field * field
        scale = r * p_m                                              # A per unit of |ŷ|²
        var = 2 * Q_E * b * (scale * power + self.dark_current_a) + self.thermal_var_a2()
        return power + torch.sqrt(var) / scale * z

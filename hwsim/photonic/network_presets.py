"""Whole-network photonic presets (:class:`~.meshnet.MeshNetworkConfig`); every number cites
its source, and a number the sources do not give is marked (assumed).

``pai-4port``  Pai et al., Science 380, 398 (2023), doi:10.1126/science.ade8450: three layers of
               4-port triangular meshes with a power monitor at every phase shifter; the
               nonlinearity |y| is measured and re-injected (authors' ``solgaardlab/phox``
               ``phox/apps/onn.py``: ``Tri(4, activation=jnp.abs)`` × 3, ``triangular(4)`` from
               simphox). Non-idealities at the middle of the authors' simulation sweep
               (``solgaardlab/photonicbackprop`` ``sim_data.nc`` coordinates:
               io_amp_error_std ∈ {0, 0.025, 0.05}, io_phase_error_std ∈ {0, 0.025, 0.05},
               loss_db_std ∈ {0, 0.05}, tap_pd_shot_noise ∈ {0, 0.005, 0.01, 0.02}): field
               errors 0.025, shot noise 0.01, shifter loss 0.05 dB (the sweep's largest levels
               model a worse chip than the one that reached > 94 %).
``ficonn-6x3`` FICONN (Bandyopadhyay et al., Nat. Photon. 2024, arXiv:2208.01623): three 6×6
               Clements units, NOFUs on all 6 modes after units 1 and 2 (132 parameters), direct
               detection. Built from the ``mzi-ficonn`` cost preset (16-bit phase control,
               13-bit inputs, 8-bit readout, 0.002 rad phase noise) plus the paper's calibration
               figure: unitary fidelity 0.987 ± 0.007 after calibration (devices.md §5.13) read
               as a residual static phase error per shifter σ = √(−2 ln F / n_path) with
               n_path = 13 shifters on a path through a 6-mode Clements mesh (6 MZIs × 2 + 1
               screen): σ = 0.045 rad (derived).
"""
from __future__ import annotations

import math
from typing import Callable

from ..effects.noise import PhaseNoise
from ..effects.nofu import NOFU
from ..effects.phase_shifter import ThermoOpticDAC
from ..effects.quantize import InputDAC, OutputADC
from .meshnet import MeshNetworkConfig
from .presets import FICONN_MODES, PHOTONIC_PRESETS

__all__ = ["NETWORK_PRESETS", "FICONN_FIDELITY", "FICONN_PATH_SHIFTERS", "residual_phase_error"]

#: FICONN 6×6 unitary fidelity after calibration (arXiv:2208.01623v1; devices.md §5.13).
FICONN_FIDELITY = 0.987
#: phase shifters on one input→output path of a 6-mode Clements mesh: depth 6 MZIs × (θ, φ) + γ.
FICONN_PATH_SHIFTERS = 2 * FICONN_MODES + 1


def residual_phase_error(fidelity: float, shifters_on_path: int) -> float:
    """σ (rad) of independent Gaussian phase errors giving mean unitary fidelity ``fidelity``:
    E|e^{iΣε}| = exp(−n σ²/2) over n shifters on a path → σ = √(−2 ln F / n)."""
    return math.sqrt(-2.0 * math.log(fidelity) / shifters_on_path)


def _pai() -> MeshNetworkConfig:
    return MeshNetworkConfig(
        modes=4, layers=3, mesh="reck", nonlinearity="abs-measured", monitors=True,
        io_amp_error=0.025,         # photonicbackprop sim_data.nc io_amp_error_std (middle)
        io_phase_error=0.025,       # io_phase_error_std, × π rad as in get_noisy_meas (middle)
        monitor_noise=0.01,         # tap_pd_shot_noise on the monitors (middle of 0–0.02)
        shifter_loss_db_std=0.05,   # loss_db_std (the non-zero level)
    )


def _ficonn() -> MeshNetworkConfig:
    cost = PHOTONIC_PRESETS["mzi-ficonn"]()
    return MeshNetworkConfig(
        modes=cost.block, layers=3, mesh=cost.mesh, nonlinearity="nofu", monitors=False,
        phase_bits=cost.effect(ThermoOpticDAC).bits,        # 16-bit phase control
        input_bits=cost.effect(InputDAC).bits,              # "more than 13 bits" input precision
        adc_bits=cost.effect(OutputADC).bits,               # 8-bit readout
        phase_noise_rad=cost.effect(PhaseNoise).sigma_rad,  # 0.002 rad (devices.md §5.13)
        phase_error_rad=residual_phase_error(FICONN_FIDELITY, FICONN_PATH_SHIFTERS),
        readout_noise=1e-3,         # (assumed) readout noise K: the paper's value not at hand
        unit_power_w=1e-3,          # 1 mW per unit amplitude: the mzi-ficonn laser (assumed there)
        # NOFU: R = 1 A/W (devices.md §5.10 photodiode default), G and V_π (assumed) so that
        # κ = π R G / V_π = π rad per mW of tapped power: the NOFU bends inside the input range.
        nofu=NOFU(responsivity_a_per_w=1.0, gain_v_per_a=2.0e3, v_pi_v=2.0),
    )


NETWORK_PRESETS: dict[str, Callable[[], MeshNetworkConfig]] = {
    "pai-4port": _pai,
    "ficonn-6x3": _ficonn,
    "pai-4port-ideal": lambda: MeshNetworkConfig(modes=4, layers=3, mesh="reck"),
}

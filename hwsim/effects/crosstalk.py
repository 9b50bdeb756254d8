"""Thermal crosstalk between heaters (program time), devices.md §5.5.

Linear neighbour model on the heater-induced phase only: φ' = (I + c·A) φ_heater, A the 0/1
adjacency of heaters on the physical layout (:attr:`hwsim.photonic.layout.MeshLayout.mesh_adjacency`,
derived from the topology). c = 0.005 in the L2ight configs, 0.01 the torchonn class default
(``torchonn/op/mzi_op.py`` ``ThermalCrosstalkSimulator``); sweep 0–0.02.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .validate import require_range
from ..meaning import described

__all__ = ["ThermalCrosstalk"]


@dataclass(frozen=True)
class ThermalCrosstalk:
    """Each heater adds ``coupling`` × its phase to every neighbouring shifter."""

    stage: ClassVar[str] = "program"
    chain_rank: ClassVar[int] = 2          # after the DAC and γ: it acts on heater phases

    coupling: float = described(
        0.005, "fraction of each heater's phase added to every neighbouring shifter", "1")

    def __post_init__(self) -> None:
        require_range("ThermalCrosstalk", "coupling", self.coupling, 0.0, 0.5)

    def program_phases(self, mesh, sigma, layout, fab):
        a_mesh = layout.mesh_adjacency.to(device=mesh.device, dtype=mesh.dtype)
        a_sig = layout.sigma_adjacency.to(device=sigma.device, dtype=sigma.dtype)
        return (mesh + self.coupling * mesh @ a_mesh.T,
                sigma + self.coupling * sigma @ a_sig.T)

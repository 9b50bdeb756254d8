"""The oracle network: a model description's stages, one oracle per device block, the trained
knob map of each device, and the perturbation-size rule.

Only the oracle contract is used (``knob_spec``, ``info``, ``program``, ``query``) plus the
optional ``nominal`` capability where an algorithm declares it needs it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from torch import Tensor

from hwsim.oracle import Oracle, Programmed

from .knobmaps import KnobMap, knob_map_for
from .model import ModelDescription, Stage

__all__ = ["OracleNetwork", "perturbation_step", "WRITE_NOISE_RANGE_UNITS", "LSB_MULTIPLE",
           "NOISE_MULTIPLE"]

#: Datasheet write (programming) noise per trained knob, in range units, by device kind (what a
#: user knows about the technology, not a hidden per-device value). Crossbar: σ_prog = 3.8 % of
#: g_max = 0.95 µS at ĝ = 0.5 (Nandakumar et al., ICECS 2019, fit in AIHWKIT ``pcm.py``;
#: devices.md §6) over the pair knob's range 2·(g_max − g_min) = 50 µS → 0.019. MZI phases are
#: written by a deterministic DAC (static phase biases cancel in a ± difference): 0.
WRITE_NOISE_RANGE_UNITS = {"crossbar": 0.95 / 50.0, "mzi": 0.0}
LSB_MULTIPLE = 4.0      # per-knob step ≥ 4 DAC/level steps, so a ± pair moves ≥ 8 codes
NOISE_MULTIPLE = 2.0    # per-knob step ≥ 2 σ_write (see perturbation_step)


def perturbation_step(knob_map: KnobMap, write_noise_range_units: float,
                      requested: float | None = None) -> float:
    """Per-knob (rms) perturbation in range units, by the documented rule

        ε = max(requested or 0, LSB_MULTIPLE · LSB, NOISE_MULTIPLE · σ_write).

    Why: a step below the DAC step is rounded away (algorithms.md §1, §14.5). Each perturbed
    setting is a fresh write with independent noise n_j ~ σ_write per knob; the loss change it
    causes is Σ_j g_j n_j ~ σ_write‖g‖ while a Rademacher/orthonormal-frame step of ε per knob
    changes the loss by ~ε‖g‖, so the ± difference has SNR ≈ √2·ε/σ_write independent of d:
    ε = 2σ_write gives SNR ≈ 2.8 per direction. Larger ε adds O(ε²) curvature bias, hence the
    smallest ε that clears both floors.
    """
    floors = [LSB_MULTIPLE * knob_map.lsb_range_units, NOISE_MULTIPLE * write_noise_range_units]
    if requested is not None:
        floors.append(float(requested))
    return max(floors)


@dataclass
class OracleNetwork:
    """Stages of ``model`` with their oracles and knob maps (one oracle per device block)."""

    model: ModelDescription
    oracles: list[Oracle]
    maps: list[KnobMap]
    stages: list[Stage]

    @classmethod
    def build(cls, model: ModelDescription, oracles: Sequence[Oracle]) -> "OracleNetwork":
        stages = model.stages()
        if len(oracles) != len(stages):
            raise ValueError(f"the model has {len(stages)} device blocks but {len(oracles)} "
                             "devices were given; allowed: one device per block")
        for st, o in zip(stages, oracles):
            n_out, n_in = st.device_shape
            if (o.n_in, o.n_out) != (n_in, n_out):
                raise ValueError(f"device {o.name!r} is {o.n_in}→{o.n_out} but stage {st.index} "
                                 f"needs {n_in}→{n_out}")
        maps = [knob_map_for(o.knob_spec, o.info().knob_bits) for o in oracles]
        return cls(model, list(oracles), maps, stages)

    def device_kind(self, i: int) -> str:
        return self.oracles[i].info().device

    def program(self, i: int, theta: Tensor, fixed: Mapping[str, Tensor],
                gen: torch.Generator) -> Programmed:
        """Program θ (d,) or (n, d) settings of stage i."""
        return self.oracles[i].program(self.maps[i].unflatten(theta, fixed), gen)

    def device_forward(self, i: int, prog: Programmed, a: Tensor, gen: torch.Generator) -> Tensor:
        """Stage input a (1|n, B, *in_shape) → readout (n, B, *device_out_shape)."""
        st = self.stages[i]
        z = self.oracles[i].query(prog, st.device_inputs(a), gen)
        return st.device_readout(z, a.shape[1])

"""The oracle network: a model description's stages, one oracle per device block, the trained
knob map of each device, and the perturbation-size rule.

Only the oracle contract is used (``knob_spec``, ``info``, ``program``, ``query``) plus the
optional ``nominal`` capability where an algorithm declares it needs it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence


from hwsim.oracle import Oracle, Programmed

from .knobmaps import KnobMap, knob_map_for
from .model import ModelDescription, Stage

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["OracleNetwork", "perturbation_step", "knob_steps", "projection_dims", "device_hint", "LSB_MULTIPLE",
           "NOISE_MULTIPLE"]

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


def device_hint(oracle, key: str, default: float | None = None) -> float | None:
    """A technology value the device kind publishes for algorithms (``Oracle.hints``, e.g.
    ``write_noise_range_units``: the datasheet write noise per knob; ``zo_knob_lr_range_units``:
    a ZO knob step size chosen on validation splits), else ``default``."""
    hints = oracle.hints() if callable(getattr(oracle, "hints", None)) else {}
    return hints.get(key, default)


def knob_steps(oracles: Sequence[Oracle], maps: Sequence[KnobMap], settings) -> list[float]:
    """Per-knob perturbation of each device by :func:`perturbation_step`: the settings'
    ``epsilon_knob_range_units`` raised to the device's floors; the write noise is the settings'
    ``write_noise_range_units`` where set, else the device's ``write_noise_range_units`` hint."""
    out = []
    for o, m in zip(oracles, maps):
        wn = settings.write_noise_range_units
        wn = device_hint(o, "write_noise_range_units", 0.0) if wn is None else wn
        out.append(perturbation_step(m, wn, settings.epsilon_knob_range_units))
    return out


def projection_dims(k: int | None, net: "OracleNetwork") -> list[int | None]:
    """Per stage, the random projection of its local head: ``k`` where the stage is wider than
    ``k``, else None (no projection)."""
    return [k if k is not None and st.n_features > k else None for st in net.stages]


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

    def program(self, i: int, theta: Tensor, fixed: Mapping[str, Tensor],
                gen: torch.Generator) -> Programmed:
        """Program θ (d,) or (n, d) settings of stage i."""
        return self.oracles[i].program(self.maps[i].unflatten(theta, fixed), gen)

    def device_forward(self, i: int, prog: Programmed, a: Tensor, gen: torch.Generator) -> Tensor:
        """Stage input a (1|n, B, *in_shape) → readout (n, B, *device_out_shape)."""
        st = self.stages[i]
        z = self.oracles[i].query(prog, st.device_inputs(a), gen)
        return st.device_readout(z, a.shape[1])

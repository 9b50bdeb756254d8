"""The microring weight-bank kind (see :mod:`hwsim.kinds`).

Algorithm-facing defaults (Oracle.hints):
* write noise 0: ring heaters are written by a deterministic DAC;
* ZO knob step 2e-3 (range units of the heater range [0, 2π(δ₀ + spacing/2)/FSR]): digits
  (MLP 64-32-32, mrr-default, 20 epochs, 10 % validation split of the training set, seed 0)
  validation 0.958 / 0.965 / 0.965 at 5e-4 / 2e-3 / 8e-3 (the smaller of the tied steps);
* hardware-aware training noise: the 12-bit heater DAC step at the operating point,
  9.1e-4 rad of round-trip phase over the 0.348 rad range, /√12 → 7.5e-4 (derived).
"""
from __future__ import annotations

import math

from ..kinds import DeviceKind, Footprint, fabricated_bytes, register
from .cost import SECTION, microring_spec
from .device import DEVICE, MRRBankLayer, MRRConfig
from .presets import MRR_PRESETS

HINTS = {"write_noise_range_units": 0.0, "zo_knob_lr_range_units": 2e-3,
         "hwa_knob_noise_range_units": 7.5e-4}

def footprint(config: MRRConfig, n_in: int, n_out: int) -> Footprint:
    """p × q tiles of k banks × n rings (p = ⌈n_out/k⌉, q = ⌈n_in/n⌉), each with k·n ring
    phases and one gain (MRRBankLayer.knob_spec); resident: two float32 arrays per ring of every
    fabricated effect (a ring draw is kept in nm and as round-trip phase: ResonanceSpread's
    ``offset_nm`` and ``mesh``)."""
    k, n = config.bank_rows, config.channels
    tiles = math.ceil(n_out / k) * math.ceil(n_in / n)
    return Footprint(knobs=tiles * (k * n + 1), tiles=tiles, tile_rows=n, tile_cols=k,
                     resident_bytes=2 * fabricated_bytes(config.effects, tiles * k * n))


MRR = register(DeviceKind(
    name=DEVICE, label="MRR weight bank", config_type=MRRConfig, build=MRRBankLayer,
    presets=MRR_PRESETS, knob_names=("ring_phases", "gain"), cost_section=SECTION,
    capabilities=frozenset({"nominal"}), hints=HINTS, default_preset="mrr-default",
    order=200, cost_spec=microring_spec, footprint=footprint))

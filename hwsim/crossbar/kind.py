"""The memristive-crossbar kind (see :mod:`hwsim.kinds`)."""
from __future__ import annotations

from ..kinds import DeviceKind, register
from .device import CrossbarConfig, CrossbarLayer
from .presets import CROSSBAR_PRESETS

#: Datasheet write (programming) noise per trained knob, in range units (what a user knows about
#: the technology, not a hidden per-device value): σ_prog = 3.8 % of g_max = 0.95 µS at ĝ = 0.5
#: (Nandakumar et al., ICECS 2019, fit in AIHWKIT ``pcm.py``; devices.md §6) over the pair knob's
#: range 2·(g_max − g_min) = 50 µS → 0.019.
WRITE_NOISE_RANGE_UNITS = 0.95 / 50.0

#: Algorithm-facing defaults (Oracle.hints):
#: * ZO knob step 1e-2 (mfdd's Adam step on θ): digits (64-32, crossbar-default, batch 16,
#:   2 epochs, three seeds) +2.8 points over frozen on average; 3e-2 gains more in short runs
#:   (+3.6) but drifts away in long ones (Fashion-MNIST, 422 steps: 0.717 against frozen 0.777);
#: * hardware-aware training noise: the datasheet programming noise above.
HINTS = {"write_noise_range_units": WRITE_NOISE_RANGE_UNITS,
         "zo_knob_lr_range_units": 1e-2,
         "hwa_knob_noise_range_units": WRITE_NOISE_RANGE_UNITS}

CROSSBAR = register(DeviceKind(
    name="crossbar", label="memristive crossbar", config_type=CrossbarConfig,
    build=CrossbarLayer, presets=CROSSBAR_PRESETS, knob_names=("conductances", "tile_scale"),
    cost_section="crossbar", capabilities=frozenset({"nominal"}), hints=HINTS,
    default_preset="crossbar-default", order=1))

"""The MZI-mesh kind (see :mod:`hwsim.kinds`)."""
from __future__ import annotations

import math

from ..kinds import DeviceKind, register
from .device import MZIConfig, MZIMeshLayer
from .presets import PHOTONIC_PRESETS

#: Algorithm-facing defaults (Oracle.hints):
#: * write noise 0: phases are written by a deterministic DAC (static phase biases cancel in a
#:   ± difference);
#: * ZO knob step 2e-3 (mfdd's Adam step on θ, range units, chosen on validation splits). A ZO
#:   estimate over d knobs is mostly noise (cos ≈ √(P/d) to the gradient, algorithms.md §3) and
#:   Adam turns every coordinate's noise into a ±lr step, so the knobs random-walk by ≈ lr·√steps;
#:   a mesh phase rotates light through every MZI after it, so the mesh tolerates a smaller walk
#:   than a conductance. Digits (MLP 64-32-32, mzi-default, 20 epochs, validation split of the
#:   training set) 0.930 with the stages' predictions summed (0.885 with the last head alone;
#:   frozen 0.875 / 0.798); 1e-2 destroys the mesh (0.39 test);
#: * hardware-aware training noise: 8-bit phase DAC rounding, LSB/√12 = (1/255)/√12 = 1.1e-3
#:   (L2ight ``weight_bit: 8``, arXiv:2110.14807) with phase noise 0.002 rad / 2π = 3.2e-4
#:   (devices.md §5.13) in quadrature → 1.2e-3.
HINTS = {"write_noise_range_units": 0.0,
         "zo_knob_lr_range_units": 2e-3,
         "hwa_knob_noise_range_units": math.hypot(1 / 255 / math.sqrt(12), 0.002 / (2 * math.pi))}

MZI = register(DeviceKind(
    name="mzi", label="MZI mesh", config_type=MZIConfig, build=MZIMeshLayer,
    presets=PHOTONIC_PRESETS, knob_names=("mesh_phases", "sigma_phases", "gain"),
    cost_section="mzi", capabilities=frozenset({"nominal", "calibrate"}), hints=HINTS,
    default_preset="mzi-default", order=0))

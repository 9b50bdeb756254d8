"""The MZI-mesh kind (see :mod:`hwsim.kinds`)."""
from __future__ import annotations

import math

from ..kinds import DeviceKind, Footprint, fabricated_bytes, register
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

def crosstalk_layout_bytes(k: int) -> int:
    """Peak bytes of :attr:`hwsim.photonic.layout.MeshLayout.mesh_adjacency` for a k-mode
    block: two int64 (m, m) distance tables and their boolean neighbour mask (m = k(k-1)/2
    MZIs) plus the float32 (k², k²) adjacency."""
    m = k * (k - 1) // 2
    return 2 * 8 * m * m + m * m + 4 * k ** 4


def memory_check(config: MZIConfig, available: float) -> None:
    """Refuse a block size whose thermal-crosstalk heater layout cannot fit in ``available``
    bytes (one line naming the largest block that fits)."""
    k = getattr(config, "block", None)
    if not isinstance(k, int) or not any(type(e).__name__ == "ThermalCrosstalk"
                                         for e in getattr(config, "effects", ())):
        return
    need = crosstalk_layout_bytes(k)
    if need <= available:
        return
    best = k
    while best > 2 and crosstalk_layout_bytes(best) > available:
        best -= 1
    raise ValueError(f"device.block = {k} needs about {need / 2 ** 30:.1f} GiB for the thermal-"
                     f"crosstalk heater layout of one {k}-mode mesh ({k * (k - 1) // 2} MZIs); "
                     f"{available / 2 ** 30:.1f} GiB are available; allowed here: device.block "
                     f"at most {best}, or device.thermal_crosstalk.enabled = false")


def footprint(config: MZIConfig, n_in: int, n_out: int) -> Footprint:
    """p × q blocks of k modes (p = ⌈n_out/k⌉, q = ⌈n_in/k⌉), each with two meshes of k²
    phases, k Σ phases and one gain (MZIMeshLayer.knob_spec); resident: one float32 draw per
    knob of every fabricated effect, plus the heater layout of thermal crosstalk."""
    k = config.block
    blocks = math.ceil(n_out / k) * math.ceil(n_in / k)
    knobs = blocks * (2 * k * k + k + 1)
    layout = crosstalk_layout_bytes(k) if any(type(e).__name__ == "ThermalCrosstalk"
                                              for e in config.effects) else 0
    return Footprint(knobs=knobs, tiles=blocks, tile_rows=k, tile_cols=k,
                     resident_bytes=fabricated_bytes(config.effects, knobs) + layout)


MZI = register(DeviceKind(
    name="mzi", label="MZI mesh", config_type=MZIConfig, build=MZIMeshLayer,
    presets=PHOTONIC_PRESETS, knob_names=("mesh_phases", "sigma_phases", "gain"),
    cost_section="mzi", capabilities=frozenset({"nominal", "calibrate"}), hints=HINTS,
    default_preset="mzi-default", order=0, memory_check=memory_check,
    footprint=footprint))

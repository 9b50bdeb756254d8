"""The memristive-crossbar kind (see :mod:`hwsim.kinds`)."""
from __future__ import annotations

import math

from ..effects.bit_slicing import BitSlicing
from ..kinds import DeviceKind, Footprint, fabricated_bytes, register
from .device import CrossbarConfig, CrossbarLayer
from .presets import CROSSBAR_PRESETS
from .slicing import BitSlicedCrossbar

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

def build_crossbar(n_in: int, n_out: int, config: CrossbarConfig | None = None, *, seed: int = 0,
                   name: str = "crossbar") -> CrossbarLayer:
    """One crossbar layer: a :class:`BitSlicedCrossbar` where the config slices each weight over
    several cell pairs, else a plain :class:`CrossbarLayer`."""
    if config is not None and config.effect(BitSlicing) is not None:
        return BitSlicedCrossbar(n_in, n_out, config, seed=seed, name=name)
    return CrossbarLayer(n_in, n_out, config, seed=seed, name=name)


def footprint(config: CrossbarConfig, n_in: int, n_out: int) -> Footprint:
    """Tiles of min(tile_rows, n_in) × min(tile_cols, n_out′) over n_out′ = n_out × slices
    physical columns; knobs: the (2, n_out′, n_in) pair conductances and one scale per tile (or
    per column) and input tile (CrossbarLayer.knob_spec); resident: the int64 write counter of
    every cell plus one float32 draw per cell of every fabricated effect."""
    slicing = config.effect(BitSlicing)
    cols_out = n_out * (slicing.slices if slicing is not None else 1)
    rows, cols = min(config.tile_rows, n_in), min(config.tile_cols, cols_out)
    tiles_in, tiles_out = math.ceil(n_in / rows), math.ceil(cols_out / cols)
    cells = 2 * cols_out * n_in
    scales = (cols_out if config.scale_per_column else tiles_out) * tiles_in
    return Footprint(knobs=cells + scales, tiles=tiles_in * tiles_out, tile_rows=rows,
                     tile_cols=cols,
                     resident_bytes=8 * cells + fabricated_bytes(config.effects, cells))


CROSSBAR = register(DeviceKind(
    name="crossbar", label="crossbar", config_type=CrossbarConfig,
    build=build_crossbar, presets=CROSSBAR_PRESETS, knob_names=("conductances", "tile_scale"),
    cost_section="crossbar", capabilities=frozenset({"nominal"}), hints=HINTS,
    default_preset="crossbar-default", order=1, footprint=footprint))

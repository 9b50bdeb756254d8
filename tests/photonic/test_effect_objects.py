"""Every photonic effect is a staged, frozen dataclass whose fields are its parameters."""
import dataclasses

import pytest

from hwsim.effects.quantize import InputDAC, OutputADC
from hwsim.effects.stages import STAGES, by_stage, stage_of
from hwsim.photonic.device import MZIConfig
from hwsim.photonic.presets import PHOTONIC_PRESETS

PHOTONIC = [t for t in MZIConfig.EFFECT_TYPES if t not in (InputDAC, OutputADC)]


@pytest.mark.parametrize("kind", PHOTONIC, ids=lambda t: t.__name__)
def test_effect_is_a_staged_frozen_dataclass(kind):
    assert dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen
    e = kind()
    assert stage_of(e) in STAGES
    assert set(vars(e)) == {f.name for f in dataclasses.fields(e)}     # no hidden state
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(e, dataclasses.fields(e)[0].name, 1)
    # it acts through one of the device hooks of its stage
    hooks = {"fabrication": ("fabricate",), "program": ("program_phases",), "array": ("array_terms",),
             "query": ("query_phases", "detect", "from_normal")}[stage_of(e)]
    assert any(hasattr(e, h) for h in hooks)


def test_default_preset_covers_every_stage():
    effects = tuple(e for e in PHOTONIC_PRESETS["mzi-default"]().effects if not isinstance(e, (InputDAC, OutputADC)))
    for stage in STAGES:
        assert by_stage(effects, stage), stage


def test_heater_inventory_counts_push_pull_sigma_heaters():
    from hwsim.photonic.device import MZIMeshLayer
    dev = MZIMeshLayer(16, 8)
    assert dev.layout.heaters_per_tile == 2 * 64 + 2 * 8 == 144
    assert dev.layout.n_shifters == 2 * (2 * 64 + 8)       # programmable phases of the 2 blocks

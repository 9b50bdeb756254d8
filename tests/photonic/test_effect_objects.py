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
             "query": ("query_phases", "detect", "from_normal", "convert")}[stage_of(e)]
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


def test_device_survives_pickling_with_its_fabrication_draws():
    """Checkpoints and sweep workers pickle devices: the fabricated state must come along
    (keyed by effect type, not by object identity) and give the same readout."""
    import pickle
    import torch
    from hwsim.presets import build_layer
    dev = build_layer("mzi-default", 16, 8, seed=3)
    knobs = dev.knobs_from_weight(torch.randn(8, 16, generator=torch.Generator().manual_seed(0)) / 4)
    x = torch.randn(5, 16, generator=torch.Generator().manual_seed(1))
    y = dev.query(dev.program(knobs, torch.Generator().manual_seed(2)), x, torch.Generator().manual_seed(3))
    back = pickle.loads(pickle.dumps(dev))
    y2 = back.query(back.program(knobs, torch.Generator().manual_seed(2)), x, torch.Generator().manual_seed(3))
    assert torch.equal(y, y2)

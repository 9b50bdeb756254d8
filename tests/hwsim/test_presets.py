import pytest
import torch

from hwsim.kinds import KINDS
from hwsim.presets import DEVICE_PRESETS, build_layer, device_config, device_kind


def test_every_preset_builds_a_layer():
    for name in DEVICE_PRESETS:
        layer = build_layer(name, 10, 6, seed=1, name="x")
        assert layer.n_in == 10 and layer.n_out == 6 and device_kind(name) in KINDS


def test_unknown_preset_names_the_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown device preset 'mzi-perfect'; allowed: \['crossbar-default'"):
        device_config("mzi-perfect")


def test_ideal_presets_have_no_effects_and_defaults_have_the_documented_ones():
    assert device_config("mzi-ideal").effects == () and device_config("crossbar-ideal").effects == ()
    names = {type(e).__name__ for e in device_config("mzi-default").effects}
    assert names == {"ThermoOpticDAC", "GammaSpread", "ThermalCrosstalk", "PhaseBias",
                     "BeamsplitterImbalance", "InsertionLoss", "PhaseNoise", "PhaseDrift", "InputDAC",
                     "Detection", "OutputADC"}
    names = {type(e).__name__ for e in device_config("crossbar-default").effects}
    assert names == {"ConductanceLevels", "ProgrammingNoise", "ReadNoise", "InputDAC", "OutputADC"}


def test_static_phase_bias_is_fixed_by_the_device_seed():
    a, b, c = (build_layer("mzi-default", 8, 8, seed=s) for s in (3, 3, 4))
    assert torch.equal(a._bias_mesh, b._bias_mesh) and not torch.equal(a._bias_mesh, c._bias_mesh)

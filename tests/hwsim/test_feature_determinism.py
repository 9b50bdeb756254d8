"""Determinism of the new device features on each kind: the same seed gives bit-identical
numbers, and P settings in one call equal P separate calls (the oracle contract of
tests/hwsim/test_contract.py, run over feature configs instead of presets)."""
import dataclasses

import pytest

from hwsim.effects.adc import ADCNonideality
from hwsim.effects.bit_slicing import BitSlicing
from hwsim.effects.correlated import CorrelatedConductance, CorrelatedGamma, CorrelatedPhaseBias
from hwsim.effects.measured import MeasuredPhaseResponse
from hwsim.effects.phase_shifter import ThermoOpticDAC
from hwsim.presets import device_config, layer_from_config
from tests.hwsim.test_contract import assert_batched_equals_separate, assert_same_seed_same_numbers


def _add(preset, *effects, drop=()):
    cfg = device_config(preset)
    kept = tuple(e for e in cfg.effects if not isinstance(e, tuple(type(a) for a in effects) + tuple(drop)))
    cfg = dataclasses.replace(cfg, effects=kept + effects)
    if preset.startswith("crossbar"):
        cfg = dataclasses.replace(cfg, tile_rows=8, tile_cols=8)
    return cfg


FEATURES = {
    "crossbar-default + bit slicing 3×2": lambda: _add("crossbar-default", BitSlicing(3, 2)),
    "crossbar-pcm + bit slicing 2×4": lambda: _add("crossbar-pcm", BitSlicing(2, 4)),
    "crossbar-rram + correlated G + circuit ADC": lambda: _add(
        "crossbar-rram", CorrelatedConductance(0.02, 0.05, 3.0), ADCNonideality(0.2, 0.3, 0.01, 0.01, 0.5)),
    "mzi-default + correlated bias/γ + circuit ADC": lambda: _add(
        "mzi-default", CorrelatedPhaseBias(0.02, 0.05, 3.0), CorrelatedGamma(0.0, 0.01, 2.0),
        ADCNonideality(offset_sigma_lsb=0.3, inl_bow_lsb=0.5)),
    "mzi-ficonn + measured phase table": lambda: _add(
        "mzi-ficonn", MeasuredPhaseResponse(bits=12, device_to_device_rel=0.01), drop=(ThermoOpticDAC,)),
}


def _make(name, seed=3):
    return layer_from_config(FEATURES[name](), 20, 12, seed=seed, name="L")


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_same_seed_same_numbers(name):
    assert_same_seed_same_numbers(lambda: _make(name, seed=5))


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_batched_settings_equal_separate_calls(name):
    assert_batched_equals_separate(_make(name))

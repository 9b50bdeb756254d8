"""Photonic presets: what they contain and their TOML-able listing."""
import math

import pytest
import torch

from hwsim.photonic.presets import PHOTONIC_PRESETS, preset_values
from hwsim.presets import DEVICE_PRESETS, build_layer


def test_photonic_presets_are_device_presets():
    assert {"mzi-ideal", "mzi-default", "mzi-ficonn"} <= set(PHOTONIC_PRESETS)
    assert all(DEVICE_PRESETS[name] is PHOTONIC_PRESETS[name] for name in PHOTONIC_PRESETS)


def test_preset_values_are_toml_tables_of_effect_fields():
    vals = preset_values(PHOTONIC_PRESETS["mzi-default"]())
    assert vals["block"] == 8 and vals["mesh"] == "clements"
    assert vals["thermo_optic_dac"] == {"bits": 8, "v_pi_v": 4.36, "v_max_v": math.sqrt(2.0) * 4.36}
    assert vals["output_adc"]["full_scale"] == pytest.approx(math.sqrt(8))
    assert vals["detection"]["mode"] == "homodyne"
    for table in vals.values():
        if isinstance(table, dict):
            assert all(isinstance(v, (bool, int, float, str)) for v in table.values())
    fic = preset_values(PHOTONIC_PRESETS["mzi-ficonn"]())
    assert fic["block"] == 6 and fic["detection"]["mode"] == "intensity" and fic["input_dac"]["bits"] == 13


def test_default_preset_output_is_close_to_the_ideal_but_not_equal():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(8, 16, generator=g) / 4
    x = torch.randn(64, 16, generator=g)
    dev = build_layer("mzi-default", 16, 8, seed=1)
    y = dev.query(dev.program(dev.knobs_from_weight(w)), x, torch.Generator().manual_seed(2))[0]
    rel = float((y - x @ w.T).norm() / (x @ w.T).norm())
    assert 0.05 < rel < 2.0          # uncalibrated: phase bias U(−1, 1) rad dominates

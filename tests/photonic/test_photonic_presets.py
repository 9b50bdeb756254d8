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


def test_l2ight_preset_holds_exactly_the_l2ight_config_noise_model():
    """mzi-l2ight: L2ight ``config/mnist/cnn3/default.yml`` + ``flops/learn.yml`` values."""
    import math

    from hwsim.effects.phase_shifter import ThermoOpticDAC
    from hwsim.presets import build_layer
    v = preset_values(PHOTONIC_PRESETS["mzi-l2ight"]())
    assert v["block"] == 8
    assert v["thermo_optic_dac"] == {"bits": 8, "v_pi_v": 4.36, "v_max_v": 10.8}
    assert v["gamma_spread"]["sigma_rad_per_v2"] == 0.002
    assert v["thermal_crosstalk"]["coupling"] == 0.005
    assert v["phase_bias"]["half_width_rad"] == 1.0
    assert set(v) == {"block", "mesh", "thermo_optic_dac", "gamma_spread", "thermal_crosstalk",
                      "phase_bias"}
    # the phase step at the top of the 2π range: γV² with V on a 10.8/255 V grid; codes below
    # V_2π = √2·4.36 V are the distinct phases (146 of 256)
    dac = ThermoOpticDAC(bits=8, v_pi_v=4.36, v_max_v=10.8)
    assert math.floor(math.sqrt(2) * 4.36 / dac.step_v) + 1 == 146
    # it builds and answers a query
    layer = build_layer("mzi-l2ight", 16, 8, seed=0)
    assert layer.n_in == 16 and layer.n_out == 8

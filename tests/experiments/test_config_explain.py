"""`forwardlab config show --explain`: every settings field and every device field declares
its meaning and unit (field metadata), printed as TOML comments; the text stays valid TOML that
resolves to the same run. One deep merge serves config, pricing and sweeps."""
import tomllib

import pytest

from algorithms import registry
from experiments.cli import main as cli
from experiments.config import config_to_toml, deep_merge, resolve
from hwsim.meaning import meanings


@pytest.mark.parametrize("name", list(registry.ALGORITHMS))
def test_every_settings_field_says_what_it_means(name):
    said = meanings(registry.ALGORITHMS[name].settings_type)
    missing = [k for k, v in said.items() if not v]
    assert not missing, f"{name}: fields without meaning {missing}"


def test_explained_config_is_commented_valid_toml_of_the_same_run(capsys):
    assert cli(["config", "show", "--explain", "--set", "algorithm.name=local-guess"]) == 0
    text = capsys.readouterr().out
    assert "calibrate_subset = 16  # knob indices per block per calibration (None: all) [knobs]" \
        in text
    assert "batch_size = 64  # examples per training step [examples]" in text
    cfg = resolve({"algorithm": {"name": "local-guess"}})
    assert resolve(tomllib.loads(text)).run_id == cfg.run_id
    assert tomllib.loads(config_to_toml(cfg)) == tomllib.loads(text)


@pytest.mark.parametrize("preset", ["mzi-default", "crossbar-default", "mrr-default"])
def test_explained_device_fields_carry_meaning_and_unit(capsys, preset):
    """Every device key of the resolved config is explained: the kind's own fields and each
    enabled effect's fields, with the unit in brackets."""
    assert cli(["config", "show", "--explain", "--set", f"device.preset={preset}"]) == 0
    text = capsys.readouterr().out
    device = text[text.index("[device]"):text.index("[cost")]
    keys = [ln for ln in device.splitlines() if " = " in ln]
    assert keys and all("  # " in ln for ln in keys), [ln for ln in keys if "  # " not in ln]
    assert tomllib.loads(text) == tomllib.loads(config_to_toml(resolve(
        {"device": {"preset": preset}})))


def test_explain_shows_an_effect_field_with_its_unit(capsys):
    assert cli(["config", "show", "--explain", "--set", "device.phase_noise.sigma_rad=0.02"]) == 0
    text = capsys.readouterr().out
    assert "sigma_rad = 0.02  # std of the phase noise redrawn at every query [rad]" in text
    assert "bits = 8  # resolution of the output ADC [bits]" in text


def test_deep_merge_merges_tables_and_shares_nothing():
    base = {"a": {"b": 1, "c": {"d": 2}}, "e": 3}
    out = deep_merge(base, {"a": {"c": {"x": 4}}, "e": {"f": 5}})
    assert out == {"a": {"b": 1, "c": {"d": 2, "x": 4}}, "e": {"f": 5}}
    out["a"]["c"]["d"] = 99
    assert base["a"]["c"]["d"] == 2


def test_pricing_takes_the_resolved_cost_section_as_it_is():
    """The values a run sets in [cost] reach pricing from the resolved section itself; older
    files without a stored resolved config give the same overrides from their flat keys."""
    from experiments.price import config_overrides, cost_overrides
    cfg = resolve({"cost": {"level": "low", "mzi": {"p_pi_mw": 12.5},
                            "crossbar": {"e_write_pj": 4.0},
                            "gpu": {"H100 SXM5": {"tdp_w": 500.0}}}})
    want = {"mzi": {"p_pi_mw": 12.5}, "crossbar": {"e_write_pj": 4.0},
            "gpu": {"H100 SXM5": {"tdp_w": 500.0}}}
    assert cost_overrides(cfg.cost) == want
    flat = config_overrides(cfg.flat())
    assert {k: v for k, v in flat.items() if k != "gpu"} == {k: v for k, v in want.items()
                                                              if k != "gpu"}
    assert {n: d for n, d in flat["gpu"].items() if d} == want["gpu"]

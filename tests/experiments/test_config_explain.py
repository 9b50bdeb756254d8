"""`forwardlab config show --explain`: every settings field declares its meaning and unit
(field metadata), printed as TOML comments; the text stays valid TOML that resolves to the
same run. One deep merge serves config, pricing and sweeps."""
import tomllib

import pytest

from algorithms import registry
from algorithms.settings import explain
from experiments.cli import main as cli
from experiments.config import config_to_toml, deep_merge, resolve


@pytest.mark.parametrize("name", list(registry.ALGORITHMS))
def test_every_settings_field_says_what_it_means(name):
    meanings = explain(registry.ALGORITHMS[name].settings_type)
    missing = [k for k, v in meanings.items() if not v]
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

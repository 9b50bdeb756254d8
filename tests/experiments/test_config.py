"""Tests for experiments.config: nested sections, generic device-effect and cost-spec mapping,
dotted overrides, the resolved TOML round trip and the run id."""

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from typing import ClassVar

import pytest

from experiments import config as config_module
from experiments.cli import main, resolve_cli_config
from experiments.config import (ALGORITHMS, COST_LEVELS, SECTIONS, Config, ConfigError,
                                config_to_toml, effect_name, parse_set, resolve, set_dotted)
from hwsim.cost.spec import crossbar_spec, photonic_spec
from hwsim.effects.noise import PhaseNoise
from hwsim.effects.quantize import OutputADC
from hwsim.photonic.device import MZIConfig
from hwsim.presets import DEVICE_PRESETS, device_config


def test_defaults_resolve_and_are_frozen():
    cfg = resolve({})
    assert isinstance(cfg, Config)
    assert cfg.device.kind == "mzi" and cfg.device.preset == "mzi-default"
    assert cfg.device.physics == device_config("mzi-default")
    assert cfg.algorithm.name == "mfdd" and cfg.data.dataset == "digits"
    assert cfg.run.threads == 1 and cfg.run.out == ""
    assert cfg.cost.mzi == photonic_spec("nominal") and cfg.cost.crossbar == crossbar_spec("nominal")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.run.epochs = 3  # type: ignore[misc]


@pytest.mark.parametrize("preset", sorted(DEVICE_PRESETS))
def test_resolved_toml_round_trips_for_every_preset(preset):
    cfg = resolve({"device": {"preset": preset}, "cost": {"level": "high"}})
    text = config_to_toml(cfg)
    back = resolve(tomllib.loads(text))
    assert back == cfg and back.run_id == cfg.run_id
    assert cfg.device.kind == preset.split("-")[0]
    # every effect type the device accepts is named, present ones with every field
    doc = tomllib.loads(text)["device"]
    for t in type(cfg.device.physics).EFFECT_TYPES:
        assert effect_name(t) in doc
    for e in cfg.device.physics.effects:
        table = doc[effect_name(type(e))]
        assert table["enabled"] is True
        for f in dataclasses.fields(e):
            if getattr(e, f.name) is not None:
                assert table[f.name] == pytest.approx(getattr(e, f.name))


def test_effect_names_are_snake_case():
    assert effect_name(PhaseNoise) == "phase_noise"
    assert effect_name(OutputADC) == "output_adc"


def test_effect_fields_reach_device_physics():
    cfg = resolve({"device": {"phase_noise": {"sigma_rad": 0.05}, "output_adc": {"bits": 5}}})
    phys = cfg.device.physics
    assert phys.effect(PhaseNoise).sigma_rad == 0.05
    assert phys.effect(OutputADC).bits == 5
    assert phys.effect(OutputADC).full_scale == device_config("mzi-default").effect(OutputADC).full_scale
    # other effects untouched, order canonical
    base = device_config("mzi-default")
    assert [type(e) for e in phys.effects] == [type(e) for e in base.effects]
    assert cfg.run_id != resolve({}).run_id


def test_disable_and_add_effects():
    off = resolve({"device": {"phase_noise": {"enabled": False}}})
    assert off.device.physics.effect(PhaseNoise) is None
    on = resolve({"device": {"preset": "mzi-ideal", "phase_noise": {"sigma_rad": 0.01}}})
    assert on.device.physics.effect(PhaseNoise) == PhaseNoise(sigma_rad=0.01)
    assert len(on.device.physics.effects) == 1
    # a disabled effect stays disabled through the resolved TOML
    assert resolve(tomllib.loads(config_to_toml(off))).device.physics.effect(PhaseNoise) is None
    with pytest.raises(ConfigError, match=r"device\.phase_noise is disabled but sets sigma"):
        resolve({"device": {"phase_noise": {"enabled": False, "sigma_rad": 0.1}}})


def test_device_level_fields():
    cfg = resolve({"device": {"block": 4}})
    assert cfg.device.physics.block == 4
    cb = resolve({"device": {"kind": "crossbar", "tile_rows": 64, "g_max_us": 20}})
    assert cb.device.preset == "crossbar-default"
    assert cb.device.physics.tile_rows == 64 and cb.device.physics.g_max_us == 20.0
    assert isinstance(cb.device.physics.g_max_us, float)      # TOML int → float field


@dataclass(frozen=True)
class Glitch:
    """A made-up effect: the config layer must map it with no config code."""
    stage: ClassVar[str] = "query"
    rate_hz: float = 1.0
    depth_db: float = 3.0


@dataclass(frozen=True)
class FakeDevice:
    EFFECT_TYPES: ClassVar[tuple] = (Glitch,)
    block: int = 4
    effects: tuple = field(default_factory=tuple)


def test_a_new_effect_needs_no_config_code(monkeypatch):
    monkeypatch.setattr(config_module, "device_config", lambda preset: FakeDevice())
    cfg = resolve({"device": {"glitch": {"rate_hz": 7}}})
    assert cfg.device.physics.effects == (Glitch(rate_hz=7.0, depth_db=3.0),)
    assert tomllib.loads(config_to_toml(cfg))["device"]["glitch"] == {
        "enabled": True, "rate_hz": 7.0, "depth_db": 3.0}
    with pytest.raises(ConfigError, match=r"unknown key device\.glitch\.rate; allowed in "
                                          r"\[device\.glitch\]: rate_hz, depth_db"):
        resolve({"device": {"glitch": {"rate": 7}}})


@pytest.mark.parametrize("mapping, fragments", [
    ({"device": {"phase_noise": {"sigma_rad": -1}}}, ["device.phase_noise.sigma_rad = -1", "allowed"]),
    ({"device": {"phase_noise": {"sgma": 1}}}, ["device.phase_noise.sgma", "sigma_rad, bound_sigmas"]),
    ({"device": {"warp_drive": {}}}, ["device.warp_drive", "phase_noise"]),
    ({"device": {"phase_noise": 0.1}}, ["device.phase_noise", "table"]),
    ({"device": {"preset": "crossbar-default", "phase_noise": {"sigma": 0.1}}},
     ["device.phase_noise", "crossbar", "read_noise"]),
    ({"device": {"kind": "mzi", "preset": "crossbar-ideal"}}, ["crossbar-ideal", "mzi-"]),
    ({"device": {"preset": "mzi-bogus"}}, ["device.preset", "mzi-default"]),
    ({"device": {"output_adc": {"bits": 0}}}, ["device.output_adc", "bits = 0"]),
    ({"run": {"epochs": 0}}, ["run.epochs = 0", "[1, 100000]"]),
    ({"run": {"threads": 0}}, ["run.threads = 0"]),
    ({"run": {"bogus": 1}}, ["run.bogus", "seed, epochs"]),
    ({"algorithm": {"epsilon": 1e-300}}, ["algorithm.epsilon = 1e-300", "1e-06", "float32"]),
    ({"algorithm": {"lr": math.nan}}, ["algorithm.lr = nan"]),
    ({"algorithm": {"name": "sgd"}}, ["algorithm.name = 'sgd'", "mfdd"]),
    ({"model": {"hidden": []}}, ["model.hidden = []", "non-empty"]),
    ({"model": {"hidden": [0]}}, ["model.hidden"]),
    ({"data": {"dataset": "imagenet"}}, ["data.dataset = 'imagenet'", "digits"]),
    ({"cost": {"level": "cheap"}}, ["cost.level = 'cheap'", "low, nominal, high"]),
    ({"cost": {"gpus": ["TPU"]}}, ["cost.gpus", "H100"]),
    ({"cost": {"mzi": {"p_pi_mw": -1}}}, ["cost.mzi", "p_pi_mw = -1"]),
    ({"cost": {"mzi": {"bogus_pj": 1}}}, ["cost.mzi.bogus_pj", "laser_wpe"]),
    ({"cost": {"gpu": {"TPU v5": {"tdp_w": 1}}}}, ["cost.gpu.'TPU v5'", "H100"]),
    ({"runs": {}}, ["'runs'", "run, model, algorithm, device, cost, data"]),
    ({"run": 3}, ["run = 3", "table"]),
])
def test_errors_name_key_value_and_allowed(mapping, fragments):
    with pytest.raises(ConfigError) as e:
        resolve(mapping)
    msg = str(e.value)
    assert "\n" not in msg
    for f in fragments:
        assert f in msg, (f, msg)


def test_every_level_and_algorithm_accepted():
    for level in COST_LEVELS:
        cfg = resolve({"cost": {"level": level}})
        assert cfg.cost.mzi == photonic_spec(level)
    for a in ALGORITHMS:
        assert resolve({"algorithm": {"name": a}}).algorithm.name == a


def test_cost_spec_file_and_inline_overrides(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text("[mzi]\np_pi_mw = 12.5\n[crossbar]\ne_write_pj = 4\n"
                    "[gpu.\"H100 SXM5\"]\ntdp_w = 650\n")
    cfg = resolve({"cost": {"level": "low", "spec_file": str(spec),
                            "mzi": {"t_settle_ns": 500}}})
    assert cfg.cost.mzi.p_pi_mw == 12.5 and cfg.cost.mzi.t_settle_ns == 500.0
    assert cfg.cost.crossbar.e_write_pj == 4.0
    assert cfg.cost.gpu["H100 SXM5"].tdp_w == 650.0
    # the rest of the spec is the "low" level
    assert cfg.cost.mzi.laser_wpe == photonic_spec("low").laser_wpe
    # the resolved config stands alone: the spec file is not needed to re-run it
    text = config_to_toml(cfg)
    spec.unlink()
    assert resolve(tomllib.loads(text)).cost == dataclasses.replace(cfg.cost, spec_file="")
    bad = tmp_path / "bad.toml"
    bad.write_text("[tpu]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"unknown table \[tpu\]"):
        resolve({"cost": {"spec_file": str(bad)}})


def test_run_id_ignores_where_and_how_fast():
    a = resolve({"run": {"out": "a.h5", "threads": 2, "checkpoint": False}})
    b = resolve({"run": {"out": "b.h5"}})
    assert a.run_id == b.run_id == resolve({}).run_id
    assert resolve({"run": {"seed": 1}}).run_id != a.run_id
    assert resolve({"cost": {"level": "low"}}).run_id != a.run_id
    assert len(a.run_id) == 12 and int(a.run_id, 16) >= 0


@pytest.mark.parametrize("item, key, value", [
    ("run.epochs=3", "run.epochs", 3),
    ("algorithm.epsilon=1e-3", "algorithm.epsilon", 1e-3),
    ("device.preset=mzi-ideal", "device.preset", "mzi-ideal"),
    ("device.preset='mzi-ideal'", "device.preset", "mzi-ideal"),
    ("model.hidden=[16, 8]", "model.hidden", [16, 8]),
    ("run.references=false", "run.references", False),
    ("run.out=results/x.h5", "run.out", "results/x.h5"),
    ("device.phase_noise.sigma_rad=0.01", "device.phase_noise.sigma_rad", 0.01),
])
def test_parse_set(item, key, value):
    assert parse_set(item) == (key, value)


@pytest.mark.parametrize("item", ["epochs=3", "noequals", "=3", "run.=3", ".run.epochs=1"])
def test_parse_set_rejects(item):
    with pytest.raises(ConfigError):
        parse_set(item)


def test_set_dotted_cannot_descend_into_a_value():
    m = {"run": {"epochs": 3}}
    with pytest.raises(ConfigError, match="run.epochs is a value"):
        set_dotted(m, "run.epochs.x", 1)


def test_cli_layers_file_flags_then_set(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[run]\nepochs = 7\nseed = 3\n[device.phase_noise]\nsigma_rad = 0.03\n")
    cfg = resolve_cli_config(str(f), ["run.seed=9", "device.output_adc.bits=6"], {"epochs": 2})
    assert cfg.run.epochs == 2 and cfg.run.seed == 9
    assert cfg.device.physics.effect(PhaseNoise).sigma_rad == 0.03
    assert cfg.device.physics.effect(OutputADC).bits == 6


def test_config_show_prints_resolved_toml_that_resolves_back(tmp_path, capsys):
    assert main(["config", "show", "--set", "device.phase_noise.sigma_rad=0.02",
                 "--set", "cost.level=high"]) == 0
    text = capsys.readouterr().out
    doc = tomllib.loads(text)
    assert set(doc) == set(SECTIONS)
    assert doc["device"]["phase_noise"]["sigma_rad"] == 0.02
    assert doc["cost"]["level"] == "high"
    assert doc["cost"]["mzi"]["p_pi_mw"] == photonic_spec("high").p_pi_mw
    f = tmp_path / "resolved.toml"
    f.write_text(text)
    again = resolve_cli_config(str(f), [])
    assert again.run_id == resolve_cli_config(None, ["device.phase_noise.sigma_rad=0.02",
                                                     "cost.level=high"]).run_id


def test_presets_command_lists_and_prints(capsys):
    assert main(["presets"]) == 0
    listing = capsys.readouterr().out
    for name in DEVICE_PRESETS:
        assert name in listing
    assert main(["presets", "mzi-default"]) == 0
    doc = tomllib.loads(capsys.readouterr().out)
    assert doc["device"]["preset"] == "mzi-default"
    assert resolve(doc).device.physics == device_config("mzi-default")

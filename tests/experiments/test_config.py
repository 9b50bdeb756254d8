"""Tests for experiments.config: RunConfig validation, preset/device inference, TOML loading."""

import dataclasses
import math

import pytest

from experiments.config import (ALGORITHMS, COST_LEVELS, DEVICES, OPTIMIZERS, ConfigError,
                                RunConfig, load_config)
from algorithms.estimators.directions import DIRECTIONS
from algorithms.estimators.zeroth_order import DIFFERENCES
from algorithms.mfdd import SCHEDULES
from algorithms.objectives.mono_forward import PREDICTION_RULES
from experiments.data import DATASETS
from hwsim.cost.spec import GPU_PRESETS
from hwsim.presets import DEVICE_PRESETS

NAN = float("nan")


# ------------------------------------------------------------------ defaults

def test_defaults_are_valid():
    cfg = RunConfig()
    assert cfg.device == "mzi" and cfg.preset is None
    assert cfg.device_preset == "mzi-default"
    assert cfg.algorithm == "mfdd" and cfg.dataset == "digits"
    assert all(g in GPU_PRESETS for g in cfg.gpus)
    # from_mapping of nothing reproduces the defaults, and is frozen
    assert RunConfig.from_mapping({}) == cfg
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 3  # type: ignore[misc]


def test_every_preset_and_choice_is_accepted():
    for preset in DEVICE_PRESETS:
        cfg = RunConfig.from_mapping({"preset": preset})
        assert cfg.device_preset == preset and preset.startswith(cfg.device + "-")
    for algo in ALGORITHMS:
        assert RunConfig(algorithm=algo).algorithm == algo
    for level in COST_LEVELS:
        assert RunConfig(cost_level=level).cost_level == level
    cfg = RunConfig.from_mapping({"hidden": [1, 100000], "gpus": [], "epsilon": 1.0, "lr": 100,
                                  "clip": 0.5, "seed": 2 ** 63 - 1, "epochs": 100000})
    assert cfg.hidden == (1, 100000) and cfg.gpus == () and cfg.clip == 0.5


# ------------------------------------------------------- invalid values, by field

def _allowed(seq):
    return [str(a) for a in seq]


# (field, bad value, text naming the allowed set (each fragment must be in the message))
INVALID = [
    ("device", "tpu", _allowed(DEVICES)),
    ("device", "", _allowed(DEVICES)),
    ("preset", "mzi-bogus", _allowed(sorted(DEVICE_PRESETS))),
    ("algorithm", "adam", _allowed(ALGORITHMS)),
    ("dataset", "bogus", _allowed(DATASETS)),
    ("dataset", "MNIST", _allowed(DATASETS)),
    ("directions", "uniform", _allowed(DIRECTIONS)),
    ("head_directions", "uniform", _allowed(DIRECTIONS)),
    ("difference", "backward", _allowed(DIFFERENCES)),
    ("optimizer", "rmsprop", _allowed(OPTIMIZERS)),
    ("schedule", "layerwise", _allowed(SCHEDULES)),
    ("prediction", "max", _allowed(PREDICTION_RULES)),
    ("cost_level", "extreme", _allowed(COST_LEVELS)),
    ("epochs", 0, ["an integer in [1, 100000]"]),
    ("epochs", -1, ["an integer in [1, 100000]"]),
    ("epochs", 1.5, ["an integer in [1, 100000]"]),
    ("epochs", True, ["an integer in [1, 100000]"]),
    ("epochs", "3", ["an integer in [1, 100000]"]),
    ("epochs", 100001, ["an integer in [1, 100000]"]),
    ("batch_size", 0, ["an integer in [1, 1000000]"]),
    ("batch_size", 2.0, ["an integer in [1, 1000000]"]),
    ("num_directions", 0, ["an integer in [1, 100000]"]),
    ("num_directions", False, ["an integer in [1, 100000]"]),
    ("head_num_directions", -4, ["an integer in [1, 100000]"]),
    ("seed", -1, ["an integer in [0, 9223372036854775807]"]),
    ("epsilon", 0, ["a number in (0, 1.0]"]),
    ("epsilon", -1, ["a number in (0, 1.0]"]),
    ("epsilon", 2, ["a number in (0, 1.0]"]),
    ("epsilon", NAN, ["a number in (0, 1.0]"]),
    ("epsilon", math.inf, ["a number in (0, 1.0]"]),
    ("epsilon", True, ["a number in (0, 1.0]"]),
    ("head_epsilon", 0.0, ["a number in (0, 1.0]"]),
    ("lr", 0, ["a number in (0, 100.0]"]),
    ("lr", -0.1, ["a number in (0, 100.0]"]),
    ("lr", 1000.0, ["a number in (0, 100.0]"]),
    ("lr", "0.1", ["a number in (0, 100.0]"]),
    ("head_lr", NAN, ["a number in (0, 100.0]"]),
    ("baseline_lr", 0, ["a number in (0, 100.0]"]),
    ("clip", 0, ["a number in (0, inf]"]),
    ("clip", -1.0, ["a number in (0, inf]"]),
    ("hidden", [], ["a non-empty list of layer widths", "[1, 100000]"]),
    ("hidden", [0], ["a non-empty list of layer widths", "[1, 100000]"]),
    ("hidden", ["a"], ["a non-empty list of layer widths", "[1, 100000]"]),
    ("hidden", [8, True], ["a non-empty list of layer widths"]),
    ("hidden", [8.0], ["a non-empty list of layer widths"]),
    ("hidden", 8, ["a non-empty list of layer widths"]),
    ("gpus", ["TPU"], ["a list drawn from", *GPU_PRESETS]),
    ("gpus", ["H100 SXM5", "h100"], ["a list drawn from", *GPU_PRESETS]),
    ("gpus", "H100 SXM5", ["a list drawn from"]),
    ("references", "yes", ["true or false"]),
    ("references", 1, ["true or false"]),
    ("standardize", "no", ["true or false"]),
    ("standardize", 0, ["true or false"]),
    ("out", "", ["a file path"]),
    ("out", None, ["a file path"]),
]


@pytest.mark.parametrize("name, value, allowed", INVALID,
                         ids=[f"{n}={v!r}" for n, v, _ in INVALID])
def test_invalid_value_names_field_value_and_allowed(name, value, allowed):
    with pytest.raises(ConfigError) as info:
        RunConfig.from_mapping({name: value})
    msg = str(info.value)
    stored = tuple(value) if isinstance(value, list) else value   # from_mapping: lists -> tuples
    assert msg.startswith(f"{name} = "), msg
    assert f"{name} = {stored!r}" in msg, msg
    assert "allowed:" in msg, msg
    for fragment in allowed:
        assert fragment in msg, (fragment, msg)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name, value", [("device", "tpu"), ("epochs", 0), ("epsilon", NAN),
                                         ("hidden", (0,)), ("gpus", ("TPU",)), ("out", "")])
def test_invalid_value_in_constructor_too(name, value):
    with pytest.raises(ConfigError, match=name):
        RunConfig(**{name: value})


def test_hidden_and_gpus_must_be_tuples_in_constructor():
    with pytest.raises(ConfigError, match="hidden"):
        RunConfig(hidden=[8])           # from_mapping converts lists, the constructor does not
    with pytest.raises(ConfigError, match="gpus"):
        RunConfig(gpus=["H100 SXM5"])


def test_valid_base_is_not_changed_by_failed_override():
    base = RunConfig(epochs=3)
    with pytest.raises(ConfigError):
        RunConfig.from_mapping({"epochs": 0}, base)
    assert base.epochs == 3


# ----------------------------------------------------------- preset / device

def test_preset_infers_device():
    cfg = RunConfig.from_mapping({"preset": "crossbar-ideal"})
    assert cfg.device == "crossbar" and cfg.device_preset == "crossbar-ideal"
    cfg = RunConfig.from_mapping({"preset": "mzi-ideal"}, RunConfig(device="crossbar"))
    assert cfg.device == "mzi" and cfg.preset == "mzi-ideal"
    # device alone gives the default preset of that device
    assert RunConfig.from_mapping({"device": "crossbar"}).device_preset == "crossbar-default"


@pytest.mark.parametrize("values", [{"preset": "crossbar-ideal", "device": "mzi"},
                                    {"preset": "mzi-default", "device": "crossbar"}])
def test_preset_device_mismatch_raises(values):
    with pytest.raises(ConfigError) as info:
        RunConfig.from_mapping(values)
    msg = str(info.value)
    assert repr(values["preset"]) in msg and repr(values["device"]) in msg
    assert f"presets starting with '{values['device']}-'" in msg


def test_preset_mismatch_in_constructor_raises():
    with pytest.raises(ConfigError, match="crossbar-ideal"):
        RunConfig(preset="crossbar-ideal")      # device defaults to mzi; no inference here


def test_base_preset_conflicts_with_explicit_device():
    base = RunConfig.from_mapping({"preset": "crossbar-default"})
    with pytest.raises(ConfigError, match="preset"):
        RunConfig.from_mapping({"device": "mzi"}, base)


# ---------------------------------------------------------------- unknown keys

def test_unknown_keys_are_named_sorted():
    with pytest.raises(ConfigError) as info:
        RunConfig.from_mapping({"epochs": 2, "zeta": 1, "alpha": 2})
    msg = str(info.value)
    assert "unknown config key(s) alpha, zeta" in msg
    assert "allowed:" in msg and "epochs" in msg and "num_directions" in msg


# ---------------------------------------------------------------- load_config

def test_load_config_reads_toml(tmp_path):
    p = tmp_path / "run.toml"
    p.write_text('# tiny run\nhidden = [8, 4]\nepochs = 2\npreset = "crossbar-ideal"\n'
                 'gpus = ["H100 SXM5"]\nepsilon = 0.1\nreferences = false\nclip = 1.5\n')
    cfg = load_config(p)
    assert cfg.hidden == (8, 4) and cfg.epochs == 2
    assert cfg.device == "crossbar" and cfg.device_preset == "crossbar-ideal"
    assert cfg.gpus == ("H100 SXM5",) and cfg.epsilon == 0.1
    assert cfg.references is False and cfg.clip == 1.5
    assert cfg.dataset == "digits"                     # untouched defaults
    # str path and a base whose values the file overrides or keeps
    cfg2 = load_config(str(p), base=RunConfig(batch_size=7, epochs=9))
    assert cfg2.batch_size == 7 and cfg2.epochs == 2


def test_load_config_empty_file_gives_base(tmp_path):
    p = tmp_path / "empty.toml"
    p.write_text("")
    assert load_config(p) == RunConfig()


def test_load_config_unknown_keys_named(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("epochs = 1\nlearning_rate = 0.1\nhiden = [8]\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert "hiden" in msg and "learning_rate" in msg and "unknown" in msg


@pytest.mark.parametrize("text, table", [("epochs = 1\n[device]\nkind = 'mzi'\n", "device"),
                                         ("run = { epochs = 1 }\n", "run")])
def test_load_config_rejects_nested_tables(tmp_path, text, table):
    p = tmp_path / "nested.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    msg = str(info.value)
    assert repr(table) in msg and "top-level keys only" in msg and str(p) in msg


@pytest.mark.parametrize("content", [b"epochs = \n", b"hidden = [8\n", b"epochs = 1\nepochs = 2\n",
                                     b"epochs = 1 2\n", b"\xff\xfe\x00garbage"])
def test_load_config_invalid_toml(tmp_path, content):
    p = tmp_path / "broken.toml"
    p.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert "is not valid TOML" in str(info.value) and str(p) in str(info.value)


def test_load_config_missing_file(tmp_path):
    p = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert str(p) in str(info.value) and "does not exist" in str(info.value)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path)          # a directory is not a config file


def test_load_config_invalid_value_is_config_error(tmp_path):
    p = tmp_path / "v.toml"
    p.write_text('epochs = 0\n')
    with pytest.raises(ConfigError, match=r"epochs = 0; allowed"):
        load_config(p)
    p.write_text('hidden = []\n')
    with pytest.raises(ConfigError, match="hidden"):
        load_config(p)


def test_unhashable_preset_is_config_error(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text('preset = [["mzi-default"]]\n')
    with pytest.raises(ConfigError, match="preset"):
        load_config(p)


def test_unhashable_gpu_names_field(tmp_path):
    p = tmp_path / "g.toml"
    p.write_text('gpus = [["H100 SXM5"]]\n')
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert "gpus" in str(info.value) and "allowed" in str(info.value)


# ------------------------------------------------------------------------ flat

def _plain(v):
    if isinstance(v, list):
        return all(_plain(x) for x in v)
    return type(v) in (str, int, float, bool)


@pytest.mark.parametrize("cfg", [RunConfig(),
                                 RunConfig.from_mapping({"preset": "crossbar-ideal", "clip": 2.0,
                                                         "hidden": [8], "gpus": [],
                                                         "data_dir": "/x"})],
                         ids=["defaults", "custom"])
def test_flat_values_are_plain(cfg):
    flat = cfg.flat()
    names = {f.name for f in dataclasses.fields(RunConfig)}
    assert set(flat) == names | {"device_preset"}
    for k, v in flat.items():
        assert v is not None, k
        assert not isinstance(v, tuple), k
        assert _plain(v), (k, v)
    assert flat["hidden"] == list(cfg.hidden) and flat["gpus"] == list(cfg.gpus)
    assert flat["device_preset"] == cfg.device_preset
    assert flat["preset"] == (cfg.preset or "")
    assert flat["clip"] == ("" if cfg.clip is None else cfg.clip)
    assert flat["data_dir"] == (cfg.data_dir or "")


def test_flat_of_defaults():
    flat = RunConfig().flat()
    assert flat["preset"] == "" and flat["clip"] == "" and flat["data_dir"] == ""
    assert flat["hidden"] == [32, 32]
    assert flat["device_preset"] == "mzi-default"

"""model.architecture: a block list in the config, trained through the registry with the
references on the same blocks."""
import tomllib
from pathlib import Path

import pytest

from experiments.cli import main
from experiments.config import ConfigError, resolve, config_to_toml
from experiments.results import read_results

CNN = ["conv2d:2:3:1:1", "bias", "relu", "maxpool:2", "flatten", "dense:8", "bias", "relu"]


def _toml(tmp: Path, algorithm: str, preset: str = "crossbar-ideal") -> Path:
    arch = ", ".join(f'"{b}"' for b in CNN)
    p = tmp / f"{algorithm}.toml"
    settings = "[algorithm.settings]\nprojection_dim = 8\n" if algorithm != "mfdd" else ""
    short = "num_directions = 2\n" if algorithm == "mfdd" else ""   # an mfdd settings field
    p.write_text(f"[model]\narchitecture = [{arch}]\n[algorithm]\nname = \"{algorithm}\"\n"
                 + short + settings +
                 f"[run]\nepochs = 1\nbatch_size = 512\n[device]\npreset = \"{preset}\"\n")
    return p


def test_architecture_round_trips_and_bad_blocks_are_one_line():
    cfg = resolve({"model": {"architecture": CNN}})
    assert cfg.model.architecture == tuple(CNN)
    assert resolve(tomllib.loads(config_to_toml(cfg))).model.architecture == tuple(CNN)
    for bad, msg in ((["dense:x"], "model.architecture\\[0\\]"),
                     (["blah"], "allowed block types"), ("dense:8", "model.architecture")):
        with pytest.raises(ConfigError, match=msg) as e:
            resolve({"model": {"architecture": bad}})
        assert "\n" not in str(e.value)


@pytest.mark.parametrize("algorithm", ["mfdd", "local-guess"])
def test_a_cnn_runs_with_references_on_the_same_blocks(tmp_path, algorithm, capsys):
    out = tmp_path / "cnn.h5"
    assert main(["run", "--config", str(_toml(tmp_path, algorithm)), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "network conv2d:2:3:1:1" in text
    rec = read_results(out)
    assert rec.status == "ok" and rec.history["test_accuracy"]
    assert set(rec.references) == {"mf-ad", "bp"}            # on the CNN's twin
    assert rec.step_summaries and any(k.endswith(".mvm.settings") for k in rec.step_summaries[0])

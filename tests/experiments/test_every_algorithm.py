"""``forwardlab run --algorithm NAME`` with no other option works for every registered
algorithm on the default data set (digits, 64 inputs): every stage is built from the default
config, trains, is priced and written. Each stage trains one epoch (the run is otherwise the
default one: default network, device, settings, references); a greedy schedule trains its
stages one after another, one epoch each. Whole-network algorithms (one oracle for a whole mesh
network) are refused in one line that names ``forwardlab reproduce``, before anything is
written. Slow (about 10 s per algorithm)."""

import pytest

from algorithms.registry import ALGORITHMS, settings_for
from algorithms.training import fit
from experiments import runner
from experiments.cli import main
from experiments.results import read_results


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_default_run_of_every_registered_algorithm(name, tmp_path, monkeypatch, capsys):
    def one_epoch(model, **kw):
        return fit(model, **{**kw, "epochs": 1})

    monkeypatch.setattr(runner, "train", one_epoch)
    monkeypatch.chdir(tmp_path)
    code = main(["run", "--algorithm", name, "--quiet"])
    err = capsys.readouterr().err
    if ALGORITHMS[name].whole_network:
        assert code == 2 and "forwardlab reproduce" in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())
        return
    assert code == 0, err
    files = list((tmp_path / "results").glob("run-*.h5"))
    assert len(files) == 1
    rec = read_results(files[0])
    assert rec.status == "ok" and rec.config["algorithm.name"] == name
    greedy = getattr(settings_for(name), "schedule", "simultaneous") == "greedy"
    stages = len(set(rec.history["train_layers"])) if greedy else 1
    assert len(rec.history["test_accuracy"]) == stages >= 1

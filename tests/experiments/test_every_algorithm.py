"""``forwardlab run --algorithm NAME`` with no other option works for every registered
algorithm on the default data set (digits, 64 inputs): every stage is built from the default
config, trains, is priced and written. Each stage trains one epoch (the run is otherwise the
default one: default network, device, settings, references); slow (about 10 s per algorithm)."""

import pytest

from algorithms.registry import ALGORITHMS
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
    assert code == 0, err
    files = list((tmp_path / "results").glob("run-*.h5"))
    assert len(files) == 1
    rec = read_results(files[0])
    assert rec.status == "ok" and rec.config["algorithm.name"] == name
    assert len(rec.history["test_accuracy"]) == 1

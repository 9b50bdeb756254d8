"""An interrupt in any phase of a run — the device training, each twin reference (MF-AD, BP),
the final write — resumes to the file an uninterrupted run writes: histories, references,
every stored step summary (the trace), costs and config, not only the accuracies."""

import pytest

from algorithms.training import Interrupted
from experiments import results as results_mod
from experiments import runner
from experiments.config import resolve
from experiments.results import read_results
from experiments.runner import checkpoint_path, run

from .tiny import reproducible_costs, stop_after as _stop_after


def _cfg(tmp_path, name: str):
    # digits: 1437 training images in batches of 512 → 3 steps per epoch, 2 epochs per stage
    return resolve({"model": {"hidden": [8]}, "algorithm": {"num_directions": 2},
                    "run": {"epochs": 2, "batch_size": 512, "references": True,
                            "out": str(tmp_path / name)},
                    "cost": {"gpus": ["H100 SXM5"]}})


def whole(path) -> dict:
    """Everything a results file stores, except when and where it was written (timestamp,
    host, command) and what was timed on this machine (cost rows, training CPU seconds)."""
    rec = read_results(path)
    meta = {k: v for k, v in rec.meta.items() if k not in ("timestamp", "host", "command")
            and not k.startswith("cpu_s.")}
    config = {k: v for k, v in rec.config.items() if k != "run.out"}      # the file's own name
    toml = [line for line in rec.config_toml.splitlines() if not line.startswith("out = ")]
    return {"config": config, "config_toml": toml, "status": rec.status,
            "message": rec.message, "history": rec.history, "references": rec.references,
            "steps": rec.step_summaries, "costs": reproducible_costs(rec.costs),
            "run_id": rec.run_id, "meta": meta, "versions": rec.versions}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    t = tmp_path_factory.mktemp("full")
    run(_cfg(t, "full.h5"), echo=lambda *a: None)
    return whole(t / "full.h5")


# step 4 stops the device run in its second epoch; 6 device steps + 4 the MF-AD reference,
# 12 + 4 the BP reference, each in its second epoch
@pytest.mark.parametrize("phase, stop_at", [
    ("training", 4), ("mf-ad", 10),
    ("bp", 16)])
def test_interrupt_in_a_phase_resumes_to_the_whole_uninterrupted_file(tmp_path, uninterrupted,
                                                                      phase, stop_at):
    quiet = lambda *a: None   # noqa: E731
    cfg = _cfg(tmp_path, "part.h5")
    part = tmp_path / "part.h5"
    with pytest.raises(Interrupted, match="interrupted at step"):
        run(cfg, part, echo=quiet, stop=_stop_after(stop_at))
    partial = read_results(part)
    assert partial.status == "interrupted"
    assert (phase == "training") == (partial.references == {})
    if phase == "bp":
        assert "mf-ad" in partial.references
    assert checkpoint_path(part).is_file()
    run(cfg, part, echo=quiet, resume=True)
    assert whole(part) == uninterrupted
    assert not checkpoint_path(part).exists()


def test_a_kill_while_writing_the_results_resumes_to_the_whole_file(tmp_path, uninterrupted,
                                                                   monkeypatch):
    """A kill in the final write (simulated: the write of the finished file raises) leaves the
    last checkpoint; --resume writes the uninterrupted file."""
    quiet = lambda *a: None   # noqa: E731
    cfg = _cfg(tmp_path, "part.h5")
    part = tmp_path / "part.h5"
    real = results_mod.write_results

    def killed(path, rec, **kw):
        if rec.status == "ok":
            raise KeyboardInterrupt("killed while writing")
        return real(path, rec, **kw)

    monkeypatch.setattr(runner, "write_results", killed)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, part, echo=quiet)
    assert not part.exists() and checkpoint_path(part).is_file()
    monkeypatch.setattr(runner, "write_results", real)
    run(cfg, part, echo=quiet, resume=True)
    assert whole(part) == uninterrupted

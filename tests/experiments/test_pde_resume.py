"""PDE runs checkpoint at every epoch boundary and resume to the results of an uninterrupted run
(the same contract as classification runs, tests/experiments/test_outputs.py)."""
import pytest

from algorithms.training import Interrupted
from experiments.config import resolve
from experiments.results import read_results
from experiments.runner import checkpoint_path, run

from .tiny import reproducible_costs, stop_after as _stop_after


def _cfg(tmp_path, name: str):
    return resolve({"run": {"epochs": 3, "seed": 0, "references": True,
                            "out": str(tmp_path / name)},
                    "algorithm": {"name": "tt-zo"}, "device": {"preset": "mzi-default"},
                    "cost": {"gpus": ["H100 SXM5"]},
                    "pde": {"problem": "poisson1d", "steps_per_epoch": 3, "test_points": 32,
                            "interior_points": 4, "boundary_points": 2}})


# 3 epochs × 3 steps per stage: step 5 stops the device run in its second epoch, step 13 the
# autograd reference in its second epoch (9 device steps + 4)
@pytest.mark.parametrize("stop_at", [5, 13])
def test_interrupted_pde_run_resumes_to_the_uninterrupted_results(tmp_path, stop_at):
    quiet = lambda *a: None   # noqa: E731
    full = run(_cfg(tmp_path, "full.h5"), echo=quiet)
    cfg = _cfg(tmp_path, "part.h5")
    part = tmp_path / "part.h5"
    with pytest.raises(Interrupted, match="interrupted at step"):
        run(cfg, part, echo=quiet, stop=_stop_after(stop_at))
    rec = read_results(part)
    assert rec.status == "interrupted" and "interrupted at step" in rec.message
    assert checkpoint_path(part).is_file()
    if stop_at == 5:
        assert len(rec.history["test_error"]) == 1
    else:
        assert len(rec.history["test_error"]) == 3
        assert len(rec.references["tt-autograd"]["test_error"]) == 1
    lines, steps = [], []

    def progress(total, label):
        return lambda step: steps.append((label.startswith("tt-zo"), step))
    resumed = run(cfg, part, echo=lines.append, progress=progress, resume=True)
    assert resumed.status == "ok" and not checkpoint_path(part).exists()
    # it continued from the last epoch boundary instead of starting again
    assert any("resuming from" in ln for ln in lines)
    if stop_at == 5:     # device epochs 2–3 (steps 4–9), then the whole reference
        assert steps[0] == (True, 4) and len(steps) == 6 + 9
    else:                # the reference's epochs 2–3 only
        assert steps[0] == (False, 4) and len(steps) == 6
    b = read_results(part)
    assert full.history == b.history and full.step_summaries == b.step_summaries
    assert full.references == b.references
    assert reproducible_costs(full.costs) == reproducible_costs(b.costs)


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    from experiments.outputs import OutputError
    cfg = _cfg(tmp_path, "a.h5")
    with pytest.raises(Interrupted):
        run(cfg, tmp_path / "a.h5", echo=lambda *a: None, stop=_stop_after(4))
    other = resolve({**cfg.to_mapping(), "run": {**cfg.to_mapping()["run"], "seed": 1}})
    with pytest.raises(OutputError, match="belongs to run"):
        run(other, tmp_path / "a.h5", echo=lambda *a: None, resume=True)

"""Checkpoints hold data only: a planted pickle (or a crafted data file) at a checkpoint path
runs nothing, in ``run --resume`` and in a sweep, which resumes every checkpoint it finds; a
checkpoint of another run or config is refused in one line that says what to do; the
checkpoint path is checked before work (links, directories, foreign files)."""

import pickle
from pathlib import Path

import pytest

from experiments.cli import main
from experiments.config import resolve
from experiments.checkpoint import save as _save_checkpoint
from experiments.runner import checkpoint_path
from experiments.sweep import plan_sweep, run_point

from .tiny import stop_after, tiny_toml


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def _pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps({"run_id": "x", "stage": "mfdd", "done": {}, "result": None,
                                   "payload": _Exploit(marker)}))


@pytest.fixture
def tiny(tmp_path):
    p = tmp_path / "tiny.toml"
    p.write_text(tiny_toml(epochs=1, batch_size=512, references=False))
    return p


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_resume_from_a_planted_pickle_runs_nothing(tmp_path, tiny, capsys):
    marker = tmp_path / "pwned"
    _pickle(tmp_path / "run.h5.ckpt", marker)
    code = main(["run", "--config", str(tiny), "--out", str(tmp_path / "run.h5"), "--quiet",
                 "--resume"])
    err = _one_line(capsys)
    assert code == 2 and "not an HDF5 data file" in err and "delete it" in err
    assert not marker.exists() and not (tmp_path / "run.h5").exists()


def test_a_sweep_finding_a_planted_pickle_records_the_run_failed_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    sweep = tmp_path / "s.toml"
    sweep.write_text(f"[sweep]\nout = \"{tmp_path / 'out'}\"\n[sweep.grid]\n\"run.seed\" = [0]\n"
                     + tiny_toml(epochs=1, batch_size=512, references=False))
    plan = plan_sweep(sweep)
    runs = tmp_path / "out" / "runs"
    runs.mkdir(parents=True)
    run_id = resolve(plan.mappings[0]).run_id
    _pickle(runs / f"{run_id}.h5.ckpt", marker)
    r = run_point(plan.mappings[0], str(runs))
    assert r["status"] == "failed" and "not an HDF5 data file" in r["message"]
    assert "delete it" in r["message"]
    assert not marker.exists()


def test_a_crafted_data_checkpoint_naming_os_system_runs_nothing(tmp_path, tiny, capsys):
    """A checkpoint in the right format whose tree names a function outside the project."""
    import io, json
    import h5py
    import numpy as np
    from experiments import datatree
    cfg = resolve({"model": {"hidden": [8]}, "algorithm": {"num_directions": 2},
                   "run": {"epochs": 1, "batch_size": 512, "references": False},
                   "cost": {"gpus": ["H100 SXM5"]}})
    from experiments.checkpoint import KIND as CHECKPOINT_KIND
    marker = tmp_path / "pwned"
    tree = {"__id__": 0, "__dict__": [
        ["run_id", cfg.run_id], ["stage", "mfdd"], ["done", {"__id__": 1, "__dict__": []}],
        ["result", {"__id__": 2, "__obj__": "os:system", "state": [["x", f"touch {marker}"]]}]]}
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for k, v in {"format": datatree.FORMAT, "kind": CHECKPOINT_KIND, "run_id": cfg.run_id,
                     "stage": "mfdd", "config_hash": cfg.config_hash}.items():
            f.attrs[k] = v
        doc = json.dumps({"format": datatree.FORMAT, "tree": tree}).encode()
        f.create_dataset("tree", data=np.frombuffer(doc, dtype=np.uint8))
        f.create_group("storage")
        f.create_group("array")
    (tmp_path / "run.h5.ckpt").write_bytes(buf.getvalue())
    code = main(["run", "--config", str(tiny), "--out", str(tmp_path / "run.h5"), "--quiet",
                 "--resume"])
    err = _one_line(capsys)
    assert code == 2 and "os:system" in err and "outside the allowed packages" in err
    assert not marker.exists()


def test_a_checkpoint_of_another_config_is_refused_saying_what_to_do(tmp_path, tiny, capsys):
    other = resolve({"run": {"seed": 5}})
    _save_checkpoint(tmp_path / "run.h5.ckpt", {"run_id": other.run_id, "stage": "mfdd",
                                                "done": {}, "result": None}, "f" * 64)
    code = main(["run", "--config", str(tiny), "--out", str(tmp_path / "run.h5"), "--quiet",
                 "--resume"])
    err = _one_line(capsys)
    assert code == 2 and f"belongs to run {other.run_id}" in err
    assert "delete the checkpoint to start the run over" in err


@pytest.mark.parametrize("plant, fragment", [
    (lambda c, v: c.symlink_to(v), "symbolic link"),
    (lambda c, v: c.mkdir(), "not a regular file"),
    (lambda c, v: c.write_text("my notes"), "not written by forwardlab"),
])
def test_the_checkpoint_path_is_checked_before_work(tmp_path, tiny, capsys, plant, fragment):
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file")
    ckpt = checkpoint_path(tmp_path / "run.h5")
    plant(ckpt, victim)
    code = main(["run", "--config", str(tiny), "--out", str(tmp_path / "run.h5"), "--quiet"])
    err = _one_line(capsys)
    assert code == 2 and fragment in err
    assert victim.read_text() == "the user's own file" and not (tmp_path / "run.h5").exists()


def test_checkpoints_are_data_files_and_resume_exactly(tmp_path, tiny):
    """The checkpoint a run leaves is an HDF5 data file naming its run and config hash."""
    import h5py
    from algorithms.training import Interrupted
    from experiments.runner import run
    cfg = resolve({"model": {"hidden": [8]}, "algorithm": {"num_directions": 2},
                   "run": {"epochs": 2, "batch_size": 512, "references": False,
                           "out": str(tmp_path / "run.h5")}, "cost": {"gpus": ["H100 SXM5"]}})
    with pytest.raises(Interrupted):
        run(cfg, tmp_path / "run.h5", echo=lambda *a: None, stop=stop_after(4))
    ckpt = tmp_path / "run.h5.ckpt"
    assert ckpt.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    with h5py.File(ckpt, "r") as f:
        assert f.attrs["run_id"] == cfg.run_id and f.attrs["config_hash"] == cfg.config_hash
        assert f.attrs["kind"] == "forwardlab checkpoint"

"""Outputs never lose work: path checks before training, no silent clobbering, umask modes,
symlinks followed, stale temporaries cleaned, interrupted runs resumable."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments.outputs import (OutputError, atomic_write, check_output, clean_stale_temporaries,
                                 is_results_file, unique_path)
from experiments.results import RunRecord, read_results, write_results

from .tiny import reproducible_costs, tiny_toml

REPO = Path(__file__).resolve().parents[2]


def results_file(path: Path, message: str = "") -> Path:
    return write_results(path, RunRecord(config={"run.seed": 0}, message=message))


def _file(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_new_file_in_existing_directory_is_fine(tmp_path):
    assert check_output(tmp_path / "a.h5") == tmp_path / "a.h5"
    assert list(tmp_path.iterdir()) == []          # the writability probe leaves nothing


@pytest.mark.parametrize("make, fragment", [
    (lambda t: t, "is a directory"),
    (lambda t: Path("/dev/null"), "device, FIFO or socket"),
    (lambda t: _file(t / "f", "x") / "run.h5", "which is a file"),
    (lambda t: t / "nope" / "run.h5", "does not exist"),
    (lambda t: Path("/proc/forwardlab-run.h5"), "not writable"),
    (lambda t: _file(t / "notes.txt", "keep me"), "not a forwardlab results file"),
])
def test_unusable_paths_are_refused(tmp_path, make, fragment):
    with pytest.raises(OutputError, match=fragment):
        check_output(make(tmp_path))


def test_fifo_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OutputError, match="device, FIFO or socket"):
        check_output(tmp_path / "pipe")


def test_foreign_file_is_never_overwritten_even_with_overwrite(tmp_path):
    p = tmp_path / "data.h5"
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"not really")
    with pytest.raises(OutputError, match="never overwritten"):
        check_output(p, overwrite=True)
    assert p.read_bytes().endswith(b"not really")


def test_results_file_needs_overwrite(tmp_path):
    p = results_file(tmp_path / "run.h5")
    assert is_results_file(p)
    with pytest.raises(OutputError, match="--overwrite"):
        check_output(p)
    assert check_output(p, overwrite=True) == p


def test_symlink_is_followed_not_replaced(tmp_path):
    real = tmp_path / "store" / "real.h5"
    real.parent.mkdir()
    link = tmp_path / "link.h5"
    link.symlink_to(real)                         # dangling: the write lands at the target
    assert check_output(link) == real
    results_file(link, "first")
    assert link.is_symlink() and real.is_file() and read_results(link).message == "first"
    results_file(link, "second")
    assert link.is_symlink() and read_results(real).message == "second"


def test_symlink_loop_is_refused(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(OutputError, match="symlink loop"):
        check_output(a)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_file_mode_follows_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        p = results_file(tmp_path / "run.h5")
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == mode


def test_unique_default_names(tmp_path):
    assert unique_path(tmp_path, "run-abc") == tmp_path / "run-abc.h5"
    results_file(tmp_path / "run-abc.h5")
    assert unique_path(tmp_path, "run-abc") == tmp_path / "run-abc-2.h5"


def test_failed_write_leaves_target_and_no_temporary(tmp_path):
    p = results_file(tmp_path / "run.h5", "original")
    with pytest.raises(RuntimeError):
        with atomic_write(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert read_results(p).message == "original"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["run.h5"]


def test_stale_temporaries_of_dead_writers_are_cleaned(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".run.h5.{dead}.abc123.tmp"
    live = tmp_path / f".run.h5.{os.getpid()}.def456.tmp"
    other = tmp_path / ".hidden.tmp"
    for p in (stale, live, other):
        p.write_text("x")
    assert clean_stale_temporaries(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and other.exists()


TINY = tiny_toml(epochs=3, batch_size=128, references=False)


def _cli(*args, **kw):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "experiments.cli", *map(str, args)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw)


def _wait_for(path: Path, timeout: float = 120.0) -> None:
    t0 = time.time()
    while not path.exists():
        if time.time() - t0 > timeout:
            raise TimeoutError(path)
        time.sleep(0.05)


@pytest.mark.slow      # four CLI processes per signal; the default run has the in-process twin below
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_writes_partial_results_then_resume_matches_uninterrupted(tmp_path, sig, code):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY)
    full, part = tmp_path / "full.h5", tmp_path / "part.h5"
    ref = _cli("run", "--config", cfg, "--out", full, "--quiet")
    proc = _cli("run", "--config", cfg, "--out", part, "--quiet")
    _wait_for(part.with_name("part.h5.ckpt"))      # first epoch finished and checkpointed
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Traceback" not in err and "--resume" in err
    rec = read_results(part)
    assert rec.status == "interrupted" and "interrupted at step" in rec.message
    assert 1 <= len(rec.history["test_accuracy"]) < 3
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]
    # the same command without --resume refuses to clobber the partial file
    again = _cli("run", "--config", cfg, "--out", part, "--quiet")
    _, err2 = again.communicate(timeout=120)
    assert again.returncode == 2 and "--overwrite" in err2
    res = _cli("run", "--config", cfg, "--out", part, "--quiet", "--resume")
    _, err3 = res.communicate(timeout=300)
    assert res.returncode == 0, err3
    ref.communicate(timeout=300)
    assert ref.returncode == 0
    a, b = read_results(full), read_results(part)
    assert b.status == "ok"
    assert a.history == b.history and a.step_summaries == b.step_summaries
    assert reproducible_costs(a.costs) == reproducible_costs(b.costs)
    assert not part.with_name("part.h5.ckpt").exists()


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_in_process_partial_results_then_resume_match_uninterrupted(tmp_path, monkeypatch,
                                                                         capsys, sig, code):
    """The fast twin of the test above: the same command line, in this process, the signal sent
    to this process once the first epoch is checkpointed (the CLI's handler turns it into a stop
    at the next step boundary), then the refusal to clobber and the resume."""
    import threading

    from experiments.cli import main
    monkeypatch.chdir(REPO)
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY)
    full, part = tmp_path / "full.h5", tmp_path / "part.h5"
    assert main(["run", "--config", str(cfg), "--out", str(full), "--quiet"]) == 0

    def send_after_checkpoint():
        _wait_for(part.with_name("part.h5.ckpt"))
        os.kill(os.getpid(), sig)
    sender = threading.Thread(target=send_after_checkpoint, daemon=True)
    sender.start()
    assert main(["run", "--config", str(cfg), "--out", str(part), "--quiet"]) == code
    sender.join(timeout=60)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--resume" in err
    rec = read_results(part)
    assert rec.status == "interrupted" and 1 <= len(rec.history["test_accuracy"]) < 3
    assert main(["run", "--config", str(cfg), "--out", str(part), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["run", "--config", str(cfg), "--out", str(part), "--quiet", "--resume"]) == 0
    a, b = read_results(full), read_results(part)
    assert b.status == "ok" and a.history == b.history and a.step_summaries == b.step_summaries
    assert reproducible_costs(a.costs) == reproducible_costs(b.costs)
    assert not part.with_name("part.h5.ckpt").exists()
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_temporaries_of_a_killed_unreaped_writer_are_stale(tmp_path):
    """A writer killed by SIGKILL but not yet reaped (a zombie) writes nothing any more."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        proc.kill()
        time.sleep(0.2)                            # killed, not waited for: a zombie
        stale = tmp_path / f".run.h5.{proc.pid}.abc.tmp"
        stale.write_text("x")
        assert clean_stale_temporaries(tmp_path) == [stale]
    finally:
        proc.wait()

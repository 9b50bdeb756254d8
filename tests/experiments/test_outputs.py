"""Outputs never lose work: path checks before training, no silent clobbering, umask modes,
symlinks followed, stale temporaries cleaned, interrupted runs resumable."""

import errno
import json
import os
import re
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


# ------------------------------------------------- nothing outside the output is ever written

from experiments import outputs                                   # noqa: E402
from experiments.outputs import MANIFEST, OutputFolder, WriteError, write_bytes   # noqa: E402


def _outside(tmp_path: Path) -> Path:
    """A file of the user's, outside any output folder, that a planted link points at."""
    victim = tmp_path / "elsewhere" / "precious.txt"
    victim.parent.mkdir()
    victim.write_text("the user's own file")
    return victim


def test_auxiliary_write_refuses_a_link_and_leaves_its_target(tmp_path):
    victim = _outside(tmp_path)
    link = tmp_path / "run.h5.ckpt"
    link.symlink_to(victim)
    with pytest.raises(OutputError, match="symbolic link"):
        write_bytes(link, b"payload", follow=False)
    with pytest.raises(OutputError, match="symbolic link"):
        with atomic_write(link, follow=False):
            pass
    assert victim.read_text() == "the user's own file" and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "run.h5.ckpt"]


def test_auxiliary_write_never_replaces_a_file_forwardlab_did_not_write(tmp_path):
    p = tmp_path / "index.csv"
    p.write_text("my own notes")
    with pytest.raises(OutputError, match="not written by forwardlab"):
        write_bytes(p, b"x", follow=False, owned=lambda q: False)
    assert p.read_text() == "my own notes"
    write_bytes(p, b"x", follow=False, owned=lambda q: True)
    assert p.read_bytes() == b"x"


def test_output_folder_keeps_a_manifest_and_refuses_foreign_files(tmp_path):
    d = tmp_path / "report"
    folder = OutputFolder(d, "report folder").prepare()
    folder.write_text("runs.csv", "a,b\n")
    folder.write_bytes("plot.png", b"\x89PNG")
    assert json.loads((d / MANIFEST).read_text())["files"] == ["plot.png", "runs.csv"]
    folder.write_text("runs.csv", "a,b\n1,2\n")                  # its own file: replaced
    assert (d / "runs.csv").read_text() == "a,b\n1,2\n"
    (d / "report.html").write_text("<p>the user's page</p>")
    again = OutputFolder(d, "report folder").prepare()           # a later command, same folder
    with pytest.raises(OutputError, match="report.html was not written by forwardlab"):
        again.write_text("report.html", "<html/>")
    assert (d / "report.html").read_text() == "<p>the user's page</p>"
    written = again.write_text("report.html", "<html/>", beside=True)   # or beside it
    assert written == d / "report-2.html" and written.read_text() == "<html/>"
    assert (d / "report.html").read_text() == "<p>the user's page</p>"
    assert OutputFolder(d).owns("report-2.html") and not OutputFolder(d).owns("report.html")


def test_output_folder_refuses_links_at_files_manifest_and_folder(tmp_path):
    victim = _outside(tmp_path)
    d = tmp_path / "out"
    d.mkdir()
    (d / "runs.csv").symlink_to(victim)
    with pytest.raises(OutputError, match="runs.csv is a symbolic link"):
        OutputFolder(d).write_text("runs.csv", "x")
    (d / MANIFEST).symlink_to(victim)
    with pytest.raises(OutputError, match="manifest .* is a symbolic link"):
        OutputFolder(d).write_text("new.csv", "x")
    linked = tmp_path / "linked"
    linked.symlink_to(victim.parent, target_is_directory=True)
    with pytest.raises(OutputError, match="symbolic link"):
        OutputFolder(linked).prepare()
    assert victim.read_text() == "the user's own file"
    assert sorted(p.name for p in victim.parent.iterdir()) == ["precious.txt"]


def test_output_folder_manifest_that_is_not_ours_is_refused(tmp_path):
    (tmp_path / MANIFEST).write_text("not json")
    with pytest.raises(OutputError, match="manifest .* cannot be read"):
        OutputFolder(tmp_path).write_text("a.csv", "x")


def test_a_link_planted_during_the_write_is_not_written_through(tmp_path, monkeypatch):
    """The link check is repeated just before the rename (a race with another user)."""
    victim = _outside(tmp_path)
    target = tmp_path / "index.csv"
    real = outputs._write_all

    def plant(fd, data):
        real(fd, data)
        target.symlink_to(victim)

    monkeypatch.setattr(outputs, "_write_all", plant)
    with pytest.raises(OutputError, match="symbolic link"):
        write_bytes(target, b"x", follow=False)
    assert victim.read_text() == "the user's own file"
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


# ------------------------------------------------------------------ disk full, I/O errors

def _enospc(fd, data):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_names_path_free_and_needed_and_keeps_the_old_file(tmp_path, monkeypatch):
    p = results_file(tmp_path / "run.h5", "original")
    before = p.read_bytes()
    monkeypatch.setattr(outputs, "_write_all", _enospc)
    with pytest.raises(WriteError) as e:
        results_file(p, "replacement")
    msg = str(e.value)
    assert len(msg.splitlines()) == 1
    assert str(p) in msg and "No space left on device" in msg
    assert re.search(r"[0-9.]+ [KMGT]?i?B free there, about [0-9.]+ [KMGT]?i?B needed", msg), msg
    assert p.read_bytes() == before and read_results(p).message == "original"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["run.h5"]


def test_too_little_free_space_is_found_before_anything_is_written(tmp_path, monkeypatch):
    import shutil
    monkeypatch.setattr(shutil, "disk_usage", lambda d: shutil._ntuple_diskusage(10, 10, 10))
    with pytest.raises(WriteError, match=r"10 B free there, about 1000 B needed"):
        write_bytes(tmp_path / "a.bin", b"x" * 1000)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("code", [errno.EIO, errno.EDQUOT, errno.EROFS])
def test_io_errors_are_write_errors(tmp_path, monkeypatch, code):
    monkeypatch.setattr(outputs, "_write_all",
                        lambda fd, data: (_ for _ in ()).throw(OSError(code, os.strerror(code))))
    with pytest.raises(WriteError, match=os.strerror(code)):
        write_bytes(tmp_path / "a.bin", b"x")
    assert list(tmp_path.iterdir()) == []


def test_run_with_a_full_disk_at_the_results_exits_1_and_resumes_identically(tmp_path, monkeypatch,
                                                                            capsys):
    """ENOSPC when the results file is written: one line, exit 1; the last checkpoint survives
    and ``--resume`` ends with the file an uninterrupted run writes."""
    from experiments.cli import main
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(tiny_toml(epochs=2, batch_size=256, references=False))
    full, part = tmp_path / "full.h5", tmp_path / "part.h5"
    assert main(["run", "--config", str(cfg), "--out", str(full), "--quiet"]) == 0
    from experiments import results as results_mod
    real = results_mod.write_bytes

    def full_at_results(path, data, **kw):   # the disk fills up as the results are written
        monkeypatch.setattr(outputs, "_write_all", _enospc)
        try:
            return real(path, data, **kw)
        finally:
            monkeypatch.undo()

    monkeypatch.setattr(results_mod, "write_bytes", full_at_results)
    capsys.readouterr()
    code = main(["run", "--config", str(cfg), "--out", str(part), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert str(part) in err and "No space left on device" in err and "needed" in err
    assert "--resume" in err and "Traceback" not in err
    assert not part.exists() and part.with_name("part.h5.ckpt").is_file()
    monkeypatch.undo()
    assert main(["run", "--config", str(cfg), "--out", str(part), "--quiet", "--resume"]) == 0
    a, b = read_results(full), read_results(part)
    assert (a.history, a.references, a.step_summaries) == (b.history, b.references, b.step_summaries)
    assert reproducible_costs(a.costs) == reproducible_costs(b.costs)


def test_disk_full_at_a_checkpoint_keeps_the_last_good_one(tmp_path, monkeypatch, capsys):
    """ENOSPC at the second epoch's checkpoint: one line naming the checkpoint, exit 1; the
    first epoch's checkpoint is intact byte for byte and resumes to the uninterrupted file."""
    from experiments.cli import main
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(tiny_toml(epochs=3, batch_size=256, references=False))
    full, part = tmp_path / "full.h5", tmp_path / "part.h5"
    assert main(["run", "--config", str(cfg), "--out", str(full), "--quiet"]) == 0
    ckpt = part.with_name("part.h5.ckpt")
    real, seen = outputs.write_bytes, []

    def full_at_second(path, data, **kw):
        seen.append(path)
        if len(seen) == 2:
            kept.append(ckpt.read_bytes())
            return _raise_enospc(path, data, kw)
        return real(path, data, **kw)

    def _raise_enospc(path, data, kw):
        monkeypatch.setattr(outputs, "_write_all", _enospc)
        try:
            return real(path, data, **kw)
        finally:
            monkeypatch.setattr(outputs, "_write_all", real_write_all)

    kept: list[bytes] = []
    real_write_all = outputs._write_all
    from experiments import checkpoint as checkpoint_mod
    monkeypatch.setattr(checkpoint_mod, "write_bytes", full_at_second)
    capsys.readouterr()
    code = main(["run", "--config", str(cfg), "--out", str(part), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1, err
    assert str(ckpt) in err and "No space left on device" in err and "needed" in err
    assert kept and ckpt.read_bytes() == kept[0] and not part.exists()
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]
    monkeypatch.setattr(checkpoint_mod, "write_bytes", real)
    assert main(["run", "--config", str(cfg), "--out", str(part), "--quiet", "--resume"]) == 0
    a, b = read_results(full), read_results(part)
    assert (a.history, a.step_summaries) == (b.history, b.step_summaries)
    assert reproducible_costs(a.costs) == reproducible_costs(b.costs)


@pytest.mark.slow
def test_a_real_full_disk_on_a_small_tmpfs(tmp_path):
    """A 256 KiB tmpfs (private mount namespace, where the machine allows one): the run stops at
    the first checkpoint that does not fit, one line naming the path and the bytes needed,
    exit 1, nothing half-written left on the file system."""
    import shutil
    if shutil.which("unshare") is None:
        pytest.skip("no unshare: the injected-ENOSPC tests above cover this path")
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(tiny_toml(epochs=2, batch_size=256, references=False))
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (f"mount -t tmpfs -o size=256k tmpfs {mnt} || exit 77; "
              f"{sys.executable} -m experiments.cli run --config {cfg} --out {mnt}/run.h5 --quiet; "
              f"echo rc=$?; ls -a {mnt}")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    if "rc=" not in proc.stdout:
        pytest.skip(f"no private tmpfs here ({proc.stderr.strip()[:80]})")
    assert "rc=1" in proc.stdout, (proc.stdout, proc.stderr)
    err = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(err) == 1 and "No space left on device" in err[0] and "needed" in err[0], err
    assert str(mnt) in err[0]
    assert not [x for x in proc.stdout.split() if x.endswith(".tmp")]

"""Sweeps: axis expansion, local pool and Dask LocalCluster execution, failures recorded,
resumable after kill -9 with nothing finished lost or re-run."""

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import experiments
from experiments.cli import main
from experiments.results import read_results
from experiments.sweep import SweepError, plan_sweep, read_index, run_sweep

from .tiny import reproducible_costs, tiny_toml
from .units_table import expected_unit, stored_units

REPO = Path(__file__).resolve().parents[2]



def sweep_file(directory: Path, axes: str, epochs: int = 1, name: str = "s.toml") -> Path:
    p = directory / name
    p.write_text(f"[sweep]\nout = \"{directory / 'out'}\"\n{axes}\n"
                 + tiny_toml(epochs=epochs, batch_size=256, references=False))
    return p


GRID = '[sweep.grid]\n"run.seed" = [0, 1]\n"device.phase_noise.sigma_rad" = [0.002, 0.02]\n'


def test_plan_expands_grid_times_zip(tmp_path):
    p = sweep_file(tmp_path, GRID + '[sweep.zip]\n"algorithm.lr" = [0.001, 0.002, 0.003]\n'
                   '"algorithm.epsilon" = [0.005, 0.01, 0.02]\n')
    plan = plan_sweep(p)
    assert plan.axes == ["run.seed", "device.phase_noise.sigma_rad", "algorithm.lr", "algorithm.epsilon"]
    assert len(plan.points) == 2 * 2 * 3
    # zip axes advance together
    assert {(q["algorithm.lr"], q["algorithm.epsilon"]) for q in plan.points} == {
        (0.001, 0.005), (0.002, 0.01), (0.003, 0.02)}
    m = plan.mappings[0]
    assert m["device"]["phase_noise"]["sigma_rad"] == 0.002 and m["run"]["epochs"] == 1
    assert plan.out == tmp_path / "out"


@pytest.mark.parametrize("axes, fragment", [
    ("", "no axes"),
    ('[sweep.grid]\n"run.seed" = []\n', "non-empty list"),
    ('[sweep.grid]\nseed = [1]\n', "dotted config key"),
    ('[sweep.zip]\n"run.seed" = [1, 2]\n"algorithm.lr" = [0.1]\n', "different lengths"),
    ('[sweep.grid]\n"run.seed" = [1]\n[sweep.zip]\n"run.seed" = [2]\n', "in both grid and zip"),
    ('bogus = 1\n[sweep.grid]\n"run.seed" = [1]\n', "unknown key sweep.bogus"),
    ('workers = 0\n[sweep.grid]\n"run.seed" = [1]\n', "workers = 0"),
])
def test_bad_sweep_files(tmp_path, axes, fragment):
    with pytest.raises(SweepError, match=fragment):
        plan_sweep(sweep_file(tmp_path, axes))


def _histories(directory: Path) -> dict:
    out = {}
    for p in sorted((directory / "runs").glob("*.h5")):
        rec = read_results(p)
        out[p.stem] = (rec.status, rec.history, rec.step_summaries, reproducible_costs(rec.costs))
    return out


@pytest.fixture(scope="module")
def pool_sweep(tmp_path_factory):
    """A 2 × 2 sweep through a local pool of 2 workers (the reference for the other tests)."""
    tmp = tmp_path_factory.mktemp("pool")
    path = sweep_file(tmp, GRID)
    rows = run_sweep(path, workers=2, echo=lambda s: None)
    return tmp, path, rows


def test_local_pool_sweep_writes_one_file_per_run_and_an_index(pool_sweep):
    tmp, path, rows = pool_sweep
    assert [r["status"] for r in rows] == ["ok"] * 4
    index = read_index(tmp / "out")
    assert [r["run_id"] for r in index] == [r["run_id"] for r in rows]
    assert {(r["run.seed"], r["device.phase_noise.sigma_rad"]) for r in index} == {
        ("0", "0.002"), ("0", "0.02"), ("1", "0.002"), ("1", "0.02")}
    for r in index:
        rec = read_results(tmp / "out" / r["path"])
        assert rec.status == "ok" and rec.run_id == r["run_id"]
        assert float(r["test_accuracy"]) == rec.history["test_accuracy"][-1]
        assert rec.config["device.phase_noise.sigma_rad"] == float(r["device.phase_noise.sigma_rad"])
        # every dataset and key of a real run carries the unit of the table
        units = stored_units(tmp / "out" / r["path"])
        assert {k: u for k, u in units.items() if u != expected_unit(k)} == {}
    # the swept value is in the results file and in the DataFrame
    df = experiments.load(tmp / "out")
    assert len(df) == 4 and sorted(df["device.phase_noise.sigma_rad"].unique()) == [0.002, 0.02]
    assert set(df["run.seed"]) == {0, 1}
    # the declared axes are stored in the sweep folder and in every run, and drive the report
    import json as _json
    axes = _json.loads((tmp / "out" / "sweep.json").read_text())["axes"]
    assert sorted(axes) == ["device.phase_noise.sigma_rad", "run.seed"]
    for r in index:
        assert sorted(_json.loads(read_results(tmp / "out" / r["path"]).meta["sweep_axes"]
                                  .replace("'", '"'))) == sorted(axes)
    assert df.attrs["axes"] == ["device.phase_noise.sigma_rad"]        # the seed is the spread
    assert isinstance(df["device.phase_noise.sigma_rad"].dtype, __import__("pandas").CategoricalDtype)


def test_same_sweep_again_skips_finished_runs(pool_sweep):
    tmp, path, rows = pool_sweep
    files = sorted((tmp / "out" / "runs").glob("*.h5"))
    before = {p: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()) for p in files}
    lines = []
    again = run_sweep(path, workers=2, echo=lines.append)
    assert all(r.get("cached") for r in again)
    # the counters count every run of the sweep, finished earlier or not
    assert [re.match(r"  \[(\d+/\d+)\]", x).group(1) for x in lines[1:-1]] == [
        "1/4", "2/4", "3/4", "4/4"]
    assert "(4 finished earlier)" in lines[0]
    assert {p: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in files} == before


def test_failed_runs_are_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    path = sweep_file(tmp_path, '[sweep.grid]\n"run.epochs" = [1, 0]\n"model.hidden" = [[8], [-3]]\n')
    code = main(["sweep", str(path), "--workers", "1", "--quiet"])
    assert code == 1
    index = read_index(tmp_path / "out")
    status = {(r["run.epochs"], r["model.hidden"]): r for r in index}
    assert status[("1", "[8]")]["status"] == "ok"
    for key in (("0", "[8]"), ("1", "[-3]"), ("0", "[-3]")):
        assert status[key]["status"] == "failed"
    assert "run.epochs = 0" in status[("0", "[8]")]["message"]
    assert "model.hidden" in status[("1", "[-3]")]["message"]


def test_dask_workers_started_elsewhere_get_absolute_paths(pool_sweep, tmp_path, monkeypatch):
    """A relative --out and data paths reach Dask workers (whose working directory is another
    one) as absolute paths: the results land in the driver's folder, identical to the pool's."""
    from dask.distributed import LocalCluster
    ref_dir, path, rows = pool_sweep
    elsewhere = tmp_path / "worker-home"
    (elsewhere / "rel").mkdir(parents=True)          # a folder of the same name on the worker side
    monkeypatch.chdir(elsewhere)                      # the workers start here ...
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=50) as cluster:
        monkeypatch.chdir(tmp_path)                   # ... the driver runs here
        got = run_sweep(path, out="rel", scheduler=cluster.scheduler_address, echo=lambda s: None)
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
    assert [r["status"] for r in got] == ["ok"] * 4
    assert [r["run_id"] for r in got] == [r["run_id"] for r in rows]
    assert _histories(tmp_path / "rel") == _histories(ref_dir / "out")
    assert list((elsewhere / "rel").iterdir()) == []


def test_unreachable_scheduler_is_one_line(tmp_path, capsys):
    path = sweep_file(tmp_path, '[sweep.grid]\n"run.seed" = [0]\n')
    code = main(["sweep", str(path), "--scheduler", "tcp://127.0.0.1:9", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1 and "cannot connect" in err


@pytest.mark.slow      # ~60 s of processes; the default run has the twin below
def test_kill_9_mid_sweep_then_resume_loses_nothing(tmp_path):
    """kill -9 the whole sweep (driver and workers), run it again, compare with a clean sweep."""
    axes = '[sweep.grid]\n"run.seed" = [0, 1]\n"algorithm.epsilon" = [0.005, 0.01]\n'
    path = sweep_file(tmp_path, axes, epochs=3)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "experiments.cli", "sweep", str(path),
                             "--workers", "2"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    runs = tmp_path / "out" / "runs"
    t0 = time.time()
    while len(list(runs.glob("*.h5"))) < 2 and proc.poll() is None and time.time() - t0 < 300:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in runs.glob("*.h5")}
    assert 1 <= len(finished) < 4, "the kill must land mid-sweep"
    for name in finished:                        # no corrupt file: every results file reads
        assert read_results(runs / name).status == "ok"
    rows = run_sweep(path, workers=2, echo=lambda s: None)
    assert [r["status"] for r in rows] == ["ok"] * 4, [r["message"] for r in rows]
    cached = {f"{r['run_id']}.h5" for r in rows if r.get("cached")}
    assert cached == set(finished)               # nothing finished is re-run ...
    for name, (mtime, blob) in finished.items():  # ... or rewritten
        assert (runs / name).stat().st_mtime_ns == mtime and (runs / name).read_bytes() == blob
    assert not [p for p in runs.iterdir() if p.suffix in (".tmp", ".ckpt")]
    clean = sweep_file(tmp_path, axes, epochs=3, name="clean.toml")
    run_sweep(clean, out=str(tmp_path / "clean"), workers=2, echo=lambda s: None)
    assert _histories(tmp_path / "out") == _histories(tmp_path / "clean")


def test_sweep_after_a_kill_reruns_only_what_was_lost(tmp_path, monkeypatch):
    """The fast twin of the kill -9 test: the state a kill -9 leaves — one run finished, one
    killed mid-write (a stale temporary of a dead writer, no results file) — then the same
    sweep again: the finished run is neither re-run nor rewritten, the lost one is run to the
    results it had before, nothing stale is left. The runs execute in this process (the pool
    itself is covered by the pool and Dask tests above)."""
    import experiments.sweep as sweep_mod
    class InProcess:            # the pool's interface, running each item here
        def __init__(self, workers, stop, ctx=None):
            pass

        def run(self, fn, items):
            return ((i, fn(*it)) for i, it in enumerate(items))
    monkeypatch.setattr(sweep_mod, "_Pool", InProcess)
    path = sweep_file(tmp_path, '[sweep.grid]\n"run.seed" = [0, 1]\n', epochs=2)
    rows = run_sweep(path, workers=1, echo=lambda s: None)
    runs = tmp_path / "out" / "runs"
    kept, lost = (runs / f"{r['run_id']}.h5" for r in rows)
    before = _histories(tmp_path / "out")
    kept_state = (kept.stat().st_mtime_ns, kept.read_bytes())
    lost.unlink()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    (runs / f".{lost.name}.{dead}.abc123.tmp").write_bytes(b"half a file")
    again = run_sweep(path, workers=1, echo=lambda s: None)
    assert [r["status"] for r in again] == ["ok", "ok"]
    assert {f"{r['run_id']}.h5" for r in again if r.get("cached")} == {kept.name}
    assert (kept.stat().st_mtime_ns, kept.read_bytes()) == kept_state
    assert not [p for p in runs.iterdir() if p.suffix in (".tmp", ".ckpt")]
    assert _histories(tmp_path / "out") == before


# ------------------------------------------------------------------ one name per setting

def test_shorthand_and_settings_key_are_one_value_and_a_sweep_over_either_plans_distinct_runs(
        tmp_path):
    """The base config sets ``[algorithm] num_directions = 2``; an axis over
    ``algorithm.settings.num_directions`` (or the shorthand) is the value each run gets."""
    from experiments.config import resolve
    for key in ("algorithm.settings.num_directions", "algorithm.num_directions"):
        plan = plan_sweep(sweep_file(tmp_path, f'[sweep.grid]\n"{key}" = [8, 16, 32]\n'))
        cfgs = [resolve(m) for m in plan.mappings]
        assert [c.algorithm.settings["num_directions"] for c in cfgs] == [8, 16, 32]
        assert len({c.run_id for c in cfgs}) == 3


def test_both_names_in_one_table_with_different_values_is_an_error(tmp_path, capsys):
    p = tmp_path / "c.toml"
    p.write_text("[algorithm]\nnum_directions = 2\n[algorithm.settings]\nnum_directions = 4\n")
    assert main(["config", "show", "--config", str(p)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "algorithm.num_directions = 2 and algorithm.settings.num_directions = 4" in err


def test_points_that_resolve_to_one_run_are_refused(tmp_path):
    """run.threads does not change a run's results, so it is not in the run id: two points."""
    with pytest.raises(SweepError, match="resolve to the same run"):
        run_sweep(sweep_file(tmp_path, '[sweep.grid]\n"run.threads" = [1, 2]\n'), echo=lambda s: None)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ nothing outside --out

def _victim(tmp_path: Path) -> Path:
    v = tmp_path / "elsewhere" / "precious.txt"
    v.parent.mkdir()
    v.write_text("the user's own file")
    return v


def test_index_link_is_refused_before_any_run(tmp_path, capsys):
    victim = _victim(tmp_path)
    path = sweep_file(tmp_path, '[sweep.grid]\n"run.seed" = [0]\n')
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "index.csv").symlink_to(victim)
    assert main(["sweep", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "index.csv is a symbolic link" in err
    assert victim.read_text() == "the user's own file"
    assert not (tmp_path / "out" / "runs").exists()


def test_foreign_index_is_never_replaced(tmp_path, capsys):
    path = sweep_file(tmp_path, '[sweep.grid]\n"run.seed" = [0]\n')
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "index.csv").write_text("my,own,table\n")
    assert main(["sweep", str(path), "--quiet"]) == 2
    assert "index.csv was not written by forwardlab" in capsys.readouterr().err
    assert (tmp_path / "out" / "index.csv").read_text() == "my,own,table\n"


@pytest.mark.parametrize("suffix", [".h5", ".h5.ckpt"])
def test_links_at_run_files_fail_that_run_and_write_nothing_through(tmp_path, suffix):
    from experiments.config import resolve
    from experiments.sweep import run_point
    victim = _victim(tmp_path)
    plan = plan_sweep(sweep_file(tmp_path, '[sweep.grid]\n"run.seed" = [0]\n'))
    runs = tmp_path / "out" / "runs"
    runs.mkdir(parents=True)
    run_id = resolve(plan.mappings[0]).run_id
    (runs / f"{run_id}{suffix}").symlink_to(victim)
    r = run_point(plan.mappings[0], str(runs))
    assert r["status"] == "failed" and "symbolic link" in r["message"], r
    assert victim.read_text() == "the user's own file"
    assert (runs / f"{run_id}{suffix}").is_symlink()
    others = [p for p in runs.iterdir() if p.name != f"{run_id}{suffix}"]
    # the failure is recorded in the run's own file where that path is free
    assert [p.name for p in others] == ([f"{run_id}.h5"] if suffix == ".h5.ckpt" else [])
    assert all(read_results(p).status == "failed" for p in others)


def test_full_disk_in_one_run_is_that_runs_failure(tmp_path, monkeypatch):
    """ENOSPC while a sweep run writes its results: the run is failed (the message names the
    path and the space needed), nothing half-written is left, the next run goes on."""
    import errno
    from experiments import outputs
    from experiments.sweep import run_point
    plan = plan_sweep(sweep_file(tmp_path, '[sweep.grid]\n"run.seed" = [0, 1]\n'))
    runs = tmp_path / "out" / "runs"
    runs.mkdir(parents=True)
    real = outputs._write_all
    monkeypatch.setattr(outputs, "_write_all", lambda fd, data: (_ for _ in ()).throw(
        OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
    r = run_point(plan.mappings[0], str(runs))
    assert r["status"] == "failed" and "No space left on device" in r["message"]
    assert str(runs) in r["message"] and "needed" in r["message"]
    assert not [p for p in runs.iterdir() if p.suffix in (".h5", ".tmp")]
    monkeypatch.setattr(outputs, "_write_all", real)
    assert run_point(plan.mappings[1], str(runs))["status"] == "ok"


# ------------------------------------------------------------------ dead workers, signals

def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            kids += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _workers(driver: int) -> list[int]:
    """The driver's pool workers: spawned children, or the children of its forkserver (the
    workers are forked from it with torch imported)."""
    found = []
    for pid in _children(driver):
        cmd = _cmdline(pid)
        if "spawn_main" in cmd:
            found.append(pid)
        elif "forkserver" in cmd:
            found += _children(pid)
    return found


def _in_session(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid``."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(d.name))
    return found


@pytest.mark.slow
def test_a_killed_worker_fails_only_its_run_and_the_rerun_matches_a_clean_sweep(tmp_path):
    """An OOM-style kill -9 of the worker running the first run: that run is recorded failed,
    a fresh pool runs the rest; the same command again resumes it from its checkpoint and every
    file equals a clean sweep's."""
    import threading
    axes = '[sweep.grid]\n"run.seed" = [0, 1]\n'
    path = sweep_file(tmp_path, axes, epochs=3)
    plan = plan_sweep(path)
    from experiments.config import resolve
    first = resolve(plan.mappings[0]).run_id
    ckpt = tmp_path / "out" / "runs" / f"{first}.h5.ckpt"
    killed = []

    def killer():
        t0 = time.time()
        while not ckpt.exists() and time.time() - t0 < 300:
            time.sleep(0.02)
        for pid in _workers(os.getpid()):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    t = threading.Thread(target=killer)
    t.start()
    lines = []
    rows = run_sweep(path, workers=1, echo=lines.append)
    t.join()
    assert killed, "no worker was killed"
    by_id = {r["run_id"]: r for r in rows}
    assert by_id[first]["status"] == "failed"
    assert "killed by SIGKILL" in by_id[first]["message"]
    assert [r["status"] for r in rows if r["run_id"] != first] == ["ok"]
    index = read_index(tmp_path / "out")
    assert {r["run_id"]: r["status"] for r in index} == {r["run_id"]: r["status"] for r in rows}
    assert ckpt.is_file()                                  # its last checkpoint is kept
    again = run_sweep(path, workers=1, echo=lambda s: None)
    assert [r["status"] for r in again] == ["ok", "ok"]
    clean = sweep_file(tmp_path, axes, epochs=3, name="clean.toml")
    run_sweep(clean, out=str(tmp_path / "clean"), workers=1, echo=lambda s: None)
    assert _histories(tmp_path / "out") == _histories(tmp_path / "clean")


def test_kill_9_of_the_driver_leaves_no_worker(tmp_path):
    """Workers die with the driver (parent-death signal): nothing of the sweep's session is left
    a few seconds after kill -9 of the driver alone."""
    path = sweep_file(tmp_path, '[sweep.grid]\n"run.seed" = [0, 1, 2, 3]\n', epochs=50)
    proc = subprocess.Popen([sys.executable, "-m", "experiments.cli", "sweep", str(path),
                             "--workers", "2", "--quiet"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    t0 = time.time()
    while len(_workers(proc.pid)) < 2:
        assert time.time() - t0 < 120 and proc.poll() is None, "the workers never started"
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)      # the driver only: no process-group kill
    proc.wait()
    t0 = time.time()
    # a worker still importing when the driver died exits as soon as its initializer runs
    while _in_session(proc.pid) and time.time() - t0 < 60:
        time.sleep(0.1)
    left = _in_session(proc.pid)
    for pid in left:                        # a failing test leaves nothing running either
        os.kill(pid, signal.SIGKILL)
    assert left == [], "orphaned workers"
    proc.stdout.read()                      # EOF: nothing holds the driver's stdout any more


def _start_driver(path: Path, background: bool):
    """The sweep driver; ``background``: SIGINT ignored as in ``cmd &`` from a job script."""
    pre = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if background else None
    return subprocess.Popen([sys.executable, "-m", "experiments.cli", "sweep", str(path),
                             "--workers", "2"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=pre, env=dict(os.environ, PYTHONUNBUFFERED="1"))


@pytest.mark.slow
@pytest.mark.parametrize("sig, code, background", [(signal.SIGINT, 130, True),
                                                    (signal.SIGTERM, 143, False)])
def test_signal_stops_the_sweep_cleanly_and_the_rerun_matches_a_clean_sweep(tmp_path, sig, code,
                                                                          background):
    axes = '[sweep.grid]\n"run.seed" = [0, 1, 2]\n'
    path = sweep_file(tmp_path, axes, epochs=4)
    proc = _start_driver(path, background)
    runs = tmp_path / "out" / "runs"
    t0 = time.time()
    while not list(runs.glob("*.ckpt")) and time.time() - t0 < 300:
        time.sleep(0.05)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == code, err
    assert "Traceback" not in err and "sweep stopped by" in err
    index = read_index(tmp_path / "out")
    assert len(index) == 3 and {r["status"] for r in index} <= {"ok", "interrupted", "pending"}
    assert "interrupted" in {r["status"] for r in index}
    for r in index:
        if r["status"] == "interrupted":
            assert read_results(tmp_path / "out" / r["path"]).status == "interrupted"
    assert _in_session(proc.pid) == []
    rows = run_sweep(path, workers=2, echo=lambda s: None)
    assert [r["status"] for r in rows] == ["ok"] * 3
    clean = sweep_file(tmp_path, axes, epochs=4, name="clean.toml")
    run_sweep(clean, out=str(tmp_path / "clean"), workers=2, echo=lambda s: None)
    assert _histories(tmp_path / "out") == _histories(tmp_path / "clean")


@pytest.mark.slow      # ~60 s at load; the default run has the twin below
def test_a_stop_reaches_running_dask_tasks_which_checkpoint_and_resume(tmp_path):
    """A stop during a Dask sweep (LocalCluster on 127.0.0.1, one threaded worker): the running
    run checkpoints at its next step and is recorded "interrupted" (its results file too), the
    runs not yet started stay "pending", the stop file is gone; the same sweep again finishes
    every run, identical to a sweep that was never stopped."""
    from dask.distributed import LocalCluster

    from experiments.sweep import SweepStopped
    axes = '[sweep.grid]\n"run.seed" = [0, 1]\n'
    # enough epochs that the run is still going when the driver's next poll (every 50 ms) asks
    # it to stop: with 3 tiny epochs a fast machine finished it before the stop file appeared
    epochs = 15
    path = sweep_file(tmp_path, axes, epochs=epochs)
    runs = tmp_path / "out" / "runs"
    seen: list[float] = []

    def stop():                      # true once the first run has checkpointed an epoch
        if not seen and list(runs.glob("*.ckpt")):
            seen.append(time.monotonic())
        return signal.SIGINT if seen else None

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://",
                      host="127.0.0.1", dashboard_address=None, silence_logs=50) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        with pytest.raises(SweepStopped):
            run_sweep(path, scheduler=cluster.scheduler_address, echo=lambda s: None, stop=stop)
        index = read_index(tmp_path / "out")
        assert sorted(r["status"] for r in index) == ["interrupted", "pending"], index
        r = next(r for r in index if r["status"] == "interrupted")
        assert read_results(tmp_path / "out" / r["path"]).status == "interrupted"
        assert not list((tmp_path / "out").glob(".stop-*"))
        rows = run_sweep(path, scheduler=cluster.scheduler_address, echo=lambda s: None)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    clean = sweep_file(tmp_path, axes, epochs=epochs, name="clean.toml")
    run_sweep(clean, out=str(tmp_path / "clean"), workers=1, echo=lambda s: None)
    assert _histories(tmp_path / "out") == _histories(tmp_path / "clean")


def test_dask_stop_file_twin(tmp_path, monkeypatch):
    """Fast twin of the test above: a Dask run's stop() turns true once the sweep's stop file
    appears (looked for at most every STOP_FILE_POLL_S), and a run that finds the file before
    it starts is left "pending" without writing anything."""
    from experiments import sweep
    from experiments.config import load_toml
    monkeypatch.setattr(sweep, "STOP_FILE_POLL_S", 0.0)
    flag = tmp_path / ".stop-abc"
    stop = sweep._stop_requested(str(flag))
    assert not stop()
    flag.write_text("stop\n")
    assert stop() and stop()
    assert sweep._stop_requested(None) is sweep._worker_stop_requested
    runs = tmp_path / "runs"
    runs.mkdir()
    mapping = load_toml(sweep_file(tmp_path, '[sweep.grid]\n"run.seed" = [0]\n'))
    mapping.pop("sweep")
    r = sweep.run_point(mapping, str(runs), (), str(flag))
    assert r["status"] == "pending" and "stopped before" in r["message"]
    assert list(runs.iterdir()) == []


def test_forkserver_started_early_is_gone_when_no_run_needed_it(tmp_path):
    """The local pool's forkserver starts while the configs are checked (its imports overlap
    that work); a sweep refused at that check, or with every run finished earlier, kills and
    reaps it instead of waiting for an import nobody uses."""
    from multiprocessing import forkserver
    server = forkserver._forkserver
    bad = sweep_file(tmp_path, '[sweep.grid]\n"algorithm.lr" = [-1.0, -2.0]\n', name="bad.toml")
    with pytest.raises(SweepError, match="no run of the sweep has a valid config"):
        run_sweep(bad, workers=2, echo=lambda s: None)
    assert server._forkserver_pid is None
    path = sweep_file(tmp_path, '[sweep.grid]\n"run.seed" = [0]\n')
    run_sweep(path, workers=1, echo=lambda s: None)          # runs: the pool ends its server
    assert server._forkserver_pid is None
    rows = run_sweep(path, workers=1, echo=lambda s: None)   # all finished: no worker forked
    assert [r["status"] for r in rows] == ["ok"] and server._forkserver_pid is None

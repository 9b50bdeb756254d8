"""Sweeps: a base config plus axes over any dotted key; one results file per run, an index.

A sweep file is a run config (tables run, model, algorithm, device, cost, data) plus a
``[sweep]`` table::

    [sweep]
    out = "results/noise"            # sweep directory (relative to the working directory)
    workers = 2                       # default for --workers
    base = "base.toml"                # optional: a config file under this one (relative to it)

    [sweep.grid]                      # Cartesian product of every list
    "device.phase_noise.sigma_rad" = [0.0, 0.01, 0.02]
    "run.seed" = [0, 1, 2]

    [sweep.zip]                       # lists of one length, advanced together
    "algorithm.lr" = [0.001, 0.002]
    "algorithm.epsilon" = [0.005, 0.01]

Runs (grid × zip) are written to ``<out>/runs/<run id>.h5``; the run id is a hash of the
resolved config, so the same command again skips finished runs, resumes runs that stopped at a
checkpoint and re-runs failed ones. ``<out>/index.csv`` lists every run with its axis values,
status, message and final test accuracy; it is rewritten atomically as runs finish. The axes
are declared in ``<out>/sweep.json`` and in every run (``meta.sweep_axes``): reports compare
along them (see :mod:`experiments.axes`).

Runs execute in a local process pool (``workers``) or on a Dask distributed cluster
(``scheduler`` = its address; ``dask.distributed.Client(address).map``). Local workers are
forked from a forkserver that imports torch and numba once per sweep (see
:data:`WORKER_PRELOAD`): that import is paid once per sweep, not once per worker. Every path sent to a
worker is absolute (a Dask worker's working directory is not the driver's).

A sweep keeps going: any failure of one run — an exception, a full disk, a worker process that
dies (an out-of-memory kill) — is recorded as that run's failure in the index and the next run
starts (a broken local pool is replaced by a fresh one). A stop request (``stop()`` true, from
the command line's SIGINT/SIGTERM handler) asks the running workers to stop at their next step
boundary (they write partial results, status "interrupted", and keep their checkpoint), writes
the index and raises :class:`SweepStopped`. Local workers are asked by SIGUSR1; Dask workers
by a stop file that appears in the sweep folder (``.stop-<token>``, one name per invocation,
removed at the end), which their runs look for at step boundaries; a Dask run that finds it
before starting stays "pending". Local workers die with the driver (a parent-death
signal), so a killed driver leaves no process behind.
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable

from .config import ConfigError, deep_merge, load_toml, resolve, set_dotted
from .axes import INDEX_FIELDS, META_KEY, SWEEP_FILE
from .outputs import (OutputError, OutputFolder, clean_stale_temporaries, is_results_file,
                      refuse_link)

__all__ = ["SweepError", "SweepStopped", "SweepPlan", "plan_sweep", "run_sweep", "run_point",
           "read_index", "PATH_KEYS"]

MAX_RUNS = 100_000


class SweepError(ValueError):
    """A sweep file is not valid; the message names the key and what is allowed."""


class SweepStopped(Exception):
    """The sweep was stopped by a signal; the index is written and consistent."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum


#: Config keys holding paths: made absolute (against the driver's working directory) before a
#: run is sent to a worker, whose working directory may be another one (Dask).
PATH_KEYS = ("data.data_dir", "cost.spec_file")


class SweepPlan:
    """The expanded sweep: its directory, axes and one (overrides, mapping) per run."""

    def __init__(self, out: Path, axes: list[str], points: list[dict[str, Any]],
                 mappings: list[dict], workers: int) -> None:
        self.out, self.axes, self.points, self.mappings, self.workers = out, axes, points, mappings, workers


def _axes(table: Any, name: str) -> dict[str, list]:
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise SweepError(f"sweep.{name} = {table!r}; allowed: a table of dotted.key = [values]")
    for k, v in table.items():
        if not isinstance(v, list) or not v:
            raise SweepError(f"sweep.{name}.{k!r} = {v!r}; allowed: a non-empty list of values")
        if "." not in k:
            raise SweepError(f"sweep.{name} key {k!r}; allowed: a dotted config key such as "
                             "\"device.phase_noise.sigma_rad\"")
    return dict(table)


def plan_sweep(path: str | Path, out: str | None = None, workers: int | None = None) -> SweepPlan:
    """Read a sweep file and expand its axes (every point resolved later, per run)."""
    path = Path(path)
    doc = load_toml(path, what="sweep file")
    sweep = doc.pop("sweep", None)
    if not isinstance(sweep, dict):
        raise SweepError(f"sweep file {str(path)!r} has no [sweep] table; allowed: a run config plus "
                         "[sweep] with grid and/or zip axes")
    sweep = dict(sweep)
    grid, zipped = _axes(sweep.pop("grid", None), "grid"), _axes(sweep.pop("zip", None), "zip")
    base_file = sweep.pop("base", None)
    out_key = sweep.pop("out", None)
    w = sweep.pop("workers", 1)
    sweep.pop("name", None)
    if sweep:
        raise SweepError(f"unknown key sweep.{sorted(sweep)[0]}; allowed: out, workers, base, name, "
                         "grid, zip")
    if not grid and not zipped:
        raise SweepError("sweep has no axes; allowed: [sweep.grid] and/or [sweep.zip] with "
                         "dotted.key = [values]")
    both = sorted(set(grid) & set(zipped))
    if both:
        raise SweepError(f"sweep axis {both[0]!r} is in both grid and zip; allowed: one of them")
    if zipped and len({len(v) for v in zipped.values()}) != 1:
        lens = {k: len(v) for k, v in zipped.items()}
        raise SweepError(f"sweep.zip lists have different lengths {lens}; allowed: equal lengths")
    workers = workers if workers is not None else w
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 1024:
        raise SweepError(f"workers = {workers!r}; allowed: an integer in [1, 1024]")
    base: dict = {}
    if base_file is not None:
        if not isinstance(base_file, str) or not base_file:
            raise SweepError(f"sweep.base = {base_file!r}; allowed: a config file path")
        base = load_toml(path.parent / base_file, what="sweep base config")
    base = deep_merge(base, doc)
    n_runs = math.prod(len(v) for v in grid.values()) * (len(next(iter(zipped.values()))) if zipped else 1)
    if n_runs > MAX_RUNS:
        raise SweepError(f"sweep expands to {n_runs} runs; allowed: at most {MAX_RUNS}")
    axes = list(grid) + list(zipped)
    points: list[dict[str, Any]] = []
    zip_rows = list(zip(*zipped.values())) if zipped else [()]
    for combo in itertools.product(*grid.values()):
        for row in zip_rows:
            points.append(dict(zip(axes, list(combo) + list(row))))
    mappings = []
    for p in points:
        m = json.loads(json.dumps(base))
        for k, v in p.items():
            try:
                set_dotted(m, k, v)
            except ConfigError as e:
                raise SweepError(f"sweep axis {k!r}: {e}") from None
        mappings.append(_absolute_paths(m))
    if out_key is not None and (not isinstance(out_key, str) or not out_key or "\x00" in out_key):
        raise SweepError(f"sweep.out = {out_key!r}; allowed: a directory path")
    out_dir = Path(os.path.abspath(out or out_key or Path("results") / path.stem))
    return SweepPlan(out_dir, axes, points, mappings, workers)


def _absolute_paths(mapping: dict) -> dict:
    """``PATH_KEYS`` made absolute against this (the driver's) working directory."""
    for key in PATH_KEYS:
        section, name = key.split(".")
        v = mapping.get(section, {}).get(name) if isinstance(mapping.get(section), dict) else None
        if isinstance(v, str) and v and "\x00" not in v and not os.path.isabs(v):
            mapping[section][name] = os.path.abspath(v)
    return mapping


def _raw_id(mapping: dict) -> str:
    return "bad-" + hashlib.sha256(json.dumps(mapping, sort_keys=True, default=str).encode()).hexdigest()[:12]


def run_point(mapping: dict, runs_dir: str, axes: tuple[str, ...] = (),
              stop_file: str | None = None) -> dict[str, Any]:
    """Run one sweep point in this process (a pool or Dask worker); never raises.

    ``axes``: the sweep's axes, stored in the run's results (``meta.sweep_axes``).
    ``stop_file``: a path in the sweep folder whose appearance asks the run to stop at its next
    step boundary (Dask workers, which the driver cannot signal; a local pool worker gets
    SIGUSR1); a run that finds it before starting is left "pending".
    Returns {"run_id", "status", "message", "test_accuracy", "seconds"}. A finished run
    (status ok on disk) is not re-run; a checkpoint of the same run is resumed. Any exception,
    a full disk included, is that run's failure ("failed", the message names it).
    """
    t0 = time.perf_counter()
    runs = Path(runs_dir)
    try:
        cfg = resolve(mapping)
    except ConfigError as e:
        return {"run_id": _raw_id(mapping), "status": "failed", "message": str(e),
                "test_accuracy": math.nan, "seconds": 0.0}
    except Exception as e:   # pragma: no cover - resolve raises ConfigError for bad values
        return {"run_id": _raw_id(mapping), "status": "failed",
                "message": f"{type(e).__name__}: {e}", "test_accuracy": math.nan, "seconds": 0.0}
    result = {"run_id": cfg.run_id, "status": "ok", "message": "", "test_accuracy": math.nan}
    if stop_file is not None and os.path.exists(stop_file):
        return {**result, "status": "pending", "message": "the sweep was stopped before this run "
                "started", "seconds": 0.0}
    out = runs / f"{cfg.run_id}.h5"
    try:
        from algorithms.training import Divergence, Interrupted
        from .results import write_results
        from .runner import checkpoint_path, run, set_threads
        set_threads(cfg.run.threads)
        done = _finished(mapping, runs, cfg)   # e.g. finished by another sweep since it was planned
        if done:
            return done
        # the run files are forwardlab's own: a link planted there is never written through
        refuse_link(out, "sweep run file")
        refuse_link(checkpoint_path(out), "sweep checkpoint")
        resume = checkpoint_path(out).is_file()
        rec = run(cfg, out, echo=lambda s: None, resume=resume, overwrite=True,
                  stop=_stop_requested(stop_file))
        if axes:   # the run says what it was compared along, also when read without its sweep
            rec.meta[META_KEY] = json.dumps(list(axes))
            write_results(out, rec)
        result["test_accuracy"] = rec.history.get("test_accuracy", [math.nan])[-1]
    except Divergence as e:
        result.update(status="diverged", message=str(e))
    except Interrupted as e:   # the driver asked this worker to stop (SIGUSR1)
        result.update(status="interrupted", message=str(e))
    except Exception as e:    # any failure of this run (a full disk too) is this run's failure
        msg = f"{type(e).__name__}: {e}"
        result.update(status="failed", message=msg)
        _record_failure(out, cfg, msg)
    result["seconds"] = time.perf_counter() - t0
    return result


def _record_failure(out: Path, cfg, message: str) -> None:
    """Record a failure in the run's own file so reports see it (best effort: the index
    records it anyway; never over a link or a file forwardlab did not write)."""
    try:
        from .config import config_to_toml
        from .results import RunRecord, write_results
        write_results(out, RunRecord(config=cfg.flat(), status="failed", message=message,
                                     config_toml=config_to_toml(cfg), run_id=cfg.run_id),
                      follow=False)
    except Exception:
        pass


# A worker's stop request: SIGUSR1 from the driver (its Ctrl-C / SIGTERM), polled by training
# at every step boundary through run(stop=...).
_STOP = {"requested": False}


def _worker_stop_requested() -> bool:
    return _STOP["requested"]


#: Seconds between two looks for a Dask stop file (a stat per step would be cheap too, but a
#: shared file system may not be).
STOP_FILE_POLL_S = 0.2


def _stop_requested(stop_file: str | None) -> Callable[[], bool]:
    """The run's ``stop()``: SIGUSR1 received (pool workers), or ``stop_file`` present (Dask
    workers), looked for at most every :data:`STOP_FILE_POLL_S` seconds."""
    if stop_file is None:
        return _worker_stop_requested
    last = {"t": -math.inf, "seen": False}

    def stop() -> bool:
        if _STOP["requested"] or last["seen"]:
            return True
        now = time.monotonic()
        if now - last["t"] >= STOP_FILE_POLL_S:
            last["t"] = now
            last["seen"] = os.path.exists(stop_file)
        return last["seen"]
    return stop


def _finished(mapping: dict, runs: Path, cfg=None) -> dict | None:
    """The index row of a run already finished (status ok on disk), else None."""
    from .results import read_results
    try:
        cfg = cfg or resolve(mapping)
    except ConfigError:
        return None
    out = runs / f"{cfg.run_id}.h5"
    if not is_results_file(out):
        return None
    try:
        rec = read_results(out)
    except Exception:
        return None
    if rec.status != "ok":
        return None
    from .runner import checkpoint_path
    # a kill between writing the finished results and removing the checkpoint leaves the
    # checkpoint behind; the finished file supersedes it
    checkpoint_path(out).unlink(missing_ok=True)
    return {"run_id": cfg.run_id, "status": "ok", "message": "finished earlier", "cached": True,
            "seconds": 0.0, "test_accuracy": rec.history.get("test_accuracy", [math.nan])[-1]}




def _is_index(name: str, path: Path) -> bool:
    """An index written before folders kept a manifest: recognised by its header."""
    try:
        with open(path, newline="") as fh:
            return fh.readline().startswith("run_id,status,")
    except (OSError, UnicodeDecodeError):
        return False


def _folder(out: Path) -> OutputFolder:
    return OutputFolder(out, "sweep directory", legacy=lambda n, p: n == "index.csv" and _is_index(n, p))


def _write_index(out: Path | OutputFolder, axes: list[str], rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(INDEX_FIELDS[:2]) + axes + list(INDEX_FIELDS[2:]),
                       extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()})
    folder = out if isinstance(out, OutputFolder) else _folder(Path(out))
    folder.write_text("index.csv", buf.getvalue())


def read_index(directory: str | Path) -> list[dict[str, str]]:
    with open(Path(directory) / "index.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _failed(message: str) -> dict:
    return {"status": "failed", "message": message, "test_accuracy": math.nan, "seconds": 0.0}


def _death_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else str(-exitcode)
        why = " (e.g. the out-of-memory killer)" if -exitcode == signal.SIGKILL else ""
        return f"worker process died: killed by {name}{why}; the run's last checkpoint is kept"
    return (f"worker process died (exit code {exitcode}); the run's last checkpoint is kept")


class _Pool:
    """Local process pool that survives dead workers: ``run(items)`` yields (index, result) per
    item; a worker that dies takes only its own run with it (recorded failed), the pool is
    replaced and the other runs go on. ``stop()`` (polled) asks the workers to stop at their
    next step boundary; a second stop kills them."""

    def __init__(self, workers: int, stop: Callable[[], Any] | None, ctx=None) -> None:
        self.workers = workers
        self.stop = stop or (lambda: False)
        self.ctx = ctx if ctx is not None else _worker_context()
        self.started = self.ctx.SimpleQueue()   # (pid, item) as each run starts
        self.procs: dict[int, Any] = {}
        self.pid_of: dict[int, int] = {}
        self.stopping = 0

    def _drain(self) -> None:
        while not self.started.empty():
            pid, i = self.started.get()
            self.pid_of[i] = pid

    def _signal_workers(self, sig: int) -> None:
        for p in list(self.procs.values()):
            if p.exitcode is None and p.pid:
                try:
                    os.kill(p.pid, sig)
                except ProcessLookupError:
                    pass

    def run(self, fn, items: list) -> Iterable[tuple[int, dict]]:
        from collections import deque
        queue, strikes = deque(range(len(items))), {}
        try:
            yield from self._run(fn, items, queue, strikes)
        finally:
            _stop_forkserver(self.ctx)

    def _run(self, fn, items: list, queue, strikes: dict) -> Iterable[tuple[int, dict]]:
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool
        while queue:
            ex = ProcessPoolExecutor(max_workers=self.workers, mp_context=self.ctx,
                                     initializer=_worker_init, initargs=(os.getpid(), self.started))
            running: dict = {}
            broken: list[int] = []
            try:
                while queue or running:
                    while queue and len(running) < self.workers and not self.stopping:
                        i = queue.popleft()
                        running[ex.submit(_tracked, fn, i, *items[i])] = i
                    self.procs.update(getattr(ex, "_processes", None) or {})
                    if not running:
                        break
                    done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                    self._drain()
                    if self.stop() and self.stopping == 0:
                        self.stopping = 1
                        self._signal_workers(signal.SIGUSR1)   # stop at the next step boundary
                    for f in done:
                        i = running.pop(f)
                        try:
                            yield i, f.result()
                        except BrokenProcessPool:
                            broken.append(i)
                        except Exception as e:   # e.g. a result that cannot be sent back
                            yield i, _failed(f"{type(e).__name__}: {e}")
                    if broken:
                        broken += list(running.values())
                        running.clear()
                        break
                    if self.stopping:
                        queue.clear()   # not started: stays "pending" in the index
            finally:
                if running or broken:   # a stop, an error in the driver, or a broken pool
                    self._signal_workers(signal.SIGKILL if not broken else signal.SIGTERM)
                ex.shutdown(wait=True, cancel_futures=True)
                self._drain()
            if broken:
                yield from self._after_break(broken, queue, strikes)

    def _after_break(self, broken: list[int], queue, strikes: dict) -> Iterable[tuple[int, dict]]:
        """The pool broke: the items whose worker died abruptly fail; the others (terminated by
        the executor because its pool broke) go back to the front of the queue."""
        codes = {}
        for i in broken:
            p = self.procs.get(self.pid_of.get(i, -1))
            codes[i] = p.exitcode if p is not None else None
        dead = [i for i in broken if codes[i] not in (None, 0, -signal.SIGTERM)]
        if not dead:   # no one to blame: each gets a strike; a second strike fails it
            for i in broken:
                strikes[i] = strikes.get(i, 0) + 1
            dead = [i for i in broken if strikes[i] >= 2]
        for i in dead:
            yield i, _failed(_death_message(codes[i]))
        for i in reversed([i for i in broken if i not in dead]):
            queue.appendleft(i)
        if self.stopping:
            queue.clear()


#: What every pool worker imports before its first run and what takes most of a worker's start
#: (about 3 s of CPU: torch, numba's compiler and its numpy/BLAS lowering registries, which pull
#: in scipy.linalg, and h5py). The forkserver imports them once; each worker is forked from it
#: with them loaded, so a second worker (or a pool replaced after a worker died) costs a fork,
#: not a second copy of that import. Only third-party modules: the forkserver starts with its own
#: sys.path (Python 3.11 passes the driver's but does not apply it), and a project module imported there could come
#: from another checkout than the driver's; the project's own modules are imported in each
#: worker, from the driver's path. Nothing here starts a thread (forking a process that runs
#: threads, GNU OpenMP's included, is unsafe); numba's thread pool starts in each worker.
WORKER_PRELOAD = ("torch", "numba", "numba.core.inline_closurecall", "numba.np.arrayobj",
                  "numba.np.arraymath", "numba.np.linalg", "numba.np.npyimpl", "scipy.linalg",
                  "h5py")
#: Read by torch and numba when they are imported: the forkserver imports them with the values
#: every worker sets (one thread each; parallelism comes from processes).
_THREAD_ENV = ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS")


def _worker_context():
    """The pool's multiprocessing context: a forkserver with :data:`WORKER_PRELOAD` imported
    (where the platform has one), else spawn. Either way a worker never inherits the driver's
    own state (its threads, signal handlers, open files): the forkserver is a fresh interpreter
    the driver starts, and its children are forks of that one."""
    import multiprocessing as mp
    if "forkserver" not in mp.get_all_start_methods():   # pragma: no cover - Windows
        return mp.get_context("spawn")
    from multiprocessing import forkserver
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(list(WORKER_PRELOAD))
    saved = {k: os.environ.get(k) for k in _THREAD_ENV}
    try:   # the server inherits this environment when it starts (once per driver process)
        for k in _THREAD_ENV:
            os.environ.setdefault(k, "1")
        forkserver.ensure_running()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return ctx


def _stop_forkserver(ctx, *, unused: bool = False) -> None:
    """End the forkserver once the sweep's workers are gone and wait for it: it holds torch in
    memory while it lives, and only a waited-for process adds its CPU time (its workers' too,
    which it waited for) to the driver's children (``getrusage(RUSAGE_CHILDREN)``), so the
    sweep's CPU stays measurable from outside. ``unused``: no worker was forked (the sweep
    stopped before its runs, or had none left): the server is killed rather than left to finish
    its preload, so a refused or finished sweep does not wait ~3 s for imports nobody needs.
    Best effort: ``_stop`` is multiprocessing's own (private) shutdown, which its test suite
    uses; a second call does nothing."""
    if ctx.get_start_method() != "forkserver":   # pragma: no cover - spawn: workers are children
        return
    from multiprocessing import forkserver
    server = getattr(forkserver, "_forkserver", None)
    pid = getattr(server, "_forkserver_pid", None)
    if unused and pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:   # pragma: no cover - already gone
            pass
    stop = getattr(server, "_stop", None)
    if stop is not None:
        try:
            stop()
        except OSError:   # pragma: no cover - already gone
            pass


def _tracked(fn, i: int, *args):
    """Tell the driver which run this worker process starts (to blame the right run if the
    process dies), then run it."""
    if _STOP.get("started") is not None:
        _STOP["started"].put((os.getpid(), i))
    return fn(*args)


def _worker_init(parent: int | None = None, started=None) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the driver handles Ctrl-C for the sweep
    signal.signal(signal.SIGUSR1, lambda *a: _STOP.__setitem__("requested", True))
    _STOP["started"] = started
    if parent is not None:
        _die_with(parent)


def _die_with(parent: int) -> None:
    """End this worker when the driver ``parent`` dies, however it dies (kill -9 included):
    Linux's parent-death signal (prctl PR_SET_PDEATHSIG), else a watchdog thread polling the
    parent id. A worker left behind would finish the queue and hold the driver's stdout.

    A forkserver's worker is the forkserver's child, and the forkserver exits as soon as the
    driver dies (its end of the driver's pipe closes), so the signal armed on the immediate
    parent reaches the worker then too."""
    import threading
    ppid = os.getppid()
    pdeathsig = False
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        pdeathsig = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):   # pragma: no cover - not Linux
        pass
    # the driver (or its forkserver) died before the signal was armed
    if os.getppid() != ppid or not _started_by(ppid, parent):
        os._exit(1)
    if pdeathsig:
        return

    def watch() -> None:   # pragma: no cover - only where prctl is missing
        while os.getppid() == ppid:
            time.sleep(1.0)
        os._exit(1)
    threading.Thread(target=watch, daemon=True, name="forwardlab-parent-watch").start()


def _started_by(pid: int, driver: int) -> bool:
    """``pid`` is the driver, or a process the driver started (its forkserver)."""
    if pid == driver:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1]) == driver
    except (OSError, ValueError, IndexError):   # pragma: no cover - no /proc: not Linux
        return pid != 1


def _connect(address: str):
    try:
        from dask.distributed import Client
    except ImportError:   # pragma: no cover - dask is a dependency
        raise SweepError("--scheduler needs dask.distributed (pip install 'dask[distributed]')")
    try:
        return Client(address, timeout="5s")
    except (OSError, TimeoutError, ValueError, TypeError) as e:
        raise SweepError(f"--scheduler {address!r}: cannot connect ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
                         "allowed: the address of a running Dask scheduler, e.g. "
                         "tcp://127.0.0.1:8786") from None


def _dask_map(fn, items: list, client, stop: Callable[[], Any] | None = None,
              request_stop: Callable[[], None] | None = None) -> Iterable[tuple[int, dict]]:
    """Runs on a Dask cluster; a task lost with its worker (KilledWorker) or any other error
    is that run's failure. A stop calls ``request_stop`` (which makes the runs' stop file
    appear): running tasks checkpoint and return "interrupted" at their next step boundary,
    tasks not yet started return "pending" at once; without ``request_stop`` (or on a second
    signal, which leaves through an exception) what has not finished is cancelled."""
    from dask.distributed import as_completed
    try:
        futs = client.map(fn, *zip(*items), pure=False)
        index = {f.key: i for i, f in enumerate(futs)}
        pending = as_completed(futs)
        asked = False
        while not pending.is_empty():
            if stop is not None and stop() and not asked:
                if request_stop is None:
                    client.cancel(futs)
                    return
                request_stop()
                asked = True
            for f in pending.next_batch(block=False) or ():
                try:
                    yield index[f.key], f.result()
                except Exception as e:   # KilledWorker, a lost connection, ...
                    yield index[f.key], _failed(f"{type(e).__name__}: {e}")
            time.sleep(0.05)
    finally:
        client.close()


def run_sweep(path: str | Path, *, out: str | None = None, workers: int | None = None,
              scheduler: str | None = None, echo: Callable[[str], None] = print,
              stop: Callable[[], Any] | None = None) -> list[dict]:
    """Run (or continue) a sweep; returns the index rows (one per run, in sweep order).

    ``stop()``: polled; when true the workers stop at their next step boundary, the index is
    written and :class:`SweepStopped` is raised (the command line exits 128 + signal).
    """
    plan = plan_sweep(path, out, workers)
    # A local pool's forkserver imports torch and numba (WORKER_PRELOAD, ~3 s of CPU) before it
    # forks the first worker. Started here, that import runs on another core while the configs
    # are checked and the folder is prepared (ensure_running does not wait for the preload); it
    # is ended after the runs (by the pool), or killed when no run needed it (an error, no runs).
    ctx = _worker_context() if scheduler is None else None
    pooled: list = []   # the pool that took ctx over (it ends the server itself, as before)
    try:
        return _run_plan(plan, path, scheduler, echo, stop, ctx, pooled)
    finally:
        if ctx is not None and not pooled:
            _stop_forkserver(ctx, unused=True)


def _run_plan(plan: SweepPlan, path, scheduler, echo, stop, ctx, pooled: list) -> list[dict]:
    """The body of :func:`run_sweep` once the sweep file is read; ``ctx``: the local pool's
    started multiprocessing context (None with a Dask scheduler); the pool made from it is
    appended to ``pooled``."""
    runs = plan.out / "runs"
    # Every point is resolved before anything starts: a value wrong for every run (a bad base
    # config, an unknown key) is one error; a value wrong for some runs is recorded per run.
    errors, ids, first = [], [], {}
    t_last = time.monotonic()
    for n, m in enumerate(plan.mappings):
        if time.monotonic() - t_last > 5.0:   # a large grid is not a silent start
            echo(f"forwardlab sweep: checking the configs of {len(plan.mappings)} runs "
                 f"({n} done)")
            t_last = time.monotonic()
        try:
            run_id = resolve(m).run_id
        except ConfigError as e:
            errors.append(str(e))
            ids.append(_raw_id(m))
            continue
        if run_id in first:   # two points, one run: an axis that changes nothing
            a, b = plan.points[first[run_id]], plan.points[n]
            raise SweepError(f"sweep points {a} and {b} resolve to the same run {run_id}; allowed: "
                             "axes whose values change the run (a key set twice, once by an "
                             "axis, is one value)")
        first[run_id] = n
        ids.append(run_id)
    if errors and len(errors) == len(plan.mappings):
        raise SweepError(f"no run of the sweep has a valid config; first: {errors[0]}")
    client = _connect(scheduler) if scheduler else None
    folder = _folder(plan.out).prepare()
    folder.claim("index.csv")   # a link or someone else's file there: refused before any run
    refuse_link(runs, "sweep runs directory")
    try:
        runs.mkdir(exist_ok=True)
    except OSError as e:
        raise OutputError(f"sweep directory {str(runs)!r} cannot be created ({e.strerror}); "
                          "allowed: a writable directory path") from None
    if not runs.is_dir():
        raise OutputError(f"sweep directory {str(runs)!r} is a file; allowed: a directory")
    clean_stale_temporaries(runs)
    clean_stale_temporaries(plan.out)
    # the declared axes drive every report (a file of forwardlab's own: never through a link)
    folder.write_text(SWEEP_FILE, json.dumps({"axes": plan.axes, "sweep_file": str(path)},
                                             indent=1) + "\n")
    rows: list[dict] = []
    for p, run_id in zip(plan.points, ids):
        rows.append({"run_id": run_id, "status": "pending", "message": "", "path": "", **p})
    _write_index(folder, plan.axes, rows)
    # Finished runs are found here, without starting a worker: a resumed sweep only pays for
    # what is left.
    todo, finished = [], []
    for i, m in enumerate(plan.mappings):
        r = _finished(m, runs)
        (finished if r else todo).append((i, r))
    where = f"Dask scheduler {scheduler}" if scheduler else f"{plan.workers} local worker(s)"
    echo(f"forwardlab sweep: {len(rows)} runs over {', '.join(plan.axes)} ({len(finished)} finished "
         f"earlier) on {where}; results in {plan.out}")
    items = [(plan.mappings[i], str(runs), tuple(plan.axes)) for i, _ in todo]
    # Dask workers cannot be signalled: a stop makes this file appear in the sweep folder (the
    # runs' folder is shared by design), named for this invocation so a stale one stops nothing
    stop_name = f".stop-{uuid.uuid4().hex[:12]}"
    if not items:
        results = iter(())
    elif client is not None:
        items = [(*item, str(plan.out / stop_name)) for item in items]
        results = _dask_map(run_point, items, client, stop,
                            lambda: folder.write_text(stop_name, "stop at the next step\n"))
    else:
        pool = _Pool(min(plan.workers, len(items)), stop, ctx)
        pooled.append(pool)
        results = pool.run(run_point, items)
    results = itertools.chain(finished, ((todo[j][0], r) for j, r in results))
    done, total = 0, len(rows)
    try:
        for i, r in results:
            done += 1
            rows[i].update(r)
            run_id = rows[i]["run_id"]
            rows[i]["path"] = (str(Path("runs") / f"{run_id}.h5")
                               if not run_id.startswith("bad-") else "")
            _write_index(folder, plan.axes, rows)
            axes = "  ".join(f"{k}={plan.points[i][k]}" for k in plan.axes)
            acc = r.get("test_accuracy", math.nan)
            note = " (finished earlier)" if r.get("cached") else ""
            echo(f"  [{done}/{total}] {r['status']:<8} {run_id}  {axes}  "
                 f"test accuracy {acc:.4f}  {r.get('seconds', 0.0):.1f} s{note}"
                 + (f"  {r['message']}" if r["status"] != "ok" else ""))
    except BaseException:   # a second signal, an error in the driver: the index stays true
        _close_index(folder, plan.axes, rows)
        raise
    finally:
        (plan.out / stop_name).unlink(missing_ok=True)
    signum = stop() if stop is not None else None
    if signum:
        _close_index(folder, plan.axes, rows)
        left = sum(r["status"] in ("pending", "interrupted") for r in rows)
        raise SweepStopped(int(signum), f"sweep stopped by {signal.Signals(int(signum)).name}: "
                           f"{done} of {total} runs recorded, {left} pending or interrupted; "
                           "the same command continues it")
    clean_stale_temporaries(runs)   # writers of an earlier, killed sweep are gone by now
    n_ok = sum(r["status"] == "ok" for r in rows)
    echo(f"forwardlab sweep: {n_ok} of {len(rows)} runs ok; index {plan.out / 'index.csv'}")
    return rows


def _close_index(folder: OutputFolder, axes: list[str], rows: list[dict]) -> None:
    """The index after a stop: runs that never reported are "interrupted" if they left a
    checkpoint or partial file, else still "pending"."""
    from .runner import checkpoint_path
    for r in rows:
        if r["status"] == "pending" and not r["run_id"].startswith("bad-"):
            out = folder.dir / "runs" / f"{r['run_id']}.h5"
            if checkpoint_path(out).is_file():
                r["status"] = "interrupted"
    try:
        _write_index(folder, axes, rows)
    except OutputError:   # pragma: no cover - the disk is full: the earlier index stays
        pass

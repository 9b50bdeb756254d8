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
(``scheduler`` = its address; ``dask.distributed.Client(address).map``).
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from .config import ConfigError, deep_merge, load_toml, resolve, set_dotted
from .axes import INDEX_FIELDS, META_KEY, SWEEP_FILE
from .outputs import OutputError, atomic_write, clean_stale_temporaries, is_results_file

__all__ = ["SweepError", "SweepPlan", "plan_sweep", "run_sweep", "run_point", "read_index"]

MAX_RUNS = 100_000


class SweepError(ValueError):
    """A sweep file is not valid; the message names the key and what is allowed."""


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
        mappings.append(m)
    if out_key is not None and (not isinstance(out_key, str) or not out_key or "\x00" in out_key):
        raise SweepError(f"sweep.out = {out_key!r}; allowed: a directory path")
    out_dir = Path(out or out_key or Path("results") / path.stem)
    return SweepPlan(out_dir, axes, points, mappings, workers)


def _raw_id(mapping: dict) -> str:
    return "bad-" + hashlib.sha256(json.dumps(mapping, sort_keys=True, default=str).encode()).hexdigest()[:12]


def run_point(mapping: dict, runs_dir: str, axes: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run one sweep point in this process (a pool or Dask worker); never raises.

    ``axes``: the sweep's axes, stored in the run's results (``meta.sweep_axes``).
    Returns {"run_id", "status", "message", "test_accuracy", "seconds"}. A finished run
    (status ok on disk) is not re-run; a checkpoint of the same run is resumed.
    """
    from algorithms.training import Divergence, Interrupted
    from .data import DataError
    from .results import RunRecord, write_results
    from .runner import checkpoint_path, run, set_threads
    t0 = time.perf_counter()
    runs = Path(runs_dir)
    try:
        cfg = resolve(mapping)
    except ConfigError as e:
        return {"run_id": _raw_id(mapping), "status": "failed", "message": str(e),
                "test_accuracy": math.nan, "seconds": 0.0}
    set_threads(cfg.run.threads)
    out = runs / f"{cfg.run_id}.h5"
    result = {"run_id": cfg.run_id, "status": "ok", "message": "", "test_accuracy": math.nan}
    try:
        done = _finished(mapping, runs, cfg)   # e.g. finished by another sweep since it was planned
        if done:
            return done
        resume = checkpoint_path(out).is_file()
        rec = run(cfg, out, echo=lambda s: None, resume=resume, overwrite=True)
        if axes:   # the run says what it was compared along, also when read without its sweep
            rec.meta[META_KEY] = json.dumps(list(axes))
            write_results(out, rec)
        result["test_accuracy"] = rec.history.get("test_accuracy", [math.nan])[-1]
    except Divergence as e:
        result.update(status="diverged", message=str(e))
    except Interrupted as e:   # pragma: no cover - workers are not sent stop requests
        result.update(status="interrupted", message=str(e))
    except (ConfigError, DataError, OutputError, MemoryError, ValueError, RuntimeError) as e:
        msg = f"{type(e).__name__}: {e}"
        result.update(status="failed", message=msg)
        try:   # record the failure in the run's own file so reports see it
            from .config import config_to_toml
            write_results(out, RunRecord(config=cfg.flat(), status="failed", message=msg,
                                         config_toml=config_to_toml(cfg), run_id=cfg.run_id))
        except Exception:   # pragma: no cover - the index still records it
            pass
    result["seconds"] = time.perf_counter() - t0
    return result


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




def _write_index(out: Path, axes: list[str], rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(INDEX_FIELDS[:2]) + axes + list(INDEX_FIELDS[2:]),
                       extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()})
    with atomic_write(out / "index.csv") as tmp:
        tmp.write_text(buf.getvalue())


def read_index(directory: str | Path) -> list[dict[str, str]]:
    with open(Path(directory) / "index.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _pool_map(fn, items: list, workers: int) -> Iterable[tuple[int, dict]]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    # spawn: a fresh interpreter per worker (no forked torch/OpenMP state); one thread each.
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_worker_init) as ex:
        futs = {ex.submit(fn, *it): i for i, it in enumerate(items)}
        try:
            for f in as_completed(futs):
                yield futs[f], f.result()
        except BaseException:
            for f in futs:
                f.cancel()
            for p in list(getattr(ex, "_processes", {}).values()):
                p.terminate()
            raise


def _worker_init() -> None:
    import signal
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the driver handles Ctrl-C for the sweep


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


def _dask_map(fn, items: list, client) -> Iterable[tuple[int, dict]]:
    from dask.distributed import as_completed
    try:
        futs = client.map(fn, *zip(*items), pure=False)
        index = {f.key: i for i, f in enumerate(futs)}
        for f in as_completed(futs):
            yield index[f.key], f.result()
    finally:
        client.close()


def run_sweep(path: str | Path, *, out: str | None = None, workers: int | None = None,
              scheduler: str | None = None, echo: Callable[[str], None] = print) -> list[dict]:
    """Run (or continue) a sweep; returns the index rows (one per run, in sweep order)."""
    plan = plan_sweep(path, out, workers)
    runs = plan.out / "runs"
    # Every point is resolved before anything starts: a value wrong for every run (a bad base
    # config, an unknown key) is one error; a value wrong for some runs is recorded per run.
    errors = []
    for m in plan.mappings:
        try:
            resolve(m)
        except ConfigError as e:
            errors.append(str(e))
    if errors and len(errors) == len(plan.mappings):
        raise SweepError(f"no run of the sweep has a valid config; first: {errors[0]}")
    client = _connect(scheduler) if scheduler else None
    if plan.out.exists() and not plan.out.is_dir():
        raise OutputError(f"sweep directory {str(plan.out)!r} is a file; allowed: a directory path")
    try:
        runs.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"sweep directory {str(plan.out)!r} cannot be created ({e.strerror}); "
                          "allowed: a writable directory path") from None
    clean_stale_temporaries(runs)
    clean_stale_temporaries(plan.out)
    with atomic_write(plan.out / SWEEP_FILE) as tmp:   # the declared axes drive every report
        tmp.write_text(json.dumps({"axes": plan.axes, "sweep_file": str(path)}, indent=1) + "\n")
    rows: list[dict] = []
    for p in plan.points:
        rows.append({"run_id": "", "status": "pending", "message": "", "path": "", **p})
    _write_index(plan.out, plan.axes, rows)
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
    if not items:
        results = iter(())
    elif client is not None:
        results = _dask_map(run_point, items, client)
    else:
        results = _pool_map(run_point, items, min(plan.workers, len(items)))
    results = itertools.chain(finished, ((todo[j][0], r) for j, r in results))
    done = 0
    for i, r in results:
        done += 1
        rows[i].update(r)
        rows[i]["path"] = str(Path("runs") / f"{r['run_id']}.h5") if not r["run_id"].startswith("bad-") else ""
        _write_index(plan.out, plan.axes, rows)
        axes = "  ".join(f"{k}={plan.points[i][k]}" for k in plan.axes)
        acc = r.get("test_accuracy", math.nan)
        note = " (finished earlier)" if r.get("cached") else ""
        echo(f"  [{done}/{len(items)}] {r['status']:<8} {r['run_id']}  {axes}  "
             f"test accuracy {acc:.4f}  {r.get('seconds', 0.0):.1f} s{note}"
             + (f"  {r['message']}" if r["status"] != "ok" else ""))
    clean_stale_temporaries(runs)   # writers of an earlier, killed sweep are gone by now
    n_ok = sum(r["status"] == "ok" for r in rows)
    echo(f"forwardlab sweep: {n_ok} of {len(rows)} runs ok; index {plan.out / 'index.csv'}")
    return rows

"""Study throughput: the shipped noise sweep with ``--workers 2`` against ``--workers 1``.

Each round runs ``forwardlab sweep`` on the sweep file twice, once per worker count, into fresh
directories (nothing cached), as child processes; it records wall time and the CPU time of the
whole process tree (``RUSAGE_CHILDREN``). The speed-up is wall(workers 1) / wall(workers 2) of
the same round; the median and min–max over rounds are reported. On a machine shared with other
work the speed-up measures the share of the CPUs the sweep got as well as the sweep: say so next
to the figure.

``--points N`` keeps the first N points of the grid (in the sweep's own order) and
``--epochs E`` overrides ``run.epochs``, so a short check runs the same code path; the full
sweep is ``--points 0`` with the file's epochs.

Run: python bench/study_throughput.py [--sweep examples/noise-sweep.toml] [--points 4]
     [--epochs 2] [--rounds 1] [--json PATH]
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


def shrunk_sweep(src: Path, points: int, epochs: int | None, dst: Path) -> int:
    """Write ``src`` with its grid cut to the first ``points`` points (as a zip over the kept
    combinations) and ``run.epochs`` replaced; returns the number of runs."""
    doc = tomllib.loads(src.read_text())
    sweep = doc.pop("sweep")
    grid = sweep.pop("grid", {})
    combos = list(itertools.product(*grid.values()))
    if points:
        combos = combos[:points]
    if epochs is not None:
        doc.setdefault("run", {})["epochs"] = epochs
    lines = ["[sweep]", f"out = {json.dumps(str(dst.parent / 'out'))}", "[sweep.zip]"]
    for i, key in enumerate(grid):
        lines.append(f"{json.dumps(key)} = {_toml_value([c[i] for c in combos])}")
    for section, table in doc.items():
        lines.append(f"[{section}]")
        for k, v in table.items():
            lines.append(f"{k} = {_toml_value(v)}")
    dst.write_text("\n".join(lines) + "\n")
    return len(combos)


def run_sweep(path: Path, workers: int, out: Path) -> dict:
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "experiments.cli", "sweep", str(path),
                           "--workers", str(workers), "--out", str(out), "--quiet"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", default=str(ROOT / "examples" / "noise-sweep.toml"))
    ap.add_argument("--points", type=int, default=4, help="first N grid points (0: all)")
    ap.add_argument("--epochs", type=int, default=None, help="override run.epochs")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="study-throughput-"))
    try:
        path = tmp / "sweep.toml"
        n = shrunk_sweep(Path(args.sweep), args.points, args.epochs, path)
        print(f"{Path(args.sweep).name}: {n} runs"
              + (f", {args.epochs} epochs each" if args.epochs is not None else "")
              + f"; {args.rounds} interleaved round(s) of --workers 1 and --workers 2", flush=True)
        rounds = []
        for r in range(args.rounds):
            one = run_sweep(path, 1, tmp / f"w1-{r}")
            two = run_sweep(path, 2, tmp / f"w2-{r}")
            rounds.append({"workers_1": one, "workers_2": two,
                           "speedup_wall": one["wall_s"] / two["wall_s"]})
            print(f"  round {r}: workers 1 {one['wall_s']:.1f} s wall ({one['cpu_s']:.1f} s CPU), "
                  f"workers 2 {two['wall_s']:.1f} s wall ({two['cpu_s']:.1f} s CPU): "
                  f"{rounds[-1]['speedup_wall']:.2f}x", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    s = [r["speedup_wall"] for r in rounds]
    res = {"runs": n, "epochs": args.epochs, "rounds": rounds, "speedup_median": statistics.median(s),
           "speedup_min": min(s), "speedup_max": max(s),
           "load_average_1min": os.getloadavg()[0], "cpus": os.cpu_count()}
    print(f"--workers 2 vs --workers 1: {res['speedup_median']:.2f}x wall "
          f"[{res['speedup_min']:.2f}-{res['speedup_max']:.2f}] (target >= 1.8 on 2 idle cores; "
          f"load average now {res['load_average_1min']:.1f} on {res['cpus']} CPUs)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == "__main__":
    main()

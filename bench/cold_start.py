"""Cold start of the command line: CPU seconds of ``forwardlab --help``, ``--version``,
``algorithms``, ``presets``, ``config show`` and of ``forwardlab run`` up to its first line.

Each command runs as a fresh process (``python -m experiments.cli ...``), CPU time of the
process tree from ``RUSAGE_CHILDREN`` (for ``run``: the child's own utime + stime from
``/proc/<pid>/stat`` when its first line arrives, then it is stopped). ``--before PATH`` runs
the same commands from another checkout of the project in interleaved rounds (before, after,
before, ...), so the two columns come from one run. The table shows the first call in a fresh
cache folder ("cold"; a checkout that caches listing answers computes them then) and the median
of the later ones; the numba cache is warm (run ``forwardlab warmup`` first). Whether torch was
imported is read from the process itself.

Run: python bench/cold_start.py [--before /path/to/other/checkout] [--rounds 3] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (["--help"], ["--version"], ["algorithms"], ["presets"], ["config", "show"])
PROBE = ("import sys; sys.argv = ['forwardlab'] + sys.argv[1:]\n"
         "from experiments.cli import main\n"
         "try:\n    rc = main()\nexcept SystemExit as e:\n    rc = e.code\n"
         "print('TORCH', int('torch' in sys.modules), file=sys.stderr)\n"
         "raise SystemExit(rc or 0)")


def _env(tree: Path, cache: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(tree), "XDG_CACHE_HOME": str(cache),
            "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def listing(tree: Path, cache: Path, args: list[str]) -> dict:
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=tree, env=_env(tree, cache),
                       capture_output=True, text=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    torch_line = [line for line in p.stderr.splitlines() if line.startswith("TORCH ")]
    return {"cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
            "wall_s": time.perf_counter() - t0, "rc": p.returncode,
            "torch": bool(torch_line and torch_line[-1].endswith("1"))}


def run_first_line(tree: Path, cache: Path, out: Path) -> dict:
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "experiments.cli", "run", "--epochs", "1",
                          "--no-references", "--quiet", "--overwrite", "--out", str(out)],
                         cwd=tree, env=_env(tree, cache), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    line = p.stdout.readline()
    with open(f"/proc/{p.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    wall = time.perf_counter() - t0
    p.kill()
    p.communicate()
    return {"cpu_s": cpu, "wall_s": wall, "first_line": line.strip()[:80]}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", default="", help="another checkout to compare with")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default="")
    a = ap.parse_args(argv)
    trees = {"after": ROOT}
    if a.before:
        trees = {"before": Path(a.before).resolve(), "after": ROOT}
    tmp = Path(tempfile.mkdtemp(prefix="cold-start-"))
    res: dict = {name: {} for name in trees}
    for r in range(a.rounds + 1):                 # round 0: the first call in a fresh cache
        for name, tree in trees.items():
            cache = tmp / name
            for args in COMMANDS:
                key = " ".join(args)
                res[name].setdefault(key, []).append(listing(tree, cache, args))
            res[name].setdefault("run (first line)", []).append(
                run_first_line(tree, cache, tmp / f"{name}-{r}.h5"))
    print(f"CPU s per command, fresh process each; first call / median of {a.rounds} later calls "
          f"[min-max]; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    names = list(trees)
    print(f"{'command':<22}" + "".join(f"{n:>40}" for n in names))
    summary: dict = {}
    for key in list(res[names[-1]]):
        cells = []
        for n in names:
            rows = res[n][key]
            later = [x["cpu_s"] for x in rows[1:]] or [rows[0]["cpu_s"]]
            torch_used = any(x.get("torch") for x in rows[1:])
            summary.setdefault(n, {})[key] = {"first_cpu_s": rows[0]["cpu_s"],
                                              "median_cpu_s": statistics.median(later),
                                              "min": min(later), "max": max(later),
                                              "torch_imported": torch_used,
                                              "rc": rows[-1].get("rc", 0)}
            s = summary[n][key]
            flag = "" if key.startswith("run") else (" torch" if torch_used else " no torch")
            rc = f" rc {s['rc']}" if s["rc"] else ""
            cells.append(f"{s['first_cpu_s']:.2f} / {s['median_cpu_s']:.2f} "
                         f"[{s['min']:.2f}-{s['max']:.2f}]{flag}{rc}")
        print(f"{key:<22}" + "".join(f"{c:>40}" for c in cells))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"summary": summary, "raw": res}, f, indent=2)
    return summary


if __name__ == "__main__":
    main()

"""Mutation check of the device physics tests: apply one-line mutations to the device code one
at a time (an effect switched off, doubled, or given another law), run the physics tests against
each, restore the file, and print ``killed K of N``.

Mutation lists live beside this file, one module per device family, each defining
``MUTATIONS``: a list of tuples ``(path, old_text, new_text, description)`` (path relative to the
repository root; ``old_text`` must occur exactly once in the file), optionally with a fifth
element, the test paths for that mutation alone, and optionally ``TESTS``: the test paths to run
(default per family: ``DEFAULT_TESTS``). Absent list modules are skipped.

    python bench/mutations.py                 # every list
    python bench/mutations.py --only photonic # bench/mutations_photonic.py only
    python bench/mutations.py --list          # print the mutations, run nothing
    python bench/mutations.py --match sigma   # only those whose description contains "sigma"

A mutation is *killed* when pytest fails (exit status ≠ 0) or runs past ``--timeout-s``. The
file is always restored, also on Ctrl-C (try/finally), and its bytecode cache is removed before
and after each run so that no stale compiled module is imported.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ("photonic", "crossbar", "laws")
DEFAULT_TESTS = {"photonic": ["tests/photonic", "tests/hwsim"], "crossbar": ["tests/hwsim"],
                 "laws": ["tests/hwsim", "tests/photonic"]}


def load_family(name: str):
    """(mutations, tests) of ``bench/mutations_<name>.py``, or None when the module is absent."""
    path = ROOT / "bench" / f"mutations_{name}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"mutations_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return list(mod.MUTATIONS), list(getattr(mod, "TESTS", DEFAULT_TESTS[name]))


def _drop_bytecode(path: Path) -> None:
    cache = path.parent / "__pycache__"
    if cache.is_dir():
        for pyc in cache.glob(f"{path.stem}.*.pyc"):
            pyc.unlink(missing_ok=True)


def run_one(path: str, old: str, new: str, tests: list[str], timeout_s: float) -> str:
    """'killed', 'survived', 'timeout' (counted as killed) or 'invalid' (old text not unique)."""
    file = ROOT / path
    original = file.read_text()
    if original.count(old) != 1:
        return "invalid"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    try:
        file.write_text(original.replace(old, new))
        _drop_bytecode(file)
        try:
            proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                                   *tests], cwd=ROOT, env=env, capture_output=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return "timeout"
        return "survived" if proc.returncode == 0 else "killed"
    finally:
        file.write_text(original)
        _drop_bytecode(file)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=FAMILIES, help="run one family's list")
    ap.add_argument("--list", action="store_true", help="print the mutations and exit")
    ap.add_argument("--match", default="", help="run only mutations whose description contains this")
    ap.add_argument("--timeout-s", type=float, default=300.0, help="per-mutation pytest time limit")
    args = ap.parse_args(argv)
    killed = total = 0
    survivors = []
    for family in (args.only,) if args.only else FAMILIES:
        loaded = load_family(family)
        if loaded is None:
            print(f"{family}: bench/mutations_{family}.py absent, skipped")
            continue
        mutations, tests = loaded
        for path, old, new, desc, *own in mutations:
            if args.match.lower() not in desc.lower():
                continue
            if args.list:
                print(f"{family}: {path}: {desc}")
                continue
            t0 = time.perf_counter()
            result = run_one(path, old, new, own[0] if own else tests, args.timeout_s)
            total += 1
            killed += result in ("killed", "timeout")
            if result in ("survived", "invalid"):
                survivors.append(f"{family}: {desc} ({result})")
            print(f"{result:8s} {time.perf_counter() - t0:6.1f} s  {family}: {desc}", flush=True)
    if args.list:
        return 0
    for s in survivors:
        print("not killed:", s)
    print(f"killed {killed} of {total}")
    return 0 if killed == total else 1


if __name__ == "__main__":
    sys.exit(main())

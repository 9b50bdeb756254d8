"""Answers of the listing commands, kept on disk, so that they start without torch.

``forwardlab algorithms``, ``presets [NAME]`` and ``config show`` print text that is a pure
function of the source tree, the command line, the files it names and the ``FORWARDLAB_*``
environment — yet computing it imports torch and the device models (~2 s of CPU). The first
call computes and stores the answer (stdout, stderr, exit status) under a key made of all of
those; a later identical call prints the stored answer, importing nothing heavy. The key holds
every source file's path, size and modification time (an edit makes a new key), the Python
and package versions, the arguments, the working directory, the content hash of every argument
that names an existing file, and the ``FORWARDLAB_*`` variables.

Only the console entry point uses it (``main()`` without an explicit argv), so tests calling
``main([...])`` always compute. ``FORWARDLAB_NO_CLI_CACHE=1`` turns it off. Stored answers are
JSON (text only: nothing read back can execute code); unreadable ones are recomputed.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Callable

__all__ = ["CACHED_COMMANDS", "cached_answer", "cache_dir"]

#: Commands whose answer depends only on the key (they neither write nor train).
CACHED_COMMANDS = ("algorithms", "presets", "config")
_PACKAGES = ("algorithms", "experiments", "hwsim")
_ROOT = Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "forwardlab" / "cli"


def _key(argv: list[str]) -> str:
    h = hashlib.sha256()
    h.update(repr((sys.version, sys.executable, argv, os.getcwd())).encode())
    for pkg in _PACKAGES:
        for path in sorted((_ROOT / pkg).rglob("*.py")):
            st = path.stat()
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    for name in ("pyproject.toml",):
        p = _ROOT / name
        if p.is_file():
            h.update(p.read_bytes())
    for a in argv:                         # files named on the command line: their content
        for part in (a, a.split("=", 1)[-1]):
            p = Path(part)
            try:
                if p.is_file():
                    h.update(hashlib.sha256(p.read_bytes()).digest())
            except OSError:
                pass
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("FORWARDLAB_"))
    h.update(repr(env).encode())
    return h.hexdigest()


def _load(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not (isinstance(data, dict) and isinstance(data.get("out"), str)
            and isinstance(data.get("err"), str) and isinstance(data.get("rc"), int)):
        return None
    return data


def cached_answer(argv: list[str], compute: Callable[[], int]) -> int:
    """Print the stored answer of ``argv`` if there is one, else run ``compute`` (which prints
    and returns the exit status), store what it printed and pass it on."""
    if os.environ.get("FORWARDLAB_NO_CLI_CACHE") or not argv or argv[0] not in CACHED_COMMANDS \
            or any(a in ("-h", "--help") for a in argv):
        return compute()
    path = cache_dir() / f"{_key(argv)}.json"
    hit = _load(path)
    if hit is not None:
        sys.stdout.write(hit["out"])
        sys.stderr.write(hit["err"])
        return hit["rc"]
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            rc = compute()
    finally:
        sys.stdout.write(out.getvalue())
        sys.stderr.write(err.getvalue())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"out": out.getvalue(), "err": err.getvalue(), "rc": int(rc)}))
        os.replace(tmp, path)
    except OSError:
        pass                               # a read-only cache only costs the speed-up
    return rc

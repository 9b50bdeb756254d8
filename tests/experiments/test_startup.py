"""Start-up: listing commands import no torch (answered from the cache after the first call),
``--help``/``--version`` never do; numba compiles are announced; ``forwardlab warmup``."""
import os
import subprocess
import sys
from pathlib import Path

import numba

from experiments.cli import main
from experiments.warmup import compile_notice, kernels_cached, warm_kernels

ROOT = Path(__file__).resolve().parents[2]
PROBE = ("import sys; sys.argv = ['forwardlab'] + sys.argv[1:]; from experiments.cli import main\n"
         "try:\n    rc = main()\n"
         "finally:\n"
         "    heavy = sorted(m for m in ('torch', 'numba', 'pandas') if m in sys.modules)\n"
         "    print('HEAVY', ','.join(heavy) or '-', file=sys.stderr)\n"
         "raise SystemExit(rc)")


def _cli(tmp_path, *args):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("FORWARDLAB_NO_CLI_CACHE", None)
    r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                       env=env, cwd=tmp_path, timeout=120)
    heavy = [line for line in r.stderr.splitlines() if line.startswith("HEAVY ")][-1][6:]
    return r, heavy


def test_help_and_version_import_no_torch(tmp_path):
    for args in (["--help"], ["--version"], ["run", "--help"]):
        r, heavy = _cli(tmp_path, *args)
        assert r.returncode == 0 and heavy == "-", (args, r.stderr)
    assert _cli(tmp_path, "--version")[0].stdout.startswith("forwardlab ")


def test_listing_commands_answer_from_the_cache_without_torch(tmp_path, monkeypatch, capsys):
    from experiments.cli import _main
    from experiments.cli_cache import cache_dir, cached_answer
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("FORWARDLAB_NO_CLI_CACHE", raising=False)
    monkeypatch.chdir(tmp_path)
    for argv in (["presets", "mzi-default"], ["presets", "nope"]):   # computed and stored here
        cached_answer(argv, lambda: _main(argv))
    first = capsys.readouterr()
    assert len(list(cache_dir().glob("*.json"))) == 2                 # one answer per argv
    again, heavy = _cli(tmp_path, "presets", "mzi-default")
    assert again.returncode == 0 and heavy == "-" and again.stdout in first.out
    bad, heavy = _cli(tmp_path, "presets", "nope")                     # errors are answers too
    assert bad.returncode == 2 and "unknown preset 'nope'" in bad.stderr and heavy == "-"
    monkeypatch.setenv("FORWARDLAB_DATA", str(tmp_path))              # another key: computed
    cached_answer(["presets", "nope"], lambda: _main(["presets", "nope"]))
    assert len(list(cache_dir().glob("*.json"))) == 3


def test_in_process_calls_always_compute(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(["algorithms"]) == 0
    assert "mfdd" in capsys.readouterr().out
    assert not (tmp_path / "forwardlab" / "cli").exists()


def test_a_compile_is_counted_and_timed():
    @numba.njit(cache=False)
    def fresh(x):
        return x + 1

    with compile_notice(on_first=lambda: seen.append(1)) as c:
        seen: list = []
        fresh(1)
        fresh(2)                       # the second call does not compile
    assert c.count == 1 and c.seconds > 0 and seen == [1]


def test_warmup_after_the_session_fixture_compiles_nothing(capsys):
    assert kernels_cached()            # the session fixture warmed every kernel
    assert warm_kernels(announce=True) == (0, 0.0)
    assert capsys.readouterr().err == ""
    assert main(["warmup"]) == 0
    assert "numba kernels ready" in capsys.readouterr().err

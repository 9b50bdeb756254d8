"""Start-up: listing commands and ``--help``/``--version`` import no torch; numba compiles are
announced; ``forwardlab warmup``."""
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
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                       env=env, cwd=tmp_path, timeout=120)
    heavy = [line for line in r.stderr.splitlines() if line.startswith("HEAVY ")][-1][6:]
    return r, heavy


def test_help_and_version_import_no_torch(tmp_path):
    for args in (["--help"], ["--version"], ["run", "--help"]):
        r, heavy = _cli(tmp_path, *args)
        assert r.returncode == 0 and heavy == "-", (args, r.stderr)
    assert _cli(tmp_path, "--version")[0].stdout.startswith("forwardlab ")


LISTINGS = (["algorithms"], ["presets"], ["presets", "mzi-default"], ["presets", "crossbar-default"],
            ["presets", "mrr-default"], ["config", "show"], ["config", "show", "--explain"],
            ["config", "show", "--set", "device.kind=crossbar"],
            ["config", "show", "--set", "device.kind=mrr", "--set", "algorithm.name=zo-sign"])


def test_listing_commands_import_no_torch(tmp_path):
    """Every listing command, computed from scratch in a fresh process, imports no torch (the
    config dataclasses, presets and registries defer it to the first build: hwsim.lazy)."""
    for args in LISTINGS:
        r, heavy = _cli(tmp_path, *args)
        assert r.returncode == 0 and r.stdout and "torch" not in heavy, (args, heavy, r.stderr)
    bad, heavy = _cli(tmp_path, "presets", "nope")                     # an error, the same
    assert bad.returncode == 2 and "unknown preset 'nope'" in bad.stderr and "torch" not in heavy


def test_in_process_listing_matches_the_subprocess(tmp_path, capsys):
    r, _ = _cli(tmp_path, "algorithms")
    assert main(["algorithms"]) == 0
    assert capsys.readouterr().out == r.stdout and "mfdd" in r.stdout


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

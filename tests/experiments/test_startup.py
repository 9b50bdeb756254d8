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
    """Every listing command, computed from scratch in a fresh process, imports neither torch
    nor numba (the config dataclasses, presets and registries defer them to the first build:
    hwsim.lazy)."""
    for args in LISTINGS:
        r, heavy = _cli(tmp_path, *args)
        assert r.returncode == 0 and r.stdout and heavy == "-", (args, heavy, r.stderr)
    bad, heavy = _cli(tmp_path, "presets", "nope")                     # an error, the same
    assert bad.returncode == 2 and "unknown preset 'nope'" in bad.stderr and heavy == "-"


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


def test_warmup_writes_the_bytecode_caches():
    """A process that may not write bytecode (PYTHONDONTWRITEBYTECODE) still reads it: warmup
    (the session fixture's included) writes it for the project's modules."""
    import importlib.util

    import experiments.cli
    from experiments.warmup import compile_bytecode
    assert compile_bytecode()
    assert Path(importlib.util.cache_from_source(experiments.cli.__file__)).is_file()


def test_a_bp_run_does_not_import_the_torch_compiler(tmp_path):
    """The autograd references step with LeafAdam (algorithms.updates, bit for bit torch.optim's
    Adam), so no torch optimizer is built and torch._dynamo (~1 s of CPU) is never imported:
    the bp and mf-ad stages of a run built and stepped in a fresh process."""
    probe = ("import sys, torch\n"
             "from experiments import build\nfrom experiments.config import resolve\n"
             "cfg = resolve({'model': {'hidden': [8]}})\n"
             "x, y = torch.randn(16, 64), torch.arange(16) % 10\n"
             "bp = build.Blueprint.of(cfg)\n"
             "for name in ('bp', 'mf-ad'):\n"
             "    t = build.build_stage(bp, build.stage(bp, name, (64,)), 10, None)\n"
             "    t.step(x, y); t.step(x, y)\n"
             "print('DYNAMO', int('torch._dynamo' in sys.modules), file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "DYNAMO 0" in r.stderr, r.stderr


def test_a_fresh_checkout_compiles_only_after_every_check(tmp_path, monkeypatch, capsys):
    """``forwardlab run`` compiles a fresh checkout's kernels only once the config, the data and
    the memory checks have passed: a refused run says why at once, a good run compiles first."""
    import experiments.warmup as warmup
    calls = []
    monkeypatch.setattr(warmup, "kernels_cached", lambda: False)
    monkeypatch.setattr(warmup, "warm_kernels", lambda **kw: calls.append(kw) or (0, 0.0))
    too_big = ["run", "--out", str(tmp_path / "big.h5"), "--set", "device.kind=crossbar",
               "--set", "model.hidden=[20000,20000]"]
    assert main(too_big) == 2
    assert "GiB" in capsys.readouterr().err and calls == []
    assert not (tmp_path / "big.h5").exists()
    ok = ["run", "--out", str(tmp_path / "ok.h5"), "--epochs", "1", "--no-references", "--quiet"]
    assert main(ok) == 0 and calls == [{"announce": True}]
    assert (tmp_path / "ok.h5").exists()

"""Tests for the ``forwardlab`` command line (experiments.cli), run in-process on tiny runs.

Every run uses the same tiny TOML config (one hidden layer of 8, P = 2 knob directions for
mfdd, one epoch, batches of 512 → 3 steps per epoch on digits) and writes under pytest's
tmp_path.
"""

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from algorithms.baselines.twin_model import TwinTrainer
from algorithms.registry import ALGORITHMS as REGISTRY
from algorithms.registry import settings_for as registry_settings
from algorithms.trainer import LocalTrainer
from experiments import data, labels
from experiments.cli import main
from experiments.results import RunRecord, read_results, unpriced_rows, write_results
from hwsim.kinds import KINDS

GPUS = ["H100 SXM5", "Jetson AGX Orin 64GB"]
N_TRAIN = 1437                     # digits training split
BATCH = 512
STEPS_PER_EPOCH = -(-N_TRAIN // BATCH)    # 3
TWIN = "ideal digital twin, autograd"


def tiny_config(directory: Path, name: str = "tiny.toml", mfdd_keys: bool = True, **extra) -> Path:
    """The tiny run config used by every CLI run here (extra keys appended verbatim);
    ``mfdd_keys``: P = 2 for mfdd (off for runs of other algorithms, which lack the key)."""
    lines = ["[model]", "hidden = [8]",
             *(["[algorithm]", "num_directions = 2"] if mfdd_keys else []),
             "[run]", "epochs = 1", f"batch_size = {BATCH}",
             "[cost]", "gpus = [" + ", ".join(f'"{g}"' for g in GPUS) + "]"]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    path = Path(directory) / name
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(argv) -> int:
    """Exit status of ``forwardlab argv`` called in-process (argparse errors raise SystemExit)."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:
        return e.code


#: the default preset of every other device kind: a run on mzi-default prices its step there too
COMPANION_PRESETS = [k.default_preset for k in KINDS.values()
                     if k.default_preset not in (None, "mzi-default")]


def run_args(tmp: Path, out: Path, *more) -> list:
    mfdd = "--algorithm" not in more or more[list(more).index("--algorithm") + 1] == "mfdd"
    return ["run", "--config", tiny_config(tmp, mfdd_keys=mfdd), "--out", out, "--quiet", *more]


def datasets(group: h5py.Group) -> dict[str, np.ndarray]:
    found = {}
    group.visititems(lambda n, o: found.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset)
                     else None)
    return found


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in Path(directory).rglob("*") if p.suffix in (".h5", ".tmp"))


# ------------------------------------------------------------ main tiny run

@pytest.fixture(scope="module")
def main_run(tmp_path_factory):
    """One tiny MF+DD run on digits, references on (the default)."""
    tmp = tmp_path_factory.mktemp("main")
    (tmp / "results").mkdir()
    out = tmp / "results" / "run.h5"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli(run_args(tmp, out, "--directions", "2", "--seed", "0"))
    return code, stdout.getvalue(), stderr.getvalue(), out


def test_tiny_run_succeeds_and_prints_tables(main_run):
    code, out, err, path = main_run
    assert code == 0, err
    assert "Traceback" not in err
    lines = out.splitlines()
    # accuracy table: the device run and both references
    assert any(l.startswith("MF+DD on mzi-default ") for l in lines), out
    assert any(l.startswith(f"MF-AD ({TWIN}) ") for l in lines), out
    assert any(l.startswith(f"BP ({TWIN}) ") for l in lines), out
    with h5py.File(path, "r") as f:
        acc = f["history/test_accuracy"][-1]
        ref_acc = {m: f[f"references/{m}/test_accuracy"][-1] for m in ("mf-ad", "bp")}
    def cells(row: str) -> list[str]:      # accuracy first, then settings, vectors, energy, CPU
        return [c.strip() for c in row.split("  ") if c.strip()][1:]
    row = next(l for l in lines if l.startswith("MF+DD on mzi-default "))
    with h5py.File(path, "r") as f:
        vectors = f["history/streamed_vectors"][-1]
    assert cells(row)[0] == f"{acc:.4f}" and cells(row)[2] == f"{vectors:,.0f}"
    for mode, label in (("mf-ad", "MF-AD"), ("bp", "BP")):
        row = next(l for l in lines if l.startswith(f"{label} ({TWIN}) "))
        assert cells(row)[0] == f"{ref_acc[mode]:.4f}" and cells(row)[1:4] == ["-", "-", "-"]
    # one screen: accuracies, then the headline — the run's device next to every GPU (its own
    # algorithm's traced work and BP), the ratio band — and where the full ledger is
    tail = lines[next(i for i, l in enumerate(lines) if l.startswith("model ")):]
    assert len(tail) <= 25, "\n".join(tail)
    assert any(l.startswith("Cost per training step (nominal level") for l in tail)
    names = ["MF+DD on MZI mesh (mzi-default)"] + [f"{a} on GPU {g}" for g in GPUS
                                                   for a in ("MF+DD", "BP")]
    for name in names:                          # whole names, never cut
        assert any(l.startswith(name + " ") or l == name for l in tail), name
    for gpu in GPUS:
        assert any(l.startswith(f"  GPU {gpu}: energy ") and "× (band " in l
                   and ", latency " in l for l in tail), gpu
    assert max(len(l) for l in tail if str(path) not in l) <= 100         # paths apart
    assert "…" not in "\n".join(tail)
    assert f"results written to {path}" in out
    assert f"forwardlab price {path} --detail" in out and f"forwardlab report {path} --out" in out


def test_tiny_run_results_file(main_run):
    code, out, err, path = main_run
    assert code == 0, err
    with h5py.File(path, "r") as f:
        assert f.attrs["status"] == "ok" and f.attrs["message"] == ""
        # the [algorithm] shorthand lands in the algorithm's settings, every field explicit
        assert f.attrs["config.run.epochs"] == 1
        assert f.attrs["config.algorithm.settings.num_directions"] == 2
        assert "config.algorithm.num_directions" not in f.attrs
        assert f.attrs["config.algorithm.settings.directions"] == "rademacher"
        assert f.attrs["config.model.hidden"] == "[8]"
        assert f.attrs["config.device.preset"] == "mzi-default"
        # provenance: resolved config, timestamp, command line, versions, commit, data checksum
        assert f.attrs["config_toml"].startswith("# forwardlab resolved config, run id ")
        assert len(f.attrs["run_id"]) == 12
        for key in ("meta.timestamp", "meta.command", "meta.git_commit", "meta.dataset_sha256"):
            assert key in f.attrs, key
        assert len(f.attrs["meta.dataset_sha256"]) == 64
        assert f.attrs["versions.torch"] and f.attrs["versions.h5py"]
        # units as dataset attributes
        assert f["history/test_accuracy"].attrs["units"] == "1"
        assert f["history/loss.layer0"].attrs["units"] == "nats"
        # one trace row per training step
        steps = f["trace/steps"][()]
        assert steps.shape[0] == STEPS_PER_EPOCH == int(f["history/steps"][-1])
        assert steps.shape[1] == len(f["trace/keys"]) > 0
        assert np.all(np.isfinite(steps)) and steps.sum() > 0
        assert f["history/test_accuracy"].shape == (1,)
        # cost: both device kinds and every GPU (BP and MF+DD)
        companions = [f"{p} MF+DD" for p in COMPANION_PRESETS]
        expected = {"mzi-default MF+DD", *companions}
        expected |= {f"GPU {g}: {a}" for g in GPUS for a in ("BP", "MF+DD")}
        # the same step timed with torch here, and the cross-device step summary kept for
        # re-pricing (forwardlab price)
        measured = {n for n in f["cost"] if n.startswith("measured (cpu")}
        assert len(measured) == 2
        assert set(f["cost"]) == expected | measured | {f"summary:{c}" for c in companions}
        for name in expected:   # every priced row (not the stored summary)
            attrs = f["cost"][name].attrs
            assert attrs["total_energy_j"] > 0 and attrs["total_latency_s"] > 0
        # references on by default
        assert set(f["references"]) == {"mf-ad", "bp"}
        for mode in ("mf-ad", "bp"):
            assert f[f"references/{mode}/test_accuracy"].shape == (1,)
    assert leftovers(path.parent) == ["run.h5"]


def test_report_reprints_the_tables(main_run, capsys):
    code, out, err, path = main_run
    assert code == 0
    assert cli(["report", path]) == 0
    report = capsys.readouterr().out
    acc = [l for l in report.splitlines() if l.startswith(("MF+DD on", "MF-AD (", "BP ("))]
    assert len(acc) == 3 and all(l in out.splitlines() for l in acc)   # the run's accuracies
    assert "Ratios device / GPU at matched corners" in report        # the full ledger
    lines = report.splitlines()
    for dev in ("mzi-default MF+DD", *(f"{p} MF+DD" for p in COMPANION_PRESETS)):
        for gpu in GPUS:
            for algo in ("BP", "MF+DD"):
                i = lines.index(f"{dev} / GPU {gpu}: {algo}")
                assert lines[i + 1].startswith("  energy/step (system) "), (dev, gpu, algo)
                assert lines[i + 1].count("×") == 3                       # three matched corners
    assert "Chip inventory: mzi-default MF+DD" in report or "Chip inventory" not in report


def _flat_copy(path: Path, dest: Path) -> Path:
    """A results file with the run's config, costs, accuracies and device counts (flat metric
    names only)."""
    with h5py.File(path, "r") as f:
        config = {k[7:]: v for k, v in f.attrs.items() if k.startswith("config.")}
        rec = RunRecord(
            config={k: (v.item() if isinstance(v, np.generic) else v) for k, v in config.items()},
            history={k: f[f"history/{k}"][()].tolist() for k in (
                "test_accuracy", "steps", "device_settings", "streamed_vectors")},
            references={m: {"test_accuracy": f[f"references/{m}/test_accuracy"][()].tolist()}
                        for m in ("mf-ad", "bp")},
            costs={n: {k: float(v) for k, v in f["cost"][n].attrs.items() if k != "units"}
                   for n in f["cost"]},
            meta=read_results(path).meta)      # the stages' training CPU time
    return write_results(dest, rec)


def _cost_cells(text: str) -> dict:
    """{(line number in the cost section, column): cell} of the cost tables in ``text``."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("Cost per training step"))
    stop = next(i for i, l in enumerate(lines) if l.startswith("Ratios device / GPU"))
    return {(i, j): cell for i, line in enumerate(lines[start:stop])
            for j, cell in enumerate(re.split(r"\s{2,}", line.strip())) if cell}


def test_report_works_from_the_file_alone(main_run, tmp_path, capsys):
    """Report of a copy (flat metric names) of the run's file: the same numbers as the run's."""
    code, out, err, path = main_run
    assert code == 0
    assert cli(["report", path]) == 0
    full = capsys.readouterr().out
    copy = _flat_copy(path, tmp_path / "copy.h5")
    assert cli(["report", copy]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    report = captured.out
    acc_rows = [l for l in report.splitlines() if l.startswith(("MF+DD on", "MF-AD (", "BP ("))]
    assert len(acc_rows) == 3
    # ratio bands: one heading line per (device, GPU row) pair, matched corners beneath
    ratio_rows = [l for l in report.splitlines() if not l.startswith((" ", "Ratios")) and " / GPU " in l]
    assert len(ratio_rows) == (1 + len(COMPANION_PRESETS)) * len(GPUS) * 2
    block = report.split("Ratios device / GPU at matched corners")[1].splitlines()[1:]
    ratio_rows += [l for l in block if l.startswith("  ")]
    for line in acc_rows + ratio_rows:          # same rows, same numbers as the run's report
        assert line in full.splitlines(), line
    cells = _cost_cells(report)
    assert len(cells) > 50 and cells == _cost_cells(full)


def test_report_keeps_row_and_column_order(main_run, tmp_path, capsys):
    code, out, err, path = main_run
    assert code == 0
    assert cli(["report", path]) == 0
    full = capsys.readouterr().out
    assert cli(["report", _flat_copy(path, tmp_path / "copy.h5")]) == 0
    report = capsys.readouterr().out
    assert report.strip() == full.strip()


# ------------------------------------------------------------ baselines

@pytest.mark.parametrize("algo, label", [("bp", "BP"), ("mf-ad", "MF-AD")])
def test_baseline_algorithms(tmp_path, capsys, algo, label):
    out = tmp_path / "b.h5"
    assert cli(run_args(tmp_path, out, "--algorithm", algo, "--no-references")) == 0
    captured = capsys.readouterr()
    table = captured.out
    assert f"{label} ({TWIN})" in table
    row = next(l for l in table.splitlines() if l.startswith(f"{label} ({TWIN}) "))
    acc = row[len(f"{label} ({TWIN})"):].split()[0]       # then the cost columns
    assert 0.0 <= float(acc) <= 1.0
    assert "MF+DD on" not in table
    assert "Cost per training step" in table and "Ratios device / GPU" not in table
    with h5py.File(out, "r") as f:
        assert f.attrs["status"] == "ok" and f.attrs["config.algorithm.name"] == algo
        assert len(f["references"]) == 0
        assert f["trace/steps"].shape[0] == 0
        assert set(f["cost"]) == {f"GPU {g}: BP" for g in GPUS}
        assert int(f["history/steps"][-1]) == STEPS_PER_EPOCH


# ------------------------------------------------------------ user errors

def _corrupt_idx_dir(tmp: Path) -> Path:
    d = tmp / "corrupt"
    d.mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (d / stem).write_bytes(b"\x00\x00\x09\x99" + bytes(16))     # wrong magic
    return d


def _unknown_key_config(tmp: Path) -> Path:
    p = tiny_config(tmp, "unknown.toml")
    p.write_text(p.read_text() + "learning_rate = 0.1\n")
    return p


BAD = {
    "unknown-device": (lambda t: ["--device", "tpu"], ["device.kind = 'tpu'", "mzi, crossbar"]),
    "epochs-0": (lambda t: ["--epochs", "0"], ["epochs = 0"]),
    "epochs-abc": (lambda t: ["--epochs", "abc"], ["--epochs", "'abc'"]),
    "epsilon-negative": (lambda t: ["--epsilon", "-1"], ["epsilon = -1.0"]),
    "seed-negative": (lambda t: ["--seed", "-1"], ["seed = -1"]),
    "preset-mismatch": (lambda t: ["--preset", "crossbar-ideal", "--device", "mzi"],
                        ["crossbar-ideal"]),
    "unknown-option": (lambda t: ["--learning-rate", "3"], ["--learning-rate"]),
    "config-unknown-key": (lambda t: ["--config", _unknown_key_config(t)], ["learning_rate"]),
    "config-missing": (lambda t: ["--config", t / "missing.toml"], ["missing.toml", "does not exist"]),
    "data-dir-missing": (lambda t: ["--dataset", "fashion-mnist", "--data-dir", t / "nodata"],
                         ["nodata", "does not exist"]),
    "dataset-bogus": (lambda t: ["--dataset", "bogus"], ["dataset = 'bogus'", "digits"]),
    "idx-corrupt": (lambda t: ["--dataset", "fashion-mnist", "--data-dir", _corrupt_idx_dir(t)],
                    ["bad magic number"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, monkeypatch, case):
    monkeypatch.delenv("FORWARDLAB_DATA", raising=False)
    make, expected = BAD[case]
    out = tmp_path / "run.h5"
    extra = [str(a) for a in make(tmp_path)]
    argv = ["run", "--config", tiny_config(tmp_path), "--out", out, "--quiet", *extra]
    code = cli(argv)
    captured = capsys.readouterr()
    assert code == 2, captured
    err_lines = captured.err.splitlines()
    assert len(err_lines) == 1, captured.err
    assert err_lines[0].startswith("forwardlab: error:"), captured.err
    assert "Traceback" not in captured.err
    for text in expected:
        assert text in err_lines[0], (text, err_lines[0])
    assert captured.out == ""
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("argv", [["report", "{tmp}/missing.h5"], ["report", "{tmp}/garbage.h5"],
                                  ["frobnicate"], ["report"]])
def test_bad_report_or_command_exits_2(tmp_path, capsys, argv):
    (tmp_path / "garbage.h5").write_bytes(b"not hdf5")
    code = cli([a.format(tmp=tmp_path) for a in argv])
    captured = capsys.readouterr()
    assert code == 2
    err_lines = captured.err.splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith("forwardlab: error:"), captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli([]) == 2
    assert "usage: forwardlab" in capsys.readouterr().out


def test_missing_data_download_failure_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FORWARDLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "SYSTEM_DIRS", {"fashion-mnist": [], "mnist": []})

    def no_net(*a, **k):
        raise OSError("network unreachable (simulated)")

    monkeypatch.setattr(data.urllib.request, "urlopen", no_net)
    (tmp_path / "empty").mkdir()
    out = tmp_path / "run.h5"
    code = cli(run_args(tmp_path, out, "--dataset", "mnist", "--data-dir", tmp_path / "empty"))
    captured = capsys.readouterr()
    assert code == 2 and not out.exists()
    assert "Traceback" not in captured.err
    assert len(captured.err.splitlines()) == 1, captured.err


def test_console_script_exit_status(tmp_path):
    """End to end through the installed entry point: main()'s return value is the exit code."""
    exe = Path(sys.executable).parent / "forwardlab"
    exe = str(exe) if exe.exists() else shutil.which("forwardlab")
    assert exe, "the forwardlab console script is not installed"
    out = tmp_path / "run.h5"
    env = {k: v for k, v in os.environ.items() if k != "FORWARDLAB_DATA"}
    proc = subprocess.run([exe, "run", "--config", str(tiny_config(tmp_path)), "--device", "tpu",
                           "--out", str(out)], capture_output=True, text=True, timeout=120,
                          env=env)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("forwardlab: error: device")
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not out.exists()


# ------------------------------------------------------------ divergence

def test_divergence_exits_1_and_records_failure(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(LocalTrainer, "step",
                        lambda self, x, y, train_stages=None: {"loss.layer0": float("nan")})
    out = tmp_path / "run.h5"
    code = cli(run_args(tmp_path, out))
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err
    err_lines = captured.err.splitlines()
    assert len(err_lines) == 1
    assert "diverged at step 1" in err_lines[0] and "loss.layer0" in err_lines[0]
    assert "status 'diverged'" in err_lines[0] and str(out) in err_lines[0]
    assert "results written to" not in captured.out       # no tables for a failed run
    rec = read_results(out)
    assert rec.status == "diverged"
    assert "step 1" in rec.message and "non-finite loss.layer0" in rec.message
    assert rec.history["diverged_at_step"] == [1.0]
    assert rec.costs == {}
    assert leftovers(tmp_path) == ["run.h5"]
    # the report of a diverged run says so instead of failing
    assert cli(["report", out]) == 0
    report = capsys.readouterr().out
    assert "(no cost report: the run did not finish)" in report
    assert "MF+DD on mzi-default" in report and "nan" in report


def test_reference_divergence_keeps_device_history(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(LocalTrainer, "step",
                        lambda self, x, y, train_stages=None: {"loss.layer0": 1.0})
    real = TwinTrainer.step
    calls = {"n": 0}

    def twin_step(self, x, y, train_layers=None):
        if self.mode != "mf-ad":
            return real(self, x, y, train_layers)
        calls["n"] += 1
        if calls["n"] > STEPS_PER_EPOCH:                 # diverge in the second epoch
            return {"loss.layer0": float("nan")}
        return real(self, x, y, train_layers)

    monkeypatch.setattr(TwinTrainer, "step", twin_step)
    out = tmp_path / "run.h5"
    assert cli(run_args(tmp_path, out, "--epochs", "2")) == 1
    capsys.readouterr()
    with h5py.File(out, "r") as f:
        assert f.attrs["status"] == "diverged"
        assert f["history/test_accuracy"].shape == (2,)        # the device run's two epochs
        assert f["history/steps"][()].tolist() == [STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH]
        assert "MF-AD" in f.attrs["message"] or "mf-ad" in f.attrs["message"]


# ------------------------------------------------------------ determinism

def _tiny(tmp_path, name, seed):
    out = tmp_path / f"{name}.h5"
    assert cli(run_args(tmp_path, out, "--no-references", "--seed", seed)) == 0
    with h5py.File(out, "r") as f:
        assert f.attrs["config.run.seed"] == seed
        return datasets(f["history"]), f["trace/keys"][()].tolist(), f["trace/steps"][()]


def test_same_seed_same_results_different_seed_differs(tmp_path, capsys):
    h1, k1, s1 = _tiny(tmp_path, "a", 5)
    h2, k2, s2 = _tiny(tmp_path, "b", 5)
    h3, k3, s3 = _tiny(tmp_path, "c", 6)
    capsys.readouterr()
    assert set(h1) == set(h2) and "test_accuracy" in h1 and "loss.layer0" in h1
    for name in h1:
        assert np.array_equal(h1[name], h2[name], equal_nan=True), name
    assert k1 == k2 and s1.shape[0] == STEPS_PER_EPOCH
    assert np.array_equal(s1, s2)
    # another seed: another split, init and directions → other losses and accuracy
    assert set(h3) == set(h1)
    assert not np.array_equal(h1["loss.layer0"], h3["loss.layer0"])
    # the trace rows count device operations, which do not depend on the seed
    assert k3 == k1 and s3.shape == s1.shape


def test_price_reprices_every_row_from_the_file(main_run, capsys):
    code, out, err, path = main_run
    assert code == 0
    assert cli(["price", path]) == 0              # the headline, one screen
    text = capsys.readouterr().out
    assert len(text.splitlines()) <= 25 and f"forwardlab price {path} --detail" in text
    assert "MF+DD on MZI mesh (mzi-default)" in text and f"BP on GPU {GPUS[0]}" in text
    for level in ("low", "high"):
        assert cli(["price", path, "--cost-level", level, "--detail"]) == 0   # the full ledger
        text = capsys.readouterr().out
        assert text.splitlines()[0] == f"Cost per training step (analytic model, cost level: {level}):"
        for row in ("mzi-default MF+DD", "crossbar-default MF+DD", f"GPU {GPUS[0]}: BP"):
            assert row in text
        assert max(map(len, text.splitlines())) <= 100
    assert cli(["price", path, "--cost-level", "cheap"]) == 2
    assert "allowed: low, nominal, high" in capsys.readouterr().err


def test_a_mrr_run_is_priced_beside_the_mesh_and_the_crossbar(tmp_path, capsys):
    """``run --preset mrr-default``: the headline names the MRR weight bank, and the full ledger
    prices the same step on the mesh and crossbar presets beside it."""
    out = tmp_path / "mrr.h5"
    assert cli(run_args(tmp_path, out, "--preset", "mrr-default", "--no-references")) == 0
    assert "MF+DD on MRR weight bank (mrr-default)" in capsys.readouterr().out
    assert cli(["price", str(out), "--detail"]) == 0
    text = capsys.readouterr().out
    for row in ("mrr-default MF+DD", "mzi-default MF+DD", "crossbar-default MF+DD"):
        assert row in text


#: every registered algorithm but the default run's three (mfdd, mf-ad, bp: tested above)
#: (whole-network algorithms, ``spec.whole_network``, run through ``reproduce``: see below)
REGISTRY_ONLY = tuple(n for n in REGISTRY
                      if n not in ("mfdd", "mf-ad", "bp") and not REGISTRY[n].whole_network)
WHOLE_NETWORK = tuple(n for n in REGISTRY if REGISTRY[n].whole_network)


@pytest.mark.parametrize("algo", WHOLE_NETWORK)
def test_a_whole_network_algorithm_on_a_layer_model_is_one_clear_line(tmp_path, capsys, algo):
    assert cli(run_args(tmp_path, tmp_path / "r.h5", "--algorithm", algo, "--no-references")) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert any(algo in ln and "reproduce" in ln for ln in err), err


def test_algorithms_lists_every_name(capsys):
    assert cli(["algorithms"]) == 0
    out = capsys.readouterr().out
    for name in REGISTRY:
        assert any(line.startswith(f"{name} ") for line in out.splitlines()), name


def _example_args(algo: str) -> list:
    """``--set`` of the spec's small digits instance (e.g. tensor-train layers)."""
    import json
    return [a for k, v in REGISTRY[algo].example.items()
            for a in ("--set", f"algorithm.settings.{k}={json.dumps(list(v) if isinstance(v, tuple) else v)}")]


def _fewest_epochs(algo: str) -> int:
    """One epoch, or the fewest an algorithm whose stages need epochs accepts (a pipeline)."""
    spec = REGISTRY[algo]
    if spec.check_epochs is None:
        return 1
    s = registry_settings(algo, spec.example)
    for epochs in range(1, 10):
        try:
            spec.check_epochs(s, epochs)
            return epochs
        except ValueError:
            continue
    raise AssertionError(f"{algo}: no epoch count up to 9 is accepted")


@pytest.mark.parametrize("algo", REGISTRY_ONLY)
def test_every_registry_algorithm_runs_through_the_cli(tmp_path, capsys, algo):
    out = tmp_path / "r.h5"
    epochs = _fewest_epochs(algo)
    assert cli(run_args(tmp_path, out, "--algorithm", algo, "--no-references",
                        *_example_args(algo), "--epochs", str(epochs))) == 0
    table = capsys.readouterr().out
    REG = REGISTRY
    # mzi-default declares calibrate: the local guess says it uses the calibrated model
    label = REG[algo].label.replace("calibrated or nominal model", "calibrated model")
    assert labels.run_label(algo, label, "mzi-default") in table
    rec = read_results(out)
    assert rec.status == "ok" and rec.config["algorithm.name"] == algo
    assert rec.meta["algorithm_label"] == label        # the built trainable's resolved label
    assert len(rec.history["test_accuracy"]) == epochs
    # forward-only algorithms are traced and priced on the device; twin ones on the GPU band
    device_rows = [n for n in rec.costs if n.startswith("mzi-default ")]
    assert bool(device_rows) == (not REG[algo].twin)
    if device_rows:     # every cost row names the algorithm whose step it prices
        assert device_rows == [labels.device_row("mzi-default", algo)]
        assert f"GPU {GPUS[0]}: {labels.row_name(algo)}" in rec.costs
    if device_rows and REG[algo].cross_device_row:   # companion rows alike for every algorithm
        for preset in COMPANION_PRESETS:
            assert labels.device_row(preset, algo) in rec.costs, (algo, preset)
    queried = sum(v for st in rec.step_summaries for k, v in st.items() if k.endswith(".mvm.settings"))
    assert (queried > 0) == (not REG[algo].twin)   # training queries


def test_a_companion_preset_without_a_needed_capability_is_named_not_fatal(tmp_path, capsys):
    # guess_model = "calibrated" needs `calibrate`, which mzi-default declares and the other
    # kinds' presets do not: the trained run is still written, its own row priced, and each
    # companion row it cannot price is named with the reason (run output, file, price --detail)
    out = tmp_path / "r.h5"
    assert cli(run_args(tmp_path, out, "--algorithm", "local-guess", "--no-references",
                        "--set", 'algorithm.settings.guess_model="calibrated"')) == 0
    printed = capsys.readouterr().out
    rec = read_results(out)
    assert rec.status == "ok"
    assert labels.device_row("mzi-default", "local-guess") in rec.costs
    missing = [k.default_preset for k in KINDS.values()
               if k.default_preset in COMPANION_PRESETS and "calibrate" not in k.capabilities]
    assert missing, "a companion preset without calibrate"
    unpriced = unpriced_rows(rec)
    for preset in missing:
        row = labels.device_row(preset, "local-guess")
        assert row not in rec.costs
        assert "needs device capability 'calibrate'" in unpriced[row]
        assert f"cost row {row!r} not priced" in printed
    assert cli(["price", str(out), "--detail"]) == 0
    detail = capsys.readouterr().out
    assert all(f"not priced: {labels.device_row(p, 'local-guess')}:" in detail for p in missing)


def test_registry_settings_reach_the_algorithm(tmp_path, capsys):
    out = tmp_path / "r.h5"
    assert cli(run_args(tmp_path, out, "--algorithm", "frog", "--no-references",
                        "--set", "algorithm.settings.num_tangents=3")) == 0
    rec = read_results(out)
    assert rec.config["algorithm.settings.num_tangents"] == 3
    # 1 clean + 2 × 3 tangent evaluations per block and step, as the trace counts
    per_step = [sum(v for k, v in s.items() if k.endswith(".mvm.settings")) for s in rec.step_summaries]
    assert set(per_step) == {1 + 2 * 3}
    assert cli(run_args(tmp_path, tmp_path / "x.h5", "--set", "algorithm.settings.num_tangents=3")) == 2
    assert "unknown settings ['num_tangents']" in capsys.readouterr().err


def test_val_split_holds_out_part_of_the_training_set(tmp_path, capsys):
    out = tmp_path / "v.h5"
    assert cli(run_args(tmp_path, out, "--no-references", "--val-split", "0.2")) == 0
    rec = read_results(out)
    assert rec.config["data.val_split"] == 0.2
    assert len(rec.history["val_accuracy"]) == 1 and 0.0 <= rec.history["val_accuracy"][0] <= 1.0
    # 20 % held out, stratified by class: fewer training steps than without the split
    n_train = N_TRAIN - round(0.2 * N_TRAIN)
    assert rec.history["steps"][-1] == -(-n_train // BATCH)
    assert cli(run_args(tmp_path, tmp_path / "w.h5", "--val-split", "0.9")) == 2
    assert "data.val_split = 0.9" in capsys.readouterr().err



# ------------------------------------------------------------ goodness algorithms (issue 8)
@pytest.mark.parametrize("algo, settings", [
    ("sff", []),
    ("ff", ["--set", 'algorithm.settings.estimator="local-guess"']),
    ("sff", ["--set", 'algorithm.settings.architecture=["conv2d:4:3:1:1","bias","relu",'
             '"maxpool:2","flatten","dense:8","bias","relu"]',
             "--set", 'algorithm.settings.estimator="local-guess"']),
])
def test_goodness_algorithms_run_through_the_cli(tmp_path, capsys, algo, settings):
    out = tmp_path / "g.h5"
    assert cli(run_args(tmp_path, out, "--algorithm", algo, "--no-references", *settings)) == 0
    table = capsys.readouterr().out
    rec = read_results(out)
    assert rec.status == "ok" and rec.config["algorithm.name"] == algo
    guess = "local-guess" in " ".join(settings)
    label = "forward-only, calibrated model" if guess else "forward-only"
    assert f"{algo} ({label}) on mzi-default" in table
    assert rec.meta["algorithm_label"] == label
    assert len(rec.history["test_accuracy"]) == 1
    per_step = [sum(v for k, v in s.items() if k.endswith(".mvm.settings"))
                for s in rec.step_summaries]
    # per device block (1 for the tiny MLP, 2 for the CNN): one clean readout + the estimate,
    # 2 settings for the local guess, 2 × 8 for the default P = 8 Rademacher directions; the
    # calibrated guess measures each block's Jacobian once in the first step (2 × 136 shifters)
    n_blocks = 2 if "architecture" in " ".join(settings) else 1
    base = n_blocks * (1 + (2 if guess else 16))
    assert per_step[0] == base + (n_blocks * 2 * 136 if guess else 0)
    assert set(per_step[1:]) <= {base}
    assert any(n.startswith("mzi-default ") for n in rec.costs)


def test_goodness_algorithms_are_listed(capsys):
    assert cli(["algorithms"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in ("sff", "ff"):
        line = next(ln for ln in lines if ln.startswith(f"{name} "))
        assert "17 queries/step/block" in line      # 1 clean + 2 × 8 Rademacher (the default)


# ------------------------------------------------------------------ PDE runs (issue 8, TT-ZO PINN)
def _pinn_config(tmp: Path, **pde) -> Path:
    table = {"problem": '"poisson1d"', "steps_per_epoch": "3", "test_points": "32", **pde}
    lines = ["[run]", "epochs = 1", "[algorithm]", 'name = "tt-zo"', "[device]",
             'preset = "mzi-ideal"', "[cost]", f'gpus = ["{GPUS[0]}"]', "[pde]"]
    lines += [f"{k} = {v}" for k, v in table.items()]
    path = tmp / "pinn.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_tiny_poisson_pinn_runs_through_the_cli_and_stores_its_error(tmp_path, capsys):
    out = tmp_path / "pinn.h5"
    assert cli(["run", "--config", _pinn_config(tmp_path), "--out", out, "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "relative L2 error" in printed and "tt-autograd" in printed
    rec = read_results(out)
    assert rec.status == "ok" and len(rec.history["test_error"]) == 1
    assert 0 < rec.history["test_error"][0] < 10 and "accuracy" not in " ".join(rec.history)
    assert len(rec.references["tt-autograd"]["test_error"]) == 1
    assert len(rec.step_summaries) == 3 and any(k.startswith("mzi-ideal tt-zo") for k in rec.costs)
    # 1 + P settings per step (forward differences), every core device once per setting
    cores = 1 + 2 + 1
    mvm = sum(v for k, v in rec.step_summaries[0].items() if k.endswith(".mvm.events"))
    assert mvm == cores
    with h5py.File(out) as f:
        assert f["history/test_error"].attrs["units"] == "1"
    assert cli(["report", out]) == 0 and "relative L2 error" in capsys.readouterr().out
    # the stored config runs again as it is
    assert cli(["config", "show", "--config", out]) == 0
    assert 'problem = "poisson1d"' in capsys.readouterr().out


@pytest.mark.parametrize("key, value, message", [
    ("problem", '"heat"', "pde.problem = 'heat'; allowed: poisson1d, hjb20"),
    ("sparse_grid_level", "2", "pde.sparse_grid_level = 2; allowed: an integer in [3, 6]"),
    ("sigma", "-1.0", "pde.sigma = -1.0; allowed"),
    ("architecture", '["dense:2:16", "dense:16:1"]', "pde.architecture[0] takes 2 inputs but receives 1"),
    ("activation", '"sine"', "pde.activation = 'sine'; allowed"),
    ("interior_points", "0", "pde.interior_points = 0; allowed"),
])
def test_pde_config_errors_are_one_line(tmp_path, capsys, key, value, message):
    out = tmp_path / "bad.h5"
    assert cli(["run", "--config", _pinn_config(tmp_path, **{key: value}), "--out", out]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1 and not out.exists()


def test_a_pde_problem_needs_tt_zo(tmp_path, capsys):
    out = tmp_path / "bad.h5"
    assert cli(["run", "--config", _pinn_config(tmp_path), "--algorithm", "mfdd", "--out", out]) == 2
    assert "algorithm.name = 'mfdd' with pde.problem = 'poisson1d'; allowed: tt-zo" in \
        capsys.readouterr().err


def test_classification_configs_keep_their_run_id_without_a_pde_section():
    from experiments.config import resolve
    assert "pde" not in resolve().to_mapping()
    assert "pde" in resolve({"algorithm": {"name": "tt-zo"},
                             "pde": {"problem": "hjb20"}}).to_mapping()


def test_tt_zo_classification_runs_through_the_cli(tmp_path, capsys):
    """forwardlab run --algorithm tt-zo on the embedded digits (64 = 8·8 inputs): a TT layer
    64 → 16 and a dense 16 → 10, one device per core; accuracy stored like every run."""
    out = tmp_path / "tt.h5"
    code = cli(["run", "--config", tiny_config(tmp_path, mfdd_keys=False), "--algorithm", "tt-zo", "--out", out,
                "--quiet", "--no-references", "--set",
                'algorithm.settings.layers=["tt:8x8:4x4:2", "dense:16:10"]'])
    assert code == 0
    assert "TT network TT 8x8->4x4 rank 2" in capsys.readouterr().out
    rec = read_results(out)
    assert rec.status == "ok" and 0.0 <= rec.history["test_accuracy"][0] <= 1.0
    layers = {k.rsplit(".", 2)[0] for k in rec.step_summaries[0] if k.endswith(".mvm.events")}
    assert layers == {"layer0.core0", "layer0.core1", "layer1.core0"}
    # layers that do not chain from the data's 64 inputs to its 10 classes: one line, exit 2
    # (the registry's default layers themselves are refactored to the data's inputs)
    code = cli(["run", "--config", tiny_config(tmp_path, mfdd_keys=False), "--algorithm", "tt-zo", "--out",
                tmp_path / "bad.h5", "--quiet", "--set",
                'algorithm.settings.layers=["tt:7x4x4x7:8x4x4x8:4", "tt:8x4x4x8:1x5x2x1:4"]'])
    err = capsys.readouterr().err
    assert code == 2 and "takes 784 inputs but receives 64" in err and len(err.splitlines()) == 1


def test_tiny_run_traces_dependencies_and_host_bytes(main_run):
    """The trainer records that each stage's estimate needs only its clean readout (priced
    concurrently) and the bytes its host arithmetic streams (not 0)."""
    from experiments.results import read_results
    code, _, err, path = main_run
    assert code == 0, err
    rec = read_results(path)
    s = rec.step_summaries[0]
    layers = {k.rsplit(".", 2)[0] for k in s if k.endswith(".info.tiles")}
    assert layers and all(s[f"{layer}.dependency.independent"] == 1.0 for layer in layers)
    assert s["host.digital.bytes_optimizer"] > 0 and s["host.digital.bytes_estimator"] > 0
    assert s["host.digital.bytes_loss"] > 0


def test_price_sensitivity_projection_and_inventory(main_run, capsys):
    code, _, err, path = main_run
    assert code == 0, err
    capsys.readouterr()
    assert cli(["price", str(path), "--detail", "--sensitivity", "--project", "weights=4096,layers=2"]) == 0
    out = capsys.readouterr().out
    assert "Chip inventory: mzi-default MF+DD" in out and "shifters" in out
    assert "Sensitivity (one at a time" in out and "P_π (thermo-optic)" in out
    assert "break-even" in out
    assert "Projection (analytic, no training): 2 layers holding 4096 weights" in out
    assert cli(["price", str(path), "--project", "weights=10"]) == 2
    assert "weights=N,layers=L" in capsys.readouterr().err

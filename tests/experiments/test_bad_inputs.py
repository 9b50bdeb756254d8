"""Table of bad inputs for the ``forwardlab`` command line: every one must print exactly one
line ``forwardlab: error: ...`` naming what is wrong and what is allowed, exit with status 2,
write nothing to stdout and leave no file behind.

Groups: CLI flags of ``run`` (wrong type, out of range, NaN/inf, empty, huge), unknown flags,
``--set`` keys and values at every nesting level, ``config show``, ``sweep`` files, ``report``,
``price`` and ``presets``; TOML config files (unknown keys, wrong types, tables vs values,
NaN/inf, huge ints, encodings, binary content, syntax); data directories (missing, empty,
corrupt IDX); output paths (directories, device nodes, paths under files, /proc, existing
files, symlink loops).

Nothing here may train, read the system data or touch the network: training and sweep
execution are replaced by a function that raises, the system data directories are emptied, the
cache lives in tmp_path and ``urlopen`` raises.
"""

import gzip
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from experiments import data, runner, sweep
from experiments.cli import main
from experiments.config import SHORTHAND as SHORTHAND_TARGET
from experiments.results import RunRecord, write_results

from .tiny import tiny_toml

HUGE = 2 ** 70                     # beyond int64
STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class TrainingStarted(BaseException):
    """Raised by the stand-in for training: a bad input got past every check."""


def _no_training(*args, **kwargs):
    raise TrainingStarted("training started for a bad input")


def _no_sweep_runs(*args, **kwargs):
    raise TrainingStarted("sweep runs started for a bad input")


def _no_network(*args, **kwargs):
    raise OSError("network unreachable (simulated)")


def cli(argv) -> int:
    """Exit status of ``forwardlab argv`` called in-process (argparse errors raise SystemExit)."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:
        return e.code


# ------------------------------------------------------------------ helpers building inputs

TINY = tiny_toml()


def tiny(t: Path) -> Path:
    """The tiny run config (one epoch, P = 2) every ``run`` case starts from."""
    p = t / "tiny.toml"
    if not p.exists():
        p.write_text(TINY)
    return p


def run_argv(t: Path, *more) -> list:
    return ["run", "--config", tiny(t), "--out", t / "run.h5", "--quiet", *more]


def write(t: Path, name: str, content: str | bytes) -> Path:
    p = t / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    return p


def config_argv(t: Path, content: str | bytes, name: str = "bad.toml") -> list:
    """``run --config`` a file holding ``content`` (written verbatim)."""
    return ["run", "--config", write(t, name, content), "--out", t / "run.h5", "--quiet"]


def with_tiny(extra: str) -> str:
    """The tiny config followed by ``extra`` (later tables; keys at top of a new table)."""
    return TINY + extra


def idx_bytes(arr: np.ndarray) -> bytes:
    """An unsigned-byte IDX file holding ``arr`` (magic 0x0800 | ndim, big-endian dims)."""
    head = (0x800 | arr.ndim).to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big")
                                                             for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def idx_dir(t: Path, name: str = "fm", *, n_train: int = 6, n_test: int = 4, **replace) -> Path:
    """A small valid Fashion-MNIST-like IDX directory (6 train, 4 test images of 28 x 28).

    ``replace`` maps a stem with underscores for dashes (``train_images_idx3_ubyte``) to the
    bytes to write instead (None: omit the file); ``<stem>_gz`` writes ``<stem>.gz`` instead."""
    d = t / name
    d.mkdir()
    rng = np.random.default_rng(0)
    arrays = {STEMS[0]: rng.integers(0, 256, (n_train, 28, 28)),
              STEMS[1]: rng.integers(0, 10, n_train),
              STEMS[2]: rng.integers(0, 256, (n_test, 28, 28)),
              STEMS[3]: rng.integers(0, 10, n_test)}
    for stem, arr in arrays.items():
        key = stem.replace("-", "_")
        if key + "_gz" in replace:
            (d / f"{stem}.gz").write_bytes(replace[key + "_gz"])
        elif replace.get(key, b"") is not None:
            (d / stem).write_bytes(replace.get(key, idx_bytes(arr)))
    return d


def fm_argv(t: Path, directory) -> list:
    return run_argv(t, "--dataset", "fashion-mnist", "--data-dir", directory)


def h5_not_forwardlab(t: Path, name: str = "other.h5") -> Path:
    p = t / name
    with h5py.File(p, "w") as f:
        f["x"] = np.arange(3)
    return p


def results_file(t: Path, name: str = "old.h5", **kw) -> Path:
    return write_results(t / name, RunRecord(config={"run.epochs": 1}, **kw))


def _spec(t: Path, content: str | bytes) -> str:
    """A [cost] table naming a cost spec file that holds ``content``."""
    return f"[cost]\nspec_file = \"{write(t, 'spec.toml', content)}\"\n"


def sweep_argv(t: Path, content: str, *more) -> list:
    return ["sweep", write(t, "s.toml", content), "--out", t / "sw", "--quiet", *more]


SWEEP_BASE = TINY


# ------------------------------------------------------------------ the table

def case(name, make, *expect, absent=(), env=None):
    """One bad input: ``make(tmp)`` builds its files and returns argv; ``expect``: fragments of
    the error line (``{t}`` is the tmp directory); ``absent``: fragments it must not hold."""
    return pytest.param(make, expect, absent, env or {}, id=name)

CLI_FLAGS = [
    # --epochs
    case("epochs-abc", lambda t: run_argv(t, "--epochs", "abc"), "--epochs", "'abc'", "int"),
    case("epochs-float", lambda t: run_argv(t, "--epochs", "1.5"), "--epochs", "'1.5'", "int"),
    case("epochs-empty", lambda t: run_argv(t, "--epochs", ""), "--epochs", "''", "int"),
    case("epochs-zero", lambda t: run_argv(t, "--epochs", "0"), "run.epochs = 0", "[1, 100000]"),
    case("epochs-negative", lambda t: run_argv(t, "--epochs", "-3"), "run.epochs = -3", "[1, 100000]"),
    case("epochs-too-many", lambda t: run_argv(t, "--epochs", "100001"), "run.epochs = 100001",
         "[1, 100000]"),
    case("epochs-huge", lambda t: run_argv(t, "--epochs", str(HUGE)), f"run.epochs = {HUGE}",
         "[1, 100000]"),
    case("epochs-nan", lambda t: run_argv(t, "--epochs", "nan"), "--epochs", "'nan'", "int"),
    case("epochs-missing-value", lambda t: run_argv(t, "--epochs"), "--epochs",
         "expected one argument"),
    # --directions
    case("directions-abc", lambda t: run_argv(t, "--directions", "abc"), "--directions", "'abc'",
         "int"),
    case("directions-zero", lambda t: run_argv(t, "--directions", "0"),
         "algorithm.num_directions = 0", "[1, 100000]"),
    case("directions-too-many", lambda t: run_argv(t, "--directions", "100001"),
         "algorithm.num_directions = 100001", "[1, 100000]"),
    # allowed by the config's range, not by the algorithm's settings
    case("directions-above-mfdd-range", lambda t: run_argv(t, "--directions", "100000"),
         "algorithm.num_directions (= algorithm.settings.num_directions)",
         "MFDDSettings.num_directions = 100000", "[1, 4096]"),
    # allowed, but one batched evaluation of 2 × 4096 settings of a 64 → 100000 crossbar
    # cannot fit in memory
    case("directions-cannot-fit-in-memory", lambda t: run_argv(
        t, "--directions", "4096", "--device", "crossbar", "--set", "model.hidden=[100000]"),
         "algorithm.settings.num_directions = 4096", "needs about", "GiB", "allowed here: at most"),
    case("directions-huge", lambda t: run_argv(t, "--directions", str(HUGE)),
         f"algorithm.num_directions = {HUGE}", "[1, 100000]"),
    case("directions-inf", lambda t: run_argv(t, "--directions", "inf"), "--directions", "'inf'",
         "int"),
    # --epsilon
    case("epsilon-abc", lambda t: run_argv(t, "--epsilon", "abc"), "--epsilon", "'abc'", "float"),
    case("epsilon-empty", lambda t: run_argv(t, "--epsilon", ""), "--epsilon", "''", "float"),
    case("epsilon-nan", lambda t: run_argv(t, "--epsilon", "nan"), "algorithm.epsilon = nan",
         "[1e-06, 1]", "knob range"),
    case("epsilon-inf", lambda t: run_argv(t, "--epsilon", "inf"), "algorithm.epsilon = inf",
         "[1e-06, 1]"),
    case("epsilon-minus-inf", lambda t: run_argv(t, "--epsilon", "-inf"),
         "algorithm.epsilon = -inf", "[1e-06, 1]"),
    case("epsilon-minus-inf-attached", lambda t: run_argv(t, "--epsilon=-inf"),
         "algorithm.epsilon = -inf", "[1e-06, 1]"),
    case("epsilon-overflow", lambda t: run_argv(t, "--epsilon", "1e400"),
         "algorithm.epsilon = inf", "[1e-06, 1]"),
    case("epsilon-tiny", lambda t: run_argv(t, "--epsilon", "1e-300"),
         "algorithm.epsilon = 1e-300", "[1e-06, 1]", "float32 rounding"),
    case("epsilon-zero", lambda t: run_argv(t, "--epsilon", "0"), "algorithm.epsilon = 0.0",
         "[1e-06, 1]"),
    case("epsilon-negative", lambda t: run_argv(t, "--epsilon", "-0.01"),
         "algorithm.epsilon = -0.01", "[1e-06, 1]"),
    case("epsilon-above-range", lambda t: run_argv(t, "--epsilon", "2"),
         "algorithm.epsilon = 2.0", "[1e-06, 1]"),
    # --seed
    case("seed-negative", lambda t: run_argv(t, "--seed", "-1"), "run.seed = -1",
         "[0, 9223372036854775807]"),
    case("seed-2**64", lambda t: run_argv(t, "--seed", str(2 ** 64)),
         f"run.seed = {2 ** 64}", "[0, 9223372036854775807]"),
    case("seed-float", lambda t: run_argv(t, "--seed", "0.5"), "--seed", "'0.5'", "int"),
    # --threads
    case("threads-zero", lambda t: run_argv(t, "--threads", "0"), "run.threads = 0", "[1, 256]"),
    case("threads-too-many", lambda t: run_argv(t, "--threads", "257"), "run.threads = 257",
         "[1, 256]"),
    case("threads-huge", lambda t: run_argv(t, "--threads", str(HUGE)), f"run.threads = {HUGE}",
         "[1, 256]"),
    case("threads-abc", lambda t: run_argv(t, "--threads", "two"), "--threads", "'two'", "int"),
    # names
    case("device-unknown", lambda t: run_argv(t, "--device", "tpu"), "device.kind = 'tpu'",
         "mzi, crossbar"),
    case("device-empty", lambda t: run_argv(t, "--device", ""), "device.kind = ''", "mzi, crossbar"),
    case("device-uppercase", lambda t: run_argv(t, "--device", "MZI"), "device.kind = 'MZI'",
         "mzi, crossbar"),
    case("preset-unknown", lambda t: run_argv(t, "--preset", "mzi-fancy"),
         "device.preset = 'mzi-fancy'", "mzi-default"),
    case("preset-empty", lambda t: run_argv(t, "--preset", ""), "device.preset = ''",
         "crossbar-default"),
    case("preset-kind-mismatch", lambda t: run_argv(t, "--preset", "crossbar-ideal", "--device",
                                                    "mzi"),
         "device.preset = 'crossbar-ideal'", "device.kind = 'mzi'", "presets starting with 'mzi-'"),
    case("algorithm-unknown", lambda t: run_argv(t, "--algorithm", "sgd"),
         "algorithm.name = 'sgd'", "mfdd, mf-ad, bp"),
    case("algorithm-empty", lambda t: run_argv(t, "--algorithm", ""), "algorithm.name = ''",
         "mfdd, mf-ad, bp"),
    case("dataset-unknown", lambda t: run_argv(t, "--dataset", "cifar10"),
         "data.dataset = 'cifar10'", "digits, fashion-mnist, mnist"),
    case("dataset-empty", lambda t: run_argv(t, "--dataset", ""), "data.dataset = ''",
         "digits, fashion-mnist, mnist"),
    case("data-dir-empty", lambda t: run_argv(t, "--dataset", "fashion-mnist", "--data-dir", ""),
         "--data-dir ''", "allowed: a directory"),
    case("data-dir-blank", lambda t: run_argv(t, "--dataset", "fashion-mnist", "--data-dir", "  "),
         "--data-dir ''", "allowed: a directory"),
    case("data-dir-missing-for-digits", lambda t: run_argv(t, "--data-dir", t / "nodata"),
         "nodata", "allowed"),
    # unknown or malformed flags
    case("unknown-flag", lambda t: run_argv(t, "--learning-rate", "3"), "--learning-rate",
         "allowed"),
    case("unknown-short-flag", lambda t: run_argv(t, "-x"), "-x", "allowed"),
    case("stray-positional", lambda t: run_argv(t, "extra"), "extra", "allowed"),
    case("switch-with-value", lambda t: run_argv(t, "--overwrite=yes"), "--overwrite", "'yes'"),
    case("config-missing-value", lambda t: ["run", "--out", t / "run.h5", "--config"], "--config",
         "expected one argument"),
    case("unknown-command", lambda t: ["frobnicate"], "'frobnicate'", "run", "sweep"),
]

SET = [
    case("set-no-equals", lambda t: run_argv(t, "--set", "run.epochs"), "--set 'run.epochs'",
         "dotted.key=value"),
    case("set-empty", lambda t: run_argv(t, "--set", ""), "--set ''", "dotted.key=value"),
    case("set-empty-key", lambda t: run_argv(t, "--set", "=5"), "--set key ''", "section.key"),
    case("set-undotted-key", lambda t: run_argv(t, "--set", "epochs=5"), "--set key 'epochs'",
         "section.key"),
    case("set-double-dot", lambda t: run_argv(t, "--set", "run..epochs=5"),
         "--set key 'run..epochs'", "section.key"),
    case("set-bad-chars", lambda t: run_argv(t, "--set", "run.ep ochs=5"), "'run.ep ochs'",
         "section.key"),
    case("set-missing-value", lambda t: run_argv(t, "--set"), "--set", "expected one argument"),
    case("set-unknown-section", lambda t: run_argv(t, "--set", "training.epochs=5"),
         "'training'", "run, model, algorithm, device, cost, data"),
    case("set-unknown-run-key", lambda t: run_argv(t, "--set", "run.epoch=5"),
         "unknown key run.epoch", "epochs"),
    case("set-unknown-model-key", lambda t: run_argv(t, "--set", "model.depth=3"),
         "unknown key model.depth", "hidden"),
    case("set-unknown-algorithm-key", lambda t: run_argv(t, "--set", "algorithm.learning_rate=0.1"),
         "unknown key algorithm.learning_rate", "lr"),
    case("set-unknown-data-key", lambda t: run_argv(t, "--set", "data.path=x"),
         "unknown key data.path", "data_dir"),
    case("set-unknown-cost-key", lambda t: run_argv(t, "--set", "cost.budget=1"),
         "unknown key cost.budget", "level"),
    case("set-unknown-mzi-spec-key", lambda t: run_argv(t, "--set", "cost.mzi.laser_w=1"),
         "unknown key cost.mzi.laser_w", "laser_wpe"),
    case("set-cost-old-photonic-name", lambda t: run_argv(t, "--set", "cost.photonic.laser_wpe=0.3"),
         "unknown key cost.photonic", "mzi, crossbar, mrr, gpu"),
    case("set-unknown-crossbar-spec-key", lambda t: run_argv(t, "--set", "cost.crossbar.e_read=1"),
         "unknown key cost.crossbar.e_read", "e_cell_read_fj"),
    case("set-unknown-device-key", lambda t: run_argv(t, "--set", "device.blocks=4"),
         "unknown key device.blocks", "block"),
    case("set-unknown-effect", lambda t: run_argv(t, "--set", "device.laser_noise.sigma=0.1"),
         "unknown effect device.laser_noise", "phase_noise"),
    case("set-unknown-effect-field", lambda t: run_argv(t, "--set", "device.phase_noise.sigmaa=0.1"),
         "unknown key device.phase_noise.sigmaa", "sigma_rad, bound_sigmas"),
    case("set-effect-of-crossbar-on-mzi",
         lambda t: run_argv(t, "--set", "device.read_noise.sigma=0.01"),
         "device.read_noise", "mzi", "phase_noise"),
    case("set-effect-of-mzi-on-crossbar",
         lambda t: run_argv(t, "--device", "crossbar", "--set", "device.phase_noise.sigma_rad=0.01"),
         "device.phase_noise", "crossbar", "read_noise"),
    case("set-effect-as-value", lambda t: run_argv(t, "--set", "device.phase_noise=0.01"),
         "device.phase_noise", "[device.phase_noise]"),
    case("set-below-a-value", lambda t: run_argv(t, "--set", "run.epochs.max=3"),
         "run.epochs is a value", "run.epochs.max"),
    case("set-below-effect-field", lambda t: run_argv(t, "--set", "device.phase_noise.sigma_rad.rad=1"),
         "device.phase_noise.sigma_rad is a table", "a value"),
    case("set-inline-table", lambda t: run_argv(t, "--set", "run.epochs={n = 1}"),
         "run.epochs is a table", "a value"),
    case("set-epochs-empty-value", lambda t: run_argv(t, "--set", "run.epochs="),
         "run.epochs = ''", "[1, 100000]"),
    case("set-epochs-word", lambda t: run_argv(t, "--set", "run.epochs=many"),
         "run.epochs = 'many'", "[1, 100000]"),
    case("set-epochs-bool", lambda t: run_argv(t, "--set", "run.epochs=true"),
         "run.epochs = True", "[1, 100000]"),
    case("set-epochs-float", lambda t: run_argv(t, "--set", "run.epochs=2.5"),
         "run.epochs = 2.5", "[1, 100000]"),
    case("set-epochs-list", lambda t: run_argv(t, "--set", "run.epochs=[1]"),
         "run.epochs = [1]", "[1, 100000]"),
    case("set-epochs-nan", lambda t: run_argv(t, "--set", "run.epochs=nan"), "run.epochs = nan",
         "[1, 100000]"),
    case("set-seed-huge", lambda t: run_argv(t, "--set", f"run.seed={HUGE}"),
         f"run.seed = {HUGE}", "[0, 9223372036854775807]"),
    case("set-batch-size-zero", lambda t: run_argv(t, "--set", "run.batch_size=0"),
         "run.batch_size = 0", "[1, 1000000]"),
    case("set-references-word", lambda t: run_argv(t, "--set", "run.references=yes"),
         "run.references = 'yes'", "true or false"),
    case("set-checkpoint-int", lambda t: run_argv(t, "--set", "run.checkpoint=1"),
         "run.checkpoint = 1", "true or false"),
    case("set-out-nul", lambda t: run_argv(t, "--set", "run.out=\"a\\u0000b\""), "run.out",
         "allowed: a file path"),
    case("set-out-nul-bare", lambda t: run_argv(t, "--set", "run.out=a\x00b"), "run.out",
         "allowed: a file path"),
    case("set-hidden-empty", lambda t: run_argv(t, "--set", "model.hidden=[]"),
         "model.hidden = []", "non-empty list"),
    case("set-hidden-zero", lambda t: run_argv(t, "--set", "model.hidden=[8, 0]"),
         "model.hidden = [8, 0]", "[1, 100000]"),
    case("set-hidden-scalar", lambda t: run_argv(t, "--set", "model.hidden=8"),
         "model.hidden = 8", "non-empty list"),
    case("set-hidden-huge", lambda t: run_argv(t, "--set", f"model.hidden=[{HUGE}]"),
         f"model.hidden = [{HUGE}]", "[1, 100000]"),
    case("set-directions-name", lambda t: run_argv(t, "--set", "algorithm.directions=normal"),
         "algorithm.directions = 'normal'", "rademacher"),
    case("set-difference-name", lambda t: run_argv(t, "--set", "algorithm.difference=left"),
         "algorithm.difference = 'left'", "central"),
    case("set-optimizer-name", lambda t: run_argv(t, "--set", "algorithm.optimizer=lbfgs"),
         "algorithm.optimizer = 'lbfgs'", "adam, sgd, momentum"),
    case("set-schedule-name", lambda t: run_argv(t, "--set", "algorithm.schedule=random"),
         "algorithm.schedule = 'random'", "simultaneous"),
    case("set-prediction-name", lambda t: run_argv(t, "--set", "algorithm.prediction=vote"),
         "algorithm.prediction = 'vote'", "sum"),
    case("set-lr-zero", lambda t: run_argv(t, "--set", "algorithm.lr=0"), "algorithm.lr = 0.0",
         "(0, 100]"),
    case("set-lr-inf", lambda t: run_argv(t, "--set", "algorithm.lr=inf"), "algorithm.lr = inf",
         "(0, 100]"),
    case("set-head-lr-nan", lambda t: run_argv(t, "--set", "algorithm.head_lr=nan"),
         "algorithm.head_lr = nan", "(0, 100]"),
    case("set-clip-negative", lambda t: run_argv(t, "--set", "algorithm.clip=-1"),
         "algorithm.clip = -1.0", "global-norm clip"),
    # keys of the one-class MF+DD that no longer mean anything name what replaces them
    case("set-head-epsilon-retired", lambda t: run_argv(t, "--set", "algorithm.head_epsilon=0"),
         "algorithm.head_epsilon = 0.0 is retired", "exact gradient", "'mfdd-thesis'",
         "algorithm.settings.head_epsilon"),
    case("set-head-directions-retired", lambda t: run_argv(t, "--set",
                                                            "algorithm.head_num_directions=0"),
         "algorithm.head_num_directions = 0 is retired", "algorithm.settings.head_num_directions"),
    case("set-head-direction-kind-retired", lambda t: run_argv(t, "--set",
                                                                "algorithm.head_directions=sphere"),
         "algorithm.head_directions = 'sphere' is retired", "'mfdd-thesis'"),
    case("set-shorthand-of-another-algorithm", lambda t: run_argv(
        t, "--algorithm", "frog", "--set", "algorithm.difference=forward"),
         "does not apply to algorithm 'frog'", "allowed: algorithm.settings keys", "num_tangents"),
    case("set-kind-unknown", lambda t: run_argv(t, "--set", "device.kind=gpu"),
         "device.kind = 'gpu'", "mzi, crossbar"),
    case("set-preset-unknown", lambda t: run_argv(t, "--set", "device.preset=mzi"),
         "device.preset = 'mzi'", "mzi-default"),
    case("set-effect-enabled-word", lambda t: run_argv(t, "--set", "device.phase_noise.enabled=maybe"),
         "device.phase_noise.enabled = 'maybe'", "true or false"),
    case("set-disabled-effect-with-values",
         lambda t: run_argv(t, "--set", "device.phase_noise.enabled=false",
                            "--set", "device.phase_noise.sigma_rad=0.1"),
         "device.phase_noise is disabled", "sigma", "enabled = false alone"),
    # effect and device values out of range: the key path, the value, the allowed range and unit
    case("set-phase-noise-negative", lambda t: run_argv(t, "--set", "device.phase_noise.sigma_rad=-0.01"),
         "device.phase_noise.sigma_rad", "-0.01", ">= 0"),
    case("set-phase-noise-nan", lambda t: run_argv(t, "--set", "device.phase_noise.sigma_rad=nan"),
         "device.phase_noise.sigma_rad", "nan", "finite"),
    case("set-phase-noise-string", lambda t: run_argv(t, "--set", "device.phase_noise.sigma_rad=small"),
         "device.phase_noise.sigma_rad", "'small'", "number"),
    case("set-phase-bound-zero", lambda t: run_argv(t, "--set", "device.phase_noise.bound_sigmas=0"),
         "device.phase_noise.bound_sigmas", "0.0", "> 0"),
    case("set-adc-bits-one", lambda t: run_argv(t, "--set", "device.output_adc.bits=1"),
         "device.output_adc.bits", "1", "[2, 32]"),
    case("set-adc-bits-huge", lambda t: run_argv(t, "--set", f"device.output_adc.bits={HUGE}"),
         "device.output_adc.bits", str(HUGE), "32"),
    case("set-adc-full-scale-inf", lambda t: run_argv(t, "--set", "device.output_adc.full_scale=inf"),
         "device.output_adc.full_scale", "inf", "> 0"),
    case("set-insertion-loss-negative",
         lambda t: run_argv(t, "--set", "device.insertion_loss.db_per_mzi=-0.1"),
         "device.insertion_loss.db_per_mzi", "-0.1", ">= 0"),
    case("set-block-one", lambda t: run_argv(t, "--set", "device.block=1"),
         "device.block", "1", "[2, 256]"),
    case("set-g-max-below-g-min",
         lambda t: run_argv(t, "--device", "crossbar", "--set", "device.g_min_us=30"),
         "device.g_max_us", "25.0", "g_min_us"),
    case("set-programming-noise-negative",
         lambda t: run_argv(t, "--device", "crossbar", "--set", "device.programming_noise.g_ref_us=-1"),
         "device.programming_noise.g_ref_us", "-1.0", "> 0"),
    case("set-cost-level", lambda t: run_argv(t, "--set", "cost.level=extreme"),
         "cost.level = 'extreme'", "low, nominal, high"),
    case("set-cost-gpu-unknown", lambda t: run_argv(t, "--set", "cost.gpus=[\"TPU v4\"]"),
         "cost.gpus = ['TPU v4']", "H100 SXM5"),
    case("set-cost-gpus-string", lambda t: run_argv(t, "--set", "cost.gpus=H100"),
         "cost.gpus = 'H100'", "a list"),
    case("set-cost-mzi-value", lambda t: run_argv(t, "--set", "cost.mzi=5"),
         "cost.mzi = 5", "a table"),
    case("set-cost-unknown-gpu", lambda t: run_argv(t, "--set", "cost.gpu.tpu.tdp_w=100"),
         "unknown GPU cost.gpu.'tpu'", "H100 SXM5"),
    case("set-cost-gpu-value", lambda t: run_argv(t, "--set", "cost.gpu=5"),
         "cost.gpu = 5", "a table"),
    case("set-laser-wpe-above-one", lambda t: run_argv(t, "--set", "cost.mzi.laser_wpe=2"),
         "cost.mzi.laser_wpe", "2.0", "(0, 1]"),
    case("set-spec-file-missing", lambda t: run_argv(t, "--set", f"cost.spec_file=\"{t}/nospec.toml\""),
         "cost spec file", "nospec.toml", "does not exist"),
    case("set-dataset-unknown", lambda t: run_argv(t, "--set", "data.dataset=svhn"),
         "data.dataset = 'svhn'", "digits"),
    case("set-standardize-int", lambda t: run_argv(t, "--set", "data.standardize=1"),
         "data.standardize = 1", "true or false"),
    case("set-data-dir-int", lambda t: run_argv(t, "--set", "data.data_dir=5"),
         "data.data_dir = 5", "a directory path"),
]

CONFIG_SHOW_AND_OTHERS = [
    case("config-show-bad-set", lambda t: ["config", "show", "--set", "run.epochs=0"],
         "run.epochs = 0", "[1, 100000]"),
    case("config-show-missing-file", lambda t: ["config", "show", "--config", t / "nope.toml"],
         "nope.toml", "does not exist"),
    case("config-show-malformed-set", lambda t: ["config", "show", "--set", "epochs"],
         "--set 'epochs'", "dotted.key=value"),
    case("config-show-unknown-key", lambda t: ["config", "show", "--set", "device.phase_noise.x=1"],
         "unknown key device.phase_noise.x", "sigma"),
    case("config-no-subcommand", lambda t: ["config"], "config needs a subcommand", "show"),
    case("config-unknown-subcommand", lambda t: ["config", "print"], "'print'", "show"),
    case("config-show-binary-config", lambda t: ["config", "show", "--config",
                                                 write(t, "b.toml", b"\x89HDF\r\n\x1a\n\x00")],
         "b.toml", "binary", "UTF-8 TOML"),
    case("config-show-run-flag", lambda t: ["config", "show", "--epochs", "3"], "--epochs", "allowed"),
    case("presets-unknown", lambda t: ["presets", "mzi-fancy"], "unknown preset 'mzi-fancy'",
         "mzi-default"),
    case("presets-empty", lambda t: ["presets", ""], "unknown preset ''", "crossbar-default"),
    case("presets-uppercase", lambda t: ["presets", "MZI-DEFAULT"], "'MZI-DEFAULT'", "mzi-default"),
    case("price-missing", lambda t: ["price", t / "nope.h5"], "nope.h5",
         "not a forwardlab results file", "allowed: a results .h5 file"),
    case("price-garbage", lambda t: ["price", write(t, "g.h5", b"junk")], "g.h5",
         "not a forwardlab results file", "allowed: a results .h5 file"),
    case("price-plain-hdf5", lambda t: ["price", h5_not_forwardlab(t)], "other.h5",
         "not a forwardlab results file"),
    case("price-directory", lambda t: ["price", t], "not a forwardlab results file"),
    case("price-no-trace", lambda t: ["price", results_file(t)], "old.h5", "no trace steps",
         "allowed: a device run"),
    case("price-bad-level", lambda t: ["price", results_file(t), "--cost-level", "extreme"],
         "--cost-level 'extreme'", "low, nominal, high"),
    case("price-spec-missing", lambda t: ["price", results_file(t), "--spec", t / "nospec.toml"],
         "cost spec file", "nospec.toml", "does not exist"),
    case("price-spec-binary", lambda t: ["price", results_file(t), "--spec",
                                         write(t, "b.toml", b"\x00\x01")],
         "cost spec file", "binary", "UTF-8 TOML"),
    case("report-missing", lambda t: ["report", t / "missing.h5"], "missing.h5", "does not exist",
         "allowed"),
    case("report-garbage", lambda t: ["report", write(t, "garbage.h5", b"not hdf5 at all")],
         "garbage.h5", "allowed"),
    case("report-empty-dir", lambda t: ["report", (t / "empty").mkdir() or t / "empty"],
         "holds no results files", "allowed"),
    case("report-dir-with-garbage", lambda t: ["report", write(t, "d/x.h5", b"\x00" * 64).parent],
         "x.h5", "allowed"),
    case("report-hdf5-not-forwardlab", lambda t: ["report", h5_not_forwardlab(t)], "other.h5",
         "not a forwardlab results file"),
    case("report-no-paths", lambda t: ["report"], "paths", "required"),
    case("report-garbage-with-out", lambda t: ["report", write(t, "garbage.h5", b"junk"), "--out",
                                               t / "rep"],
         "garbage.h5", "not a forwardlab results file", "allowed: results .h5 files"),
    case("report-truncated-results", lambda t: ["report", _truncated_results(t)], "cut.h5",
         "allowed"),
    case("report-out-is-file", lambda t: ["report", results_file(t), "--out",
                                          write(t, "rep.txt", "x")],
         "rep.txt", "existing file", "allowed: a directory"),
    case("report-out-under-proc", lambda t: ["report", results_file(t), "--out",
                                             "/proc/forwardlab-report"],
         "/proc/forwardlab-report", "allowed"),
    case("report-out-empty", lambda t: ["report", results_file(t), "--out", ""],
         "--out ''", "allowed"),
]

SWEEPS = [
    case("sweep-no-sweep-table", lambda t: sweep_argv(t, SWEEP_BASE), "no [sweep] table",
         "grid and/or zip"),
    case("sweep-table-is-value", lambda t: sweep_argv(t, "sweep = 5\n" + SWEEP_BASE),
         "no [sweep] table", "grid and/or zip"),
    case("sweep-no-axes", lambda t: sweep_argv(t, SWEEP_BASE + "[sweep]\nworkers = 1\n"),
         "sweep has no axes", "[sweep.grid]"),
    case("sweep-empty-grid-list", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\n\"run.seed\" = []\n"), "sweep.grid", "run.seed",
         "non-empty list"),
    case("sweep-grid-scalar", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\n\"run.seed\" = 3\n"), "sweep.grid", "= 3", "non-empty list"),
    case("sweep-grid-is-value", lambda t: sweep_argv(t, SWEEP_BASE + "[sweep]\ngrid = 5\n"),
         "sweep.grid = 5", "a table"),
    case("sweep-undotted-axis", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\nseed = [1, 2]\n"), "'seed'", "dotted config key"),
    case("sweep-zip-length-mismatch", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.zip]\n\"run.seed\" = [1, 2]\n\"algorithm.lr\" = [0.1]\n"),
         "different lengths", "equal lengths"),
    case("sweep-unknown-key", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep]\nparallel = 2\n[sweep.grid]\n\"run.seed\" = [1]\n"),
         "unknown key sweep.parallel", "out, workers, base"),
    case("sweep-axis-in-grid-and-zip", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\n\"run.seed\" = [1]\n[sweep.zip]\n\"run.seed\" = [2]\n"),
         "'run.seed' is in both grid and zip", "one of them"),
    case("sweep-workers-zero", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\n\"run.seed\" = [1]\n", "--workers", "0"),
         "workers = 0", "[1, 1024]"),
    case("sweep-workers-abc", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\n\"run.seed\" = [1]\n", "--workers", "many"),
         "--workers", "'many'", "int"),
    case("sweep-workers-in-file-string", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep]\nworkers = \"two\"\n[sweep.grid]\n\"run.seed\" = [1]\n"),
         "workers = 'two'", "[1, 1024]"),
    case("sweep-workers-in-file-bool", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep]\nworkers = true\n[sweep.grid]\n\"run.seed\" = [1]\n"),
         "workers = True", "[1, 1024]"),
    case("sweep-workers-huge", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\n\"run.seed\" = [1]\n", "--workers", str(HUGE)),
         f"workers = {HUGE}", "[1, 1024]"),
    case("sweep-too-many-runs", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\n" + "".join(
            f"\"run.{k}\" = [{', '.join(map(str, range(1, 51)))}]\n"
            for k in ("seed", "epochs", "batch_size"))),
         "125000 runs", "at most 100000"),
    case("sweep-base-missing", lambda t: sweep_argv(
        t, "[sweep]\nbase = \"nobase.toml\"\n[sweep.grid]\n\"run.seed\" = [1]\n"),
         "nobase.toml", "does not exist"),
    case("sweep-base-empty-string", lambda t: sweep_argv(
        t, "[sweep]\nbase = \"\"\n[sweep.grid]\n\"run.seed\" = [1]\n"),
         "sweep.base = ''", "a config file path"),
    case("sweep-axis-below-a-value", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\n\"run.epochs.max\" = [1]\n"),
         "run.epochs.max", "run.epochs is a value"),
    case("sweep-out-in-file-int", lambda t: ["sweep", write(
        t, "s.toml", SWEEP_BASE + "[sweep]\nout = 5\n[sweep.grid]\n\"run.seed\" = [1]\n"), "--quiet"],
         "sweep.out = 5", "allowed"),
    case("sweep-out-in-file-nul", lambda t: ["sweep", write(
        t, "s.toml", SWEEP_BASE + "[sweep]\nout = \"a\\u0000b\"\n[sweep.grid]\n\"run.seed\" = [1]\n"),
        "--quiet"],
         "sweep.out", "allowed"),
    case("sweep-base-int", lambda t: sweep_argv(
        t, "[sweep]\nbase = 5\n[sweep.grid]\n\"run.seed\" = [1]\n"),
         "sweep.base = 5", "a config file path"),
    case("sweep-base-nul", lambda t: sweep_argv(
        t, "[sweep]\nbase = \"a\\u0000b.toml\"\n[sweep.grid]\n\"run.seed\" = [1]\n"),
         "sweep base config", "a\\x00b.toml", "does not exist"),
    case("sweep-file-is-directory", lambda t: ["sweep", (t / "sdir").mkdir() or t / "sdir",
                                               "--out", t / "sw"],
         "sweep file", "sdir", "not a regular file"),
    case("sweep-file-missing", lambda t: ["sweep", t / "nosweep.toml", "--out", t / "sw"],
         "sweep file", "nosweep.toml", "does not exist"),
    case("sweep-file-empty", lambda t: ["sweep", write(t, "s.toml", ""), "--out", t / "sw"],
         "sweep file", "is empty", "allowed"),
    case("sweep-file-binary", lambda t: ["sweep", write(t, "s.toml", bytes(range(256))),
                                         "--out", t / "sw"],
         "sweep file", "binary", "UTF-8 TOML"),
    case("sweep-out-is-file", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\n\"run.seed\" = [1]\n") [:3] + [write(t, "f.txt", "x"),
                                                                         "--quiet"],
         "f.txt", "is a file", "a directory path"),
    case("sweep-unknown-axis-key", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\n\"run.bogus\" = [1, 2]\n"),
         "run.bogus", "allowed"),
    # a value bad for only some runs is recorded per run and the sweep goes on (test_sweep.py);
    # one bad for every run is an error before anything starts
    case("sweep-bad-axis-value", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\n\"run.epochs\" = [0, -1]\n"),
         "no run of the sweep has a valid config", "run.epochs = 0", "[1, 100000]"),
    case("sweep-bad-base-value", lambda t: sweep_argv(
        t, "[run]\nepochs = -1\n[sweep.grid]\n\"run.seed\" = [1]\n"),
         "run.epochs = -1", "[1, 100000]"),
    case("sweep-out-empty", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\n\"run.seed\" = [1]\n")[:3] + ["", "--quiet"],
         "--out ''", "allowed"),
    case("sweep-out-under-proc", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\n\"run.seed\" = [1]\n")[:3] + ["/proc/forwardlab-sweep",
                                                                     "--quiet"],
         "/proc/forwardlab-sweep", "allowed"),
    case("sweep-bad-scheduler", lambda t: sweep_argv(
        t, SWEEP_BASE + "[sweep.grid]\n\"run.seed\" = [1]\n", "--scheduler", "not an address"),
         "--scheduler", "'not an address'", "allowed"),
]

TOML_FILES = [
    case("toml-unknown-section", lambda t: config_argv(t, with_tiny("[training]\nepochs = 3\n")),
         "'training'", "run, model, algorithm, device, cost, data"),
    case("toml-unknown-run-key", lambda t: config_argv(t, "[run]\nepoch = 3\n"),
         "unknown key run.epoch", "epochs"),
    case("toml-unknown-model-key", lambda t: config_argv(t, "[model]\nwidth = 3\n"),
         "unknown key model.width", "hidden"),
    case("toml-unknown-algorithm-key", lambda t: config_argv(t, "[algorithm]\nmomentum = 0.9\n"),
         "unknown key algorithm.momentum", "optimizer"),
    case("toml-unknown-device-key", lambda t: config_argv(t, "[device]\nsize = 8\n"),
         "unknown key device.size", "block"),
    case("toml-unknown-cost-key", lambda t: config_argv(t, "[cost]\nlevels = \"low\"\n"),
         "unknown key cost.levels", "level"),
    case("toml-unknown-data-key", lambda t: config_argv(t, "[data]\nnormalize = true\n"),
         "unknown key data.normalize", "standardize"),
    case("toml-unknown-mzi-spec-key", lambda t: config_argv(t, "[cost.mzi]\nlaser = 0.3\n"),
         "unknown key cost.mzi.laser", "laser_wpe"),
    case("toml-unknown-gpu-spec-key", lambda t: config_argv(
        t, "[cost]\ngpus = [\"H100 SXM5\"]\n[cost.gpu.\"H100 SXM5\"]\ntdp = 700\n"),
         "unknown key cost.gpu.'H100 SXM5'.tdp", "tdp_w"),
    case("toml-unknown-gpu", lambda t: config_argv(t, "[cost.gpu.\"RTX 9090\"]\ntdp_w = 1\n"),
         "unknown GPU cost.gpu.'RTX 9090'", "H100 SXM5"),
    case("toml-gpu-spec-is-value", lambda t: config_argv(t, "[cost.gpu]\n\"H100 SXM5\" = 1\n"),
         "cost.gpu.'H100 SXM5' = 1", "a table of GPU spec fields"),
    case("toml-unknown-crossbar-spec-key", lambda t: config_argv(t, "[cost.crossbar]\ne_adc = 1\n"),
         "unknown key cost.crossbar.e_adc", "e_adc_pj"),
    case("toml-unknown-effect", lambda t: config_argv(t, "[device.crosstalk]\nsigma = 0.1\n"),
         "unknown effect device.crosstalk", "phase_noise"),
    case("toml-unknown-effect-field", lambda t: config_argv(t, "[device.output_adc]\nbitz = 6\n"),
         "unknown key device.output_adc.bitz", "bits, full_scale"),
    case("toml-crossbar-effect-on-mzi",
         lambda t: config_argv(t, "[device]\nkind = \"mzi\"\n[device.conductance_levels]\nbits = 4\n"),
         "device.conductance_levels", "mzi", "phase_dac"),
    case("toml-mzi-effect-on-crossbar",
         lambda t: config_argv(t, "[device]\nkind = \"crossbar\"\n[device.phase_bias]\nhalf_width = 1\n"),
         "device.phase_bias", "crossbar", "conductance_levels"),
    case("toml-mzi-field-on-crossbar", lambda t: config_argv(
        t, "[device]\npreset = \"crossbar-default\"\nblock = 8\n"),
         "unknown key device.block", "tile_rows"),
    case("toml-effect-as-value", lambda t: config_argv(t, "[device]\nphase_noise = 0.01\n"),
         "device.phase_noise", "[device.phase_noise]"),
    # wrong types, one or more per section
    case("toml-run-epochs-string", lambda t: config_argv(t, "[run]\nepochs = \"3\"\n"),
         "run.epochs = '3'", "[1, 100000]"),
    case("toml-run-seed-float", lambda t: config_argv(t, "[run]\nseed = 1.5\n"),
         "run.seed = 1.5", "[0, 9223372036854775807]"),
    case("toml-run-batch-bool", lambda t: config_argv(t, "[run]\nbatch_size = true\n"),
         "run.batch_size = True", "[1, 1000000]"),
    case("toml-run-references-string", lambda t: config_argv(t, "[run]\nreferences = \"no\"\n"),
         "run.references = 'no'", "true or false"),
    case("toml-run-out-int", lambda t: config_argv(t, "[run]\nout = 5\n")[:3],
         "run.out = 5", "a file path"),
    case("toml-run-threads-list", lambda t: config_argv(t, "[run]\nthreads = [1]\n"),
         "run.threads", "[1, 256]"),
    case("toml-run-checkpoint-date", lambda t: config_argv(t, "[run]\ncheckpoint = 2024-01-01\n"),
         "run.checkpoint = datetime.date(2024, 1, 1)", "true or false"),
    case("toml-model-hidden-string", lambda t: config_argv(t, "[model]\nhidden = \"32,32\"\n"),
         "model.hidden = '32,32'", "non-empty list"),
    case("toml-model-hidden-floats", lambda t: config_argv(t, "[model]\nhidden = [8.0]\n"),
         "model.hidden = [8.0]", "integers in [1, 100000]"),
    case("toml-algorithm-name-int", lambda t: config_argv(t, "[algorithm]\nname = 1\n"),
         "algorithm.name = 1", "mfdd, mf-ad, bp"),
    case("toml-algorithm-directions-float", lambda t: config_argv(t, "[algorithm]\nnum_directions = 2.0\n"),
         "algorithm.num_directions = 2.0", "[1, 100000]"),
    case("toml-algorithm-epsilon-string", lambda t: config_argv(t, "[algorithm]\nepsilon = \"small\"\n"),
         "algorithm.epsilon = 'small'", "[1e-06, 1]"),
    case("toml-algorithm-clip-string", lambda t: config_argv(t, "[algorithm]\nclip = \"none\"\n"),
         "algorithm.clip = 'none'", "omit for none"),
    case("toml-device-kind-int", lambda t: config_argv(t, "[device]\nkind = 1\n"),
         "device.kind = 1", "mzi, crossbar"),
    case("toml-device-preset-list", lambda t: config_argv(t, "[device]\npreset = [\"mzi-default\"]\n"),
         "device.preset = ['mzi-default']", "mzi-default"),
    case("toml-device-block-string", lambda t: config_argv(t, "[device]\nblock = \"8\"\n"),
         "device.block", "'8'", "[2, 256]"),
    case("toml-effect-bits-float", lambda t: config_argv(t, "[device.phase_dac]\nbits = 7.5\n"),
         "device.phase_dac.bits", "7.5", "[1, 32]"),
    case("toml-effect-enabled-string", lambda t: config_argv(t, "[device.phase_dac]\nenabled = \"yes\"\n"),
         "device.phase_dac.enabled = 'yes'", "true or false"),
    case("toml-cost-level-int", lambda t: config_argv(t, "[cost]\nlevel = 2\n"),
         "cost.level = 2", "low, nominal, high"),
    case("toml-cost-gpus-string", lambda t: config_argv(t, "[cost]\ngpus = \"H100 SXM5\"\n"),
         "cost.gpus = 'H100 SXM5'", "a list"),
    case("toml-cost-spec-file-int", lambda t: config_argv(t, "[cost]\nspec_file = 3\n"),
         "cost.spec_file = 3", "a TOML file path"),
    case("toml-cost-spec-field-string", lambda t: config_argv(t, "[cost.crossbar]\nt_read_ns = \"fast\"\n"),
         "cost.crossbar.t_read_ns", "'fast'", "> 0"),
    case("toml-data-dataset-int", lambda t: config_argv(t, "[data]\ndataset = 5\n"),
         "data.dataset = 5", "digits"),
    case("toml-data-standardize-string", lambda t: config_argv(t, "[data]\nstandardize = \"no\"\n"),
         "data.standardize = 'no'", "true or false"),
    case("toml-data-dir-list", lambda t: config_argv(t, "[data]\ndata_dir = []\n"),
         "data.data_dir", "a directory path"),
    # a value where a table is expected and vice versa
    case("toml-section-is-value", lambda t: config_argv(t, "run = 5\n")[:3],
         "run = 5 is a value", "a table [run]"),
    case("toml-section-is-value-with-out", lambda t: config_argv(t, "run = 5\n"),
         "run is a value", "run.out"),
    case("toml-device-is-value", lambda t: config_argv(t, "device = \"mzi\"\n"),
         "device = 'mzi' is a value", "a table [device]"),
    case("toml-cost-mzi-is-value", lambda t: config_argv(t, "[cost]\nmzi = 1\n"),
         "cost.mzi = 1", "a table of spec fields"),
    case("toml-key-is-table", lambda t: config_argv(t, "[run.epochs]\nn = 3\n"),
         "run.epochs is a table", "a value"),
    case("toml-effect-field-is-table", lambda t: config_argv(t, "[device.phase_noise.sigma_rad]\nrad = 1\n"),
         "device.phase_noise.sigma_rad is a table", "a value"),
    case("toml-cost-level-is-table", lambda t: config_argv(t, "[cost.level]\nname = \"low\"\n"),
         "cost.level = {", "low, nominal, high"),
    case("toml-array-of-tables", lambda t: config_argv(t, "[[run]]\nepochs = 1\n")[:3],
         "run = [{'epochs': 1}] is a value", "a table [run]"),
    case("toml-hidden-nested-list", lambda t: config_argv(t, "[model]\nhidden = [[8]]\n"),
         "model.hidden = [[8]]", "layer widths"),
    case("toml-preset-kind-mismatch", lambda t: config_argv(
        t, "[device]\nkind = \"crossbar\"\npreset = \"mzi-default\"\n"),
         "device.preset = 'mzi-default'", "device.kind = 'crossbar'", "presets starting with "
         "'crossbar-'"),
    case("toml-disabled-effect-with-values", lambda t: config_argv(
        t, "[device.output_adc]\nenabled = false\nbits = 4\n"),
         "device.output_adc is disabled but sets bits", "enabled = false alone"),
    case("toml-dotted-string-key", lambda t: config_argv(t, "\"run.epochs\" = 3\n"),
         "'run.epochs'", "top-level tables"),
    # NaN, inf, huge and negative values
    case("toml-lr-nan", lambda t: config_argv(t, "[algorithm]\nlr = nan\n"),
         "algorithm.lr = nan", "(0, 100]"),
    case("toml-epsilon-inf", lambda t: config_argv(t, "[algorithm]\nepsilon = inf\n"),
         "algorithm.epsilon = inf", "[1e-06, 1]"),
    case("toml-clip-minus-inf", lambda t: config_argv(t, "[algorithm]\nclip = -inf\n"),
         "algorithm.clip = -inf", "global-norm clip"),
    case("toml-epochs-nan", lambda t: config_argv(t, "[run]\nepochs = nan\n"),
         "run.epochs = nan", "[1, 100000]"),
    case("toml-sigma-nan", lambda t: config_argv(t, "[device.detector_noise]\nsigma_norm = nan\n"),
         "device.detector_noise.sigma_norm", "nan", "finite"),
    case("toml-spec-inf", lambda t: config_argv(t, "[cost.mzi]\nf_mod_ghz = inf\n"),
         "cost.mzi.f_mod_ghz", "inf", "finite"),
    case("toml-seed-huge", lambda t: config_argv(t, f"[run]\nseed = {HUGE}\n"),
         f"run.seed = {HUGE}", "[0, 9223372036854775807]"),
    case("toml-epochs-huge", lambda t: config_argv(t, f"[run]\nepochs = {HUGE}\n"),
         f"run.epochs = {HUGE}", "[1, 100000]"),
    case("toml-hidden-huge", lambda t: config_argv(t, f"[model]\nhidden = [8, {HUGE}]\n"),
         f"model.hidden = [8, {HUGE}]", "[1, 100000]"),
    case("toml-directions-huge", lambda t: config_argv(t, f"[algorithm]\nnum_directions = {HUGE}\n"),
         f"algorithm.num_directions = {HUGE}", "[1, 100000]"),
    case("toml-bits-huge", lambda t: config_argv(t, f"[device.input_dac]\nbits = {HUGE}\n"),
         "device.input_dac.bits", str(HUGE), "[1, 32]"),
    case("toml-tile-rows-huge", lambda t: config_argv(
        t, f"[device]\nkind = \"crossbar\"\ntile_rows = {HUGE}\n"),
         "device.tile_rows", str(HUGE), "[1, 8192]"),
    case("toml-batch-negative", lambda t: config_argv(t, "[run]\nbatch_size = -1\n"),
         "run.batch_size = -1", "[1, 1000000]"),
    case("toml-directions-negative", lambda t: config_argv(t, "[algorithm]\nnum_directions = -5\n"),
         "algorithm.num_directions = -5", "[1, 100000]"),
    case("toml-g-min-negative", lambda t: config_argv(
        t, "[device]\nkind = \"crossbar\"\ng_min_us = -1.0\n"),
         "device.g_min_us", "-1.0", ">= 0"),
    case("toml-baseline-lr-retired", lambda t: config_argv(t, "[algorithm]\nbaseline_lr = 0.01\n"),
         "algorithm.baseline_lr = 0.01 is retired", "raw knob units",
         "algorithm.settings.knob_lr_range_units"),
    # file content and encoding
    case("toml-empty-file", lambda t: config_argv(t, ""), "bad.toml", "is empty", "allowed"),
    case("toml-comments-only", lambda t: config_argv(t, "# nothing here\n\n# [run]\n"), "bad.toml",
         "is empty", "allowed"),
    case("toml-whitespace-only", lambda t: config_argv(t, "  \n\t\n"), "bad.toml", "is empty"),
    case("toml-binary", lambda t: config_argv(t, bytes(range(256)) * 4), "bad.toml",
         "binary", "UTF-8 TOML"),
    case("toml-nul-byte", lambda t: config_argv(t, b"[run]\nepochs = 1\x00\n"), "bad.toml",
         "binary", "UTF-8 TOML"),
    case("toml-utf16-bom", lambda t: config_argv(t, "[run]\nepochs = 1\n".encode("utf-16")),
         "bad.toml", "UTF-16", "UTF-8"),
    case("toml-utf16-be-bom", lambda t: config_argv(t, b"\xfe\xff" + "[run]\n".encode("utf-16-be")),
         "bad.toml", "UTF-16", "UTF-8"),
    case("toml-utf8-bom-invalid", lambda t: config_argv(t, b"\xef\xbb\xbf[run\nepochs = 1\n"),
         "bad.toml", "not valid TOML"),
    case("toml-utf8-bom-unknown-key", lambda t: config_argv(t, b"\xef\xbb\xbf[run]\nepoc = 1\n"),
         "unknown key run.epoc", "epochs"),
    case("toml-latin1", lambda t: config_argv(t, "[run]\nout = \"r\xe9sultat.h5\"\n".encode("latin-1")),
         "bad.toml", "not UTF-8", "UTF-8"),
    case("toml-syntax-unclosed-table", lambda t: config_argv(t, "[run\nepochs = 1\n"), "bad.toml",
         "not valid TOML"),
    case("toml-syntax-duplicate-key", lambda t: config_argv(t, "[run]\nepochs = 1\nepochs = 2\n"),
         "bad.toml", "not valid TOML"),
    case("toml-syntax-duplicate-table", lambda t: config_argv(t, "[run]\n[run]\n"), "bad.toml",
         "not valid TOML"),
    case("toml-syntax-bare-value", lambda t: config_argv(t, "[run]\nepochs = three\n"), "bad.toml",
         "not valid TOML"),
    case("toml-syntax-json", lambda t: config_argv(t, "{\"run\": {\"epochs\": 1}}\n"), "bad.toml",
         "not valid TOML"),
    case("config-is-directory", lambda t: ["run", "--config", (t / "cfgdir").mkdir() or t / "cfgdir",
                                           "--out", t / "run.h5"],
         "cfgdir", "not a regular file"),
    case("config-missing", lambda t: ["run", "--config", t / "missing.toml", "--out", t / "run.h5"],
         "missing.toml", "does not exist"),
    case("config-empty-path", lambda t: ["run", "--config", "", "--out", t / "run.h5"],
         "--config ''", "allowed"),
    case("config-dev-null", lambda t: ["run", "--config", "/dev/null", "--out", t / "run.h5"],
         "/dev/null", "not a regular file"),
    case("config-h5-not-forwardlab", lambda t: ["run", "--config", h5_not_forwardlab(t),
                                                "--out", t / "run.h5"],
         "other.h5", "not a forwardlab results file", "allowed"),
    case("config-h5-garbage", lambda t: ["run", "--config", write(t, "junk.h5", b"junk"),
                                         "--out", t / "run.h5"],
         "junk.h5", "not a forwardlab results file", "allowed"),
    case("config-h5-missing", lambda t: ["run", "--config", t / "gone.h5", "--out", t / "run.h5"],
         "gone.h5", "allowed"),
    case("config-results-without-config", lambda t: ["run", "--config", results_file(t),
                                                     "--out", t / "run.h5"],
         "old.h5", "stores no resolved config", "allowed"),
    case("config-results-with-bad-config", lambda t: ["run", "--config", results_file(
        t, config_toml="[run]\nepochs = 0\n"), "--out", t / "run.h5"],
         "run.epochs = 0", "[1, 100000]"),
    case("config-schema-attr-only", lambda t: [
        "run", "--config", _schema_only(t), "--out", t / "run.h5"],
         "schema.h5", "allowed"),
    case("toml-with-h5-suffix-is-text", lambda t: ["run", "--config", write(t, "cfg.h5", TINY),
                                                   "--out", t / "run.h5"],
         "cfg.h5", "not a forwardlab results file"),
    case("spec-file-unknown-table", lambda t: config_argv(
        t, _spec(t, "[photonic]\nlaser_wpe = 0.3\n")),
         "spec.toml", "unknown table [photonic]", "[mzi], [crossbar]"),
    case("spec-file-table-is-value", lambda t: config_argv(
        t, _spec(t, "mzi = 1\n")),
         "spec.toml", "mzi must be a table"),
    case("spec-file-binary", lambda t: config_argv(
        t, _spec(t, b"\x00\x01")),
         "cost spec file", "binary"),
]


def _schema_only(t: Path) -> Path:
    p = t / "schema.h5"
    with h5py.File(p, "w") as f:
        f.attrs["forwardlab_schema"] = 2
    return p


def _truncated_results(t: Path) -> Path:
    p = results_file(t, "cut.h5")
    blob = p.read_bytes()
    p.write_bytes(blob[: len(blob) // 2])
    return p


def _overflowing_idx() -> bytes:
    """Image IDX whose dimensions multiply to 2**64 + 166832: int64 wraps to 166832 bytes."""
    u = 46340
    dims = (2 ** 31 - u, 2 ** 31 + u + 1, 4)
    n = dims[0] * dims[1] * dims[2] - 2 ** 64
    return (0x803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims) + bytes(n)


def _gz_truncated() -> bytes:
    blob = gzip.compress(idx_bytes(np.zeros((6, 28, 28), np.uint8)))
    return blob[: len(blob) // 2]


DATA = [
    case("data-dir-missing", lambda t: fm_argv(t, t / "nodata"), "nodata", "does not exist",
         "allowed: a directory"),
    case("data-dir-is-file", lambda t: fm_argv(t, write(t, "afile", "x")), "afile",
         "allowed: a directory", absent=("does not exist",)),
    case("data-dir-empty-download-fails", lambda t: fm_argv(t, (t / "e").mkdir() or t / "e"),
         "fashion-mnist", "holds no complete set of IDX files", "allowed: a directory with"),
    case("data-dir-empty-mnist", lambda t: run_argv(t, "--dataset", "mnist", "--data-dir",
                                                    (t / "e").mkdir() or t / "e"),
         "mnist", "holds no complete set of IDX files"),
    case("data-env-missing-dir", lambda t: run_argv(t, "--dataset", "fashion-mnist"),
         "fashion-mnist", "cannot download", env={"FORWARDLAB_DATA": "{t}/envdata"}),
    case("data-incomplete-set", lambda t: fm_argv(t, idx_dir(t, t10k_labels_idx1_ubyte=None)),
         "incomplete set", "t10k-labels-idx1-ubyte"),
    case("data-idx-name-is-directory", lambda t: fm_argv(t, _dir_named_like_idx(t)),
         "incomplete set", "train-images-idx3-ubyte"),
    case("data-truncated-images", lambda t: fm_argv(t, idx_dir(
        t, train_images_idx3_ubyte=idx_bytes(np.zeros((6, 28, 28)))[:-100])),
         "train-images-idx3-ubyte", "truncated", "need 4704"),
    case("data-trailing-bytes", lambda t: fm_argv(t, idx_dir(
        t, t10k_labels_idx1_ubyte=idx_bytes(np.zeros(4)) + b"\x00\x00")),
         "t10k-labels-idx1-ubyte", "trailing bytes"),
    case("data-zero-byte-file", lambda t: fm_argv(t, idx_dir(t, train_labels_idx1_ubyte=b"")),
         "train-labels-idx1-ubyte", "truncated header (0 bytes)"),
    case("data-header-truncated", lambda t: fm_argv(t, idx_dir(
        t, train_images_idx3_ubyte=b"\x00\x00\x08\x03\x00\x00")),
         "train-images-idx3-ubyte", "truncated header", "of 16 bytes"),
    case("data-wrong-magic", lambda t: fm_argv(t, idx_dir(
        t, train_images_idx3_ubyte=b"\x00\x00\x09\x99" + bytes(12))),
         "train-images-idx3-ubyte", "bad magic number 0x00000999", "expected 0x00000803"),
    case("data-wrong-dimension-count", lambda t: fm_argv(t, idx_dir(
        t, train_images_idx3_ubyte=idx_bytes(np.zeros((6, 784))))),
         "train-images-idx3-ubyte", "0x00000802", "expected 0x00000803"),
    case("data-labels-as-images", lambda t: fm_argv(t, idx_dir(
        t, t10k_labels_idx1_ubyte=idx_bytes(np.zeros((4, 28, 28))))),
         "t10k-labels-idx1-ubyte", "expected 0x00000801"),
    case("data-zero-images", lambda t: fm_argv(t, idx_dir(
        t, train_images_idx3_ubyte=idx_bytes(np.zeros((0, 28, 28))))),
         "train-images-idx3-ubyte", "empty data"),
    case("data-count-mismatch-train", lambda t: fm_argv(t, idx_dir(
        t, train_labels_idx1_ubyte=idx_bytes(np.zeros(5)))),
         "6 images", "5 labels"),
    case("data-count-mismatch-test", lambda t: fm_argv(t, idx_dir(
        t, t10k_images_idx3_ubyte=idx_bytes(np.zeros((3, 28, 28))))),
         "3 images", "4 labels"),
    case("data-train-test-shape-mismatch", lambda t: fm_argv(t, idx_dir(
        t, t10k_images_idx3_ubyte=idx_bytes(np.zeros((4, 27, 27))))),
         "image shape (28, 28)", "(27, 27)"),
    case("data-label-out-of-range", lambda t: fm_argv(t, idx_dir(
        t, train_labels_idx1_ubyte=idx_bytes(np.full(6, 12)))),
         "train-labels-idx1-ubyte", "label 12 >= 10"),
    case("data-header-dims-overflow", lambda t: fm_argv(t, idx_dir(
        t, train_images_idx3_ubyte=_overflowing_idx())),
         "train-images-idx3-ubyte", "allowed"),
    case("data-header-dims-wrap-to-zero", lambda t: fm_argv(t, idx_dir(
        t, train_images_idx3_ubyte=(0x803).to_bytes(4, "big") + b"".join(
            d.to_bytes(4, "big") for d in (2 ** 31, 2 ** 31, 4)))),
         "train-images-idx3-ubyte", "truncated", absent=("empty data",)),
    case("data-dir-nul", lambda t: fm_argv(t, f"{t}/a\x00b"), "data.data_dir", "a directory path"),
    case("data-gz-truncated", lambda t: fm_argv(t, idx_dir(
        t, train_images_idx3_ubyte_gz=_gz_truncated())),
         "train-images-idx3-ubyte.gz", "cannot read/decompress"),
    case("data-gz-garbage", lambda t: fm_argv(t, idx_dir(
        t, t10k_labels_idx1_ubyte_gz=b"\x1f\x8b" + b"garbage" * 10)),
         "t10k-labels-idx1-ubyte.gz", "cannot read/decompress"),
    case("data-gz-wrong-magic-inside", lambda t: fm_argv(t, idx_dir(
        t, train_labels_idx1_ubyte_gz=gzip.compress(b"\x00\x00\x08\x03" + bytes(8)))),
         "train-labels-idx1-ubyte.gz", "bad magic number"),
]


def _dir_named_like_idx(t: Path) -> Path:
    d = idx_dir(t, train_images_idx3_ubyte=None)
    (d / STEMS[0]).mkdir()
    return d


def _symlink(t: Path, name: str, target) -> Path:
    p = t / name
    os.symlink(target, p)
    return p


def _out(t: Path, out, *more) -> list:
    return ["run", "--config", tiny(t), "--out", out, "--quiet", *more]


OUTPUTS = [
    case("out-directory", lambda t: _out(t, t), "is a directory", "a file path inside it"),
    case("out-dev-null", lambda t: _out(t, "/dev/null"), "'/dev/null'", "device, FIFO or socket",
         "regular file path"),
    case("out-under-regular-file", lambda t: _out(t, write(t, "plain.txt", "x") / "run.h5"),
         "plain.txt", "which is a file", "a path in a directory"),
    case("out-missing-parent", lambda t: _out(t, t / "nodir" / "run.h5"), "nodir",
         "does not exist", "an existing directory"),
    case("out-missing-grandparent", lambda t: _out(t, t / "a" / "b" / "run.h5"), "does not exist",
         "an existing directory"),
    case("out-under-proc", lambda t: _out(t, "/proc/forwardlab-run.h5"), "/proc",
         "not writable", "a writable directory"),
    case("out-existing-proc-file", lambda t: _out(t, "/proc/version"), "/proc/version",
         "not a forwardlab results file", "a new path"),
    case("out-under-sys", lambda t: _out(t, "/sys/forwardlab-run.h5"), "/sys", "not writable"),
    case("out-existing-text-file", lambda t: _out(t, write(t, "notes.txt", "keep me")),
         "notes.txt", "not a forwardlab results file", "a new path"),
    case("out-existing-text-file-overwrite",
         lambda t: _out(t, write(t, "notes.txt", "keep me"), "--overwrite"),
         "notes.txt", "never overwritten", "a new path"),
    case("out-existing-non-forwardlab-h5", lambda t: _out(t, h5_not_forwardlab(t), "--overwrite"),
         "other.h5", "not a forwardlab results file"),
    case("out-existing-results", lambda t: _out(t, results_file(t)), "old.h5",
         "already holds forwardlab results", "--overwrite"),
    case("out-existing-results-resume-ok-status", lambda t: _out(t, results_file(t), "--resume"),
         "old.h5", "already holds forwardlab results"),
    case("out-symlink-loop", lambda t: _out(t, _symlink(t, "loop.h5", t / "loop.h5")),
         "loop.h5", "symlink loop", "a regular file path"),
    case("out-symlink-loop-two", lambda t: (_symlink(t, "a.h5", t / "b.h5"),
                                            _out(t, _symlink(t, "b.h5", t / "a.h5")))[1],
         "b.h5", "symlink loop"),
    case("out-symlink-to-directory", lambda t: _out(t, _symlink(t, "d.h5", t)), "d.h5",
         "is a directory"),
    case("out-symlink-to-dev-null", lambda t: _out(t, _symlink(t, "null.h5", "/dev/null")),
         "null.h5", "device, FIFO or socket"),
    case("out-dangling-symlink-missing-dir", lambda t: _out(t, _symlink(t, "dang.h5",
                                                                      t / "nodir" / "x.h5")),
         "dang.h5", "does not exist"),
    case("out-fifo", lambda t: (os.mkfifo(t / "pipe.h5"), _out(t, t / "pipe.h5"))[1], "pipe.h5",
         "device, FIFO or socket"),
    case("out-parent-symlink-loop", lambda t: _out(t, _symlink(t, "ldir", t / "ldir") / "run.h5"),
         "ldir", "allowed"),
    case("out-trailing-slash-missing-dir", lambda t: _out(t, f"{t}/newdir/"), "newdir/",
         "allowed"),
    case("out-empty", lambda t: _out(t, ""), "--out ''", "allowed: a results file path"),
    case("out-blank", lambda t: _out(t, "   "), "--out ''", "allowed: a results file path"),
    case("out-nul", lambda t: _out(t, f"{t}/a\x00b.h5"), "run.out", "allowed: a file path"),
    case("out-name-too-long", lambda t: _out(t, t / ("x" * 300 + ".h5")), "xxxx", "allowed"),
    case("resume-without-checkpoint", lambda t: _out(t, t / "run.h5", "--resume"),
         "--resume", "no checkpoint", "run.h5.ckpt"),
    case("resume-default-out-without-checkpoint",
         lambda t: ["run", "--config", tiny(t), "--quiet", "--resume"], "--resume", "no checkpoint"),
    case("resume-garbage-checkpoint",
         lambda t: (write(t, "run.h5.ckpt", b"not a pickle"), _out(t, t / "run.h5", "--resume"))[1],
         "--resume", "run.h5.ckpt", "cannot be read", "a checkpoint written by forwardlab"),
]



# ------------------------------------------------------------------ checked before work starts
# Inputs that pass the config's own validation and used to fail only once the model was built,
# the data split or the run priced: the network against the data shape, data sets too small to
# split or standardise, cost values outside physical bounds, corrupt or edited results files,
# one setting given under two names. END_TO_END runs a subset with training not stubbed.

def _arch(t: Path, blocks: list, *more) -> list:
    import json
    return run_argv(t, "--set", f"model.architecture={json.dumps(blocks)}", *more)


ARCH_BAD = [
    # (name, blocks, failing index)
    ("kernel-9-on-8x8", ["conv2d:4:9", "relu", "flatten", "dense:16"], 0),
    ("kernel-10-on-8x8", ["conv2d:4:10", "flatten", "dense:16"], 0),
    ("kernel-12-stride-2", ["conv2d:4:12:2:0", "flatten", "dense:16"], 0),
    ("kernel-16-on-8x8", ["conv2d:2:16", "flatten", "dense:16"], 0),
    ("kernel-64-on-8x8", ["conv2d:2:64", "flatten", "dense:16"], 0),
    ("second-kernel-7-on-6x6", ["conv2d:4:3", "relu", "conv2d:4:7", "flatten", "dense:8"], 2),
    ("second-kernel-8-on-6x6", ["conv2d:4:3", "conv2d:4:8", "flatten", "dense:8"], 1),
    ("maxpool-7-on-6x6", ["conv2d:4:3", "relu", "maxpool:7", "flatten", "dense:16"], 2),
    ("maxpool-8-on-6x6", ["conv2d:4:3", "maxpool:8", "flatten", "dense:16"], 1),
    ("maxpool-9-on-6x6", ["conv2d:4:3", "relu", "maxpool:9", "flatten", "dense:16"], 2),
    ("maxpool-16-on-6x6", ["conv2d:4:3", "relu", "maxpool:16", "flatten", "dense:16"], 2),
    ("avgpool-7-on-6x6", ["conv2d:4:3", "relu", "avgpool:7", "flatten", "dense:16"], 2),
    ("avgpool-8-on-6x6", ["conv2d:4:3", "avgpool:8", "flatten", "dense:16"], 1),
    ("avgpool-9-on-6x6", ["conv2d:4:3", "relu", "avgpool:9", "flatten", "dense:16"], 2),
    ("avgpool-16-on-6x6", ["conv2d:4:3", "relu", "avgpool:16", "flatten", "dense:16"], 2),
    ("maxpool-on-flat", ["dense:16", "maxpool:2"], 1),
    ("avgpool-on-flat", ["dense:16", "relu", "avgpool:2"], 2),
    ("conv-after-flatten", ["conv2d:4:3", "flatten", "conv2d:4:3"], 2),
    ("conv-after-dense", ["dense:16", "conv2d:4:3", "flatten", "dense:8"], 1),
    ("conv-after-dense-relu", ["dense:16", "relu", "conv2d:4:3"], 2),
    ("dense-without-flatten", ["conv2d:4:3", "dense:16"], 1),
    ("dense-without-flatten-relu", ["conv2d:4:3", "relu", "dense:16"], 2),
    ("dense-without-flatten-pool", ["conv2d:4:3", "maxpool:2", "dense:16"], 2),
    ("pool-twice-below-window", ["conv2d:4:3", "maxpool:3", "maxpool:3", "flatten", "dense:8"], 2),
    ("pool-to-one-then-two", ["conv2d:4:5", "maxpool:4", "maxpool:2", "flatten", "dense:8"], 2),
]
ARCH_FIRST = ["relu", "bias", "flatten", "maxpool:2", "avgpool:2"]

ARCH = [case(f"arch-{name}", (lambda b: lambda t: _arch(t, b))(blocks),
             f"model.architecture[{i}] = {blocks[i]!r}", "allowed")
        for name, blocks, i in ARCH_BAD]
ARCH += [case(f"arch-first-block-{b.replace(':', '-')}",
              (lambda b: lambda t: _arch(t, [b, "dense:16"]))(b),
              f"model.architecture[0] = {b!r}", "allowed: a device block first")
         for b in ARCH_FIRST]
ARCH += [case(f"arch-ff-settings-{name}", (lambda b: lambda t: run_argv(
    t, "--algorithm", "ff", "--set", f"algorithm.settings.architecture={__import__('json').dumps(b)}"))(b),
              f"algorithm.settings.architecture[{i}] = {b[i]!r}", "allowed")
         for name, b, i in [("kernel-9", ["conv2d:4:9", "relu", "flatten", "dense:16"], 0),
                            ("maxpool-16", ["conv2d:4:3", "relu", "maxpool:16", "flatten", "dense:16"], 2),
                            ("dense-without-flatten", ["conv2d:4:3", "relu", "dense:16"], 2),
                            ("conv-after-flatten", ["conv2d:4:3", "flatten", "conv2d:4:3"], 2)]]


def _val(t: Path, split: str, *more) -> list:
    return run_argv(t, "--val-split", split, *more)


SPLITS = [
    case(f"val-split-{v}-holds-out-nothing", (lambda v: lambda t: _val(t, v))(v),
         f"data.val_split = {float(v)!r} holds out 0 of the 1437 training examples",
         "allowed: 0 (no validation split) or at least 0.000696")
    for v in ("1e-9", "1e-6", "1e-5", "1e-4", "0.0003")
] + [
    case("data-one-image-standardised", lambda t: fm_argv(t, idx_dir(t, n_train=1)),
         "has 1 training example(s)", "need at least 2"),
    case("data-one-image-not-standardised", lambda t: fm_argv(
        t, idx_dir(t, n_train=1)) + ["--set", "data.standardize=false"],
         "has 1 training example(s)", "need at least 2"),
    case("data-two-images-half-held-out", lambda t: fm_argv(
        t, idx_dir(t, n_train=2)) + ["--val-split", "0.5"],
         "data.val_split = 0.5 leaves 1 of 2 training examples", "need at least 2"),
    case("data-three-images-half-held-out", lambda t: fm_argv(
        t, idx_dir(t, n_train=3)) + ["--val-split", "0.5"],
         "data.val_split = 0.5 leaves 1 of 3 training examples", "need at least 2"),
    case("data-six-images-split-nothing", lambda t: fm_argv(
        t, idx_dir(t, n_train=6)) + ["--val-split", "0.01"],
         "data.val_split = 0.01 holds out 0 of the 6 training examples", "at least 0.167"),
]


def _photonic_numeric():
    import dataclasses
    from hwsim.cost.spec import crossbar_spec, photonic_spec, GPU_PRESETS
    out = []
    for part, spec in (("mzi", photonic_spec("nominal")), ("crossbar", crossbar_spec("nominal")),
                       ('gpu."H100 SXM5"', GPU_PRESETS["H100 SXM5"])):
        for f in dataclasses.fields(spec):
            v = getattr(spec, f.name)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append((part, f.name, isinstance(v, int)))
    return out


COST = []
for _part, _field, _is_int in _photonic_numeric():
    _key = f"cost.{_part}.{_field}"
    _gpus = ["--set", 'cost.gpus=["H100 SXM5"]'] if _part.startswith("gpu") else []
    COST.append(case(f"cost-{_part.split('.')[0]}-{_field}-1e300",
                     (lambda k, g: lambda t: run_argv(t, *g, "--set", f"{k}=1e300"))(_key, _gpus),
                     _field, "1e+300", "allowed"))
    if _is_int:
        COST.append(case(f"cost-{_part.split('.')[0]}-{_field}-2**70",
                         (lambda k, g: lambda t: run_argv(t, *g, "--set", f"{k}={HUGE}"))(_key, _gpus),
                         _field, "allowed"))


def _edited(t: Path, edit, name: str = "edited.h5") -> Path:
    """A results file of a finished tiny run, then edited by ``edit(h5py.File)``."""
    p = write_results(t / name, RunRecord(
        config={"run.epochs": 1, "device.preset": "mzi-default"}, history={"test_accuracy": [0.5]},
        step_summaries=[{"layer0.mvm.macs": 1.0}], config_toml=TINY, run_id="abc"))
    if edit is not None:
        with h5py.File(p, "r+") as f:
            edit(f)
    return p


def _set_attr(key, value):
    def edit(f):
        f.attrs[key] = value
    return edit


def _replace(path, data):
    def edit(f):
        del f[path]
        f[path] = data
    return edit


def _delete(path):
    def edit(f):
        del f[path]
    return edit


def _cost_text(f):
    f["cost"].create_group("x").attrs["total_energy_j"] = "lots"


RESULT_EDITS = [
    ("status-edited", _set_attr("status", "weird"), "status 'weird'"),
    ("history-strings", _replace("history/test_accuracy",
                                 np.array([b"a", b"b"], dtype=h5py.string_dtype())), "cannot be read"),
    ("history-missing", _delete("history"), "cannot be read"),
    ("trace-keys-missing", _delete("trace/keys"), "cannot be read"),
    ("trace-steps-wrong-shape", _replace("trace/steps", np.zeros((2, 5))), "/trace/steps has shape"),
    ("cost-value-text", _cost_text, "cannot be read"),
    ("references-not-a-group", _replace("references", np.zeros(3)), "cannot be read"),
]


def _results_argvs(t, p):
    return {"report": ["report", p], "report-out": ["report", p, "--out", t / "rep"],
            "price": ["price", p], "run-config": ["run", "--config", p, "--out", t / "run.h5",
                                                   "--quiet"]}


RESULTS = [case(f"results-{name}-{cmd}",
                (lambda e, c: lambda t: _results_argvs(t, _edited(t, e))[c])(edit, cmd),
                "edited.h5", fragment, "allowed")
           for name, edit, fragment in RESULT_EDITS
           for cmd in ("report", "report-out", "price", "run-config")]
RESULTS += [
    case("results-config-toml-invalid-run-config",
         lambda t: _results_argvs(t, _edited(t, _set_attr("config_toml", "[[[ not toml")))["run-config"],
         "edited.h5", "not valid TOML", "allowed"),
    case("results-truncated-price", lambda t: ["price", _truncated(t)], "cut.h5", "allowed"),
    case("results-truncated-report", lambda t: ["report", _truncated(t)], "cut.h5", "allowed"),
    case("results-truncated-run-config", lambda t: ["run", "--config", _truncated(t), "--out",
                                                    t / "run.h5", "--quiet"], "cut.h5", "allowed"),
]


def _truncated(t: Path) -> Path:
    p = _edited(t, None, "cut.h5")
    blob = p.read_bytes()
    p.write_bytes(blob[: len(blob) // 2])
    return p


CONFLICTS = [
    case(f"one-setting-two-names-{short}",
         (lambda s, a, b: lambda t: config_argv(t, f"[algorithm]\n{s} = {a}\n[algorithm.settings]\n"
                                                   f"{SHORTHAND_TARGET[s]} = {b}\n"))(short, a, b),
         f"algorithm.{short} = ", f"algorithm.settings.{SHORTHAND_TARGET[short]} = ",
         "set the same value", "allowed: one of them")
    for short, a, b in [("num_directions", 2, 4), ("epsilon", 0.01, 0.02), ("lr", 0.1, 0.2),
                        ("head_lr", 0.1, 0.2), ("clip", 1.0, 2.0), ('optimizer', '"adam"', '"sgd"'),
                        ("schedule", '"simultaneous"', '"greedy"'),
                        ("difference", '"central"', '"forward"'),
                        ("directions", '"gaussian"', '"head-span"')]
]

SWEEP_MORE = [
    case("sweep-scheduler-empty", lambda t: sweep_argv(t, SWEEP_BASE + "[sweep.grid]\n\"run.seed\" = [1]\n",
                                                       "--scheduler", ""),
         "--scheduler ''", "allowed"),
    case("sweep-points-one-run", lambda t: sweep_argv(t, SWEEP_BASE + "[sweep.grid]\n\"run.threads\" = [1, 2]\n"),
         "resolve to the same run", "allowed"),
    case("sweep-index-symlink", lambda t: (t.joinpath("sw").mkdir(), _symlink(t / "sw", "index.csv", t / "victim.txt"),
                                           sweep_argv(t, SWEEP_BASE + "[sweep.grid]\n\"run.seed\" = [1]\n"))[2],
         "index.csv is a symbolic link", "allowed"),
    case("sweep-foreign-index", lambda t: (t.joinpath("sw").mkdir(), write(t, "sw/index.csv", "mine\n"),
                                           sweep_argv(t, SWEEP_BASE + "[sweep.grid]\n\"run.seed\" = [1]\n"))[2],
         "index.csv was not written by forwardlab", "allowed"),
    case("sweep-runs-dir-symlink", lambda t: (t.joinpath("sw").mkdir(), _symlink(t / "sw", "runs", t),
                                              sweep_argv(t, SWEEP_BASE + "[sweep.grid]\n\"run.seed\" = [1]\n"))[2],
         "runs", "symbolic link", "allowed"),
]

MEMORY = [
    case(f"memory-mzi-block-{k}", (lambda k: lambda t: run_argv(t, "--set", f"device.block={k}"))(k),
         f"device.block = {k} needs about", "GiB", "allowed here: device.block at most")
    for k in (256,)
]

CHECKED_BEFORE_WORK = ARCH + SPLITS + COST + RESULTS + CONFLICTS + SWEEP_MORE + MEMORY

#: Run end to end, training not stubbed: failures after the model is built would show here.
END_TO_END_IDS = (
    [f"arch-{n}" for n in ("kernel-9-on-8x8", "second-kernel-7-on-6x6", "maxpool-16-on-6x6",
                           "avgpool-on-flat", "conv-after-flatten", "dense-without-flatten",
                           "pool-to-one-then-two")]
    + ["arch-first-block-relu", "arch-ff-settings-maxpool-16", "arch-ff-settings-kernel-9"]
    + ["val-split-1e-9-holds-out-nothing", "val-split-0.0003-holds-out-nothing",
       "data-one-image-standardised", "data-one-image-not-standardised",
       "data-two-images-half-held-out", "data-six-images-split-nothing"]
    + ["cost-mzi-e_adc_pj-1e300", "cost-mzi-t_settle_ns-1e300", "cost-crossbar-t_read_ns-1e300",
       "cost-crossbar-adc_ref_bits-2**70", "cost-gpu-tdp_w-1e300", "cost-mzi-p_host_static_w-1e300"]
    + ["results-status-edited-report-out", "results-trace-steps-wrong-shape-price",
       "results-history-strings-run-config", "results-config-toml-invalid-run-config",
       "results-truncated-price"]
    + ["one-setting-two-names-num_directions", "one-setting-two-names-lr",
       "sweep-points-one-run", "memory-mzi-block-256"])

CASES = (CLI_FLAGS + SET + CONFIG_SHOW_AND_OTHERS + SWEEPS + TOML_FILES + DATA + OUTPUTS
         + CHECKED_BEFORE_WORK)


def listing(root: Path, skip: Path) -> set[str]:
    """Every path under ``root`` (files, links and directories), except the data cache's
    directories (a failed download may create an empty cache directory)."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            if p.is_dir() and not p.is_symlink() and (p == skip or skip in p.parents):
                continue
            found.add(str(p.relative_to(root)))
    return found


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No system data, no network, no cache outside tmp_path, no training, cwd = tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FORWARDLAB_DATA", raising=False)
    cache = tmp_path / ".cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path.parent / "mplconfig"))   # not in the listing
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    monkeypatch.setenv("NUMBA_NUM_THREADS", os.environ.get("NUMBA_NUM_THREADS", "1"))
    monkeypatch.setattr(data, "SYSTEM_DIRS", {"fashion-mnist": [], "mnist": []})
    monkeypatch.setattr(data.urllib.request, "urlopen", _no_network)
    monkeypatch.setattr(runner, "train", _no_training)
    # memory cases are judged against a 16 GiB machine, whatever this one has
    monkeypatch.setattr(runner, "_available_bytes", lambda: 16 * 2 ** 30)
    monkeypatch.setattr(sweep._Pool, "run", _no_sweep_runs)
    monkeypatch.setattr(sweep, "_dask_map", _no_sweep_runs)
    return tmp_path, cache


def test_idx_fixture_is_valid(tmp_path):
    """Unmodified, the IDX directory loads: each data case's error comes from its one defect."""
    ds = data.load_dataset("fashion-mnist", idx_dir(tmp_path), download=False)
    assert ds.x_train.shape == (6, 784) and ds.x_test.shape == (4, 784)
    gz = tmp_path / "gz"
    gz.mkdir()
    for f in (tmp_path / "fm").iterdir():
        (gz / f"{f.name}.gz").write_bytes(gzip.compress(f.read_bytes()))
    assert data.load_dataset("fashion-mnist", gz, download=False).y_test.shape == (4,)


def test_table_is_large_enough():
    assert len(CASES) >= 130 + 150
    assert len(CHECKED_BEFORE_WORK) >= 150
    assert len({p.id for p in CASES}) == len(CASES)
    assert len(END_TO_END_IDS) >= 30 and set(END_TO_END_IDS) <= {p.id for p in CASES}


def _check_one(t, cache, capsys, monkeypatch, make, expect, absent, env):
    for k, v in env.items():
        monkeypatch.setenv(k, v.replace("{t}", str(t)))
    argv = make(t)
    before = listing(t, cache)
    capsys.readouterr()
    code = cli(argv)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert "Traceback" not in captured.err, captured.err
    assert code == 2, (code, captured.err)
    assert len(lines) == 1, captured.err
    line = lines[0]
    assert line.startswith("forwardlab: error:"), line
    for text in expect:
        assert text.replace("{t}", str(t)) in line, (text, line)
    for text in absent:
        assert text not in line, (text, line)
    assert captured.out == "", captured.out
    assert listing(t, cache) == before, sorted(listing(t, cache) ^ before)


@pytest.mark.parametrize("make, expect, absent, env", CASES)
def test_bad_input(isolated, capsys, monkeypatch, make, expect, absent, env):
    t, cache = isolated
    _check_one(t, cache, capsys, monkeypatch, make, expect, absent, env)


@pytest.mark.parametrize("make, expect, absent, env",
                         [p for p in CASES if p.id in END_TO_END_IDS])
def test_bad_input_end_to_end(isolated, capsys, monkeypatch, make, expect, absent, env):
    """The same cases with training and sweep runs real (tiny sizes): a failure after the model
    is built, the data split or the run priced would show here as a traceback or a file."""
    from algorithms.training import fit
    monkeypatch.setattr(runner, "train", fit)
    t, cache = isolated
    monkeypatch.setattr(sweep._Pool, "run", _REAL_POOL_RUN)
    monkeypatch.setattr(sweep, "_dask_map", _REAL_DASK_MAP)
    _check_one(t, cache, capsys, monkeypatch, make, expect, absent, env)


_REAL_POOL_RUN = sweep._Pool.run
_REAL_DASK_MAP = sweep._dask_map


def test_crosstalk_layout_memory_names_the_largest_block_that_fits():
    from experiments.config import ConfigError, resolve
    from experiments.preflight import check_device_memory
    from hwsim.photonic.kind import crosstalk_layout_bytes
    # k = 256: two (32640, 32640) int64 tables are 8.5 GB each (the allocation that failed)
    assert 2 * 8 * (256 * 255 // 2) ** 2 == 2 * 8522956800
    with pytest.raises(ConfigError, match=r"device.block = 256 needs about 32.9 GiB.*at most 1\d\d"):
        check_device_memory(resolve({"device": {"block": 256}}).device, 8 * 2 ** 30)
    check_device_memory(resolve({"device": {"block": 64}}).device, 8 * 2 ** 30)       # fits
    check_device_memory(resolve({"device": {"block": 256, "thermal_crosstalk": {"enabled": False}}}
                                ).device, 8 * 2 ** 30)
    assert crosstalk_layout_bytes(64) < 2 ** 30

"""Run one experiment: data → devices → training → references → cost → results file.

``prepare(cfg)`` checks everything that can be checked before training (output path, memory
of the batched evaluation) and returns where results go; ``run(cfg, out)`` trains,
checkpointing at every epoch boundary (``<out>.ckpt``), and writes the results file. With
``resume=True`` it continues from the checkpoint and ends with results identical to an
uninterrupted run. ``stop()`` is polled after every step: when it turns true the run writes its
partial results with status "interrupted" and raises :class:`~algorithms.training.Interrupted`.

Every stage — the configured algorithm and, for device runs, the MF-AD and BP references on the
ideal twin of the same devices — is built by :mod:`algorithms.registry` on the same model and
initial knobs, and trained by the one loop, :func:`algorithms.training.fit`.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from algorithms.baselines.twin_model import LABEL as TWIN_LABEL
from algorithms.seeds import generator
from algorithms.training import Divergence, FitResult, Interrupted, fit as train
from hwsim.cost.analytic import CostReport
from hwsim.trace import Trace

from .build import build_devices
from .config import Config, ConfigError, config_to_toml
from .data import Dataset, load_dataset, standardize, stratified_indices
from .outputs import (OutputError, atomic_write, check_output, clean_stale_temporaries,
                      resolve_target, unique_path)
from .price import mean_summary
from .results import RunRecord, read_results, write_results

__all__ = ["run", "prepare", "mean_summary", "price_run", "ALGO_LABELS", "checkpoint_path",
           "set_threads", "estimate_eval_bytes", "DEFAULT_DIR"]

ALGO_LABELS = {"mfdd": "MF+DD", "mf-ad": f"MF-AD ({TWIN_LABEL})", "bp": f"BP ({TWIN_LABEL})"}


def algo_label(name: str, settings: dict | None = None, device_kind: str | None = None) -> str:
    """How a run's algorithm is labelled before its trainable exists (the run's header line)
    and for results files that lack the stored label (older versions): registry algorithms say
    whether they are forward-only, use the nominal or calibrated model or train on the twin;
    ``settings``, the run's ``algorithm.settings``; ``device_kind``: MZI meshes declare
    ``calibrate``, crossbars do not. A run stores the label its built trainable resolved
    (``meta.algorithm_label``), which the tables use."""
    if name in ALGO_LABELS:
        return ALGO_LABELS[name]
    from algorithms.registry import results_label, settings_for
    calibrates = None if device_kind is None else device_kind == "mzi"
    return f"{name} ({results_label(name, settings_for(name, settings or {}), calibrates)})"


def model_of(cfg: Config, input_shape) -> "ModelDescription":
    """The run's network: ``model.architecture`` when given, else the ``hidden`` MLP."""
    from algorithms.model import model_from_config
    if cfg.model.architecture:
        return model_from_config(tuple(input_shape), architecture=list(cfg.model.architecture))
    return model_from_config((math.prod(input_shape),), hidden=list(cfg.model.hidden))


#: Settings a reference stage (mf-ad, bp) takes from the run's algorithm: like-for-like.
SHARED_WITH_REFERENCES = ("schedule", "prediction", "projection_dim")


def stage_settings(cfg: Config, name: str):
    """Settings of a run stage: the configured algorithm's resolved ``algorithm.settings``; a
    reference stage gets its registry defaults with ``SHARED_WITH_REFERENCES`` from the run."""
    from algorithms import registry
    if name == cfg.algorithm.name:
        return registry.settings_for(name, cfg.algorithm.settings)
    allowed = {f.name for f in dataclasses.fields(registry.ALGORITHMS[name].settings_type)}
    shared = {k: v for k, v in cfg.algorithm.settings.items()
              if k in SHARED_WITH_REFERENCES and k in allowed}
    return registry.settings_for(name, shared)


def build_stage(cfg: Config, n_in: int, n_classes: int, trace: Trace | None,
                name: str | None = None, input_shape=None, preset: str | None = None):
    """The registry trainable of stage ``name`` (default: the configured algorithm) on the
    run's network (``model.architecture`` or the ``hidden`` MLP), its devices (``preset``: the
    same network on another device preset) and initial knobs."""
    import algorithms.baselines  # noqa: F401  (registers the twin builders)
    from algorithms import registry
    from algorithms.model import model_from_config
    name = name or cfg.algorithm.name
    settings = stage_settings(cfg, name)
    if name == "tt-zo":       # one device per TT core (algorithms.tt)
        return _build_tt(cfg, settings, n_in, n_classes, trace or Trace())
    if getattr(settings, "architecture", None):   # a CNN given in the algorithm's settings
        model = model_from_config(_square_image(n_in), architecture=list(settings.architecture))
    else:
        model = model_of(cfg, input_shape or (n_in,))
    devices, knobs = build_devices(cfg, n_in, preset=preset, shapes=model.device_shapes())
    try:
        return registry.build(name, settings, model, devices, n_classes, seed=cfg.run.seed,
                              trace=trace or Trace(), initial_knobs=knobs)
    except ValueError as e:   # e.g. a capability the device does not declare
        raise ConfigError(f"algorithm.name = {cfg.algorithm.name!r}: {e}") from None


def _square_image(n_in: int) -> tuple[int, int]:
    """(H, W) of square one-channel images of n_in pixels (digits 8×8, Fashion-MNIST 28×28)."""
    side = math.isqrt(n_in)
    if side * side != n_in:
        raise ConfigError(f"algorithm.settings.architecture needs square one-channel images; "
                          f"the data set has {n_in} features per example")
    return side, side


def _build_tt(cfg: Config, settings, n_in: int, n_classes: int, trace: Trace):
    from algorithms.tt_network import check_chain
    from algorithms.tt_zo import OutputCrossEntropy
    from .pde import build_core_devices
    shapes = registry_tt_shapes(settings, n_in)
    try:
        check_chain(shapes, n_in, n_classes, "algorithm.settings.layers")
    except ValueError as e:
        raise ConfigError(str(e)) from None
    from algorithms import registry
    return registry.build_tt(settings, build_core_devices(cfg.device.physics, shapes, cfg.run.seed),
                             OutputCrossEntropy(), seed=cfg.run.seed, trace=trace, shapes=shapes)


def _network_text(cfg: Config, n_in: int, n_classes: int) -> str:
    if cfg.model.architecture and cfg.algorithm.name != "tt-zo":
        return (f"network {' '.join(map(str, cfg.model.architecture))} with {n_classes}-class "
                "local heads")
    if cfg.algorithm.name != "tt-zo":
        return f"MLP {n_in}-{'-'.join(map(str, cfg.model.hidden))} with {n_classes}-class local heads"
    from algorithms.registry import settings_for
    shapes = registry_tt_shapes(settings_for("tt-zo", cfg.algorithm.settings), n_in)
    return "TT network " + " | ".join(s.describe() for s in shapes)


def registry_tt_shapes(settings, n_in: int | None = None):
    """The TT layers of ``settings``. The registry's default layers are the paper's 784-input
    network; on another data set (digits: 64 inputs) their first in-modes are refactored into
    as many modes from ``n_in``, so ``forwardlab run --algorithm tt-zo`` works as it stands.
    Layers given by the user are taken as they are (a mismatch is an error naming them)."""
    from algorithms.registry import ALGORITHMS, tt_shapes
    shapes = tt_shapes(settings.layers, "algorithm.settings.layers")
    default = tuple(ALGORITHMS["tt-zo"].settings_type().layers)
    if (n_in is not None and shapes and tuple(settings.layers) == default
            and math.prod(shapes[0].in_modes) != n_in):
        shapes[0] = dataclasses.replace(shapes[0],
                                        in_modes=factor_modes(n_in, len(shapes[0].in_modes)))
    return shapes


def factor_modes(n: int, k: int) -> tuple[int, ...]:
    """``n`` as ``k`` balanced integer factors (64, 4 → (4, 2, 2, 4)); their product is ``n``."""
    primes, m, p = [], n, 2
    while p * p <= m:
        while m % p == 0:
            primes.append(p)
            m //= p
        p += 1
    if m > 1:
        primes.append(m)
    bins = [1] * k
    for q in sorted(primes, reverse=True):   # largest factor into the smallest bin
        bins[bins.index(min(bins))] *= q
    bins.sort(reverse=True)
    return tuple(bins[0::2] + bins[1::2][::-1])   # large modes at both ends, as 7x4x4x7


DEFAULT_DIR = Path("results")
# The batched evaluation may use at most this share of the memory available when the run starts.
MEMORY_SHARE = 0.8


def set_threads(n: int) -> None:
    """Torch intra-op threads for this process. One by default: on small machines torch's
    spinning OpenMP threads make every parallel op cost ~8 ms as soon as another process
    competes for the CPU (a 50 ms step becomes >1 s); parallelism comes from processes."""
    import numba
    torch.set_num_threads(n)
    os.environ["OMP_NUM_THREADS"] = str(n)       # for processes this one starts
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def price_run(cfg: Config, n_in: int, rec: RunRecord, device_summaries: dict[str, dict],
              last_summary: dict | None, *, measure: bool = True) -> dict[str, CostReport]:
    """Cost per training step of every row — the device run (first in ``device_summaries``),
    cross-device rows, GPU bands of the same step and, with ``measure``, the same step timed
    with torch on this machine — with the headline metrics (energy and time to the target
    accuracy, low/nominal/high). Cross-device summaries are stored in ``rec`` so that
    ``forwardlab price`` can re-price every row from the file alone."""
    from .price import measured_rows, price_summaries, store_summary
    for label, summary in list(device_summaries.items())[1:]:
        store_summary(rec, label, summary)
    reports = price_summaries(rec.config, device_summaries, history=rec.history,
                              references=rec.references, last_summary=last_summary)
    if measure:
        reports.update(measured_rows(rec.config, n_in))
    return reports


def _one_step_summary(cfg: Config, preset: str, data: Dataset) -> dict[str, float]:
    """Trace of one training step of the run's algorithm on another device preset (same model,
    batch and settings)."""
    trace = Trace()
    model = build_stage(cfg, data.x_train.shape[1], data.n_classes, trace,
                        input_shape=data.shape, preset=preset)
    idx = torch.arange(min(cfg.run.batch_size, data.x_train.shape[0]))
    trace.begin_step()
    model.step(data.x_train[idx], data.y_train[idx])
    return trace.end_step()


# ------------------------------------------------------------------ checks before training
def _available_bytes() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:   # pragma: no cover - not Linux
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def _evaluations(cfg: Config) -> tuple[int, str | None]:
    """Settings one estimate evaluates in ONE batched device call (the device queries of a
    step per block, less the clean readout), and the settings key that sets their number."""
    from algorithms.registry import ALGORITHMS as REG
    spec = REG[cfg.algorithm.name]
    per_block = spec.queries_per_step(cfg.algorithm.settings_object(), 1)
    key = next((k for k in ("num_directions", "num_tangents") if k in cfg.algorithm.settings), None)
    return max(1, per_block - 1), key


def estimate_eval_bytes(cfg: Config, n_in: int) -> tuple[int, str]:
    """Peak bytes of the largest layer's batched evaluation (all perturbed settings at once),
    and that layer's name. Counts the expanded knob copies, the per-setting device state
    (MZI unitaries, crossbar conductances), the per-block partial sums and the readout."""
    n_eval, _ = _evaluations(cfg)
    devices, _ = build_devices(cfg, n_in)
    B = cfg.run.batch_size
    worst, name = 0, ""
    for d in devices:
        knobs = sum(s.numel for s in d.knob_spec.values())
        info = d.info()
        tile_out = info.tile_rows
        per_setting = (3 * knobs * 4                           # perturbed, projected, applied knobs
                       + info.tiles * tile_out * info.tile_cols * 8 * 4   # device state (complex)
                       + 4 * B * info.tiles * tile_out * 4     # partial sums and their copies
                       + 2 * B * d.n_out * 4)                   # readout and loss inputs
        need = n_eval * per_setting
        if need > worst:
            worst, name = need, d.name
    return worst, name


def _check_memory(cfg: Config, n_in: int) -> None:
    need, layer = estimate_eval_bytes(cfg, n_in)
    have = _available_bytes() * MEMORY_SHARE
    if need > have:
        _, key = _evaluations(cfg)
        what = (f"algorithm.settings.{key} = {cfg.algorithm.settings[key]}" if key
                else f"algorithm {cfg.algorithm.name!r}")
        most = (f"at most about {max(1, int(cfg.algorithm.settings[key] * have // need))}" if key
                else "a smaller run.batch_size or model")
        raise ConfigError(
            f"{what} needs about {need / 2 ** 30:.1f} GiB for one batched evaluation of {layer} "
            f"(batch {cfg.run.batch_size}); {have / 2 ** 30:.1f} GiB are available; allowed "
            f"here: {most}")


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + ".ckpt")


def _interrupted_or_failed(path: Path) -> bool:
    try:
        return read_results(path).status != "ok"
    except Exception:
        return False


def prepare(cfg: Config, *, overwrite: bool = False, resume: bool = False) -> Path:
    """Check the output path (before any training) and return the results file's real path.

    Default name: ``results/run-<run id>.h5``, made unique (``-2``, ``-3``, …) unless resuming.
    With ``resume`` the checkpoint ``<out>.ckpt`` must exist; an interrupted or failed results
    file at the path may then be replaced.
    """
    if cfg.run.out:
        out = Path(cfg.run.out)
    else:
        out = DEFAULT_DIR / f"run-{cfg.run_id}.h5"
        if resume and not checkpoint_path(out).is_file():
            raise OutputError(f"--resume: no checkpoint {str(checkpoint_path(out))!r} for run "
                              f"{cfg.run_id}; allowed: resume a run that was interrupted with the "
                              "same config and output path")
        DEFAULT_DIR.mkdir(parents=True, exist_ok=True)
        if not resume and (out.exists() or out.is_symlink()):
            out = unique_path(DEFAULT_DIR, f"run-{cfg.run_id}")
    target = check_output(out, overwrite=overwrite,
                          replaceable=_interrupted_or_failed if resume else None,
                          what="output file (run.out)")
    clean_stale_temporaries(target.parent)
    _check_checkpoint_path(checkpoint_path(target), cfg, resume)
    if resume and not checkpoint_path(target).is_file():
        raise OutputError(f"--resume: no checkpoint {str(checkpoint_path(target))!r} for run "
                          f"{cfg.run_id}; allowed: resume a run that was interrupted with the same "
                          "config and output path")
    return target


# ------------------------------------------------------------------ provenance
def _versions() -> dict[str, str]:
    import h5py, numba, scipy, simpy
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "h5py": h5py.__version__, "simpy": simpy.__version__,
            "numba": numba.__version__, "forwardlab": "0.1.0"}


def _git_commit() -> str:
    here = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    if out.returncode != 0:
        return ""
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def dataset_checksum(data: Dataset) -> str:
    """SHA-256 of the split arrays as trained on (before standardisation)."""
    h = hashlib.sha256()
    for t in (data.x_train, data.y_train, data.x_test, data.y_test):
        h.update(np.ascontiguousarray(t.numpy()).tobytes())
    return h.hexdigest()


def _meta(cfg: Config, data: Dataset) -> dict[str, str]:
    return {"timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "command": shlex.join(sys.argv), "git_commit": _git_commit(),
            "dataset": data.name, "dataset_sha256": dataset_checksum(data),
            "dataset_citation": getattr(data, "citation", ""),
            "threads": str(torch.get_num_threads()), "host": platform.node()}


# ------------------------------------------------------------------ the run
#: The ``kind`` attribute of a checkpoint file (a data-only HDF5 file, experiments.datatree).
CHECKPOINT_KIND = "forwardlab checkpoint"


def config_hash(cfg: Config) -> str:
    """SHA-256 of everything that determines a run's results (the run id is its first 12 hex
    digits): a checkpoint is only resumed by the config that wrote it."""
    from .config import _NOT_IN_RUN_ID
    import json
    m = cfg.to_mapping()
    for k in _NOT_IN_RUN_ID:
        m["run"].pop(k, None)
    return hashlib.sha256(json.dumps(m, sort_keys=True, default=str).encode()).hexdigest()


def _is_checkpoint(path: Path) -> bool:
    from .datatree import TreeError, read_attrs
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
        if head != b"\x89HDF\r\n\x1a\n":
            return False
        return read_attrs(path.read_bytes()).get("kind") == CHECKPOINT_KIND
    except (OSError, TreeError):
        return False


def _check_checkpoint_path(ckpt: Path, cfg: Config, resume: bool) -> None:
    """Before any work: the checkpoint path can take forwardlab's checkpoint (no link, no
    directory, no file of someone else's) and, with ``resume``, holds this run's."""
    if not cfg.run.checkpoint and not resume:
        return
    if ckpt.is_symlink():
        raise OutputError(f"checkpoint {str(ckpt)!r} is a symbolic link; forwardlab never writes "
                          "through links in its own files; allowed: remove the link")
    if ckpt.exists() and not ckpt.is_file():
        raise OutputError(f"checkpoint {str(ckpt)!r} exists and is not a regular file; allowed: "
                          "remove it or choose another --out")
    if resume and ckpt.is_file():
        _checkpoint_header(ckpt, cfg.run_id, config_hash(cfg))
    elif ckpt.is_file() and not _is_checkpoint(ckpt):
        raise OutputError(f"checkpoint {str(ckpt)!r} exists and was not written by forwardlab; it "
                          "is never replaced; allowed: move it away or choose another --out")


def _save_checkpoint(path: Path, state: dict, config_hash: str = "") -> None:
    """Write ``state`` as data only (experiments.datatree: tensors, optimizer state and random
    streams as arrays and JSON; the update rules' code is rebuilt from the config on resume),
    atomically, never through a link or over a file forwardlab did not write."""
    from .datatree import dumps
    from .outputs import write_bytes
    attrs = {"kind": CHECKPOINT_KIND, "run_id": str(state.get("run_id", "")),
             "stage": str(state.get("stage", "")), "config_hash": config_hash}
    write_bytes(path, dumps(state, attrs, rebuild=True), follow=False, owned=_is_checkpoint,
                what="checkpoint")


def _refused(path: Path, why: str) -> OutputError:
    return OutputError(f"--resume: checkpoint {str(path)!r} cannot be read ({why}); allowed: a "
                       "checkpoint written by forwardlab for this run; delete it and run again "
                       "without --resume to start the run over")


def _checkpoint_header(path: Path, run_id: str, chash: str = "") -> tuple[bytes, dict]:
    """The bytes and attributes of the checkpoint at ``path``, checked before anything is
    decoded: a forwardlab checkpoint of run ``run_id`` (and config hash ``chash``)."""
    from .datatree import TreeError, read_attrs
    if path.is_symlink():
        raise _refused(path, "it is a symbolic link")
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise _refused(path, e.strerror or type(e).__name__) from None
    try:
        attrs = read_attrs(blob)
    except TreeError as e:
        raise _refused(path, str(e)) from None
    if attrs.get("kind") != CHECKPOINT_KIND:
        raise _refused(path, "not a forwardlab checkpoint")
    if attrs.get("run_id") != run_id or (chash and attrs.get("config_hash", chash) != chash):
        raise OutputError(f"--resume: checkpoint {str(path)!r} belongs to run "
                          f"{attrs.get('run_id')} (config hash {attrs.get('config_hash', '')[:12]}), "
                          f"not {run_id}; allowed: the same config; delete the checkpoint to start "
                          "the run over")
    return blob, attrs


def _load_checkpoint(path: Path, template=None, *, blob: bytes) -> dict:
    """The state of a checkpoint whose ``blob`` passed :func:`_checkpoint_header`;
    ``template``: the same tree rebuilt from the config (where the update rules' code comes
    from). Nothing stored in the file is executed."""
    from .datatree import TreeError, loads
    try:
        state, _ = loads(blob, *(() if template is None else (template,)))
    except TreeError as e:
        raise _refused(path, str(e)) from None
    if not isinstance(state, dict) or not {"run_id", "stage", "done", "result"} <= set(state):
        raise _refused(path, "not a forwardlab checkpoint")
    return state


def run(cfg: Config, out: str | Path | None = None, *, echo: Callable[[str], None] = print,
        progress: Callable[[int, str], Callable[[int], None]] | None = None,
        stop: Callable[[], bool] | None = None, resume: bool = False,
        overwrite: bool = False) -> RunRecord:
    """Train as configured, write the results file and return its record.

    ``out``: the path from :func:`prepare` (called here when None). ``progress(total_steps,
    label)`` may return a per-step callback. On divergence the file records
    ``status="diverged"`` and ``Divergence`` propagates; on ``stop()`` ``status="interrupted"``
    and ``Interrupted`` propagates (the checkpoint is kept for ``resume``).
    """
    set_threads(cfg.run.threads)
    out = Path(out) if out is not None else prepare(cfg, overwrite=overwrite, resume=resume)
    out = resolve_target(out)
    ckpt = checkpoint_path(out)
    if cfg.pde.problem:                    # a PDE task (experiments.pde), not classification
        from .pde import run_pde
        meta = {"timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "command": shlex.join(sys.argv), "git_commit": _git_commit(),
                "dataset": f"pde:{cfg.pde.problem}", "threads": str(torch.get_num_threads()),
                "host": platform.node()}
        rec = RunRecord(config=cfg.flat(), versions=_versions(), config_toml=config_to_toml(cfg),
                        run_id=cfg.run_id, meta=meta)
        return run_pde(cfg, out, rec=rec, echo=echo, progress=progress, stop=stop, resume=resume)
    chash = config_hash(cfg)
    # checked before any work: the checkpoint is ours, of this run and this config
    header = _checkpoint_header(ckpt, cfg.run_id, chash) if resume else None
    from .preflight import check_cost_bounds, check_data, check_device_memory, check_network
    check_cost_bounds(cfg)
    data = load_dataset(cfg.data.dataset, cfg.data.data_dir or None, seed=cfg.run.seed)
    check_data(cfg, data.x_train.shape[0], data.x_train.shape[1])
    meta = _meta(cfg, data)
    data, val = split_validation(data, cfg.data.val_split, cfg.run.seed)
    if cfg.data.standardize:
        data, val = standardize_with(data, val)
    n_in, C = data.x_train.shape[1], data.n_classes
    check_network(cfg, data.shape, C)
    check_device_memory(cfg, _available_bytes() * MEMORY_SHARE)
    _check_memory(cfg, n_in)
    _announce_large_build(cfg, data.shape, echo)
    steps_per_epoch = -(-data.x_train.shape[0] // cfg.run.batch_size)
    rec = RunRecord(config=cfg.flat(), versions=_versions(), config_toml=config_to_toml(cfg),
                    run_id=cfg.run_id, meta=meta)
    algo = cfg.algorithm.name
    arch = cfg.model.architecture
    net_text = _network_text(cfg, n_in, C)
    echo(f"forwardlab: {cfg.data.dataset} ({data.x_train.shape[0]} train / {data.x_test.shape[0]} "
         f"test), {net_text}, "
         f"device {cfg.device.preset}"
         f"{' (modified)' if cfg.device.physics != _preset_physics(cfg) else ''}, "
         f"algorithm {algo_label(algo, cfg.algorithm.settings, cfg.device.kind)}, run {cfg.run_id}")

    # Stages of the run, in order; a checkpoint holds the finished ones and the current one.
    twin_run = algo in ("mf-ad", "bp") or (algo not in ALGO_LABELS and _is_twin(algo))
    stages = [algo] + (["mf-ad", "bp"] if cfg.run.references and not twin_run else [])
    saved = None
    if header is not None:   # decoded onto the current stage rebuilt from the config
        blob, attrs = header
        stage0 = attrs.get("stage", "")
        if stage0 not in stages:
            raise _refused(ckpt, f"stage {stage0!r} is not a stage of this run")
        template = build_stage(cfg, n_in, C, None if stage0 in ("mf-ad", "bp") else Trace(),
                               name=stage0, input_shape=data.shape)
        saved = _load_checkpoint(ckpt, {"model": template}, blob=blob)
    if saved is not None:
        echo(f"  resuming from {ckpt} (stage {saved['stage']}, "
             f"{saved['result'].epochs_done} epoch(s) done)")
    done: dict[str, FitResult] = dict(saved["done"]) if saved else {}
    # the label the built trainable resolved (e.g. "calibrated model" where its devices declare
    # calibrate); stored in the results (meta.algorithm_label) and the checkpoint
    resolved: dict[str, str] = dict(saved.get("labels", {})) if saved else {}
    if algo in resolved:
        rec.meta["algorithm_label"] = resolved[algo]

    def label_of(stage: str) -> str:
        if stage == "mfdd":
            return "MF+DD on " + cfg.device.preset
        if stage == algo and stage not in ALGO_LABELS:
            text = (f"{algo} ({resolved[algo]})" if algo in resolved
                    else algo_label(stage, cfg.algorithm.settings, cfg.device.kind))
            return f"{text} on {cfg.device.preset}"
        return ALGO_LABELS[stage]

    def fit(stage: str, model, trace: Trace | None, result: FitResult) -> FitResult:
        label = label_of(stage)
        schedule = getattr(model, "schedule", "simultaneous")
        n_stages = getattr(model, "n_stages", 1)
        total = cfg.run.epochs * (n_stages if schedule == "greedy" else 1) * steps_per_epoch
        cb = progress(total, label) if progress else None
        t0 = time.perf_counter()

        def on_epoch(e: int, m: dict) -> None:
            echo(f"  [{label}] epoch {e + 1}: test accuracy {m['test_accuracy']:.4f}"
                 f"  ({time.perf_counter() - t0:.1f} s)")

        def on_epoch_end(r: FitResult) -> None:
            if cfg.run.checkpoint:
                _save_checkpoint(ckpt, {"run_id": cfg.run_id, "stage": stage, "done": done,
                                        "model": model, "result": r, "trace": trace,
                                        "labels": resolved}, chash)

        # minibatch order: its own stream per stage; a resumed result restores its state
        gen = generator(cfg.run.seed, f"batches/{label}")
        return train(model, data.x_train, data.y_train, epochs=cfg.run.epochs,
                     batch_size=cfg.run.batch_size, gen=gen, schedule=schedule, n_stages=n_stages,
                     trace=trace, x_test=data.x_test, y_test=data.y_test,
                     x_val=val[0] if val else None, y_val=val[1] if val else None,
                     on_step=(lambda n, _r: cb(n)) if cb else None, on_epoch=on_epoch,
                     on_epoch_end=on_epoch_end, result=result, stop=stop)

    def record(stage: str, history: dict) -> None:
        if stage == algo:
            rec.history = history
        else:
            rec.references[stage] = history

    for stage, r in done.items():   # finished stages of a resumed run: everything they stored
        record(stage, r.history)
        if stage == algo:
            rec.step_summaries = r.step_summaries
    current, live = algo, None
    try:
        for stage in stages:
            current = stage
            if stage in done:
                continue
            if saved is not None and saved["stage"] == stage:
                model, trace, result = saved["model"], saved["trace"], saved["result"]
            else:
                # the twin references record no device trace
                trace = None if stage in ("mf-ad", "bp") else Trace()
                model = build_stage(cfg, n_in, C, trace, name=stage, input_shape=data.shape)
                result = FitResult()
            if stage == algo:
                resolved[algo] = rec.meta["algorithm_label"] = getattr(model, "label", "")
            live = result        # the loop fills it in place: partial summaries survive a stop
            result = fit(stage, model, trace, result)
            done[stage] = result
            record(stage, result.history)
            if stage == algo and trace is not None:
                rec.step_summaries = result.step_summaries
    except (Divergence, Interrupted) as e:
        record(current, e.history)
        if current == algo and live is not None:
            rec.step_summaries = live.step_summaries
        rec.status = "diverged" if isinstance(e, Divergence) else "interrupted"
        rec.message = f"{label_of(current)}: {e}"
        write_results(out, rec)
        if isinstance(e, Divergence):
            ckpt.unlink(missing_ok=True)
            raise Divergence(rec.message, e.history) from None
        raise Interrupted(rec.message, e.history) from None
    summaries = done[algo].step_summaries
    if algo == "mfdd" and not arch:
        other = "crossbar-default" if cfg.device.kind == "mzi" else "mzi-default"
        device_summaries = {f"{cfg.device.preset} MF+DD": mean_summary(summaries),
                            f"{other} MF+DD": _one_step_summary(cfg, other, data)}
        reports = price_run(cfg, n_in, rec, device_summaries, summaries[-1] if summaries else None)
    elif not twin_run and summaries:
        # a forward-only registry algorithm: its own traced steps on the device, GPU bands
        device_summaries = {f"{cfg.device.preset} {algo}": mean_summary(summaries)}
        reports = price_run(cfg, n_in, rec, device_summaries, summaries[-1])
    else:
        from .price import price_twin_run
        reports = price_twin_run(rec.config, n_in, rec.history)
    rec.costs.update({name: r.to_dict() for name, r in reports.items()})
    write_results(out, rec)
    ckpt.unlink(missing_ok=True)
    return rec


#: Above this many device weights, building and sizing the devices takes long enough (tens of
#: seconds to minutes) that the run says what it is doing first.
LARGE_BUILD_WEIGHTS = 1_000_000


def _announce_large_build(cfg: Config, input_shape, echo) -> None:
    """No silent start: a large network says it is being built before the minutes it takes."""
    if cfg.algorithm.name == "tt-zo":
        return
    try:
        shapes = model_of(cfg, input_shape).device_shapes()
    except ValueError:   # pragma: no cover - check_network has named the block already
        return
    n = sum(a * b for a, b in shapes)
    if n > LARGE_BUILD_WEIGHTS:
        echo(f"forwardlab: building and sizing {len(shapes)} device block(s) with {n:,} weights "
             f"on {cfg.device.preset}; a network this large takes a while before the first step")


def _is_twin(name: str) -> bool:
    from algorithms.registry import TWIN_NAMES
    return name in TWIN_NAMES


def split_validation(data: Dataset, fraction: float, seed: int):
    """Hold out ``fraction`` of the training set (stratified by class, stream ``val-split`` of
    the seed) for choosing settings; the test split is never used for that."""
    if fraction <= 0:
        return data, None
    import dataclasses
    from algorithms.seeds import derive_seed
    y = data.y_train
    val_idx = torch.from_numpy(stratified_indices(y.numpy(), round(fraction * y.numel()),
                                                  derive_seed(seed, "val-split") % 2 ** 32))
    keep = torch.ones(y.numel(), dtype=torch.bool)
    keep[val_idx] = False
    val = (data.x_train[val_idx], y[val_idx])
    return dataclasses.replace(data, x_train=data.x_train[keep], y_train=y[keep]), val


def standardize_with(data: Dataset, val):
    """Standardise with training statistics; the validation split uses the same statistics."""
    if val is None:
        return standardize(data), None
    import dataclasses
    val_x = standardize(dataclasses.replace(data, x_test=val[0])).x_test
    return standardize(data), (val_x, val[1])


def _preset_physics(cfg: Config):
    from hwsim.presets import device_config
    return device_config(cfg.device.preset)

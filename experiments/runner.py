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

Only :func:`run` and :func:`prepare` hold the whole config: each step gets the sections it reads
(``[run]``, ``[data]``, ``[cost]``), the :class:`~experiments.build.Blueprint` of what is built
(algorithm, model, device, PDE network, seed) and the config hash, all taken once.
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from algorithms import registry
from algorithms.families.tensor_train import TTModel
from algorithms.seeds import VAL_SPLIT, derive_seed
from algorithms.training import Classification, Divergence, FitResult, Interrupted, Task
from algorithms.training import fit as train
from hwsim.cost.analytic import CostReport
from hwsim.kinds import KINDS
from hwsim.presets import device_config
from hwsim.trace import Trace

from . import build, checkpoint, labels, provenance
from .build import Blueprint, stage_settings
from .config import (AlgorithmSection, Config, ConfigError, CostSection, DataSection,
                     ModelSection, RunSection, config_to_toml)
from .data import Dataset, load_dataset, standardize, stratified_indices
from .outputs import (OutputError, check_output, clean_stale_temporaries, resolve_target,
                      unique_path)
from .price import mean_summary
from .results import RunRecord, read_results, write_results

__all__ = ["run", "prepare", "mean_summary", "price_run", "checkpoint_path", "set_threads",
           "estimate_eval_bytes", "DEFAULT_DIR", "split_validation", "standardize_with",
           "CLASSIFICATION_REFERENCES"]

#: The references of a classification run on a device: the same network with autograd on the
#: ideal twin, Mono-Forward local losses and end-to-end backpropagation.
CLASSIFICATION_REFERENCES = ("mf-ad", "bp")
checkpoint_path = checkpoint.path_for


def _network_text(model_section: ModelSection, settings, model, n_in: int,
                  n_classes: int) -> str:
    from algorithms.families.tensor_train import tt_model
    if isinstance(model, TTModel) or getattr(settings, "layers", None):
        return "TT network " + " | ".join(s.describe() for s in tt_model(settings, model).shapes)
    if model_section.architecture:
        return (f"network {' '.join(map(str, model_section.architecture))} with {n_classes}-class "
                "local heads")
    return (f"MLP {n_in}-{'-'.join(map(str, model_section.hidden))} with {n_classes}-class "
            "local heads")


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


def price_run(cost: CostSection, n_in: int, rec: RunRecord, device_summaries: dict[str, dict],
              last_summary: dict | None, *, measure: bool = True,
              config: dict | None = None) -> dict[str, CostReport]:
    """Cost per training step of every row — the device run (first in ``device_summaries``),
    cross-device rows, GPU bands of the same step and, with ``measure``, the same step timed
    with torch on this machine — with the headline metrics (energy and time to the target
    accuracy, low/nominal/high), priced by the resolved ``[cost]`` section as it is.
    ``config``: the flat config priced (default ``rec.config``).
    Cross-device summaries are stored in ``rec`` so that
    ``forwardlab price`` can re-price every row from the file alone."""
    from .price import measured_rows, price_summaries, store_summary
    for label, summary in list(device_summaries.items())[1:]:
        store_summary(rec, label, summary)
    reports = price_summaries(config if config is not None else rec.config, device_summaries,
                              history=rec.history, references=rec.references,
                              last_summary=last_summary, cost=cost)
    if measure:
        reports.update(measured_rows(rec.config, n_in))
    return reports


def _one_step_summary(bp: Blueprint, batch_size: int, preset: str,
                      data: Dataset) -> dict[str, float]:
    """Trace of one training step of the run's algorithm on another device preset (same model,
    batch and settings)."""
    trace = Trace()
    model = build.build_stage(bp, data.shape, data.n_classes, trace, preset=preset)
    idx = torch.arange(min(batch_size, data.x_train.shape[0]))
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


def _evaluations(algorithm: AlgorithmSection) -> tuple[int, str | None]:
    """Settings one estimate evaluates in ONE batched device call (the device queries of a
    step per block, less the clean readout), and the settings key that sets their number."""
    spec = registry.ALGORITHMS[algorithm.name]
    per_block = spec.queries_per_step(algorithm.settings_object(), 1)
    key = next((k for k in ("num_directions", "num_tangents") if k in algorithm.settings), None)
    return max(1, per_block - 1), key


def estimate_eval_bytes(bp: Blueprint, batch_size: int, input_shape) -> tuple[int, str]:
    """Peak bytes of the largest layer's batched evaluation (all perturbed settings at once,
    ``batch_size`` examples), and that layer's name, on the devices of the configured
    algorithm. Counts the expanded knob copies, the per-setting device state (MZI unitaries,
    crossbar conductances), the per-block partial sums and the readout."""
    n_eval, _ = _evaluations(bp.algorithm)
    _, _, devices = build.stage_devices(bp, bp.algorithm.name, tuple(input_shape))
    B = batch_size
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


def _check_memory(bp: Blueprint, batch_size: int, input_shape) -> None:
    need, layer = estimate_eval_bytes(bp, batch_size, input_shape)
    have = _available_bytes() * MEMORY_SHARE
    if need > have:
        algorithm = bp.algorithm
        _, key = _evaluations(algorithm)
        what = (f"algorithm.settings.{key} = {algorithm.settings[key]}" if key
                else f"algorithm {algorithm.name!r}")
        most = (f"at most about {max(1, int(algorithm.settings[key] * have // need))}" if key
                else "a smaller run.batch_size or model")
        raise ConfigError(
            f"{what} needs about {need / 2 ** 30:.1f} GiB for one batched evaluation of {layer} "
            f"(batch {batch_size}); {have / 2 ** 30:.1f} GiB are available; allowed "
            f"here: {most}")


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
    checkpoint.check_path(checkpoint_path(target), cfg.run_id, cfg.config_hash,
                          resume=resume, enabled=cfg.run.checkpoint)
    if resume and not checkpoint_path(target).is_file():
        raise OutputError(f"--resume: no checkpoint {str(checkpoint_path(target))!r} for run "
                          f"{cfg.run_id}; allowed: resume a run that was interrupted with the same "
                          "config and output path")
    return target


# ------------------------------------------------------------------ the run
@dataclass
class Job:
    """What a resolved config trains on: the task (classification or PDE), the shape of one
    input, the classes, the task objective (None: classification), the stages in order (the
    configured algorithm, then its references), the provenance, the data (classification) and
    its name as configured (``data.dataset``)."""

    task: Task
    input_shape: tuple
    n_classes: int
    objective: Any
    stages: list[str]
    meta: dict
    data: Dataset | None = None
    dataset: str = ""


def resolve_job(bp: Blueprint, run: RunSection, data_section: DataSection,
                cost: CostSection) -> Job:
    """Load the data (or set up the PDE) and decide the stages; checks the data, the network,
    the cost values and memory before training."""
    algo = bp.algorithm.name
    twin = registry.ALGORITHMS[algo].twin
    if bp.pde.problem:                    # a PDE task (experiments.pde), not classification
        from .pde import REFERENCE, pde_task
        task = pde_task(bp.pde, bp.seed)
        meta = provenance.meta(f"pde:{bp.pde.problem}")
        refs = [REFERENCE] if run.references else []
        return Job(task, (task.problem.dim,), 0, task.objective, [algo, *refs], meta)
    from .preflight import check_cost_bounds, check_data, check_device_memory, check_network
    check_cost_bounds(cost)
    data = load_dataset(data_section.dataset, data_section.data_dir or None, seed=bp.seed)
    check_data(data_section, data.x_train.shape[0], data.x_train.shape[1])
    meta = provenance.meta(data.name, data)
    data, val = split_validation(data, data_section.val_split, bp.seed)
    if data_section.standardize:
        data, val = standardize_with(data, val)
    check_network(bp.algorithm, bp.model, data.shape)
    check_device_memory(bp.device, _available_bytes() * MEMORY_SHARE)
    _check_memory(bp, run.batch_size, data.shape)
    _announce_large_build(bp, data.shape)
    evaluations = ((("val_accuracy", *val),) if val else ()) + (
        ("test_accuracy", data.x_test, data.y_test),)
    task = Classification(data.x_train, data.y_train, run.batch_size, evaluations)
    refs = list(CLASSIFICATION_REFERENCES) if run.references and not twin else []
    return Job(task, tuple(data.shape), data.n_classes, None, [algo, *refs], meta, data,
               data_section.dataset)


def _header(bp: Blueprint, job: Job, first, run_id: str) -> str:
    """The run's first line: data or PDE, network, device, algorithm, run id."""
    algo, device = bp.algorithm.name, bp.device
    if job.objective is not None:
        rule = job.objective.rule
        return (f"forwardlab: PDE {job.task.problem.name} (D = {job.task.problem.dim}), PINN "
                f"{first.trainer.net.describe()}, {rule.name} ({rule.evaluations} evaluations per "
                f"point, sigma {bp.pde.sigma}), device {device.preset}, algorithm {algo} "
                f"({first.label}), {first.device_queries_per_step()} device queries/step, "
                f"run {run_id}")
    d = job.data
    settings = build.stage_settings(bp.algorithm, algo)
    net = _network_text(bp.model, settings, build.model_for(bp, settings, job.input_shape),
                        d.x_train.shape[1], job.n_classes)
    modified = " (modified)" if device.physics != device_config(device.preset) else ""
    return (f"forwardlab: {job.dataset} ({d.x_train.shape[0]} train / {d.x_test.shape[0]} "
            f"test), {net}, device {device.preset}{modified}, algorithm "
            f"{labels.algorithm_label(algo, bp.algorithm.settings, device.kind)}, run {run_id}")


def _build(bp: Blueprint, job: Job, stage: str):
    """(trainable, trace) of a fresh stage; stages that never touch the device get no trace."""
    trace = Trace() if registry.ALGORITHMS[stage].traced else None
    return build.build_stage(bp, job.input_shape, job.n_classes, trace, name=stage,
                             objective=job.objective), trace


def _train_stages(bp: Blueprint, job: Job, rec: RunRecord, out: Path, saved: dict | None, *,
                  run: RunSection, config_hash: str, echo, progress,
                  stop) -> dict[str, FitResult]:
    """Build and train every stage in order (``run``: epochs, checkpointing), checkpointing at
    every epoch boundary (the finished stages, the current one's trainable, trace and result,
    under ``rec.run_id`` and ``config_hash``); on divergence or stop the partial results are
    written and the exception propagates."""
    algo, ckpt = bp.algorithm.name, checkpoint.path_for(out)
    done: dict[str, FitResult] = dict(saved["done"]) if saved else {}
    # the labels the built trainables resolved (e.g. "calibrated model" where the devices
    # declare calibrate); stored in the results (meta.algorithm_label) and the checkpoint
    resolved: dict[str, str] = dict(saved.get("labels", {})) if saved else {}
    live: dict = {}
    if saved is not None and saved["stage"] not in done:
        live[saved["stage"]] = (saved["model"], saved["trace"], saved["result"])
    if algo not in live and algo not in done:
        model, trace = _build(bp, job, algo)
        live[algo] = (model, trace, FitResult())
    first = live[algo][0] if algo in live else None
    if first is None and job.objective is not None:      # the PDE header names its network
        first = _build(bp, job, algo)[0]
    echo(_header(bp, job, first, rec.run_id))
    if saved is not None:
        echo(f"  resuming from {ckpt} (stage {saved['stage']}, "
             f"{saved['result'].epochs_done} epoch(s) done)")
    if first is not None:
        resolved.setdefault(algo, first.label)
    if algo in resolved:
        rec.meta["algorithm_label"] = resolved[algo]

    def label_of(stage: str) -> str:
        return labels.run_label(stage, resolved.get(stage, registry.ALGORITHMS[stage].label),
                                bp.device.preset)

    def record(stage: str, history: dict) -> None:
        if stage == algo:
            rec.history = history
        else:
            rec.references[stage] = history

    for stage, r in done.items():
        record(stage, r.history)
        rec.meta[f"cpu_s.{stage}"] = f"{getattr(r, 'cpu_s', 0.0):.6g}"
    if algo in done:
        rec.step_summaries = done[algo].step_summaries
    current, result = algo, None
    try:
        for stage in job.stages:
            current = stage
            if stage in done:
                continue
            model, trace, result = live.pop(stage) if stage in live else (*_build(bp, job, stage),
                                                                          FitResult())
            resolved[stage] = getattr(model, "label", "")
            label = label_of(stage)
            schedule = getattr(model, "schedule", "simultaneous")
            n_stages = getattr(model, "n_stages", 1)
            total = (run.epochs * (n_stages if schedule == "greedy" else 1)
                     * job.task.steps_per_epoch)
            cb = progress(total, label) if progress else None
            t0 = time.perf_counter()

            def on_epoch(e: int, m: dict, label=label, t0=t0) -> None:
                echo(f"  [{label}] epoch {e + 1}: {job.task.summary(m)}"
                     f"  ({time.perf_counter() - t0:.1f} s)")

            def on_epoch_end(r: FitResult, stage=stage, model=model, trace=trace) -> None:
                if run.checkpoint:
                    checkpoint.save(ckpt, {"run_id": rec.run_id, "stage": stage, "done": done,
                                           "model": model, "result": r, "trace": trace,
                                           "labels": resolved}, config_hash)

            # every stage draws its step inputs from the task's stream of the run seed: the
            # same minibatch order for every algorithm (a resumed result restores its state)
            result = train(model, epochs=run.epochs, seed=bp.seed, task=job.task,
                           schedule=schedule, n_stages=n_stages, trace=trace,
                           on_step=(lambda n, _r, cb=cb: cb(n)) if cb else None,
                           on_epoch=on_epoch, on_epoch_end=on_epoch_end, result=result, stop=stop)
            done[stage] = result
            record(stage, result.history)
            rec.meta[f"cpu_s.{stage}"] = f"{getattr(result, 'cpu_s', 0.0):.6g}"
            if stage == algo:
                rec.step_summaries = result.step_summaries
    except (Divergence, Interrupted) as e:
        record(current, e.history)
        if current == algo and result is not None:
            rec.step_summaries = result.step_summaries   # filled in place up to the stop
        rec.status = "diverged" if isinstance(e, Divergence) else "interrupted"
        rec.message = f"{label_of(current)}: {e}"
        write_results(out, rec)
        if isinstance(e, Divergence):
            ckpt.unlink(missing_ok=True)
        raise type(e)(rec.message, e.history) from None
    return done


def _price(bp: Blueprint, job: Job, rec: RunRecord, done: dict[str, FitResult], *,
           cost: CostSection, batch_size: int) -> dict:
    """Cost rows of the run, priced by the resolved ``[cost]`` section: its traced steps on its
    device (and, where the algorithm asks, the same step of ``batch_size`` examples on every
    other kind's preset), GPU bands, measured torch steps; runs that never touched a device
    get the GPU rows of their BP step."""
    algo = bp.algorithm.name
    spec = registry.ALGORITHMS[algo]
    summaries = done[algo].step_summaries
    if job.objective is None and (spec.twin or not summaries):
        from .price import price_twin_run
        return price_twin_run(rec.config, job.data.x_train.shape[1], rec.history, cost=cost)
    if not summaries:
        return {}
    rows = {labels.device_row(bp.device.preset, algo): mean_summary(summaries)}
    if spec.cross_device_row and job.objective is None and not bp.model.architecture:
        for kind in KINDS.values():
            if kind.name != bp.device.kind and kind.default_preset:
                rows[labels.device_row(kind.default_preset, algo)] = _one_step_summary(
                    bp, batch_size, kind.default_preset, job.data)
    if job.objective is not None:     # a PDE network: no MLP for the BP / measured rows
        config = {k: v for k, v in rec.config.items() if k != "model.hidden"}
        return price_run(cost, 0, rec, rows, summaries[-1], measure=False, config=config)
    return price_run(cost, job.data.x_train.shape[1], rec, rows, summaries[-1])


def run(cfg: Config, out: str | Path | None = None, *, echo: Callable[[str], None] = print,
        progress: Callable[[int, str], Callable[[int], None]] | None = None,
        stop: Callable[[], bool] | None = None, resume: bool = False,
        overwrite: bool = False) -> RunRecord:
    """Train as configured, write the results file and return its record: resolve → build and
    train every stage → price → write.

    ``out``: the path from :func:`prepare` (called here when None). ``progress(total_steps,
    label)`` may return a per-step callback. On divergence the file records
    ``status="diverged"`` and ``Divergence`` propagates; on ``stop()`` ``status="interrupted"``
    and ``Interrupted`` propagates (the checkpoint is kept for ``resume``).
    """
    set_threads(cfg.run.threads)
    out = resolve_target(Path(out) if out is not None
                         else prepare(cfg, overwrite=overwrite, resume=resume))
    bp, config_hash = Blueprint.of(cfg), cfg.config_hash
    saved = (checkpoint.load(checkpoint.path_for(out), cfg.run_id, config_hash)
             if resume else None)
    job = resolve_job(bp, cfg.run, cfg.data, cfg.cost)
    rec = RunRecord(config=cfg.flat(), versions=provenance.versions(),
                    config_toml=config_to_toml(cfg), run_id=cfg.run_id, meta=job.meta)
    done = _train_stages(bp, job, rec, out, saved, run=cfg.run, config_hash=config_hash,
                         echo=echo, progress=progress, stop=stop)
    priced = _price(bp, job, rec, done, cost=cfg.cost, batch_size=cfg.run.batch_size)
    rec.costs.update({name: r.to_dict() for name, r in priced.items()})
    write_results(out, rec)
    checkpoint.path_for(out).unlink(missing_ok=True)
    return rec


def split_validation(data: Dataset, fraction: float, seed: int):
    """Hold out ``fraction`` of the training set (stratified by class, stream ``VAL_SPLIT`` of
    the seed) for choosing settings; the test split is never used for that."""
    if fraction <= 0:
        return data, None
    y = data.y_train
    val_idx = torch.from_numpy(stratified_indices(y.numpy(), round(fraction * y.numel()),
                                                  derive_seed(seed, VAL_SPLIT) % 2 ** 32))
    keep = torch.ones(y.numel(), dtype=torch.bool)
    keep[val_idx] = False
    val = (data.x_train[val_idx], y[val_idx])
    return dataclasses.replace(data, x_train=data.x_train[keep], y_train=y[keep]), val


def standardize_with(data: Dataset, val):
    """Standardise with training statistics; the validation split uses the same statistics."""
    if val is None:
        return standardize(data), None
    val_x = standardize(dataclasses.replace(data, x_test=val[0])).x_test
    return standardize(data), (val_x, val[1])


#: Above this many device weights, building and sizing the devices takes long enough (tens of
#: seconds to minutes) that the run says what it is doing first.
LARGE_BUILD_WEIGHTS = 1_000_000


def _announce_large_build(bp: Blueprint, input_shape, echo=print) -> None:
    """No silent start: a large network says it is being built before the minutes it takes."""
    if bp.algorithm.name == "tt-zo":
        return
    try:
        from .build import model_for
        shapes = model_for(bp, stage_settings(bp.algorithm, bp.algorithm.name),
                           input_shape).device_shapes()
    except (ValueError, ConfigError):   # pragma: no cover - check_network has named the block already
        return
    n = sum(a * b for a, b in shapes)
    if n > LARGE_BUILD_WEIGHTS:
        echo(f"forwardlab: building and sizing {len(shapes)} device block(s) with {n:,} weights "
             f"on {bp.device.preset}; a network this large takes a while before the first step")

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

Only :func:`run` and :func:`prepare` hold the whole config. :func:`run` resolves it once into a
frozen :class:`Plan` (the output and checkpoint paths, the flat config stored with the results,
the sections later steps read, and the blueprint with the configured algorithm's settings and
the device kind looked up once) and reads the plan from then on: resolve → check and load
(:func:`resolve_job`: the checks of the config alone before any work, the PDE or the data and
its checks, the configured stage, one path for both tasks, and the devices' memory, all before
any device is built) → build and train every stage → price → write.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from algorithms import registry
from algorithms.families.tensor_train import TTModel
from algorithms.training import Classification, Divergence, FitResult, Interrupted, Task
from algorithms.training import fit as train
from hwsim.cost.analytic import CostReport
from hwsim.kinds import KINDS
from hwsim.presets import device_config
from hwsim.trace import Trace

from . import build, checkpoint, labels, provenance
from .build import Blueprint, Stage
from .config import (Config, ConfigError, CostSection, DataSection, ModelSection, RunSection,
                     config_to_toml)
from .data import Dataset, load_dataset, split_validation, standardize_with
from .outputs import (OutputError, check_output, clean_stale_temporaries, resolve_target,
                      unique_path)
from .price import mean_summary
from .results import UNPRICED_KEY, RunRecord, read_results, unpriced_rows, write_results

__all__ = ["run", "prepare", "Plan", "Job", "Source", "mean_summary", "price_run", "checkpoint_path",
           "set_threads", "DEFAULT_DIR", "CLASSIFICATION_REFERENCES"]

#: The references of a classification run on a device: the same network with autograd on the
#: ideal twin, Mono-Forward local losses and end-to-end backpropagation.
CLASSIFICATION_REFERENCES = ("mf-ad", "bp")
checkpoint_path = checkpoint.path_for


def _network_text(model_section: ModelSection, stage: Stage, n_in: int, n_classes: int) -> str:
    from algorithms.families.tensor_train import tt_model
    settings, model = stage.settings, stage.model
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


def _one_step_summary(plan: Plan, job: Job, preset: str) -> dict[str, float]:
    """Trace of one training step of the run's algorithm on another device preset (same
    network, settings and ``run.batch_size`` examples)."""
    trace = Trace()
    model = build.build_stage(plan.blueprint, job.first, job.source.n_classes, trace, preset=preset)
    idx = torch.arange(min(plan.run.batch_size, job.source.data.x_train.shape[0]))
    trace.begin_step()
    model.step(job.source.data.x_train[idx], job.source.data.y_train[idx])
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


#: Above this many device weights, building and sizing the devices takes long enough (tens of
#: seconds to minutes) that the run says what it is doing first.
LARGE_BUILD_WEIGHTS = 1_000_000


def _announce_large_build(bp: Blueprint, stage: Stage, echo=print) -> None:
    """No silent start: a large network says it is being built before the minutes it takes."""
    if stage.name == "tt-zo":
        return
    try:
        shapes = stage.model.device_shapes()
    except (ValueError, ConfigError):   # pragma: no cover - check_network has named the block already
        return
    n = sum(a * b for a, b in shapes)
    if n > LARGE_BUILD_WEIGHTS:
        echo(f"forwardlab: building and sizing {len(shapes)} device block(s) with {n:,} weights "
             f"on {bp.device.preset}; a network this large takes a while before the first step")


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


# ------------------------------------------------------------------ the plan
@dataclass(frozen=True)
class Source:
    """What a run trains on, before its stage is resolved: the task (classification or PDE),
    the shape of one input, the classes (0: PDE), the task objective (None: classification),
    the references trained after the configured stage, the provenance and the data
    (classification) with its name as configured (``data.dataset``)."""

    task: Task
    input_shape: tuple
    n_classes: int
    objective: Any
    refs: tuple[str, ...]
    meta: dict
    data: Dataset | None = None
    dataset: str = ""


@dataclass(frozen=True)
class Job:
    """A run's :class:`Source` with the configured algorithm's stage (settings and network,
    resolved once) and the stages in order (the configured algorithm, then its references)."""

    source: Source
    first: Stage
    stages: tuple[str, ...]

    @property
    def input_shape(self) -> tuple:
        """The shape of one input."""
        return self.first.input_shape


@dataclass(frozen=True)
class Plan:
    """A run's config resolved once, read by every later step: the results file (``out``),
    the run id and config hash that name it and its checkpoint, the flat config and its TOML
    stored with the results, the ``[run]`` schedule (epochs, batch size, checkpointing,
    references), the ``[data]`` section (a classification run's data set and split), the
    resolved ``[cost]`` section that prices the run as it is, and the blueprint its stages are
    built from (with the algorithm's settings and the device kind looked up)."""

    out: Path
    run_id: str
    config_hash: str
    config: dict
    config_toml: str
    run: RunSection
    data: DataSection
    cost: CostSection
    blueprint: Blueprint

    @property
    def ckpt(self) -> Path:
        """The run's checkpoint, beside its results file."""
        return checkpoint.path_for(self.out)


def resolve_job(bp: Blueprint, run: RunSection, data_section: DataSection,
                cost: CostSection) -> Job:
    """What a run trains, resolved and checked before any device is built: first what the
    config alone decides (the epochs the algorithm needs; a classification run's cost bounds),
    before any work; then the PDE task, or the data loaded and checked against the split and
    the network; then the configured stage on its input shape, one path for both tasks; last,
    for classification, the devices' memory."""
    from . import preflight
    name, pde = bp.algorithm.name, bool(bp.pde.problem)
    preflight.check_config(bp, run.epochs, None if pde else cost)
    src = _pde_source(bp, run) if pde else _classification_source(bp, run, data_section)
    first = build.stage(bp, name, src.input_shape)
    if src.objective is None:
        preflight.check_memory(bp, first, run.batch_size, _available_bytes() * MEMORY_SHARE)
    return Job(src, first, (name, *src.refs))


def _pde_source(bp: Blueprint, run: RunSection) -> Source:
    """A PDE run's source (:mod:`experiments.pde`): its task, reference and provenance."""
    from .pde import REFERENCE, pde_task
    task = pde_task(bp.pde, bp.seed)
    return Source(task, (task.problem.dim,), 0, task.objective,
                  (REFERENCE,) if run.references else (), provenance.meta(f"pde:{bp.pde.problem}"))


def _classification_source(bp: Blueprint, run: RunSection, data_section: DataSection) -> Source:
    """A classification run's source: the data set loaded and checked (before it is split),
    its provenance, the validation split and standardisation, the task's evaluations and the
    references."""
    from .preflight import check_source
    data = load_dataset(data_section.dataset, data_section.data_dir or None, seed=bp.seed)
    check_source(bp, data_section, data)
    meta = provenance.meta(data.name, data)
    data, val = split_validation(data, data_section.val_split, bp.seed)
    if data_section.standardize:
        data, val = standardize_with(data, val)
    evaluations = ((("val_accuracy", *val),) if val else ()) + (
        ("test_accuracy", data.x_test, data.y_test),)
    task = Classification(data.x_train, data.y_train, run.batch_size, evaluations)
    twin = registry.ALGORITHMS[bp.algorithm.name].twin   # a twin run is its own reference
    refs = CLASSIFICATION_REFERENCES if run.references and not twin else ()
    return Source(task, tuple(data.shape), data.n_classes, None, refs, meta, data,
                  data_section.dataset)


def _header(plan: Plan, job: Job, first) -> str:
    """The run's first line: data or PDE, network, device, algorithm, run id (``first``: the
    configured stage's trainable, which names a PDE run's network; unused and None for
    classification, whose header is printed before anything is built)."""
    bp, run_id = plan.blueprint, plan.run_id
    algo, device = job.first.name, bp.device
    if job.source.objective is not None:
        rule = job.source.objective.rule
        return (f"forwardlab: PDE {job.source.task.problem.name} (D = {job.source.task.problem.dim}), PINN "
                f"{first.trainer.net.describe()}, {rule.name} ({rule.evaluations} evaluations per "
                f"point, sigma {bp.pde.sigma}), device {device.preset}, algorithm {algo} "
                f"({first.label}), {first.device_queries_per_step()} device queries/step, "
                f"run {run_id}")
    d = job.source.data
    net = _network_text(bp.model, job.first, d.x_train.shape[1], job.source.n_classes)
    modified = " (modified)" if device.physics != device_config(device.preset) else ""
    return (f"forwardlab: {job.source.dataset} ({d.x_train.shape[0]} train / {d.x_test.shape[0]} "
            f"test), {net}, device {device.preset}{modified}, algorithm "
            f"{labels.algorithm_label(algo, bp.algorithm.settings, device.kind)}, run {run_id}")


def _build(plan: Plan, job: Job, name: str):
    """(trainable, trace) of a fresh stage (the configured one as resolved in the plan, a
    reference resolved here); stages that never touch the device get no trace."""
    bp = plan.blueprint
    stage = job.first if name == job.first.name else build.stage(bp, name, job.input_shape)
    trace = Trace() if registry.ALGORITHMS[name].traced else None
    return build.build_stage(bp, stage, job.source.n_classes, trace, objective=job.source.objective), trace


def _train_stages(plan: Plan, job: Job, rec: RunRecord, saved: dict | None, *, echo, progress,
                  stop) -> dict[str, FitResult]:
    """Build and train every stage of the plan in order (``plan.run``: epochs,
    checkpointing), checkpointing at every epoch boundary (the finished stages, the current
    one's trainable, trace and result, under the run id and config hash); on divergence or stop
    the partial results are written and the exception propagates."""
    run, ckpt = plan.run, plan.ckpt
    algo = job.first.name
    classification = job.source.objective is None
    if classification:
        # The header of a classification run names nothing that building makes, so it is the
        # first line before the devices are built (about half a second of CPU sooner); every
        # check has passed, and building starts here.
        echo(_header(plan, job, None))
        _announce_large_build(plan.blueprint, job.first)
    done: dict[str, FitResult] = dict(saved["done"]) if saved else {}
    # the labels the built trainables resolved (e.g. "calibrated model" where the devices
    # declare calibrate); stored in the results (meta.algorithm_label) and the checkpoint
    resolved: dict[str, str] = dict(saved.get("labels", {})) if saved else {}
    live: dict = {}
    if saved is not None and saved["stage"] not in done:
        live[saved["stage"]] = (saved["model"], saved["trace"], saved["result"])
    if algo not in live and algo not in done:
        model, trace = _build(plan, job, algo)
        live[algo] = (model, trace, FitResult())
    first = live[algo][0] if algo in live else None
    if not classification:               # the PDE header names its network: built first
        if first is None:
            first = _build(plan, job, algo)[0]
        echo(_header(plan, job, first))
    if saved is not None:
        echo(f"  resuming from {ckpt} (stage {saved['stage']}, "
             f"{saved['result'].epochs_done} epoch(s) done)")
    if first is not None:
        resolved.setdefault(algo, first.label)
    if algo in resolved:
        rec.meta["algorithm_label"] = resolved[algo]
    if STAGES_KEY in resolved:
        rec.meta["stages"] = resolved[STAGES_KEY]

    def label_of(stage: str) -> str:
        return labels.run_label(stage, resolved.get(stage, registry.ALGORITHMS[stage].label),
                                plan.blueprint.device.preset)

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
            model, trace, result = live.pop(stage) if stage in live else (*_build(plan, job, stage),
                                                                          FitResult())
            resolved[stage] = getattr(model, "label", "")
            label = label_of(stage)
            schedule = getattr(model, "schedule", "simultaneous")
            n_stages = getattr(model, "n_stages", 1)
            total = (run.epochs * (n_stages if schedule == "greedy" else 1)
                     * job.source.task.steps_per_epoch)
            cb = progress(total, label) if progress else None
            t0 = time.perf_counter()

            def on_epoch(e: int, m: dict, label=label, t0=t0) -> None:
                echo(f"  [{label}] epoch {e + 1}: {job.source.task.summary(m)}"
                     f"  ({time.perf_counter() - t0:.1f} s)")

            def on_epoch_end(r: FitResult, stage=stage, model=model, trace=trace) -> None:
                if run.checkpoint:
                    checkpoint.save(ckpt, {"run_id": rec.run_id, "stage": stage, "done": done,
                                           "model": model, "result": r, "trace": trace,
                                           "labels": resolved}, plan.config_hash)

            # every stage draws its step inputs from the task's stream of the run seed: the
            # same minibatch order for every algorithm (a resumed result restores its state)
            result = train(model, epochs=run.epochs, seed=plan.blueprint.seed, task=job.source.task,
                           schedule=schedule, n_stages=n_stages, trace=trace,
                           on_step=(lambda n, _r, cb=cb: cb(n)) if cb else None,
                           on_epoch=on_epoch, on_epoch_end=on_epoch_end, result=result, stop=stop)
            done[stage] = result
            record(stage, result.history)
            rec.meta[f"cpu_s.{stage}"] = f"{getattr(result, 'cpu_s', 0.0):.6g}"
            if stage == algo:
                rec.step_summaries = result.step_summaries
                _record_stages(rec, model, resolved)
    except (Divergence, Interrupted) as e:
        record(current, e.history)
        if current == algo and result is not None:
            rec.step_summaries = result.step_summaries   # filled in place up to the stop
        rec.status = "diverged" if isinstance(e, Divergence) else "interrupted"
        rec.message = f"{label_of(current)}: {e}"
        write_results(plan.out, rec)
        if isinstance(e, Divergence):
            ckpt.unlink(missing_ok=True)
        raise type(e)(rec.message, e.history) from None
    return done


#: Where the checkpoint's label table keeps a finished pipeline's ``meta.stages``.
STAGES_KEY = "meta.stages"


def _record_stages(rec: RunRecord, model, resolved: dict) -> None:
    """A pipeline's stages (e.g. the L2ight flow) into ``meta.stages`` (JSON): per stage its
    label, steps, what it measured and its device work (settings, streamed vectors, energy J at
    the nominal cost level, from the trace's events of that stage)."""
    trainer = getattr(model, "trainer", None)
    if not callable(getattr(trainer, "stage_report", None)):
        return
    from .price import device_work
    work = trainer.stage_summaries()
    rec.meta["stages"] = json.dumps([{**e, "device": device_work(work.get(e["stage"], {}))}
                                     for e in trainer.stage_report()])
    resolved[STAGES_KEY] = rec.meta["stages"]     # kept by the checkpoint for a resumed run


def _price(plan: Plan, job: Job, rec: RunRecord, done: dict[str, FitResult],
           echo: Callable[[str], None] = print) -> dict:
    """Cost rows of the run, priced by the plan's resolved ``[cost]`` section: its traced
    steps on its device (and, where the algorithm asks, the same step of ``run.batch_size``
    examples on every other kind's preset), GPU bands, measured torch steps; runs that never
    touched a device get the GPU rows of their BP step.

    A cross-device row whose preset cannot run the algorithm's settings (a capability the
    settings ask for, e.g. ``guess_model = "calibrated"`` on a preset without ``calibrate``)
    is left out with its reason in ``rec.meta[UNPRICED_KEY]`` and one echoed line: it is an
    extra comparison, and the trained run must still be written."""
    bp, cost = plan.blueprint, plan.cost
    algo = job.first.name
    spec = registry.ALGORITHMS[algo]
    summaries = done[algo].step_summaries
    if spec.twin_steps:     # its twin steps are priced on the GPU rows of the BP step
        from .price import touched_device
        summaries = [s for s in summaries if touched_device(s)]
    if job.source.objective is None and (spec.twin or not summaries):
        from .price import price_twin_run
        return price_twin_run(rec.config, job.source.data.x_train.shape[1], rec.history, cost=cost)
    if not summaries:
        return {}
    rows = {labels.device_row(bp.device.preset, algo): mean_summary(summaries)}
    if spec.cross_device_row and job.source.objective is None and not bp.model.architecture:
        for kind in KINDS.values():
            if kind.name != bp.device.kind and kind.default_preset:
                row = labels.device_row(kind.default_preset, algo)
                try:
                    rows[row] = _one_step_summary(plan, job, kind.default_preset)
                except build.CapabilityError as e:
                    rec.meta[UNPRICED_KEY] = json.dumps({**unpriced_rows(rec), row: str(e)})
                    echo(f"  cost row {row!r} not priced: {e}")
    if job.source.objective is not None:     # a PDE network: no MLP for the BP / measured rows
        config = {k: v for k, v in rec.config.items() if k != "model.hidden"}
        return price_run(cost, 0, rec, rows, summaries[-1], measure=False, config=config)
    return price_run(cost, job.source.data.x_train.shape[1], rec, rows, summaries[-1])


def run(cfg: Config, out: str | Path | None = None, *, echo: Callable[[str], None] = print,
        progress: Callable[[int, str], Callable[[int], None]] | None = None,
        stop: Callable[[], bool] | None = None, resume: bool = False,
        overwrite: bool = False, before_build: Callable[[], None] | None = None) -> RunRecord:
    """Train as configured, write the results file and return its record: resolve the config
    into a :class:`Plan` → check and load what it trains (:func:`resolve_job`) → build and
    train every stage → price → write.

    ``out``: the path from :func:`prepare` (called here when None). ``progress(total_steps,
    label)`` may return a per-step callback. On divergence the file records
    ``status="diverged"`` and ``Divergence`` propagates; on ``stop()`` ``status="interrupted"``
    and ``Interrupted`` propagates (the checkpoint is kept for ``resume``).
    ``before_build()`` runs once every check has passed and the data is loaded, before any
    device is built: the command line compiles a fresh checkout's kernels there, so a bad
    input is refused before that half minute of CPU, not after it.
    """
    set_threads(cfg.run.threads)
    out = (prepare(cfg, overwrite=overwrite, resume=resume) if out is None
           else resolve_target(out))       # prepare returns the real target already
    ckpt = checkpoint.path_for(out)
    saved = checkpoint.load(ckpt, cfg.run_id, cfg.config_hash) if resume else None
    plan = Plan(out=out, run_id=cfg.run_id, config_hash=cfg.config_hash, config=cfg.flat(),
                config_toml=config_to_toml(cfg), run=cfg.run, data=cfg.data, cost=cfg.cost,
                blueprint=Blueprint.of(cfg))       # nothing after this line reads cfg
    job = resolve_job(plan.blueprint, plan.run, plan.data, plan.cost)
    if before_build is not None:
        before_build()
    rec = RunRecord(config=plan.config, versions=provenance.versions(),
                    config_toml=plan.config_toml, run_id=plan.run_id, meta=dict(job.source.meta))
    done = _train_stages(plan, job, rec, saved, echo=echo, progress=progress, stop=stop)
    rec.costs.update({name: r.to_dict()
                      for name, r in _price(plan, job, rec, done, echo).items()})
    write_results(plan.out, rec)
    plan.ckpt.unlink(missing_ok=True)
    return rec

"""PDE (physics-informed) runs: ``[pde] problem = "hjb20" | "poisson1d"`` with ``algorithm.name =
"tt-zo"``. Driven by :func:`experiments.runner.run`, stored like every run.

The PINN (``pde.architecture``: TT and dense layers, one device per core) trains with TT-ZO
through the configured device; its loss is the Stein / sparse-grid residual loss of
:class:`~algorithms.objectives.pde.PDEObjective` (forward queries only). With ``run.references``
the same network, the same initial knobs, loss and collocation points train with autograd on the
ideal digital twin (:class:`~algorithms.baselines.tt_twin.TTTwinTrainer`), stored as the reference
``"tt-autograd"``.

Results: ``/history`` holds ``loss.pde`` (mean per epoch), ``test_error`` (relative L2 error of
u_σ against the exact solution on ``pde.test_points`` fixed points; in place of accuracy) and
``steps``; the device run's per-step trace summaries and its cost rows (device bands and the GPU
band of the same traced work; no GPU BP row: the BP model of the price module is an MLP
classifier).

Checkpoints and resume, as for classification runs (:mod:`experiments.runner`): with
``run.checkpoint`` (the default) every epoch boundary writes ``<out>.ckpt`` (atomic, data only)
holding the stage being trained (``"device"`` or the reference), the finished stage's history and
the whole live state of the current one — the trainable (knobs, optimizer state, its random
streams), the devices (their noise streams), the trace, the collocation generator, the history,
the step summaries and the step count — one data-only tree in which shared references stay shared.
``stop()`` is polled after every step: the run writes its partial results with status
"interrupted" and raises :class:`~algorithms.training.Interrupted`; with ``resume=True`` it restarts
from the last boundary and ends with the history, step summaries and costs of an uninterrupted
run. The checkpoint is removed when the run finishes or diverges.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable


from algorithms import registry
from algorithms.baselines.tt_twin import LABEL as TWIN_LABEL, TTTwinTrainer
from algorithms.training import Divergence, Interrupted
from algorithms.objectives.pde import PDEObjective, problem_by_name, relative_l2
from algorithms.seeds import derive_seed, generator
from algorithms.stein import sparse_grid_rule
from algorithms.tt import parse_tt_layer
from hwsim.oracle import TracingOracle
from hwsim.trace import Trace

from .config import Config
from .outputs import OutputError
from .results import RunRecord, write_results

__all__ = ["run_pde", "pde_shapes", "build_core_devices", "pde_parts", "REFERENCE"]

REFERENCE = "tt-autograd"


def pde_shapes(cfg: Config):
    return [parse_tt_layer(a, f"pde.architecture[{i}]") for i, a in enumerate(cfg.pde.architecture)]


def build_core_devices(physics, shapes, seed: int, prefix: str = "layer"):
    """One device per TT core, named ``<prefix><layer>.core<k>``, seeds from ``device/tt<j>``."""
    from .build import layer_from_physics
    out, j = [], 0
    for li, sh in enumerate(shapes):
        for k, (n_in, n_out) in enumerate(sh.device_shapes()):
            out.append(layer_from_physics(physics, n_in, n_out,
                                          seed=derive_seed(seed, f"device/tt{j}") % (2 ** 62),
                                          name=f"{prefix}{li}.core{k}"))
            j += 1
    return out


def pde_parts(cfg: Config, trace: Trace, physics=None):
    """(problem, objective, tt-zo trainable, devices) of a PDE config."""
    problem = problem_by_name(cfg.pde.problem)
    objective = PDEObjective(problem, sparse_grid_rule(problem.dim, cfg.pde.sparse_grid_level),
                             cfg.pde.sigma, cfg.pde.boundary_weight)
    shapes = pde_shapes(cfg)
    devices = build_core_devices(physics or cfg.device.physics, shapes, cfg.run.seed)
    settings = registry.settings_for("tt-zo", cfg.algorithm.settings)
    trainable = registry.build_tt(settings, devices, objective, seed=cfg.run.seed, trace=trace,
                                  shapes=shapes, activation=cfg.pde.activation)
    return problem, objective, trainable, devices


def _error(model, objective, x_test, u_exact) -> float:
    empty = x_test[:0]
    out = model.outputs(objective.inputs(x_test, empty))
    return relative_l2(objective.values(out, x_test.shape[0]), u_exact)


def _fresh_state(cfg: Config) -> dict:
    """Loop state of one training stage at its start (what a checkpoint stores and restores)."""
    return {"epoch": 0, "step": 0, "hist": {}, "summaries": [],
            "gen": generator(cfg.run.seed, "pde/collocation")}


def _train(model, problem, objective, cfg: Config, x_test, u_exact, *, trace, label, echo,
           progress, stop, state: dict | None = None,
           on_epoch_end: Callable[[dict], None] | None = None) -> tuple[dict, list]:
    """Train ``cfg.run.epochs`` epochs of ``pde.steps_per_epoch`` steps from ``state`` (a fresh
    one when None; updated in place), calling ``on_epoch_end(state)`` at every epoch boundary."""
    p = cfg.pde
    state = _fresh_state(cfg) if state is None else state
    gen, hist, summaries = state["gen"], state["hist"], state["summaries"]
    total = cfg.run.epochs * p.steps_per_epoch
    cb = progress(total, label) if progress else None
    step, t0 = state["step"], time.perf_counter()
    for epoch in range(state["epoch"], cfg.run.epochs):
        losses = []
        for _ in range(p.steps_per_epoch):
            x = problem.sample_interior(p.interior_points, gen)
            y = problem.sample_boundary(p.boundary_points, gen)
            if trace is not None:
                trace.begin_step()
            m = model.step(x, y)
            if trace is not None:
                summaries.append(trace.end_step())
            step += 1
            if cb:
                cb(step)
            loss = m["loss.global"]
            if not math.isfinite(loss):
                hist.setdefault("diverged_at_step", []).append(step)
                raise Divergence(f"training diverged at step {step} (epoch {epoch + 1}): "
                                 "non-finite loss.pde", hist)
            losses.append(loss)
            if stop is not None and stop():
                raise Interrupted(f"interrupted at step {step} (epoch {epoch + 1})", hist)
        err = _error(model, objective, x_test, u_exact)
        for k, v in (("loss.pde", sum(losses) / len(losses)), ("test_error", err),
                     ("steps", float(step))):
            hist.setdefault(k, []).append(v)
        state["epoch"], state["step"] = epoch + 1, step
        echo(f"  [{label}] epoch {epoch + 1}: loss {hist['loss.pde'][-1]:.4g}, relative L2 error "
             f"{err:.4f}  ({time.perf_counter() - t0:.1f} s)")
        if on_epoch_end is not None:
            on_epoch_end(state)
    return hist, summaries


def _load(ckpt: Path, run_id: str, template: dict) -> dict:
    from .runner import _checkpoint_header, _load_checkpoint
    blob, _ = _checkpoint_header(ckpt, run_id)
    saved = _load_checkpoint(ckpt, template, blob=blob)
    if saved.get("run_id") != run_id or saved.get("task") != "pde":
        raise OutputError(f"--resume: checkpoint {str(ckpt)!r} belongs to run "
                          f"{saved.get('run_id')}, not to the PDE run {run_id}; allowed: the same "
                          "config")
    return saved


def _twin(cfg: Config, trainable, devices, objective):
    """The autograd reference of a PDE run: the same TT network on the ideal twin."""
    net = trainable.trainer.net
    twin_net = type(net).build(net.shapes, [TracingOracle(d, Trace()) for d in devices],
                               net.activation)
    s = trainable.settings
    return TTTwinTrainer(twin_net, registry.tt_initial_knobs(net.shapes, devices, cfg.run.seed),
                         objective, knob_lr_range_units=s.knob_lr_range_units,
                         bias_lr=s.head_lr, seed=cfg.run.seed)


def run_pde(cfg: Config, out: Path, *, rec: RunRecord, echo: Callable[[str], None] = print,
            progress=None, stop=None, resume: bool = False) -> RunRecord:
    """Train the PINN of ``cfg`` (device run, then the twin reference) and write ``out``;
    with ``resume`` continue from ``<out>.ckpt`` (see the module docstring)."""
    from .runner import _save_checkpoint, checkpoint_path
    ckpt = checkpoint_path(Path(out))
    trace = Trace()
    problem, objective, trainable, devices = pde_parts(cfg, trace)
    # a checkpoint holds data only; its code (update rules) is this rebuilt tree's
    saved = _load(ckpt, cfg.run_id, {
        "problem": problem, "objective": objective, "trainable": trainable, "devices": devices,
        "twin": _twin(cfg, trainable, devices, objective)}) if resume else None
    if saved is not None:
        problem, objective = saved["problem"], saved["objective"]
        trainable, devices, trace = saved["trainable"], saved["devices"], saved["trace"]
    x_test = problem.sample_interior(cfg.pde.test_points, generator(cfg.run.seed, "pde/test"))
    u_exact = problem.exact(x_test)
    net = trainable.trainer.net
    echo(f"forwardlab: PDE {problem.name} (D = {problem.dim}), PINN {net.describe()}, "
         f"{objective.rule.name} ({objective.rule.evaluations} evaluations per point, "
         f"sigma {cfg.pde.sigma}), device {cfg.device.preset}, algorithm tt-zo "
         f"({trainable.label}), {trainable.device_queries_per_step()} device queries/step, "
         f"run {cfg.run_id}")
    if saved is not None:
        echo(f"  resuming from {ckpt} (stage {saved['stage']}, {saved['result']['epoch']} "
             "epoch(s) done)")
    label = f"tt-zo ({trainable.label}) on {cfg.device.preset}"
    current = label
    done: dict = dict(saved["done"]) if saved else {}

    def saver(stage: str, extra: dict):
        def on_epoch_end(state: dict) -> None:
            if cfg.run.checkpoint:
                _save_checkpoint(ckpt, {"run_id": cfg.run_id, "task": "pde", "stage": stage,
                                        "done": done, "result": state, "problem": problem,
                                        "objective": objective, "trainable": trainable,
                                        "devices": devices, "trace": trace, **extra})
        return on_epoch_end

    try:
        if "device" in done:
            rec.history, rec.step_summaries = done["device"]
        else:
            state = saved["result"] if saved is not None else None
            rec.history, rec.step_summaries = _train(
                trainable.trainer, problem, objective, cfg, x_test, u_exact, trace=trace,
                label=label, echo=echo, progress=progress, stop=stop, state=state,
                on_epoch_end=saver("device", {}))
            done["device"] = (rec.history, rec.step_summaries)
        if cfg.run.references:
            current = f"TT-PINN ({TWIN_LABEL})"
            if saved is not None and saved["stage"] == REFERENCE:
                twin, state = saved["twin"], saved["result"]
            else:
                twin, state = _twin(cfg, trainable, devices, objective), None
            rec.references[REFERENCE], _ = _train(twin, problem, objective, cfg, x_test, u_exact,
                                                  trace=None, label=current, echo=echo,
                                                  progress=progress, stop=stop, state=state,
                                                  on_epoch_end=saver(REFERENCE, {"twin": twin}))
    except (Divergence, Interrupted) as e:
        if current == label:
            rec.history = e.history
        else:
            rec.references[REFERENCE] = e.history
        rec.status = "diverged" if isinstance(e, Divergence) else "interrupted"
        rec.message = f"{current}: {e}"
        write_results(out, rec)
        if isinstance(e, Divergence):
            ckpt.unlink(missing_ok=True)
        raise type(e)(rec.message, e.history) from None
    if rec.step_summaries:
        from .price import mean_summary, price_summaries
        config = {k: v for k, v in rec.config.items() if k != "model.hidden"}
        reports = price_summaries(config, {f"{cfg.device.preset} tt-zo":
                                           mean_summary(rec.step_summaries)},
                                  history=rec.history, last_summary=rec.step_summaries[-1])
        rec.costs.update({name: r.to_dict() for name, r in reports.items()})
    write_results(out, rec)
    ckpt.unlink(missing_ok=True)
    return rec

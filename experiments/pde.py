"""PDE (physics-informed) tasks: ``[pde] problem = "hjb20" | "poisson1d"`` with ``algorithm.name =
"tt-zo"``. Run by :func:`experiments.runner.run` with the same loop, checkpoints, interrupt and
divergence handling as classification; stored like every run.

The PINN (``pde.architecture``: TT and dense layers, one device per core) trains with TT-ZO
through the configured device; its loss is the Stein / sparse-grid residual loss of
:class:`~algorithms.objectives.pde.PDEObjective` (forward queries only). With ``run.references``
the same network, the same initial knobs, loss and collocation points train with autograd on the
ideal digital twin (registry algorithm ``tt-autograd``), stored as the reference
``"tt-autograd"``.

Results: ``/history`` holds ``loss.pde`` (mean per epoch), ``test_error`` (relative L2 error of
u_σ against the exact solution on ``pde.test_points`` fixed points; in place of accuracy) and
``steps``; the device run's per-step trace summaries and its cost rows (device bands and the GPU
band of the same traced work; no GPU BP row: the BP model of the price module is an MLP
classifier).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from algorithms.objectives.pde import PDEObjective, problem_by_name, relative_l2
from algorithms.seeds import PDE_COLLOCATION, PDE_TEST, generator
from algorithms.stein import sparse_grid_rule
from algorithms.tt import parse_tt_layer

from .config import PDESection

__all__ = ["PDETask", "pde_task", "pde_shapes", "REFERENCE", "relative_error"]

#: the reference stage of a PDE run: the same TT network with autograd on the twin
REFERENCE = "tt-autograd"


def pde_shapes(pde: PDESection):
    """The TT / dense layer shapes of ``pde.architecture``."""
    return [parse_tt_layer(a, f"pde.architecture[{i}]") for i, a in enumerate(pde.architecture)]


def relative_error(model, objective: PDEObjective, x_test: Tensor, u_exact: Tensor) -> float:
    """Relative L2 error of the model's u_σ against ``u_exact`` at ``x_test``."""
    trainer = getattr(model, "trainer", model)
    out = trainer.outputs(objective.inputs(x_test, x_test[:0]))
    return relative_l2(objective.values(out, x_test.shape[0]), u_exact)


@dataclass(frozen=True, eq=False)
class PDETask:
    """A training task (:class:`algorithms.training.Task`): ``steps_per_epoch`` steps of
    collocation points (interior ``x``, boundary ``y``) from the stream ``PDE_COLLOCATION``; per
    epoch the mean residual loss (``loss.pde``) and the relative L2 error (``test_error``)."""

    problem: Any
    objective: PDEObjective
    interior_points: int
    boundary_points: int
    steps_per_epoch: int
    x_test: Tensor
    u_exact: Tensor
    stream: str = PDE_COLLOCATION

    def batches(self, gen):
        for _ in range(self.steps_per_epoch):
            x = self.problem.sample_interior(self.interior_points, gen)
            y = self.problem.sample_boundary(self.boundary_points, gen)
            yield x, y

    def epoch_metrics(self, model, step_means, stages):
        return {"loss.pde": step_means["loss.global"],
                "test_error": relative_error(model, self.objective, self.x_test, self.u_exact)}

    @staticmethod
    def summary(metrics: dict) -> str:
        return (f"loss {metrics['loss.pde']:.4g}, relative L2 error "
                f"{metrics['test_error']:.4f}")


def pde_task(p: PDESection, seed: int) -> PDETask:
    """The PDE task of the ``[pde]`` section (problem, residual objective, fixed test points
    drawn from stream ``PDE_TEST`` of the run seed)."""
    problem = problem_by_name(p.problem)
    objective = PDEObjective(problem, sparse_grid_rule(problem.dim, p.sparse_grid_level),
                             p.sigma, p.boundary_weight)
    x_test = problem.sample_interior(p.test_points, generator(seed, PDE_TEST))
    return PDETask(problem, objective, p.interior_points, p.boundary_points, p.steps_per_epoch,
                   x_test, problem.exact(x_test))

"""Adam for the autograd baselines' leaf tensors, built on :mod:`algorithms.updates`.

``torch.optim.Adam`` would do the same arithmetic, but constructing the first torch optimizer
of a process imports torch's compiler (``Optimizer.add_param_group`` is wrapped by
``torch._disable_dynamo``: about 1 s of CPU before the first reference step). Here each leaf
tensor holds its own :class:`~algorithms.updates.AdamState` of the ``"torch"`` form, counts its
own steps and is skipped while it has no gradient, as in ``torch.optim.Adam``; the parameters
equal torch's bit for bit (tests/algorithms/test_updates.py). The state is plain data (frozen
rule, named tuples of tensors), so a checkpoint holds no optimizer object.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from hwsim.lazy import torch

from ..updates import adam

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["LeafAdam"]


class LeafAdam:
    """Adam over groups of leaf tensors, each group with its learning rate.

    Args:
        groups: ``(tensors, lr)`` per group; the tensors are updated in place by :meth:`step`.
    """

    def __init__(self, groups: Sequence[tuple[Sequence[Tensor], float]]) -> None:
        self.params = [list(ps) for ps, _ in groups]
        self.lrs = [float(lr) for _, lr in groups]
        self.states: list[list] = [[None] * len(ps) for ps in self.params]

    def zero_grad(self) -> None:
        for ps in self.params:
            for p in ps:
                p.grad = None

    def step(self, lrs: Sequence[float] | None = None) -> None:
        """One Adam step of every tensor that has a gradient (``lrs``: this step's rate per
        group, e.g. a schedule; default the groups' rates)."""
        for g, ps in enumerate(self.params):
            rule = adam(self.lrs[g] if lrs is None else float(lrs[g]), form="torch")
            for i, p in enumerate(ps):
                if p.grad is None:
                    continue
                state = self.states[g][i]
                if state is None:
                    state = rule.init({"p": p.detach()})
                update, self.states[g][i] = rule.update({"p": p.grad}, state)
                with torch.no_grad():
                    p.add_(update["p"])

"""Deferred imports of heavy modules (torch), so that the parts of forwardlab that only *name*
things — the config dataclasses of every effect and algorithm, the presets, the registries —
import without them and the listing commands (``forwardlab algorithms``, ``presets``,
``config show``) start in a fraction of a second (importing torch costs about 2 s of CPU).

A module writes ``from hwsim.lazy import torch`` instead of ``import torch`` and uses ``torch``
as before inside its functions. The name is bound to a :class:`LazyModule` stand-in; the first
attribute read imports torch, and then rebinds the name ``torch`` to the real module in the
globals of the module whose code read it, so every later use there is a plain global look-up
(no per-call indirection in the step loops). Module-level code must not read an attribute of
it (a default value ``torch.float32``, a decorator ``@torch.no_grad()``, a module constant):
that would import torch at import time again (tests/experiments/test_startup.py runs the
listing commands and asserts that ``torch`` is not in ``sys.modules``).

Annotations are strings (``from __future__ import annotations``), so ``Tensor`` in a signature
costs nothing; modules import it under ``typing.TYPE_CHECKING``.
"""
from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

__all__ = ["LazyModule", "torch", "nn_functional", "no_grad", "broadcast_shapes", "loaded"]


class LazyModule:
    """Stand-in for module ``name``: imports it on the first attribute read."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def _load(self) -> ModuleType:
        return importlib.import_module(self._name)

    def __getattr__(self, attr: str) -> Any:
        module = self._load()
        caller = sys._getframe(1).f_globals
        for key, value in list(caller.items()):   # rebind the caller's name(s) to the real module
            if value is self:
                caller[key] = module
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "imported" if self._name in sys.modules else "not imported"
        return f"<lazy module {self._name!r} ({state})>"


#: torch, imported on first use
torch = LazyModule("torch")


def no_grad(fn):
    """``@torch.no_grad()`` for a function defined at import time (the decorator itself would
    import torch)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with torch.no_grad():
            return fn(*args, **kwargs)
    return wrapper


def broadcast_shapes(*shapes) -> tuple[int, ...]:
    """``torch.broadcast_shapes`` in plain Python (the same result, RuntimeError where shapes do
    not broadcast): torch's imports its symbolic-shape machinery and sympy on its first call,
    about 0.5 s of CPU in the first step of every run."""
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for shape in shapes:
        for i, n in enumerate(shape, start=ndim - len(shape)):
            n = int(n)
            if n != 1 and out[i] != 1 and n != out[i]:
                raise RuntimeError(f"shapes {[tuple(s) for s in shapes]} are not broadcastable")
            if n != 1 or out[i] == 1:
                out[i] = n if out[i] == 1 else out[i]
    return tuple(out)


def loaded(name: str = "torch") -> bool:
    """Whether module ``name`` has been imported in this process."""
    return name in sys.modules

#: torch.nn.functional, imported on first use
nn_functional = LazyModule("torch.nn.functional")

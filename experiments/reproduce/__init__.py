"""Reproductions of published in-situ training experiments (``forwardlab reproduce``).

A reproduction is a declared experiment (:class:`~.base.Reproduction`): its config and protocol
with the published values, their sources and tolerances. Each module of this package registers
its experiments; ``REPRODUCTIONS`` is filled on import of the package, which imports every module
but the shared ones (a new reproduction is one new module, no list to edit).
"""
from __future__ import annotations

import importlib
import pkgutil

from .base import REPRODUCTIONS, Published, Reproduction, register

#: modules of this package that hold machinery, not reproductions
_SHARED = {"base", "common", "run"}
for _m in pkgutil.iter_modules(__path__):
    if _m.name not in _SHARED:
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["REPRODUCTIONS", "Published", "Reproduction", "register", "list_lines"]


def list_lines() -> list[str]:
    """One line per reproduction: name, paper, published figure."""
    return [f"{r.name:<12} {r.paper}  —  {r.headline}" for r in REPRODUCTIONS.values()]

"""Reproductions of published in-situ training experiments (``forwardlab reproduce``).

A reproduction is a declared experiment (:class:`~.base.Reproduction`): its config and protocol
with the published values, their sources and tolerances. Each module registers its experiments;
``REPRODUCTIONS`` is filled on import of this package.
"""
from __future__ import annotations

from .base import REPRODUCTIONS, Published, Reproduction, register
from . import ficonn2024, pai2023  # noqa: F401  (register)

__all__ = ["REPRODUCTIONS", "Published", "Reproduction", "register", "list_lines"]


def list_lines() -> list[str]:
    """One line per reproduction: name, paper, published figure."""
    return [f"{r.name:<12} {r.paper}  —  {r.headline}" for r in REPRODUCTIONS.values()]

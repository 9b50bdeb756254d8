"""Run checkpoints: ``<results file>.ckpt`` beside the results file, written atomically at every
epoch boundary and removed when the run finishes or diverges.

A checkpoint is a dict ``{"run_id", "stage", "done", "result", "model", "trace", "labels"}``:
the stage being trained, the finished stages' :class:`~algorithms.training.FitResult`, the
current stage's result (its minibatch-stream state included) and its live trainable (knobs,
update-rule state, random streams, devices) and trace, pickled together so that shared
references stay shared. Only :func:`save`, :func:`load` and :func:`path_for` know the format.
"""
from __future__ import annotations

from pathlib import Path

from .outputs import OutputError, atomic_write

__all__ = ["path_for", "save", "load", "REQUIRED_KEYS"]

REQUIRED_KEYS = frozenset({"run_id", "stage", "done", "result"})


def path_for(out: Path) -> Path:
    """The checkpoint of results file ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".ckpt")


def save(path: Path, state: dict) -> None:
    """Write ``state`` atomically (plain pickle: trainers, update rules and estimators are
    data — frozen dataclasses and tensors — with no closures)."""
    import pickle
    with atomic_write(path) as tmp, open(tmp, "wb") as fh:
        pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)


def load(path: Path, run_id: str) -> dict:
    """The checkpoint at ``path`` of run ``run_id``; one-line :class:`OutputError` when it cannot
    be read or belongs to another run."""
    import pickle
    try:
        with open(path, "rb") as fh:
            state = pickle.load(fh)
        if not isinstance(state, dict) or not REQUIRED_KEYS <= set(state):
            raise ValueError("not a forwardlab checkpoint")
    except Exception as e:
        raise OutputError(f"--resume: checkpoint {str(path)!r} cannot be read ({type(e).__name__}); "
                          "allowed: a checkpoint written by forwardlab run") from None
    if state.get("run_id") != run_id:
        raise OutputError(f"--resume: checkpoint {str(path)!r} belongs to run "
                          f"{state.get('run_id')}, not {run_id}; allowed: the same config")
    return state

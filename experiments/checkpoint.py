"""Run checkpoints: ``<results file>.ckpt`` beside the results file, written atomically at every
epoch boundary and removed when the run finishes or diverges.

A checkpoint is a dict ``{"run_id", "stage", "done", "result", "model", "trace", "labels"}``:
the stage being trained, the finished stages' :class:`~algorithms.training.FitResult`, the
current stage's result (its minibatch-stream state included) and its live trainable (knobs,
update-rule state, random streams, devices) and trace, stored as data only
(:mod:`experiments.datatree`: HDF5 holding JSON and raw tensor storages, shared references kept;
reading it never executes anything stored in it — a planted pickle or a name outside the
project is refused). The file names its run id and config hash (``Config.config_hash``); a checkpoint of another run or
config, or one that cannot be read, is refused in one line that says what to do. Only
:func:`save`, :func:`load`, :func:`check_path` and :func:`path_for` know the format.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from .outputs import OutputError, write_bytes

__all__ = ["path_for", "save", "load", "check_path", "REQUIRED_KEYS", "KIND"]

REQUIRED_KEYS = frozenset({"run_id", "stage", "done", "result"})
#: The ``kind`` attribute of a checkpoint file.
KIND = "forwardlab checkpoint"


def path_for(out: Path) -> Path:
    """The checkpoint of results file ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".ckpt")


def _is_checkpoint(path: Path) -> bool:
    from .datatree import TreeError, read_attrs
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != b"\x89HDF\r\n\x1a\n":
                return False
        return read_attrs(Path(path).read_bytes()).get("kind") == KIND
    except (OSError, TreeError):
        return False


def save(path: Path, state: dict, config_hash: str = "") -> None:
    """Write ``state`` as data only, atomically, never through a link or over a file forwardlab
    did not write; a full disk raises :class:`~experiments.outputs.WriteError` and leaves the
    previous checkpoint intact."""
    from .datatree import dumps
    attrs = {"kind": KIND, "run_id": str(state.get("run_id", "")),
             "stage": str(state.get("stage", "")), "config_hash": config_hash}
    write_bytes(path, dumps(state, attrs), follow=False, owned=_is_checkpoint, what="checkpoint")


def _refused(path: Path, why: str) -> OutputError:
    return OutputError(f"--resume: checkpoint {str(path)!r} cannot be read ({why}); allowed: a "
                       "checkpoint written by forwardlab for this run; delete it and run again "
                       "without --resume to start the run over")


@contextmanager
def _reading(path: Path):
    """Reading the checkpoint at ``path``: a file that cannot be read, or is not a forwardlab
    checkpoint, is refused in one line (:func:`_refused`)."""
    from .datatree import TreeError
    try:
        yield
    except TreeError as e:
        raise _refused(path, str(e)) from None
    except OSError as e:
        raise _refused(path, e.strerror or type(e).__name__) from None


def _header(path: Path, run_id: str, chash: str) -> bytes:
    from .datatree import TreeError, read_attrs
    if path.is_symlink():
        raise _refused(path, "it is a symbolic link")
    with _reading(path):
        blob = path.read_bytes()
        attrs = read_attrs(blob)
        if attrs.get("kind") != KIND:
            raise TreeError("not a forwardlab checkpoint")
    if attrs.get("run_id") != run_id or (chash and attrs.get("config_hash", chash) != chash):
        raise OutputError(f"--resume: checkpoint {str(path)!r} belongs to run "
                          f"{attrs.get('run_id')} (config hash {attrs.get('config_hash', '')[:12]}), "
                          f"not {run_id}; allowed: the same config; delete the checkpoint to start "
                          "the run over")
    return blob


def load(path: Path, run_id: str, chash: str = "") -> dict:
    """The checkpoint at ``path`` of run ``run_id`` (and config hash ``chash``); one-line
    :class:`OutputError` when it cannot be read or belongs to another run. Nothing stored in the
    file is executed: its header is checked first, the data decoded last."""
    from .datatree import TreeError, loads
    path = Path(path)
    blob = _header(path, run_id, chash)
    with _reading(path):
        state, _ = loads(blob)
        if not isinstance(state, dict) or not REQUIRED_KEYS <= set(state):
            raise TreeError("not a forwardlab checkpoint")
    return state


def check_path(ckpt: Path, run_id: str, chash: str, *, resume: bool, enabled: bool) -> None:
    """Before any work: the checkpoint path can take forwardlab's checkpoint (no link, no
    directory, no file of someone else's) and, with ``resume``, holds this run's."""
    if not enabled and not resume:
        return
    if ckpt.is_symlink():
        raise OutputError(f"checkpoint {str(ckpt)!r} is a symbolic link; forwardlab never writes "
                          "through links in its own files; allowed: remove the link")
    if ckpt.exists() and not ckpt.is_file():
        raise OutputError(f"checkpoint {str(ckpt)!r} exists and is not a regular file; allowed: "
                          "remove it or choose another --out")
    if resume and ckpt.is_file():
        _header(ckpt, run_id, chash)
    elif ckpt.is_file() and not _is_checkpoint(ckpt):
        raise OutputError(f"checkpoint {str(ckpt)!r} exists and was not written by forwardlab; it "
                          "is never replaced; allowed: move it away or choose another --out")

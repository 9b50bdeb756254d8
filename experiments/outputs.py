"""Output paths that never lose work: checked before training, never clobbered silently,
written atomically with the umask's mode, symlinks followed (never replaced).

``check_output(path, overwrite=...)`` is called before anything is trained; ``atomic_write``
writes through a temporary file named ``.<name>.<pid>.<random>.tmp`` in the target's directory,
fsyncs it, sets the mode the umask allows and renames it over the target. A temporary file
whose writer process is gone is stale and removed by ``clean_stale_temporaries``.
"""
from __future__ import annotations

import os
import re
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

__all__ = ["OutputError", "check_output", "resolve_target", "atomic_write", "clean_stale_temporaries",
           "is_results_file", "unique_path", "umask_mode"]


class OutputError(ValueError):
    """An output path cannot be used; the message says why and what is allowed."""


def umask_mode(base: int = 0o666) -> int:
    """``base`` masked by the process umask (what ``open(..., "w")`` would give)."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def resolve_target(path: str | Path) -> Path:
    """The file a write to ``path`` lands in: symlinks (also dangling ones) are followed."""
    p = Path(path)
    seen = 0
    while p.is_symlink():
        seen += 1
        if seen > 40:
            raise OutputError(f"output path {str(path)!r} is a symlink loop; allowed: a regular "
                              "file path")
        target = Path(os.readlink(p))
        p = target if target.is_absolute() else p.parent / target
    return p


def is_results_file(path: Path) -> bool:
    """True if ``path`` is an HDF5 file written by forwardlab (has ``forwardlab_schema``)."""
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != b"\x89HDF\r\n\x1a\n":
                return False
        import h5py
        with h5py.File(path, "r") as f:
            return "forwardlab_schema" in f.attrs
    except (OSError, ValueError):
        return False


def check_output(path: str | Path, *, overwrite: bool = False, replaceable: Callable[[Path], bool]
                 | None = None, what: str = "output file") -> Path:
    """Check, before any work, that ``path`` can take a results file; return the real target.

    Allowed: a new file in an existing, writable directory; an existing forwardlab results file
    with ``overwrite`` (or one ``replaceable(target)`` accepts, e.g. an interrupted run being
    resumed). Refused with one line: directories, device nodes, FIFOs, sockets, paths under a
    file, missing or read-only parent directories, and any file that is not a forwardlab
    results file (never overwritten, even with ``overwrite``).
    """
    raw = str(path)
    if not raw or "\x00" in raw:
        raise OutputError(f"{what} {raw!r}; allowed: a file path")
    try:
        return _check(path, raw, overwrite, replaceable, what)
    except OSError as e:   # e.g. a name longer than the file system allows
        raise OutputError(f"{what} {raw[:80] + ('…' if len(raw) > 80 else '')!r} cannot be used "
                          f"({e.strerror}); allowed: a writable file path") from None


def _check(path, raw: str, overwrite: bool, replaceable, what: str) -> Path:
    target = resolve_target(path)
    if target.exists() or target.is_symlink():
        try:
            mode = target.stat().st_mode
        except OSError as e:
            raise OutputError(f"{what} {raw!r} cannot be inspected ({e.strerror}); allowed: a "
                              "regular file path") from None
        if stat.S_ISDIR(mode):
            raise OutputError(f"{what} {raw!r} is a directory; allowed: a file path inside it, "
                              f"e.g. {str(Path(raw) / 'run.h5')!r}")
        if not stat.S_ISREG(mode):
            raise OutputError(f"{what} {raw!r} is a device, FIFO or socket; allowed: a regular "
                              "file path")
        if not is_results_file(target):
            raise OutputError(f"{what} {raw!r} exists and is not a forwardlab results file; it is "
                              "never overwritten; allowed: a new path")
        if not overwrite and not (replaceable and replaceable(target)):
            raise OutputError(f"{what} {raw!r} already holds forwardlab results; allowed: a new "
                              "path, or --overwrite to replace it")
    parent = target.parent
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise OutputError(f"{what} {raw!r} lies under {str(probe)!r}, which is a file; allowed: a "
                          "path in a directory")
    if not parent.is_dir():
        raise OutputError(f"{what} {raw!r}: directory {str(parent)!r} does not exist; allowed: a "
                          "path in an existing directory")
    try:   # os.access says yes to root even on a read-only mount: try a real file
        fd, probe_file = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                                          dir=parent)
        os.close(fd)
        os.unlink(probe_file)
    except OSError as e:
        raise OutputError(f"{what} {raw!r}: directory {str(parent)!r} is not writable "
                          f"({e.strerror}); allowed: a writable directory") from None
    return target


def unique_path(directory: Path, stem: str, suffix: str = ".h5") -> Path:
    """``directory/stem.h5``, or ``stem-2.h5``, ``stem-3.h5``, … if taken."""
    p = directory / f"{stem}{suffix}"
    n = 2
    while p.exists() or p.is_symlink():
        p = directory / f"{stem}-{n}{suffix}"
        n += 1
    return p


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``'s real target; on success fsync, chmod to the
    umask's mode and rename it over the target (a symlink at ``path`` keeps pointing there).
    On any failure, or a kill before the rename, the target is untouched."""
    target = resolve_target(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                               dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, umask_mode())
        os.replace(tmp, target)
        try:   # the rename itself is durable once the directory entry is on disk
            dfd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:   # pragma: no cover - some filesystems refuse directory fsync
            pass
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_TMP = re.compile(r"^\..+\.(\d+)\.[^.]+\.tmp$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # pragma: no cover - someone else's live process
        return True
    try:   # a killed process not yet reaped (zombie) writes nothing any more
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):   # pragma: no cover - no /proc: trust kill(0)
        return True


def clean_stale_temporaries(directory: str | Path) -> list[Path]:
    """Remove ``.<name>.<pid>.<x>.tmp`` files in ``directory`` whose writer is dead."""
    removed = []
    d = Path(directory)
    if not d.is_dir():
        return removed
    for p in d.iterdir():
        m = _TMP.match(p.name)
        if m and p.is_file() and not _alive(int(m.group(1))):
            try:
                p.unlink()
                removed.append(p)
            except OSError:   # pragma: no cover - raced with another cleaner
                pass
    return removed

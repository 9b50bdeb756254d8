"""Output paths that never lose work: checked before training, never clobbered silently,
written atomically with the umask's mode; nothing outside the chosen output is ever written.

``check_output(path, overwrite=...)`` is called before anything is trained; ``atomic_write``
writes through a temporary file named ``.<name>.<pid>.<random>.tmp`` in the target's directory
(created with ``O_EXCL``, so never through a planted link), fsyncs it, sets the mode the umask
allows and renames it over the target. A temporary file whose writer process is gone is stale
and removed by ``clean_stale_temporaries``.

Two kinds of path:

* the results file the user names (``run --out``): a symlink there is the user's choice and is
  followed (the link keeps pointing at the new file);
* auxiliary files forwardlab names itself (checkpoints, a sweep's index and run files, report
  plots, CSVs, HTML): ``follow=False``. A link there is refused, never written through, and an
  existing file is replaced only when forwardlab wrote it (``owned``, or the folder's manifest
  :class:`OutputFolder` lists it). Report and sweep folders use :class:`OutputFolder`.

A write that fails for lack of space or an I/O error raises :class:`WriteError` naming the
path, the free space and the space needed; the previous file at the path is untouched.
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

__all__ = ["OutputError", "WriteError", "check_output", "resolve_target", "atomic_write",
           "write_bytes", "clean_stale_temporaries", "is_results_file", "unique_path", "umask_mode",
           "refuse_link", "OutputFolder", "MANIFEST", "human_bytes"]


class OutputError(ValueError):
    """An output path cannot be used; the message says why and what is allowed."""


class WriteError(OutputError):
    """Writing failed (disk full, quota, I/O error, read-only file system): not a bad input but
    a failure of the machine, so the command line exits 1 (bad inputs exit 2). The message names
    the path, the free space and the space needed; the previous file there is untouched."""

    exit_code = 1


#: errno values that mean "the storage failed", not "the path is wrong".
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EROFS})


def human_bytes(n: float) -> str:
    """``1536`` → ``'1.5 KiB'`` (binary units, as ``df -h``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"   # pragma: no cover


def _free_bytes(directory: Path) -> int | None:
    try:
        return shutil.disk_usage(directory).free
    except OSError:
        return None


def _write_error(path: Path, e: OSError, needed: int | None) -> WriteError:
    free = _free_bytes(path.parent)
    room = f"{human_bytes(free)} free there" if free is not None else "free space unknown"
    need = f", about {human_bytes(needed)} needed" if needed else ""
    what = ("free space on that file system, or another output path"
            if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
            else "a writable, healthy file system, or another output path")
    return WriteError(f"cannot write {str(path)!r}: {e.strerror or e} ({room}{need}); the "
                      f"previous file there and earlier results are intact; allowed: {what}")


def refuse_link(path: str | Path, what: str = "output file") -> None:
    """Refuse a symlink at an auxiliary path forwardlab names itself (a link planted there
    would make the write land outside the output folder)."""
    if Path(path).is_symlink():
        raise OutputError(f"{what} {str(path)!r} is a symbolic link; forwardlab never writes "
                          "through links in its own files; allowed: remove the link")


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
def atomic_write(path: str | Path, *, follow: bool = True, owned: Callable[[Path], bool] | None = None,
                 needed: int | None = None, what: str = "output file") -> Iterator[Path]:
    """Yield a temporary path beside the target; on success fsync, chmod to the umask's mode and
    rename it over the target. On any failure, or a kill before the rename, the target is
    untouched.

    ``follow``: the user's own results path, where a symlink is followed (it keeps pointing
    there). ``follow=False`` for auxiliary files: a link at ``path`` is refused, and an existing
    file is replaced only if ``owned(path)`` says forwardlab wrote it (no ``owned``: any regular
    file may be replaced). ``needed``: the bytes about to be written (named in a disk-full
    error). Storage failures (ENOSPC, EDQUOT, EIO, EFBIG, EROFS) raise :class:`WriteError`.
    """
    if follow:
        target = resolve_target(path)
    else:
        target = Path(path)
        _check_auxiliary(target, owned, what)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                                   dir=target.parent)
        os.close(fd)
    except OSError as e:
        if e.errno in STORAGE_ERRNOS:
            raise _write_error(target, e, needed) from None
        raise
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, umask_mode())
        if not follow:   # raced: a link planted while we wrote is still never written through
            _check_auxiliary(target, owned, what)
        os.replace(tmp, target)
        try:   # the rename itself is durable once the directory entry is on disk
            dfd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError:   # pragma: no cover - some filesystems refuse directory fsync
            pass
    except OSError as e:
        _discard(tmp)
        if e.errno in STORAGE_ERRNOS:
            size = needed or _size(tmp)
            raise _write_error(target, e, size) from None
        raise
    except BaseException:
        _discard(tmp)
        raise


def _check_auxiliary(target: Path, owned, what: str) -> None:
    refuse_link(target, what)
    if target.exists():
        if not target.is_file():
            raise OutputError(f"{what} {str(target)!r} exists and is not a regular file; "
                              "allowed: remove it")
        if owned is not None and not owned(target):
            raise OutputError(f"{what} {str(target)!r} exists and was not written by forwardlab; "
                              "it is never replaced; allowed: move it away")


def _size(path: str) -> int | None:
    try:
        return os.path.getsize(path) or None
    except OSError:
        return None


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def write_bytes(path: str | Path, data: bytes, *, follow: bool = True,
                owned: Callable[[Path], bool] | None = None, what: str = "output file") -> Path:
    """Write ``data`` atomically (see :func:`atomic_write`). The free space is checked first,
    so a full disk is reported with the exact size needed before anything is touched."""
    target = resolve_target(path) if follow else Path(path)
    free = _free_bytes(target.parent)
    if free is not None and free < len(data):
        raise _write_error(target, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), len(data))
    with atomic_write(path, follow=follow, owned=owned, needed=len(data), what=what) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0))
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
    return target


def _write_all(fd: int, data: bytes) -> None:
    """Every byte of ``data`` to ``fd`` (the one place file contents reach the disk)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


#: Name of the manifest an :class:`OutputFolder` keeps of the files forwardlab wrote there.
MANIFEST = ".forwardlab-manifest.json"


class OutputFolder:
    """A folder forwardlab writes several files into (a sweep, a report).

    The manifest (``MANIFEST``, JSON ``{"files": [names]}``) lists what forwardlab wrote; a file
    not in it is someone else's and is never replaced: :meth:`claim` refuses it, or with
    ``beside=True`` picks a free name beside it (``runs-2.csv``). Links are never followed,
    neither at a file nor at the manifest. ``legacy(name, path)`` may accept a file written by
    an older version without a manifest (e.g. a sweep index recognised by its header).
    """

    def __init__(self, directory: str | Path, what: str = "output folder",
                 legacy: Callable[[str, Path], bool] | None = None) -> None:
        self.dir = Path(directory)
        self.what = what
        self._legacy = legacy
        self._names: set[str] | None = None

    def prepare(self) -> "OutputFolder":
        """Create the folder (parents too); refuse a link, a file, an unwritable place."""
        refuse_link(self.dir, self.what)
        if self.dir.exists() and not self.dir.is_dir():
            raise OutputError(f"{self.what} {str(self.dir)!r} is a file; allowed: a directory path")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"{self.what} {str(self.dir)!r} cannot be created ({e.strerror}); "
                              "allowed: a writable directory path") from None
        return self

    @property
    def names(self) -> set[str]:
        """Names the manifest lists (read once; unreadable or foreign manifest → refused)."""
        if self._names is None:
            m = self.dir / MANIFEST
            refuse_link(m, f"{self.what} manifest")
            if not m.exists():
                self._names = set()
            else:
                try:
                    doc = json.loads(m.read_text())
                    names = doc["files"]
                    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                        raise ValueError
                except (OSError, ValueError, KeyError, TypeError):
                    raise OutputError(f"{self.what} manifest {str(m)!r} cannot be read; allowed: "
                                      "a manifest written by forwardlab, or remove it") from None
                self._names = set(names)
        return self._names

    def owns(self, name: str) -> bool:
        path = self.dir / name
        if name in self.names:
            return True
        return bool(self._legacy and path.is_file() and not path.is_symlink()
                    and self._legacy(name, path))

    def claim(self, name: str, *, beside: bool = False) -> Path:
        """The path to write ``name`` at: new, or a file forwardlab wrote. A foreign file or a
        link there is refused, or with ``beside`` the first free ``stem-N.suffix`` is used."""
        if "/" in name or name in ("", ".", "..", MANIFEST):
            raise OutputError(f"{self.what} file name {name!r}; allowed: a plain file name")
        path = self.dir / name
        if not (path.exists() or path.is_symlink()) or (not path.is_symlink() and self.owns(name)):
            return path
        if not beside:
            why = "is a symbolic link" if path.is_symlink() else "was not written by forwardlab"
            raise OutputError(f"{self.what} {str(self.dir)!r}: {name} {why}; it is never "
                              "replaced; allowed: an empty folder or one forwardlab wrote, or move "
                              "the file away")
        stem, dot, suffix = name.partition(".")
        n = 2
        while True:
            alt = f"{stem}-{n}{dot}{suffix}"
            p = self.dir / alt
            if not (p.exists() or p.is_symlink()) or (not p.is_symlink() and self.owns(alt)):
                return p
            n += 1

    @contextmanager
    def atomic(self, name: str, *, beside: bool = False) -> Iterator[Path]:
        """Write ``name`` through a temporary path (see :func:`atomic_write`); the manifest lists
        it afterwards. Yields the temporary path; the final path is ``self.last``."""
        path = self.claim(name, beside=beside)
        self._record(path.name)   # listed first: a kill after the rename leaves it owned
        with atomic_write(path, follow=False, owned=lambda p: self.owns(p.name),
                          what=f"{self.what} file") as tmp:
            yield tmp
        self.last = path

    def write_bytes(self, name: str, data: bytes, *, beside: bool = False) -> Path:
        path = self.claim(name, beside=beside)
        self._record(path.name)
        return write_bytes(path, data, follow=False, owned=lambda p: self.owns(p.name),
                           what=f"{self.what} file")

    def write_text(self, name: str, text: str, *, beside: bool = False) -> Path:
        return self.write_bytes(name, text.encode("utf-8"), beside=beside)

    def _record(self, name: str) -> None:
        if name in self.names:
            return
        self._names = self.names | {name}
        blob = json.dumps({"files": sorted(self._names)}, indent=1).encode() + b"\n"
        write_bytes(self.dir / MANIFEST, blob, follow=False, what=f"{self.what} manifest")


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

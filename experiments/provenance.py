"""Provenance of a run: package versions, the checkout's commit, the data set's checksum and
citation, the command, threads and host (stored with every results file)."""
from __future__ import annotations

import datetime as _dt
import hashlib
import platform
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from .data import Dataset

__all__ = ["versions", "git_commit", "dataset_checksum", "meta"]


def versions() -> dict[str, str]:
    """Versions of the packages a run's results depend on."""
    import h5py, numba, scipy, simpy
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "h5py": h5py.__version__, "simpy": simpy.__version__,
            "numba": numba.__version__, "forwardlab": "0.1.0"}


def git_commit() -> str:
    """The checkout's commit ("+dirty" with uncommitted changes to tracked files), or ""."""
    here = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    if out.returncode != 0:
        return ""
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def dataset_checksum(data: Dataset) -> str:
    """SHA-256 of the split arrays as trained on (before standardisation)."""
    h = hashlib.sha256()
    for t in (data.x_train, data.y_train, data.x_test, data.y_test):
        h.update(np.ascontiguousarray(t.numpy()).tobytes())
    return h.hexdigest()


def meta(dataset: str, data: Dataset | None = None) -> dict[str, str]:
    """Provenance of a run: when, the command, the commit, the data (and its checksum and
    citation where it is a data set), threads and host."""
    out = {"timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "command": shlex.join(sys.argv), "git_commit": git_commit(), "dataset": dataset}
    if data is not None:
        out.update({"dataset_sha256": dataset_checksum(data),
                    "dataset_citation": getattr(data, "citation", "")})
    out.update({"threads": str(torch.get_num_threads()), "host": platform.node()})
    return out

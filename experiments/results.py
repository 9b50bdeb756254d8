"""One HDF5 file per run (h5py), written atomically: a temporary name in the same directory,
flushed and fsynced, then renamed — a crash or kill never leaves a half-written results file.

Schema::

    /                attrs: config.<dotted.key> (flat resolved config), config_toml (the
                            resolved config as TOML: ``forwardlab run --config`` takes it back),
                            run_id, status ("ok" | "diverged" | "interrupted" | "failed"),
                            message, versions.<package>, meta.<key> (timestamp, command line,
                            git commit, data set checksum, …), forwardlab_schema
    /history/<metric>          (epochs,) float64     per-epoch metrics of the device run
    /references/<algo>/<metric> (epochs,)            MF-AD / BP on the ideal digital twin
    /trace/keys                (K,) str              step-summary keys
    /trace/steps               (steps, K) float64    per-step trace summaries
    /cost/<name>               attrs: flat CostReport (energy_j.*, latency_s.*, …)

Every dataset carries its unit in the attribute ``units``; cost groups carry ``units`` as a
JSON map from attribute name to unit.
"""
from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .outputs import write_bytes
from .si import unit_of as suffix_unit

__all__ = ["RunRecord", "ResultsError", "write_results", "read_results", "SCHEMA_VERSION", "unit_of", "STATUSES",
           "SUMMARY_PREFIX", "priced_rows"]

SCHEMA_VERSION = 2
STATUSES = ("ok", "diverged", "interrupted", "failed")
# Names in RunRecord.costs that hold a stored step summary (for re-pricing), not a cost report.
SUMMARY_PREFIX = "summary:"


class ResultsError(OSError, ValueError):
    """A results file cannot be read or does not hold what forwardlab writes (corrupt,
    truncated, edited); the message names the file and what is wrong. An ``OSError`` (the file
    cannot be read) and a ``ValueError`` (its content is invalid) at once."""


def priced_rows(costs: dict) -> dict:
    """The cost reports of ``costs``, stored step summaries left out."""
    return {n: d for n, d in costs.items() if not n.startswith(SUMMARY_PREFIX)}


#: ``meta`` key of the cost rows a run could not price (a cross-device row whose preset lacks a
#: capability the settings need): a JSON object {row: reason}
UNPRICED_KEY = "unpriced_rows"


def unpriced_rows(rec) -> dict[str, str]:
    """{row: reason} of the cost rows ``rec`` (a :class:`RunRecord`) could not price; the
    stored value is JSON text in a live record and a dict once read back."""
    v = rec.meta.get(UNPRICED_KEY, {})
    return dict(json.loads(v) if isinstance(v, str) else v)

# Units by metric or key name (SI; "1" = dimensionless, counts included).
_UNITS = {"test_accuracy": "1", "val_accuracy": "1", "train_accuracy": "1", "steps": "1",
          "train_layers": "1", "diverged_at_step": "1", "epoch_time_s": "s",
          # cumulative device work per epoch (algorithms.training): counts
          "device_settings": "1", "streamed_vectors": "1",
          # a PDE run's mean squared residual of the non-dimensional equation, and the relative
          # L2 error of its solution (experiments.pde): no nats, no physical unit
          "loss.pde": "1", "test_error": "1"}
# cost-level suffix of report metrics: energy_per_step_j_low → energy_per_step_j (J)
_LEVEL_SUFFIX = re.compile(r"_(low|nominal|high)$")
# aggregate suffix of trace keys: phase_rad_sum → phase_rad (rad)
_AGGREGATE_SUFFIX = re.compile(r"_(sum|max|total)$")


def unit_of(name: str) -> str:
    """Unit of a metric, trace or cost key.

    Cross-entropy losses (``loss``, ``loss.<block>``, ``train_loss`` …) are in nats (natural
    log); byte counts (``bytes``, ``bytes_<role>``) in B; FLOP and other counts "1"; otherwise
    the unit suffix of the name (``energy_j.*`` J, ``latency_s.*`` s, ``energy_per_step_j_low``
    J, ``phase_rad_sum`` rad: :func:`experiments.si.unit_of`), else "1".
    """
    base = name.rsplit("/", 1)[-1]
    if base in _UNITS:
        return _UNITS[base]
    last = base.rsplit(".", 1)[-1]
    head = last.split("_", 1)[0]
    if head == "bytes":
        return "B"
    if head in ("flops", "macs"):
        return "1"
    if base == "loss" or base.startswith("loss.") or last.endswith("_loss") or last == "loss":
        return "nats"
    stem = _AGGREGATE_SUFFIX.sub("", _LEVEL_SUFFIX.sub("", last))
    return suffix_unit(stem) or suffix_unit(base) or "1"


@dataclass
class RunRecord:
    config: dict[str, Any]
    status: str = "ok"
    message: str = ""
    history: dict[str, list[float]] = field(default_factory=dict)
    references: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    step_summaries: list[dict[str, float]] = field(default_factory=list)
    costs: dict[str, dict[str, float]] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    config_toml: str = ""
    run_id: str = ""
    meta: dict[str, str] = field(default_factory=dict)


def _attr(v: Any) -> Any:
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return v


def _from_attr(v: Any) -> Any:
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str) and v[:1] in "[{":
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            return v
    if isinstance(v, np.generic):
        return v.item()
    return v


def _key(name: str) -> str:
    """HDF5 object name for a metric/report name ('/' would create nested groups)."""
    return name.replace("%", "%25").replace("/", "%2F")


def decode_name(key: str) -> str:
    return key.replace("%2F", "/").replace("%25", "%")


def _dataset(group, name: str, data, unit: str):
    ds = group.create_dataset(_key(name), data=data)
    ds.attrs["units"] = unit
    return ds


def write_results(path: str | Path, rec: RunRecord, *, follow: bool = True) -> Path:
    """Write ``rec`` to ``path`` atomically (see :mod:`experiments.outputs`); returns the path.

    The file is built in memory first, so a full disk is found before the old file is touched
    and the error names the bytes needed (:class:`~experiments.outputs.WriteError`). The caller
    checks the path first (:func:`experiments.outputs.check_output`); ``follow``: a symlink at
    the user's own ``--out`` is followed; forwardlab's own files (a sweep's run files) pass
    ``follow=False`` and a link there is refused. The file mode follows the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with h5py.File(buf, "w", track_order=True) as f:
        f.attrs["forwardlab_schema"] = SCHEMA_VERSION
        f.attrs["status"] = rec.status
        f.attrs["message"] = rec.message
        f.attrs["run_id"] = rec.run_id
        f.attrs["config_toml"] = rec.config_toml
        for k, v in rec.config.items():
            f.attrs[f"config.{k}"] = _attr(v)
        for k, v in rec.versions.items():
            f.attrs[f"versions.{k}"] = str(v)
        for k, v in rec.meta.items():
            f.attrs[f"meta.{k}"] = str(v)
        h = f.create_group("history", track_order=True)
        for k, v in rec.history.items():
            _dataset(h, k, np.asarray(v, dtype=np.float64), unit_of(k))
        r = f.create_group("references", track_order=True)
        for algo, hist in rec.references.items():
            g = r.create_group(_key(algo), track_order=True)
            for k, v in hist.items():
                _dataset(g, k, np.asarray(v, dtype=np.float64), unit_of(k))
        t = f.create_group("trace")
        keys = sorted({k for s in rec.step_summaries for k in s})
        t.create_dataset("keys", data=np.array(keys, dtype=h5py.string_dtype()))
        steps = np.array([[s.get(k, 0.0) for k in keys] for s in rec.step_summaries],
                         dtype=np.float64).reshape(len(rec.step_summaries), len(keys))
        ds = t.create_dataset("steps", data=steps, compression="gzip" if steps.size > 1000 else None)
        ds.attrs["units"] = json.dumps({k: unit_of(k) for k in keys})
        c = f.create_group("cost", track_order=True)
        for name, report in rec.costs.items():
            g = c.create_group(_key(name), track_order=True)
            for k, v in report.items():
                g.attrs[k] = v
            g.attrs["units"] = json.dumps({k: unit_of(k) for k in report})
    write_bytes(path, buf.getvalue(), follow=follow, owned=_is_own_results, what="results file")
    return path


def _is_own_results(path: Path) -> bool:
    from .outputs import is_results_file
    return is_results_file(path)


def read_results(path: str | Path) -> RunRecord:
    """Read a results file back (reports use only this, never re-run training).

    Raises :class:`ResultsError` naming the file and what is wrong for any file that cannot be
    read or does not have the layout written by :func:`write_results` (nothing in the file can
    execute code: it holds numbers, strings and JSON only)."""
    try:
        rec = _read(path)
        _check_record(rec)
        return rec
    except ResultsError:
        raise
    except FileNotFoundError:
        raise ResultsError(f"results file {str(path)!r} does not exist") from None
    except Exception as e:   # h5py's OSError, KeyError of a missing group, bad JSON, ...
        what = str(e).splitlines()[0][:160] if str(e) else ""
        raise ResultsError(f"results file {str(path)!r} cannot be read ({type(e).__name__}"
                           f"{': ' + what if what else ''}); allowed: a complete results file "
                           "written by forwardlab") from None


def _check_record(rec: RunRecord) -> None:
    if rec.status not in STATUSES:
        raise ValueError(f"status {rec.status!r} is not one of {', '.join(STATUSES)}")
    for where, hist in [("history", rec.history), *((f"references/{a}", h)
                                                   for a, h in rec.references.items())]:
        for k, v in hist.items():
            if not isinstance(v, list) or not all(isinstance(x, float) for x in v):
                raise ValueError(f"/{where}/{k} is not a list of numbers")
    for name, report in rec.costs.items():
        if not all(isinstance(x, float) for x in report.values()):
            raise ValueError(f"/cost/{name} holds a value that is not a number")


def _read(path: str | Path) -> RunRecord:
    with h5py.File(path, "r") as f:
        config = {k[7:]: _from_attr(v) for k, v in f.attrs.items() if k.startswith("config.")}
        versions = {k[9:]: _from_attr(v) for k, v in f.attrs.items() if k.startswith("versions.")}
        history = {decode_name(k): f["history"][k][()].astype(np.float64).ravel().tolist()
                   for k in f["history"]}
        refs = {decode_name(a): {decode_name(k): f["references"][a][k][()].astype(np.float64).ravel().tolist()
                           for k in f["references"][a]}
                for a in f["references"]}
        keys = [k.decode() if isinstance(k, bytes) else k for k in f["trace/keys"][()]]
        steps = np.asarray(f["trace/steps"][()], dtype=np.float64)
        if steps.ndim != 2 or steps.shape[1] != len(keys):
            raise ValueError(f"/trace/steps has shape {steps.shape}, not (steps, {len(keys)})")
        summaries = [dict(zip(keys, map(float, row))) for row in steps]
        costs = {decode_name(n): {k: float(v) for k, v in f["cost"][n].attrs.items() if k != "units"}
                 for n in f["cost"]}
        # meta values are strings as written (a JSON document stays its text)
        meta = {k[5:]: v.decode() if isinstance(v, bytes) else str(v)
                for k, v in f.attrs.items() if k.startswith("meta.")}
        return RunRecord(config=config, status=str(_from_attr(f.attrs["status"])),
                         message=str(_from_attr(f.attrs["message"])), history=history,
                         references=refs, step_summaries=summaries, costs=costs, versions=versions,
                         config_toml=str(_from_attr(f.attrs.get("config_toml", ""))),
                         run_id=str(_from_attr(f.attrs.get("run_id", ""))), meta=meta)

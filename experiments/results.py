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

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .outputs import atomic_write
from .si import unit_of as suffix_unit

__all__ = ["RunRecord", "write_results", "read_results", "SCHEMA_VERSION", "unit_of", "STATUSES",
           "SUMMARY_PREFIX", "priced_rows"]

SCHEMA_VERSION = 2
STATUSES = ("ok", "diverged", "interrupted", "failed")
# Names in RunRecord.costs that hold a stored step summary (for re-pricing), not a cost report.
SUMMARY_PREFIX = "summary:"


def priced_rows(costs: dict) -> dict:
    """The cost reports of ``costs``, stored step summaries left out."""
    return {n: d for n, d in costs.items() if not n.startswith(SUMMARY_PREFIX)}

# Units by metric or key name (SI; "1" = dimensionless).
_UNITS = {"test_accuracy": "1", "val_accuracy": "1", "train_accuracy": "1", "steps": "1",
          "train_layers": "1", "diverged_at_step": "1", "epoch_time_s": "s"}


def unit_of(name: str) -> str:
    """Unit of a metric, trace or cost key: from its name's unit suffix (energy_j.* J,
    latency_s.* s, see :func:`experiments.si.unit_of`), losses in nats, else "1"."""
    base = name.rsplit("/", 1)[-1]
    if base in _UNITS:
        return _UNITS[base]
    return suffix_unit(name) or ("nats" if "loss" in base else "1")


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


def _name(key: str) -> str:
    return key.replace("%2F", "/").replace("%25", "%")


def _dataset(group, name: str, data, unit: str):
    ds = group.create_dataset(_key(name), data=data)
    ds.attrs["units"] = unit
    return ds


def write_results(path: str | Path, rec: RunRecord) -> Path:
    """Write ``rec`` to ``path`` atomically (see :mod:`experiments.outputs`); returns the path.

    The caller checks the path first (:func:`experiments.outputs.check_output`); a symlink is
    followed, the file mode follows the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as tmp:
        with h5py.File(tmp, "w", track_order=True) as f:
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
            f.flush()
    return path


def read_results(path: str | Path) -> RunRecord:
    """Read a results file back (reports use only this, never re-run training)."""
    with h5py.File(path, "r") as f:
        config = {k[7:]: _from_attr(v) for k, v in f.attrs.items() if k.startswith("config.")}
        versions = {k[9:]: _from_attr(v) for k, v in f.attrs.items() if k.startswith("versions.")}
        history = {_name(k): f["history"][k][()].tolist() for k in f["history"]}
        refs = {_name(a): {_name(k): f["references"][a][k][()].tolist() for k in f["references"][a]}
                for a in f["references"]}
        keys = [k.decode() if isinstance(k, bytes) else k for k in f["trace/keys"][()]]
        steps = f["trace/steps"][()]
        summaries = [dict(zip(keys, map(float, row))) for row in steps]
        costs = {_name(n): {k: float(v) for k, v in f["cost"][n].attrs.items() if k != "units"}
                 for n in f["cost"]}
        meta = {k[5:]: str(_from_attr(v)) for k, v in f.attrs.items() if k.startswith("meta.")}
        return RunRecord(config=config, status=str(_from_attr(f.attrs["status"])),
                         message=str(_from_attr(f.attrs["message"])), history=history,
                         references=refs, step_summaries=summaries, costs=costs, versions=versions,
                         config_toml=str(_from_attr(f.attrs.get("config_toml", ""))),
                         run_id=str(_from_attr(f.attrs.get("run_id", ""))), meta=meta)

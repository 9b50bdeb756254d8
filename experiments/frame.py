"""Results files → one pandas DataFrame of runs (one row per file), for reports and notebooks.

Columns (every cell a scalar):

* ``path`` — the results file;
* every config key, named by the key after ``config.`` (flat ``seed`` or dotted
  ``device.phase_noise.sigma_rad``; a nested config dict is flattened to dotted keys). Lists
  and dicts are stored as JSON text (``hidden`` → ``"[32, 32]"``) so that cells stay hashable
  and survive a CSV round trip;
* ``status``, ``message`` and any other scalar field a :class:`RunRecord` carries (a dict
  field ``meta`` gives ``meta.<key>`` columns);
* the final value (last epoch) of every ``/history`` metric under its own name
  (``test_accuracy``; ``final.<metric>`` if the name is also a config key), of every reference
  metric as ``ref.<algo>.<metric>`` (``ref.bp.test_accuracy``);
* every cost-report scalar as ``cost.<report name>.<key>``
  (``cost.mzi-default MF+DD.energy_j.laser``), plus ``cost_device`` (the run's own device
  report: the first non-GPU report), ``energy_per_step_j`` (its total energy per training step)
  and ``train_energy_j`` (``energy_per_step_j`` × the run's training steps, when ``steps`` is
  recorded), ``latency_per_step_s`` and ``energy_to_target_j`` (nominal) of the same report;
* ``versions.<package>``.

* ``run_id``, ``algorithm_label`` and ``device_label`` — what was run, in words ("MF+DD",
  "local-guess (calibrated model)"; "MZI mesh (mzi-default)");
* the sweep axes (``df.attrs["axes"]``) as categorical columns (ordered: numbers by value), so a
  comparison is one ``df.groupby(df.attrs["axes"], observed=True)``.

A GPU row of an older results file named after MF+DD in a run of another algorithm
(``"GPU H100 SXM5: MF+DD"`` in a local-guess run: that run's own traced work on the GPU) is
renamed after the run's algorithm, so rows of different algorithms are never averaged together.
A run present under two inputs (same ``run_id``: the id hashes the resolved config) is counted
once.

``df.attrs`` holds ``units`` (column → unit: from ``units`` attributes on the file's datasets,
and from key names, e.g. ``energy_j`` → J), ``config_columns`` (the config keys, in order),
``axes`` (the sweep axes: declared by the sweep folders and runs, or chosen with ``by``),
``duplicates`` (paths left out as copies of a run already read) and ``skipped``
(``[(path, reason)]`` of ``.h5`` files found in a directory that are not results files).
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import h5py
import pandas as pd

from .axes import declared_axes, is_categorical, is_seed_key
from .config import config_value, flatten_config
from .results import RunRecord, priced_rows, read_results
from .si import unit_of

__all__ = ["load", "load_records", "find_results", "frame_from_records", "flatten_config",
           "config_value", "is_gpu_report", "run_device_report", "algorithm_words",
           "device_words", "with_axes"]

_KNOWN_FIELDS = {"config", "history", "references", "step_summaries", "costs", "versions"}


def _is_results_file(path: Path) -> tuple[bool, str]:
    """(True, "") for a forwardlab results file, else (False, why)."""
    try:
        with h5py.File(path, "r") as f:
            if "forwardlab_schema" not in f.attrs:
                return False, "an HDF5 file without the forwardlab_schema attribute"
    except OSError as e:
        return False, f"not a readable HDF5 file ({e})"
    return True, ""


def find_results(paths: "str | Path | Iterable[str | Path]") -> tuple[list[Path], list[tuple[str, str]]]:
    """Results files named by ``paths`` (files, or directories searched recursively for ``*.h5``).

    Returns ``(files, skipped)``: files sorted and without duplicates; ``skipped`` lists the
    ``.h5`` files found in directories that are not results files, with the reason. Temporary
    files of an unfinished write (``.<name>.<random>.tmp``) and hidden files are ignored.

    Raises:
        ValueError: a named path does not exist, a named file is not a results file, or no
            results file was found at all.
    """
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise ValueError("paths is empty; allowed: results files (.h5) or directories holding them")
    found: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            for f in sorted(p.rglob("*.h5")):
                if any(part.startswith(".") for part in f.relative_to(p).parts) or not f.is_file():
                    continue
                ok, why = _is_results_file(f)
                (found.append(f) if ok else skipped.append((str(f), why)))
        elif p.is_file():
            ok, why = _is_results_file(p)
            if not ok:
                raise ValueError(f"path {str(p)!r} is {why}; allowed: a forwardlab results file")
            found.append(p)
        else:
            raise ValueError(f"path {str(p)!r} does not exist; allowed: a results file or a "
                             "directory holding results files")
    unique = sorted({f.resolve(): f for f in found}.values(), key=str)
    if not unique:
        raise ValueError(f"no forwardlab results file found in {', '.join(map(str, items))}; "
                         "allowed: .h5 files written by forwardlab run")
    return unique, skipped


def load_records(paths: "str | Path | Iterable[str | Path]") -> list[tuple[Path, RunRecord]]:
    """``(path, record)`` of every results file under ``paths`` (see :func:`find_results`)."""
    files, _ = find_results(paths)
    return [(f, read_results(f)) for f in files]


def _cell(v: Any) -> Any:
    """A hashable, CSV-safe scalar: lists/dicts as JSON text, None as ""."""
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(list(v) if isinstance(v, tuple) else v)
    return "" if v is None else v


def is_gpu_report(name: str, report: Mapping[str, float]) -> bool:
    """A GPU baseline report: weight mode "digital", or (older files) a name starting "GPU "."""
    if "weight_mode.digital" in report:
        return report["weight_mode.digital"] == 1.0
    return name.startswith("GPU ")


def run_device_report(costs: Mapping[str, Mapping[str, float]]) -> str | None:
    """Name of the run's own device report: the first non-GPU report (the runner writes the
    trained device first; later device rows are one-step cross-device estimates)."""
    return next((n for n, d in costs.items() if not is_gpu_report(n, d)), None)


_TWIN = "ideal digital twin, autograd"


def algorithm_words(config: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> str:
    """The run's algorithm in words: "MF+DD", "BP (ideal digital twin, autograd)",
    "local-guess (calibrated model)" (the label the run resolved, ``meta.algorithm_label``)."""
    from . import labels
    name = str(config_value(config, "algorithm.name", "algorithm", default="mfdd"))
    stored = (meta or {}).get("algorithm_label", "")
    try:
        if stored and labels.row_name(name) == name:    # no short name: the stored label says it
            return f"{name} ({stored})" if stored != name else name
        return labels.algorithm_label(name, _settings(config), str(config_value(
            config, "device.kind", "device", default="")) or None)
    except (KeyError, ValueError):   # an algorithm (or settings) this version does not know
        return f"{name} ({stored})" if stored and stored != name else name


def _settings(config: Mapping[str, Any]) -> dict:
    return {k.split(".", 2)[2]: v for k, v in config.items() if k.startswith("algorithm.settings.")}


def device_words(config: Mapping[str, Any]) -> str:
    """The run's device in words: "MZI mesh (mzi-default)", "crossbar (crossbar-pcm)"; the
    ideal digital twin for the autograd baselines, which run on no device."""
    name = str(config_value(config, "algorithm.name", "algorithm", default="mfdd"))
    if name in ("mf-ad", "bp"):
        return "ideal digital twin"
    kind = str(config_value(config, "device.kind", "device", default=""))
    preset = str(config_value(config, "device.preset", "device_preset", default="?"))
    from .labels import kind_words
    words = kind_words(kind) if kind else ""
    return f"{words} ({preset})" if words else preset


def _algorithm_short(config: Mapping[str, Any]) -> str:
    from .labels import row_name
    return row_name(str(config_value(config, "algorithm.name", "algorithm", default="mfdd")))


def _own_gpu_name(name: str, config: Mapping[str, Any]) -> str:
    """``"GPU X: MF+DD"`` of a run of another algorithm → ``"GPU X: <its algorithm>"`` (older
    files named the run's own GPU row after MF+DD whatever the algorithm)."""
    short = _algorithm_short(config)
    if name.startswith("GPU ") and name.endswith(": MF+DD") and short != "MF+DD":
        return f"{name[:-len('MF+DD')]}{short}"
    return name


def _file_units(path: Path) -> dict[str, str]:
    """column → unit from ``units`` attributes on /history and /references datasets."""
    from .results import decode_name   # same name decoding as read_results

    units: dict[str, str] = {}

    def text(v: Any) -> str:
        return v.decode() if isinstance(v, bytes) else str(v)

    with h5py.File(path, "r") as f:
        for k, ds in f.get("history", {}).items():
            if "units" in ds.attrs:
                units[decode_name(k)] = text(ds.attrs["units"])
        for algo, g in f.get("references", {}).items():
            for k, ds in g.items():
                if "units" in ds.attrs:
                    units[f"ref.{decode_name(algo)}.{decode_name(k)}"] = text(ds.attrs["units"])
    return units


def cpu_seconds(rec, stage: str) -> float | None:
    """Training CPU seconds of ``stage`` (the run's algorithm or a reference) as the run
    recorded them (``meta.cpu_s.<stage>``); None in files without them."""
    v = (getattr(rec, "meta", None) or {}).get(f"cpu_s.{stage}")
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None


def _last(values: Sequence[float]) -> float:
    return float(values[-1]) if len(values) else math.nan


def record_row(path: Path | str, rec: RunRecord) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """One run's row, its units (column → unit) and its config columns."""
    row: dict[str, Any] = {"path": str(path)}
    config = {k: _cell(v) for k, v in flatten_config(rec.config).items()}
    row.update(config)
    row["run_id"] = rec.run_id or row.get("run_id", "")
    row["algorithm_label"] = algorithm_words(rec.config, rec.meta)
    row["device_label"] = device_words(rec.config)
    fields = {f.name for f in dataclasses.fields(rec)}
    for name in sorted(fields - _KNOWN_FIELDS - {"units"}):   # status, message, ...
        v = getattr(rec, name)
        if isinstance(v, (str, int, float, bool)) or v is None:
            row[name] = _cell(v)
        elif isinstance(v, Mapping):   # e.g. provenance {timestamp, command, git_commit}
            row.update({f"{name}.{k}": _cell(x) for k, x in flatten_config(v).items()})
    units: dict[str, str] = {}
    history_names = {}
    for metric, values in rec.history.items():
        col = f"final.{metric}" if metric in row else metric
        history_names[metric] = col
        row[col] = _last(values)
    for algo, hist in rec.references.items():
        for metric, values in hist.items():
            row[f"ref.{algo}.{metric}"] = _last(values)
    # training CPU seconds per stage (meta: not reproducible, so not in the history)
    algo = str(config_value(rec.config, "algorithm.name", "algorithm", default="mfdd"))
    for stage in [algo, *rec.references]:
        cpu = cpu_seconds(rec, stage)
        if cpu is not None:
            row["cpu_s" if stage == algo else f"ref.{stage}.cpu_s"] = cpu
            units["cpu_s" if stage == algo else f"ref.{stage}.cpu_s"] = "s"
    costs = {_own_gpu_name(n, rec.config): d for n, d in priced_rows(rec.costs).items()}
    for name, report in costs.items():
        for key, v in report.items():
            col = f"cost.{name}.{key}"
            row[col] = float(v)
            if unit_of(key):
                units[col] = unit_of(key)
    device = run_device_report(costs)
    row["cost_device"] = device or ""
    e_step = costs[device].get("total_energy_j", math.nan) if device else math.nan
    row["energy_per_step_j"] = e_step
    steps = row.get(history_names.get("steps", "steps"), math.nan)
    row["train_energy_j"] = e_step * steps if isinstance(steps, float) else math.nan
    device_row = costs[device] if device else {}
    row["latency_per_step_s"] = device_row.get("total_latency_s", math.nan)
    row["energy_to_target_j"] = device_row.get("metric.energy_to_target_j_nominal", math.nan)
    units.update(energy_per_step_j="J", train_energy_j="J", latency_per_step_s="s",
                 energy_to_target_j="J")
    for pkg, v in rec.versions.items():
        row[f"versions.{pkg}"] = str(v)
    record_units = getattr(rec, "units", None)   # a RunRecord that reads units itself
    if isinstance(record_units, Mapping):
        units.update({history_names.get(k, k): str(u) for k, u in record_units.items()})
    elif Path(path).is_file():
        units.update({history_names.get(k, k): u for k, u in _file_units(Path(path)).items()})
    for col in config:
        if unit_of(col):
            units.setdefault(col, unit_of(col))
    return row, units, list(config)


def frame_from_records(records: Iterable[tuple[Path | str, RunRecord]],
                       axes: Sequence[str] | None = None) -> pd.DataFrame:
    """DataFrame of runs from ``(path, record)`` pairs (see the module docstring).

    ``axes``: the comparison's axes (default: those the runs declare in ``meta.sweep_axes``);
    they become categorical columns and the rows are sorted by them.
    """
    rows, units, config_cols, seen, duplicates, metas = [], {}, [], set(), [], []
    for path, rec in records:
        if rec.run_id and rec.run_id in seen:     # the same run reached through two inputs
            duplicates.append(str(path))
            continue
        seen.add(rec.run_id)
        metas.append(rec.meta)
        row, u, cols = record_row(path, rec)
        rows.append(row)
        units.update(u)
        config_cols += [c for c in cols if c not in config_cols]
    df = pd.DataFrame(rows)
    df.attrs["units"] = {k: v for k, v in units.items() if k in df.columns}
    df.attrs["config_columns"] = config_cols
    df.attrs["duplicates"] = duplicates
    return with_axes(df, declared_axes([], metas) if axes is None else axes)


def _column_of(key: str, columns) -> str:
    """The runs-table column of a config key as a sweep may name it: an ``[algorithm]``
    shorthand (``algorithm.epsilon``) is stored resolved (``algorithm.settings.epsilon_knob_range_units``)."""
    if key in columns:
        return key
    from .config import SHORTHAND
    head, _, leaf = key.partition(".")
    if head == "algorithm" and leaf in SHORTHAND:
        return f"algorithm.settings.{SHORTHAND[leaf]}"
    return key


def with_axes(df: pd.DataFrame, axes: Sequence[str]) -> pd.DataFrame:
    """``df`` with ``axes`` as ordered categorical columns (numbers by value, names in order of
    first appearance), rows sorted by them (then by seed), and ``df.attrs["axes"]`` set.

    Seeds are never comparison axes (a seed is what the spread is over); keys not in the
    runs table are refused.

    Raises:
        ValueError: an axis that is no column of the runs table.
    """
    attrs = dict(df.attrs)
    axes = list(dict.fromkeys(_column_of(a, df.columns) for a in axes if not is_seed_key(a)))
    missing = [a for a in axes if a not in df.columns]
    if missing:
        known = [c for c in attrs.get("config_columns", []) if c in df.columns]
        raise ValueError(f"axis {missing[0]!r} is not a config key of these runs; allowed: one of "
                         f"{', '.join(known[:40])}{' …' if len(known) > 40 else ''}")
    df = df.copy()
    for a in axes:
        values = [v for v in dict.fromkeys(df[a].tolist())
                  if not (isinstance(v, float) and math.isnan(v))]
        if not is_categorical(a, values):
            values = sorted(values, key=float)
        df[a] = pd.Categorical(df[a], categories=values, ordered=True)
    seeds = [c for c in attrs.get("config_columns", []) if is_seed_key(c) and c in df.columns]
    order = [*axes, *seeds[:1]] if axes else []     # loose runs stay in path order
    if order and len(df):
        df = df.sort_values(order, kind="stable").reset_index(drop=True)
    df.attrs.update(attrs)
    df.attrs["axes"] = list(axes)
    return df


def load(paths: "str | Path | Iterable[str | Path]", by: Sequence[str] | None = None) -> pd.DataFrame:
    """DataFrame of runs, one row per run under ``paths``.

    Args:
        paths: one results file, a list of them, or a directory (a sweep's output) searched
            recursively for ``*.h5``; non-results ``.h5`` files there are skipped and listed
            in ``df.attrs["skipped"]``.
        by: the comparison's axes (config keys); default: the axes the sweep folders and runs
            declare.

    Returns:
        The runs sorted by the axes (then seed, then path); columns as described in the module
        docstring, the axes categorical.
    """
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    files, skipped = find_results(items)
    records = [(f, read_results(f)) for f in files]
    if by is None:
        by = declared_axes(items, (r.meta for _, r in records))
    df = frame_from_records(records, axes=by)
    df.attrs["skipped"] = skipped
    return df

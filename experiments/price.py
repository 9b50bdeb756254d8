"""Re-price a stored run from its traces alone: ``forwardlab price RUN.h5 [--cost-level L]
[--spec FILE.toml]``.

Rows (every one re-priced from stored step summaries and the run's config, never retrained):

* the device run: the mean of its per-step trace summaries (``/trace/steps``); endurance uses
  the last step (writes per cell are cumulative);
* cross-device rows: one-step summaries of the same step on other devices, stored in
  ``RunRecord.costs`` under ``SUMMARY_PREFIX + label`` (flat ``dict[str, float]``, written by
  :func:`store_summary`; HDF5 ``/cost/summary:<label>`` attributes);
* GPU rows per configured preset: ``"GPU <name>: <algorithm>"`` (:mod:`experiments.labels`:
  "MF+DD" for mfdd, else the algorithm's name; the device run's own traced work —
  every MAC and every host FLOP — on the GPU band) and ``"GPU <name>: BP"`` (the same network
  and heads trained by backpropagation);
* stored measured rows (names starting with ``"measured"``) are carried over unchanged.

Every row carries the headline metrics of :func:`hwsim.cost.report.with_headline`: energy and
latency per step and to the target accuracy (from the run's own history; BP rows from the BP
reference history), each at low / nominal / high, plus laser-on time and endurance consumed.
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Callable, Mapping

from hwsim.cost.analytic import CostReport, price
from hwsim.cost.gpu import bp_step_work, gpu_band, measure_torch_step, summary_step_work
from hwsim.cost.inference import inference_summary
from hwsim.cost.report import format_cost_table, steps_to_target, with_headline
from hwsim.cost.spec import LEVELS, load_spec_file, spec_from_mapping
from hwsim.kinds import KINDS, kind_or_none
from hwsim.trace import layer_kind

from . import labels
from .config import config_value, deep_merge
from .results import SUMMARY_PREFIX, RunRecord, read_results

__all__ = ["SUMMARY_PREFIX", "MEASURED_PREFIX", "store_summary", "stored_summaries",
           "cost_overrides", "resolved_cost",
           "price_summaries", "price_twin_run", "mean_summary", "plain_config", "config_overrides", "measured_rows", "reprice", "format_reprice", "print_reprice"]

MEASURED_PREFIX = "measured"
#: the cost spec sections a config may override: every device kind's, and the GPUs'
_COST_SECTIONS = (*(k.cost_section for k in KINDS.values()), "gpu")
# Classes per data set (the config does not store them; all shipped data sets have 10).
N_CLASSES = {"digits": 10, "fashion-mnist": 10, "mnist": 10}
BP_KERNELS = 20    # eager launches of a small-MLP BP step (cost.md §4.3: 15–25)
TARGET_FRACTION = 0.95


def store_summary(rec: RunRecord, label: str, summary: Mapping[str, float]) -> None:
    """Store a cross-device step summary in ``rec.costs`` so the run can be re-priced."""
    rec.costs[SUMMARY_PREFIX + label] = {str(k): float(v) for k, v in summary.items()}


def stored_summaries(rec: RunRecord) -> dict[str, dict[str, float]]:
    """Cross-device step summaries stored by :func:`store_summary`, by label."""
    n = len(SUMMARY_PREFIX)
    return {k[n:]: dict(v) for k, v in rec.costs.items() if k.startswith(SUMMARY_PREFIX)}


def mean_summary(summaries: list[Mapping[str, float]]) -> dict[str, float]:
    """Mean per key over step summaries (a key missing from a step counts as 0)."""
    keys = sorted({k for s in summaries for k in s})
    n = max(1, len(summaries))
    return {k: sum(s.get(k, 0.0) for s in summaries) / n for k in keys}


def device_work(summary: Mapping[str, float], level: str = "nominal") -> dict[str, float]:
    """What a trace summary asked of the devices: settings programmed (Σ ``*.program.settings``),
    streamed vectors (Σ ``*.mvm.vectors``) and energy in J priced by the cost model at ``level``
    with every device kind's section (no GPU)."""
    specs = spec_from_mapping(level, None)
    sec = {k.cost_section: specs[k.cost_section] for k in KINDS.values() if k.cost_section in specs}
    return {"settings": sum(v for k, v in summary.items() if k.endswith(".program.settings")),
            "vectors": sum(v for k, v in summary.items() if k.endswith(".mvm.vectors")),
            "energy_j": float(sum(price(summary, sec).energy_j.values()))}


def touched_device(summary: Mapping[str, float]) -> bool:
    """The step programmed or queried a device (not only host work)."""
    return any(v > 0 for k, v in summary.items()
               if k.endswith(".program.settings") or k.endswith(".mvm.vectors"))


def _specs(level: str, spec_file: "str | Path | Mapping | None") -> dict:
    """Specs at ``level`` with overrides: a spec file's path or its parsed sections."""
    if spec_file is None or isinstance(spec_file, Mapping):
        return spec_from_mapping(level, spec_file)
    return spec_from_mapping(level, load_spec_file(spec_file))


# The names this module reads → the keys of a run config that hold them, newest first (dotted
# keys of experiments.config; files of older versions had the flat [algorithm] keys).
_KEYS = {"cost_level": ("cost.level",), "gpus": ("cost.gpus",), "hidden": ("model.hidden",),
         "batch_size": ("run.batch_size",), "dataset": ("data.dataset",),
         "schedule": ("algorithm.settings.schedule", "algorithm.schedule"),
         "num_directions": ("algorithm.settings.num_directions", "algorithm.num_directions"),
         "device_preset": ("device.preset",), "device": ("device.kind",),
         "architecture": ("model.architecture",), "algorithm": ("algorithm.name",)}


def plain_config(config: Mapping) -> dict:
    """A run config (flat dotted keys of experiments.config, or the older flat names) with the
    names this module reads filled in."""
    out = dict(config)
    for short, keys in _KEYS.items():
        if short not in config:
            v = config_value(config, *keys)
            if v is not None:
                out[short] = v
    return out


def cost_overrides(cost) -> dict:
    """The values a resolved cost section (``Config.cost``) sets away from its level's
    defaults, as spec-file sections (one per device kind's ``cost_section``, ``gpu."<name>"``):
    re-pricing at another level keeps what the user chose and takes the rest from that level."""
    base = spec_from_mapping(cost.level, None)

    def diff(spec, default) -> dict:
        return {f.name: getattr(spec, f.name) for f in fields(spec)
                if getattr(spec, f.name) != getattr(default, f.name)}
    out: dict = {sec: d for sec, spec in cost.devices.items() if (d := diff(spec, base[sec]))}
    gpus = {name: d for name, g in cost.gpu.items() if (d := diff(g, base["gpus"][name]))}
    return {**out, **({"gpu": gpus} if gpus else {})}


def config_overrides(config: Mapping) -> dict:
    """:func:`cost_overrides` from a flat config of a results file written before the resolved
    config (``config_toml``) was stored with it."""
    level = str(config.get("cost.level", config.get("cost_level", "nominal")))
    if level not in LEVELS:
        return {}
    base = spec_from_mapping(level, None)
    out: dict = {}
    for key, value in config.items():
        parts = key.split(".")
        if len(parts) < 3 or parts[0] != "cost" or parts[1] not in _COST_SECTIONS:
            continue
        if parts[1] == "gpu":
            name, field = ".".join(parts[2:-1]), parts[-1]
            spec = base["gpus"].get(name)
            where = out.setdefault("gpu", {}).setdefault(name, {})
        else:
            field, spec = parts[2], base[parts[1]]
            where = out.setdefault(parts[1], {})
        if spec is not None and hasattr(spec, field) and getattr(spec, field) != value:
            where[field] = value
    return {k: v for k, v in out.items() if v and (k != "gpu" or any(v.values()))}


def _device_band(summary: Mapping[str, float], spec_file) -> dict[str, CostReport]:
    out = {}
    for lv in LEVELS:
        s = _specs(lv, spec_file)
        out[lv] = price(summary, {k.cost_section: s[k.cost_section] for k in KINDS.values()
                                  if k.cost_section in s})
    return out


def _history_steps(history: Mapping[str, list] | None, steps_per_epoch: float | None):
    if not history or "test_accuracy" not in history:
        return None, None
    acc = list(history["test_accuracy"])
    if "steps" in history and len(history["steps"]) == len(acc):
        steps = list(history["steps"])
    elif steps_per_epoch:
        steps = [steps_per_epoch * (i + 1) for i in range(len(acc))]
    else:
        return acc, None
    return acc, steps


def price_summaries(config: Mapping, device_summaries: Mapping[str, Mapping[str, float]], *,
                    level: str | None = None, spec_file: str | Path | None = None,
                    history: Mapping[str, list] | None = None,
                    references: Mapping[str, Mapping[str, list]] | None = None,
                    last_summary: Mapping[str, float] | None = None,
                    target_accuracy: float | None = None, cost=None) -> dict[str, CostReport]:
    """Cost per training step of every row, with headline metrics (see module docstring).

    Args:
        cost: the run's resolved cost section (``Config.cost``), taken as it is: its level,
            GPUs and every value it sets (None: read from the flat ``config``, older files).
        config: the run's flat config (``RunConfig.flat()`` or a results file's attributes):
            uses ``cost_level``, ``gpus``, ``hidden``, ``batch_size``, ``dataset``,
            ``schedule``.
        device_summaries: label -> step summary; the first entry is the device run itself
            (GPU rows use its traced work), the others cross-device rows.
        level: ``"low"``, ``"nominal"`` or ``"high"`` (default: ``config["cost_level"]``).
        spec_file: TOML overrides (sections ``mzi``, ``crossbar``, ``gpu."<name>"``).
        history: the device run's per-epoch metrics (``test_accuracy``, ``steps``).
        references: reference histories (``"bp"`` gives the BP rows' steps to target).
        last_summary: the device run's last step summary (cumulative writes per cell).
        target_accuracy: default ``TARGET_FRACTION`` × the higher best accuracy of the device
            run and the BP reference (``hwsim.cost.bands.TARGET_RULE``).
    """
    config = plain_config(config)
    if cost is not None:
        config = {**config, "cost_level": cost.level, "gpus": list(cost.gpus)}
    file_overrides = load_spec_file(spec_file) if spec_file is not None and not isinstance(
        spec_file, Mapping) else spec_file
    spec_file = deep_merge(cost_overrides(cost) if cost is not None else config_overrides(config),
                           file_overrides)
    level = level or str(config.get("cost_level", "nominal"))
    if level not in LEVELS:
        raise ValueError(f"level = {level!r} is invalid; allowed: {', '.join(LEVELS)}")
    if not device_summaries:
        raise ValueError("device_summaries is empty; allowed: label -> step summary, the device "
                         "run first")
    specs = _specs(level, spec_file)
    refs = dict(references or {})
    acc, steps = _history_steps(history, None)
    bp_acc, bp_steps = _history_steps(refs.get("bp"), None)
    if target_accuracy is None:
        # hwsim.cost.bands.TARGET_RULE: a fraction of the HIGHER best (never the weaker side's
        # own best, which every run reaches by construction)
        bests = [max(a) for a in (acc, bp_acc) if a]
        target_accuracy = TARGET_FRACTION * max(bests) if bests else None
    n_dev = steps_to_target(acc, steps, target_accuracy) if acc and steps and \
        target_accuracy is not None else None
    n_bp = steps_to_target(bp_acc, bp_steps, target_accuracy) if bp_acc and bp_steps and \
        target_accuracy is not None else None

    reports: dict[str, CostReport] = {}
    rows = list(device_summaries)
    run_steps = float(steps[-1]) if steps else None
    for i, label in enumerate(rows):
        band = _device_band(device_summaries[label], spec_file)
        if i == 0 and last_summary is not None:
            band = {lv: _with_endurance(r, last_summary, lv, spec_file) for lv, r in band.items()}
        elif i > 0 and run_steps:
            # one stored step: writes per cell of the whole run ≈ per-step maximum × run steps
            band = {lv: _with_endurance(r, _scaled_writes(device_summaries[label], run_steps),
                                        lv, spec_file) for lv, r in band.items()}
        reports[label] = with_headline(band, level, steps=n_dev, target_accuracy=target_accuracy)

    # per sample: training (energy per step / batch) and inference of the trained model
    batch = int(config.get("batch_size", 64))
    for label in rows:
        r = reports[label]
        inf = {lv: price(inference_summary(device_summaries[label], batch),
                         {k: v for k, v in _specs(lv, spec_file).items() if k != "gpus"})
               for lv in LEVELS}
        m = dict(r.metrics)
        for lv in LEVELS:
            m[f"energy_per_training_sample_j_{lv}"] = m[f"energy_per_step_j_{lv}"] / batch
            m[f"energy_per_inference_j_{lv}"] = inf[lv].total_energy_j / batch
            m[f"device_energy_per_inference_j_{lv}"] = inf[lv].device_energy_j / batch
        reports[label] = _replace_metrics(r, m)

    work = summary_step_work(device_summaries[rows[0]])
    traced_macs = reports[rows[0]].macs
    info_n_in = _first_n_in(device_summaries[rows[0]])
    hidden = [int(h) for h in config.get("hidden", [])]
    n_classes = N_CLASSES.get(str(config.get("dataset", "")), 10)
    algo_row = labels.row_name(str(config.get("algorithm", "mfdd")))
    # the host floor at each corner is that corner's (matched corners: never one level's host
    # under another level's GPU)
    lv_specs = {lv: _specs(lv, spec_file) for lv in LEVELS}

    def band_of(name, w):
        return {lv: gpu_band(w["flops"], w["bytes"], w["kernels"], lv_specs[lv]["gpus"][name],
                             p_host_w=_host_static_w(lv_specs[lv]))[lv] for lv in LEVELS}

    for name in config.get("gpus", []):
        specs["gpus"][name]      # unknown names fail here, with the allowed ones
        band = band_of(name, work)
        reports[labels.gpu_row(name, algo_row)] = with_headline(
            band, level, steps=n_dev, target_accuracy=target_accuracy)
        if info_n_in and hidden and not config.get("architecture"):   # the MLP's BP step only
            bp = bp_step_work([info_n_in, *hidden], n_classes, int(config.get("batch_size", 64)),
                              BP_KERNELS)
            band = band_of(name, bp)
            reports[labels.gpu_row(name, labels.BP_ROW)] = with_headline(band, level, steps=n_bp,
                                                       target_accuracy=target_accuracy)
    # one pJ/MAC denominator for every row: the device run's traced MACs per step
    for name, r in list(reports.items()):
        if name.startswith("GPU ") and traced_macs:
            reports[name] = CostReport(r.energy_j, r.latency_s, traced_macs, r.conversions,
                                       r.weight_mode, {**r.metrics, "own_macs": r.macs})
    return reports


def _replace_metrics(r: CostReport, metrics: Mapping[str, float]) -> CostReport:
    return CostReport(r.energy_j, r.latency_s, r.macs, r.conversions, r.weight_mode, dict(metrics))


def price_twin_run(config: Mapping, n_in: int, history: Mapping[str, list] | None = None,
                   *, level: str | None = None, cost=None) -> dict[str, CostReport]:
    """GPU rows of a run trained with autograd on the ideal twin (``bp`` or ``mf-ad``): the
    same network's BP step on every configured GPU's band, with energy and time to the target
    (0.95 × the run's best accuracy, from its own history). No device row: nothing ran on one.
    ``cost``: the resolved cost section, as :func:`price_summaries` takes it."""
    config = plain_config(config)
    if config.get("architecture"):      # the BP step priced below is the hidden MLP's
        return {}
    if cost is not None:
        config = {**config, "cost_level": cost.level, "gpus": list(cost.gpus)}
    level = level or str(config.get("cost_level", "nominal"))
    specs = _specs(level, cost_overrides(cost) if cost is not None else config_overrides(config))
    hidden = [int(h) for h in config.get("hidden", [])]
    work = bp_step_work([int(n_in), *hidden], N_CLASSES.get(str(config.get("dataset", "")), 10),
                        int(config.get("batch_size", 64)), BP_KERNELS)
    acc, steps = _history_steps(history, None)
    target = TARGET_FRACTION * max(acc) if acc else None
    n = steps_to_target(acc, steps, target) if acc and steps else None
    out = {}
    lv_specs = {lv: _specs(lv, cost_overrides(cost) if cost is not None
                           else config_overrides(config)) for lv in LEVELS}
    for name in config.get("gpus", []):
        specs["gpus"][name]      # unknown names fail here, with the allowed ones
        band = {lv: gpu_band(work["flops"], work["bytes"], work["kernels"],
                             lv_specs[lv]["gpus"][name],
                             p_host_w=_host_static_w(lv_specs[lv]))[lv] for lv in LEVELS}
        out[labels.gpu_row(name, labels.BP_ROW)] = with_headline(band, level, steps=n,
                                                                 target_accuracy=target)
    return out


def _first_n_in(summary: Mapping[str, float]) -> int | None:
    firsts = sorted((v, k) for k, v in summary.items() if k.endswith(".first_index"))
    for _, k in firsts:
        layer = k.rsplit(".", 2)[0]
        n_in = summary.get(f"{layer}.info.n_in")
        if n_in:
            return int(n_in)
    return None


def _scaled_writes(summary: Mapping[str, float], run_steps: float) -> dict[str, float]:
    out = dict(summary)
    for key, v in summary.items():
        if key.endswith(".program.writes_per_cell_max"):
            out[key + "_total"] = v * run_steps
    return out


def _host_static_w(specs: Mapping) -> float:
    """Static host power of the GPU rows: the first device kind's spec (the photonic one)."""
    return specs[next(iter(KINDS.values())).cost_section].p_host_static_w


def _section_of(summary: Mapping[str, float], layer: str) -> str | None:
    """The cost-spec section of a described layer's device kind (None: not described)."""
    kind = layer_kind(summary, layer)
    k = kind_or_none(kind)
    return k.cost_section if k is not None else kind


def _with_endurance(r: CostReport, last: Mapping[str, float], level: str, spec_file) -> CostReport:
    """Endurance from the run's last step (writes per cell are cumulative in the trace)."""
    s = _specs(level, spec_file)
    total = 0.0
    frac = 0.0
    for key, v in last.items():
        if key.endswith(".program.writes_per_cell_max_total"):
            layer = key.rsplit(".", 2)[0]
            total = max(total, v)
            section = _section_of(last, layer)
            if section is not None and hasattr(s.get(section), "endurance_cycles"):
                # endurance counts program pulses (pulses per write × writes)
                pulses = getattr(s[section], "pulses_per_write", 1.0)
                frac = max(frac, v * pulses / s[section].endurance_cycles)
    m = dict(r.metrics, writes_per_cell_max_total=total, endurance_used_fraction=frac)
    return CostReport(r.energy_j, r.latency_s, r.macs, r.conversions, r.weight_mode, m)


def measured_rows(config: Mapping, n_in: int, *, directions: int | None = None,
                  repeats: int = 5, device: str | None = None) -> dict[str, CostReport]:
    """The same step run with torch on this machine (CPU, or CUDA with CUDA events and NVML
    energy where available) for the configured network (``n_in`` inputs, ``config["hidden"]``,
    ``config["batch_size"]``, ``config["num_directions"]``): rows
    ``"measured (<device>): <algorithm>"`` and ``"measured (<device>): BP"``, with ``", time only"``
    after the device where no energy counter was read. The runner stores these rows in
    ``RunRecord.costs``; :func:`reprice` carries them over (a measurement cannot be re-priced)."""
    import torch
    config = plain_config(config)
    if config.get("architecture"):      # the torch step below is the hidden MLP's
        return {}
    hidden = [int(h) for h in config.get("hidden", [])]
    n_classes = N_CLASSES.get(str(config.get("dataset", "")), 10)
    batch = int(config.get("batch_size", 64))
    d = directions or int(config.get("num_directions", 8))
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    out = {}
    for kind, label in (("forward_only", labels.row_name(str(config.get("algorithm", "mfdd")))),
                        ("bp", "BP")):
        r = measure_torch_step([int(n_in), *hidden], n_classes, batch, kind=kind, directions=d,
                               repeats=repeats, device=dev)
        where = dev if r.metrics["energy_measured"] else f"{dev}, time only"
        out[f"{MEASURED_PREFIX} ({where}): {label}"] = r
    return out


def resolved_cost(rec: RunRecord):
    """The cost section of the resolved config stored with a run (None: an older file without
    it, or one this version cannot resolve; pricing then reads the flat config)."""
    if not rec.config_toml:
        return None
    import tomllib
    from .config import ConfigError, resolve
    try:
        return resolve(tomllib.loads(rec.config_toml)).cost
    except (ConfigError, tomllib.TOMLDecodeError, ValueError):
        return None


def reprice(path: str | Path, level: str | None = None, spec_file: str | Path | None = None,
            *, target_accuracy: float | None = None) -> dict[str, CostReport]:
    """Re-price every row of a stored run (see module docstring) from its traces alone."""
    rec = read_results(path)
    rec.config = plain_config(rec.config)
    cost = resolved_cost(rec)
    if not rec.step_summaries:
        raise ValueError(f"{str(path)!r} holds no trace steps (a baseline-only run); allowed: "
                         "a device run with stored step summaries")
    label = labels.device_row(str(rec.config.get("device_preset", rec.config.get("device", "device"))),
                              str(rec.config.get("algorithm", "mfdd")))
    summaries = {label: mean_summary(rec.step_summaries)}
    for k, v in stored_summaries(rec).items():
        if k != label:
            summaries[k] = v
    reports = price_summaries(rec.config, summaries, level=level, spec_file=spec_file,
                              history=rec.history, references=rec.references,
                              last_summary=rec.step_summaries[-1],
                              target_accuracy=target_accuracy, cost=cost)
    for name, d in rec.costs.items():
        if name.startswith(MEASURED_PREFIX):
            reports[name] = CostReport.from_dict(d)
    return reports


_HEADLINE = (("energy per step [J]", "energy_per_step_j"), ("latency per step [s]",
             "latency_per_step_s"), ("energy to target [J]", "energy_to_target_j"),
             ("time to target [s]", "time_to_target_s"))


def format_reprice(reports: Mapping[str, CostReport], level: str) -> str:
    """Component tables at ``level`` plus the headline band table (low / nominal / high)."""
    out = [f"Cost per training step (analytic model, {level} specs):",
           format_cost_table(reports)]
    target = next((r.metrics["target_accuracy"] for r in reports.values()
                   if "target_accuracy" in r.metrics), None)
    head = ["row"] + [f"{t} {lv}" for t, _ in _HEADLINE for lv in LEVELS] + \
        ["laser on [s]", "endurance used"]
    rows = []
    for name, r in reports.items():
        m = r.metrics
        cells = [name]
        for _, key in _HEADLINE:
            cells += [f"{m[f'{key}_{lv}']:.3g}" if f"{key}_{lv}" in m else "-" for lv in LEVELS]
        cells += [f"{m.get('laser_on_s', 0.0):.3g}", f"{m.get('endurance_used_fraction', 0.0):.3g}"]
        rows.append(cells)
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths)))
    title = "Headline band (low / nominal / high)" + (
        f"; target test accuracy {target:.4f} from the run's own history" if target else "")
    out += ["", title, fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows]
    return "\n".join(out)


def print_reprice(path: str | Path, level: str | None = None, spec_file: str | Path | None = None,
                  *, echo: Callable[[str], None] = print) -> dict[str, CostReport]:
    """Re-price ``path`` and print the tables; returns the reports."""
    rec_level = level or str(plain_config(read_results(path).config).get("cost_level", "nominal"))
    reports = reprice(path, rec_level, spec_file)
    echo(format_reprice(reports, rec_level))
    return reports


# ------------------------------------------------------------------------------ sensitivity
def _run_context(path: str | Path, spec_file):
    """(record, plain config, resolved cost section or None, merged spec overrides, device row
    label, mean step summary) of a stored device run, resolved as :func:`reprice` does."""
    rec = read_results(path)
    rec.config = plain_config(rec.config)
    if not rec.step_summaries:
        raise ValueError(f"{str(path)!r} holds no trace steps; allowed: a device run")
    cost = resolved_cost(rec)
    config = rec.config
    if cost is not None:
        config = {**config, "cost_level": cost.level, "gpus": list(cost.gpus)}
    file_overrides = load_spec_file(spec_file) if spec_file is not None else None
    base = deep_merge(cost_overrides(cost) if cost is not None else config_overrides(config),
                      file_overrides)
    label = labels.device_row(str(config.get("device_preset", config.get("device", "device"))),
                              str(config.get("algorithm", "mfdd")))
    return rec, config, cost, base, label, mean_summary(rec.step_summaries)


def _device_specs(specs: Mapping) -> dict:
    return {k.cost_section: specs[k.cost_section] for k in KINDS.values()
            if k.cost_section in specs}


def ratio_evaluator(path: str | Path, spec_file: str | Path | None = None):
    """``(evaluate, devices, gpus)`` for :func:`hwsim.cost.sensitivity.tornado` on a stored run:
    ``evaluate(overrides)`` re-prices the run's device row (nominal level, the run's own spec
    values plus ``overrides``) against every configured GPU's row of the same algorithm and
    its BP row, and returns energy-per-step ratios and the per-result ratio (energy to the
    target accuracy, steps from the histories, :data:`hwsim.cost.bands.TARGET_RULE`)."""
    from hwsim.cost.analytic import plan_layers
    rec, config, cost, base, label, summary = _run_context(path, spec_file)
    reports = price_summaries(config, {label: summary}, level="nominal", spec_file=spec_file,
                              history=rec.history, references=rec.references, cost=cost)
    n_dev = reports[label].metrics.get("steps_to_target")
    work = summary_step_work(summary)
    n_in, hidden = _first_n_in(summary), [int(h) for h in config.get("hidden", [])]
    bp = (bp_step_work([n_in, *hidden], N_CLASSES.get(str(config.get("dataset", "")), 10),
                       int(config.get("batch_size", 64)), BP_KERNELS)
          if n_in and hidden and not config.get("architecture") else None)
    gpus = list(config.get("gpus", []))
    algo_row = labels.row_name(str(config.get("algorithm", "mfdd")))
    n_bp = {g: reports.get(labels.gpu_row(g, labels.BP_ROW), CostReport({}, {})).metrics.get(
        "steps_to_target") for g in gpus}
    dev_specs = _device_specs(_specs("nominal", base))
    plan, _ = plan_layers(summary, dev_specs)
    devices = sorted({section for section, sp in dev_specs.items()
                      for _, spec, _ in plan if spec is sp})

    def evaluate(overrides: Mapping) -> dict[str, float]:
        specs = _specs("nominal", deep_merge(base, overrides))
        e_dev = price(summary, _device_specs(specs)).total_energy_j
        host = _host_static_w(specs)
        out = {}
        for g in gpus:
            gpu = specs["gpus"][g]
            e_mf = gpu_band(work["flops"], work["bytes"], work["kernels"], gpu,
                            p_host_w=host)["nominal"].total_energy_j
            out[f"{label} / {labels.gpu_row(g, algo_row)}, energy per step"] = e_dev / e_mf
            if bp is not None:
                e_bp = gpu_band(bp["flops"], bp["bytes"], bp["kernels"], gpu,
                                p_host_w=host)["nominal"].total_energy_j
                row = labels.gpu_row(g, labels.BP_ROW)
                out[f"{label} / {row}, energy per step"] = e_dev / e_bp
                if n_dev and n_bp.get(g):
                    out[f"{label} / {row}, energy to target"] = e_dev * n_dev / (e_bp * n_bp[g])
        return out

    return evaluate, devices, gpus


def sensitivity(path: str | Path, spec_file: str | Path | None = None, *, top: int = 5):
    """Tornado of the run's device/GPU ratios with the break-even value of each ratio's top
    mover: ``(movers per ratio, break-even per ratio)``."""
    from hwsim.cost.sensitivity import break_even, default_params, tornado
    evaluate, devices, gpus = ratio_evaluator(path, spec_file)
    result = tornado(evaluate, default_params(devices, gpus))
    evens = {name: break_even(evaluate, name, movers[0].param)
             for name, movers in result.items() if movers}
    return {k: v[:top] for k, v in result.items()}, evens


def project(path: str | Path, weights: int, layers: int, level: str | None = None,
            spec_file: str | Path | None = None) -> dict[str, CostReport]:
    """Per-step cost of the run's step re-shaped to ``layers`` square layers holding
    ``weights`` weights (:func:`hwsim.cost.projection.project_summary`), on the device and on
    every configured GPU (the run's algorithm: the projected traced work; BP: the projected
    MLP). No training happened: no figures to a target accuracy."""
    from hwsim.cost.projection import project_summary
    rec, config, cost, _base, label, summary = _run_context(path, spec_file)
    proj = project_summary(summary, weights, layers)
    n = int(proj["proj0.info.n_in"])
    config = dict(config, hidden=[n] * layers)
    return price_summaries(config, {f"{label}, projected {layers}×{n}²": proj}, level=level,
                           spec_file=spec_file, cost=cost)


def inventory_section(path: str | Path, level: str | None = None,
                      spec_file: str | Path | None = None) -> str:
    """The chip inventory of every device row of a stored run (its mean step, and the stored
    cross-device steps), at ``level``."""
    from hwsim.cost.inventory import chip_inventory, format_inventory
    try:
        rec, config, _cost, base, label, summary = _run_context(path, spec_file)
    except ValueError:
        return ""
    lv = level or str(config.get("cost_level", "nominal"))
    dev = _device_specs(_specs(lv, base))
    summaries = {label: summary, **stored_summaries(rec)}
    parts = [format_inventory(chip_inventory(s, dev), f"Chip inventory: {name} ({lv} specs)")
             for name, s in summaries.items()]
    return "\n\n".join(parts)

"""Energy and time to a target accuracy: forward-only training on a device against BP on a GPU.

    python bench/energy_to_accuracy.py [--algorithms mfdd local-guess bp] [--preset mzi-default]
        [--dataset fashion-mnist] [--n-train 1024] [--n-test 1000] [--hidden 64] [--epochs 6]
        [--batch-size 64] [--gpu "H100 SXM5"] [--target 0.7] [--seed 0]
        [--settings ALGO:KEY=VALUE ...]

Every algorithm trains the same network (MLP ``<inputs>-<hidden>`` with local heads) on the same data
subset and minibatch order; test accuracy is recorded after every epoch (the run's own history).
The target accuracy is ``--target`` or, by default, 0.95 × the lowest best accuracy among the
runs, so that every run reaches it. Then, per algorithm:

* forward-only algorithms (anything but the autograd baselines) are priced from their own traced
  steps on the device (``hwsim.cost.price`` at low / nominal / high), with laser-on time and
  endurance consumed over the run;
* ``bp`` and ``mf-ad`` (ideal digital twin, autograd: no device ran) are priced on the GPU band of
  ``--gpu``: throughput-bound (low), eager launch-bound (nominal), eager 20 µs launches (high),
  plus the same step measured with torch on this machine (``measure_torch_step``: CUDA events and
  NVML energy on an NVIDIA GPU; time only on a CPU).

Settings: those of the bench/fashion_algorithms.py runs (``DEFAULT_SETTINGS``): the knob learning
rate its grid chose on mzi-default (0.01 for every algorithm) and, for local-guess — the best
forward-only estimator there — the calibrated model (``guess_model = "auto"``: the Jacobian
measured by forward queries on a device that declares ``calibrate``, as the MZI meshes do;
the nominal one on a crossbar) on ``calibrate_subset = 8`` knob indices per block, re-measured
every ``recalibrate_every = 10`` steps; its device queries for calibration are in its trace and
priced. ``--settings`` adds or overrides (``local-guess:recalibrate_every=20``). The table
names the model each run used.

Steps to target come from each run's per-epoch history (the first epoch at or above the target);
energy and time to target = steps × the step's energy and latency at each level. One thread.
Algorithm names are those of ``forwardlab algorithms``, so another estimator can be added with
``--algorithms``.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import algorithms.baselines  # noqa: E402,F401  (registers the autograd baselines)
from algorithms import registry  # noqa: E402
from algorithms.model import model_from_config  # noqa: E402
from algorithms.seeds import generator  # noqa: E402
from experiments.data import load_dataset  # noqa: E402
from experiments.price import TARGET_FRACTION, mean_summary, price_summaries  # noqa: E402
from hwsim.cost import LEVELS, bp_step_work, gpu_band, measure_torch_step, with_headline  # noqa: E402
from hwsim.cost.report import steps_to_target  # noqa: E402
from hwsim.cost.spec import spec_from_mapping  # noqa: E402
from experiments.build import build_devices  # noqa: E402
from hwsim.presets import device_config  # noqa: E402
from hwsim.trace import Trace  # noqa: E402

#: Settings of the bench/fashion_algorithms.py runs on mzi-default (bench/results/
#: fashion_algorithms_mlp_mzi_seed*.txt: lr grid choice 0.01; local-guess with the calibrated
#: model on 8-index subsets, re-calibrated every 10 steps).
DEFAULT_SETTINGS = {"mfdd": {"knob_lr_range_units": 0.01},
                    "local-guess": {"knob_lr_range_units": 0.01, "guess_model": "auto",
                                    "calibrate_subset": 8, "recalibrate_every": 10},
                    "bp": {"knob_lr_range_units": 0.01}}
BP_KERNELS = 20         # eager launches of a small-MLP BP step (cost.md §4.3: 15–25)
N_CLASSES = 10


def subset(dataset: str, n_train: int, n_test: int, seed: int):
    """Standardised (train, test) subsets; statistics from the training subset only."""
    ds = load_dataset(dataset)
    perm = torch.randperm(ds.x_train.shape[0], generator=generator(seed, "bench/e2a-split"))
    tr = perm[:n_train]
    mean, std = ds.x_train[tr].mean(0), ds.x_train[tr].std(0) + 0.1
    z = lambda x: (x - mean) / std                                   # noqa: E731
    return (z(ds.x_train[tr]), ds.y_train[tr]), (z(ds.x_test[:n_test]), ds.y_test[:n_test])


def train_one(name: str, model, preset: str, train, test, epochs: int, batch: int, seed: int,
              values: dict | None = None):
    """Train ``name`` with settings ``values``; returns (per-epoch test accuracy, cumulative
    steps, step summaries, CPU s, results label)."""
    trace = Trace()
    settings = registry.settings_for(name, values or {})
    devs = build_devices(device_config(preset), registry.device_layout(name, settings, model), seed)
    tr = registry.build(name, settings, model, devs, N_CLASSES, seed=seed, trace=trace)
    t0 = time.process_time()
    res = registry.train(tr, *train, epochs=epochs, batch_size=batch, seed=seed, trace=trace,
                         x_eval=test[0], y_eval=test[1])
    steps_per_epoch = math.ceil(train[0].shape[0] / batch)
    acc = list(res.history["eval_accuracy"])
    return acc, [steps_per_epoch * (i + 1) for i in range(len(acc))], res.step_summaries, \
        time.process_time() - t0, getattr(tr, "label", "")


def price_device_run(summaries, acc, steps, config, target):
    """Device row (low/nominal/high headline) from the run's own traced steps."""
    label = "device"
    reports = price_summaries(config, {label: mean_summary(summaries)},
                              history={"test_accuracy": acc, "steps": steps},
                              last_summary=summaries[-1], target_accuracy=target)
    return reports[label]


def price_bp_run(layer_sizes, batch, gpu_name, acc, steps, target, p_host_w):
    """BP on the GPU band (low/nominal/high) and the measured torch step on this machine."""
    specs = spec_from_mapping("nominal", None)
    work = bp_step_work(layer_sizes, N_CLASSES, batch, BP_KERNELS)
    band = gpu_band(work["flops"], work["bytes"], work["kernels"], specs["gpus"][gpu_name],
                    p_host_w=p_host_w)
    n = steps_to_target(acc, steps, target)
    row = with_headline(band, "nominal", steps=n, target_accuracy=target)
    measured = measure_torch_step(layer_sizes, N_CLASSES, batch, kind="bp", repeats=7)
    return row, measured, n


def _fmt(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3g}"


def main(argv=None) -> list[list[str]]:
    """Run the comparison and print its table; returns the table rows (strings)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algorithms", nargs="+", default=["mfdd", "local-guess", "bp"],
                   help="registry names (see `forwardlab algorithms`)")
    p.add_argument("--preset", default="mzi-default")
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--n-train", type=int, default=1024)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--hidden", nargs="+", type=int, default=[64])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--gpu", default="H100 SXM5")
    p.add_argument("--target", type=float, default=None,
                   help=f"test accuracy to reach (default {TARGET_FRACTION} x the lowest best)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--settings", action="append", default=[], metavar="ALGO:KEY=VALUE",
                   help="an algorithm setting over DEFAULT_SETTINGS, e.g. "
                        "local-guess:calibrate_subset=8 (repeatable; value read as TOML)")
    a = p.parse_args(argv)
    from experiments.config import parse_set
    per_algo = {k: dict(v) for k, v in DEFAULT_SETTINGS.items()}
    for item in a.settings:
        algo, _, kv = item.partition(":")
        key, value = parse_set(f"algorithm.{kv}")
        per_algo.setdefault(algo, {})[key.split(".", 1)[1]] = value
    unknown = [n for n in a.algorithms if n not in registry.ALGORITHMS]
    if unknown:
        p.error(f"--algorithms {unknown} unknown; allowed: {', '.join(registry.ALGORITHMS)}")
    torch.set_num_threads(1)
    train, test = subset(a.dataset, a.n_train, a.n_test, a.seed)
    n_in = int(train[0].shape[1])
    model = model_from_config((n_in,), hidden=a.hidden)
    runs = {}
    for name in a.algorithms:
        values = per_algo.get(name, {})
        acc, steps, summaries, cpu, label = train_one(name, model, a.preset, train, test,
                                                      a.epochs, a.batch_size, a.seed, values)
        runs[name] = (acc, steps, summaries)
        setting_text = ", ".join(f"{k}={v}" for k, v in values.items()) or "defaults"
        print(f"  {name:12s} accuracy per epoch {' '.join(f'{x:.3f}' for x in acc)}  "
              f"({cpu:.0f} s CPU; {label}; {setting_text})", flush=True)
    target = a.target if a.target is not None else \
        TARGET_FRACTION * min(max(acc) for acc, _, _ in runs.values())
    config = {"cost_level": "nominal", "gpus": [], "hidden": a.hidden,
              "batch_size": a.batch_size, "dataset": a.dataset}
    p_host = spec_from_mapping("nominal", None)["mzi"].p_host_static_w
    layer_sizes = [n_in, *a.hidden]
    head = ["algorithm", "priced on", "steps", *[f"E/step {lv}" for lv in LEVELS],
            *[f"E to target {lv}" for lv in LEVELS], *[f"t to target {lv}" for lv in LEVELS],
            "laser on to target [s]", "endurance used"]
    rows = []
    for name, (acc, steps, summaries) in runs.items():
        twin = registry.ALGORITHMS[name].label.startswith("ideal digital twin")
        if twin:
            r, measured, n = price_bp_run(layer_sizes, a.batch_size, a.gpu, acc, steps, target,
                                          p_host)
            where = f"GPU {a.gpu} band"
        else:
            r = price_device_run(summaries, acc, steps, config, target)
            n = r.metrics.get("steps_to_target")
            where = a.preset
        m = r.metrics
        laser = m.get("laser_on_s", 0.0) * n if n is not None else None
        rows.append([name, where, _fmt(n),
                     *[_fmt(m[f"energy_per_step_j_{lv}"]) for lv in LEVELS],
                     *[_fmt(m.get(f"energy_to_target_j_{lv}")) for lv in LEVELS],
                     *[_fmt(m.get(f"time_to_target_s_{lv}")) for lv in LEVELS],
                     _fmt(laser), _fmt(m.get("endurance_used_fraction", 0.0))])
        if twin:
            t = measured.latency_s["measured"]
            e = measured.energy_j.get("measured")
            dev = "cuda" if measured.metrics["measured_on_cuda"] else "cpu"
            rows.append([name, f"measured ({dev}{'' if e is not None else ', time only'})",
                         _fmt(n), "-", _fmt(e), "-", "-",
                         _fmt(e * n if e is not None and n is not None else None), "-", "-",
                         _fmt(t * n if n is not None else None), "-", "-", "0"])
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(r, widths)))
    print(f"\nEnergy [J] and time [s] to test accuracy {target:.4f} ({a.dataset}, "
          f"{a.n_train} train / {a.n_test} test, MLP {n_in}-{'-'.join(map(str, a.hidden))}, "
          f"batch {a.batch_size}, {a.epochs} epochs, seed {a.seed}; accuracy after every "
          f"epoch; '-' = not reached or not applicable)")
    print(line(head))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    return rows


if __name__ == "__main__":
    main()

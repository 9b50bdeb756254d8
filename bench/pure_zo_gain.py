"""Pure zeroth-order reporting: every forward-only algorithm against a same-epoch frozen control.

    python bench/pure_zo_gain.py [--preset mzi-default] [--hidden 32 32] [--epochs 3]
        [--seeds 0 1 2] [--algorithms mfdd frog ...] [--batch-size 64]

Shipped UCI digits (1,437 train / 360 test, the stratified split of seed 0 for every run), the
default network (MLP 64-32-32 with Mono-Forward heads), each algorithm at its registry defaults.
Per seed every row starts from the same devices, initial knobs and batches (the seed's streams).

The control is the same-epoch run whose device knobs never move, with the head trained as the
algorithm trains it:

* the local-head family (mfdd, mfdd-thesis, frog, local-guess, activity, zo-sign): the registry's
  ``frozen`` (exact digital heads, one clean pass per step) — for mfdd-thesis, whose own head is
  trained by ZO, this control is the stronger one;
* flops, mixedtrain: the same trainer with ``train_knobs = False`` (clean passes, exact head);
* the others (tt-zo, sff, ff): the same trainer with the knob step set to 1e-12 of
  its unit (below float32 resolution of every knob, so the knobs stay where they started; the
  heads train as usual).

Columns: test accuracy mean ± sd over seeds; gain = paired (same seed) difference to the control,
mean ± sd, in points; device settings (queries: a knob setting evaluated on a minibatch, Σ
``*.mvm.settings`` of the trace) and streamed vectors (Σ ``*.mvm.vectors``) spent by the
algorithm; gain per 1,000 queries and per 1,000 streamed vectors (the extra over the control's);
trained knobs d (Σ over the algorithm's devices, :func:`algorithms.knobmaps.knob_map_for`) and
settings per knob (how many full-parameter "looks" the budget buys: the variable of the ceiling).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import algorithms.baselines  # noqa: E402,F401  (registers the autograd baselines)
from algorithms import registry  # noqa: E402
from algorithms.knobmaps import knob_map_for  # noqa: E402
from algorithms.model import model_from_config  # noqa: E402
from experiments.build import build_devices  # noqa: E402
from experiments.data import load_dataset  # noqa: E402
from hwsim.presets import device_config  # noqa: E402
from hwsim.trace import Trace  # noqa: E402

LOCAL_HEAD = ("mfdd", "mfdd-thesis", "frog", "local-guess", "activity", "zo-sign")
HEAD_SWITCH = ("flops", "mixedtrain")            # FieldZOTrainer(train_knobs=False)
TINY_STEP = {"tt-zo": "knob_lr_range_units", "sff": "knob_lr_range_units",
             "ff": "knob_lr_range_units"}
# Not here: ficonn-spsa (a whole-network rule for the FICONN chip's fixed optical readout, whose
# classes are its output ports: it does not build for 10 digit classes; its own table is
# reproduce/ficonn2024_standin.md) and insitu-bp (adjoint measurements: not zeroth-order).
FORWARD_ONLY = LOCAL_HEAD + HEAD_SWITCH + tuple(TINY_STEP)


def _sum(summaries, suffix: str) -> float:
    return float(sum(v for s in summaries for k, v in s.items() if k.endswith(suffix)))


def run_one(name, values, model, preset, data, epochs, batch, seed, *, freeze_knobs=False):
    """Train; returns (test accuracy, device settings, streamed vectors, CPU s, trained knobs d
    summed over the algorithm's devices)."""
    t0 = time.process_time()
    trace = Trace()
    settings = registry.settings_for(name, values)
    devs = build_devices(device_config(preset), registry.device_layout(name, settings, model), seed)
    tr = registry.build(name, settings, model, devs, 10, seed=seed, trace=trace)
    d = sum(knob_map_for(o.knob_spec, o.info().knob_bits).dim for o in devs)
    if freeze_knobs:
        tr.trainer.train_knobs = False
    (xt, yt), (xs, ys) = data
    res = registry.train(tr, xt, yt, epochs=epochs, batch_size=batch, seed=seed, trace=trace)
    acc = float((tr.predict(xs) == ys).float().mean())
    return (acc, _sum(res.step_summaries, ".mvm.settings"), _sum(res.step_summaries, ".mvm.vectors"),
            time.process_time() - t0, d)


def control_of(name):
    """(control algorithm, its settings, freeze flag, what to call it)."""
    if name in LOCAL_HEAD:
        return "frozen", {}, False, "frozen (exact heads)"
    if name in HEAD_SWITCH:
        return name, {}, True, "same trainer, train_knobs=False"
    return name, {TINY_STEP[name]: 1e-12}, False, f"same trainer, {TINY_STEP[name]}=1e-12"


def mean_sd(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="mzi-default")
    p.add_argument("--hidden", type=int, nargs="+", default=[32, 32])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--algorithms", nargs="+", default=list(FORWARD_ONLY), choices=FORWARD_ONLY)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    ds = load_dataset("digits", seed=0)
    data = ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test))
    model = model_from_config((ds.x_train.shape[1],), hidden=a.hidden)
    t_start = time.perf_counter()
    controls: dict = {}
    rows = []
    for name in a.algorithms:
        cname, cvals, cfreeze, clabel = control_of(name)
        accs, ctrl, qs, vs, cq, cv, cpu, dims = [], [], [], [], [], [], [], []
        for seed in a.seeds:
            key = (cname, tuple(sorted(cvals.items())), cfreeze, seed)
            if key not in controls:
                controls[key] = run_one(cname, cvals, model, a.preset, data, a.epochs,
                                        a.batch_size, seed, freeze_knobs=cfreeze)
            c = controls[key]
            r = run_one(name, {}, model, a.preset, data, a.epochs, a.batch_size, seed)
            accs.append(r[0]); qs.append(r[1]); vs.append(r[2]); cpu.append(r[3])    # noqa: E702
            dims.append(r[4])
            ctrl.append(c[0]); cq.append(c[1]); cv.append(c[2])                         # noqa: E702
            print(f"  {name:12s} seed {seed}: {r[0]:.4f} vs control {c[0]:.4f}, {r[1]:.0f} settings, "
                  f"{r[2]:.0f} vectors, {r[3]:.1f} s CPU", flush=True)
        gains = [100 * (x - c) for x, c in zip(accs, ctrl)]
        rows.append(dict(name=name, control=clabel, acc=mean_sd(accs), ctrl=mean_sd(ctrl),
                         gain=mean_sd(gains), q=statistics.mean(qs), v=statistics.mean(vs),
                         dq=statistics.mean(qs) - statistics.mean(cq),
                         dv=statistics.mean(vs) - statistics.mean(cv), cpu=statistics.mean(cpu),
                         d=statistics.mean(dims),
                         label=registry.ALGORITHMS[name].label))
    print(f"\ndigits 1437/360 (split of seed 0), MLP 64-{'-'.join(map(str, a.hidden))}, {a.preset}, "
          f"{a.epochs} epoch(s), batch {a.batch_size}, seeds {a.seeds}, registry defaults")
    print(f"{'algorithm':12s} {'test':>13s} {'control':>13s} {'gain (pts)':>13s} {'settings':>9s} "
          f"{'vectors':>10s} {'pts/1k set':>10s} {'pts/1k vec':>10s} {'knobs d':>8s} {'set/d':>6s} "
          f"{'CPU s':>6s}  control")
    for r in rows:
        (m, sd), (cm, csd), (g, gsd) = r["acc"], r["ctrl"], r["gain"]
        per_q = g * 1000 / r["dq"] if r["dq"] > 0 else float("nan")
        per_v = g * 1000 / r["dv"] if r["dv"] > 0 else float("nan")
        print(f"{r['name']:12s} {m:7.4f}±{sd:.3f} {cm:7.4f}±{csd:.3f} {g:+7.2f}±{gsd:4.2f} "
              f"{r['q']:9.0f} {r['v']:10.0f} {per_q:10.4f} {per_v:10.6f} {r['d']:8.0f} "
              f"{r['q'] / r['d']:6.2f} {r['cpu']:6.1f}  {r['control']}")
    print("gain: paired difference (same seed: devices, initial knobs, batches) to the control; "
          "per 1k: gain / (algorithm's − control's settings or vectors) × 1000")
    print(f"ran {time.perf_counter() - t_start:.0f} s wall (one thread)")
    return rows


if __name__ == "__main__":
    main()

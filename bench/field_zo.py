"""FLOPS and MixedTrain (the field's ZO on-chip baselines) against a same-epoch frozen control.

    python bench/field_zo.py [--preset mzi-l2ight] [--hidden 16 16] [--pool 4] [--n-train 2000]
        [--n-val 500] [--n-test 1000] [--epochs 1] [--batch 32] [--seeds 0 1 2]
        [--flops-lr-grid 2 0.2 0.02]

Fashion-MNIST, a stated subset (first ``n_train`` + ``n_val`` images of a seeded permutation of
the official training set; the first ``n_test`` official test images), images average-pooled
``pool``×``pool`` (28 → 7 for pool 4: 49 features) so that MixedTrain — sequential over
coordinates, one device program per probe — finishes on a CPU. Every seed: the same devices,
initial knobs, batches and head initialisation for all rows (``registry.initial_knobs`` of the
seed, device fabrication seeds from ``algorithms.seeds``).

Rows: ``frozen (global head)`` — the same trainer with ``train_knobs = False``, i.e. the same
clean passes and exact head updates, no knob query (the same-epoch control); ``flops`` at each
η of ``--flops-lr-grid`` (η chosen on the validation split, then reported on test); ``flops``
at the published η = 2 rad (the L2ight config) for reference; ``mixedtrain`` at its published
settings. Columns: test accuracy (mean ± sd over seeds), gain over the frozen control (points),
streamed vectors (Σ ``*.mvm.vectors`` of the trace: every input vector sent through a device
setting), device settings programmed, device energy (analytic model, nominal level, Σ over the
priced steps), CPU seconds, and gain per 1,000 device queries (streamed vectors).
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

from algorithms import registry  # noqa: E402
from algorithms.field_zo import FieldZOTrainer  # noqa: E402
from algorithms.model import model_from_config  # noqa: E402
from algorithms.network import OracleNetwork  # noqa: E402
from algorithms.seeds import device_seed, generator  # noqa: E402
from algorithms.settings import head_optimizer  # noqa: E402
from algorithms.training import fit  # noqa: E402
from experiments.data import load_dataset  # noqa: E402
from hwsim.cost.analytic import price  # noqa: E402
from hwsim.cost.spec import spec_from_mapping  # noqa: E402
from hwsim.kinds import KINDS  # noqa: E402
from hwsim.oracle import TracingOracle  # noqa: E402
from hwsim.presets import build_layer  # noqa: E402
from hwsim.trace import Trace  # noqa: E402


def split(n_train, n_val, n_test, pool, seed):
    ds = load_dataset("fashion-mnist")
    perm = torch.randperm(ds.x_train.shape[0], generator=generator(seed, "bench/split"))
    tr, va = perm[:n_train], perm[n_train:n_train + n_val]

    def pooled(x):
        return torch.nn.functional.avg_pool2d(x.reshape(-1, 1, 28, 28), pool).reshape(x.shape[0], -1)
    xs = [pooled(ds.x_train[tr]), pooled(ds.x_train[va]), pooled(ds.x_test[:n_test])]
    mean, std = xs[0].mean(0), xs[0].std(0) + 0.1          # training statistics only
    xs = [(x - mean) / std for x in xs]
    return (xs[0], ds.y_train[tr]), (xs[1], ds.y_train[va]), (xs[2], ds.y_test[:n_test])


def energy_j(summaries) -> float:
    specs = spec_from_mapping("nominal", None)
    sec = {k.cost_section: specs[k.cost_section] for k in KINDS.values() if k.cost_section in specs}
    return sum(sum(price(s, sec).energy_j.values()) for s in summaries)


def accuracy(tr, x, y) -> float:
    return float((tr.predict(x) == y).float().mean())


def run(name, settings, preset, model, data, epochs, batch, seed, train_knobs=True):
    (xt, yt), (xv, yv), (xs, ys) = data
    trace = Trace()
    slots = registry.device_layout(name, settings, model)
    devs = [build_layer(preset, s.n_in, s.n_out, seed=device_seed(seed, s.stream), name=s.name)
            for s in slots]
    knobs0 = registry.initial_knobs(name, settings, model, devs, seed)
    net = OracleNetwork.build(model, [TracingOracle(d, trace) for d in devs])
    tr = FieldZOTrainer(net, knobs0, 10, settings.rule(), head_optimizer(settings), seed=seed,
                        trace=trace, train_knobs=train_knobs)
    t0 = time.process_time()
    r = fit(tr, xt, yt, epochs=epochs, batch_size=batch, seed=seed, trace=trace)
    cpu = time.process_time() - t0
    sums = r.step_summaries
    vec = sum(v for s in sums for k, v in s.items() if k.endswith(".mvm.vectors"))
    progs = sum(v for s in sums for k, v in s.items() if k.endswith(".program.settings"))
    return {"val": accuracy(tr, xv, yv), "test": accuracy(tr, xs, ys), "vectors": vec,
            "settings": progs, "energy": energy_j(sums), "cpu": cpu}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="mzi-l2ight")
    ap.add_argument("--hidden", type=int, nargs="+", default=[16, 16])
    ap.add_argument("--pool", type=int, default=4)
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--n-val", type=int, default=500)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--flops-lr-grid", type=float, nargs="+", default=[2.0, 0.2, 0.02])
    ap.add_argument("--skip-mixedtrain", action="store_true")
    a = ap.parse_args(argv)
    t_start = time.time()
    rows: dict[str, list[dict]] = {}
    for seed in a.seeds:
        data = split(a.n_train, a.n_val, a.n_test, a.pool, seed)
        model = model_from_config((data[0][0].shape[1],), hidden=list(a.hidden))
        fl = registry.settings_for("flops")
        runs = {"frozen (global head)": run("flops", fl, a.preset, model, data, a.epochs,
                                            a.batch, seed, train_knobs=False)}
        for lr in a.flops_lr_grid:
            s = registry.settings_for("flops", {"lr_rad": lr})
            runs[f"flops η={lr:g} rad"] = run("flops", s, a.preset, model, data, a.epochs,
                                             a.batch, seed)
        if not a.skip_mixedtrain:
            runs["mixedtrain (published)"] = run("mixedtrain", registry.settings_for("mixedtrain"),
                                                 a.preset, model, data, a.epochs, a.batch, seed)
        for k, v in runs.items():
            rows.setdefault(k, []).append(v)
        print(f"seed {seed} done ({time.time() - t_start:.0f} s)", flush=True)
    # η of FLOPS chosen on the validation split (mean over seeds)
    grid = [k for k in rows if k.startswith("flops")]
    best = max(grid, key=lambda k: statistics.mean(r["val"] for r in rows[k]))
    frozen = rows["frozen (global head)"]

    def ms(xs):
        return (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)
    print(f"\nFashion-MNIST, {a.n_train} train / {a.n_val} val / {a.n_test} test, pooled "
          f"{a.pool}×{a.pool} ({data[0][0].shape[1]} features), MLP {data[0][0].shape[1]}-"
          f"{'-'.join(map(str, a.hidden))} + digital head, {a.preset}, {a.epochs} epoch(s), "
          f"batch {a.batch}, seeds {a.seeds}; FLOPS η chosen on validation: {best}")
    hdr = (f"{'row':<26} {'val':>13} {'test':>13} {'gain (pts)':>12} {'vectors':>11} "
           f"{'settings':>9} {'energy J':>9} {'CPU s':>7} {'gain/1k vec':>11}")
    print(hdr)
    print("-" * len(hdr))
    for k, rs in rows.items():
        gains = [100 * (r["test"] - f["test"]) for r, f in zip(rs, frozen)]
        vm, vs = ms([r["val"] for r in rs])
        tm, ts = ms([r["test"] for r in rs])
        gm, gs = ms(gains)
        vec = statistics.mean(r["vectors"] for r in rs)
        extra = vec - statistics.mean(f["vectors"] for f in frozen)
        per_k = gm / (extra / 1000) if extra > 0 else float("nan")
        mark = " *" if k == best else ""
        print(f"{k + mark:<26} {vm:.3f}±{vs:.3f}  {tm:.3f}±{ts:.3f}  {gm:+6.2f}±{gs:4.2f}  "
              f"{vec:>11.0f} {statistics.mean(r['settings'] for r in rs):>9.0f} "
              f"{statistics.mean(r['energy'] for r in rs):>9.3g} "
              f"{statistics.mean(r['cpu'] for r in rs):>7.1f} {per_k:>11.4f}")
    print("gain: test accuracy minus the same-seed frozen control; gain/1k vec: points per 1,000 "
          "streamed vectors beyond the control's; * = η chosen on validation. "
          f"Wall {time.time() - t_start:.0f} s.")


if __name__ == "__main__":
    main()

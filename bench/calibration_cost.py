"""Calibration that pays for itself: local-guess against mfdd in streamed vectors and energy.

    python bench/calibration_cost.py --data digits --seeds 0 1 2 --epochs 4 --batch 64 \
        --hidden 32 32 --candidates minibatch hadamard-min+broyden/20 minibatch+broyden/20 \
        minibatch+broyden/40 --out bench/results/calibration_cost_digits
    python bench/calibration_cost.py --data fashion-mnist --pool 4 --n-train 2500 \
        --n-test 1000 --seeds 0 1 2 --epochs 1 --batch 64 --hidden 32 32 --candidates \
        minibatch hadamard-min+broyden/20 minibatch+broyden/20 minibatch+broyden/40 \
        --out bench/results/calibration_cost_fashion
    python bench/calibration_cost.py ... --only hadamard-min/20 hadamard-min \
        --out bench/results/calibration_cost_fashion_ablation      # without the Broyden update

Through ``--preset`` (default mzi-default). Every seed: the same devices (fabrication seeds from
``algorithms.seeds``), initial knobs (``registry.initial_knobs``), minibatch order (the task
stream of the seed) and head initialisation for every row. The validation split (``--val``
of the training images, stratified, stream ``VAL_SPLIT`` of the seed; standardised with
training statistics) chooses local-guess's calibration levers on the ``--choose-seeds``: the
candidate with the fewest streamed vectors whose mean validation accuracy is at least mfdd's,
else the best validation accuracy. Test accuracy is reported for the chosen candidate only
(and for the previous default, for reference).

Rows: ``frozen`` (same-epoch control), ``mfdd`` (defaults), ``local-guess (previous
defaults)`` (16 knob indices every 10 steps, 1,024 Hadamard probe rows), the chosen
``local-guess`` candidate, and ``mf-ad`` (autograd on the ideal twin, no device). Columns: test
accuracy (mean ± sd over seeds), device settings programmed, streamed vectors (Σ
``*.mvm.vectors``: a calibration setting streams its probe rows, a training setting its
minibatch), device energy (analytic model, nominal level, every traced step priced), CPU
seconds of training, and the ratios mfdd / local-guess. A PNG plots test accuracy against
cumulative streamed vectors and against cumulative device energy (per epoch, seed means).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from algorithms import registry  # noqa: E402
from algorithms.model import model_from_config  # noqa: E402
from algorithms.seeds import device_seed, generator  # noqa: E402
from experiments.data import load_dataset  # noqa: E402
from experiments.runner import split_validation, standardize_with  # noqa: E402
from hwsim.cost.analytic import price  # noqa: E402
from hwsim.cost.spec import spec_from_mapping  # noqa: E402
from hwsim.kinds import KINDS  # noqa: E402
from hwsim.presets import build_layer  # noqa: E402
from hwsim.trace import Trace  # noqa: E402

#: local-guess before this bench (LocalGuessSettings' earlier defaults)
PREVIOUS = {"recalibrate_every": 10, "calibrate_subset": 16, "calibrate_probe_rows": 1024,
            "calibrate_probes": "hadamard", "broyden": 0.0}
#: the levers tried on the validation split (each a set of local-guess settings)
CANDIDATES = {k: {**PREVIOUS, **v} for k, v in {
    "hadamard-min": {"calibrate_probe_rows": 1},
    "minibatch": {"calibrate_probes": "minibatch"},
    "hadamard-min+broyden/10": {"calibrate_probe_rows": 1, "broyden": 1.0},
    "hadamard-min/20": {"calibrate_probe_rows": 1, "recalibrate_every": 20},
    "hadamard-min+broyden/20": {"calibrate_probe_rows": 1, "broyden": 1.0,
                                "recalibrate_every": 20},
    "minibatch+broyden/20": {"calibrate_probes": "minibatch", "broyden": 1.0,
                             "recalibrate_every": 20},
    "minibatch+broyden/40": {"calibrate_probes": "minibatch", "broyden": 1.0,
                             "recalibrate_every": 40},
}.items()}


def load(a, seed):
    """(train, val, test) tensors: the stated subset, a stratified validation split of the
    training images, standardised with training statistics."""
    ds = load_dataset(a.data, seed=seed)
    if a.pool > 1:       # average-pool the images (28 → 28/pool per side) to fit a CPU budget
        side = int(round(ds.x_train.shape[1] ** 0.5))

        def pooled(x):
            return torch.nn.functional.avg_pool2d(x.reshape(-1, 1, side, side),
                                                  a.pool).reshape(x.shape[0], -1)
        ds = dataclasses.replace(ds, x_train=pooled(ds.x_train), x_test=pooled(ds.x_test))
    if a.n_train:
        perm = torch.randperm(ds.x_train.shape[0], generator=generator(seed, "bench/subset"))
        keep = perm[:a.n_train]
        ds = dataclasses.replace(ds, x_train=ds.x_train[keep], y_train=ds.y_train[keep])
    if a.n_test:
        ds = dataclasses.replace(ds, x_test=ds.x_test[:a.n_test], y_test=ds.y_test[:a.n_test])
    ds, val = split_validation(ds, a.val, seed)
    ds, val = standardize_with(ds, val)
    return (ds.x_train, ds.y_train), val, (ds.x_test, ds.y_test), ds.n_classes


def step_energy(summaries) -> list[float]:
    specs = spec_from_mapping("nominal", None)
    sec = {k.cost_section: specs[k.cost_section] for k in KINDS.values() if k.cost_section in specs}
    return [sum(price(s, sec).energy_j.values()) for s in summaries]


def accuracy(tr, x, y) -> float:
    return float((tr.predict(x) == y).float().mean())


def run(name, values, a, data, seed):
    (xt, yt), (xv, yv), (xs, ys), n_classes = data
    model = model_from_config((xt.shape[1],), hidden=list(a.hidden))
    s = registry.settings_for(name, values)
    slots = registry.device_layout(name, s, model)
    devs = [build_layer(a.preset, sl.n_in, sl.n_out, seed=device_seed(seed, sl.stream),
                        name=sl.name) for sl in slots]
    trace = Trace()
    tr = registry.build(name, s, model, devs, n_classes, seed=seed, trace=trace)
    curve = []

    def on_epoch(e, m):
        curve.append({"test": accuracy(tr, xs, ys), "steps": m["steps"]})
    r = registry.train(tr, xt, yt, epochs=a.epochs, batch_size=a.batch, seed=seed, trace=trace,
                       on_epoch=on_epoch)
    h = r.history
    energy = step_energy(r.step_summaries)
    for c, vec, st in zip(curve, h.get("streamed_vectors", [0.0] * len(curve)),
                          h.get("device_settings", [0.0] * len(curve))):
        c.update(vectors=vec, settings=st, energy=sum(energy[:int(c["steps"])]))
    return {"label": tr.label, "val": accuracy(tr, xv, yv), "test": curve[-1]["test"],
            "settings": curve[-1]["settings"], "vectors": curve[-1]["vectors"],
            "energy": sum(energy), "cpu": r.cpu_s, "curve": curve}


def ms(xs):
    return (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="digits")
    ap.add_argument("--preset", default="mzi-default")
    ap.add_argument("--hidden", type=int, nargs="+", default=[32, 32])
    ap.add_argument("--pool", type=int, default=1, help="average-pool images k×k (1: none)")
    ap.add_argument("--n-train", type=int, default=0, help="training subset (0: all)")
    ap.add_argument("--n-test", type=int, default=0, help="first test images (0: all)")
    ap.add_argument("--val", type=float, default=0.2, help="validation fraction of training")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--choose-seeds", type=int, nargs="+", default=None)
    ap.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    ap.add_argument("--out", required=True, help="path prefix of the .txt/.json/.png written")
    ap.add_argument("--only", nargs="+", default=None, metavar="CANDIDATE",
                    help="an ablation: only these candidates on every seed (test accuracy, "
                         "vectors, energy), no choice, no other rows")
    a = ap.parse_args(argv)
    if a.only:
        return ablation(a)
    choose = a.choose_seeds or a.seeds[:1]
    t0 = time.time()
    cache: dict = {}

    def get(key, name, values, seed):
        if (key, seed) not in cache:
            cache[(key, seed)] = run(name, values, a, data_of(seed), seed)
            r = cache[(key, seed)]
            print(f"  seed {seed} {key:<28} val {r['val']:.4f} test {r['test']:.4f} "
                  f"vectors {r['vectors']:,.0f} energy {r['energy']:.3g} J cpu {r['cpu']:.0f} s "
                  f"({time.time() - t0:.0f} s)", flush=True)
        return cache[(key, seed)]
    datas: dict = {}

    def data_of(seed):
        if seed not in datas:
            datas[seed] = load(a, seed)
        return datas[seed]

    print(f"choosing local-guess levers on validation (seeds {choose})", flush=True)
    mf_val = statistics.mean(get("mfdd", "mfdd", {}, s)["val"] for s in choose)
    cand = {}
    for c in a.candidates:
        rs = [get(f"local-guess {c}", "local-guess", CANDIDATES[c], s) for s in choose]
        cand[c] = (statistics.mean(r["val"] for r in rs), statistics.mean(r["vectors"] for r in rs))
    ok = [c for c in cand if cand[c][0] >= mf_val]
    chosen = (min(ok, key=lambda c: cand[c][1]) if ok else max(cand, key=lambda c: cand[c][0]))
    print(f"chosen: {chosen} (val {cand[chosen][0]:.4f} vs mfdd {mf_val:.4f}; "
          f"{'meets' if ok else 'no candidate meets'} mfdd's validation accuracy)", flush=True)
    rows = {"frozen": ("frozen", {}), "mfdd": ("mfdd", {}),
            "local-guess (previous defaults)": ("local-guess", PREVIOUS),
            f"local-guess {chosen}": ("local-guess", CANDIDATES[chosen]),
            "mf-ad (ideal twin, autograd)": ("mf-ad", {})}
    res = {k: [] for k in rows}
    for seed in a.seeds:
        for k, (name, values) in rows.items():
            key = k if not k.startswith("local-guess ") or "previous" in k else k
            res[k].append(get(key, name, values, seed))
    lines = [f"{a.data}: {data_of(a.seeds[0])[0][0].shape[0]} train / "
             f"{data_of(a.seeds[0])[1][0].shape[0]} val / {data_of(a.seeds[0])[2][0].shape[0]} "
             f"test{' (subset)' if a.n_train or a.n_test else ''}, MLP "
             f"{data_of(a.seeds[0])[0][0].shape[1]}-{'-'.join(map(str, a.hidden))}, "
             f"{a.preset}, {a.epochs} epoch(s), batch {a.batch}, seeds {a.seeds}",
             f"validation choice (seeds {choose}): mfdd val {mf_val:.4f}; " + "; ".join(
                 f"{c} val {v:.4f} vectors {n:,.0f}" for c, (v, n) in cand.items()),
             f"chosen: {chosen} = {CANDIDATES[chosen]}", "",
             f"{'row':<34} {'test accuracy':>15} {'settings':>10} {'vectors':>12} "
             f"{'energy (J)':>11} {'CPU (s)':>8}"]
    for k, rs in res.items():
        m, sd = ms([r["test"] for r in rs])
        lines.append(f"{k:<34} {m:.4f} ± {sd:.4f} {ms([r['settings'] for r in rs])[0]:>10,.0f} "
                     f"{ms([r['vectors'] for r in rs])[0]:>12,.0f} "
                     f"{ms([r['energy'] for r in rs])[0]:>11.4g} {ms([r['cpu'] for r in rs])[0]:>8.0f}")
    mf = res["mfdd"]
    for k in ("local-guess (previous defaults)", f"local-guess {chosen}"):
        lg = res[k]
        ratio = {q: ms([m[q] / max(g[q], 1e-30) for m, g in zip(mf, lg)])
                 for q in ("settings", "vectors", "energy")}
        lines.append(f"mfdd / {k}: " + ", ".join(f"{q} {v[0]:.2f}× ± {v[1]:.2f}"
                                                 for q, v in ratio.items())
                     + f"; test accuracy difference {ms([g['test'] - m['test'] for m, g in zip(mf, lg)])[0]:+.4f}")
    text = "\n".join(lines)
    print("\n" + text)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".txt").write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps(
        {"args": vars(a), "chosen": chosen, "candidates": cand, "mfdd_val": mf_val,
         "rows": {k: [{x: v for x, v in r.items()} for r in rs] for k, rs in res.items()}},
        indent=1, default=float))
    plot(res, out.with_suffix(".png"), lines[0])


def ablation(a) -> None:
    """Each of ``a.only`` on every seed: one line per candidate (seed means ± sd)."""
    lines = [f"ablation on {a.data} (pool {a.pool}, {a.n_train or 'all'} train before the "
             f"validation split, {a.n_test or 'all'} test), MLP hidden {a.hidden}, {a.preset}, "
             f"{a.epochs} epoch(s), batch {a.batch}, seeds {a.seeds}",
             f"{'candidate':<28} {'val':>15} {'test':>15} {'settings':>9} {'vectors':>9} "
             f"{'energy (J)':>10}"]
    for c in a.only:
        rs = []
        for seed in a.seeds:
            rs.append(run("local-guess", CANDIDATES[c], a, load(a, seed), seed))
            print(f"  {c} seed {seed}: val {rs[-1]['val']:.4f} test {rs[-1]['test']:.4f}",
                  flush=True)
        v, t = ms([r["val"] for r in rs]), ms([r["test"] for r in rs])
        lines.append(f"{c:<28} {v[0]:.4f} ± {v[1]:.4f} {t[0]:.4f} ± {t[1]:.4f} "
                     f"{ms([r['settings'] for r in rs])[0]:>9,.0f} "
                     f"{ms([r['vectors'] for r in rs])[0]:>9,.0f} "
                     f"{ms([r['energy'] for r in rs])[0]:>10.4g}")
    text = "\n".join(lines)
    print(text)
    Path(a.out).with_suffix(".txt").write_text(text + "\n")


def plot(res, path, title) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for k, rs in res.items():
        if not rs[0]["curve"] or not rs[0]["curve"][-1]["vectors"]:
            continue                         # the twin reference streams nothing: a line
        n = len(rs[0]["curve"])
        acc = [statistics.mean(r["curve"][e]["test"] for r in rs) for e in range(n)]
        for ax, q in zip(axes, ("vectors", "energy")):
            ax.plot([statistics.mean(r["curve"][e][q] for r in rs) for e in range(n)], acc,
                    marker="o", ms=3, label=k)
    for k, rs in res.items():
        if rs[0]["curve"] and not rs[0]["curve"][-1]["vectors"]:
            for ax in axes:
                ax.axhline(statistics.mean(r["test"] for r in rs), ls="--", c="k", lw=0.8,
                           label=k)
    for ax, q in zip(axes, ("streamed vectors (cumulative)", "device energy, J (cumulative, "
                            "analytic nominal)")):
        ax.set_xscale("log")
        ax.set_xlabel(q)
        ax.set_ylabel("test accuracy (seed mean)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()

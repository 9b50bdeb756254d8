"""Budget-matched Fashion-MNIST: every on-chip training family at equal streamed-vector budgets.

    python bench/budget_matched.py --networks l2ight --presets mzi-l2ight --seeds 0 1 2 \
        --n-train 512 --n-val 256 --n-test 500 --epochs 4 --batch 32 \
        --budgets 2000 8000 32000 128000 --checkpoint-ratio 1.4142 \
        --out bench/results/budget_matched_l2ight_mzi-l2ight      # the committed tables' form

(bench/results/README.md lists each committed file's exact command and its reductions.)

Networks (``--networks``): ``l2ight`` — the L2ight MLP, hidden 64-64 (Gu et al., "L2ight:
Enabling On-Chip Learning for Optical Neural Networks via Efficient in-situ Subspace
Optimization", NeurIPS 2021, arXiv:2110.14807; its MZI meshes are the k×k blocks of the photonic
presets, 8×8 here, see ``hwsim/photonic/presets.py`` ``MZI_BLOCK``); ``mlp128`` — 784-128-128.
Presets (``--presets``): ``mzi-l2ight`` (the L2ight/FLOPS/MixedTrain noise model),
``mzi-default``, ``crossbar-default``.

Rows (``ROWS``): flops (FLOPS, Gu et al., DAC 2020), mixedtrain (MixedTrain, Gu et al., AAAI
2021, arXiv:2012.11148), mfdd, frog, local-guess with its default global target and with the
labelled block-local target, ``local-guess mb-cal`` (the global target with the calibration levers
chosen for a 784-wide layer: probes from the training minibatch, Broyden updates, re-measured
every 40 steps), activity, frozen (the same-epoch control: knobs never move, exact
digital heads), and the references: mf-ad and bp ("ideal digital twin, autograd": no device
vector streamed), bp-deploy with calibrated mapping where the device offers calibrate (its
streamed vectors are those of the mapping, measured from the trace of its first deployed
prediction), and the L2ight flow (``l2ight-flow``: BP on the twin, identity calibration,
parallel mapping, in-situ FLOPS; its settings are the L2ight configs', see
``algorithms/families/l2ight_flow.py``). A row whose algorithm cannot run on a preset (a missing
device capability, or settings the device cannot take) says why instead of a number.

Learning rate: each row with a tuned knob (``TUNED``) tries ``--lr-grid`` (knob range units;
FLOPS: ``--flops-lr-grid`` in rad, around the published 2 rad of L2ight's
``config/mnist/cnn3/flops/learn.yml``) on seed 0 and keeps the value with the best validation
accuracy (the validation split is held out of the training images; the test split is never used
to choose); the other seeds then run with it. The L2ight flow runs at its published settings
but for the η of its in-situ FLOPS stage (``--flow-lr-grid``, rad: the published 2 rad sends the
mapped network back to chance on these subsets); MixedTrain runs at its published settings
(``config/fmnist/cnn3/mixedtrain/learn.yml``).

Curves: test accuracy at checkpoints of cumulative streamed vectors (Σ ``*.mvm.vectors`` of the
training steps' trace summaries, :func:`hwsim.trace.device_totals`: a calibration setting streams
its probe rows, a training setting its minibatch): before the first step, then after the first
step whose cumulative count reaches each point of a geometric grid (ratio ``--checkpoint-ratio``),
and after the last step. Evaluation streams do not count (they are not training work).

Budgets: for each (network, preset), the common cap C is the smallest total of streamed vectors
over the full runs of the device-trained forward-only rows (``CAP_ROWS``) and seeds: up to C
every such row is still training. The budgets are ⌊C·r^k⌋, k = −``--budgets-below`` …
``--budgets-above`` (r = ``--budget-ratio``), or ``--budgets`` (fixed in advance, so tables
of separate invocations share them; ``--epochs`` is then the most any row trains, and the
forward-only rows train until they pass the largest budget or run out of epochs). A row's accuracy at budget B is
its test accuracy at the LAST checkpoint whose cumulative streamed vectors are ≤ B (no
interpolation: that model existed at that cost); the "used" column is that checkpoint's vectors
over B (mean over seeds), so how close to B each row got is visible. "*" marks a row whose run
ended below B on some seed (its final point: it spent less than B). The device-trained
forward-only rows stop after the first step past the largest budget (``--full-runs``: they do
not): nothing beyond it enters the budget table, and the costliest rows (MixedTrain's sequential
probes) would not finish otherwise. The L2ight flow runs to its end (its identity calibration
and parallel mapping alone can exceed every budget: the budget columns then hold its
pretrained, uncalibrated deployment, and the whole-run table its final accuracy and cost). Twin references stream nothing: their final accuracy holds
at every budget; bp-deploy's holds at budgets ≥ its mapping vectors, "—" below.

Whole-run table: test accuracy (mean ± sd over seeds), device settings programmed (Σ
``*.program.settings``), streamed vectors, device energy in J (analytic cost model, nominal
level, every traced training step priced: ``bench/calibration_cost.py``'s ``step_energy``) and
CPU seconds of training (process time of the training steps, evaluation subtracted).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
_BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(_BENCH.parent))
sys.path.insert(0, str(_BENCH))

import torch  # noqa: E402

import algorithms.baselines  # noqa: E402,F401  (registers the autograd baselines)
from algorithms import registry  # noqa: E402
from algorithms.model import model_from_config  # noqa: E402
from algorithms.training import FitResult, Interrupted  # noqa: E402
from experiments.build import build_devices  # noqa: E402
from experiments.data import load_dataset  # noqa: E402
from hwsim.oracle import MissingCapability  # noqa: E402
from hwsim.presets import device_config  # noqa: E402
from hwsim.trace import Trace, device_totals, summarize  # noqa: E402

from calibration_cost import step_energy  # noqa: E402  (one pricing of the trace for benches)
from fashion_algorithms import registry_accuracy, split  # noqa: E402  (the shared split)

#: hidden widths by network name (input: the 784 pixels)
NETWORKS = {"l2ight": [64, 64], "mlp128": [128, 128]}
#: row key → (algorithm, fixed settings). Order: forward-only rows, control, references.
ROWS = {
    "flops": ("flops", {}),
    "mixedtrain": ("mixedtrain", {}),
    "mfdd": ("mfdd", {}),
    "frog": ("frog", {}),
    "local-guess global": ("local-guess", {"target": "global"}),
    "local-guess local": ("local-guess", {"target": "local"}),
    # the calibration levers chosen on the validation splits of 3 seeds for a 784-wide first
    # layer (bench/results/calibration_cost_fashion784_choose3.txt: probes from the training
    # minibatch, Broyden updates, a full re-measure every 40 steps); the registry's default
    # (fewest Hadamard rows every 20 steps) is the digits choice and streams 1,024 rows per
    # calibration setting of a 784-input layer
    "local-guess mb-cal": ("local-guess", {"target": "global", "calibrate_probes": "minibatch",
                                           "broyden": 1.0, "recalibrate_every": 40}),
    "activity": ("activity", {}),
    "l2ight-flow": ("l2ight-flow", {}),
    "frozen": ("frozen", {}),
    "mf-ad": ("mf-ad", {}),
    "bp": ("bp", {}),
    "bp-deploy": ("bp-deploy", {"deploy_calibration": "auto"}),
}
#: rows whose knob learning rate is chosen on validation, and the key it sets
TUNED = {"flops": "lr_rad", "mfdd": "knob_lr_range_units", "frog": "knob_lr_range_units",
         "local-guess global": "knob_lr_range_units", "local-guess local": "knob_lr_range_units",
         "local-guess mb-cal": "knob_lr_range_units",
         "activity": "knob_lr_range_units", "mf-ad": "knob_lr_range_units",
         "bp": "knob_lr_range_units", "bp-deploy": "knob_lr_range_units",
         "l2ight-flow": "insitu_settings.lr_rad"}
#: rows that train through the device without any twin stage: they set the common budget cap
CAP_ROWS = ("flops", "mixedtrain", "mfdd", "frog", "local-guess global", "local-guess local",
            "local-guess mb-cal", "activity")
#: the order rows run in: the CAP_ROWS expected cheapest per step first (their full runs set the
#: cap early, so the costly ones can stop just past it), then the others
RUN_ORDER = ("flops", "frog", "local-guess local", "local-guess global",
             "local-guess mb-cal", "activity", "mfdd",
             "mixedtrain", "l2ight-flow", "frozen", "mf-ad", "bp", "bp-deploy")
#: rows that stream no device vector in training (labelled with the registry's TWIN_LABEL)
TWIN_ROWS = ("mf-ad", "bp")


def _knob(key, value) -> dict:
    """{key: value}; a dotted key sets a nested table ("insitu_settings.lr_rad")."""
    head, _, rest = key.partition(".")
    return {head: _knob(rest, value) if rest else value}


def build(name, values, model, preset, seed):
    """(trainable, trace) of algorithm ``name`` on fresh devices of ``preset``: fabrication
    seeds from ``algorithms.seeds`` (the same devices for every row of a seed)."""
    s = registry.settings_for(name, values)
    trace = Trace()
    devs = build_devices(device_config(preset), registry.device_layout(name, s, model), seed)
    return registry.build(name, s, model, devs, 10, seed=seed, trace=trace), trace


def run(name, values, model, preset, data, epochs, batch, seed, ratio, curve=True,
        stop_at=math.inf):
    """Train one row; returns a dict: ``val`` / ``test`` accuracy (fractions), ``settings``,
    ``vectors`` (streamed in training), ``energy`` (J), ``cpu`` (s, training only), ``steps``,
    ``stopped`` (training ended after the first step whose cumulative streamed vectors
    exceeded ``stop_at``: nothing beyond the budget cap is needed for the budget table),
    ``curve`` [{"vectors", "settings", "energy", "steps", "test"}] and, for deploy rows,
    ``deploy`` (the device work of the first deployed prediction: the calibrated mapping)."""
    (xt, yt), (xv, yv), (xs, ys) = data
    tr, trace = build(name, values, model, preset, seed)
    if name == "l2ight-flow":     # 1 twin pretraining epoch, then ``epochs`` in-situ epochs
        epochs += tr.settings.pretrain_epochs
    points, eval_cpu, nxt = [], [0.0], [1.0]
    energies: list[float] = []

    def checkpoint(steps, summaries):
        energies.extend(step_energy(summaries[len(energies):]))
        tot = device_totals(summaries)
        points.append({"steps": steps, "vectors": tot["vectors"], "settings": tot["settings"],
                       "energy": sum(energies), "test": registry_accuracy(tr, xs, ys)})

    cum = [0.0]                   # streamed vectors of the training steps so far

    def on_step(n, res):
        # a checkpoint after the first step whose cumulative vectors reach the next grid point
        cum[0] += device_totals(res.step_summaries[-1:])["vectors"]
        if curve and cum[0] >= nxt[0]:
            t0 = time.process_time()        # fit's CPU time includes this callback: subtract
            checkpoint(n, res.step_summaries)
            eval_cpu[0] += time.process_time() - t0
            while nxt[0] <= points[-1]["vectors"]:
                nxt[0] *= ratio
    if curve:
        checkpoint(0, [])
    res, cpu0 = FitResult(), time.process_time()
    try:
        registry.train(tr, xt, yt, epochs=epochs, batch_size=batch, seed=seed, trace=trace,
                       on_step=on_step, result=res,
                       stop=lambda: cum[0] > stop_at)
    except Interrupted:
        pass
    # fit adds an epoch's CPU time only when the epoch ends: measured here for stopped runs too
    cpu = time.process_time() - cpu0 - eval_cpu[0]
    deploy = None
    if name.endswith("deploy"):
        # the calibrated mapping runs at the first deployed prediction, outside the training
        # steps (it is then kept for every later prediction): its device work is read from the
        # trace of that first prediction, on one image (which adds one vector per block)
        n0 = len(trace.events)
        tr.predict(xs[:1])
        s = summarize(trace.events[n0:], trace.layers.values())
        deploy = dict(device_totals([s]), energy=sum(step_energy([s])))
    if not points or points[-1]["steps"] != len(res.step_summaries):
        checkpoint(len(res.step_summaries), res.step_summaries)
    last = points[-1]
    out = {"label": tr.label, "val": registry_accuracy(tr, xv, yv), "test": last["test"],
           "settings": last["settings"], "vectors": last["vectors"], "energy": last["energy"],
           "cpu": cpu, "steps": len(res.step_summaries), "stopped": last["vectors"] > stop_at,
           "curve": points if curve else []}
    if deploy is not None:
        out.update(deploy=deploy, vectors=last["vectors"] + deploy["vectors"],
                   settings=last["settings"] + deploy["settings"],
                   energy=last["energy"] + deploy["energy"])
    return out


def common_cap(rows) -> float | None:
    """C: the smallest total of streamed vectors over the full (not stopped) runs of the
    CAP_ROWS so far (every seed); None when none ran."""
    totals = [r["vectors"] for k, rs in rows.items() if k in CAP_ROWS for r in rs
              if not r["stopped"]]
    return min(totals) if totals else None


def budget_grid(cap, below, above, ratio) -> list[int]:
    """Budgets (streamed vectors): ⌊C·ratio^k⌋ for k = −below … above. Up to C every
    device-trained forward-only row is still training; above it the rows that ended their
    epochs below a budget are marked (they spent less)."""
    return [] if cap is None else [math.floor(cap * ratio ** k) for k in range(-below, above + 1)]


def at_budget(row_runs, key, budget):
    """(accuracies per seed, used fractions per seed, ran_out) of one row at ``budget``; None
    where the row is not available at that budget (a deploy row whose mapping costs more)."""
    if key in TWIN_ROWS:
        return [r["test"] for r in row_runs], [0.0] * len(row_runs), False
    if "deploy" in row_runs[0]:
        if any(r["vectors"] > budget for r in row_runs):
            return None
        return ([r["test"] for r in row_runs], [r["vectors"] / budget for r in row_runs],
                False)
    accs, used, out = [], [], False
    for r in row_runs:
        pts = [p for p in r["curve"] if p["vectors"] <= budget]
        p = pts[-1]               # the checkpoint before the first step (0 vectors) always fits
        out = out or p is r["curve"][-1] and r["vectors"] < budget
        accs.append(p["test"])
        used.append(p["vectors"] / budget)
    return accs, used, out


def ms(xs):
    return (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)


def table(net, preset, rows, skipped, lrs, budgets) -> list[str]:
    """The two tables of one (network, preset) as lines."""
    lines = [f"== {net} on {preset} ==",
             f"budgets (streamed vectors): {', '.join(f'{b:,}' for b in budgets)}"
             + ("" if budgets else " (no device-trained forward-only row ran)")]
    head = f"{'row':<20} {'lr':>7}" + "".join(f" {f'acc @ {b:,.3g}':>15} {'used':>5}"
                                               for b in budgets)
    lines += ["", head, "-" * len(head)]
    for key in ROWS:
        if key in skipped:
            lines.append(f"{key:<20} not run: {skipped[key]}")
            continue
        if key not in rows:
            continue
        lr = f"{lrs[key]:g}" if lrs.get(key) is not None else "-"
        cells = ""
        for b in budgets:
            got = at_budget(rows[key], key, b)
            if got is None:
                cells += f" {'—':>15} {'':>5}"
                continue
            (m, sd), u = ms(got[0]), statistics.mean(got[1])
            cells += f" {f'{m:.4f}±{sd:.4f}' + ('*' if got[2] else ' '):>15} {u:>5.2f}"
        lines.append(f"{key:<20} {lr:>7}{cells}")
    hdr = (f"{'row':<20} {'test accuracy':>15} {'val':>7} {'steps':>7} {'settings':>11} {'vectors':>13} "
           f"{'energy (J)':>11} {'CPU (s)':>8}  label")
    lines += ["", hdr, "-" * len(hdr)]
    for key in ROWS:
        if key not in rows:
            continue
        rs = rows[key]
        m, sd = ms([r["test"] for r in rs])
        steps = f"{ms([r['steps'] for r in rs])[0]:.0f}" + ("s" if any(r["stopped"] for r in rs)
                                                            else "")
        lines.append(f"{key:<20} {m:.4f} ± {sd:.4f} {ms([r['val'] for r in rs])[0]:>7.4f} "
                     f"{steps:>7} "
                     f"{ms([r['settings'] for r in rs])[0]:>11,.0f} "
                     f"{ms([r['vectors'] for r in rs])[0]:>13,.0f} "
                     f"{ms([r['energy'] for r in rs])[0]:>11.4g} "
                     f"{ms([r['cpu'] for r in rs])[0]:>8.1f}  {rs[0]['label']}")
    return lines


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="fashion-mnist", help="digits: the tests' tiny runs")
    ap.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    ap.add_argument("--hidden", type=int, nargs="+", default=None,
                    help="override every network's hidden widths (tests)")
    ap.add_argument("--presets", nargs="+",
                    default=["mzi-l2ight", "mzi-default", "crossbar-default"])
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--n-val", type=int, default=500)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=1,
                    help="epochs of every row; with --budgets, the most a row trains: the "
                         "forward-only rows stop earlier, after the first step past the largest")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--lr-grid", type=float, nargs="+", default=[2e-3, 1e-2],
                    help="knob range units (the grid of bench/fashion_algorithms.py)")
    ap.add_argument("--flops-lr-grid", type=float, nargs="+", default=[2.0, 0.2],
                    help="FLOPS η in rad (2: L2ight's published value)")
    ap.add_argument("--flow-lr-grid", type=float, nargs="+", default=[2.0, 0.01],
                    help="η in rad of the L2ight flow's in-situ FLOPS (2: published; 0.01: the "
                         "choice of bench/results/deployed_calibration.txt)")
    ap.add_argument("--checkpoint-ratio", type=float, default=2 ** 0.25)
    ap.add_argument("--budget-ratio", type=float, default=4.0)
    ap.add_argument("--budgets-below", type=int, default=1,
                    help="budgets below the common cap C (C/ratio, C/ratio², …)")
    ap.add_argument("--budgets-above", type=int, default=2,
                    help="budgets above C (C·ratio, …); forward-only rows stop past the largest")
    ap.add_argument("--budgets", type=float, nargs="+", default=None,
                    help="explicit budgets in streamed vectors (instead of the common cap)")
    ap.add_argument("--full-runs", action="store_true",
                    help="train every row to the end (default: forward-only rows stop after "
                         "the first step past the budget cap)")
    ap.add_argument("--reductions", default="", help="stated reductions, printed in the header")
    ap.add_argument("--out", default=None, help="path prefix of the .txt/.json written")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    t_start = time.time()
    lines = [f"{a.dataset}: {a.n_train} train / {a.n_val} val (held out of train) / {a.n_test} "
             f"test, {a.epochs} epoch(s){' at most' if a.budgets else ''} (l2ight-flow: + 1 twin "
             f"pretraining epoch), batch "
             f"{a.batch}, seeds {a.seeds}; lr chosen on validation (seed 0) from {a.lr_grid} "
             f"knob range units (flops: {a.flops_lr_grid} rad; l2ight-flow's in-situ flops: "
             f"{a.flow_lr_grid} rad); accuracy at a budget = the last "
             f"checkpoint with cumulative streamed vectors <= B (no interpolation), checkpoint "
             f"grid ratio {a.checkpoint_ratio:.3g}"]
    if a.reductions:
        lines.append(f"stated reductions: {a.reductions}")
    result = {"args": vars(a), "tables": {}}
    for net in a.networks:
        hidden = a.hidden or NETWORKS[net]
        for preset in a.presets:
            rows, skipped, lrs = {}, {}, {}
            for key in sorted(a.rows, key=RUN_ORDER.index):
                name, fixed = ROWS[key]
                # a device-trained forward-only row stops past the cap set by the full runs so
                # far (the smallest total): the budget table needs nothing beyond it
                grid_now = budget_grid(common_cap(rows), a.budgets_below, a.budgets_above,
                                       a.budget_ratio)
                largest = max(a.budgets) if a.budgets else (grid_now[-1] if grid_now else None)
                stop_at = (largest if largest is not None and key in CAP_ROWS
                           and not a.full_runs else math.inf)
                grid = ({"flops": a.flops_lr_grid, "l2ight-flow": a.flow_lr_grid}.get(key, a.lr_grid)
                        if key in TUNED else [None])
                runs = []
                try:
                    for seed in a.seeds:
                        data = split(a.n_train, a.n_val, a.n_test, seed, a.dataset)
                        model = model_from_config((data[0][0].shape[1],), hidden=list(hidden))
                        best = None
                        # the grid on the first seed (validation accuracy), its choice after
                        for lr in grid if seed == a.seeds[0] else [lrs[key]]:
                            values = dict(fixed, **(_knob(TUNED[key], lr) if lr is not None
                                                    else {}))
                            t0 = time.time()
                            r = run(name, values, model, preset, data, a.epochs, a.batch, seed,
                                    a.checkpoint_ratio, curve=key not in TWIN_ROWS + ("bp-deploy",),
                                    stop_at=stop_at)
                            print(f"  {net} {preset} {key} seed {seed} lr {lr} val {r['val']:.4f}"
                                  f" test {r['test']:.4f} vectors {r['vectors']:,.0f} steps "
                                  f"{r['steps']}{' (stopped)' if r['stopped'] else ''} "
                                  f"({time.time() - t0:.0f} s)", flush=True)
                            if best is None or r["val"] > best[0]["val"]:
                                best = (r, lr)
                        runs.append(best[0])
                        lrs[key] = best[1]
                except (MissingCapability, ValueError, NotImplementedError) as e:
                    # an algorithm the preset cannot run: the reason, not a crash
                    skipped[key] = f"{type(e).__name__}: {str(e).splitlines()[0]}"
                    print(f"  {net} {preset} {key}: not run ({skipped[key]})", flush=True)
                    continue
                rows[key] = runs
            budgets = ([int(b) for b in a.budgets] if a.budgets
                       else budget_grid(common_cap(rows), a.budgets_below, a.budgets_above,
                                        a.budget_ratio))
            width = load_dataset(a.dataset).x_train.shape[1]
            lines += [""] + table(f"MLP {width}-{'-'.join(map(str, hidden))} ({net})", preset, rows,
                                  skipped, lrs, budgets)
            result["tables"][f"{net}/{preset}"] = {
                "budgets": budgets, "lr": lrs, "skipped": skipped, "rows": rows,
                "at_budget": {k: [at_budget(rows[k], k, b) for b in budgets] for k in rows}}
            print("\n".join(lines[-(len(rows) * 2 + len(skipped) + 12):]), flush=True)
    lines += ["", "acc @ B: test accuracy mean±sd over seeds at the last checkpoint with "
              "cumulative streamed vectors <= B; used: that checkpoint's vectors / B (mean); "
              "*: the run ended below B on some seed (its final point); —: the row's deployment "
              "(calibrated mapping) streams more than B. mf-ad, bp: ideal digital twin, autograd "
              "(no device vector streamed: final accuracy at every budget). Whole run: steps "
              "ending in s: stopped after the first step past the budget cap (the columns are "
              "up to that step). Energy: analytic model, nominal level. "
              f"Wall {time.time() - t_start:.0f} s."]
    text = "\n".join(lines)
    print("\n" + text)
    if a.out:
        out = Path(a.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".txt").write_text(text + "\n")
        out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=float))
    result["text"] = text
    return result


if __name__ == "__main__":
    main()

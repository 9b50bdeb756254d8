"""Deployed accuracy of twin-trained weights through the L2ight flow (``l2ight-flow``):
uncalibrated, calibrated, and after in-situ fine-tuning.

    python bench/deployed_calibration.py [--presets mzi-l2ight mzi-default] [--hidden 16]
        [--pretrain-epochs 5] [--insitu-epochs 3] [--seeds 0 1 2] [--iterations 8]
        [--identity-iterations 4] [--flops-lr 0.01 0.001] [--val-split 0.1]

Shipped UCI digits (train split minus a stratified 10 % validation split / 360 test, 8×8),
MLP 64-<hidden> + digital head. Per preset and seed, one pretraining (BP on the ideal twin,
``pretrain_epochs`` epochs) is followed by:

* ``twin``: the pretrained model on the ideal twin (autograd baseline, no device);
* ``uncalibrated``: the twin's knobs programmed as they are (``bp-deploy`` with
  ``deploy_calibration = "off"``: the flow's prediction during pretraining);
* ``calibrated (direct)``: the calibrated mapping from the twin's knobs without the identity
  calibration (``identity_iterations = 0``; what ``bp-deploy`` does with ``"auto"``);
* ``calibrated (IC+PM)``: identity calibration, then parallel mapping from the offsets;
* in-situ variants from that mapped state, each for ``insitu_epochs`` epochs on the device:
  ``frozen`` (the same-epoch control: knobs as mapped, heads keep training), ``flops`` at each
  η of ``--flops-lr`` (rad), ``mfdd`` (its defaults); the fine-tuned column is the variant with
  the best mean validation accuracy over seeds (test accuracy reported).

Costs per stage from the trace: device settings programmed, streamed vectors (Σ *.mvm.vectors)
and device energy (nominal cost model) of the identity calibration, the parallel mapping and
the in-situ stage of the chosen variant (its whole ``insitu_epochs``).
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from field_zo import energy_j  # noqa: E402  (bench/field_zo.py: nominal device energy)

from algorithms import registry  # noqa: E402
from algorithms.model import model_from_config  # noqa: E402
from algorithms.seeds import device_seed  # noqa: E402
from experiments.data import load_dataset  # noqa: E402
from experiments.data import split_validation  # noqa: E402
from hwsim.presets import build_layer  # noqa: E402
from hwsim.trace import Trace  # noqa: E402

FLOW = "l2ight-flow"


def _acc(predict, x, y) -> float:
    return float((predict(x) == y).float().mean())


def _costs(summary: dict) -> dict:
    return {"settings": sum(v for k, v in summary.items() if k.endswith(".program.settings")),
            "vectors": sum(v for k, v in summary.items() if k.endswith(".mvm.vectors")),
            "energy": energy_j([summary])}


def _flow(preset, model, seed, settings):
    devs = [build_layer(preset, sl.n_in, sl.n_out, seed=device_seed(seed, sl.stream), name=sl.name)
            for sl in registry.device_layout(FLOW, settings, model)]
    return registry.build(FLOW, settings, model, devs, 10, seed=seed, trace=Trace())


def one_seed(preset, seed, a, variants) -> dict:
    ds = load_dataset("digits", seed=seed)
    ds, (xv, yv) = split_validation(ds, a.val_split, seed)
    model = model_from_config((ds.x_train.shape[1],), hidden=list(a.hidden))
    out = {}
    for ic in (0, a.identity_iterations):
        s = registry.settings_for(FLOW, {"pretrain_epochs": a.pretrain_epochs,
                                         "identity_iterations": ic,
                                         "mapping_iterations": a.iterations, "insitu": "frozen"})
        flow = _flow(preset, model, seed, s)
        r = registry.train(flow, ds.x_train, ds.y_train, epochs=a.pretrain_epochs, batch_size=32,
                           seed=seed)
        tr = flow.trainer
        if ic == 0:
            out["twin"] = _acc(tr.predict_twin, ds.x_test, ds.y_test)
            out["uncalibrated"] = _acc(flow.predict, ds.x_test, ds.y_test)
        tr.advance()
        key = "calibrated (direct)" if ic == 0 else "calibrated (IC+PM)"
        out[key] = _acc(flow.predict, ds.x_test, ds.y_test)
        sums = tr.stage_summaries()
        out[f"{key} map error"] = tr.log[2]["relative_error_before_after"][0][1]
        if ic == 0:
            continue
        out["cost identity-calibration"] = _costs(sums["identity-calibration"])
        out["cost parallel-mapping"] = _costs(sums["parallel-mapping"])
        for name, values in variants:
            f2 = copy.deepcopy(flow)
            f2.trainer.start_insitu(dataclasses.replace(s, insitu=name, insitu_settings=values))
            n0 = len(f2.trainer.trace.events)
            registry.train(f2, ds.x_train, ds.y_train, epochs=a.pretrain_epochs + a.insitu_epochs,
                           batch_size=32, seed=seed, result=copy.deepcopy(r))
            label = name + "".join(f" {k}={v:g}" for k, v in values.items())
            out[f"val {label}"] = _acc(f2.predict, xv, yv)
            out[f"test {label}"] = _acc(f2.predict, ds.x_test, ds.y_test)
            out[f"cost {label}"] = _costs(f2.trainer.stage_summaries()["in-situ"])
            assert len(f2.trainer.trace.events) > n0 or name == "frozen"
    return out


def ms(v) -> str:
    return f"{statistics.mean(v):.3f}±{statistics.stdev(v) if len(v) > 1 else 0:.3f}"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["mzi-l2ight", "mzi-default"])
    ap.add_argument("--hidden", type=int, nargs="+", default=[16])
    ap.add_argument("--pretrain-epochs", type=int, default=5)
    ap.add_argument("--insitu-epochs", type=int, default=3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--iterations", type=int, default=8)
    ap.add_argument("--identity-iterations", type=int, default=4)
    ap.add_argument("--flops-lr", type=float, nargs="+", default=[0.01, 0.001])
    ap.add_argument("--val-split", type=float, default=0.1)
    a = ap.parse_args(argv)
    variants = ([("frozen", {})] + [("flops", {"lr_rad": lr}) for lr in a.flops_lr]
                + [("mfdd", {})])
    print(f"digits (train − {a.val_split:g} validation / 360 test), MLP 64-"
          f"{'-'.join(map(str, a.hidden))} + head, l2ight-flow: {a.pretrain_epochs} epochs BP on "
          f"the twin, {a.identity_iterations} identity-calibration rounds, {a.iterations} mapping "
          f"rounds, {a.insitu_epochs} in-situ epochs; seeds {a.seeds}", flush=True)
    t0 = time.time()
    for preset in a.presets:
        rows = [one_seed(preset, seed, a, variants) for seed in a.seeds]
        col = lambda k: [r[k] for r in rows]   # noqa: E731
        labels = [k[len("val "):] for k in rows[0] if k.startswith("val ")]
        best = max(labels, key=lambda k: statistics.mean(col(f"val {k}")))
        print(f"\n{preset} ({time.time() - t0:.0f} s)")
        print(f"  {'twin':<34} {ms(col('twin'))}")
        print(f"  {'deployed, uncalibrated':<34} {ms(col('uncalibrated'))}")
        for k in ("calibrated (direct)", "calibrated (IC+PM)"):
            print(f"  {'deployed, ' + k:<34} {ms(col(k))}   relative matrix error after "
                  f"mapping {ms(col(k + ' map error'))}")
        print(f"  {'deployed, fine-tuned (' + best + ')':<34} {ms(col('test ' + best))}   "
              f"(chosen on validation)")
        print(f"  {'same-epoch control (frozen)':<34} {ms(col('test frozen'))}")
        print("  in-situ variants (validation / test, mean±sd; device work of the in-situ stage "
              "per run: settings, streamed vectors, energy J):")
        for k in labels:
            c = col(f"cost {k}")
            print(f"    {k:<22} val {ms(col('val ' + k))}  test {ms(col('test ' + k))}  "
                  f"{statistics.mean(x['settings'] for x in c):>9.0f} settings "
                  f"{statistics.mean(x['vectors'] for x in c):>11.0f} vectors "
                  f"{statistics.mean(x['energy'] for x in c):.3e} J")
        for st in ("identity-calibration", "parallel-mapping"):
            c = col(f"cost {st}")
            print(f"  {st:<22} {statistics.mean(x['settings'] for x in c):>9.0f} settings "
                  f"{statistics.mean(x['vectors'] for x in c):>11.0f} vectors "
                  f"{statistics.mean(x['energy'] for x in c):.3e} J", flush=True)


if __name__ == "__main__":
    main()

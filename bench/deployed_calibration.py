"""Deployed accuracy of twin-trained weights: uncalibrated, calibrated (mapped by measured
Jacobians, algorithms/mapping.py), and the twin itself.

    python bench/deployed_calibration.py [--presets mzi-l2ight mzi-default] [--hidden 16]
        [--epochs 5] [--seeds 0 1 2] [--iterations 8]

Shipped UCI digits (1,437 train / 360 test, 8×8), MLP 64-<hidden> + digital head, ``bp-deploy``
(BP on the ideal twin, then deployed). Per preset and seed: twin test accuracy, deployed
accuracy with ``deploy_calibration = "off"`` (twin knobs programmed as they are) and "auto"
(calibrated mapping where the device declares ``calibrate``), and the device settings the
mapping spent (from the trace).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from algorithms import registry  # noqa: E402
from algorithms.model import model_from_config  # noqa: E402
from algorithms.seeds import device_seed  # noqa: E402
from experiments.data import load_dataset  # noqa: E402
from hwsim.presets import build_layer  # noqa: E402
from hwsim.trace import Trace  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["mzi-l2ight", "mzi-default"])
    ap.add_argument("--hidden", type=int, nargs="+", default=[16])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--iterations", type=int, default=8)
    a = ap.parse_args(argv)
    print(f"digits 1437/360, MLP 64-{'-'.join(map(str, a.hidden))}, bp-deploy, {a.epochs} "
          f"epochs, seeds {a.seeds}, {a.iterations} mapping rounds")
    print(f"{'preset':<12} {'twin':>13} {'uncalibrated':>13} {'calibrated':>13} {'map settings':>12}")
    for preset in a.presets:
        res = {"twin": [], "off": [], "auto": [], "settings": []}
        for seed in a.seeds:
            ds = load_dataset("digits", seed=seed)
            model = model_from_config((64,), hidden=list(a.hidden))
            for mode in ("off", "auto"):
                s = registry.settings_for("bp-deploy", {"deploy_calibration": mode,
                                                        "mapping_iterations": a.iterations})
                devs = [build_layer(preset, sl.n_in, sl.n_out, seed=device_seed(seed, sl.stream),
                                    name=sl.name) for sl in registry.device_layout("bp-deploy", s, model)]
                trace = Trace()
                tr = registry.build("bp-deploy", s, model, devs, 10, seed=seed, trace=trace)
                registry.train(tr, ds.x_train, ds.y_train, epochs=a.epochs, batch_size=32, seed=seed)
                trace.begin_step()
                acc = float((tr.predict(ds.x_test) == ds.y_test).float().mean())
                summ = trace.end_step()
                res[mode].append(acc)
                if mode == "auto":
                    res["settings"].append(sum(v for k, v in summ.items()
                                               if k.endswith(".program.settings")))
                    res["twin"].append(float((tr.trainer.predict_twin(ds.x_test) == ds.y_test)
                                             .float().mean()))

        def ms(v):
            return f"{statistics.mean(v):.3f}±{statistics.stdev(v) if len(v) > 1 else 0:.3f}"
        print(f"{preset:<12} {ms(res['twin']):>13} {ms(res['off']):>13} {ms(res['auto']):>13} "
              f"{statistics.mean(res['settings']):>12.0f}", flush=True)


if __name__ == "__main__":
    main()

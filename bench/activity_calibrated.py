"""activity through the calibrated against the nominal Jacobian on mzi-default (digits).

    python bench/activity_calibrated.py      # writes bench/results/activity_calibrated_digits.txt

Same data split, devices, initial knobs and batches per seed as bench/calibration_cost.py's
digits run (its frozen control is the reference row); activity's calibration keys at their
defaults (16 knob indices per block every 10 steps, 1,024 probe rows).
"""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import argparse
import calibration_cost as cc
a = argparse.Namespace(data="digits", preset="mzi-default", hidden=[32, 32], n_train=0, n_test=0,
                       val=0.2, epochs=4, batch=64, pool=1)
lines = []
for gm in ("calibrated", "nominal"):
    rs = [cc.run("activity", {"guess_model": gm}, a, cc.load(a, s), s) for s in (0, 1, 2)]
    t = cc.ms([r["test"] for r in rs])
    lines.append(f"activity guess_model={gm:<10} test {t[0]:.4f} ± {t[1]:.4f} settings "
                 f"{rs[0]['settings']:,.0f} vectors {rs[0]['vectors']:,.0f} energy "
                 f"{cc.ms([r['energy'] for r in rs])[0]:.3g} J  per seed {[round(r['test'], 4) for r in rs]}")
    print(lines[-1], flush=True)
open("bench/results/activity_calibrated_digits.txt", "w").write(
    "digits 1150/287/360, MLP 64-32-32, mzi-default, 4 epochs, batch 64, seeds 0 1 2 "
    "(same data, devices, batches as calibration_cost_digits.txt; frozen there 0.8093 ± 0.0329)\n"
    + "\n".join(lines) + "\n")

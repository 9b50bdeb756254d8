"""bench/pure_zo_gain.py and bench/mono_forward_table.py on tiny settings: the gain is the paired
difference to the control, the local-head family shares the registry's frozen control, the
whole-network trainers get their own (train_knobs off), and the Mono-Forward table's unit
conversion and JSON round trip."""
import json
import math

import pytest

from tests.bench_scripts import load as _load


def test_pure_zo_gain_rows_and_controls(capsys):
    rows = _load("pure_zo_gain").main(["--epochs", "1", "--seeds", "0", "--hidden", "8",
                                        "--algorithms", "frog", "flops"])
    by = {r["name"]: r for r in rows}
    for r in rows:
        assert r["gain"][0] == pytest.approx(100 * (r["acc"][0] - r["ctrl"][0]))
        assert r["q"] > 0 and r["v"] >= r["q"] and r["d"] > 0
    assert by["frog"]["control"].startswith("frozen")
    assert "train_knobs=False" in by["flops"]["control"]
    assert "frog" in capsys.readouterr().out


def test_mono_forward_units_and_table(tmp_path, capsys):
    mod = _load("mono_forward_table")
    # W = 2·w_max·θ with w_max = 1/√n_in: η in weight units is η·√n_in/2 in θ units
    assert mod.theta_lr(1e-3, [784]) == pytest.approx(1e-3 * 28 / 2)
    assert mod.theta_lr(1e-3, [784, 1000]) == pytest.approx(1e-3 * (28 + math.sqrt(1000)) / 4)
    rec = {"seed": 0, "algorithm": "bp", "epochs": 2, "val": [0.5, 0.7], "test": [0.6, 0.65],
           "lr_theta": 1e-3, "head_lr": 1e-3, "preset": "crossbar-ideal", "hidden": [8, 8],
           "split": [10, 5, 5], "batch": 4}
    f = tmp_path / "r.jsonl"
    f.write_text(json.dumps(rec) + "\n" + json.dumps(dict(rec, seed=1, test=[0.6, 0.75])) + "\n")
    mod.main(["--table", str(f)])
    out = capsys.readouterr().out
    assert "70.00±7.07" in out          # last-epoch test, mean ± sd over the two records

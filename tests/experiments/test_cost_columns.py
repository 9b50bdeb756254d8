"""Every comparison table puts device settings, streamed vectors, energy and CPU time next to
accuracy; ``forwardlab algorithms`` prints what a configuration needs and costs per step."""
import math

import numpy as np
import pandas as pd

from experiments.cli import main
from experiments.report import accuracy_table
from experiments.results import RunRecord
from experiments.tables import comparison_table


def test_comparison_table_has_the_device_cost_columns():
    df = pd.DataFrame({"algorithm_label": ["a", "a", "b"], "device_label": ["d"] * 3,
                       "algorithm.name": ["mfdd", "mfdd", "local-guess"],
                       "device.preset": ["mzi-default"] * 3,
                       "test_accuracy": [0.8, 0.82, 0.81],
                       "device_settings": [8190.0, 8190.0, 826.0],
                       "streamed_vectors": [1.04e6, 1.04e6, 5.07e5],
                       "train_energy_j": [1.0, 1.2, 0.1], "cpu_s": [10.0, 12.0, 3.0]})
    df.attrs["axes"] = ["algorithm.name", "device.preset"]
    cols = {c.header: c.cells for c in comparison_table(df)}
    assert cols["device settings"][0] == "8190 ± 0" and cols["device settings"][1] == "826"
    assert cols["streamed vectors"][1] == "507000"
    assert any(h.startswith("training CPU time") for h in cols)
    assert any(h.startswith("device training energy") for h in cols)


def test_run_accuracy_table_puts_costs_next_to_accuracy():
    rec = RunRecord(config={"algorithm.name": "mfdd", "device.preset": "mzi-default"},
                    history={"test_accuracy": [0.5, 0.9], "steps": [10.0, 20.0],
                             "device_settings": [1300.0, 2600.0],
                             "streamed_vectors": [83200.0, 166400.0]},
                    references={"mf-ad": {"test_accuracy": [0.95]}},
                    meta={"cpu_s.mfdd": "2.5", "cpu_s.mf-ad": "0.5"},
                    costs={"mzi-default MF+DD": {"total_energy_j": 1e-3,
                                                 "weight_mode.held": 1.0}})
    text = accuracy_table(rec)
    head, _, run, ref = text.splitlines()[:4]
    for h in ("test accuracy", "settings", "vectors", "energy", "CPU time"):
        assert h in head
    assert "0.9000" in run and "2,600" in run and "166,400" in run and "20 mJ" in run
    assert "2.5 s" in run
    assert "0.9500" in ref and "500 ms" in ref and " - " in ref     # a twin: no device work
    assert max(len(ln) for ln in text.splitlines()) <= 100


def test_cli_algorithms_prints_the_configured_capability_and_counts(capsys):
    assert main(["algorithms", "--set", "algorithm.name=mfdd",
                 "--set", "algorithm.settings.directions=input-span"]) == 0
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert last.startswith("configured: mfdd needs nominal;") and "calibration" in last
    assert "nominal with directions=input-span" in out

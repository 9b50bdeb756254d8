"""``forwardlab reproduce``: --list, the quick version of every reproduction, bad input."""
import json

import pytest

from experiments.cli import main
from experiments.reproduce import REPRODUCTIONS


def test_list_names_every_reproduction(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(REPRODUCTIONS) >= 2
    assert any(line.startswith("pai2023") and "94" in line for line in out)
    assert any(line.startswith("ficonn2024") and "92.5" in line for line in out)


@pytest.mark.parametrize("name", sorted(REPRODUCTIONS))
def test_quick_reproduction_writes_table_results_and_report(tmp_path, capsys, name):
    out = tmp_path / name
    assert main(["reproduce", name, "--quick", "--seeds", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "published" in text and "forwardlab (mean ± sd)" in text
    res = json.loads((out / "results.json").read_text())
    assert res["quick"] and len(res["per_seed"]) == 1
    keys = {r["metric"] for r in res["table"]}
    assert {p.key for p in REPRODUCTIONS[name].published} <= keys
    for f in ("table.csv", "cost.csv", "report.md", "curves.png", "energy.png"):
        assert (out / f).stat().st_size > 0
    # every in-situ run was priced and counted its optical passes
    priced = [c for c in res["cost"] if c["optical_passes"] > 0]
    assert priced and all(c["energy_per_step_j"] > 0 for c in priced)
    if name == "ficonn2024":
        assert "SYNTHETIC" in res["label"]
    assert main(["reproduce", name, "--quick", "--seeds", "1", "--out", str(out)]) == 2


def test_bad_input_is_one_line(capsys):
    assert main(["reproduce", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "allowed: " in err and "pai2023" in err
    assert main(["reproduce", "pai2023", "--seeds", "0"]) == 2
    assert "seeds = 0" in capsys.readouterr().err
    assert main(["reproduce"]) == 2


def test_missing_vowel_file_fails_before_training_and_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["reproduce", "ficonn2024", "--seeds", "1", "--out", str(out),
                 "--data-dir", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "vowdata.dat not found" in err
    assert not out.exists()


def test_error_free_inference_keeps_the_chip_and_drops_only_per_query_errors():
    """The authors' simulations evaluate test accuracy with every field error and the shot
    noise at 0 (photonicbackprop mnist_insitu_eval.py): same static chip, no per-query noise."""
    import dataclasses

    import torch

    from experiments.reproduce.common import QUERY_ERRORS, build_device, error_free_device
    noisy, clean = build_device("pai-4port", 3), error_free_device("pai-4port", 3)
    assert all(getattr(clean.config, f) == 0.0 for f in QUERY_ERRORS)
    assert dataclasses.replace(clean.config, **{f: getattr(noisy.config, f)
                                                for f in QUERY_ERRORS}) == noisy.config
    assert torch.equal(clean._amplitude, noisy._amplitude)        # same fabricated losses
    knobs = {"phases": torch.rand(3, 16, generator=torch.Generator().manual_seed(0)) * 6}
    x = torch.rand(5, 4, generator=torch.Generator().manual_seed(1))
    a, b = (clean.query(clean.program(knobs), x, torch.Generator().manual_seed(s)) for s in (0, 1))
    assert torch.equal(a, b)                                       # no per-query draw left
    n1, n2 = (noisy.query(noisy.program(knobs), x, torch.Generator().manual_seed(s))
              for s in (0, 1))
    assert not torch.equal(n1, n2)


def test_unknown_inference_mode_is_one_line():
    from algorithms.optical_readout import Readout
    from experiments.reproduce.common import run_algorithm
    with pytest.raises(ValueError, match="inference = 'noisy'; allowed: device, error-free"):
        run_algorithm("insitu-bp", {}, "pai-4port", Readout(), (None,) * 4, 0, inference="noisy")

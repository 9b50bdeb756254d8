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

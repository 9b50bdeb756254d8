"""bench/budget_matched.py on a tiny digits run: the table's rows, one common budget per column
for every row, every used checkpoint within its budget, the twin references labelled, and a row
that cannot run on the preset says why instead of crashing."""
import pytest

from tests.bench_scripts import load


def _bench():
    return load("budget_matched")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("bm") / "tiny"
    bm = _bench()
    res = bm.main(["--dataset", "digits", "--networks", "l2ight", "--hidden", "8", "8",
                   "--presets", "crossbar-default", "--rows", "mfdd", "local-guess global",
                   "local-guess local", "frozen", "flops", "l2ight-flow", "bp", "--n-train", "96", "--n-val",
                   "48", "--n-test", "60", "--batch", "32", "--seeds", "0", "1",
                   "--lr-grid", "2e-3", "--flops-lr-grid", "2", "--budgets-below", "1", "--budgets-above", "1",
                   "--out", str(out)])
    return bm, res, out


def test_budgets_are_equal_across_rows_and_never_exceeded(tiny):
    bm, res, _ = tiny
    t = res["tables"]["l2ight/crossbar-default"]
    budgets = t["budgets"]
    assert len(budgets) == 3 and budgets == sorted(budgets) and budgets[0] > 0
    cap = min(r["vectors"] for k, rs in t["rows"].items() if k in bm.CAP_ROWS for r in rs
              if not r["stopped"])                 # the smallest full forward-only total
    assert budgets == [int(cap / 4), int(cap), int(cap * 4)]
    for key, rs in t["rows"].items():               # a stopped row passed the largest budget
        assert all(r["vectors"] > budgets[-1] for r in rs if r["stopped"])
    for key, rs in t["rows"].items():
        assert len(rs) == 2                          # one run per seed
        for r in rs:
            if key in bm.TWIN_ROWS:
                assert r["vectors"] == 0 and r["curve"] == []
                continue
            vec = [p["vectors"] for p in r["curve"]]
            assert vec[0] == 0 and vec == sorted(vec) and vec[-1] == r["vectors"]
        for b in budgets:       # the same B for every row: recompute each row's point at B
            accs, used, _ = bm.at_budget(rs, key, b)
            assert len(accs) == 2 and all(0 <= u <= 1 for u in used)
            if key not in bm.TWIN_ROWS:
                for r, acc in zip(rs, accs):
                    p = [p for p in r["curve"] if p["vectors"] <= b][-1]
                    assert acc == p["test"]
    # up to the cap no forward-only row has run out; mfdd (65 settings a step) stops early
    for key in ("mfdd", "local-guess global", "local-guess local"):
        assert not any(x[2] for x in t["at_budget"][key][:2])
    assert all(r["stopped"] for r in t["rows"]["mfdd"])
    # local-guess's global target streams more than its block-local one (later blocks queried)
    g, loc = t["rows"]["local-guess global"][0], t["rows"]["local-guess local"][0]
    assert g["vectors"] > loc["vectors"]


def test_table_text_labels_and_missing_capability(tiny):
    _, res, out = tiny
    text = out.with_suffix(".txt").read_text()
    assert text == res["text"] + "\n" and out.with_suffix(".json").exists()
    t = res["tables"]["l2ight/crossbar-default"]
    assert "l2ight-flow" in t["skipped"] and "l2ight-flow" not in t["rows"]
    assert "l2ight-flow          not run: MissingCapability" in text
    assert "ideal digital twin, autograd" in text
    for b in t["budgets"]:
        assert f"acc @ {b:,.3g}" in text
    assert "block-local target" in text and "global target" in text


def test_fixed_budgets_train_up_to_the_largest_over_epochs(tmp_path):
    """--budgets fixed in advance: --epochs is the most a row trains; a forward-only row stops
    after the first step past the largest budget, the frozen control runs every epoch."""
    bm = _bench()
    res = bm.main(["--dataset", "digits", "--networks", "l2ight", "--hidden", "8", "8",
                   "--presets", "crossbar-default", "--rows", "frog", "frozen", "--n-train", "64",
                   "--n-val", "32", "--n-test", "40", "--batch", "32", "--seeds", "0",
                   "--lr-grid", "2e-3", "--epochs", "6", "--budgets", "300", "1000"])
    t = res["tables"]["l2ight/crossbar-default"]
    assert t["budgets"] == [300, 1000]
    frog, frozen = t["rows"]["frog"][0], t["rows"]["frozen"][0]
    assert frog["stopped"] and frog["vectors"] > 1000 >= frog["curve"][-2]["vectors"]
    assert frog["steps"] < 12                       # stopped before its 6 epochs of 2 steps
    assert not frozen["stopped"] and frozen["steps"] == 12


def test_the_flow_in_situ_rate_is_a_nested_setting():
    """The L2ight flow's tuned η is its in-situ FLOPS setting (a nested table), and the registry
    takes it as such."""
    from algorithms import registry
    bm = _bench()
    values = bm._knob(bm.TUNED["l2ight-flow"], 0.01)
    assert values == {"insitu_settings": {"lr_rad": 0.01}}
    assert registry.settings_for("l2ight-flow", values).insitu_object().lr_rad == 0.01


def test_every_row_runs_and_the_minibatch_calibration_row_takes_its_chosen_levers():
    """Every row is in the run order; ``local-guess mb-cal`` is local-guess with the global target
    and the levers chosen in bench/results/calibration_cost_fashion784_choose3.txt (minibatch
    probes, Broyden updates, every 40 steps), tuned and capped as the other device rows."""
    from algorithms import registry
    bm = _bench()
    assert set(bm.RUN_ORDER) == set(bm.ROWS)
    name, fixed = bm.ROWS["local-guess mb-cal"]
    s = registry.settings_for(name, fixed)
    default = registry.settings_for(name, {})
    assert (s.target, s.calibrate_probes, s.broyden, s.recalibrate_every) == \
        ("global", "minibatch", 1.0, 40)
    assert default.calibrate_probes != "minibatch"           # a labelled row, not the default
    assert "local-guess mb-cal" in bm.CAP_ROWS and "local-guess mb-cal" in bm.TUNED

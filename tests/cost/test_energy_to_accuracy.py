"""bench/energy_to_accuracy.py on a tiny digits run: every requested algorithm gets a row, BP is
priced on the GPU band plus a measured row, and energy to target = steps × energy per step."""
import pytest

from tests.bench_scripts import load


def _bench():
    return load("energy_to_accuracy")


def test_rows_bands_and_arithmetic(capsys):
    rows = _bench().main(["--dataset", "digits", "--preset", "crossbar-default", "--n-train", "128",
                          "--n-test", "100", "--hidden", "8", "--epochs", "2", "--batch-size", "64",
                          "--algorithms", "mfdd", "bp", "--target", "0.0"])
    out = capsys.readouterr().out
    assert "test accuracy 0.0000" in out
    by = {(r[0], r[1]): r for r in rows}
    dev = by[("mfdd", "crossbar-default")]
    gpu = by[("bp", "GPU H100 SXM5 band")]
    assert any(k[0] == "bp" and k[1].startswith("measured") for k in by)
    for r in (dev, gpu):   # target 0 is reached after the first epoch: 2 steps of 64
        assert float(r[2]) == 2
        e_step = [float(x) for x in r[3:6]]
        e_target = [float(x) for x in r[6:9]]
        assert e_step[0] < e_step[1] < e_step[2]          # low < nominal < high
        assert e_target == pytest.approx([2 * e for e in e_step], rel=1e-2)
    assert float(dev[-1]) > 0                               # crossbar writes wear the cells


def test_unknown_algorithm_is_refused():
    with pytest.raises(SystemExit) as e:
        _bench().main(["--algorithms", "nope"])
    assert e.value.code == 2

"""bench/fashion_before_after.py hands today's traces to the old tree's price in the form it reads:
a described layer's kind as ``<layer>.info.is_mzi`` (1.0 / 0.0), every other field unchanged."""
from hwsim.trace import layer_kind
from tests.bench_scripts import load


def test_legacy_summary_names_the_kind_as_the_old_price_reads_it():
    mod = load("fashion_before_after")
    today = {"layer0.info.kind_mzi": 1.0, "layer0.info.n_in": 64.0, "layer0.mvm.macs": 5.0,
             "layer1.info.kind_crossbar": 1.0, "layer1.program.settings": 3.0}
    old = mod.legacy_summary(today)
    assert old == {"layer0.info.is_mzi": 1.0, "layer0.info.n_in": 64.0, "layer0.mvm.macs": 5.0,
                   "layer1.info.is_mzi": 0.0, "layer1.program.settings": 3.0}
    assert [layer_kind(old, n) for n in ("layer0", "layer1")] == ["mzi", "crossbar"]

"""Concurrency as the algorithm allows it: independent stages (local losses from clean
readouts) on disjoint tiles overlap; dependent ones run one after another."""
import pytest

from hwsim.cost import des_price, photonic_spec, price, simulate_latency
from hwsim.cost.analytic import plan_layers, resolve_specs, layer_stage_times
from hwsim.trace import DependencyEvent, LayerInfo, MvmEvent, ProgramEvent, summarize

SPECS = {"mzi": photonic_spec()}


def _info(name):
    return LayerInfo(name, "mzi", 16, 16, 8, 8, 4, 256, 8, 8, 8, optical_path_db=5.0, mzis=56)


def _events(name, p, b=32):
    return [ProgramEvent(name, p, p * 256, p),
            MvmEvent(name, p, p * b, p * b * 256, p * b * 16, p * b * 16, p * b * 8)]


def _summary(independent, p1=17, p2=9):
    ev = _events("l1", p1) + _events("l2", p2)
    if independent:
        ev += [DependencyEvent("l1"), DependencyEvent("l2")]
    return summarize(ev, [_info("l1"), _info("l2")])


def _spans(s):
    plan, _ = plan_layers(s, resolve_specs(SPECS))
    return {name: t.makespan_s for name, _, t in plan}, \
        {name: t.first(1).makespan_s for name, _, t in plan}


def test_dependent_layers_cost_the_sum():
    s = _summary(False)
    full, _ = _spans(s)
    assert price(s, SPECS).total_latency_s == pytest.approx(full["l1"] + full["l2"], rel=1e-12)


def test_independent_layers_cost_the_maximum():
    """Each layer's estimate needs only its clean readout: the second layer starts once the
    first layer's clean readout (one job) is done, then both run on their own tiles."""
    s = _summary(True)
    full, clean = _spans(s)
    t = price(s, SPECS).total_latency_s
    assert t == pytest.approx(max(full["l1"], clean["l1"] + full["l2"]), rel=1e-12)
    assert t == pytest.approx(max(full["l1"], full["l2"]), rel=0.15)   # one clean job ≪ 17
    assert t < 0.7 * (full["l1"] + full["l2"])
    # equal layers: the maximum is one layer plus one clean readout
    s_eq = _summary(True, 9, 9)
    full, clean = _spans(s_eq)
    assert price(s_eq, SPECS).total_latency_s == pytest.approx(clean["l1"] + full["l2"], rel=1e-12)


def test_des_follows_the_dependencies():
    for ind in (False, True):
        s = _summary(ind)
        lat = simulate_latency(s, SPECS)
        assert lat["contention"] == pytest.approx(0.0, abs=1e-15)
        assert sum(lat.values()) == pytest.approx(price(s, SPECS).total_latency_s, rel=1e-9)
    # shared ADCs: concurrent layers compete, the DES shows it
    s = _summary(True)
    assert simulate_latency(s, SPECS, adc_pool=1)["contention"] > 0


def test_static_energy_follows_the_shorter_step():
    dep, ind = price(_summary(False), SPECS), price(_summary(True), SPECS)
    assert ind.total_latency_s < dep.total_latency_s
    ratio = ind.total_latency_s / dep.total_latency_s
    for k in ("holding", "host_static"):
        assert ind.energy_j[k] == pytest.approx(dep.energy_j[k] * ratio, rel=1e-9)
    for k in ("adcs", "modulators_dacs", "programming"):     # counted actions do not change
        assert ind.energy_j[k] == pytest.approx(dep.energy_j[k], rel=1e-12)
    assert des_price(_summary(True), SPECS).total_energy_j == pytest.approx(
        ind.total_energy_j, rel=1e-9)


def test_old_traces_price_serially():
    """A trace without dependency records (older files) keeps layers one after another."""
    s = _summary(False)
    assert not any(".dependency." in k for k in s)
    assert "l1.dependency.independent" in _summary(True)

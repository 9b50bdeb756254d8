"""Cost figures: accuracy against cumulative energy (with its band) and the tornado."""
import pytest

from experiments.cost_figures import accuracy_energy_curve, accuracy_energy_figure, tornado_figure
from hwsim.cost.sensitivity import Mover, Param

HIST = {"test_accuracy": [0.5, 0.7, 0.8], "steps": [10, 20, 30]}
ROW = {"metric.energy_per_step_j_low": 1e-3, "metric.energy_per_step_j_nominal": 2e-3,
       "metric.energy_per_step_j_high": 5e-3}


def test_accuracy_energy_curve_by_hand():
    c = accuracy_energy_curve(HIST, ROW)
    assert c["energy_j_nominal"] == pytest.approx([0.02, 0.04, 0.06])
    assert c["energy_j_low"] == pytest.approx([0.01, 0.02, 0.03])
    assert c["energy_j_high"] == pytest.approx([0.05, 0.10, 0.15])
    fig = accuracy_energy_figure({"mzi": c})
    ax = fig.axes[0]
    x, y = ax.lines[0].get_data()
    assert list(x) == pytest.approx(c["energy_j_nominal"]) and list(y) == c["accuracy"]
    assert ax.collections                       # the shaded band
    with pytest.raises(ValueError, match="history"):
        accuracy_energy_curve({"test_accuracy": [0.5]}, ROW)
    with pytest.raises(ValueError, match="energy_per_step_j_low"):
        accuracy_energy_curve(HIST, {"metric.energy_per_step_j_nominal": 1.0})


def test_tornado_figure_bars():
    p = Param("P_π", "mW", (("mzi", "p_pi_mw"),), 30.0, 15.0, 57.8)
    q = Param("host", "W", (("mzi", "p_host_static_w"),), 15.0, 0.0, 60.0)
    movers = [Mover(p, 11.0, 6.0, 20.0), Mover(q, 11.0, 12.0, 9.0)]
    fig = tornado_figure(movers, "mesh / H100", break_even=0.9)
    bars = fig.axes[0].patches
    assert len(bars) == 2
    top = max(bars, key=lambda b: b.get_y())     # the largest swing sits on top
    assert top.get_x() == pytest.approx(6.0) and top.get_width() == pytest.approx(14.0)
    assert "break-even" in fig.axes[0].get_title()

"""Forward-query calibration of an MZI layer (the measured block Jacobian).

The test reads the device's hidden errors (allowed here, never in algorithms/) to build the
true differentiable map knobs → W and compares Jᵀc from the measurement with autograd on it."""
import math

import pytest
import torch
from torch.func import vjp

from hwsim.oracle import TracingOracle
from hwsim.photonic.calibrate import BlockJacobian
from hwsim.presets import build_layer
from hwsim.trace import Trace


def _true_map(dev, gain):
    """Knobs → device W with the hidden static errors (phase chain without the DAC, couplers,
    loss); the DAC grid is left out so autograd sees a smooth map."""
    def w(mesh, sig):
        m, s = mesh.unsqueeze(0), sig.unsqueeze(0)
        for e in dev._chain:
            if type(e).__name__ != "ThermoOpticDAC":
                m, s = e.program_phases(m, s, dev.layout, dev._fab.get(type(e)))
        b = dev._complex_blocks(m, s, **dev._array_terms()).real
        return dev._assemble(b * gain.reshape(dev.p, dev.q, 1, 1))[0]
    return w


def _cos(a, b):
    return float(a @ b / (a.norm() * b.norm()))


@pytest.fixture(scope="module")
def layer():
    dev = build_layer("mzi-default", 24, 16, seed=3, name="L")
    trace = Trace()
    oracle = TracingOracle(dev, trace)
    g = torch.Generator().manual_seed(0)
    knobs = dev.knobs_from_weight(torch.randn(16, 24, generator=g) / math.sqrt(24))
    knobs["sigma_phases"] = knobs["sigma_phases"].clamp(0.3, math.pi - 0.3)   # interior Σ
    trace.begin_step()
    cal = oracle.calibrate(knobs, generator=torch.Generator().manual_seed(1))
    summary = trace.end_step()
    return dev, oracle, knobs, cal, summary


def test_calibration_queries_are_traced_and_independent_of_the_layer_size(layer):
    dev, oracle, knobs, cal, summary = layer
    assert isinstance(cal, BlockJacobian) and "calibrate" in oracle.capabilities
    n_shifters = math.prod(dev.layout.mesh_shape[2:]) + dev.k
    assert cal.queries == 2 * n_shifters == 2 * 136
    assert summary["L.mvm.settings"] == cal.queries
    assert summary["L.program.settings"] == cal.queries


def test_measured_jacobian_matches_the_true_device_where_the_nominal_one_fails(layer):
    dev, oracle, knobs, cal, _ = layer
    true_w = _true_map(dev, knobs["gain"])
    g = torch.Generator().manual_seed(5)
    for _ in range(3):
        c = torch.randn(16, 24, generator=g)
        _, pull = vjp(true_w, knobs["mesh_phases"], knobs["sigma_phases"])
        truth = torch.cat([t.flatten() for t in pull(c)])
        meas = cal.vjp(c)
        got = torch.cat([meas["mesh_phases"].flatten(), meas["sigma_phases"].flatten()])
        nom = oracle.nominal_vjp(knobs, c)
        nominal = torch.cat([nom["mesh_phases"].flatten(), nom["sigma_phases"].flatten()])
        assert _cos(got, truth) > 0.9           # detector noise, DAC grid, O(δ²) remain
        assert abs(_cos(nominal, truth)) < 0.3  # U(-1, 1) rad biases: the design map is blind
    assert torch.equal(meas["gain"], torch.zeros_like(knobs["gain"]))


def test_ideal_device_calibration_equals_the_design_jacobian():
    dev = build_layer("mzi-ideal", 16, 8, seed=0, name="I")
    oracle = TracingOracle(dev, Trace())
    knobs = dev.knobs_from_weight(torch.randn(8, 16, generator=torch.Generator().manual_seed(2)))
    knobs["sigma_phases"] = knobs["sigma_phases"].clamp(0.3, math.pi - 0.3)
    c = torch.randn(8, 16, generator=torch.Generator().manual_seed(3))
    nom = oracle.nominal_vjp(knobs, c)
    for step, tol in ((0.5, 0.98), (0.02, 0.9999)):         # central-difference error O(δ²)
        meas = oracle.calibrate(knobs, step_rad=step).vjp(c)
        a = torch.cat([meas["mesh_phases"].flatten(), meas["sigma_phases"].flatten()])
        b = torch.cat([nom["mesh_phases"].flatten(), nom["sigma_phases"].flatten()])
        assert _cos(a, b) > tol
    with pytest.raises(ValueError, match="step_rad"):
        oracle.calibrate(knobs, step_rad=0.0)
    with pytest.raises(ValueError, match="cotangent"):
        oracle.calibrate(knobs).vjp(torch.zeros(3, 3))


def test_crossbar_declares_no_calibration():
    dev = build_layer("crossbar-default", 8, 4, seed=0, name="X")
    assert "calibrate" not in TracingOracle(dev, Trace()).capabilities


def test_partial_calibration_measures_only_its_knobs_and_costs_proportionally(layer):
    dev, oracle, knobs, full, _ = layer
    part = oracle.calibrate(knobs, subset=10, generator=torch.Generator().manual_seed(4))
    assert part.queries == 20 and part.indices.numel() == 10
    rest = torch.ones(part.jac.shape[2], dtype=torch.bool)
    rest[part.indices] = False
    assert torch.count_nonzero(part.jac[:, :, rest]) == 0
    # measured rows agree with the full calibration's up to noise
    a, b = part.jac[:, :, part.indices].flatten(), full.jac[:, :, part.indices].flatten()
    assert _cos(a, b) > 0.9
    with pytest.raises(ValueError, match="subset"):
        oracle.calibrate(knobs, subset=0)
    with pytest.raises(ValueError, match="indices"):
        oracle.calibrate(knobs, indices=[1, 1])

"""Calibrated mapping (algorithms/mapping.py): forward queries only, every setting traced, and
the device matrix moves toward the target on a mesh with hidden phase biases."""
import pytest
import torch

from algorithms.mapping import calibrated_mapping, read_matrix
from hwsim.oracle import MissingCapability, TracingOracle
from hwsim.presets import build_layer
from hwsim.trace import Trace


def test_read_matrix_is_exact_on_the_ideal_mesh():
    dev = build_layer("mzi-ideal", 8, 8, seed=0, name="l0")
    o = TracingOracle(dev, Trace())
    knobs = dev.knobs_from_weight(torch.rand(8, 8, generator=torch.Generator().manual_seed(0)) / 4)
    assert torch.allclose(read_matrix(o, knobs, probe_rows=8), o.nominal(knobs), atol=1e-5)


def test_mapping_reduces_the_error_on_the_l2ight_mesh_and_traces_every_setting():
    dev = build_layer("mzi-l2ight", 8, 8, seed=0, name="l0")
    trace = Trace()
    o = TracingOracle(dev, trace)
    g = torch.Generator().manual_seed(0)
    knobs = dev.knobs_from_weight((2 * torch.rand(8, 8, generator=g) - 1) / 4)
    target = o.nominal(knobs).detach()
    trace.begin_step()
    r = calibrated_mapping(o, knobs, target, iterations=6, probe_rows=64,
                           generator=torch.Generator().manual_seed(1))
    s = trace.end_step()
    assert r.errors[0] > 0.5                         # the hidden biases scramble the block
    assert min(r.errors) < r.errors[0] / 2.5
    assert sum(v for k, v in s.items() if k.endswith(".program.settings")) == r.settings
    assert set(r.knobs) == set(knobs)


def test_mapping_needs_calibrate_and_names_bad_input():
    dev = build_layer("crossbar-ideal", 8, 8, seed=0, name="l0")
    o = TracingOracle(dev, Trace())
    with pytest.raises(MissingCapability):
        calibrated_mapping(o, dev.knobs_from_weight(torch.zeros(8, 8)), torch.zeros(8, 8))
    with pytest.raises(ValueError, match="iterations = 0"):
        calibrated_mapping(o, {}, torch.zeros(8, 8), iterations=0)

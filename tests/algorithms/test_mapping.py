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


def test_bp_deploy_maps_once_per_twin_update_and_says_so_in_its_label():
    from algorithms import registry
    from algorithms.model import model_from_config
    from algorithms.seeds import device_seed
    model = model_from_config((16,), hidden=[8])
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(32, 16, generator=g), torch.randint(0, 4, (32,), generator=g)
    spent = {}
    for mode in ("off", "auto"):
        s = registry.settings_for("bp-deploy", {"deploy_calibration": mode,
                                                "mapping_iterations": 2})
        devs = [build_layer("mzi-l2ight", sl.n_in, sl.n_out, seed=device_seed(0, sl.stream),
                            name=sl.name) for sl in registry.device_layout("bp-deploy", s, model)]
        trace = Trace()
        tr = registry.build("bp-deploy", s, model, devs, 4, seed=0, trace=trace)
        assert ("calibrated mapping" in tr.label) == (mode == "auto")
        tr.step(x, y)
        counts = []
        for _ in range(2):
            trace.begin_step()
            tr.predict(x)
            counts.append(sum(v for k, v in trace.end_step().items()
                              if k.endswith(".program.settings")))
        spent[mode] = counts
    # off: one clean program per prediction; auto: the mapping (2 rounds: 1 + 2·(272 + 1)
    # settings per stage) once, then cached until the next twin update
    assert spent["off"] == [1, 1]
    assert spent["auto"][0] > 100 and spent["auto"][1] == 1
    with pytest.raises(ValueError, match="deploy_calibration"):
        registry.settings_for("bp-deploy", {"deploy_calibration": "maybe"})

"""One contract suite run over every device preset (design.md: the oracle contract)."""
import dataclasses

import pytest
import torch

from hwsim.kinds import kind_of_preset
from hwsim.oracle import Oracle, TracingOracle
from hwsim.presets import DEVICE_PRESETS, device_config
from hwsim.trace import Trace

SIZES = [(20, 12), (16, 16)]   # tiled with padding, and exact tiles


def make(preset, n_in, n_out, seed=3, ideal=False):
    cfg = device_config(preset)
    if ideal:
        cfg = dataclasses.replace(cfg, effects=())
    names = {f.name for f in dataclasses.fields(cfg)}
    if {"tile_rows", "tile_cols"} <= names:   # small tiles so tiling is exercised
        cfg = dataclasses.replace(cfg, tile_rows=8, tile_cols=8)
    return kind_of_preset(preset).build(n_in, n_out, cfg, seed=seed, name="L")


def random_knobs(dev, seed=0, P=None):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(dev.n_out, dev.n_in, generator=g) / dev.n_in ** 0.5
    knobs = dev.knobs_from_weight(w)
    if P is not None:
        knobs = {k: v.unsqueeze(0).repeat(P, *([1] * v.dim())) for k, v in knobs.items()}
        # distinct settings: perturb every knob a little, staying inside its range
        for name, v in knobs.items():
            spec = dev.knob_spec[name]
            knobs[name] = spec.project(v * (1 + 0.01 * torch.randn(v.shape, generator=g)))
    return w, knobs


def gens(seed=11):
    return torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)


@pytest.fixture(params=sorted(DEVICE_PRESETS))
def preset(request):
    return request.param


@pytest.mark.parametrize("n_in,n_out", SIZES)
def test_is_an_oracle_with_shapes(preset, n_in, n_out):
    dev = make(preset, n_in, n_out)
    assert isinstance(dev, Oracle)
    _, knobs = random_knobs(dev)
    gp, gq = gens()
    x = torch.rand(5, n_in)
    y = dev.query(dev.program(knobs, gp), x, gq)
    assert y.shape == (1, 5, n_out)
    _, knobs = random_knobs(dev, P=3)
    prog = dev.program(knobs, gp)
    assert prog.settings == 3
    assert dev.query(prog, x, gq).shape == (3, 5, n_out)
    assert dev.query(prog, torch.rand(3, 5, n_in), gq).shape == (3, 5, n_out)


def test_outputs_are_detached(preset):
    dev = make(preset, 12, 10)
    _, knobs = random_knobs(dev, P=2)
    knobs = {k: v.clone().requires_grad_(True) for k, v in knobs.items()}
    x = torch.rand(4, 12, requires_grad=True)
    y = dev.query(dev.program(knobs, gens()[0]), x, gens()[1])
    assert not y.requires_grad and y.grad_fn is None


def assert_same_seed_same_numbers(build) -> None:
    """Two devices from ``build()`` (20 → 12, same seed) give bit-identical outputs."""
    outs = []
    for _ in range(2):
        dev = build()
        _, knobs = random_knobs(dev, P=2)
        gp, gq = gens(7)
        outs.append(dev.query(dev.program(knobs, gp), torch.linspace(-1, 1, 60).reshape(3, 20), gq))
    assert torch.equal(outs[0], outs[1])


def assert_batched_equals_separate(dev) -> None:
    """P settings programmed and queried in one call equal P separate calls (20 → 12 device)."""
    _, knobs = random_knobs(dev, P=4)
    x = torch.rand(4, 6, 20)
    gp, gq = gens(21)
    batched = dev.query(dev.program(knobs, gp), x, gq)
    gp, gq = gens(21)
    progs = [dev.program({k: v[p] for k, v in knobs.items()}, gp) for p in range(4)]
    separate = torch.cat([dev.query(progs[p], x[p], gq) for p in range(4)])
    torch.testing.assert_close(batched, separate, atol=1e-5, rtol=1e-5)


def test_same_seed_same_numbers(preset):
    assert_same_seed_same_numbers(lambda: make(preset, 20, 12, seed=5))


def test_ideal_limit_equals_digital_product(preset):
    dev = make(preset, 20, 12, ideal=True)
    w, knobs = random_knobs(dev)
    x = torch.randn(7, 20)
    y = dev.query(dev.program(knobs), x)[0]
    twin = dev.digital_twin(knobs)
    torch.testing.assert_close(twin, w, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(y, x @ twin.T, atol=1e-4, rtol=1e-4)


def test_batched_settings_equal_separate_calls(preset):
    assert_batched_equals_separate(make(preset, 20, 12))


def test_tracing_oracle_records_events(preset):
    dev = make(preset, 20, 12)
    trace = Trace()
    oracle = TracingOracle(dev, trace)
    assert not hasattr(oracle, "digital_twin")
    _, knobs = random_knobs(dev, P=3)
    trace.begin_step()
    oracle.query(oracle.program(knobs, gens()[0]), torch.rand(5, 20), gens()[1])
    s = trace.end_step()
    assert s["L.program.settings"] == 3 and s["L.program.knobs_written"] == 3 * dev.n_knobs
    assert s["L.mvm.vectors"] == 15 and s["L.mvm.macs"] >= 15 * 20 * 12
    assert s["L.mvm.adc_conversions"] > 0 and s["L.mvm.dac_conversions"] > 0
    assert s["L.info.knobs"] == dev.n_knobs


@pytest.mark.parametrize("bad", ["shape", "range", "nan", "missing", "input", "input_p"])
def test_bad_input_names_the_problem(preset, bad):
    dev = make(preset, 20, 12)
    _, knobs = random_knobs(dev)
    x = torch.rand(3, 20)
    name = next(n for n, s in dev.knob_spec.items() if not s.periodic)
    if bad == "shape":
        knobs[name] = knobs[name][..., :-1]
        match = name
    elif bad == "range":
        knobs[name] = knobs[name] + 1e7
        match = "allowed"
    elif bad == "nan":
        first = next(iter(knobs))
        knobs[first] = knobs[first] * float("nan")
        match = "finite"
    elif bad == "missing":
        knobs.pop(name)
        match = "missing"
    if bad in ("input", "input_p"):
        prog = dev.program(random_knobs(dev, P=2)[1])
        with pytest.raises(ValueError, match="input"):
            dev.query(prog, torch.rand(3, 19) if bad == "input" else torch.rand(3, 3, 20))
        return
    with pytest.raises(ValueError, match=match):
        dev.program(knobs)


def test_program_never_edits_the_callers_knobs(preset):
    dev = make(preset, 20, 12)
    _, knobs = random_knobs(dev, P=3)
    before = {k: v.clone() for k, v in knobs.items()}
    dev.program(knobs, gens()[0])
    for k in knobs:
        assert torch.equal(before[k], knobs[k])


def test_knobs_with_different_p_are_rejected_and_p1_broadcasts(preset):
    dev = make(preset, 20, 12)
    _, knobs = random_knobs(dev, P=3)
    names = list(knobs)
    one = {**knobs, names[-1]: knobs[names[-1]][:1]}          # explicit P = 1 broadcasts
    assert dev.program(one).settings == 3
    bad = {**knobs, names[-1]: torch.cat([knobs[names[-1]], knobs[names[-1]][:1]])}   # P = 4
    with pytest.raises(ValueError, match="P=4 but another knob has P=3|P=3 but another knob has P=4"):
        dev.program(bad)


def test_tracing_oracle_forwards_the_device_clock():
    """A query's time since programming reaches the device through the oracle (drift)."""
    from hwsim.oracle import TracingOracle
    from hwsim.presets import build_layer
    from hwsim.trace import Trace
    dev = build_layer("crossbar-pcm", 16, 8, seed=0)
    oracle = TracingOracle(dev, Trace())
    knobs = dev.knobs_from_weight(torch.ones(8, 16) * 0.05)
    prog = oracle.program(knobs, torch.Generator().manual_seed(0))
    x = torch.ones(4, 16)
    y0 = oracle.query(prog, x, torch.Generator().manual_seed(1), time_s=1.0)
    y1 = oracle.query(prog, x, torch.Generator().manual_seed(1), time_s=1.0)
    y_late = oracle.query(prog, x, torch.Generator().manual_seed(1), time_s=3600.0 * 24 * 365)
    assert torch.equal(y0, y1)
    assert not torch.allclose(y0, y_late)


def test_write_stat_kernels_equal_the_tensor_forms():
    # the trace's one-pass counters: the same wrapped phases (element by element) and change counts
    import math as _m
    import numpy as _np
    from hwsim.counting import count_changes, wrapped_sum
    g = torch.Generator().manual_seed(0)
    t = torch.rand(6, 500, generator=g) * 40 - 20
    t[0, :4] = torch.tensor([-2 * _m.pi, -0.0, 2 * _m.pi, -1e-9])
    t[3] = t[2]
    ref = torch.remainder(t, 2 * _m.pi).double()
    for p, j in [(0, 0), (0, 1), (0, 2), (0, 3)] + [(p, j) for p in range(6) for j in range(0, 500, 37)]:
        assert wrapped_sum(t[p:p + 1, j:j + 1].numpy(), 2 * _m.pi) == float(ref[p, j])
    assert wrapped_sum(t.numpy(), 2 * _m.pi) == pytest.approx(float(ref.sum()), rel=1e-14)
    out = torch.zeros(500, dtype=torch.int32)
    count_changes(_np.ascontiguousarray(t.numpy()), out.numpy())
    assert torch.equal(out, torch.ne(t[1:], t[:-1]).sum(dim=0, dtype=torch.int32))

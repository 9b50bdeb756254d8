"""Trainers and registry: query counts equal the trace, streams apart, learning through knobs."""
import math

import pytest
import torch

import algorithms.baselines  # noqa: F401  (registers the autograd baselines)
from algorithms import registry
from algorithms.families.mono_forward import build_global
from algorithms.model import model_from_config
from algorithms.torch_module import DeviceLayer
from hwsim.oracle import CAPABILITIES, MissingCapability, TracingOracle
from hwsim.presets import build_layer
from hwsim.trace import Trace

#: every registered device-trained algorithm on the model's blocks (tensor-train ones, which
#: take their own network, are covered by tests/algorithms/test_algorithm_contract.py)
#: (whole-network algorithms, ``spec.whole_network``, train one oracle for a whole photonic network
#: and are covered there and by tests/experiments/test_reproduce.py)
FORWARD_ONLY = [n for n, s in registry.ALGORITHMS.items()
                if not s.twin and s.check_task is None and not s.whole_network
                and not s.twin_steps]       # a pipeline's first steps are on the twin


def devices(model, preset):
    return [build_layer(preset, a, b, seed=i, name=f"layer{i}")
            for i, (a, b) in enumerate(model.device_shapes())]


def toy(n=48, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
    return x, y


def mvm_settings(summary):
    return sum(v for k, v in summary.items() if k.endswith(".mvm.settings"))


def test_every_issue_name_is_registered_with_description_capability_and_settings():
    names = ["mfdd", "mfdd-thesis", "frog", "local-guess", "activity", "frozen", "mf-ad", "bp",
             "bp-deploy", "hwa-deploy"]
    assert list(registry.ALGORITHMS)[:len(names)] == names     # later issues add more after
    lines = registry.describe()
    assert len(lines) == len(registry.ALGORITHMS) and all("\n" not in ln for ln in lines)
    for n in registry.ALGORITHMS:
        spec = registry.ALGORITHMS[n]
        assert spec.capability in (None, *CAPABILITIES) and spec.description
        assert isinstance(registry.settings_for(n), spec.settings_type)


@pytest.mark.parametrize("name, values, field", [
    ("mfdd", {"num_directions": 0}, "num_directions"),
    ("mfdd", {"knob_lr_range_units": -1.0}, "knob_lr_range_units"),
    ("mfdd", {"epsilon_knob_range_units": 0.5}, "epsilon_knob_range_units"),
    ("frog", {"scale": "x"}, "scale"),
    ("local-guess", {"variant": "e2e"}, "variant"),
    ("bp", {"head_lr": float("inf")}, "head_lr"),
    ("mfdd", {"nonsense": 1}, "unknown settings"),
    ("nope", {}, "algorithm = 'nope'"),
])
def test_settings_validation_is_one_line(name, values, field):
    with pytest.raises(ValueError, match=field) as e:
        registry.settings_for(name, values)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("preset", ["mzi-default", "crossbar-default"])
@pytest.mark.parametrize("name, values", [
    *((n, {}) for n in FORWARD_ONLY if n not in ("mfdd", "frog")),
    ("mfdd", {"num_directions": 2}), ("mfdd", {"num_directions": 3, "difference": "forward"}),
    ("mfdd", {"directions": "lowrank", "rank": 2, "num_directions": 2}),
    ("mfdd", {"directions": "seed-replay", "num_directions": 2}), ("frog", {"num_tangents": 2})])
def test_device_queries_per_step_equal_the_trace(name, values, preset):
    model = model_from_config((16,), hidden=[8, 8])
    trace = Trace()
    s = registry.settings_for(name, values)
    tr = registry.build(name, s, model, devices(model, preset), 4, seed=0, trace=trace)
    x, y = toy()
    trace.begin_step()
    tr.step(x[:16], y[:16])
    summary = trace.end_step()
    expected = registry.ALGORITHMS[name].queries_per_step(s, 2)
    if registry.ALGORITHMS[name].queries_vary:
        # a sequential search: the spec's count is an expectation, the trainer's the exact one
        # of its last step; its program writes are checked in its own tests
        assert mvm_settings(summary) == tr.device_queries_per_step() > expected
        return
    assert tr.device_queries_per_step() == expected
    # a calibrated guess measures the device's Jacobian in its first step (2 settings per
    # shifter of a block, every stage), traced in that step
    cal = sum(c.queries for c in tr.state.calibration if c is not None)
    uses = registry.ALGORITHMS[name].uses_jacobian(s)
    assert (cal > 0) == (uses and preset == "mzi-default")
    assert mvm_settings(summary) == expected + cal
    # the clean state is programmed once per step and reused: one clean write per stage (the
    # global target's queries of the later stages reuse it too: 1 of 2 blocks here)
    writes = sum(v for k, v in summary.items() if k.endswith(".program.settings"))
    reused = 1 if getattr(s, "target", "local") == "global" else 0
    assert writes == expected + cal - reused


def test_evaluating_or_not_leaves_trained_knobs_identical():
    model = model_from_config((16,), hidden=[8])
    x, y = toy()
    finals = []
    for evaluate in (False, True):
        trace = Trace()
        tr = registry.build("mfdd", registry.settings_for("mfdd", {"num_directions": 2}), model,
                            devices(model, "crossbar-default"), 4, seed=3, trace=trace)
        registry.train(tr, x, y, epochs=2, batch_size=16, seed=3, trace=trace,
                       x_eval=x if evaluate else None, y_eval=y if evaluate else None)
        if evaluate:
            tr.predict(x)
        finals.append([t.clone() for t in tr.state.theta] + [h["M"].clone() for h in tr.state.heads])
    assert all(torch.equal(a, b) for a, b in zip(*finals))


def test_same_seed_same_run_and_greedy_schedule_trains_stage_by_stage():
    model = model_from_config((16,), hidden=[8, 8])
    x, y = toy()
    s = registry.settings_for("local-guess", {"schedule": "greedy"})
    runs = []
    for _ in range(2):
        trace = Trace()
        tr = registry.build("local-guess", s, model, devices(model, "mzi-default"), 4, seed=1, trace=trace)
        t0 = [t.clone() for t in tr.state.theta]
        r = registry.train(tr, x, y, epochs=1, batch_size=16, seed=1, trace=trace)
        runs.append([t.clone() for t in tr.state.theta])
        # greedy: stage 0 for one epoch (2 clean + 2 + 1 query of stage 1: the global target
        # measures the network's loss through it), then stage 1 (2 clean + 2) per step; each
        # stage's first guess measures its Jacobian: by default 16 of the 136 shifters of an
        # 8×8 block (all blocks at once), central differences
        cal = 2 * 16
        assert [mvm_settings(m) for m in r.step_summaries] == [5 + cal, 5, 5, 4 + cal, 4, 4]
    assert all(torch.equal(a, b) for a, b in zip(*runs))
    assert not torch.equal(runs[0][0], t0[0]) and not torch.equal(runs[0][1], t0[1])


def test_frozen_never_moves_the_knobs_and_twin_baselines_query_nothing():
    model = model_from_config((16,), hidden=[8])
    x, y = toy()
    trace = Trace()
    tr = registry.build("frozen", None, model, devices(model, "crossbar-default"), 4, seed=0, trace=trace)
    t0 = tr.state.theta[0].clone()
    registry.train(tr, x, y, epochs=1, batch_size=16, seed=0)
    assert torch.equal(tr.state.theta[0], t0)
    for name in (n for n, s in registry.ALGORITHMS.items() if s.twin and s.check_task is None):
        trace = Trace()
        tb = registry.build(name, None, model, devices(model, "crossbar-default"), 4, seed=0, trace=trace)
        trace.begin_step()
        tb.step(x[:16], y[:16])
        assert mvm_settings(trace.end_step()) == 0 and tb.label.startswith("ideal digital twin")
        assert tb.predict(x).shape == (48,)


def test_missing_capability_is_one_line_naming_capability_and_device():
    class NoNominal:
        """A device that declares nothing optional (wraps a real one, hides its twin)."""

        def __init__(self, dev):
            self._d, self.name, self.n_in, self.n_out = dev, "plain", dev.n_in, dev.n_out
            self.knob_spec = dev.knob_spec
            self.info, self.program, self.query = dev.info, dev.program, dev.query
            self.program_events, self.query_events = dev.program_events, dev.query_events
            self.knobs_from_weight = dev.knobs_from_weight

    model = model_from_config((16,), hidden=[8])
    dev = NoNominal(devices(model, "crossbar-ideal")[0])
    assert "nominal" not in TracingOracle(dev, Trace()).capabilities
    for name in ("local-guess", "activity", "bp"):
        with pytest.raises(MissingCapability, match=f"needs device capability 'nominal'; device 'plain'") as e:
            registry.build(name, None, model, [dev], 4, seed=0, trace=Trace())
        assert "\n" not in str(e.value)
    registry.build("mfdd", None, model, [dev], 4, seed=0, trace=Trace())     # needs nothing


def test_global_trainer_queries_and_learns_a_step():
    model = model_from_config((16,), hidden=[8, 8])
    x, y = toy()
    trace = Trace()
    s = registry.settings_for("frog", {"num_tangents": 3})
    tr = build_global(s, model, devices(model, "mzi-ideal"), 4, seed=0, trace=trace)
    trace.begin_step()
    m = tr.step(x[:16], y[:16])
    assert math.isfinite(m["loss.global"])
    assert mvm_settings(trace.end_step()) == tr.device_queries_per_step() == 2 * (1 + 6)


def test_cnn_with_random_projection_trains_through_both_devices():
    model = model_from_config((6, 6), architecture=["conv2d:3:3:1:1", "bias", "relu", "maxpool:2",
                                                     "flatten", "dense:8", "bias", "relu"])
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(24, 36, generator=g), torch.randint(0, 4, (24,), generator=g)
    for preset in ("mzi-default", "crossbar-default"):
        trace = Trace()
        s = registry.settings_for("local-guess", {"projection_dim": 8})
        tr = registry.build("local-guess", s, model, devices(model, preset), 4, seed=0, trace=trace)
        assert tr.trainer.heads[0].projection_dim == 8 and tr.trainer.heads[1].projection_dim is None
        r = registry.train(tr, x, y, epochs=1, batch_size=12, seed=0, trace=trace)
        cal = sum(c.queries for c in tr.state.calibration if c is not None)   # first step only
        assert (cal > 0) == (preset == "mzi-default")
        # 2 clean + 2 per block + 1 query of the dense block by the conv block's global target
        assert [mvm_settings(sm) for sm in r.step_summaries] == [7 + cal, 7]
        assert tr.predict(x).shape == (24,)


def test_torch_module_is_an_oracle_query():
    dev = build_layer("crossbar-ideal", 5, 3, name="m")
    trace = Trace()
    o = TracingOracle(dev, trace)
    w = torch.randn(3, 5)
    layer = DeviceLayer(o, dev.knobs_from_weight(w))
    x = torch.randn(4, 5, requires_grad=True)
    out = torch.nn.Sequential(layer, torch.nn.ReLU())(x)
    assert out.shape == (4, 3) and not out.requires_grad
    assert torch.allclose(layer(x), x.detach() @ w.T, atol=1e-3)
    assert mvm_settings(trace.summary()) == 2


def test_mfdd_beats_frozen_on_digits():
    """Learning THROUGH the knobs: the same network and heads, knobs trained vs never moved, with
    the registry's defaults, over three seeds (one seed's margin is within the seed spread)."""
    from experiments.data import load_dataset, standardize

    ds = standardize(load_dataset("digits"))
    model = model_from_config((64,), hidden=[32])
    acc = {"mfdd": [], "frozen": []}
    for seed in (0, 1, 2):
        for name in acc:
            trace = Trace()
            tr = registry.build(name, None, model, devices(model, "crossbar-default"), 10,
                                seed=seed, trace=trace)
            registry.train(tr, ds.x_train, ds.y_train, epochs=2, batch_size=16, seed=seed,
                           trace=trace)
            acc[name].append(float((tr.predict(ds.x_test) == ds.y_test).float().mean()))
    assert all(m > f for m, f in zip(acc["mfdd"], acc["frozen"])), acc
    assert sum(acc["mfdd"]) / 3 > sum(acc["frozen"]) / 3 + 0.02, acc

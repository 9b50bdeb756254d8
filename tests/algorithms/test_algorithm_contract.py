"""Every registered algorithm — whatever family registered it — honours the registry contract:
valid default settings, a description, a known capability, a device layout, one-line build
errors, a step whose device queries equal its declared count (and the trace), predictions of
the right shape. The list of algorithms is the registry's, never a hand-kept one."""
import math

import pytest
import torch

from algorithms import registry
from algorithms.model import model_from_config
from algorithms.seeds import device_seed
from hwsim.oracle import CAPABILITIES
from hwsim.photonic.meshnet import MeshNetwork
from hwsim.photonic.network_presets import NETWORK_PRESETS
from hwsim.presets import build_layer
from hwsim.trace import Trace

NAMES = list(registry.ALGORITHMS)
N_IN, N_CLASSES = 64, 10          # the shape of the shipped digits (the specs' examples)


def toy(n=32, seed=0, spec=None):
    g = torch.Generator().manual_seed(seed)
    if spec is not None and spec.whole_network:
        return (torch.rand(n, NETWORK_WIDTH, generator=g),
                torch.randint(0, 2, (n,), generator=g))
    return torch.randn(n, N_IN, generator=g), torch.randint(0, N_CLASSES, (n,), generator=g)


#: whole-network algorithms (``spec.whole_network``) run on the Pai 4-port mesh network, whose
#: inputs are 4 non-negative amplitudes and whose readout has 2 classes
NETWORK_PRESET, NETWORK_WIDTH = "pai-4port", 4


def setup(name, preset="mzi-default"):
    spec = registry.ALGORITHMS[name]
    s = registry.settings_for(name, spec.example)
    if spec.whole_network:
        return spec, s, None, [MeshNetwork(NETWORK_PRESETS[NETWORK_PRESET](), seed=0,
                                           name=NETWORK_PRESET)]
    model = model_from_config((N_IN,), hidden=[8])
    slots = registry.device_layout(name, s, model)
    devs = [build_layer(preset, sl.n_in, sl.n_out, seed=device_seed(0, sl.stream), name=sl.name)
            for sl in slots]
    return spec, s, model, devs


def test_the_registry_holds_every_family_and_lists_each_once():
    lines = registry.describe()
    assert len(lines) == len(NAMES) == len(set(NAMES))
    for name, line in zip(NAMES, lines):
        assert line.startswith(f"{name} ") and "\n" not in line
    # one per family at least: mono-forward, goodness, tensor-train, autograd baselines
    for name in ("mfdd", "sff", "tt-zo", "bp", "tt-autograd", "zo-sign"):
        assert name in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_spec_declares_settings_capability_label_and_layout(name):
    spec, s, model, devs = setup(name)
    assert spec.description and spec.label and isinstance(s, spec.settings_type)
    assert spec.capability_for(s) in (None, *CAPABILITIES)
    assert spec.queries_per_step(s, len(devs)) >= 0
    assert registry.results_label(name, s, True) and registry.results_label(name, s, False)
    with pytest.raises(ValueError, match="unknown settings") as e:
        registry.settings_for(name, {"no_such_key": 1})
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="device slots") as e:
        registry.build(name, s, model, devs[:-1], N_CLASSES, seed=0, trace=Trace())
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("name", NAMES)
def test_a_step_queries_what_the_spec_declares_and_predicts(name):
    spec, s, model, devs = setup(name)
    trace = Trace()
    tr = registry.build(name, s, model, devs, N_CLASSES, seed=0, trace=trace)
    x, y = toy(spec=spec)
    trace.begin_step()
    m = tr.step(x, y)
    summary = trace.end_step()
    assert m and all(math.isfinite(v) for v in m.values())
    queried = sum(v for k, v in summary.items() if k.endswith(".mvm.settings"))
    cal = sum(c.queries for c in (getattr(tr.state, "calibration", None) or []) if c is not None)
    if spec.twin or spec.twin_steps:     # a pipeline's first steps train on the twin
        assert queried == 0 and tr.device_queries_per_step() == 0
    else:
        if not spec.queries_vary:
            assert tr.device_queries_per_step() == spec.queries_per_step(s, len(devs))
        assert queried == tr.device_queries_per_step() + cal
        # the estimate's host work is traced (declared by the estimator, not guessed)
        flops = sum(v for k, v in summary.items() if k.endswith("flops_estimator"))
        assert flops > 0 or name == "frozen", summary
    assert tr.predict(x).shape == (x.shape[0],)


@pytest.mark.parametrize("name", NAMES)
def test_every_algorithm_of_a_seed_starts_from_the_same_knobs(name):
    """Initial knobs come from one function and one stream per seed: algorithms with the same
    device layout start from identical knobs (fair comparisons by construction)."""
    spec, s, model, devs = setup(name)
    mine = registry.initial_knobs(name, s, model, devs, seed=3)
    same_layout = [n for n, o in registry.ALGORITHMS.items() if o.layout is spec.layout]
    ref = same_layout[0]       # the first registered algorithm of this device layout
    theirs = registry.initial_knobs(ref, registry.settings_for(
        ref, registry.ALGORITHMS[ref].example), model, devs, seed=3)
    assert all(torch.equal(a[k], b[k]) for a, b in zip(mine, theirs) for k in a)

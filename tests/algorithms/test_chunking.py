"""Chunked perturbation batches (algorithms.chunking): the same losses, draws and trace as one
call, the gradient within its float32 rounding, memory bounded by the chunk."""
import math

import pytest
import torch

from algorithms import registry
from algorithms.chunking import (ENV_VAR, MIN_SETTINGS, SettingsLoss, chunk_bounds, coalesced,
                                 settings_per_call)
from algorithms.estimators.zeroth_order import DirectionalDerivative
from algorithms.model import model_from_config
from hwsim.presets import build_layer
from hwsim.trace import DigitalEvent, Trace


def _quadratic(calls):
    w = torch.linspace(-1.0, 1.0, 37)

    def loss(settings):
        calls.append(settings.shape[0])
        return ((settings - w) ** 2).sum(dim=1) + torch.sin(7 * settings).sum(dim=1)
    return loss


@pytest.mark.parametrize("kind", ["rademacher", "gaussian", "sphere"])
@pytest.mark.parametrize("difference", ["central", "forward"])
def test_chunked_estimate_equals_one_call(kind, difference):
    rule = DirectionalDerivative(kind, 11, 1e-2, difference)
    theta = torch.randn(37, generator=torch.Generator().manual_seed(3))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    one, many = [], []
    a = rule.estimate(_quadratic(one), theta, g1)
    b = rule.estimate(SettingsLoss(_quadratic(many), 4), theta, g2)
    assert one == [rule.evaluations()] and max(many) <= 4 and sum(many) == rule.evaluations()
    assert torch.equal(a.losses, b.losses)                       # same settings, same order
    assert torch.equal(g1.get_state(), g2.get_state())           # the generator ends alike
    # ĝ: float64 accumulation rounded once vs the one-call float32 contraction
    ulp = torch.finfo(torch.float32).eps * (a.grad.abs().max() + 1e-30)
    assert (a.grad - b.grad).abs().max() <= 8 * ulp
    assert a.base_loss == pytest.approx(b.base_loss, rel=1e-6)


def test_chunk_bounds_cover_in_equal_parts():
    assert chunk_bounds(10, None) == [(0, 10)]
    assert chunk_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert chunk_bounds(65, 32) == [(0, 22), (22, 44), (44, 65)]


def test_settings_per_call_auto_override_and_env(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    big = settings_per_call(784, 64, 128, 100_352)
    assert MIN_SETTINGS <= big < 65                      # the Fashion layer at P = 32 is chunked
    assert settings_per_call(64, 32, 64, 4096) > 65       # the digits layer is not
    assert settings_per_call(784, 64, 128, 1, override=0) is None
    assert settings_per_call(784, 64, 128, 1, override=7) == 7
    monkeypatch.setenv(ENV_VAR, "5")
    assert settings_per_call(784, 64, 128, 1) == 5
    monkeypatch.setenv(ENV_VAR, "lots")
    with pytest.raises(ValueError, match=ENV_VAR + ".*allowed"):
        settings_per_call(784, 64, 128, 1)


def test_coalesced_keeps_calls_with_different_events():
    trace = Trace()
    with coalesced(trace) as mark:
        mark()
        trace.record(DigitalEvent(layer="a", flops=1))
        mark()
        trace.record(DigitalEvent(layer="b", flops=2))
    assert [e.layer for e in trace.events] == ["a", "b"]


def _trainer(preset: str, chunk: int, P: int = 8):
    model = model_from_config((12,), hidden=[6])
    devices = [build_layer(preset, a, b, seed=7 + i, name=f"layer{i}")
               for i, (a, b) in enumerate(model.device_shapes())]
    trace = Trace()
    settings = registry.settings_for("mfdd", {"num_directions": P})
    t = registry.build("mfdd", settings, model, devices, 3, seed=0, trace=trace)
    t.trainer.settings_per_call = chunk
    return t, trace


@pytest.mark.parametrize("preset", ["mzi-default", "crossbar-default"])
def test_trainer_step_chunked_equals_one_call(preset):
    x = torch.randn(10, 12, generator=torch.Generator().manual_seed(1))
    y = torch.arange(10) % 3
    (ta, tra), (tb, trb) = _trainer(preset, 0), _trainer(preset, 5)
    for _ in range(2):
        for t, tr in ((ta, tra), (tb, trb)):
            tr.begin_step()
            t.step(x, y)
            tr.end_step()
    for sa, sb in zip(tra.steps, trb.steps):
        assert sa.keys() == sb.keys()
        for k in sa:   # counts exactly (events included: pricing sees one call); float sums close
            assert sa[k] == pytest.approx(sb[k], rel=1e-6), k
    for a, b in zip(ta.trainer.state.theta, tb.trainer.state.theta):
        # the knobs after two steps: the ĝ rounding difference through the optimizer
        assert torch.allclose(a, b, rtol=0, atol=1e-5 * (a.abs().max() + 1))

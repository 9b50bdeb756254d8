"""zo-sign (ZO-signSGD, Liu et al., ICLR 2019): the update uses only the sign of the
directional-derivative estimate, so with SGD every knob moves by exactly ± the step size."""
import pytest
import torch

from algorithms import registry
from algorithms.estimators import DirectionalDerivative
from algorithms.families.zo_sign import SignDirectional
from algorithms.model import model_from_config
from hwsim.presets import build_layer
from hwsim.trace import Trace


def test_estimate_is_the_sign_of_the_directional_derivative_estimate():
    rule = DirectionalDerivative("rademacher", 64, 1e-3, "central")
    c = torch.tensor([3.0, -2.0, 0.5, -0.1])
    lin = lambda s: s @ c          # noqa: E731  a linear loss: every estimate is unbiased
    g_plain = rule.estimate(lin, torch.zeros(4), torch.Generator().manual_seed(0)).grad
    g, state, info = SignDirectional(rule).estimate(lin, torch.zeros(4), (),
                                                     torch.Generator().manual_seed(0))
    assert torch.equal(g, torch.sign(g_plain)) and set(g.tolist()) <= {-1.0, 1.0}
    assert info["device_queries"] == SignDirectional(rule).device_queries() == 128
    assert SignDirectional(rule).combine_flops(10) == 2 * 64 * 10 + 10


def test_every_knob_moves_by_exactly_the_step_size():
    model = model_from_config((12,), hidden=[6])
    dev = build_layer("crossbar-ideal", 12, 6, seed=0, name="layer0")
    s = registry.settings_for("zo-sign", {"num_directions": 4, "knob_lr_range_units": 1e-3})
    tr = registry.build("zo-sign", s, model, [dev], 3, seed=0, trace=Trace())
    before = tr.state.theta[0].clone()
    g = torch.Generator().manual_seed(1)
    tr.step(torch.randn(8, 12, generator=g), torch.randint(0, 3, (8,), generator=g))
    moved = (tr.state.theta[0] - before).abs()
    inside = (before.abs() < 0.5 - 2e-3)          # knobs clamped at a range end move less
    assert inside.sum() > 0.8 * before.numel()
    assert torch.allclose(moved[inside], torch.full_like(moved[inside], 1e-3), atol=1e-6)


def test_zo_sign_is_registered_by_its_own_file():
    spec = registry.ALGORITHMS["zo-sign"]
    assert spec.settings_type.__module__ == "algorithms.families.zo_sign"
    assert spec.queries_per_step(None, 2) == 2 * (1 + 2 * 32)
    with pytest.raises(ValueError, match=r"ZOSignSettings.num_directions = 0; allowed"):
        registry.settings_for("zo-sign", {"num_directions": 0})

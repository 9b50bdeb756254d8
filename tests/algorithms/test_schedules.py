"""Learning-rate schedules against their closed forms (algorithms/schedules.py)."""
import math

import pytest
import torch

from algorithms.schedules import Constant, Cosine, Exponential, Step, WarmUp, schedule_from


def test_constant_and_step():
    assert [Constant(0.1)(e) for e in range(3)] == [0.1] * 3
    s = Step(1.0, every=2, gamma=0.5)
    assert [s(e) for e in range(6)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_exponential_matches_torch_exponential_lr_with_the_l2ight_floor():
    """L2ight flops/learn.yml: lr 2, γ 0.99 per epoch, floor 0.0245."""
    s = Exponential(2.0, 0.99, 0.0245)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=2.0)
    sch = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.99)
    for e in range(500):
        assert s(e) == pytest.approx(max(opt.param_groups[0]["lr"], 0.0245), rel=1e-9)
        opt.step()
        sch.step()
    # the floor is reached after ⌈ln(0.0245/2)/ln 0.99⌉ = ⌈438.02⌉ = 439 epochs
    assert s(438) > 0.0245 and s(439) == 0.0245


def test_cosine_matches_torch_cosine_annealing():
    s = Cosine(0.5, epochs=10, lr_min=0.01)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.5)
    sch = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    for e in range(11):
        assert s(e) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-6)
        opt.step()
        sch.step()
    assert s(25) == pytest.approx(0.01)


def test_warm_up_is_linear_then_the_inner_schedule():
    s = WarmUp(Constant(0.3), epochs=2)
    assert [s(e) for e in range(4)] == pytest.approx([0.1, 0.2, 0.3, 0.3])
    assert s.lr == 0.3


def test_schedule_from_config_values_and_bad_input():
    assert schedule_from(0.1, None) == Constant(0.1)
    assert schedule_from(2.0, {"kind": "exponential", "gamma": 0.99, "lr_min": 0.0245}) == \
        Exponential(2.0, 0.99, 0.0245)
    w = schedule_from(1.0, {"kind": "cosine", "epochs": 4, "warmup_epochs": 1})
    assert w == WarmUp(Cosine(1.0, 4, 0.0), 1)
    with pytest.raises(ValueError, match="kind = 'linear'; allowed"):
        schedule_from(0.1, "linear")
    with pytest.raises(ValueError, match=r"keys \['every'\]"):
        schedule_from(0.1, {"kind": "exponential", "every": 3})
    with pytest.raises(ValueError, match="Exponential.gamma = 1.5"):
        Exponential(0.1, 1.5)
    with pytest.raises(ValueError, match="epoch = -1"):
        Constant(0.1)(-1)
    assert math.isfinite(Step(0.1)(10**6))


def test_every_device_trained_algorithm_takes_a_schedule_and_its_rates_follow_it():
    """[algorithm] lr_schedule keys on a local trainer: the knob and head updates of an epoch
    are exactly the rule's update × schedule(epoch) / base (sgd: the step halves in epoch 1)."""
    from algorithms import registry
    from algorithms.model import model_from_config
    from algorithms.seeds import device_seed
    from hwsim.presets import build_layer
    from hwsim.trace import Trace

    model = model_from_config((16,), hidden=[8])
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(32, 16, generator=g), torch.randint(0, 4, (32,), generator=g)
    steps = {}
    for kind in ("constant", "step"):
        s = registry.settings_for("mfdd", {"optimizer": "sgd", "lr_schedule": kind,
                                           "lr_step_every": 1, "lr_gamma": 0.5,
                                           "knob_lr_range_units": 1e-3})
        devs = [build_layer("mzi-ideal", sl.n_in, sl.n_out, seed=device_seed(0, sl.stream),
                            name=sl.name) for sl in registry.device_layout("mfdd", s, model)]
        tr = registry.build("mfdd", s, model, devs, 4, seed=0, trace=Trace())
        tr.begin_epoch(1)
        th0, m0 = tr.state.theta[0].clone(), tr.state.heads[0]["M"].clone()
        tr.step(x, y)
        steps[kind] = (tr.state.theta[0] - th0, tr.state.heads[0]["M"] - m0)
    assert torch.allclose(steps["step"][0], 0.5 * steps["constant"][0], atol=1e-7)
    assert torch.allclose(steps["step"][1], 0.5 * steps["constant"][1], atol=1e-7)
    assert registry.settings_for("mfdd", {"lr_schedule": "cosine", "lr_min": 0.1,
                                          "lr_cosine_epochs": 4}).lr_factors(4) == \
        pytest.approx((0.1, 0.1))
    with pytest.raises(ValueError, match="lr_schedule = 'linear'; allowed"):
        registry.settings_for("mfdd", {"lr_schedule": "linear"})

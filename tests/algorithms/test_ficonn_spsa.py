"""``ficonn-spsa`` against its closed form: one iteration is FICONN's rule
Θ ← Θ − η [L(Θ+Δ) − L(Θ−Δ)]/(2‖Δ‖) · Δ with Δ_i = ±δ; K directions average K such estimates; and
the estimate points along the gradient, E[g Δ] = (δ/√d) ∇L for small δ (Spall 1992)."""
import math

import pytest
import torch

from algorithms import registry
from algorithms.ficonn_spsa import FICONNSPSA, FICONNSPSASettings
from algorithms.optical_readout import Readout
from algorithms.seeds import generator
from hwsim.oracle import TracingOracle
from hwsim.photonic.meshnet import MeshNetwork, MeshNetworkConfig
from hwsim.trace import MvmEvent, Trace

CFG = MeshNetworkConfig(modes=4, layers=3, mesh="reck")      # ideal: no error, no noise


def _setup(seed=0, batch=8):
    dev = MeshNetwork(CFG, seed=seed)
    g = torch.Generator().manual_seed(seed + 11)
    knobs = {"phases": torch.rand(CFG.layers, CFG.modes ** 2, generator=g) * 2 * math.pi}
    x = torch.randn(batch, CFG.modes, generator=g).abs()
    y = torch.randint(0, 2, (batch,), generator=g)
    return dev, knobs, x, y


def _loss(dev, phases, x, y):
    return float(Readout("pairs").losses(dev.query(dev.program({"phases": phases}), x)[0], y)
                 .mean())


def _wrapped(a):
    return torch.remainder(a + math.pi, 2 * math.pi) - math.pi


@pytest.mark.parametrize("k", [1, 3])
def test_one_iteration_is_the_closed_form_rule(k):
    dev, knobs, x, y = _setup()
    s = FICONNSPSASettings(delta=0.05, lr=4.0, loss_pass=False, directions=k)
    alg = FICONNSPSA(TracingOracle(dev, Trace()), s, seed=5, knobs=dict(knobs))
    info = alg.step(x, y)
    # the same Δ_k the algorithm draws: stream train/directions of its seed
    signs = 2.0 * torch.randint(0, 2, (k, *knobs["phases"].shape),
                                generator=generator(5, "train/directions")) - 1.0
    step = torch.zeros_like(knobs["phases"], dtype=torch.float64)
    for d in (0.05 * signs).double():
        t = knobs["phases"].double()
        g = (_loss(dev, t + d, x, y) - _loss(dev, t - d, x, y)) / (2 * float(d.norm()))
        step += 4.0 * g * d / k
    expected = knobs["phases"].double() - step
    assert torch.allclose(_wrapped(alg.knobs["phases"].double() - expected),
                          torch.zeros_like(expected), atol=2e-5)
    assert float(step.abs().max()) > 1e-3                      # the step moved the knobs
    assert info["passes"] == 2 * k * len(x)


def test_many_directions_estimate_the_gradient_direction():
    """Averaged over K = 8192 directions the update is −η (δ/√d) ∇L (the ideal twin's autograd
    gradient) to within the sampling error √(d/K) ≈ 8 %, and K = 1 is far noisier."""
    dev, knobs, x, y = _setup(seed=2)
    delta, lr, d = 1e-3, 1.0, knobs["phases"].numel()
    k = knobs["phases"].double().clone().requires_grad_(True)
    loss = Readout("pairs").losses(dev.twin_forward({"phases": k}, x).double(), y).mean()
    grad = torch.autograd.grad(loss, k)[0]

    def update(directions, seed):
        s = FICONNSPSASettings(delta=delta, lr=lr, loss_pass=False, directions=directions)
        alg = FICONNSPSA(TracingOracle(dev, Trace()), s, seed=seed, knobs=dict(knobs))
        alg.step(x, y)
        return -_wrapped(alg.knobs["phases"].double() - knobs["phases"].double())

    many = update(8192, 0)
    expected = (delta / math.sqrt(d)) * lr * grad
    cos = float((many * expected).sum() / (many.norm() * expected.norm()))
    assert cos > 0.98
    assert abs(float(many.norm() / expected.norm()) - 1) < 0.15
    ones = [update(1, s) for s in range(8)]
    cos1 = [float((u * expected).sum() / (u.norm() * expected.norm())) for u in ones]
    assert max(cos1) < 0.9                                   # one direction: ~1/√d aligned


def test_directions_are_one_batched_query_and_the_registry_counts_them():
    dev, knobs, x, y = _setup()
    trace = Trace()
    alg = FICONNSPSA(TracingOracle(dev, trace), FICONNSPSASettings(directions=4), seed=0,
                     knobs=dict(knobs))
    trace.begin_step()
    info = alg.step(x, y)
    events = [e for e in trace.events if isinstance(e, MvmEvent)]
    assert [e.vectors for e in events] == [8 * len(x), len(x)]  # 2K settings in one query + Θ
    assert info["passes"] == 9 * len(x)
    spec = registry.ALGORITHMS["ficonn-spsa"]
    assert spec.queries_per_step(registry.settings_for("ficonn-spsa", {"directions": 4})) == 9
    assert spec.queries_per_step() == 3
    assert "4 directions" in alg.label
    assert FICONNSPSA(TracingOracle(dev, Trace()), FICONNSPSASettings(), seed=0).label == \
        "FICONN forward-only perturbation (±δ on all parameters)"


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, 20000])
def test_directions_out_of_range_is_one_line(bad):
    with pytest.raises(ValueError, match="directions"):
        FICONNSPSASettings(directions=bad)


def test_unknown_optimizer_is_one_line():
    with pytest.raises(ValueError, match="optimizer = 'rmsprop'; allowed: sgd, adam"):
        FICONNSPSASettings(optimizer="rmsprop")


def test_adam_option_steps_the_same_estimate_with_adam():
    """optimizer = adam: the first step moves every knob by lr (Adam's first step is lr·sign)
    against the sign of the same two-sided estimate the paper's rule uses."""
    dev, knobs, x, y = _setup()
    sgd = FICONNSPSA(TracingOracle(dev, Trace()), FICONNSPSASettings(lr=1.0, loss_pass=False),
                     seed=3, knobs=dict(knobs))
    adam = FICONNSPSA(TracingOracle(dev, Trace()),
                      FICONNSPSASettings(lr=0.01, loss_pass=False, optimizer="adam"), seed=3,
                      knobs=dict(knobs))
    sgd.step(x, y), adam.step(x, y)
    d_sgd = _wrapped(sgd.knobs["phases"].double() - knobs["phases"].double())
    d_adam = _wrapped(adam.knobs["phases"].double() - knobs["phases"].double())
    assert torch.allclose(d_adam.abs(), torch.full_like(d_adam, 0.01), rtol=1e-3)
    assert torch.equal(torch.sign(d_adam), torch.sign(d_sgd))
    assert "Adam on the estimate (option)" in adam.label

"""In-situ backpropagation (the ``adjoint`` capability) against autograd on the ideal twin, and
its degradation with monitor noise against the closed form of hwsim/photonic/adjoint.py."""
import math

import pytest
import torch

from algorithms.optical_readout import Readout
from hwsim.oracle import MissingCapability, TracingOracle
from hwsim.photonic.adjoint import PASSES_PER_SAMPLE, gradient_from_powers
from hwsim.photonic.meshnet import MeshNetwork, MeshNetworkConfig
from hwsim.photonic.network_presets import NETWORK_PRESETS
from hwsim.trace import Trace


def _setup(config, batch=6, seed=0):
    dev = MeshNetwork(config, seed=seed)
    g = torch.Generator().manual_seed(seed)
    knobs = {"phases": torch.rand(config.layers, config.modes ** 2, generator=g,
                                  dtype=torch.float64) * 2 * math.pi}
    x = torch.randn(batch, config.modes, generator=g, dtype=torch.float64)
    y = torch.randint(0, 2, (batch,), generator=g)
    return dev, knobs, x, y


def _twin_grad(dev, knobs, x, y, readout):
    k = knobs["phases"].clone().requires_grad_(True)
    loss = readout.losses(dev.twin_forward({"phases": k}, x).double(), y).mean()
    return torch.autograd.grad(loss, k)[0]


@pytest.mark.parametrize("mesh,modes,layers", [("reck", 4, 3), ("clements", 6, 2), ("reck", 3, 1)])
def test_adjoint_equals_autograd_on_ideal_mesh(mesh, modes, layers):
    cfg = MeshNetworkConfig(modes=modes, layers=layers, mesh=mesh)
    dev, knobs, x, y = _setup(cfg)
    ro = Readout("pairs")
    oracle = TracingOracle(dev, Trace())
    res = oracle.adjoint(dev.program(knobs), x, lambda p: ro.cotangent(p.double(), y))
    exact = _twin_grad(dev, knobs, x, y, ro)
    rel = float((res.per_sample.mean(0) - exact).abs().max() / exact.abs().max())
    assert rel <= 1e-6
    assert res.passes == PASSES_PER_SAMPLE * len(x)


def test_adjoint_passes_traced_and_capability_declared_only_with_monitors():
    trace = Trace()
    dev, knobs, x, y = _setup(NETWORK_PRESETS["pai-4port"]())
    oracle = TracingOracle(dev, trace)
    trace.begin_step()
    oracle.adjoint(oracle.program({"phases": knobs["phases"].float()}), x,
                   lambda p: Readout().cotangent(p, y))
    s = trace.end_step()
    assert s[f"{dev.name}.mvm.events"] == 3 and s[f"{dev.name}.mvm.vectors"] == 3 * len(x)
    # monitor reads are ADC conversions: N² monitors per layer per vector on top of the outputs
    assert s[f"{dev.name}.mvm.adc_conversions"] == 3 * len(x) * 3 * (4 + 16)
    ficonn = TracingOracle(MeshNetwork(NETWORK_PRESETS["ficonn-6x3"]()), Trace())
    assert "adjoint" not in ficonn.capabilities
    with pytest.raises(MissingCapability, match="adjoint"):
        ficonn.adjoint(None, x, None)


def test_gradient_from_powers_is_the_interference_identity():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(50, dtype=torch.complex128, generator=g)
    b = torch.randn(50, dtype=torch.complex128, generator=g)
    est = gradient_from_powers(a.abs() ** 2, b.abs() ** 2, (a - 1j * b.conj()).abs() ** 2)
    assert torch.allclose(est, -(a * b).imag, atol=1e-12)


def test_monitor_noise_degrades_the_estimate_as_the_closed_form_says():
    """One layer, one input repeated B times: the per-sample estimate is unbiased and its variance
    is (K/4)(P_in,F·F + P_in,A·A + P_in,S·S) from the noise-free monitor powers."""
    k = 1e-3
    base = MeshNetworkConfig(modes=4, layers=1, mesh="reck")
    noisy = MeshNetworkConfig(modes=4, layers=1, mesh="reck", monitor_noise=k)
    dev0, knobs, x, y = _setup(base, batch=1, seed=5)
    dev = MeshNetwork(noisy, seed=5)
    reps = 4000
    xb, yb = x.expand(reps, -1), y.expand(reps)
    ro = Readout("pairs")
    cot = lambda p: ro.cotangent(p.double(), yb)
    gen = torch.Generator().manual_seed(11)
    res = dev.adjoint(TracingOracle(dev, Trace()), dev.program(knobs), xb, cot, generator=gen)
    est = res.per_sample[:, 0, :]
    exact = _twin_grad(dev0, knobs, x, y, ro)[0]
    # closed form from the noise-free powers of the three passes (computed here from the maps)
    m = dev0.maps(dev0.program(knobs), None, backward=True)[0]
    xf = x.to(torch.complex128)
    out = xf @ m.out[0]
    dp, _ = ro.cotangent((out.abs() ** 2), y)
    err = 2 * dp.double() * out.abs() * torch.polar(torch.ones(4, dtype=torch.float64), -out.angle())
    xa = err @ m.back_out[0]
    s = xf - 1j * xa.conj()
    pf, pa, ps = [(v @ mm).abs() ** 2 for v, mm in ((xf, m.at_shifters[0]),
                                                   (err, m.back_at_shifters[0]),
                                                   (s, m.at_shifters[0]))]
    inj = [float((v.abs() ** 2).sum()) for v in (xf, err, s)]
    var = k / 4 * (inj[0] * pf + inj[1] * pa + inj[2] * ps)[0]
    emp_var = est.var(0)
    live = var > 1e-6 * var.max()
    ratio = emp_var[live] / var[live]
    assert ratio.min() > 0.85 and ratio.max() < 1.15            # χ² spread of 4000 samples ≈ ±7 %
    z = (est.mean(0) - exact)[live] / torch.sqrt(var[live] / reps)
    assert float(z.abs().max()) < 4.5

"""The chip's layers as devices of their own (Mono-Forward algorithms on the Pai network), the
host's amplitude transform, and the authors' Haar-random initial phases."""
import dataclasses
import math

import pytest
import torch

from algorithms.model import Amplitude
from experiments.reproduce.common import haar_knobs
from hwsim.oracle import KnobSpec
from hwsim.photonic.decompose import haar_unitary
from hwsim.photonic.meshnet import MeshNetwork, MeshNetworkConfig, layer_maps
from hwsim.photonic.network_presets import NETWORK_PRESETS


def _knobs(layers, modes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"phases": torch.rand(layers, modes ** 2, generator=g) * 2 * math.pi}


@pytest.mark.parametrize("config", [
    MeshNetworkConfig(modes=4, layers=3, mesh="reck"),
    # the Pai chip's static errors (shifter loss) plus a static phase error, per-query errors off
    dataclasses.replace(NETWORK_PRESETS["pai-4port"](), io_amp_error=0.0, io_phase_error=0.0,
                        monitor_noise=0.0, phase_error_rad=0.05),
])
def test_layers_chained_through_the_host_amplitude_equal_the_whole_network(config):
    """Layer i queried alone, √P re-injected into layer i+1: the whole chip's query, exactly
    (same fabricated phase errors and losses: the layer is a view of the same chip)."""
    chip = MeshNetwork(config, seed=7)
    knobs = _knobs(config.layers, config.modes)
    x = torch.rand(5, config.modes, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    whole = chip.query(chip.program(knobs), x)[0]
    a = x
    for i in range(config.layers):
        layer = chip.layer_device(i)
        assert layer.config.layers == 1 and "adjoint" not in layer.capabilities
        assert torch.equal(layer._amplitude[0], chip._amplitude[i])
        p = layer.query(layer.program({"phases": knobs["phases"][i:i + 1]}), a)[0]
        a, _ = Amplitude().forward(p.double(), None, (config.modes,))
    torch.testing.assert_close(p, whole, rtol=1e-5, atol=1e-6)


def test_layer_query_is_the_closed_form_power_of_one_mesh():
    """An ideal layer answers |U x|² with U the mesh built from its phases."""
    chip = MeshNetwork(MeshNetworkConfig(modes=4, layers=2, mesh="reck"))
    knobs = _knobs(2, 4, seed=3)
    x = torch.rand(6, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ph = knobs["phases"][1:2].double()
    u_t = layer_maps(chip.ops, torch.polar(torch.ones_like(ph), ph), 4, backward=False).out[0]
    expected = (x.to(torch.complex128) @ u_t).abs() ** 2
    layer = chip.layer_device(1)
    got = layer.query(layer.program({"phases": knobs["phases"][1:2]}), x)[0]
    torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-6)


def test_layer_device_bad_input_is_one_line():
    chip = MeshNetwork(MeshNetworkConfig(modes=4, layers=3))
    with pytest.raises(ValueError, match=r"index = 3; allowed: an integer in \[0, 2\]"):
        chip.layer_device(3)
    ficonn = MeshNetwork(NETWORK_PRESETS["ficonn-6x3"]())
    with pytest.raises(ValueError, match="nonlinearity = 'nofu'; allowed: 'abs-measured'"):
        ficonn.layer_device(0)


def test_amplitude_transform_and_its_closed_form_pullback():
    p = torch.tensor([[0.0, 0.25, 4.0, -1e-3]], dtype=torch.float64)
    t = Amplitude()
    a, ctx = t.forward(p, None, (4,))
    torch.testing.assert_close(a, torch.tensor([[0.0, 0.5, 2.0, 0.0]], dtype=torch.float64))
    dy = torch.ones_like(p)
    dp, none = t.pullback(ctx, dy, (4,))
    assert none is None
    torch.testing.assert_close(dp[0, 1:3], torch.tensor([1.0, 0.25], dtype=torch.float64))
    assert torch.isfinite(dp).all()          # floored where the power vanishes


def test_haar_knobs_program_a_haar_unitary_up_to_output_phases():
    """Each layer's phases realise the drawn Haar unitary with the γ screen at 0 (the authors'
    Tri layer), i.e. U_layer = diag(e^{-iδ}) U_haar: equal moduli, every entry."""
    spec = MeshNetwork(MeshNetworkConfig(modes=4, layers=3, mesh="reck")).knob_spec
    chip = MeshNetwork(MeshNetworkConfig(modes=4, layers=3, mesh="reck"))
    knobs = haar_knobs(spec, "reck", torch.Generator().manual_seed(5))
    assert knobs["phases"].shape == (3, 16) and torch.all(knobs["phases"][:, -4:] == 0)
    g = torch.Generator().manual_seed(5)
    torch.rand(spec["phases"].shape, generator=g)           # initial_knobs' uniform draw first
    for layer in range(3):
        u = haar_unitary(4, g)
        ph = knobs["phases"][layer:layer + 1].double()
        u_t = layer_maps(chip.ops, torch.polar(torch.ones_like(ph), ph), 4, backward=False).out[0]
        torch.testing.assert_close(u_t.T.abs(), u.abs(), rtol=0, atol=1e-5)


def test_haar_knobs_moments_match_the_haar_measure():
    """|U_ij|² of a Haar unitary on N modes is Beta(1, N−1): mean 1/N, E|U_ij|⁴ = 2/(N(N+1))."""
    n, layers = 4, 150
    spec = {"phases": KnobSpec("phases", (layers, n * n), 0.0, 2 * math.pi, "rad", periodic=True)}
    chip = MeshNetwork(MeshNetworkConfig(modes=n, layers=1, mesh="reck"))
    ph = haar_knobs(spec, "reck", torch.Generator().manual_seed(0))["phases"].double()
    u = layer_maps(chip.ops, torch.polar(torch.ones_like(ph), ph), n, backward=False).out
    p = u.abs() ** 2                                           # (layers, n, n)
    assert abs(float(p.mean()) - 1 / n) < 1e-6                # unitary rows: exact
    m4 = float((p ** 2).mean())
    assert abs(m4 - 2 / (n * (n + 1))) < 0.015                # sd of the estimate ≈ 0.004


def test_haar_knobs_theta_follows_the_authors_closed_form_per_mzi():
    """neurophox's ``haar_tri`` initialiser (solgaardlab/neurophox neurophox/initializers.py,
    ``get_haar_theta``) draws each MZI's θ in closed form: its cross power is Beta(α, 1), CDF
    x^α, where α is the MZI's sensitivity index, 1 … N−1 by the mode pair it couples. In this
    mesh's convention (coupler, θ on the upper arm, coupler) the cross power is cos²(θ/2), and on
    the Reck triangle α = upper mode + 1. A decomposed Haar unitary must give the same marginals:
    a Kolmogorov–Smirnov distance per MZI below the 1 % critical value."""
    from hwsim.photonic.topology import build_topology
    n, layers = 4, 2000
    spec = {"phases": KnobSpec("phases", (layers, n * n), 0.0, 2 * math.pi, "rad", periodic=True)}
    theta = haar_knobs(spec, "reck", torch.Generator().manual_seed(1))["phases"][:, :6].double()
    alpha = build_topology("reck", n).upper_mode.double() + 1
    assert sorted(alpha.tolist()) == [1, 1, 1, 2, 2, 3]
    cross = torch.cos(theta / 2) ** 2                          # (layers, 6)
    empirical = torch.arange(1, layers + 1, dtype=torch.float64) / layers
    for i in range(6):
        x = torch.sort(cross[:, i]).values
        ks = float((empirical - x ** alpha[i]).abs().max())
        assert ks < 1.63 / math.sqrt(layers), (i, ks)

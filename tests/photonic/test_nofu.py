"""NOFU transfer against its closed form, alone and at a network layer output."""
import math

import numpy as np
import pytest
import torch

from hwsim.effects.nofu import NOFU, nofu_power_closed_form, nofu_transfer
from hwsim.photonic.meshnet import MeshNetwork, MeshNetworkConfig
from hwsim.photonic.mzi import mzi_transfer
from hwsim.photonic.network_presets import NETWORK_PRESETS


def test_nofu_alone_matches_closed_form_and_the_mzi_bar_port():
    nofu = NOFU(responsivity_a_per_w=0.9, gain_v_per_a=5e3, v_pi_v=3.0)
    kappa = nofu.kappa_rad_per_w
    assert kappa == pytest.approx(math.pi * 0.9 * 5e3 / 3.0)
    g = torch.Generator().manual_seed(0)
    field = torch.randn(200, dtype=torch.complex128, generator=g) * 0.03     # |E|² ~ 1 mW
    beta = torch.rand(200, generator=g, dtype=torch.float64)
    bias = torch.rand(200, generator=g, dtype=torch.float64) * 2 * math.pi
    out = nofu_transfer(field, beta, bias, kappa)
    p_in = field.abs() ** 2
    assert torch.allclose(out.abs() ** 2, nofu_power_closed_form(p_in, beta, bias, kappa), rtol=1e-12)
    dphi = bias + kappa * beta * p_in
    bar = mzi_transfer(dphi, torch.zeros_like(dphi))[..., 0, 0]               # devices.md §1.1
    assert torch.allclose(out, torch.sqrt(1 - beta) * field * bar, atol=1e-15)
    # limits: no tap → a linear MZI at the bias; full tap → no light through
    assert torch.allclose(nofu_transfer(field, torch.zeros_like(beta), bias, kappa).abs() ** 2,
                          p_in * torch.sin(bias / 2) ** 2)
    assert nofu_transfer(field, torch.ones_like(beta), bias, kappa).abs().max() == 0


def test_nofu_closed_form_numpy_and_torch_agree():
    p = np.linspace(0, 2e-3, 11)
    t = nofu_power_closed_form(torch.tensor(p), 0.3, 1.0, 3000.0).numpy()
    assert np.allclose(nofu_power_closed_form(p, 0.3, 1.0, 3000.0), t, rtol=1e-12)


def test_nofu_at_the_layer_output_of_a_network():
    """Two layers whose meshes are in the bar state (θ = π: diagonal, |U x| = |x|): the output
    powers are the NOFU closed form of the input powers, on the device's query path and the twin."""
    nofu = NOFU(responsivity_a_per_w=1.0, gain_v_per_a=2e3, v_pi_v=2.0)
    cfg = MeshNetworkConfig(modes=4, layers=2, mesh="clements", nonlinearity="nofu",
                            monitors=False, unit_power_w=1e-3, nofu=nofu)
    dev = MeshNetwork(cfg)
    m = dev.topology.n_mzis
    phases = torch.zeros(2, 16, dtype=torch.float64)
    phases[:, :m] = math.pi
    g = torch.Generator().manual_seed(2)
    knobs = {"phases": phases, "nofu_beta": torch.rand(1, 4, generator=g, dtype=torch.float64),
             "nofu_bias": torch.rand(1, 4, generator=g, dtype=torch.float64) * 2 * math.pi}
    x = torch.rand(5, 4, generator=g, dtype=torch.float64)
    p_in_w = x ** 2 * cfg.unit_power_w
    expect = nofu_power_closed_form(p_in_w, knobs["nofu_beta"][0], knobs["nofu_bias"][0],
                                    nofu.kappa_rad_per_w) / cfg.unit_power_w
    q = dev.query(dev.program(knobs), x)[0].double()
    assert torch.allclose(q, expect, rtol=1e-5, atol=1e-7)
    assert torch.allclose(dev.twin_forward(knobs, x), expect, rtol=1e-10)


def test_ficonn_preset_has_132_parameters():
    dev = MeshNetwork(NETWORK_PRESETS["ficonn-6x3"]())
    assert sum(ks.numel for ks in dev.knob_spec.values()) == 132

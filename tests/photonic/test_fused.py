"""Fused MZI kernels (small blocks, CPU) against the plain torch path, given the same streams;
and the in-stream truncated normals of the phase noise."""
import dataclasses
import math

import pytest
import torch

from hwsim.effects import rng
from hwsim.effects.detection import Detection
from hwsim.effects.noise import DetectorNoise, PhaseNoise
from hwsim.effects.quantize import InputDAC, OutputADC
from hwsim.photonic.device import MZIConfig, MZIMeshLayer
from hwsim.presets import device_config

CASES = {
    "default": lambda: device_config("mzi-default"),
    "ficonn (intensity)": lambda: device_config("mzi-ficonn"),
    "ideal": lambda: device_config("mzi-ideal"),
    "detection + floor": lambda: MZIConfig(block=4, effects=(
        PhaseNoise(0.01), Detection(laser_power_w=1e-4), DetectorNoise(0.02), InputDAC(6), OutputADC(6, 2.0))),
    "intensity + floor": lambda: MZIConfig(block=4, effects=(
        Detection(mode="intensity", laser_power_w=1e-4, lo_fraction=0.0), DetectorNoise(0.02))),
    "floor only, reck": lambda: MZIConfig(block=6, mesh="reck", effects=(DetectorNoise(0.05),)),
    # homodyne + ADC without a floor (the readout's fast path), with a range that clips often
    "homodyne, clipping adc": lambda: MZIConfig(block=4, effects=(
        Detection(laser_power_w=1e-4), OutputADC(4, 0.3))),
}


def _setup(cfg, n_in=20, n_out=12, P=3, B=5, per_setting_x=False, seed=0):
    dev = MZIMeshLayer(n_in, n_out, cfg, seed=seed)
    g = torch.Generator().manual_seed(seed)
    knobs = dev.knobs_from_weight(torch.randn(n_out, n_in, generator=g) / n_in ** 0.5)
    knobs = {k: v.unsqueeze(0).repeat(P, *[1] * v.dim()) for k, v in knobs.items()}
    knobs["mesh_phases"] = knobs["mesh_phases"] + 0.05 * torch.randn(knobs["mesh_phases"].shape, generator=g)
    x = torch.randn((P, B, n_in) if per_setting_x else (B, n_in), generator=g)
    return dev, knobs, x


def _both(dev, knobs, x, time_s=None):
    out = {}
    for fused in (True, False):
        dev.fused = fused
        prog = dev.program(knobs, torch.Generator().manual_seed(1))
        out[fused] = dev.query(prog, x, torch.Generator().manual_seed(2), time_s=time_s)
    return out[True], out[False]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("per_setting_x", [False, True])
def test_fused_readout_equals_the_plain_torch_path(case, per_setting_x):
    cfg = CASES[case]()
    no_adc = dataclasses.replace(cfg, effects=tuple(e for e in cfg.effects if not isinstance(e, OutputADC)))
    a, b = _both(*_setup(no_adc, per_setting_x=per_setting_x))
    assert a.shape == b.shape and a.dtype == b.dtype == torch.float32
    torch.testing.assert_close(a, b, rtol=2e-5, atol=2e-5)
    # with the ADC: float rounding may move a value across a code boundary, rarely
    a, b = _both(*_setup(cfg, per_setting_x=per_setting_x))
    assert float(((a - b).abs() > 1e-4).float().mean()) < 0.02


def test_fused_equals_plain_at_fashion_scale_and_after_drift():
    cfg = device_config("mzi-default")
    dev, knobs, x = _setup(cfg, n_in=64, n_out=24, P=4, B=16)
    a, b = _both(dev, knobs, x, time_s=30.0)
    assert float(((a - b).abs() > 1e-4).float().mean()) < 0.01
    assert float((a - b).abs().median()) < 1e-6


@pytest.mark.parametrize("case", ["default", "ficonn (intensity)", "floor only, reck"])
def test_fused_block_build_equals_the_library_build(case):
    dev, knobs, _ = _setup(CASES[case]())
    prog = dev.program(knobs)
    mesh, sig = prog.state["mesh"], prog.state["sigma"]
    re, im = dev._fused_blocks(mesh, sig)
    ref = dev._complex_blocks(mesh, sig, **dev._array_terms())
    torch.testing.assert_close(re.transpose(-1, -2), ref.real.float(), rtol=0, atol=2e-6)
    if dev._detection is not None:        # power detection (homodyne and intensity) reads |ŷ|²
        torch.testing.assert_close(im.transpose(-1, -2), ref.imag.float(), rtol=0, atol=2e-6)
    else:
        assert im is None


def test_large_blocks_keep_the_library_path():
    dev = MZIMeshLayer(32, 32, MZIConfig(block=32, effects=(DetectorNoise(0.01),)))
    prog = dev.program(dev.knobs_from_weight(torch.eye(32)))
    assert not isinstance(dev._blocks(prog.state["mesh"], prog.state["sigma"]), tuple)


def test_detection_noise_law_is_the_closed_form_of_detect():
    for det in (Detection(), Detection(mode="intensity", lo_fraction=0.0, laser_power_w=1e-3)):
        c0, c1 = det.noise_law(64)
        y = torch.linspace(-1.5, 1.5, 31, dtype=torch.float64)
        one = torch.ones_like(y)
        sd = det.detect(y, one, 64) - det.detect(y, 0 * one, 64)
        s = y * y
        torch.testing.assert_close(sd * sd, c0 + c1 * s, rtol=1e-9, atol=0)


def test_truncated_normals_by_rejection_match_the_truncated_gaussian():
    b = 2.0
    states = rng.row_states(2, torch.Generator().manual_seed(4))
    t = rng.truncated_from_states(states, 200_000, b)
    pdf = math.exp(-b * b / 2) / math.sqrt(2 * math.pi)
    expected = math.sqrt(1 - 2 * b * pdf / math.erf(b / math.sqrt(2)))
    assert float(t.abs().max()) <= b
    assert abs(float(t.std()) / expected - 1) < 0.01
    assert abs(float(t.mean())) < 0.01


def test_streams_continue_across_draws_and_rows_are_independent():
    states = rng.row_states(3, torch.Generator().manual_seed(5))
    first = rng.truncated_from_states(states.copy(), 10, 2.0)
    one = rng.row_states(3, torch.Generator().manual_seed(5))
    a = rng.truncated_from_states(one, 10, 2.0)
    b = rng.normal_from_states(one, 7)
    torch.testing.assert_close(a, first)
    # row r is its own stream: drawing rows one at a time gives the same numbers
    solo = rng.row_states(3, torch.Generator().manual_seed(5))[1:2].copy()
    torch.testing.assert_close(rng.truncated_from_states(solo, 10, 2.0), a[1:2])
    torch.testing.assert_close(rng.normal_from_states(solo, 7), b[1:2])


@pytest.mark.parametrize("fused", [True, False])
def test_phase_noise_reaches_the_layer_with_its_sigma(fused):
    """The readout equals x @ Wᵀ of the blocks rebuilt by hand from the programmed phases plus
    σ·t, t the truncated normals of the same stream (so σ, the law and the stream are pinned)."""
    sigma = 0.05
    dev = MZIMeshLayer(16, 8, MZIConfig(block=8, effects=(PhaseNoise(sigma_rad=sigma),)))
    dev.fused = fused
    g = torch.Generator().manual_seed(0)
    knobs = dev.knobs_from_weight(torch.randn(8, 16, generator=g) / 4)
    x = torch.randn(6, 16, generator=g)
    prog = dev.program(knobs)
    y = dev.query(prog, x, torch.Generator().manual_seed(3))[0]
    t = rng.truncated_from_states(rng.row_states(1, torch.Generator().manual_seed(3)), dev.layout.n_shifters, 2.0)
    mesh, sig = prog.state["mesh"], prog.state["sigma"]
    n_mesh = mesh[0].numel()
    mesh = mesh + sigma * t[:, :n_mesh].reshape(mesh.shape)
    sig = sig + sigma * t[:, n_mesh:].reshape(sig.shape)
    blocks = dev._complex_blocks(mesh, sig).real[0] * knobs["gain"].reshape(dev.p, dev.q, 1, 1)
    ref = x @ dev._assemble(blocks).float().T
    torch.testing.assert_close(y, ref, rtol=1e-4, atol=1e-4)
    quiet = x @ dev._assemble(dev._complex_blocks(prog.state["mesh"], prog.state["sigma"]).real[0]
                              * knobs["gain"].reshape(dev.p, dev.q, 1, 1)).float().T
    assert float((y - quiet).abs().max()) > 1e-2             # the noise is visible at this σ

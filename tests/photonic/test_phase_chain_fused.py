"""The one-pass phase chain (hwsim.photonic.phase_chain) equals the plain effect-by-effect torch
chain on every MZI preset and on chains with the correlated variants: bit for bit where the CPU's
float32 matrix product (the crosstalk sum) rounds as the fused pass's ordered sum does, and
otherwise within 4 ulps except where a 1-ulp difference moved a DAC code across its rounding
boundary — at most one code (and its crosstalk into neighbours), in at most 0.1 % of phases."""
import math

import pytest
import torch

from hwsim.effects.correlated import CorrelatedGamma, CorrelatedPhaseBias
from hwsim.effects.crosstalk import ThermalCrosstalk
from hwsim.effects.noise import PhaseBias, PhaseNoise
from hwsim.effects.phase_shifter import GammaSpread, ThermoOpticDAC
from hwsim.effects.quantize import PhaseDAC
from hwsim.photonic.device import MZIConfig, MZIMeshLayer
from hwsim.photonic.phase_chain import fusable_chain
from hwsim.presets import DEVICE_PRESETS, device_config, device_kind

MZI_PRESETS = sorted(p for p in DEVICE_PRESETS if device_kind(p) == "mzi")

CHAINS = {
    "correlated": lambda: MZIConfig(block=6, effects=(
        ThermoOpticDAC(bits=10, v_pi_v=4.36, v_max_v=10.8), CorrelatedGamma(sigma_die=0.01, sigma_within=0.03),
        ThermalCrosstalk(0.02), CorrelatedPhaseBias(sigma_within=0.5))),
    "dac only, reck": lambda: MZIConfig(block=5, mesh="reck", effects=(ThermoOpticDAC(bits=6, v_max_v=6.2),)),
    "crosstalk + bias": lambda: MZIConfig(block=4, effects=(ThermalCrosstalk(0.01), PhaseBias(0.3))),
}


def _knobs(dev, P, shared, seed=0):
    """Knobs with mesh phases far outside [0, 2π) (negative, large, exact multiples of 2π, ±0)
    and Σ phases on [0, π] with both ends, P settings or one shared setting."""
    g = torch.Generator().manual_seed(seed)
    lead = 1 if shared else P
    mesh = 40.0 * torch.randn(lead, *dev.layout.mesh_shape, generator=g)
    flat = mesh.view(-1)
    flat[:7] = torch.tensor([0.0, -0.0, 2 * math.pi, -2 * math.pi, 4 * math.pi, 1e-30, -1e-30])
    sig = math.pi * torch.rand(lead, *dev.layout.sigma_shape, generator=g)
    sig.view(-1)[:2] = torch.tensor([0.0, math.pi])
    gain = torch.rand(lead, dev.p, dev.q, generator=g) + 0.5
    return {"mesh_phases": mesh, "sigma_phases": sig, "gain": gain}


def _both(dev, knobs):
    out = {}
    for fused in (True, False):
        dev.fused = fused
        st = dev.program(knobs).state
        out[fused] = (st["mesh"], st["sigma"], st["gain"])
    return out[True], out[False]


def _dac_step(dev) -> float:
    """The largest phase change of one DAC code (rad): at full scale,
    γ(V_max² − (V_max − ΔV)²), the DAC's own γ and code step ΔV; 0 without a DAC."""
    dacs = [e for e in dev.config.effects if isinstance(e, ThermoOpticDAC)]
    if not dacs:
        return 0.0
    e = dacs[0]
    return e.gamma_rad_per_v2 * (e.v_max_v ** 2 - (e.v_max_v - e.step_v) ** 2)


def _assert_bits_equal(a, b, dev=None):
    """Bit for bit; where the CPU's BLAS rounds the crosstalk product differently (another
    vector width, FMA contraction), within 4 ulps, except DAC codes that crossed their rounding
    boundary: each at most one code's phase (γ spread and neighbours' crosstalk included, ×1.1),
    in at most 0.1 % of the phases."""
    assert a.shape == b.shape and a.dtype == b.dtype == torch.float32
    if torch.equal(a.view(torch.int32), b.view(torch.int32)):
        return
    diff = (a - b).abs()
    msg = f"{int((a != b).sum())} of {a.numel()} differ, max |Δ| {float(diff.max()):.3g}"
    ulps = 4 * (torch.nextafter(b.abs(), torch.tensor(math.inf)) - b.abs())
    beyond = diff > ulps
    step = _dac_step(dev) if dev is not None else 0.0
    assert not beyond.any() or (step > 0 and float(beyond.float().mean()) <= 1e-3
                                and float(diff.max()) <= 1.1 * step), msg


@pytest.mark.parametrize("preset", MZI_PRESETS)
@pytest.mark.parametrize("shared", [False, True])
def test_fused_chain_equals_the_torch_chain_bit_for_bit_on_every_preset(preset, shared):
    dev = MZIMeshLayer(20, 12, device_config(preset), seed=3)
    P = 4
    knobs = _knobs(dev, P, shared)
    if shared:                 # one setting programmed P times: the knobs broadcast
        knobs = {k: v.expand(P, *v.shape[1:]) for k, v in knobs.items()}
    (fm, fs, fg), (pm, ps, pg) = _both(dev, knobs)
    _assert_bits_equal(fm, pm, dev)
    _assert_bits_equal(fs, ps, dev)
    assert torch.equal(fg, pg)


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_fused_chain_equals_the_torch_chain_on_other_chains(name):
    dev = MZIMeshLayer(17, 9, CHAINS[name](), seed=5)
    assert dev._fused_chain
    (fm, fs, _), (pm, ps, _) = _both(dev, _knobs(dev, 3, False, seed=1))
    _assert_bits_equal(fm, pm, dev)
    _assert_bits_equal(fs, ps, dev)


def test_fused_chain_at_fashion_scale_and_the_query_after_it():
    # the Fashion-MNIST layer 784→64 of mzi-default (8×98 blocks): same applied phases, hence
    # the same blocks and the same readout (same streams) as the plain chain
    dev = MZIMeshLayer(784, 64, device_config("mzi-default"), seed=1)
    knobs = _knobs(dev, 2, False, seed=2)
    (fm, fs, _), (pm, ps, _) = _both(dev, knobs)
    _assert_bits_equal(fm, pm, dev)
    _assert_bits_equal(fs, ps, dev)
    same = torch.equal(fm, pm) and torch.equal(fs, ps)
    x = torch.randn(4, 784, generator=torch.Generator().manual_seed(3))
    ys = []
    for fuse_chain in (True, False):           # same build and readout kernels for both
        dev.fused, dev.fuse_chain = True, fuse_chain
        ys.append(dev.query(dev.program(knobs), x, torch.Generator().manual_seed(4)))
    if same:                                   # the same phases: the same readout, bit for bit
        assert torch.equal(ys[0], ys[1])
    else:   # a few DAC codes apart: a few outputs move, by up to an output-ADC code (8 bits)
        diff = (ys[0] - ys[1]).abs()
        assert float((diff > 0).float().mean()) <= 0.01
        assert float(diff.max()) <= 0.01 * float(ys[1].abs().max())


def test_fusable_chain_rules():
    assert fusable_chain([ThermoOpticDAC(), GammaSpread(), ThermalCrosstalk(), PhaseBias()])
    assert fusable_chain([GammaSpread(), PhaseBias()])
    assert not fusable_chain([])
    assert not fusable_chain([PhaseDAC()])                       # phase-domain DAC: torch chain
    assert not fusable_chain([GammaSpread(), CorrelatedGamma()])  # two γ effects: torch chain
    assert not fusable_chain([PhaseBias(), GammaSpread()])        # out of physical order
    dev = MZIMeshLayer(8, 8, MZIConfig(block=4, effects=(PhaseDAC(6), PhaseNoise(0.01))))
    assert not dev._fused_chain                                  # falls back, still works
    assert dev.program(_knobs(dev, 2, False)).state["mesh"].shape == (2, *dev.layout.mesh_shape)


def test_fused_chain_rejects_non_float32_input():
    from hwsim.photonic.phase_chain import fused_chain
    dev = MZIMeshLayer(8, 8, device_config("mzi-default"))
    k = _knobs(dev, 1, False)
    with pytest.raises(ValueError, match="float32 CPU tensor"):
        fused_chain(dev._chain, k["mesh_phases"].double(), k["sigma_phases"], 1, dev.layout, dev._fab)


def test_fused_chain_wraps_huge_phases_like_torch():
    # beyond 2^24·2π the float64 shortcut of fmod is not exact: those rows take np.fmod
    dev = MZIMeshLayer(8, 8, device_config("mzi-default"), seed=2)
    knobs = _knobs(dev, 2, False)
    knobs["mesh_phases"].view(-1)[10:14] = torch.tensor([3.0e8, -7.7e9, 1.0e12, 123456789.0])
    (fm, fs, _), (pm, ps, _) = _both(dev, knobs)
    _assert_bits_equal(fm, pm)
    _assert_bits_equal(fs, ps)


def test_zero_coupling_crosstalk_still_adds_its_zero_sum():
    # ThermalCrosstalk(0): the plain path still adds A·(0·φ) = +0.0, which turns −0.0 into +0.0
    dev = MZIMeshLayer(8, 8, MZIConfig(block=4, effects=(ThermalCrosstalk(0.0),)), seed=1)
    knobs = _knobs(dev, 2, False)
    knobs["mesh_phases"].view(-1)[:3] = -0.0
    (fm, fs, _), (pm, ps, _) = _both(dev, knobs)
    _assert_bits_equal(fm, pm)
    _assert_bits_equal(fs, ps)

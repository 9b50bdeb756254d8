"""One-pass crossbar programming (levels, programming noise, differential pair, layout) against
the staged torch path, given the same streams; the noise law it uses; writes counted alike."""
import pytest
import torch

from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.effects.noise import ProgrammingNoise, ReadNoise
from hwsim.effects.quantize import ConductanceLevels, InputDAC, OutputADC
from hwsim.presets import device_config

PROGRAM_CASES = {
    "levels+noise": (ConductanceLevels(bits=6), ProgrammingNoise()),
    "levels": (ConductanceLevels(bits=4),),
    "noise (constant law)": (ProgrammingNoise(c0_us=1.0, c1_us=0.0, c2_us=0.0),),
    "none": (),
}


def _knobs(dev, P, seed=0):
    gen = torch.Generator().manual_seed(seed)
    k = dev.knobs_from_weight(torch.randn(dev.n_out, dev.n_in, generator=gen) / 4)
    k = {n: v.unsqueeze(0).repeat(P, *([1] * v.dim())) for n, v in k.items()}
    k["conductances"] = (k["conductances"] + torch.rand(k["conductances"].shape, generator=gen)).clamp(0, 25)
    return k


@pytest.mark.parametrize("case", sorted(PROGRAM_CASES))
def test_one_pass_program_equals_the_staged_path(case):
    cfg = CrossbarConfig(tile_rows=8, tile_cols=4, effects=PROGRAM_CASES[case] + (ReadNoise(0.02),))
    knobs = _knobs(CrossbarLayer(20, 10, cfg), 4)
    progs, writes = [], []
    for fused in (True, False):
        dev = CrossbarLayer(20, 10, cfg, name="L")
        dev.fused = fused
        dev.program({n: v[:1] for n, v in knobs.items()})           # a previous setting
        progs.append(dev.program(knobs, torch.Generator().manual_seed(3)))
        writes.append(dev.write_counts())
    torch.testing.assert_close(progs[0].state["w_t"], progs[1].state["w_t"], rtol=0, atol=2e-6)
    assert torch.equal(writes[0], writes[1])
    assert not torch.equal(knobs["conductances"], progs[0].state["w_t"])   # sanity: not a view


def test_one_pass_program_takes_a_broadcast_setting_and_leaves_the_knobs_alone():
    dev = CrossbarLayer(30, 12, device_config("crossbar-default"))
    one = dev.knobs_from_weight(torch.randn(12, 30, generator=torch.Generator().manual_seed(1)))
    before = {n: v.clone() for n, v in one.items()}
    wide = {n: v.unsqueeze(0).expand(5, *v.shape) for n, v in one.items()}
    a = dev.program(wide, torch.Generator().manual_seed(2)).state["w_t"]
    b = dev.program({n: v.contiguous() for n, v in wide.items()}, torch.Generator().manual_seed(2)).state["w_t"]
    assert torch.equal(a, b) and a.shape == (5, 30, 12)
    assert not torch.equal(a[0], a[1])                                   # fresh noise per setting
    assert all(torch.equal(before[n], one[n]) for n in one)


def test_noise_coefficients_are_the_law_of_sigma_us():
    e = ProgrammingNoise()
    a2, a1, a0 = e.coefficients_us(25.0)
    g = torch.linspace(0, 25, 101, dtype=torch.float64)
    torch.testing.assert_close(e.sigma_us(g.clone(), 25.0), (a2 * g * g + a1 * g + a0).clamp(min=0))


def test_default_crossbar_query_is_the_same_with_either_program_path():
    cfg = device_config("crossbar-default")
    knobs = _knobs(CrossbarLayer(40, 16, cfg), 3)
    x = torch.randn(6, 40, generator=torch.Generator().manual_seed(5))
    outs = []
    for fused in (True, False):
        dev = CrossbarLayer(40, 16, cfg)
        dev.fused = fused
        prog = dev.program(knobs, torch.Generator().manual_seed(3))
        outs.append(dev.query(prog, x, torch.Generator().manual_seed(4)))
    assert float(((outs[0] - outs[1]).abs() > 1e-4).float().mean()) < 0.01

"""One-pass crossbar programming (levels, programming noise, differential pair, layout) against
the staged torch path, given the same streams; the noise law it uses; writes counted alike."""
import numba
import numpy as np
import pytest
import torch

from hwsim.effects.ziggurat import sample, seed_state

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


@numba.njit(parallel=True)
def column_by_column(g, levels, g_min, g_max, noisy, c2, c1, c0, seeds, x_tab, f_tab,
                     w_t):  # pragma: no cover - jitted
    """``program_weights`` as it was before the row-wise rewrite: each element written straight
    into w_t[p, i, o], column by column (the reference the rewrite must equal bit for bit; the
    "before" of bench/speed.py's kernel figures)."""
    P, n_in, n_out = w_t.shape
    span = g_max - g_min
    dg = span / (levels - 1) if levels > 1 else 1.0
    for p in numba.prange(P):
        s0, s1, s2, s3 = seed_state(seeds[p])
        q = np.int64(0) if g.shape[0] == 1 else np.int64(p)
        z = np.zeros(n_in, np.float32)
        for side in range(2):
            for o in range(n_out):
                if noisy:
                    for i in range(n_in):
                        z[i], s0, s1, s2, s3 = sample(s0, s1, s2, s3, x_tab, f_tab)
                for i in range(n_in):
                    v = g[q, side, o, i]
                    if levels > 1:
                        v = np.float32(min(max(np.rint((v - g_min) / dg), 0.0), levels - 1) * dg + g_min)
                    if noisy:
                        sd = max((np.float32(c2) * v + np.float32(c1)) * v + np.float32(c0), np.float32(0.0))
                        v = max(v + z[i] * sd, np.float32(0.0))
                    if side == 0:
                        w_t[p, i, o] = v
                    else:
                        w_t[p, i, o] = (w_t[p, i, o] - v) / span


@pytest.mark.parametrize("levels,noisy,shared", [(256, True, False), (16, False, False),
                                                 (0, True, True), (0, False, False)])
def test_row_wise_kernel_is_bit_for_bit_the_column_wise_one(levels, noisy, shared):
    from hwsim.crossbar.kernels import program_weights
    from hwsim.effects import ziggurat
    rng = np.random.default_rng(1)
    P, n_out, n_in = 3, 37, 45                      # not multiples of the 16 × 16 tiles
    g = rng.uniform(0, 25, (1 if shared else P, 2, n_out, n_in)).astype(np.float32)
    seeds = np.arange(P, dtype=np.uint64) + np.uint64(7)
    args = (g, levels, 0.0, 25.0, noisy, -0.0469, 0.0786, 0.2635, seeds, *ziggurat.TABLES)
    a, b = np.empty((P, n_in, n_out), np.float32), np.empty((P, n_in, n_out), np.float32)
    program_weights(*args, a)
    column_by_column(*args, b)
    assert np.array_equal(a.view(np.uint32), b.view(np.uint32))

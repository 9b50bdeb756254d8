"""Closed-form table: every law of the physics audit, measured through the device (at the layer
output, on the fused numba path and on the torch path where a layer has both) next to its closed
form. The same checks are asserted in tests/hwsim and tests/photonic; this prints the figures.

Run: python bench/closed_forms.py   (one thread, about a minute)
"""
from __future__ import annotations

import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)

from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer  # noqa: E402
from hwsim.crossbar.presets import CROSSBAR_PRESETS  # noqa: E402
from hwsim.crossbar.kind import build_crossbar  # noqa: E402
from hwsim.effects.adc import ADCNonideality  # noqa: E402
from hwsim.effects.bit_slicing import BitSlicing  # noqa: E402
from hwsim.effects.correlated import CorrelatedConductance  # noqa: E402
from hwsim.effects.crosstalk import ThermalCrosstalk  # noqa: E402
from hwsim.effects.detection import Detection  # noqa: E402
from hwsim.effects.drift import Drift, OneOverFNoise  # noqa: E402
from hwsim.effects.ir_drop import IRDrop, first_order_conductances, ladder_conductances  # noqa: E402
from hwsim.effects.measured import MeasuredPulseResponse  # noqa: E402
from hwsim.effects.noise import ProgrammingNoise  # noqa: E402
from hwsim.effects.phase_shifter import ThermoOpticDAC  # noqa: E402
from hwsim.effects.pulsed import PulsedUpdate  # noqa: E402
from hwsim.effects.quantize import ConductanceLevels, OutputADC  # noqa: E402
from hwsim.effects.stuck import Endurance, StuckCells  # noqa: E402
from hwsim.photonic.device import MZIConfig, MZIMeshLayer  # noqa: E402
from hwsim.photonic.presets import PHOTONIC_PRESETS  # noqa: E402

ROWS = []


def row(effect, quantity, expected, measured_fused, measured_torch=None):
    ROWS.append((effect, quantity, expected, measured_fused, measured_torch))


def xbar(effects, n_in, n_out, fused, seed=3, **cfg):
    d = build_crossbar(n_in, n_out, CrossbarConfig(effects=tuple(effects), **cfg), seed=seed)
    d.fused = fused
    return d


def both(fn):
    return fn(True), fn(False)


def one_over_f():
    def m(fused, t0=20.0, t=0.0):
        d = xbar((OneOverFNoise(t0_s=t0),), 1, 4000, fused, tile_cols=8192)
        p = d.program(d.knobs_from_weight(torch.ones(4000, 1)))
        return float(d.query(p, torch.ones(1, 1), torch.Generator().manual_seed(5), time_s=t)[0, 0].std())
    exp0 = 0.0088 * math.sqrt(math.log((20 + 250e-9) / 500e-9))
    row("OneOverFNoise (t0 = 20 s)", "σ/g at t = 0, ĝ = 1", exp0, *both(m))
    row("OneOverFNoise (t0 = 0)", "σ/g at t = 100 ns (clamp)", 0.0, *both(lambda f: m(f, 0.0, 100e-9)))


def drift():
    def m(fused):
        d = xbar((Drift(nu_mean=0.05, compensation="none"),), 8, 1, fused)
        p = d.program(d.knobs_from_weight(torch.ones(1, 8)))
        return float(d.query(p, torch.ones(1, 8), time_s=3600.0)[0, 0, 0]) / 8
    row("Drift (t0 = 20 s, ν = 0.05)", "g(1 h)/g(0)", ((3600 + 20) / 20) ** -0.05, *both(m))


def ir_drop():
    cfg = CROSSBAR_PRESETS["crossbar-pcm"]()
    ir = cfg.effect(IRDrop)
    g = torch.full((1, 512), 25.0, dtype=torch.float64)
    exact = float(ladder_conductances(g, ir.r_col_ohm).sum()) / (25 * 512)

    def m(fused):
        d = xbar((ir,), 512, 1, fused, tile_rows=512)
        return float(d.query(d.program(d.knobs_from_weight(torch.ones(1, 512))), torch.ones(1, 512))[0, 0, 0]) / 512
    row("IRDrop crossbar-pcm (0.07 Ω, 25 µS)", "all-on 512-row column I/I_ideal (ladder)", exact, *both(m))
    a = 0.1
    two = ladder_conductances(torch.tensor([[100.0, 100.0]], dtype=torch.float64), 1000.0)[0] / 100
    row("IRDrop ladder, N = 2, a = rG = 0.1", "G_eff,1/G", (a + 1) / (a * a + 3 * a + 1), float(two[1]))
    fo = float(first_order_conductances(torch.full((1, 512), 25.0), 0.0, 0.35).eq(0).sum())
    row("IRDrop first order, 0.35 Ω · 25 µS · 512²", "cells clamped to 0 (why it is refused)", 185, fo)
    row("IRDrop validity", "r·g·N² of crossbar-pcm tile", 0.07 * 25e-6 * 512 ** 2, ir.severity(25.0, 512, 1))


def detection():
    for mode, lo in (("homodyne", 0.5), ("intensity", 0.0)):
        det = Detection(mode=mode, laser_power_w=1.0, lo_fraction=lo, modulator_power_w=0.1)
        c0, c1 = det.noise_law(2)
        for quad in (False, True):
            def m(fused):
                d = MZIMeshLayer(2, 2, MZIConfig(block=2, effects=(det,)), seed=0)
                d.fused = fused
                k = d.knobs_from_weight(torch.eye(2))
                if quad:
                    k["mesh_phases"][0, 0, 1, -2:] += math.pi / 2
                x = torch.zeros(20000, 2)
                x[:, 0] = 1
                y = d.query(d.program(k), x, torch.Generator().manual_seed(3))[0, :, 0].double()
                return float(y.var())
            row(f"Detection {mode}", f"output variance, field {'in quadrature' if quad else 'in phase'}",
                c0 + c1, *both(m))


def dac_and_crosstalk():
    dac = next(e for e in PHOTONIC_PRESETS["mzi-default"]().effects if isinstance(e, ThermoOpticDAC))
    phi = torch.linspace(0, 2 * math.pi, 200_001)[:-1]
    row("ThermoOpticDAC mzi-default", "codes used over [0, 2π)", 256,
        float(torch.unique(torch.round(dac.voltage(phi) / dac.step_v)).numel()))
    row("ThermoOpticDAC mzi-default", "step (V)", math.sqrt(2) * 4.36 / 255, dac.step_v)
    c = 0.02

    def m(fused, which):
        d = MZIMeshLayer(4, 4, MZIConfig(block=4, effects=(ThermalCrosstalk(coupling=c),)), seed=0)
        d.fused = fused
        mesh, sig = torch.zeros(d.layout.mesh_shape), torch.zeros(d.layout.sigma_shape)
        if which == "sigma":
            sig[0, 0, 1] = 1.0
        else:
            mesh[0, 0, 1, 2 * d.n_mzi + 1] = 1.0
        p = d.program({"mesh_phases": mesh, "sigma_phases": sig, "gain": torch.ones(1, 1)})
        return float(p.state["sigma"][0, 0, 0, 0]) if which == "sigma" else float(p.state["mesh"][0, 0, 0, 1, 2 * d.n_mzi])
    row("ThermalCrosstalk", "Σ_0 phase with Σ_1 = 1 rad", c, *both(lambda f: m(f, "sigma")))
    row("ThermalCrosstalk", "δ_0 phase with δ_1 = 1 rad", c, *both(lambda f: m(f, "screen")))


def wear_and_pulses():
    def stuck(fused):
        d = xbar((ConductanceLevels(3), ProgrammingNoise(2.0, 0.0, 0.0), StuckCells(p_set=1.0)), 6, 5, fused)
        p = d.program(d.knobs_from_weight(torch.randn(5, 6, generator=torch.Generator().manual_seed(0))),
                      torch.Generator().manual_seed(1))
        return float(d.query(p, torch.eye(6))[0].abs().max())
    row("StuckCells after noise + levels", "max |w| (all stuck at SET)", 0.0, *both(stuck))

    def boundary(fused, writes):
        d = xbar((Endurance(3.0, 0.0),), 2, 1, fused)
        for k in range(writes):
            w = torch.tensor([[(-1.0) ** k, 2 * (-1.0) ** k]])
            y = d.query(d.program(d.knobs_from_weight(w)), torch.eye(2))[0].T
        return float(y.abs().max())
    row("Endurance E = 3", "max |w| after 3 writes", 2.0, *both(lambda f: boundary(f, 3)))
    row("Endurance E = 3", "max |w| after 4 writes", 0.0, *both(lambda f: boundary(f, 4)))

    def clamp(fused):
        d = xbar((PulsedUpdate(dg_min_us=7.0, soft_bounds=False),), 2, 1, fused, g_min_us=2.0, g_max_us=25.0)
        p = d.program({"conductances": torch.tensor([[[20.0, 3.0]], [[2.0, 2.0]]]), "tile_scale": torch.ones(1, 1)})
        return float(d.pulse(p, torch.tensor([[[3, -4]], [[0, 0]]])).state["g"][0, 0, 0, 0])
    row("PulsedUpdate clamp", "g after 3 × 7 µS up from 20 µS", 25.0, *both(clamp))
    d = xbar((Endurance(1e6, 0.5), Drift(nu_std=0.01)), 12, 10, True, seed=7)
    corr = float(torch.corrcoef(torch.stack([d._cell_state[Endurance].log().flatten(),
                                             d._cell_state[Drift].double().flatten()]))[0, 1])
    row("fabrication keyed streams", "corr(ln E_i, ξ_drift,i)", 0.0, corr)


def bit_slicing():
    sigma, w = 0.25, torch.rand(24, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    w[0, 0] = 1.0
    for fused in (True, False):
        var = {}
        for n in (1, 4):
            d = xbar((BitSlicing(n, 2), ProgrammingNoise(sigma, 0.0, 0.0)), 32, 24, fused, g_min_us=5.0, g_max_us=25.0)
            k = d.knobs_from_weight(w)
            clean = d.digital_twin(k)
            k = {a: v.expand(8, *v.shape) for a, v in k.items()}
            got = d.query(d.program(k, torch.Generator().manual_seed(2)), torch.eye(32)).transpose(-1, -2)
            var[n] = float((got - clean).double().pow(2).mean())
        if fused:
            vf = var[4] / var[1]
        else:
            vt = var[4] / var[1]
    row("BitSlicing 4 × 2 bit", "programming-noise variance ratio Σc_i²", BitSlicing(4, 2).noise_variance_factor(), vf, vt)

    def q(fused):
        d = xbar((BitSlicing(3, 2), ConductanceLevels(2)), 32, 24, fused)
        got = d.query(d.program(d.knobs_from_weight(w)), torch.eye(32))[0].T
        return float((got - w).double().pow(2).mean().sqrt())
    row("BitSlicing 3 × 2 bit, 4 levels/cell", "RMS weight error (step/√12)", 1 / 63 / math.sqrt(12), *both(q))


def correlated():
    e = CorrelatedConductance(sigma_die=0.03, sigma_within=0.04, correlation_length=3.0)
    draws = torch.stack([e.fabricate((2, 6, 12), torch.Generator().manual_seed(s)) for s in range(1500)]).double()
    for dist in (0, 1, 3, 6):
        cov = float(torch.cov(torch.stack([draws[:, 0, 2, 3], draws[:, 0, 2, 3 + dist]]))[0, 1])
        row("CorrelatedConductance σ 3 %/4 %, ℓ = 3", f"Cov at distance {dist} cells", e.covariance(dist), cov)


def adc():
    a = OutputADC(bits=6, full_scale=4.0)
    e = ADCNonideality(offset_lsb=0.5, inl_bow_lsb=1.5)
    row("ADCNonideality bow 1.5 LSB", "reading at y = 0 (LSB)", 1.5,
        float(e.convert(torch.zeros(1), a, {"offset": torch.zeros(()), "gain": torch.zeros(())})) / a.step)
    row("ADCNonideality bow 1.5 LSB", "reading at full scale (LSB)", 31.0,
        float(e.convert(torch.full((1,), 4.0), a, {"offset": torch.zeros(()), "gain": torch.zeros(())})) / a.step)


def measured():
    A, P = 32.0, 64
    b = 25.0 / (1 - math.exp(-P / A))

    def m(fused):
        e = MeasuredPulseResponse("examples/devices/pcm-like-pulse-curve.toml", device_to_device_rel=0.0,
                                  cycle_to_cycle_rel=0.0)
        d = CrossbarLayer(2, 1, CrossbarConfig(g_min_us=0.0, g_max_us=e.g_range_us[1], effects=(e,)), seed=0)
        d.fused = fused
        p = d.program({"conductances": torch.zeros(2, 1, 2), "tile_scale": torch.ones(1, 1)})
        return float(d.query(d.pulse(p, torch.tensor([[[17, 0]], [[0, 0]]])), torch.eye(2))[0, 0, 0]) * e.g_range_us[1]
    row("MeasuredPulseResponse (example table)", "g after 17 pulses (µS)", b * (1 - math.exp(-17 / A)), *both(m))


def main():
    for f in (one_over_f, drift, ir_drop, detection, dac_and_crosstalk, wear_and_pulses, bit_slicing,
              correlated, adc, measured):
        f()
    print(f"{'effect':<40} | {'quantity':<44} | {'expected':>11} | {'fused':>11} | {'torch':>11}")
    print("-" * 128)
    for eff, qty, exp, mf, mt in ROWS:
        t = "" if mt is None else f"{mt:11.5g}"
        print(f"{eff:<40} | {qty:<44} | {exp:11.5g} | {mf:11.5g} | {t:>11}")


if __name__ == "__main__":
    main()

"""Benchmark: oracle queries vs a plain batched matmul, and mesh building vs a column loop.

Measured side by side in one run on this machine (warm-up, then the median of repeats); prints
ratios, never asserts on time. Shapes: P = 64 perturbed settings, batch B = 128.

* 64×64 MZI layer (one 64-mode block, ``mzi-default`` effects but block 64; and ideal) — query
  of P programmed settings vs ``torch.matmul`` of (P, B, 64) × (P, 64, 64);
* 256×784 crossbar layer (``crossbar-default``; tiles 512×512) — query vs ``torch.matmul`` of
  (P, B, 784) × (P, 784, 256). Target: ≤ 1.5×;
* building 64 Clements unitaries of size 64 (fast path vs straightforward column loop).
  Target: ≤ 10 ms.

Run: python bench/oracle.py
"""
from __future__ import annotations

import dataclasses
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")   # before numba is imported

import torch  # noqa: E402

torch.set_num_threads(1)   # one thread per process, as the CLI and the tests

from hwsim.crossbar.device import CrossbarLayer  # noqa: E402
from hwsim.photonic.device import MZIMeshLayer  # noqa: E402
from hwsim.photonic.mesh import clements_unitary, clements_unitary_reference  # noqa: E402
from hwsim.presets import device_config  # noqa: E402
from mesh_build import median_ms  # noqa: E402  (bench/ is on sys.path when run as a script)

P, B = 64, 128


def median_s(fn, repeats: int = 15) -> float:
    """Median wall time in seconds (warm-up first): the timer of ``mesh_build.py``."""
    return median_ms(fn, repeats) / 1e3


def perturbed(dev, gen):
    w = torch.randn(dev.n_out, dev.n_in, generator=gen) / math.sqrt(dev.n_in)
    knobs = dev.knobs_from_weight(w)
    out = {}
    for name, v in knobs.items():
        spec = dev.knob_spec[name]
        rep = v.unsqueeze(0).expand(P, *v.shape)
        out[name] = spec.project(rep + 0.01 * (spec.high - spec.low if spec.high < 1e3 else 0.0)
                                 * torch.randn(rep.shape, generator=gen)) if spec.high < 1e3 else rep
    return out


def bench_layer(label: str, dev, n_in: int, n_out: int, gen) -> None:
    knobs = perturbed(dev, gen)
    x = torch.randn(B, n_in, generator=gen)
    gp, gq = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    prog = dev.program(knobs, gp)
    xs = x.expand(P, B, n_in).contiguous()
    w = torch.randn(P, n_in, n_out, generator=gen)
    t_query = median_s(lambda: dev.query(prog, x, gq))
    t_prog = median_s(lambda: dev.program(knobs, gp), repeats=5)
    t_mm = median_s(lambda: torch.matmul(xs, w))
    print(f"{label:<44} query {1e3 * t_query:8.2f} ms   matmul {1e3 * t_mm:7.2f} ms   "
          f"ratio {t_query / t_mm:6.2f}x   (program P settings: {1e3 * t_prog:8.2f} ms)")
    return t_query / t_mm


def main() -> None:
    gen = torch.Generator().manual_seed(0)
    print(f"P = {P} settings, batch B = {B}, torch threads {torch.get_num_threads()}")
    mzi_default = dataclasses.replace(device_config("mzi-default"), block=64)
    bench_layer("MZI 64x64 (mzi-default effects, block 64)", MZIMeshLayer(64, 64, mzi_default), 64, 64, gen)
    mzi_static = dataclasses.replace(mzi_default, effects=tuple(
        e for e in mzi_default.effects if type(e).__name__ != "PhaseNoise"))
    bench_layer("MZI 64x64 (no per-query phase noise)", MZIMeshLayer(64, 64, mzi_static), 64, 64, gen)
    ratio = bench_layer("crossbar 256x784 (crossbar-default)",
                        CrossbarLayer(784, 256, device_config("crossbar-default")), 784, 256, gen)
    print(f"  crossbar target <= 1.5x: {'met' if ratio <= 1.5 else 'NOT met'}")
    quiet = dataclasses.replace(device_config("crossbar-default"), effects=tuple(
        e for e in device_config("crossbar-default").effects if type(e).__name__ != "ReadNoise"))
    bench_layer("crossbar 256x784 (default, no read noise)", CrossbarLayer(784, 256, quiet), 784, 256, gen)
    t_noise = median_s(lambda: torch.randn(P, 2, B, 256))
    print(f"  (drawing the {P}x2x{B}x256 read-noise samples alone: {1e3 * t_noise:.2f} ms)")
    m = 64 * 63 // 2
    th, ph, de = (torch.rand(P, k, generator=gen) * 2 * math.pi for k in (m, m, 64))
    t_fast = median_s(lambda: clements_unitary(th, ph, de))
    t_ref = median_s(lambda: clements_unitary_reference(th, ph, de), repeats=5)
    print(f"build 64 Clements unitaries n=64: fast {1e3 * t_fast:.2f} ms, column loop "
          f"{1e3 * t_ref:.2f} ms, speed-up {t_ref / t_fast:.1f}x; target <= 10 ms: "
          f"{'met' if 1e3 * t_fast <= 10 else 'NOT met'}")


if __name__ == "__main__":
    main()

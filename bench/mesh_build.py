"""Benchmark: build 64 Clements unitaries of size 64 (phases (64, 2016)), float32.

Fast CPU path (numba, ``clements_unitary``) vs the straightforward torch column loop
(``clements_unitary_reference``), measured side by side in one run: warm-up first, then the
median of repeated timings. Target: fast path <= 10 ms. Prints only; never asserts on time.
Run: python bench/mesh_build.py
"""
from __future__ import annotations

import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")   # before numba is imported

import numba  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)   # one thread per process, as the CLI and the tests

from hwsim.photonic.mesh import clements_unitary, clements_unitary_reference  # noqa: E402

P, N, REPEATS, TARGET_MS = 64, 64, 20, 10.0


def median_ms(fn, repeats: int = REPEATS) -> float:
    for _ in range(3):                       # warm-up (JIT compile / cache load, allocator)
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main() -> None:
    g = torch.Generator().manual_seed(0)
    m = N * (N - 1) // 2
    theta = torch.rand(P, m, generator=g) * 2 * math.pi
    phi = torch.rand(P, m, generator=g) * 2 * math.pi
    delta = torch.rand(P, N, generator=g) * 2 * math.pi

    fast = lambda: clements_unitary(theta, phi, delta, backend="numba")  # noqa: E731
    ref = lambda: clements_unitary_reference(theta, phi, delta)          # noqa: E731
    err = (fast() - ref()).abs().max().item()
    t_fast = median_ms(fast)
    t_ref = median_ms(ref)
    print(f"build {P} Clements unitaries, n = {N}, float32 -> complex64 "
          f"(torch threads {torch.get_num_threads()}, numba threads {numba.get_num_threads()}, "
          f"median of {REPEATS})")
    print(f"  fast (numba)        : {t_fast:8.2f} ms")
    print(f"  reference (torch)   : {t_ref:8.2f} ms")
    print(f"  speed-up ref / fast : {t_ref / t_fast:8.1f}x")
    print(f"  max |fast - ref|    : {err:.2e}")
    met = "met" if t_fast <= TARGET_MS else "NOT met"
    print(f"  target fast <= {TARGET_MS:.0f} ms: {met}")


if __name__ == "__main__":
    main()

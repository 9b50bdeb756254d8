"""Compiling the numba kernels on purpose, and never in silence.

The CPU kernels (``hwsim.crossbar.kernels``, ``hwsim.photonic.kernels``, the ziggurat sampler,
the write counters) are compiled by numba the first time they run and cached on disk
(``cache=True``): the first run in a fresh checkout spends about half a minute of CPU compiling
before its first step, later runs load them in well under a second.

* :func:`compile_notice` — a numba event listener: while it is installed, every compile says
  so on one line with its duration.
* :func:`warm_kernels` — runs one tiny training step of every device preset (the real code
  paths with their real argument types, so every kernel signature a run needs is compiled or
  loaded), announcing on one line when anything had to be compiled and how long it took; it
  writes the project's Python bytecode caches too (:func:`compile_bytecode`).
  ``forwardlab warmup`` calls it on purpose; ``forwardlab run`` before training; the test
  suite once per session (tests/conftest.py).
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

__all__ = ["compile_notice", "warm_kernels", "kernels_cached", "compile_bytecode",
           "KERNEL_MODULES", "PACKAGES"]

#: Modules whose numba kernels are cached on disk (``cache=True``).
KERNEL_MODULES = ("hwsim.effects.ziggurat", "hwsim.counting", "hwsim.crossbar.kernels",
                  "hwsim.photonic.kernels", "hwsim.photonic.mesh", "hwsim.photonic.phase_chain")


def kernels_cached() -> bool:
    """True when every cached kernel of ``KERNEL_MODULES`` has its numba index file on disk
    (a cheap check: nothing is loaded or compiled). A stale index (edited source) still
    recompiles; :func:`compile_notice` announces that when it happens."""
    import importlib
    import os
    for name in KERNEL_MODULES:
        mod = importlib.import_module(name)
        for attr, obj in vars(mod).items():
            cache = getattr(obj, "_cache", None)
            index = getattr(getattr(cache, "_cache_file", None), "_index_path", None)
            if index is not None and getattr(obj, "__module__", None) == name \
                    and f"{name}.{attr}" not in _OFF_THE_RUN_PATH and not os.path.exists(index):
                return False
    return True


#: Cached kernels no run calls (kept as test references), so neither warmed nor checked.
_OFF_THE_RUN_PATH = frozenset({"hwsim.crossbar.kernels.readout"})


#: The project's packages, byte-compiled by :func:`compile_bytecode`.
PACKAGES = ("experiments", "algorithms", "hwsim")


def compile_bytecode() -> bool:
    """Write the bytecode caches (``__pycache__/*.pyc``) of the project's modules where they
    are missing or stale; True when every module compiled.

    Python writes them on import unless told not to (``PYTHONDONTWRITEBYTECODE``, ``-B``: common
    in containers); then every process compiles the ~160 project modules it imports from source
    again, about 0.3 s of CPU before ``forwardlab run`` prints its first line, and again in every
    sweep worker. Reading the caches is never turned off, so writing them once here, beside the
    numba kernels' caches in the same folders, saves that in every later process. A cache left
    stale by an edited source is ignored on import. Best effort: where the package cannot be
    written (an installed copy, whose caches pip wrote), nothing changes.
    """
    import compileall
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    ok = True
    for name in PACKAGES:
        try:
            ok = bool(compileall.compile_dir(str(root / name), quiet=2)) and ok
        except OSError:   # pragma: no cover - compile_dir reports write errors as False
            ok = False
    return ok


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class _Counter:
    """Counts top-level numba compiles and their CPU seconds (nested compiles of inlined helpers
    are part of their caller's)."""

    def __init__(self, on_first: Callable[[], None] | None = None) -> None:
        self.count = 0
        self.seconds = 0.0
        self._depth = 0
        self._t0 = 0.0
        self._on_first = on_first

    def start(self) -> None:
        if self._depth == 0:
            if self.count == 0 and self._on_first is not None:
                self._on_first()
            self._t0 = time.process_time()
        self._depth += 1

    def end(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.count += 1
            self.seconds += time.process_time() - self._t0


@contextmanager
def compile_notice(echo: Callable[[str], None] | None = _stderr, *,
                   on_first: Callable[[], None] | None = None) -> Iterator[_Counter]:
    """Count numba compiles inside the block (cache loads are not compiles); ``on_first`` runs
    when the first one starts. Yields the counter (``count``, ``seconds``)."""
    from numba.core import event

    counter = _Counter(on_first)

    class _Listener(event.Listener):
        def on_start(self, ev) -> None:
            counter.start()

        def on_end(self, ev) -> None:
            counter.end()

    listener = _Listener()
    event.register("numba:compile", listener)
    try:
        yield counter
    finally:
        event.unregister("numba:compile", listener)


def _tiny_steps() -> None:
    """One two-step mfdd run of a 12 → 6 → (3 classes) MLP on every device preset, P = 2, and
    one chunked estimate: every kernel and argument-type combination a run takes."""
    import torch

    from algorithms import registry
    from algorithms.model import model_from_config
    from hwsim.presets import DEVICE_PRESETS, build_layer
    from hwsim.trace import Trace

    x = torch.randn(6, 12, generator=torch.Generator().manual_seed(0))
    y = torch.arange(6) % 3
    model = model_from_config((12,), hidden=[6])
    for preset in DEVICE_PRESETS:
        devices = [build_layer(preset, a, b, seed=i, name=f"warm{i}")
                   for i, (a, b) in enumerate(model.device_shapes())]
        trace = Trace()
        settings = registry.settings_for("mfdd", {"num_directions": 2})
        t = registry.build("mfdd", settings, model, devices, 3, seed=0, trace=trace)
        t.trainer.settings_per_call = 2          # the chunked path too
        for _ in range(2):
            trace.begin_step()
            t.step(x, y)
            trace.end_step()
        t.predict(x)
    # what the presets above do not reach: the mesh kernel (blocks above the fused size) and
    # the continued streams of the plain MZI readout
    from hwsim.effects import rng
    from hwsim.photonic.mesh import clements_unitary
    th, ph, de = (torch.rand(2, c, generator=torch.Generator().manual_seed(1)) for c in (6, 6, 4))
    clements_unitary(th, ph, de)
    rng.normal_from_states(rng.row_states(2, torch.Generator().manual_seed(2)), 3)


def warm_kernels(*, announce: bool = True, always: bool = False,
                 echo: Callable[[str], None] = _stderr) -> tuple[int, float]:
    """Compile (or load from numba's cache) every kernel a run uses.

    With ``announce``: when a compile starts, one line says so (written without a newline when
    stderr is a terminal, completed with the duration); when nothing had to be compiled nothing
    is printed unless ``always``. Returns (kernels compiled, CPU seconds compiling).
    """
    tty = sys.stderr.isatty()
    opening = "forwardlab: compiling the numba kernels (once per checkout; cached afterwards)"

    def first() -> None:
        if announce:
            if tty:
                print(opening + " ...", end="", file=sys.stderr, flush=True)
            else:
                echo(opening + " ...")

    t0 = time.process_time()
    with compile_notice(on_first=first) as c:
        _tiny_steps()
    compile_bytecode()
    total = time.process_time() - t0
    if announce and c.count:
        done = f"compiled {c.count} kernels in {c.seconds:.1f} s of CPU"
        if tty:
            print(f" {done}", file=sys.stderr, flush=True)
        else:
            echo(f"forwardlab: {done}")
    elif announce and always:
        echo(f"forwardlab: numba kernels ready (all cached; {total:.1f} s of CPU to load)")
    return c.count, c.seconds

"""Evaluating many perturbed settings in chunks: how many settings one device call holds, and a
trace that does not see the chunks.

A zeroth-order estimate queries n = 2P (+1) settings of a layer. Done in one call, every array
of the call grows with n — the (n, d) settings, the programmed state and the readouts of every
setting — so the step's working set grows past the caches (the step becomes super-linear in P)
and peak memory grows without bound. Evaluated ``settings_per_call`` settings at a time, the
working set is bounded and the step is linear in P.

Chunks change nothing that is computed: every random draw of the device is layout-preserving
per setting (``hwsim.effects.rng``; "P settings in one call equal P separate calls", the device
contract suite), and the settings are evaluated in the same order. :func:`coalesced` folds the
events of the chunk calls back into the events one call would have recorded (integer counts
exactly; float sums such as Σ phase equal up to the summation order), so pricing — GPU kernel
launches per program/query event included — does not depend on the chunk size.

The chunk size is chosen automatically from the layer's shape and the batch (a conservative
per-setting working-set estimate against a memory budget), overridable per trainer or for the
whole process with ``FORWARDLAB_SETTINGS_PER_CALL`` (a positive integer; ``0`` = one call).
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from dataclasses import fields, replace
from typing import Callable, Iterator

from hwsim.trace import Trace

__all__ = ["ENV_VAR", "BUDGET_BYTES", "MIN_SETTINGS", "bytes_per_setting", "settings_per_call",
           "SettingsLoss", "max_settings_of", "chunk_bounds", "coalesced"]

#: Environment override of the chunk size (settings per device call; 0: no chunking).
ENV_VAR = "FORWARDLAB_SETTINGS_PER_CALL"
#: Working-set budget of one chunk (bytes). 96 MiB: several times a server's last-level cache,
#: so the fixed cost of one call (program + query set-up, ~1 ms) is amortised over ≥ 16
#: settings, while the peak stays well below the ~1.4 GB one call of 513 MZI settings took.
BUDGET_BYTES = 96 * 2 ** 20
#: Fewest settings per chunk (below this the per-call overhead shows).
MIN_SETTINGS = 16
_FLOAT = 4                       # float32 bytes
_WEIGHT_COPIES = 16              # programmed state per setting, in units of n_in·n_out floats
_ACTIVATION_COPIES = 8           # per-setting activations, in units of B·(n_in + n_out) floats
_SETTINGS_COPIES = 3             # the setting row, its direction row and one temporary


def bytes_per_setting(n_in: int, n_out: int, batch: int, knobs: int) -> int:
    """Conservative working set of one queried setting of an n_in → n_out layer, in bytes: its
    programmed state (``_WEIGHT_COPIES`` × n_in·n_out floats: MZI block fields re and im, phase
    cos/sin and noise, crossbar differential pair and layout), its activations for a batch of
    ``batch`` (inputs, partial sums, readouts, noise: ``_ACTIVATION_COPIES`` × B·(n_in + n_out))
    and its settings row of ``knobs`` values (with its direction and a temporary). Measured on
    the Fashion-MNIST 784 → 64 layer at B = 128: 2.9 MiB (mzi-default) and 0.9 MiB
    (crossbar-default) per setting; this estimate gives 7.8 MiB."""
    return _FLOAT * (_WEIGHT_COPIES * n_in * n_out + _ACTIVATION_COPIES * batch * (n_in + n_out)
                     + _SETTINGS_COPIES * knobs)


def _env_override() -> int | None:
    raw = os.environ.get(ENV_VAR)
    if raw is None or not raw.strip():
        return None
    try:
        v = int(raw)
    except ValueError:
        v = -1
    if v < 0:
        raise ValueError(f"{ENV_VAR} = {raw!r}; allowed: a positive integer (settings per device "
                         "call) or 0 (all settings in one call)")
    return v


def settings_per_call(n_in: int, n_out: int, batch: int, knobs: int, *,
                      override: int | None = None, budget_bytes: int | None = None) -> int | None:
    """Settings per device call for an n_in → n_out layer with ``knobs`` knobs at batch ``batch``.

    ``override`` (else ``$FORWARDLAB_SETTINGS_PER_CALL``): that many settings per call; 0 means
    no chunking (returns None). Otherwise ``budget_bytes`` (default :data:`BUDGET_BYTES`) over
    :func:`bytes_per_setting`, at least :data:`MIN_SETTINGS`.
    """
    if override is None:
        override = _env_override()
    if override is not None:
        if isinstance(override, bool) or not isinstance(override, int) or override < 0:
            raise ValueError(f"settings_per_call = {override!r}; allowed: a positive integer or "
                             "0 (all settings in one call)")
        return override or None
    per = bytes_per_setting(n_in, n_out, batch, knobs)
    return max(MIN_SETTINGS, (budget_bytes or BUDGET_BYTES) // max(per, 1))


class SettingsLoss:
    """A batched loss ``(n, d) settings → (n,)`` that declares how many settings one call may
    hold (``max_settings``; None: any number). Estimators that build many settings evaluate them
    in calls of at most that many (see :func:`max_settings_of`)."""

    def __init__(self, fn: Callable, max_settings: int | None,
                 mark: Callable[[], None] | None = None) -> None:
        self.fn = fn
        self.max_settings = max_settings
        self._mark = mark

    def __call__(self, settings):
        if self._mark is not None:      # a call boundary for :func:`coalesced`
            self._mark()
        return self.fn(settings)


def max_settings_of(loss_fn: Callable) -> int | None:
    """The most settings ``loss_fn`` takes per call (None: no limit declared)."""
    return getattr(loss_fn, "max_settings", None)


def chunk_bounds(n: int, max_settings: int | None) -> list[tuple[int, int]]:
    """[start, stop) ranges of ≤ max_settings rows covering 0..n, as equal as possible."""
    if not max_settings or n <= max_settings:
        return [(0, n)]
    k = math.ceil(n / max_settings)
    size = math.ceil(n / k)
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def _key(ev) -> tuple:
    return (type(ev), ev.layer, ev.kind, getattr(ev, "role", None))


def _merge(group: list):
    """One event from the same-position events of several chunk calls: additive fields summed,
    ``*_max*`` fields the maximum (as :func:`~hwsim.trace.summarize` aggregates them)."""
    first = group[0]
    values = {}
    for f in fields(first):
        if f.name in ("layer", "kind", "role"):
            continue
        vs = [getattr(e, f.name) for e in group]
        if any(v is None for v in vs):
            values[f.name] = None if all(v is None for v in vs) else sum(v for v in vs if v is not None)
        elif "_max" in f.name:
            values[f.name] = max(vs)
        else:
            values[f.name] = sum(vs[1:], vs[0])
    return replace(first, **values)


@contextmanager
def coalesced(trace: Trace | None) -> Iterator[Callable[[], None]]:
    """Inside the block, call the yielded ``mark()`` before each chunk call (``SettingsLoss``
    does, given it as ``mark``); on exit, when every
    chunk call recorded the same sequence of (event type, layer, kind, role), the events are
    folded into that one sequence (what a single call would have recorded). Calls with
    different sequences are left as they are (their totals are right either way)."""
    if trace is None:
        yield lambda: None
        return
    start = len(trace.events)
    marks: list[int] = []
    yield lambda: marks.append(len(trace.events))
    if len(marks) < 2 or marks[0] != start:
        return
    bounds = marks + [len(trace.events)]
    calls = [trace.events[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    keys = [tuple(_key(e) for e in c) for c in calls]
    if any(k != keys[0] for k in keys[1:]):
        return
    merged = [_merge([c[j] for c in calls]) for j in range(len(calls[0]))]
    del trace.events[start:]
    trace.events.extend(merged)

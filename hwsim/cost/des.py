"""SimPy discrete-event model of one step: a per-perturbation pipeline on shared resources
(cost.md §1.2).

Each layer's ``settings`` are J jobs (one programmed setting each). A job

1. holds the layer's **array** (capacity 1: a mesh or crossbar holds one setting at a time)
   while it loads its knob values through the **DAC banks** (one load per tile), settles, and
   streams its inputs, each tile needing a **laser** channel while it streams;
2. releases the array (the next job starts programming: programming overlaps the previous
   job's readout, as the hardware allows) and converts on the **ADC bank** (one conversion job
   per ADC channel);
3. does its digital work on the **host** (capacity 1).

Layers run one after another (data dependence); host-only entries run on the host.
Capacities default to what each layer owns (its tiles' DAC banks and lasers, its ADC channels):
then no job ever waits except for the previous job of its own layer, and the makespan equals
the analytic flow-shop bound of :func:`hwsim.cost.analytic.pipeline_makespan`. Passing a pool
size makes that resource one pool shared by every tile and layer: fewer banks than tiles (or
ADCs than channels) makes jobs queue, and the extra time is reported as the ``"contention"``
latency component. Static power is integrated over the simulated makespan by :func:`des_price`.
"""
from __future__ import annotations

import math
from typing import Mapping

import simpy

from .analytic import (CostReport, SpecArg, _assemble, _get, _n_adcs, _plan, _resolve_specs,
                       _sum_reports)

__all__ = ["simulate_latency", "des_price", "simulate_layers"]


def _check_pool(name: str, v: int | None) -> None:
    if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
        raise ValueError(f"{name} = {v!r} is invalid; allowed: None or an integer >= 1")


def simulate_layers(summary: Mapping[str, float], spec_by_device: SpecArg, *,
                    dac_banks: int | None = None, lasers: int | None = None,
                    adc_pool: int | None = None) -> dict[str, float]:
    """Simulated makespan (s) per entry of the step, in trace order.

    Args:
        dac_banks, lasers, adc_pool: None (each layer owns one DAC bank and one laser per
            tile and its ADC channels: uncontended) or the size of one pool shared by all.
    """
    for name, v in (("dac_banks", dac_banks), ("lasers", lasers), ("adc_pool", adc_pool)):
        _check_pool(name, v)
    plan, _ = _plan(summary, _resolve_specs(spec_by_device))
    env = simpy.Environment()
    host = simpy.Resource(env, capacity=1)
    shared = {k: simpy.Resource(env, capacity=v) for k, v in
              (("dac", dac_banks), ("laser", lasers), ("adc", adc_pool)) if v is not None}
    out: dict[str, float] = {}

    def use(res: simpy.Resource, duration: float):
        with res.request() as req:
            yield req
            yield env.timeout(duration)

    def parallel(res: simpy.Resource, n: int, duration: float):
        """``n`` sub-jobs of ``duration`` on ``res`` (they run side by side when it has room)."""
        if duration > 0 and n > 0:
            yield simpy.AllOf(env, [env.process(use(res, duration)) for _ in range(n)])

    def job(array, banks, lights, adcs, tiles, n_adcs, load, settle, stream, conv, dig):
        with array.request() as req:
            yield req
            yield from parallel(banks, tiles, load)
            if settle > 0:
                yield env.timeout(settle)
            yield from parallel(lights, tiles, stream)
        yield from parallel(adcs, n_adcs, conv)
        if dig > 0:
            yield from use(host, dig)

    def step():
        for layer, spec, t in plan:
            t0, j = env.now, t.jobs
            if j < 1:
                out[layer] = 0.0
                continue
            tiles = max(int(_get(summary, layer, "info", "tiles")), 1) if spec else 1
            n_adcs = _n_adcs(summary, layer, spec) if spec and t.convert_s else 1
            array = simpy.Resource(env, capacity=1)
            banks = shared.get("dac") or simpy.Resource(env, capacity=tiles)
            lights = shared.get("laser") or simpy.Resource(env, capacity=tiles)
            adcs = shared.get("adc") or simpy.Resource(env, capacity=n_adcs)
            load = t.dac_load_s / j
            settle = (t.program_s - t.dac_load_s) / j
            jobs = [env.process(job(array, banks, lights, adcs, tiles, n_adcs, load, settle,
                                    t.stream_s / j, t.convert_s / j, t.digital_s / j))
                    for _ in range(j)]
            yield simpy.AllOf(env, jobs)
            out[layer] = env.now - t0

    env.process(step())
    env.run()
    return out


def _latencies(summary, spec_by_device, **pools):
    plan, dspec = _plan(summary, _resolve_specs(spec_by_device))
    sim = simulate_layers(summary, spec_by_device, **pools)
    lat = {}
    for layer, _spec, t in plan:
        comp = t.critical_path()
        comp["contention"] = max(sim[layer] - math.fsum(comp.values()), 0.0)
        lat[layer] = comp
    return plan, dspec, lat, math.fsum(sim.values())


def simulate_latency(summary: Mapping[str, float], spec_by_device: SpecArg, *,
                     dac_banks: int | None = None, lasers: int | None = None,
                     adc_pool: int | None = None) -> dict[str, float]:
    """Step latency (s) per component from the DES: the analytic critical-path components
    plus ``"contention"`` (time lost waiting for shared resources; 0 when uncontended)."""
    _, _, lat, _ = _latencies(summary, spec_by_device, dac_banks=dac_banks, lasers=lasers,
                              adc_pool=adc_pool)
    out: dict[str, float] = {}
    for comp in lat.values():
        for k, v in comp.items():
            out[k] = out.get(k, 0.0) + v
    return out


def des_price(summary: Mapping[str, float], spec_by_device: SpecArg, *,
              dac_banks: int | None = None, lasers: int | None = None,
              adc_pool: int | None = None) -> CostReport:
    """Like :func:`hwsim.cost.price`, with latency from the DES and every static term
    (laser, heaters, idle converters, peripherals, host) integrated over its makespan."""
    plan, dspec, lat, t_step = _latencies(summary, spec_by_device, dac_banks=dac_banks,
                                          lasers=lasers, adc_pool=adc_pool)
    return _sum_reports(_assemble(summary, plan, dspec, lat, t_step).values())

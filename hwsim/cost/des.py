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

from .analytic import (CostReport, SpecArg, adc_count, assemble_report, independent_stages,
                       plan_layers, resolve_specs, schedule, sum_reports, summary_value)

__all__ = ["simulate_latency", "des_price", "simulate_layers", "simulate_step"]


def _check_pool(name: str, v: int | None) -> None:
    if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
        raise ValueError(f"{name} = {v!r} is invalid; allowed: None or an integer >= 1")


def simulate_step(summary: Mapping[str, float], spec_by_device: SpecArg, *,
                  dac_banks: int | None = None, lasers: int | None = None,
                  adc_pool: int | None = None) -> tuple[float, dict[str, float]]:
    """Simulated step: (makespan in s, time from its start to its end per entry in s).

    Args:
        dac_banks, lasers, adc_pool: None (each layer owns one DAC bank and one laser per
            tile and its ADC channels: uncontended) or the size of one pool shared by all
            layers (concurrent layers then compete for it).
    """
    for name, v in (("dac_banks", dac_banks), ("lasers", lasers), ("adc_pool", adc_pool)):
        _check_pool(name, v)
    # simpy (and the importlib.metadata it reads its version with) only when a step is
    # simulated: the package is imported with every config (hwsim.cost.spec), before a run's
    # first line, and a run prices its steps after training
    import simpy
    plan, _ = plan_layers(summary, resolve_specs(spec_by_device))
    env = simpy.Environment()
    host = simpy.Resource(env, capacity=1)
    shared = {k: simpy.Resource(env, capacity=v) for k, v in
              (("dac", dac_banks), ("laser", lasers), ("adc", adc_pool)) if v is not None}
    spans: dict[str, float] = {}

    def use(res: simpy.Resource, duration: float):
        with res.request() as req:
            yield req
            yield env.timeout(duration)

    def parallel(res: simpy.Resource, n: int, duration: float):
        """``n`` sub-jobs of ``duration`` on ``res`` (they run side by side when it has room)."""
        if duration > 0 and n > 0:
            yield simpy.AllOf(env, [env.process(use(res, duration)) for _ in range(n)])

    def convert(adcs, n_adcs, busy, per_vector_stream, vectors, streamed):
        """A job's whole conversion workload (``busy`` s per channel): vector v converts once
        it has streamed; the last vector's conversion waits for the end of streaming."""
        if busy <= 0:
            return
        if vectors >= 1 and per_vector_stream > 0:
            c = busy / vectors
            yield env.timeout(per_vector_stream)              # the first vector has streamed
            yield from parallel(adcs, n_adcs, busy - c)       # all but the last vector
            yield streamed
            yield from parallel(adcs, n_adcs, c)              # the last vector
        else:
            yield streamed
            yield from parallel(adcs, n_adcs, busy)

    def job(array, banks, lights, adcs, logic, tiles, n_adcs, load, settle, stream, busy,
            vectors, dig, overlapped):
        if overlapped:    # double-buffered drivers: load while the previous job streams
            yield from parallel(banks, tiles, load)
        streamed = env.event()
        with array.request() as req:
            yield req
            if not overlapped:
                yield from parallel(banks, tiles, load)
            if settle > 0:
                yield env.timeout(settle)
            conv = env.process(convert(adcs, n_adcs, busy, stream / vectors if vectors else 0.0,
                                       vectors, streamed))
            yield from parallel(lights, tiles, stream)
            streamed.succeed()
        yield conv
        if dig > 0:
            yield from use(logic, dig)

    def layer_jobs(layer, spec, t, first_done):
        t0, j = env.now, t.jobs
        tiles = max(int(summary_value(summary, layer, "info", "tiles")), 1)
        n_adcs = adc_count(summary, layer, spec) if t.busy_s else 1
        array = simpy.Resource(env, capacity=1)
        logic = simpy.Resource(env, capacity=1)     # the layer's partial-sum logic
        banks = shared.get("dac") or simpy.Resource(env, capacity=tiles)
        lights = shared.get("laser") or simpy.Resource(env, capacity=tiles)
        adcs = shared.get("adc") or simpy.Resource(env, capacity=n_adcs)
        args = (array, banks, lights, adcs, logic, tiles, n_adcs, t.dac_load_s / j,
                (t.program_s - t.dac_load_s) / j, t.stream_s / j, t.busy_s / j,
                t.vectors / j, t.digital_s / j, t.load_overlapped)
        procs = [env.process(job(*args)) for _ in range(j)]
        yield procs[0]
        first_done.succeed()
        yield simpy.AllOf(env, procs)
        spans[layer] = env.now - t0

    def step():
        running = []
        for layer, spec, t in plan:
            if spec is None:
                continue
            if t.jobs < 1:
                spans[layer] = 0.0
                continue
            first_done = env.event()
            p = env.process(layer_jobs(layer, spec, t, first_done))
            running.append(p)
            # an independent layer holds the forward chain for its clean readout only
            yield first_done if independent_stages(summary, layer) and t.jobs > 1 else p
        yield simpy.AllOf(env, running)
        for layer, spec, t in plan:     # host-only entries, one after another
            if spec is None:
                t0 = env.now
                if t.digital_s > 0:
                    yield from use(host, t.digital_s)
                spans[layer] = env.now - t0

    env.process(step())
    env.run()
    return env.now, spans


def simulate_layers(summary: Mapping[str, float], spec_by_device: SpecArg, *,
                    dac_banks: int | None = None, lasers: int | None = None,
                    adc_pool: int | None = None) -> dict[str, float]:
    """Simulated time (s) from each entry's start to its end (see :func:`simulate_step`)."""
    return simulate_step(summary, spec_by_device, dac_banks=dac_banks, lasers=lasers,
                         adc_pool=adc_pool)[1]


def _latencies(summary, spec_by_device, **pools):
    plan, dspec = plan_layers(summary, resolve_specs(spec_by_device))
    lat, t_analytic, _ = schedule(summary, plan)
    t_sim, _ = simulate_step(summary, spec_by_device, **pools)
    for comp in lat.values():
        comp["contention"] = 0.0
    # time lost waiting for shared resources, booked on the first entry
    first = next(iter(lat), None)
    if first is not None:
        lat[first]["contention"] = max(t_sim - t_analytic, 0.0)
    return plan, dspec, lat, max(t_sim, t_analytic)


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
    return sum_reports(assemble_report(summary, plan, dspec, lat, t_step).values())

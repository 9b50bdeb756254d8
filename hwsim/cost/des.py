"""SimPy discrete-event latency model of one step (cost.md §1.2).

Same stage structure as :mod:`hwsim.cost.analytic`: layers one after another, each
program → stream → convert → digital. The conversion stage is the one with a shared
resource: a layer's ADC conversions are split evenly over its ADC channels
(tiles × ⌈tile_cols / cols_per_adc⌉), and every channel job must hold one ADC of a
``simpy.Resource``. By default each layer has dedicated ADCs (capacity = its channel count,
uncontended: the DES equals the closed form). With ``adc_pool = k`` all layers share one bank
of k ADCs; fewer ADCs than channels makes jobs queue and the step longer.

Static power (heater holding) is integrated over the DES makespan in :func:`des_price`.
"""
from __future__ import annotations

import math
from typing import Mapping

import simpy

from .analytic import (LATENCY_COMPONENTS, CostReport, SpecArg, _assemble, _n_adcs,
                       _resolve_specs, _sum_reports, _terms)

__all__ = ["simulate_latency", "des_price"]


def _channels(summary: Mapping[str, float], layer: str, specs) -> int:
    if f"{layer}.info.is_mzi" not in summary:
        return 0
    dev = "mzi" if summary[f"{layer}.info.is_mzi"] else "crossbar"
    return _n_adcs(summary, layer, specs[dev])


def _simulate(summary: Mapping[str, float], specs, terms, adc_pool: int | None):
    """Run the DES; returns per-layer stage times (s) in the order of ``terms``."""
    env = simpy.Environment()
    shared = simpy.Resource(env, capacity=adc_pool) if adc_pool else None
    measured: list[dict[str, float]] = []

    def adc_job(bank: simpy.Resource, duration: float):
        with bank.request() as req:
            yield req
            yield env.timeout(duration)

    def step():
        for layer, _e, t, *_ in terms:
            got = dict.fromkeys(LATENCY_COMPONENTS, 0.0)
            t0 = env.now
            yield env.timeout(t["programming"])            # knob writes + settle / row writes
            got["programming"] = env.now - t0
            t0 = env.now
            yield env.timeout(t["streaming"])              # inputs streamed, tiles in parallel
            got["streaming"] = env.now - t0
            n = _channels(summary, layer, specs)
            if t["conversions"] > 0 and n > 0:
                t0 = env.now
                bank = shared or simpy.Resource(env, capacity=n)
                # per-channel busy time = conversions per channel × t_conv = analytic stage time
                jobs = [env.process(adc_job(bank, t["conversions"])) for _ in range(n)]
                yield simpy.AllOf(env, jobs)
                got["conversions"] = env.now - t0
            t0 = env.now
            yield env.timeout(t["digital"])                # partial sums + digital events
            got["digital"] = env.now - t0
            measured.append(got)

    env.process(step())
    env.run()
    return measured


def _check_pool(adc_pool: int | None) -> None:
    if adc_pool is not None and (isinstance(adc_pool, bool) or not isinstance(adc_pool, int)
                                 or adc_pool < 1):
        raise ValueError(f"adc_pool = {adc_pool!r} is invalid; allowed: None or an integer >= 1")


def simulate_latency(summary: Mapping[str, float], spec_by_device: SpecArg, *,
                     adc_pool: int | None = None) -> dict[str, float]:
    """Step latency (s) per component from the DES (see module docstring for ``adc_pool``)."""
    _check_pool(adc_pool)
    specs = _resolve_specs(spec_by_device)
    terms = _terms(summary, specs)
    out = dict.fromkeys(LATENCY_COMPONENTS, 0.0)
    for got in _simulate(summary, specs, terms, adc_pool):
        for k, v in got.items():
            out[k] += v
    return out


def des_price(summary: Mapping[str, float], spec_by_device: SpecArg, *,
              adc_pool: int | None = None) -> CostReport:
    """Like :func:`hwsim.cost.price`, with latency from the DES and heater holding energy
    integrated over the DES makespan."""
    _check_pool(adc_pool)
    specs = _resolve_specs(spec_by_device)
    terms = _terms(summary, specs)
    measured = _simulate(summary, specs, terms, adc_pool)
    terms = [(layer, e, got, *rest) for (layer, e, _t, *rest), got in zip(terms, measured)]
    t_step = math.fsum(v for got in measured for v in got.values())
    return _sum_reports(_assemble(terms, t_step).values())

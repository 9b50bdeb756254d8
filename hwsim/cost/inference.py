"""Inference of the trained model on the device, from a training step's summary.

The deployed model holds its trained setting (no programming, no settling: the weights stay
put) and streams ``batch`` vectors through every described layer once. Per layer the step's
own conversions per streamed vector (input DAC samples, ADC samples, partial-sum additions,
MACs) are kept; the heater hold power comes from the step's traced phases per setting (the
trained setting's phases are those of the clean readout, whose mean the trace carries).
Energy per inference = price of that summary / ``batch`` (static terms amortised over the
batch). Host arithmetic (heads) is not included: inference runs on the device, the argmax of a
10-way head is negligible.
"""
from __future__ import annotations

from typing import Mapping

__all__ = ["inference_summary"]

_PER_VECTOR = ("macs", "dac_conversions", "adc_conversions", "partial_sum_adds",
               "signal_fraction_sum")


def inference_summary(step: Mapping[str, float], batch: int) -> dict[str, float]:
    """A summary of ``batch`` inferences through the layers described in ``step``.

    Raises ValueError for a batch < 1."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch = {batch!r} is invalid; allowed: an integer >= 1")
    out: dict[str, float] = {}
    layers = sorted({k.rsplit(".", 2)[0] for k in step if ".info." in k})
    for layer in layers:
        for k, v in step.items():
            if k.startswith(f"{layer}.info."):
                out[k] = float(v)
        vectors = float(step.get(f"{layer}.mvm.vectors", 0.0))
        if not vectors:
            continue
        out[f"{layer}.mvm.settings"] = 1.0
        out[f"{layer}.mvm.vectors"] = float(batch)
        for name in _PER_VECTOR:
            key = f"{layer}.mvm.{name}"
            if key in step:
                out[key] = float(step[key]) / vectors * batch
        settings = float(step.get(f"{layer}.program.settings", 0.0))
        if settings and f"{layer}.program.phase_rad_sum" in step:
            # the held setting: one setting, nothing written, nothing to settle
            out[f"{layer}.program.settings"] = 1.0
            out[f"{layer}.program.settles"] = 0.0
            out[f"{layer}.program.knobs_written"] = 0.0
            out[f"{layer}.program.knobs_changed"] = 0.0
            out[f"{layer}.program.phase_rad_sum"] = float(step[f"{layer}.program.phase_rad_sum"]) / settings
        first = step.get(f"{layer}.mvm.first_index")
        if first is not None:
            out[f"{layer}.mvm.first_index"] = float(first)
    return out

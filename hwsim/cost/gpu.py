"""GPU baseline: roofline price of one training step on the digital model (cost.md §1.4).

t = max(FLOPs / (peak · u), bytes / BW) + n_kernels · t_launch
E = P_idle · t + FLOPs · e_flop + bytes · e_byte

FLOP multipliers per step: BP ≈ 3× forward (backward:forward ≈ 2:1; Kaplan et al.,
arXiv:2001.08361; Epoch AI); forward-only with q queries ≈ (q + 1)× forward (q perturbed
passes + one clean pass). Bytes moved scale with the same multiplier (the backward pass
re-reads weights and activations and writes gradients: ≈ 2× forward traffic).
"""
from __future__ import annotations

import math
from typing import Sequence

from .analytic import CostReport
from .spec import PJ, GpuSpec

__all__ = ["step_flop_multiplier", "gpu_step_cost", "mlp_forward_flops", "mlp_bytes"]

_KINDS = ("bp", "forward_only")
_FP32_BYTES = 4


def step_flop_multiplier(kind: str, queries: int = 0) -> float:
    """Step FLOPs / forward FLOPs: 3 for ``"bp"``, queries + 1 for ``"forward_only"``."""
    if kind == "bp":
        return 3.0  # Kaplan et al., arXiv:2001.08361: backward ≈ 2× forward
    if kind == "forward_only":
        if isinstance(queries, bool) or not isinstance(queries, int) or queries < 1:
            raise ValueError(f"queries = {queries!r} is invalid; allowed: an integer >= 1 "
                             "for kind='forward_only'")
        return queries + 1.0
    raise ValueError(f"kind = {kind!r} is invalid; allowed: {', '.join(_KINDS)}")


def gpu_step_cost(forward_flops: float, kind: str, queries: int, bytes_moved: float,
                  n_kernels: int, gpu: GpuSpec, *, utilization: float = 1.0) -> CostReport:
    """Roofline energy (J) and latency (s) of one training step on ``gpu``.

    Args:
        forward_flops: FLOPs of one forward pass (e.g. :func:`mlp_forward_flops`).
        kind: ``"bp"`` or ``"forward_only"``.
        queries: forward queries per step for ``"forward_only"`` (ignored for ``"bp"``).
        bytes_moved: DRAM bytes of one forward pass (e.g. :func:`mlp_bytes`).
        n_kernels: kernel launches per step (eager PyTorch: ~15–25 for a small MLP step).
        gpu: a :class:`GpuSpec` (see ``GPU_PRESETS``).
        utilization: fraction u of FP32 peak reached by the kernels (0 < u <= 1).

    Returns:
        CostReport with energy components ``compute``, ``memory``, ``idle`` and latency
        components ``compute`` (roofline term) and ``launch``; macs = FLOPs / 2.
    """
    for name, v in (("forward_flops", forward_flops), ("bytes_moved", bytes_moved)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} = {v!r} is invalid; allowed: a finite number >= 0")
    if isinstance(n_kernels, bool) or not isinstance(n_kernels, int) or n_kernels < 0:
        raise ValueError(f"n_kernels = {n_kernels!r} is invalid; allowed: an integer >= 0")
    if not (isinstance(utilization, (int, float)) and 0 < utilization <= 1):
        raise ValueError(f"utilization = {utilization!r} is invalid; allowed: a number in (0, 1]")
    if not isinstance(gpu, GpuSpec):
        raise ValueError(f"gpu = {gpu!r} is invalid; allowed: a GpuSpec (see GPU_PRESETS)")
    m = step_flop_multiplier(kind, queries)
    flops, nbytes = m * forward_flops, m * bytes_moved
    t_roof = max(flops / (gpu.peak_fp32_tflops * 1e12 * utilization),
                 nbytes / (gpu.mem_bw_gbs * 1e9))
    t_launch = n_kernels * gpu.t_launch_s
    t = t_roof + t_launch
    energy = {"compute": flops * gpu.e_flop_pj * PJ, "memory": nbytes * gpu.e_byte_pj * PJ,
              "idle": gpu.p_idle_w * t}
    return CostReport(energy, {"compute": t_roof, "launch": t_launch}, flops / 2.0, 0.0,
                      "digital")


def _check_sizes(layer_sizes: Sequence[int], batch: int) -> None:
    if len(layer_sizes) < 2 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1
                                   for n in layer_sizes):
        raise ValueError(f"layer_sizes = {layer_sizes!r} is invalid; allowed: >= 2 integers >= 1")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch = {batch!r} is invalid; allowed: an integer >= 1")


def mlp_forward_flops(layer_sizes: Sequence[int], batch: int) -> float:
    """Forward FLOPs of a dense MLP: 2 · batch · Σ n_in·n_out (1 MAC = 2 FLOPs; bias and
    activation FLOPs neglected). 784-256-10, batch 64 -> 2.6e7 (cost.md §4.3)."""
    _check_sizes(layer_sizes, batch)
    return 2.0 * batch * sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))


def mlp_bytes(layer_sizes: Sequence[int], batch: int) -> float:
    """FP32 bytes moved by one forward pass: weights and biases read once, each layer's
    input activations read and output activations written (batch × width × 4 B)."""
    _check_sizes(layer_sizes, batch)
    params = sum(a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    acts = sum(layer_sizes[:-1]) + sum(layer_sizes[1:])  # read inputs + write outputs
    return float(_FP32_BYTES * (params + batch * acts))

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

from ..trace import layer_kind
from .analytic import CostReport
from .spec import PJ, GpuSpec

__all__ = ["step_flop_multiplier", "gpu_step_cost", "mlp_forward_flops", "mlp_bytes", "gpu_band",
           "summary_step_work", "bp_step_work", "measure_torch_step", "nvml_step_energy",
           "NVML_MIN_WINDOW_S"]

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


# --------------------------------------------------------------------------- the GPU band
# Launch overhead per kernel: 3 µs null kernel, 5–20 µs typical eager PyTorch (NVIDIA developer
# forum, unverified; cost.md §2.5). The nominal eager row uses 5 µs, the high one 20 µs.
T_LAUNCH_HIGH_US = 20.0
# Eager kernels per oracle-equivalent call on a GPU (assumption: a batched matmul, a bias add,
# an activation and a perturbation add per query; randn + add per programmed batch; about
# three kernels per host arithmetic event: matmul/reduce, elementwise, scalar).
KERNELS_PER_QUERY = 4
KERNELS_PER_PROGRAM = 2
KERNELS_PER_DIGITAL = 3


def summary_step_work(summary) -> dict[str, float]:
    """Work of the traced step done digitally, from a step summary alone.

    Returns ``flops`` (2 × every analog MAC + every host FLOP: heads, losses, estimator and
    update arithmetic), ``bytes`` (FP32: every programmed setting's weights read once, every
    streamed vector's inputs read and outputs written) and ``kernels`` (eager launches, see
    ``KERNELS_PER_*``)."""
    flops = nbytes = kernels = 0.0
    layers = {k.rsplit(".", 2)[0] for k in summary}
    for layer in layers:
        g = lambda kind, name: float(summary.get(f"{layer}.{kind}.{name}", 0.0))  # noqa: E731
        flops += 2.0 * g("mvm", "macs") + g("digital", "flops") + g("mvm", "partial_sum_adds")
        n_in, n_out = g("info", "n_in"), g("info", "n_out")
        nbytes += _FP32_BYTES * (g("program", "settings") * n_in * n_out
                                 + g("mvm", "vectors") * (n_in + n_out))
        kernels += KERNELS_PER_QUERY * g("mvm", "events") + KERNELS_PER_PROGRAM * g("program", "events")
        if layer_kind(summary, layer) is None:   # described layers' digital events are transfers
            kernels += KERNELS_PER_DIGITAL * g("digital", "events")
    return {"flops": flops, "bytes": nbytes, "kernels": kernels}


def _roofline(flops: float, nbytes: float, n_kernels: float, t_launch_s: float, gpu: GpuSpec,
              p_host_w: float, label: float, p_idle_w: float | None = None) -> CostReport:
    p_idle = gpu.p_idle_w if p_idle_w is None else p_idle_w
    t_roof = max(flops / (gpu.peak_fp32_tflops * 1e12), nbytes / (gpu.mem_bw_gbs * 1e9))
    t_launch = n_kernels * t_launch_s
    t = t_roof + t_launch
    energy = {"compute": flops * gpu.e_flop_pj * PJ, "memory": nbytes * gpu.e_byte_pj * PJ,
              "idle": p_idle * t, "host_static": p_host_w * t}
    return CostReport(energy, {"compute": t_roof, "launch": t_launch}, flops / 2.0, 0.0, "digital",
                      {"gpu_kernels": float(n_kernels), "gpu_band_position": label,
                       "gpu_flops": float(flops), "gpu_idle_w": p_idle,
                       "gpu_idle_is_assumption": float(not gpu.p_idle_measured)})


def gpu_band(flops: float, nbytes: float, n_kernels: float, gpu: GpuSpec, *,
             p_host_w: float = 0.0) -> dict[str, CostReport]:
    """The GPU baseline of one step as a band (cost.md §1.4, §4.3):

    * ``"low"`` – throughput-bound: CUDA graphs / many steps batched, no launch gaps,
      t = max(FLOPs/peak, bytes/BW);
    * ``"nominal"`` – launch-bound eager PyTorch, ``n_kernels`` × 5 µs + roofline;
    * ``"high"`` – eager at 20 µs per launch (cost.md §2.5 range 5–20 µs).

    Energy = P_idle·t + FLOPs·e_flop + bytes·e_byte (+ ``p_host_w``·t, the same host floor the
    device rows pay), P_idle at the GPU's idle band (``GpuSpec.p_idle_at``; an assumed idle
    figure has its own band). ``metrics["gpu_band_position"]`` is 0 / 1 / 2 for low / nominal /
    high; ``gpu_idle_is_assumption`` says whether the idle power is a measurement of this GPU.
    """
    for name, v in (("flops", flops), ("nbytes", nbytes), ("n_kernels", n_kernels),
                    ("p_host_w", p_host_w)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} = {v!r} is invalid; allowed: a finite number >= 0")
    if not isinstance(gpu, GpuSpec):
        raise ValueError(f"gpu = {gpu!r} is invalid; allowed: a GpuSpec (see GPU_PRESETS)")
    return {"low": _roofline(flops, nbytes, 0, 0.0, gpu, p_host_w, 0.0, gpu.p_idle_at("low")),
            "nominal": _roofline(flops, nbytes, n_kernels, gpu.t_launch_s, gpu, p_host_w, 1.0),
            "high": _roofline(flops, nbytes, n_kernels, T_LAUNCH_HIGH_US * 1e-6, gpu, p_host_w, 2.0,
                              gpu.p_idle_at("high"))}


def bp_step_work(layer_sizes: Sequence[int], n_classes: int, batch: int,
                 kernels: int = 20) -> dict[str, float]:
    """BP step on the digital model: 3 × forward (network + a ``n_classes`` head per hidden
    layer, as the MF objective; Kaplan et al. arXiv:2001.08361) + SGD-momentum update
    (4 FLOPs per parameter: scale, add, scale, add); bytes as :func:`mlp_bytes` × 3;
    ``kernels`` eager launches (cost.md §4.3: 15–25)."""
    _check_sizes(layer_sizes, batch)
    fwd = mlp_forward_flops(layer_sizes, batch) + sum(2.0 * batch * h * n_classes
                                                      for h in layer_sizes[1:])
    params = sum(a * b + b for a, b in zip(layer_sizes[:-1], layer_sizes[1:])) + sum(
        h * n_classes + h for h in layer_sizes[1:])
    return {"flops": 3.0 * fwd + 4.0 * params, "bytes": 3.0 * mlp_bytes(layer_sizes, batch),
            "kernels": float(kernels)}


# --------------------------------------------------------------------------- measured
def measure_torch_step(layer_sizes: Sequence[int], n_classes: int, batch: int, *,
                       kind: str = "forward_only", directions: int = 8, repeats: int = 5,
                       device: str | None = None, seed: int = 0, nvml=None,
                       min_window_s: float = 1.0, clock=None, sleep=None) -> CostReport:
    """Run the step with torch on this machine's device and time it.

    ``kind="forward_only"``: per layer, 2·``directions`` perturbed weight copies evaluated in
    one batched matmul on the same minibatch, a local head (n → ``n_classes``), a
    cross-entropy loss per copy, the central-difference estimate and an SGD update.
    ``kind="bp"``: the same network and heads, forward + backward + SGD.

    Time: CUDA events on a CUDA device, ``time.perf_counter`` otherwise (median of
    ``repeats`` after one warm-up). Energy: the NVML total-energy counter through ``pynvml``
    when importable on a CUDA device (or ``nvml`` = (module, handle) given), read over windows
    of at least ``min_window_s`` ≥ 1 s with the idle power subtracted
    (:func:`nvml_step_energy`): ``energy_j["measured"]`` is the dynamic energy per step and
    ``energy_j["idle"]`` the measured idle power × step time; otherwise no energy is claimed
    (``energy_j`` empty, ``metrics["energy_measured"] = 0``).
    """
    import time

    import torch

    _check_sizes(layer_sizes, batch)
    if kind not in _KINDS:
        raise ValueError(f"kind = {kind!r} is invalid; allowed: {', '.join(_KINDS)}")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    g = torch.Generator(device="cpu").manual_seed(seed)
    ws = [torch.randn(a, b, generator=g).div_(a ** 0.5).to(dev)
          for a, b in zip(layer_sizes[:-1], layer_sizes[1:])]
    heads = [torch.randn(b, n_classes, generator=g).div_(b ** 0.5).to(dev) for b in layer_sizes[1:]]
    x = torch.randn(batch, layer_sizes[0], generator=g).to(dev)
    y = torch.randint(0, n_classes, (batch,), generator=g).to(dev)
    P = 2 * directions
    g_dir = torch.Generator(device=dev).manual_seed(seed + 1)   # explicit stream, no global RNG

    def forward_only():
        a = x
        for w, h in zip(ws, heads):
            u = torch.randn((directions, *w.shape), device=dev, generator=g_dir)
            wp = torch.cat([w + 1e-3 * u, w - 1e-3 * u])                     # (P, n_in, n_out)
            z = torch.relu(torch.matmul(a.expand(P, *a.shape), wp))          # (P, B, n_out)
            loss = torch.nn.functional.cross_entropy(
                (z @ h).reshape(-1, n_classes), y.repeat(P), reduction="none").view(P, -1).mean(1)
            d = (loss[:directions] - loss[directions:]) / 2e-3
            w.sub_(1e-2 * torch.einsum("p,pij->ij", d, u) / directions)
            a = torch.relu(a @ w)

    params = [t.clone().requires_grad_(True) for t in ws + heads]

    def bp():
        a, loss = x, 0.0
        n = len(ws)
        for w, h in zip(params[:n], params[n:]):
            a = torch.relu(a @ w)
            loss = loss + torch.nn.functional.cross_entropy(a @ h, y)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p_, g_ in zip(params, grads):
                p_.sub_(1e-2 * g_)

    fn = forward_only if kind == "forward_only" else bp
    ctx = torch.no_grad() if kind == "forward_only" else _null()
    with ctx:
        fn()                                                                    # warm-up
        times, energy_mj = [], None
        nvml = _nvml_handle(dev) if nvml is None else nvml
        for _ in range(repeats):
            if dev.type == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                torch.cuda.synchronize(dev)
                times.append(start.elapsed_time(end) * 1e-3)
            else:
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
    times.sort()
    t = times[len(times) // 2]
    metrics = {"energy_measured": float(nvml is not None),
               "measured_on_cuda": float(dev.type == "cuda")}
    energy = {}
    if nvml is not None:
        sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)
        with ctx:
            w = nvml_step_energy(nvml, fn, t, sync=sync, min_window_s=min_window_s,
                                 clock=clock, sleep=sleep)
        # dynamic energy per step (idle subtracted) and the idle power over the step, apart
        energy = {"measured": w["dynamic_j"], "idle": w["idle_w"] * t}
        metrics.update(nvml_window_s=w["window_s"], nvml_idle_window_s=w["idle_window_s"],
                       nvml_steps=w["steps"], gpu_idle_w=w["idle_w"])
    return CostReport(energy, {"measured": t}, 0.0, 0.0, "digital", metrics)


#: NVML's energy counter and power sensor are too coarse for sub-second windows (A100/H100
#: sample ~25 % of runtime; arXiv:2312.02741): every NVML window lasts at least this long (s).
NVML_MIN_WINDOW_S = 1.0


def nvml_step_energy(nvml, fn, t_step_s: float, *, sync=lambda: None,
                     min_window_s: float = NVML_MIN_WINDOW_S, clock=None, sleep=None) -> dict:
    """Energy of one step from NVML's total-energy counter (mJ) over windows of at least
    ``min_window_s``: an idle window first (the GPU's idle power, context loaded), then
    ⌈min_window_s / t_step_s⌉ back-to-back steps; the idle energy over the busy window is
    subtracted. Returns ``dynamic_j`` (per step), ``idle_w``, ``window_s``, ``idle_window_s``
    and ``steps``. ``nvml`` = (module, handle) with ``nvmlDeviceGetTotalEnergyConsumption``;
    ``clock`` / ``sleep`` default to ``time.perf_counter`` / ``time.sleep`` (tests inject fakes)."""
    import time
    clock = clock or time.perf_counter
    sleep = sleep or time.sleep
    if not (min_window_s >= 1.0):
        raise ValueError(f"min_window_s = {min_window_s!r} is invalid; allowed: >= 1 s (NVML "
                         "cannot resolve shorter windows)")
    mod, handle = nvml
    read = lambda: mod.nvmlDeviceGetTotalEnergyConsumption(handle) * 1e-3   # noqa: E731  J
    sync()
    e0, t0 = read(), clock()
    sleep(min_window_s)
    e1, t1 = read(), clock()
    idle_window = t1 - t0
    idle_w = (e1 - e0) / idle_window
    steps = max(1, math.ceil(min_window_s / max(t_step_s, 1e-9)))
    e0, t0 = read(), clock()
    for _ in range(steps):
        fn()
    sync()
    e1, t1 = read(), clock()
    window = t1 - t0
    return {"dynamic_j": max(e1 - e0 - idle_w * window, 0.0) / steps, "idle_w": idle_w,
            "window_s": window, "idle_window_s": idle_window,
            "steps": float(steps)}


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _nvml_handle(dev):
    """(pynvml module, device handle) when NVML energy can be read for ``dev``, else None."""
    if dev.type != "cuda":
        return None
    try:
        import pynvml
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(dev.index or 0)
        pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)   # raises where unsupported
        return pynvml, handle
    except Exception:   # pynvml missing, no driver, or a GPU without an energy counter
        return None

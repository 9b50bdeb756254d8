"""GPU check: one prepared script for a CUDA machine, under five minutes, one summary table.

On a CUDA machine it

1. runs the ``cuda`` contract suite (tests/hwsim/test_cuda_contract.py: every preset with knobs
   and inputs on the GPU equals the CPU path given the same generators);
2. measures the speed figures of ``bench/speed.py`` on the GPU beside the CPU ones (the query of
   P = 64 programmed settings against ``torch.bmm``, crossbar-default 784→256 and mzi-default
   784→64; per-call time on each device, interleaved rounds);
3. measures the GPU row of the cost model: the forward-only (MF+DD-style, P = 32) and the BP
   step of the Fashion-MNIST MLP 784-64 (B = 128) timed with CUDA events, energy from the NVML
   total-energy counter over windows of at least 1 s (the counter updates every ~20–100 ms, so
   shorter windows under-read), beside the roofline model of ``hwsim.cost.gpu`` for the
   matching GPU preset (or the H100 SXM5 one when the card has no preset).

Without a CUDA device it says so on one line, prints the table with every row marked
"skipped (no CUDA device)" and exits 0 — nothing is claimed.

Run: python bench/gpu_check.py [--json PATH] [--rounds 3] [--window-s 1.0] [--windows 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

LAYERS, CLASSES, BATCH, DIRECTIONS = (784, 64), 10, 128, 32
ROWS = ("cuda contract suite", "crossbar query 784x256 P=64", "mzi query 784x64 P=64",
        "forward-only step (GPU row)", "BP step (GPU row)")


def no_cuda_reason() -> str | None:
    """Why there is no CUDA device to check (None when there is one)."""
    if torch.cuda.is_available():
        return None
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
    return f"torch {torch.__version__} ({build}) sees no CUDA device"


def cuda_contract(timeout_s: float) -> dict:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider",
                        "tests/hwsim/test_cuda_contract.py"], cwd=ROOT, capture_output=True,
                       text=True, timeout=timeout_s)
    last = [line for line in r.stdout.splitlines() if line.strip()][-1:] or ["(no output)"]
    return {"ok": r.returncode == 0, "summary": last[0], "seconds": time.perf_counter() - t0}


def speed_on_both(rounds: int) -> dict:
    """Per-call query and matmul time on CPU and GPU (median of interleaved rounds, ms)."""
    from bench.speed import query_vs_matmul
    out = {}
    for label, preset, n_in, n_out in (("crossbar", "crossbar-default", 784, 256),
                                       ("mzi", "mzi-default", 784, 64)):
        row = {}
        for device in ("cpu", "cuda"):
            r = query_vs_matmul(preset, n_in, n_out, rounds, device)
            row[device] = {"query_ms": r["ms"]["query"], "matmul_ms": r["ms"]["matmul"],
                           "query_vs_matmul_wall": r["wall"]["median"]}
        out[label] = row
    return out


def nvml_windows(fn, window_s: float, windows: int) -> dict:
    """Energy per call from the NVML counter over ``windows`` windows of ≥ ``window_s`` s each
    (``fn`` repeated until the window is full, synchronised), with the time per call; median
    and min–max over windows. Empty when the counter cannot be read."""
    from hwsim.cost.gpu import _nvml_handle
    dev = torch.device("cuda")
    nv = _nvml_handle(dev)
    per_j, per_s = [], []
    for _ in range(windows):
        torch.cuda.synchronize()
        e0 = nv[0].nvmlDeviceGetTotalEnergyConsumption(nv[1]) if nv else None
        t0, n = time.perf_counter(), 0
        while True:
            fn()
            n += 1
            if n % 8 == 0:
                torch.cuda.synchronize()
                if time.perf_counter() - t0 >= window_s:
                    break
        dt = time.perf_counter() - t0
        per_s.append(dt / n)
        if nv:
            per_j.append((nv[0].nvmlDeviceGetTotalEnergyConsumption(nv[1]) - e0) * 1e-3 / n)
    res = {"s_per_step": statistics.median(per_s), "s_min": min(per_s), "s_max": max(per_s),
           "window_s": window_s, "windows": windows}
    if per_j:
        res.update(j_per_step=statistics.median(per_j), j_min=min(per_j), j_max=max(per_j))
    return res


def gpu_rows(window_s: float, windows: int) -> dict:
    """The measured GPU step beside the cost model's roofline row for the same step."""
    from hwsim.cost.gpu import gpu_step_cost, measure_torch_step, mlp_bytes, mlp_forward_flops
    from hwsim.cost.spec import GPU_PRESETS
    name = torch.cuda.get_device_name(0)
    preset = next((k for k in GPU_PRESETS if k.split()[0] in name), "H100 SXM5")
    spec = GPU_PRESETS[preset]
    out = {"gpu": name, "model_preset": preset}
    sizes = list(LAYERS)
    for kind in ("forward_only", "bp"):
        timed = measure_torch_step(sizes, CLASSES, BATCH, kind=kind, directions=DIRECTIONS,
                                   repeats=20, device="cuda")
        step = _step_fn(kind)
        measured = nvml_windows(step, window_s, windows)
        model = gpu_step_cost(mlp_forward_flops(sizes, BATCH), kind, 2 * DIRECTIONS,
                              mlp_bytes(sizes, BATCH), 20, spec)
        out[kind] = {"cuda_event_s": timed.latency_s, "nvml": measured,
                     "model_s": model.latency_s, "model_j": model.energy_j}
    return out


def _step_fn(kind: str):
    """The step ``measure_torch_step`` times, as a callable for the NVML windows (the same
    network, batch and directions; one warm-up call)."""
    dev = torch.device("cuda")
    gen = torch.Generator(device="cpu").manual_seed(0)
    a, b = LAYERS
    w = torch.randn(a, b, generator=gen).div_(a ** 0.5).to(dev)
    h = torch.randn(b, CLASSES, generator=gen).div_(b ** 0.5).to(dev)
    x = torch.randn(BATCH, a, generator=gen).to(dev)
    y = torch.randint(0, CLASSES, (BATCH,), generator=gen).to(dev)
    gd = torch.Generator(device=dev).manual_seed(1)
    P = 2 * DIRECTIONS

    if kind == "forward_only":
        @torch.no_grad()
        def step():
            u = torch.randn((DIRECTIONS, a, b), device=dev, generator=gd)
            wp = torch.cat([w + 1e-3 * u, w - 1e-3 * u])
            z = torch.relu(torch.matmul(x.expand(P, *x.shape), wp))
            loss = torch.nn.functional.cross_entropy((z @ h).reshape(-1, CLASSES), y.repeat(P),
                                                     reduction="none").view(P, -1).mean(1)
            d = (loss[:DIRECTIONS] - loss[DIRECTIONS:]) / 2e-3
            w.sub_(1e-2 * torch.einsum("p,pij->ij", d, u) / DIRECTIONS)
    else:
        params = [w.clone().requires_grad_(True), h.clone().requires_grad_(True)]

        def step():
            loss = torch.nn.functional.cross_entropy(torch.relu(x @ params[0]) @ params[1], y)
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p_, g_ in zip(params, grads):
                    p_.sub_(1e-2 * g_)
    step()
    torch.cuda.synchronize()
    return step


def table(res: dict) -> str:
    lines = [f"{'check':<30} {'result'}", "-" * 78]
    skipped = res.get("skipped")
    for row in ROWS:
        if skipped:
            lines.append(f"{row:<30} skipped (no CUDA device)")
    if skipped:
        return "\n".join(lines)
    c = res["contract"]
    lines[2:] = [f"{ROWS[0]:<30} {'passed' if c['ok'] else 'FAILED'}: {c['summary']} "
                 f"({c['seconds']:.0f} s)"]
    for key, row in (("crossbar", ROWS[1]), ("mzi", ROWS[2])):
        s = res["speed"][key]
        lines.append(f"{row:<30} query cpu {s['cpu']['query_ms']:.2f} ms / gpu "
                     f"{s['cuda']['query_ms']:.2f} ms; bmm cpu {s['cpu']['matmul_ms']:.2f} / gpu "
                     f"{s['cuda']['matmul_ms']:.2f} ms")
    for key, row in (("forward_only", ROWS[3]), ("bp", ROWS[4])):
        g = res["gpu"][key]
        nv = g["nvml"]
        energy = (f"{1e3 * nv['j_per_step']:.3f} mJ [{1e3 * nv['j_min']:.3f}-{1e3 * nv['j_max']:.3f}]"
                  if "j_per_step" in nv else "no NVML energy counter")
        model_j = sum(g["model_j"].values())
        model_s = sum(g["model_s"].values())
        lines.append(f"{row:<30} {1e6 * nv['s_per_step']:.1f} us/step, {energy} "
                     f"(windows >= {nv['window_s']:g} s); model {1e6 * model_s:.1f} us, "
                     f"{1e3 * model_j:.3f} mJ [{res['gpu']['model_preset']}]")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default="")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--window-s", type=float, default=1.0)
    ap.add_argument("--windows", type=int, default=3)
    args = ap.parse_args(argv)
    if args.window_s < 1.0:
        print(f"gpu_check: error: --window-s {args.window_s}; allowed: >= 1 (the NVML counter "
              "needs windows of at least a second)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    reason = no_cuda_reason()
    if reason:
        print(f"gpu_check: no CUDA device — {reason}; nothing measured (run this script on a "
              "CUDA machine)")
        res: dict = {"skipped": reason}
    else:
        res = {"device": torch.cuda.get_device_name(0),
               "contract": cuda_contract(timeout_s=180),
               "speed": speed_on_both(args.rounds),
               "gpu": gpu_rows(args.window_s, args.windows)}
    res["seconds"] = time.perf_counter() - t0
    print(table(res))
    print(f"gpu_check: {res['seconds']:.0f} s in all")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2, default=str)
    return 0 if reason or res["contract"]["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

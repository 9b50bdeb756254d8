"""Benchmark: how far the simulation is from its floors, one thread, figures for machines.

Every comparison is measured side by side in one run: the candidates of a comparison are run in
interleaved rounds (a, b, a, b, …), each round's ratio is taken from the same round, and the
median and min–max of the per-round ratios are reported, for process CPU time and for wall time.
One thread (torch, numba, OpenMP). Prints the figures; ``--json PATH`` writes them too. Never
asserts on time.

Figures (ratios are on process CPU time unless the key ends in ``_wall``):

* ``crossbar_query_vs_matmul``: query of P = 64 programmed settings of a 784→256
  ``crossbar-default`` layer (B = 128) against ``torch.bmm`` of (P, B, 784) × (P, 784, 256)
  float32 — the matmul is the flop floor of the query.
* ``mzi_query_vs_matmul``: the same for the Fashion-MNIST layer 784→64 on ``mzi-default``
  (block 8, per-query phase noise); floor as above with n_out = 64.
* ``fashion_mzi_step_vs_faithful_floor``: one MF+DD step (MLP 784-64, B = 128, P = 32 Rademacher
  directions, central: 2P + 1 = 65 settings queried) through ``mzi-default`` against the
  *faithful floor*: the least work a faithful simulation of that step cannot avoid —
  (i) building every block unitary of every queried setting anew (per-query phase noise):
  2·p·q Clements meshes of k = 8 modes per setting with the numba builder (perfect couplers,
  the fastest build there is), (ii) the block MVMs as one float32 ``torch.bmm`` of
  (S, B, n_in) × (S, n_in, n_out), (iii) one standard normal per block output and sample
  (per-block detector noise), S·B·p·q·k values from the ziggurat sampler.
* ``fashion_crossbar_step_vs_flop_floor``: the same step through ``crossbar-default`` against
  its *flop floor*: the step's device MACs as one float32 ``torch.bmm`` of
  (S, B, n_in) × (S, n_in, n_out) with S = 2P + 1.
* ``digits_step_ms``: one step of the default run's network (digits, MLP 64-32-32,
  mzi-default, B = 64, P = 32) as ``registry.build("mfdd", ...)`` trains it (the
  LocalTrainer), median CPU ms. Every step figure (Fashion, memory) goes through the same path.
* ``mesh_build_64_n{16,64,128}_ms``: building 64 Clements unitaries of N modes (float32 phases).
* ``peak_step_mib``: for P in (32, 256), the memory one Fashion-MNIST step adds on top of
  the resident set before it (max RSS after the step − RSS before), each in a fresh process,
  for mzi-default and crossbar-default; plus the layer output size P·B·n_out for comparison.
* ``p_scaling_mzi``, ``p_scaling_crossbar``: Fashion-MNIST step time (784-64, B = 128) at
  P = 256 ÷ (8 × the time at P = 32), automatic chunks (``_one_call``: all settings in one call,
  the behaviour before chunking), interleaved; ``p_scaling_detail`` has every P in (8, 32, 128,
  256).
* ``program_weights_new_over_before``, ``crossbar_step_new_over_before_kernel``: the crossbar
  programming kernel against the column-wise one it replaced (bit for bit the same output),
  alone and inside the Fashion crossbar step, interleaved.
* ``mzi_program_fused_over_torch_chain``, ``mzi_step_fused_over_torch_chain``: the MZI phase
  chain in one numba pass against the effect-by-effect torch chain (bit for bit the same
  phases), ``program`` of the step's 65 settings alone and inside the Fashion MZI step.
* ``peak_step_mib`` (``--memory-repeats`` fresh processes per point, median and min–max, plus
  the allocator settings): chunked and one call at P = 32 and 256.
* ``device``: what was measured ("cpu" here, else the CUDA device name).

Run: python bench/speed.py [--rounds 7] [--json bench/results/speed.json] [--skip-memory]
     [--only PART ...] [--memory-repeats 3]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
os.environ.setdefault("NUMBA_NUM_THREADS", "1")   # before numba is imported
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

from hwsim.effects import ziggurat  # noqa: E402
from hwsim.photonic.mesh import clements_unitary  # noqa: E402
from hwsim.presets import build_layer  # noqa: E402

P_QUERY, B_QUERY = 64, 128
PARTS = ("crossbar", "mzi", "fashion", "digits", "mesh", "memory", "pscaling", "kernels", "chain")
P_SCALING = (8, 32, 128, 256)


# ------------------------------------------------------------------ timing
def _clock() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def interleaved(fns: dict, rounds: int, reps: int = 1, warmup: int = 1) -> dict:
    """Run each callable ``reps`` times per round, the callables in turn, for ``rounds`` rounds.
    Returns {name: {"cpu": [s per call per round], "wall": [...]}}."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out = {k: {"cpu": [], "wall": []} for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            c0, w0 = _clock()
            for _ in range(reps):
                fn()
            c1, w1 = _clock()
            out[name]["cpu"].append((c1 - c0) / reps)
            out[name]["wall"].append((w1 - w0) / reps)
    return out


def ratio(times: dict, a: str, b: str) -> dict:
    """Median and min–max of the per-round ratios a/b, CPU and wall, plus each side's median ms."""
    res = {}
    for clock in ("cpu", "wall"):
        r = [x / y for x, y in zip(times[a][clock], times[b][clock])]
        res[clock] = {"median": statistics.median(r), "min": min(r), "max": max(r)}
    res["ms"] = {k: 1e3 * statistics.median(times[k]["cpu"]) for k in (a, b)}
    return res


def _print_ratio(label: str, r: dict, target: float | None = None) -> None:
    c, w = r["cpu"], r["wall"]
    tgt = "" if target is None else f"  target <= {target:g}x: {'met' if c['median'] <= target else 'NOT met'}"
    ms = ", ".join(f"{k} {v:.2f} ms" for k, v in r["ms"].items())
    print(f"{label:<40} cpu {c['median']:6.2f}x [{c['min']:.2f}-{c['max']:.2f}]  "
          f"wall {w['median']:6.2f}x [{w['min']:.2f}-{w['max']:.2f}]  ({ms}){tgt}", flush=True)


# ------------------------------------------------------------------ pieces
def _perturbed_knobs(dev, P: int, gen: torch.Generator) -> dict:
    w = torch.randn(dev.n_out, dev.n_in, generator=gen) / math.sqrt(dev.n_in)
    out = {}
    for name, v in dev.knobs_from_weight(w).items():
        spec = dev.knob_spec[name]
        rep = v.unsqueeze(0).expand(P, *v.shape)
        if spec.unit in ("rad", "uS"):
            rep = spec.project(rep + 0.01 * (spec.high - spec.low) * torch.randn(rep.shape, generator=gen))
        out[name] = rep.contiguous()
    return out


def query_vs_matmul(preset: str, n_in: int, n_out: int, rounds: int, device: str) -> dict:
    gen = torch.Generator().manual_seed(0)
    dev = build_layer(preset, n_in, n_out, name="L")
    knobs = {k: v.to(device) for k, v in _perturbed_knobs(dev, P_QUERY, gen).items()}
    x = torch.randn(B_QUERY, n_in, generator=gen).to(device)
    gp = torch.Generator(device=device).manual_seed(1)
    gq = torch.Generator(device=device).manual_seed(2)
    prog = dev.program(knobs, gp)
    xs = x.expand(P_QUERY, B_QUERY, n_in).contiguous()
    w = torch.randn(P_QUERY, n_in, n_out, generator=gen).to(device)
    times = interleaved({"query": lambda: dev.query(prog, x, gq), "matmul": lambda: torch.bmm(xs, w),
                         "program": lambda: dev.program(knobs, gp)}, rounds, reps=2)
    r = ratio(times, "query", "matmul")
    r["program_vs_matmul"] = ratio(times, "program", "matmul")["cpu"]
    return r


def _step_setup(dataset: str, preset: str, hidden: list[int], batch: int, P: int,
                settings_per_call: int | None = None):
    """One MF+DD step as the default run takes it: ``registry.build("mfdd", ...)`` (the
    LocalTrainer) on the ``hidden`` MLP through ``preset`` devices, P Rademacher directions,
    central differences; the first ``batch`` standardised training samples."""
    from algorithms import registry
    from algorithms.model import model_from_config
    from experiments.data import load_dataset, standardize
    from hwsim.trace import Trace
    data = standardize(load_dataset(dataset))
    model = model_from_config((data.x_train.shape[1],), hidden=hidden)
    devices = [build_layer(preset, a, b, seed=1000 + i, name=f"layer{i}")
               for i, (a, b) in enumerate(model.device_shapes())]
    trace = Trace()
    settings = registry.settings_for("mfdd", {"num_directions": P})
    trainable = registry.build("mfdd", settings, model, devices, data.n_classes, seed=0, trace=trace)
    trainable.trainer.settings_per_call = settings_per_call   # None: automatic chunks; 0: one call
    x, y = data.x_train[:batch], data.y_train[:batch]

    def step():
        trace.begin_step()
        trainable.step(x, y)
        trace.end_step()
    return step, devices, settings


def fashion_steps(rounds: int, P: int = 32, B: int = 128) -> dict:
    n_in, n_out = 784, 64
    S = 2 * P + 1
    mzi_step, mzi_devs, _ = _step_setup("fashion-mnist", "mzi-default", [n_out], B, P)
    xb_step, _, _ = _step_setup("fashion-mnist", "crossbar-default", [n_out], B, P)
    d = mzi_devs[0]
    k, p, q = d.k, d.p, d.q
    gen = torch.Generator().manual_seed(0)
    m = k * (k - 1) // 2
    th, ph, de = (torch.rand(S * p * q * 2, c, generator=gen) * 2 * math.pi for c in (m, m, k))
    xs = torch.randn(S, B, n_in, generator=gen)
    w = torch.randn(S, n_in, n_out, generator=gen)
    z = np.empty((S, B * p * q * k), np.float32)
    seeds = np.arange(S, dtype=np.uint64) + np.uint64(12345)

    def faithful_floor():
        clements_unitary(th, ph, de)
        torch.bmm(xs, w)
        ziggurat.fill_normal(z, seeds, *ziggurat.TABLES)

    times = interleaved({"mzi_step": mzi_step, "faithful_floor": faithful_floor,
                         "crossbar_step": xb_step, "flop_floor": lambda: torch.bmm(xs, w)}, rounds)
    return {"mzi": ratio(times, "mzi_step", "faithful_floor"),
            "crossbar": ratio(times, "crossbar_step", "flop_floor")}


def digits_step(rounds: int) -> dict:
    step, _, cfg = _step_setup("digits", "mzi-default", [32, 32], 64, 32)
    times = interleaved({"digits_step": step}, rounds, reps=3)
    t = times["digits_step"]
    return {"cpu_ms": 1e3 * statistics.median(t["cpu"]), "cpu_ms_min": 1e3 * min(t["cpu"]),
            "cpu_ms_max": 1e3 * max(t["cpu"]), "wall_ms": 1e3 * statistics.median(t["wall"])}


def mesh_builds(rounds: int) -> dict:
    out = {}
    gen = torch.Generator().manual_seed(0)
    for n in (16, 64, 128):
        m = n * (n - 1) // 2
        th, ph, de = (torch.rand(64, c, generator=gen) * 2 * math.pi for c in (m, m, n))
        t = interleaved({"build": lambda: clements_unitary(th, ph, de)}, rounds, reps=2)["build"]
        out[f"mesh_build_64_n{n}_ms"] = 1e3 * statistics.median(t["cpu"])
    return out


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def _hwm_mib() -> float:
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024


def memory_child(preset: str, P: int, settings_per_call: int | None = None) -> None:
    """In a fresh process: set up (with a warm-up step at P = 1), reset the peak-RSS mark
    (``/proc/self/clear_refs`` 5), run one step at P; prints JSON with the peak RSS − RSS before.
    ``settings_per_call``: None automatic chunks, 0 all settings in one call."""
    step1, _, _ = _step_setup("fashion-mnist", preset, [64], 128, 1)
    step1()
    step, _, _ = _step_setup("fashion-mnist", preset, [64], 128, P, settings_per_call)
    before = _rss_mib()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    step()
    peak = _hwm_mib()
    print(json.dumps({"added_mib": max(peak - before, 0.0), "rss_before_mib": before, "peak_rss_mib": peak}))


def _memory_run(preset: str, P: int, chunk: int | None) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", preset, str(P)]
    if chunk is not None:
        cmd += ["--chunk", str(chunk)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def allocator_settings() -> dict:
    """What shapes the RSS figures: glibc malloc tunables from the environment (none set means
    glibc defaults: mmap threshold 128 KiB growing dynamically, one arena per core ×8), torch's
    CPU allocator (plain malloc/free, no caching), one thread."""
    env = {k: v for k, v in os.environ.items() if k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    return {"glibc_env": env or "none (glibc defaults)", "torch_cpu_allocator": "default (no caching)",
            "threads": 1}


def memory_against_p(repeats: int = 3, Ps=(32, 256),
                     presets=("mzi-default", "crossbar-default")) -> dict:
    """Peak added memory of one Fashion-MNIST step against P, each in a fresh process, the
    median of ``repeats`` processes with min–max for automatic chunks; all settings in one call
    (the behaviour before chunking) once, for comparison."""
    out: dict = {"allocator": allocator_settings(), "repeats": repeats}
    for preset in presets:
        rows = {}
        for P in Ps:
            runs = {"chunked": [], "one_call": []}
            for r in range(repeats):      # the one-call comparison once (it is the "before")
                for mode, chunk in (("chunked", None), ("one_call", 0))[:1 if r else 2]:
                    runs[mode].append(_memory_run(preset, P, chunk)["added_mib"])
            r = {m: {"median": statistics.median(v), "min": min(v), "max": max(v), "runs": v}
                 for m, v in runs.items()}
            r["layer_output_mib"] = (2 * P + 1) * 128 * 64 * 4 / 2 ** 20
            rows[str(P)] = r
            print(f"  {preset:<18} P = {P:>3}: step adds {r['chunked']['median']:7.1f} MiB chunked "
                  f"[{r['chunked']['min']:.1f}-{r['chunked']['max']:.1f}], "
                  f"{r['one_call']['median']:7.1f} MiB in one call "
                  f"[{r['one_call']['min']:.1f}-{r['one_call']['max']:.1f}]", flush=True)
        if "32" in rows and "256" in rows:
            rows["peak_256_over_32"] = {m: rows["256"][m]["median"] / max(rows["32"][m]["median"], 1e-9)
                                        for m in ("chunked", "one_call")}
            print(f"  {preset:<18} peak(P=256)/peak(P=32): chunked "
                  f"{rows['peak_256_over_32']['chunked']:.2f}x (target <= 1.3), one call "
                  f"{rows['peak_256_over_32']['one_call']:.2f}x", flush=True)
        out[preset] = rows
    return out


def program_kernel(rounds: int) -> dict:
    """``program_weights`` (row-wise, tiled transpose) against the column-by-column kernel it
    replaced (kept as the bit-for-bit reference in tests/hwsim/test_crossbar_fused_program.py):
    the kernel alone on the step's 65 settings of the 784→64 crossbar-default layer, and the
    whole Fashion-MNIST crossbar step (P = 32) with either kernel in the device, interleaved."""
    import numpy as np
    # the kernel lives in hwsim.crossbar.kernels; the device looks it up there on every call,
    # so swapping the module attribute swaps the kernel inside the step
    import hwsim.crossbar.kernels as xk
    from tests.hwsim.test_crossbar_fused_program import column_by_column
    new = xk.program_weights
    rng = np.random.default_rng(0)
    P, n_out, n_in = 65, 64, 784
    g = rng.uniform(0, 25, (P, 2, n_out, n_in)).astype(np.float32)
    seeds = np.arange(P, dtype=np.uint64)
    args = (g, 256, 0.0, 25.0, True, -0.0469, 0.0786, 0.2635, seeds, *ziggurat.TABLES)
    a, b = np.empty((P, n_in, n_out), np.float32), np.empty((P, n_in, n_out), np.float32)
    new(*args, a)
    column_by_column(*args, b)
    assert np.array_equal(a, b), "program_weights differs from the column-wise reference"
    step, _, _ = _step_setup("fashion-mnist", "crossbar-default", [64], 128, 32)

    def step_with(kernel):
        def run():
            xk.program_weights = kernel
            try:
                step()
            finally:
                xk.program_weights = new
        return run
    times = interleaved({"program_new": lambda: new(*args, a),
                         "program_before": lambda: column_by_column(*args, b),
                         "step_new": step_with(new), "step_before": step_with(column_by_column)},
                        rounds)
    return {"program": ratio(times, "program_new", "program_before"),
            "crossbar_step": ratio(times, "step_new", "step_before")}


def phase_chain(rounds: int) -> dict:
    """The MZI phase-programming chain (DAC → voltage → phase, γ spread, crosstalk, bias) in one
    numba pass (``hwsim.photonic.phase_chain``) against the effect-by-effect torch chain it
    replaces (the same phases, checked here with the tests' rule): ``program`` alone on the step's 65
    settings of the 784→64 mzi-default layer, and the whole Fashion-MNIST MZI step (P = 32,
    B = 128) with the chain fused or not, interleaved."""
    gen = torch.Generator().manual_seed(0)
    dev = build_layer("mzi-default", 784, 64, name="L")
    knobs = _perturbed_knobs(dev, 65, gen)

    def program_with(fuse):
        def run():
            dev.fuse_chain = fuse
            return dev.program(knobs)
        return run
    a, b = program_with(True)().state, program_with(False)().state
    # the tests' rule: bit for bit where this CPU's float32 products round as the fused pass's
    # ordered sums do, else within 4 ulps but for DAC codes that a 1-ulp difference moved across
    # their rounding boundary (one code each, ≤ 0.1 % of the phases)
    from tests.photonic.test_phase_chain_fused import _assert_bits_equal
    for key in ("mesh", "sigma"):
        _assert_bits_equal(a[key], b[key], dev)
    step, devs, _ = _step_setup("fashion-mnist", "mzi-default", [64], 128, 32)

    def step_with(fuse):
        def run():
            for d in devs:
                d.fuse_chain = fuse
            step()
        return run
    times = interleaved({"program_fused": program_with(True), "program_torch": program_with(False),
                         "step_fused": step_with(True), "step_torch": step_with(False)}, rounds)
    return {"program": ratio(times, "program_fused", "program_torch"),
            "mzi_step": ratio(times, "step_fused", "step_torch")}


def p_scaling(rounds: int, Ps=P_SCALING) -> dict:
    """Fashion-MNIST MF+DD step time (784-64, B = 128) against P for both presets, automatic
    chunks against one call, all in interleaved rounds. ``p_scaling`` = t(P=256) / (8·t(P=32)):
    1.0 is linear."""
    out = {}
    for preset in ("mzi-default", "crossbar-default"):
        fns = {}
        for P in Ps:
            fns[f"chunked_P{P}"] = _step_setup("fashion-mnist", preset, [64], 128, P, None)[0]
            fns[f"one_call_P{P}"] = _step_setup("fashion-mnist", preset, [64], 128, P, 0)[0]
        times = interleaved(fns, rounds)
        ms = {k: 1e3 * statistics.median(v["cpu"]) for k, v in times.items()}
        row = {"cpu_ms": ms}
        for mode in ("chunked", "one_call"):
            r = [a / (8 * b) for a, b in zip(times[f"{mode}_P256"]["cpu"], times[f"{mode}_P32"]["cpu"])]
            lin = [a / (32 * b) for a, b in zip(times[f"{mode}_P256"]["cpu"], times[f"{mode}_P8"]["cpu"])]
            row[mode] = {"p_scaling": statistics.median(r), "min": min(r), "max": max(r),
                         "t256_over_32_t8": statistics.median(lin)}
        out[preset] = row
        print(f"P-scaling {preset}: " + ", ".join(f"{k} {v:.0f} ms" for k, v in ms.items()), flush=True)
        for mode in ("chunked", "one_call"):
            m = row[mode]
            print(f"  {mode:<9} t(256)/(8 t(32)) = {m['p_scaling']:.2f} [{m['min']:.2f}-{m['max']:.2f}]"
                  f"   t(256)/(32 t(8)) = {m['t256_over_32_t8']:.2f}   (linear within 15 %: "
                  f"{'met' if abs(m['p_scaling'] - 1) <= 0.15 else 'NOT met'})", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", default="")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--memory-child", nargs=2, metavar=("PRESET", "P"))
    ap.add_argument("--chunk", type=int, default=None,
                    help="settings per device call (0: one call; default automatic)")
    ap.add_argument("--memory-repeats", type=int, default=3)
    ap.add_argument("--memory-presets", nargs="+", default=["mzi-default", "crossbar-default"])
    ap.add_argument("--only", nargs="+", default=[], choices=PARTS,
                    help="run only these parts (default: all)")
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]), args.chunk)
        return
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    print(f"device {name}; torch threads {torch.get_num_threads()}; "
          f"numba threads {os.environ.get('NUMBA_NUM_THREADS')}; {args.rounds} interleaved rounds")
    res: dict = {"device": name, "rounds": args.rounds, "threads": torch.get_num_threads()}
    want = set(args.only or PARTS)
    if "crossbar" in want:
        r = query_vs_matmul("crossbar-default", 784, 256, args.rounds, device)
        _print_ratio("crossbar query 784x256 vs matmul", r, 1.2)
        res["crossbar_query_vs_matmul"] = r["cpu"]["median"]
        res["crossbar_program_vs_matmul"] = r["program_vs_matmul"]["median"]
        res["crossbar_query_detail"] = r
    if "mzi" in want:
        r = query_vs_matmul("mzi-default", 784, 64, args.rounds, device)
        _print_ratio("mzi query 784x64 (block 8) vs matmul", r)
        res["mzi_query_vs_matmul"] = r["cpu"]["median"]
        res["mzi_program_vs_matmul"] = r["program_vs_matmul"]["median"]
        res["mzi_query_detail"] = r
    if "fashion" in want:
        fashion(res, args.rounds)
    if "digits" in want:
        d = digits_step(args.rounds)
        print(f"{'digits default step':<40} {d['cpu_ms']:.1f} ms cpu [{d['cpu_ms_min']:.1f}-{d['cpu_ms_max']:.1f}]"
              f"  target <= 25 ms: {'met' if d['cpu_ms'] <= 25 else 'NOT met'}", flush=True)
        res["digits_step_ms"] = d["cpu_ms"]
        res["digits_step_detail"] = d
    if "mesh" in want:
        mb = mesh_builds(args.rounds)
        print("mesh builds (64 unitaries): " + ", ".join(f"{k} {v:.2f}" for k, v in mb.items())
              + f"  target n128 <= 30 ms: {'met' if mb['mesh_build_64_n128_ms'] <= 30 else 'NOT met'}")
        res.update(mb)
    if "memory" in want and not args.skip_memory:
        print("peak memory of one Fashion-MNIST step (784-64, B = 128) against P "
              f"(median of {args.memory_repeats} fresh processes [min-max]):")
        res["peak_step_mib"] = memory_against_p(args.memory_repeats,
                                                presets=tuple(args.memory_presets))
    if "kernels" in want:
        k = program_kernel(args.rounds)
        _print_ratio("program_weights new / before", k["program"], 0.65)
        _print_ratio("Fashion crossbar step, new / before kernel", k["crossbar_step"])
        res["program_weights_new_over_before"] = k["program"]["cpu"]["median"]
        res["crossbar_step_new_over_before_kernel"] = k["crossbar_step"]["cpu"]["median"]
        res["kernels_detail"] = k
    if "chain" in want:
        c = phase_chain(args.rounds)
        _print_ratio("MZI program, fused / torch chain", c["program"])
        _print_ratio("Fashion MZI step, fused / torch chain", c["mzi_step"])
        res["mzi_program_fused_over_torch_chain"] = c["program"]["cpu"]["median"]
        res["mzi_step_fused_over_torch_chain"] = c["mzi_step"]["cpu"]["median"]
        res["phase_chain_detail"] = c
    if "pscaling" in want:
        ps = p_scaling(max(2, args.rounds // 3))
        res["p_scaling_detail"] = ps
        res["p_scaling_mzi"] = ps["mzi-default"]["chunked"]["p_scaling"]
        res["p_scaling_crossbar"] = ps["crossbar-default"]["chunked"]["p_scaling"]
        res["p_scaling_mzi_one_call"] = ps["mzi-default"]["one_call"]["p_scaling"]
        res["p_scaling_crossbar_one_call"] = ps["crossbar-default"]["one_call"]["p_scaling"]
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
        print(f"wrote {args.json}")


def fashion(res: dict, rounds: int) -> None:
    steps = fashion_steps(max(3, rounds // 2))
    _print_ratio("Fashion MZI step vs faithful floor", steps["mzi"], 2.0)
    _print_ratio("Fashion crossbar step vs flop floor", steps["crossbar"], 8.0)
    res["fashion_mzi_step_vs_faithful_floor"] = steps["mzi"]["cpu"]["median"]
    res["fashion_crossbar_step_vs_flop_floor"] = steps["crossbar"]["cpu"]["median"]
    res["fashion_mzi_step_ms"] = steps["mzi"]["ms"]["mzi_step"]
    res["fashion_crossbar_step_ms"] = steps["crossbar"]["ms"]["crossbar_step"]
    res["fashion_step_detail"] = steps


if __name__ == "__main__":
    main()

"""GPU roofline baseline pinned against cost.md §4.3."""
import pytest

from hwsim.cost import GPU_PRESETS, gpu_step_cost, mlp_bytes, mlp_forward_flops, step_flop_multiplier

SIZES, BATCH = [784, 256, 10], 64
A100 = GPU_PRESETS["A100 SXM4 80GB"]


def test_mlp_flops():
    f = mlp_forward_flops(SIZES, BATCH)
    assert f / 2 == pytest.approx(1.30e7, rel=0.01)            # forward MACs
    assert 3 * f == pytest.approx(7.8e7, rel=0.01)             # BP step FLOPs
    assert step_flop_multiplier("bp") == 3.0
    assert step_flop_multiplier("forward_only", 2) == 3.0      # SPSA q = 2 ≈ 7.8e7 too


def test_mlp_bytes():
    b = mlp_bytes(SIZES, BATCH)
    params = 784 * 256 + 256 + 256 * 10 + 10
    assert b == 4 * (params + BATCH * (784 + 256 + 256 + 10))


@pytest.mark.parametrize("n_kernels", [15, 20, 25])
@pytest.mark.parametrize("kind, q", [("bp", 0), ("forward_only", 2)])
def test_eager_small_mlp_band(n_kernels, kind, q):
    f, b = mlp_forward_flops(SIZES, BATCH), mlp_bytes(SIZES, BATCH)
    r = gpu_step_cost(f, kind, q, b, n_kernels, A100)
    assert 50e-6 <= r.total_latency_s <= 200e-6                 # 50–200 µs per step
    assert 3e-3 <= r.total_energy_j <= 18e-3                    # 3–18 mJ per step
    assert 65.0 <= r.total_energy_j / r.total_latency_s <= 90.0  # 65–90 W
    assert 40.0 <= r.total_energy_j / (3 * f) * 1e12 <= 230.0   # 40–230 pJ/FLOP
    assert r.latency_s["compute"] == pytest.approx(4e-6, rel=0.01)   # ideal at 19.5 TFLOPS
    assert r.weight_mode == "digital" and r.macs == pytest.approx(1.5 * f)
    assert set(r.energy_j) == {"compute", "memory", "idle"}
    assert set(r.latency_s) == {"compute", "launch"}


def test_roofline_memory_bound_and_utilization():
    r = gpu_step_cost(1.0, "bp", 0, 1e9, 0, A100)
    assert r.latency_s["compute"] == pytest.approx(3e9 / 2039e9)
    r = gpu_step_cost(1e12, "bp", 0, 0.0, 0, A100, utilization=0.5)
    assert r.latency_s["compute"] == pytest.approx(3e12 / (19.5e12 * 0.5))
    assert r.energy_j["idle"] == pytest.approx(61.0 * r.total_latency_s)


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        gpu_step_cost(1.0, "zo", 1, 1.0, 1, A100)
    with pytest.raises(ValueError, match="queries"):
        gpu_step_cost(1.0, "forward_only", 0, 1.0, 1, A100)
    with pytest.raises(ValueError, match="forward_flops"):
        gpu_step_cost(-1.0, "bp", 0, 1.0, 1, A100)
    with pytest.raises(ValueError, match="batch"):
        mlp_forward_flops(SIZES, 0)


# ---------------------------------------------------------------- the band and the measured step
from hwsim.cost import bp_step_work, gpu_band, measure_torch_step, summary_step_work  # noqa: E402
from hwsim.trace import DigitalEvent, LayerInfo, MvmEvent, ProgramEvent, summarize  # noqa: E402


def test_band_regimes_by_hand():
    h100 = GPU_PRESETS["H100 SXM5"]
    f, b, k = 2.6e7, 1e6, 40
    band = gpu_band(f, b, k, h100, p_host_w=15.0)
    t_roof = max(f / 66.9e12, b / 3350e9)
    assert band["low"].total_latency_s == pytest.approx(t_roof)              # CUDA graphs
    assert band["nominal"].total_latency_s == pytest.approx(t_roof + 40 * 5e-6)
    assert band["high"].total_latency_s == pytest.approx(t_roof + 40 * 20e-6)
    # the H100 idle power is an assumption (the A100's measured 61 W) with its own band
    for lv, p_idle in (("low", 40.0), ("nominal", 61.0), ("high", 80.3)):
        r = band[lv]
        t = r.total_latency_s
        assert r.metrics["gpu_idle_is_assumption"] == 1.0
        assert r.energy_j["idle"] == pytest.approx(p_idle * t)
        assert r.energy_j["host_static"] == pytest.approx(15.0 * t)
        assert r.energy_j["compute"] == pytest.approx(f * h100.e_flop_pj * 1e-12)
    a100 = gpu_band(f, b, k, GPU_PRESETS["A100 SXM4 80GB"])     # measured idle: no band
    assert {r.metrics["gpu_idle_w"] for r in a100.values()} == {61.0}
    assert a100["nominal"].metrics["gpu_idle_is_assumption"] == 0.0
    # launch-bound eager: idle dominates (cost.md §4.3); throughput-bound: dynamic dominates
    assert band["nominal"].energy_j["idle"] > 10 * band["nominal"].energy_j["compute"]
    assert band["low"].energy_j["compute"] > band["low"].energy_j["idle"]
    with pytest.raises(ValueError, match="n_kernels"):
        gpu_band(f, b, -1, h100)


def test_step_work_counts_every_flop():
    info = LayerInfo("L", "mzi", 16, 8, 8, 8, 2, 10, 8, 8, 8, mzis=64, phase_shifters=136)
    ev = [ProgramEvent("L", 3, 30, 3), MvmEvent("L", 3, 12, 12 * 128, 12 * 16, 12 * 16, 12 * 8),
          DigitalEvent("host", 1000, role="estimator"), DigitalEvent("host", 200, role="optimizer")]
    w = summary_step_work(summarize(ev, [info]))
    assert w["flops"] == 2 * 12 * 128 + 1000 + 200 + 12 * 8       # MACs, heads/estimate/update, adds
    assert w["bytes"] == 4 * (3 * 16 * 8 + 12 * (16 + 8))
    assert w["kernels"] == 4 * 1 + 2 * 1 + 3 * 2
    bp = bp_step_work([64, 32], 10, 8)
    fwd = 2 * 8 * 64 * 32 + 2 * 8 * 32 * 10
    assert bp["flops"] == 3 * fwd + 4 * (64 * 32 + 32 + 32 * 10 + 32)


@pytest.mark.parametrize("kind", ["forward_only", "bp"])
def test_measured_step_runs_here(kind):
    r = measure_torch_step([32, 16], 10, 8, kind=kind, directions=2, repeats=2)
    assert r.latency_s["measured"] > 0
    import torch
    if not torch.cuda.is_available():    # no NVML on a CPU: no energy is claimed
        assert r.energy_j == {} and r.metrics["energy_measured"] == 0.0
    with pytest.raises(ValueError, match="kind"):
        measure_torch_step([32, 16], 10, 8, kind="zo")


class _FakeGpu:
    """A fake NVML device: a clock, a power draw (idle, or busy while a step runs) and the
    total-energy counter (mJ) integrating it."""

    def __init__(self, idle_w=61.0, busy_w=200.0, t_step=0.25e-3):
        self.t, self.mj, self.idle_w, self.busy_w, self.t_step = 0.0, 0.0, idle_w, busy_w, t_step

    def _advance(self, dt, p):
        self.t += dt
        self.mj += p * dt * 1e3

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        return int(self.mj)                    # NVML returns whole mJ

    def clock(self):
        return self.t

    def sleep(self, s):
        self._advance(s, self.idle_w)

    def step(self):
        self._advance(self.t_step, self.busy_w)


def test_nvml_windows_of_a_second_with_idle_subtracted():
    from hwsim.cost.gpu import NVML_MIN_WINDOW_S, nvml_step_energy
    gpu = _FakeGpu()
    w = nvml_step_energy((gpu, 0), gpu.step, 0.25e-3, clock=gpu.clock, sleep=gpu.sleep)
    assert NVML_MIN_WINDOW_S == 1.0
    assert w["steps"] == 4000 and w["window_s"] >= 1.0 and w["idle_window_s"] >= 1.0
    assert w["idle_w"] == pytest.approx(61.0, rel=1e-3)
    assert w["dynamic_j"] == pytest.approx((200.0 - 61.0) * 0.25e-3, rel=1e-3)
    with pytest.raises(ValueError, match="min_window_s"):
        nvml_step_energy((gpu, 0), gpu.step, 0.25e-3, min_window_s=0.01)


def test_measured_row_reads_nvml_over_a_second():
    """The measured row on a real (CPU) step with a fake NVML counter drawing a constant 61 W
    in real time: one idle window and one busy window of ≥ 1 s each, nothing dynamic left."""
    import time

    from hwsim.cost import measure_torch_step

    class ConstantPower:
        t0 = time.perf_counter()

        def nvmlDeviceGetTotalEnergyConsumption(self, handle):
            return int(61.0 * (time.perf_counter() - self.t0) * 1e3)

    r = measure_torch_step([16, 8], 10, 4, kind="bp", repeats=1, nvml=(ConstantPower(), 0))
    assert r.metrics["energy_measured"] == 1.0
    assert r.metrics["nvml_window_s"] >= 1.0 and r.metrics["nvml_idle_window_s"] >= 1.0
    assert r.metrics["gpu_idle_w"] == pytest.approx(61.0, rel=0.01)
    assert r.energy_j["measured"] == pytest.approx(0.0, abs=61.0 * 2e-3 / r.metrics["nvml_steps"])
    assert r.energy_j["idle"] == pytest.approx(61.0 * r.total_latency_s, rel=0.01)

"""The device contract on CUDA tensors: every preset runs with knobs and inputs on the GPU, the
readout stays there, and it equals the torch path on the CPU given the same generators (the
random streams are drawn from the same CPU generators on either device). Marked ``cuda``:
skipped when no CUDA device is present (tests/conftest.py)."""
import pytest
import torch

from hwsim.presets import DEVICE_PRESETS

from .test_contract import gens, make, random_knobs

pytestmark = pytest.mark.cuda
CUDA = "cuda"


@pytest.fixture(params=sorted(DEVICE_PRESETS))
def preset(request):
    return request.param


def _on(knobs, device):
    return {k: v.to(device) for k, v in knobs.items()}


def _query(dev, knobs, x, seed=11, time_s=None):
    gp, gq = gens(seed)
    prog = dev.program(knobs, gp)
    return dev.query(prog, x, gq) if time_s is None else dev.query(prog, x, gq, time_s=time_s)


def test_device_follows_the_inputs_and_matches_the_cpu_torch_path(preset):
    dev = make(preset, 20, 12)
    dev.fused = False                                   # the CPU reference: the same torch path
    _, knobs = random_knobs(dev, P=3)
    x = torch.rand(3, 5, 20)
    cpu = _query(dev, knobs, x)
    gpu = _query(dev, _on(knobs, CUDA), x.to(CUDA))
    assert gpu.device.type == "cuda" and gpu.shape == (3, 5, 12) and not gpu.requires_grad
    # float rounding may move a value across an ADC code boundary, rarely
    assert float(((gpu.cpu() - cpu).abs() > 1e-3).float().mean()) < 0.02


def test_ideal_limit_on_cuda(preset):
    dev = make(preset, 20, 12, ideal=True)
    _, knobs = random_knobs(dev)
    x = torch.randn(7, 20)
    y = dev.query(dev.program(_on(knobs, CUDA)), x.to(CUDA))[0]
    twin = dev.digital_twin(knobs)
    torch.testing.assert_close(y.cpu(), x @ twin.T, atol=1e-4, rtol=1e-4)


def test_batched_settings_equal_separate_calls_on_cuda(preset):
    dev = make(preset, 20, 12)
    _, knobs = random_knobs(dev, P=4)
    knobs = _on(knobs, CUDA)
    x = torch.rand(4, 6, 20, device=CUDA)
    batched = _query(dev, knobs, x, seed=21)
    gp, gq = gens(21)
    progs = [dev.program({k: v[p] for k, v in knobs.items()}, gp) for p in range(4)]
    separate = torch.cat([dev.query(progs[p], x[p], gq) for p in range(4)])
    torch.testing.assert_close(batched, separate, atol=1e-5, rtol=1e-5)


def test_same_seed_same_numbers_on_cuda(preset):
    outs = []
    for _ in range(2):
        dev = make(preset, 20, 12, seed=5)
        _, knobs = random_knobs(dev, P=2)
        outs.append(_query(dev, _on(knobs, CUDA), torch.linspace(-1, 1, 60, device=CUDA).reshape(3, 20), seed=7))
    assert torch.equal(outs[0], outs[1])


def test_a_cuda_generator_works_too(preset):
    dev = make(preset, 20, 12)
    _, knobs = random_knobs(dev, P=2)
    gp, gq = torch.Generator(device=CUDA).manual_seed(1), torch.Generator(device=CUDA).manual_seed(2)
    y = dev.query(dev.program(_on(knobs, CUDA), gp), torch.rand(4, 20, device=CUDA), gq)
    assert y.device.type == "cuda" and torch.isfinite(y).all()

"""hwsim.lazy: the deferred torch import rebinds its caller's name to the real module, the
no_grad decorator and the plain-Python broadcast_shapes against torch's."""
import random
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

from hwsim.lazy import LazyModule, broadcast_shapes, no_grad

ROOT = Path(__file__).resolve().parents[2]


def test_first_attribute_read_rebinds_the_callers_name():
    mod = types.ModuleType("probe")
    mod.torch = LazyModule("torch")
    exec("def f():\n    return torch.zeros(2)\n", mod.__dict__)
    assert isinstance(mod.torch, LazyModule)
    assert torch.equal(mod.f(), torch.zeros(2))
    assert mod.torch is torch                                  # later calls: a plain global


def test_importing_the_config_layer_imports_no_torch():
    code = ("import sys\nimport experiments.config, algorithms.registry, hwsim.presets\n"
            "from algorithms.registry import ALGORITHMS\nfrom hwsim.presets import DEVICE_PRESETS\n"
            "assert len(ALGORITHMS) and len(DEVICE_PRESETS)\n"
            "print(int('torch' in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and r.stdout.strip() == "0", r.stderr


def test_no_grad_decorator():
    @no_grad
    def f(x):
        return x * 2

    assert not f(torch.ones(2, requires_grad=True)).requires_grad


def test_broadcast_shapes_equals_torch():
    rnd = random.Random(0)
    for _ in range(2000):
        shapes = [tuple(rnd.choice([0, 1, 2, 3]) for _ in range(rnd.randint(0, 4)))
                  for _ in range(rnd.randint(1, 4))]
        try:
            want = tuple(torch.broadcast_shapes(*shapes))
        except RuntimeError:
            with pytest.raises(RuntimeError):
                broadcast_shapes(*shapes)
        else:
            assert broadcast_shapes(*shapes) == want, shapes

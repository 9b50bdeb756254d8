"""CPU seconds of the first autograd-reference step in a fresh process: imports, then building
the ``bp`` stage of the tiny MLP (64-8, digits shapes) and one step. Prints whether torch's
compiler (``torch._dynamo``) and sympy were imported on the way.

Run: PYTHONPATH=<checkout> python bench/first_step.py   (one fresh process per call; compare
checkouts in interleaved calls)
"""
import sys
import time

t0 = time.process_time()
import torch  # noqa: E402

from experiments import build  # noqa: E402
from experiments.config import resolve  # noqa: E402

cfg = resolve({"model": {"hidden": [8]}})
bp = build.Blueprint.of(cfg) if hasattr(build, "Blueprint") else cfg   # older checkouts: cfg
x, y = torch.randn(16, 64), torch.arange(16) % 10
t1 = time.process_time()
trainer = build.build_stage(bp, (64,), 10, None, name="bp")
trainer.step(x, y)
t2 = time.process_time()
print(f"imports {t1 - t0:.2f} s  first bp build + step {t2 - t1:.2f} s  "
      f"torch._dynamo {int('torch._dynamo' in sys.modules)}  sympy {int('sympy' in sys.modules)}")

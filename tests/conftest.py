"""Test-wide settings: one thread per process (torch's spinning OpenMP threads make every
parallel op cost ~8 ms on small machines as soon as another process competes for the CPU)."""
import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.cuda`` tests need a CUDA device: skipped cleanly without one."""
    import pytest
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _numba_kernels_compiled():
    """Compile (or load from numba's cache) every kernel once, before the first test, with one
    announced line when anything compiles — so that cost never lands, unannounced, on whichever
    test happens to touch a kernel first."""
    import sys

    from experiments.warmup import warm_kernels
    warm_kernels(announce=True, echo=lambda line: print(line, file=sys.__stderr__, flush=True))

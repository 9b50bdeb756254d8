"""Memory preflight from the config alone: every kind's declared footprint (hwsim.kinds) against
the devices it builds, and a run too large for the machine refused in one line before any
device is built."""
import resource
import time

import numpy as np
import pytest
import torch

from experiments import build, preflight
from experiments.build import Blueprint
from experiments.config import ConfigError, resolve
from hwsim.kinds import KINDS
from hwsim.presets import DEVICE_PRESETS, device_config, layer_from_config


def array_bytes(obj) -> int:
    """Bytes of every distinct tensor storage and numpy buffer reachable from ``obj``."""
    seen, visited, total, stack = set(), set(), 0, [obj]
    while stack:
        o = stack.pop()
        if id(o) in visited:
            continue
        visited.add(id(o))
        if isinstance(o, torch.Tensor):
            st = o.untyped_storage()
            if st.data_ptr() not in seen:
                seen.add(st.data_ptr())
                total += st.nbytes()
        elif isinstance(o, np.ndarray):
            base = o.base if o.base is not None else o
            if id(base) not in seen:
                seen.add(id(base))
                total += base.nbytes
        elif isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, (list, tuple, set, frozenset)):
            stack.extend(o)
        elif hasattr(o, "__dict__") and not isinstance(o, type):
            stack.extend(vars(o).values())
    return total


#: 80 % of a 16 GiB machine: the share of the available memory a run may use
AVAILABLE = 0.8 * 16 * 2 ** 30


def _stage(cfg):
    bp = Blueprint.of(cfg)
    return bp, build.stage(bp, bp.algorithm.name, (64,))


def check(cfg):
    bp, stage = _stage(cfg)
    preflight.check_eval_memory(bp, stage, cfg.run.batch_size, AVAILABLE)


def test_every_kind_declares_a_footprint():
    assert all(k.footprint is not None for k in KINDS.values())


@pytest.mark.parametrize("preset", sorted(DEVICE_PRESETS))
def test_footprint_matches_the_built_device(preset):
    """Knobs and tiles exactly as the built device reports them; the resident estimate within a
    factor 2 of the device's actual arrays (wherever they exceed 4 KiB)."""
    config = device_config(preset)
    kind = KINDS[next(k for k in KINDS if preset in KINDS[k].presets)]
    for n_in, n_out in ((64, 32), (100, 30), (256, 128)):
        fp = kind.footprint(config, n_in, n_out)
        device = layer_from_config(config, n_in, n_out)
        info = device.info()
        assert (fp.knobs, fp.tiles, fp.tile_rows, fp.tile_cols) == \
            (info.knobs, info.tiles, info.tile_rows, info.tile_cols), (preset, n_in, n_out)
        actual = array_bytes(device)
        if actual > 4096:
            assert 0.5 <= fp.resident_bytes / actual <= 2.0, (preset, n_in, n_out, fp, actual)


@pytest.mark.parametrize("device", [{"kind": "crossbar"}, {"kind": "mzi"}, {"kind": "mrr"}])
def test_a_huge_model_is_refused_before_anything_is_built(device):
    """hidden [20000, 20000] (4·10⁸ weights; the crossbar's write counters alone would be 6.4 GB)
    on a 16 GiB machine: one line with the GiB needed and the largest model that fits, in well
    under a second and without allocating the devices."""
    cfg = resolve({"device": device, "model": {"hidden": [20000, 20000]}})
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss          # KiB on Linux
    t0 = time.process_time()
    with pytest.raises(ConfigError) as e:
        check(cfg)
    assert time.process_time() - t0 < 2.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 100 * 1024
    msg = str(e.value)
    assert "\n" not in msg and "GiB" in msg and "allowed here: at most about" in msg
    assert "device weights" in msg, msg


def test_too_many_directions_name_the_largest_count_that_fits():
    cfg = resolve({"device": {"kind": "crossbar"}, "model": {"hidden": [20000]},
                   "algorithm": {"num_directions": 4096}})
    with pytest.raises(ConfigError, match=r"num_directions = 4096 needs about .* GiB.*at most (\d+)$") as e:
        check(cfg)
    most = int(str(e.value).rsplit(" ", 1)[-1])
    fits = resolve({"device": {"kind": "crossbar"}, "model": {"hidden": [20000]},
                    "algorithm": {"num_directions": most}})
    check(fits)    # the named value fits
    over = resolve({"device": {"kind": "crossbar"}, "model": {"hidden": [20000]},
                    "algorithm": {"num_directions": most + 1}})
    with pytest.raises(ConfigError):                                     # and one more does not
        check(over)


def test_the_default_run_fits():
    cfg = resolve({})
    check(cfg)
    assert preflight.estimate_memory(*_stage(cfg), cfg.run.batch_size).total < 2 ** 30

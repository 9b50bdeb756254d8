"""The trace carries each layer's device kind (``info.kind_<kind>``), and summaries of older
results files that carry the ``info.is_mzi`` flag instead are read and priced the same."""
import pytest
import torch

from hwsim.cost.analytic import price
from hwsim.cost.gpu import summary_step_work
from hwsim.cost.spec import spec_from_mapping
from hwsim.kinds import KINDS
from hwsim.oracle import TracingOracle
from hwsim.presets import build_layer
from hwsim.trace import Trace, layer_kind


def one_step(preset: str) -> dict:
    dev = build_layer(preset, 8, 4, seed=0, name="L")
    trace = Trace()
    o = TracingOracle(dev, trace)
    trace.begin_step()
    prog = o.program(dev.knobs_from_weight(torch.randn(4, 8) / 3), torch.Generator().manual_seed(0))
    o.query(prog, torch.randn(5, 8), torch.Generator().manual_seed(1))
    return trace.end_step()


@pytest.mark.parametrize("kind", list(KINDS))
def test_summaries_name_the_kind_and_older_flags_price_the_same(kind):
    s = one_step(KINDS[kind].default_preset)
    assert layer_kind(s, "L") == kind and not any(k.endswith("is_mzi") for k in s)
    specs = {k: v for k, v in spec_from_mapping("nominal").items() if k != "gpus"}
    legacy = {k: v for k, v in s.items() if not k.startswith("L.info.kind_")}
    legacy["L.info.is_mzi"] = 1.0 if kind == "mzi" else 0.0
    if kind not in ("mzi", "crossbar"):        # kinds newer than the flag never wrote it
        return
    assert layer_kind(legacy, "L") == kind
    assert price(legacy, specs).to_dict() == price(s, specs).to_dict()
    assert summary_step_work(legacy) == summary_step_work(s)

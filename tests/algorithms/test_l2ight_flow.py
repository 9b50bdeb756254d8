"""``l2ight-flow``: the L2ight on-chip flow as one pipeline (Gu et al., NeurIPS 2021) — stage
order, per-stage tracing, the oracle boundary of the device stages, the in-situ algorithm
setting, checkpointing as data, and the CLI run end to end on tiny data."""
import json

import pytest
import torch

from algorithms import registry
from algorithms.families.l2ight_flow import FLOW_STAGES, L2ightFlowSettings, insitu_algorithms
from algorithms.model import model_from_config
from algorithms.seeds import device_seed
from experiments.data import load_dataset
from experiments.datatree import dumps, loads
from experiments.price import touched_device
from hwsim.presets import build_layer
from hwsim.trace import Trace

FLOW = "l2ight-flow"
TINY = {"pretrain_epochs": 1, "identity_iterations": 1, "mapping_iterations": 1,
        "probe_rows": 64}


@pytest.fixture(scope="module")
def digits():
    ds = load_dataset("digits", seed=0)
    return ds.x_train[:96], ds.y_train[:96], ds.x_test[:64], ds.y_test[:64]


def _flow(insitu="flops", insitu_settings=None, wrap=None, hidden=(8,), **kw):
    s = registry.settings_for(FLOW, {**TINY, "insitu": insitu,
                                     "insitu_settings": dict(insitu_settings or {}), **kw})
    model = model_from_config((64,), hidden=list(hidden))
    devs = [build_layer("mzi-l2ight", sl.n_in, sl.n_out, seed=device_seed(0, sl.stream),
                        name=sl.name) for sl in registry.device_layout(FLOW, s, model)]
    if wrap is not None:
        devs = [wrap(d) for d in devs]
    return registry.build(FLOW, s, model, devs, 10, seed=0, trace=Trace())


def _settings(summary) -> float:
    return sum(v for k, v in summary.items() if k.endswith(".program.settings"))


def test_stages_run_in_order_each_traced_and_labelled(digits):
    x, y, _, _ = digits
    flow = _flow()
    res = registry.train(flow, x, y, epochs=2, batch_size=48, seed=0, trace=flow.trainer.trace)
    tr = flow.trainer
    assert [e["stage"] for e in tr.log] == list(FLOW_STAGES)
    assert all(e["label"] for e in tr.log)
    assert [tr.log[0]["steps"], tr.log[-1]["steps"]] == [2, 2]
    work = tr.stage_summaries()
    assert not touched_device(work["pretrain"])            # autograd on the twin only
    assert all(touched_device(work[s]) for s in FLOW_STAGES[1:])
    # pretraining steps touch no device; the first in-situ step carries the calibration and
    # the mapping (so the run prices them with the device steps), the second only flops
    sums = res.step_summaries
    assert [touched_device(s) for s in sums] == [False, False, True, True]
    assert _settings(sums[2]) == (_settings(work["identity-calibration"])
                                  + _settings(work["parallel-mapping"]) + _settings(sums[3]))
    assert flow.device_queries_per_step() == _settings(sums[3])
    # each calibrated mapping lowers the relative matrix error it measures
    for st in ("identity-calibration", "parallel-mapping"):
        (before, after), = next(e for e in tr.log if e["stage"] == st)["relative_error_before_after"]
        assert after < before
    assert tr.log[2]["heads"] == "pretrained heads and biases"


class _Watched:
    """A device whose every call and attribute read from outside is logged with the flow's
    stage at that moment (the device's own methods read its internals directly)."""

    def __init__(self, dev, calls, stage):
        object.__setattr__(self, "_dev", dev)
        object.__setattr__(self, "_calls", calls)
        object.__setattr__(self, "_stage", stage)

    def __getattr__(self, name):
        v = getattr(self._dev, name)
        if callable(v):
            def call(*a, **k):
                self._calls.append((self._stage(), name))
                return v(*a, **k)
            return call
        self._calls.append((self._stage(), name))
        return v


#: The oracle contract (hwsim.oracle): what a device stage may use.
CONTRACT = {"program", "query", "program_events", "query_events", "calibrate", "knob_spec",
            "info", "hints", "capabilities", "name", "n_in", "n_out"}


@pytest.mark.parametrize("insitu", ["flops", "mfdd", "local-guess"])
def test_device_stages_read_neither_twin_nor_hidden_errors(digits, insitu):
    x, y, _, _ = digits
    calls, holder = [], {}
    stage = lambda: holder["t"].stage if "t" in holder else "build"   # noqa: E731
    flow = _flow(insitu, wrap=lambda d: _Watched(d, calls, stage))
    holder["t"] = flow.trainer
    registry.train(flow, x, y, epochs=2, batch_size=48, seed=0)
    flow.predict(x[:8])
    before = {n for s, n in calls if s in ("build", "pretrain")}
    after = {n for s, n in calls if s not in ("build", "pretrain")}
    # the spy sees the twin where it is allowed: pretraining and the design-level references
    assert {"digital_twin", "knobs_from_weight"} <= before
    assert after and after <= CONTRACT, sorted(after - CONTRACT)
    assert {"program", "query", "calibrate"} <= after


def test_insitu_accepts_every_forward_only_algorithm_and_rejects_others():
    accepted = set(insitu_algorithms())
    assert {"mfdd", "mfdd-thesis", "frog", "local-guess", "activity", "frozen", "sff", "ff",
            "flops", "mixedtrain", "zo-sign"} <= accepted
    for name in accepted:
        assert L2ightFlowSettings(insitu=name).insitu_object() is not None
    others = [n for n in registry.ALGORITHMS if n not in accepted]
    assert {"bp", "mf-ad", "bp-deploy", "hwa-deploy", "tt-autograd", "insitu-bp", "ficonn-spsa",
            "tt-zo", FLOW} <= set(others)
    for name in others + ["nope"]:
        with pytest.raises(ValueError) as e:
            L2ightFlowSettings(insitu=name)
        msg = str(e.value)
        assert "\n" not in msg and msg.startswith(f"L2ightFlowSettings.insitu = {name!r}; allowed")
        assert "flops" in msg
    with pytest.raises(ValueError, match=r"^algorithm 'flops': unknown settings \['lr'\]"):
        L2ightFlowSettings(insitu="flops", insitu_settings={"lr": 1.0})


@pytest.mark.parametrize("insitu", insitu_algorithms())
def test_every_accepted_algorithm_runs_the_insitu_stage(digits, insitu):
    x, y, _, _ = digits
    example = dict(registry.ALGORITHMS[insitu].example)
    flow = _flow(insitu, example)
    registry.train(flow, x, y, epochs=2, batch_size=96, seed=0)
    assert flow.trainer.stage == "in-situ"
    assert flow.trainer.inner.name == insitu
    p = flow.predict(x[:8])
    assert p.shape == (8,) and p.dtype == torch.long


def test_checkpoint_as_data_continues_identically(digits):
    x, y, xt, _ = digits
    flow = _flow(insitu_settings={"lr_rad": 0.01})
    res = registry.train(flow, x, y, epochs=2, batch_size=48, seed=0)
    blob = dumps({"model": flow, "result": res})
    back, _ = loads(blob)
    a = registry.train(flow, x, y, epochs=3, batch_size=48, seed=0, result=res)
    b = registry.train(back["model"], x, y, epochs=3, batch_size=48, seed=0,
                       result=back["result"])
    assert back["model"].trainer.stage == "in-situ"
    assert a.step_losses == b.step_losses
    assert torch.equal(flow.predict(xt), back["model"].predict(xt))


def test_epochs_must_leave_insitu_learning():
    from algorithms.families.l2ight_flow import check_epochs
    s = L2ightFlowSettings(pretrain_epochs=2)
    with pytest.raises(ValueError, match=r"^run.epochs = 2; allowed: more than algorithm"):
        check_epochs(s, 2)
    check_epochs(s, 3)


def test_cli_run_end_to_end_on_tiny_data(tmp_path, monkeypatch, capsys):
    from experiments.cli import main
    from experiments.results import read_results
    monkeypatch.chdir(tmp_path)
    common = ["run", "--algorithm", FLOW, "--quiet", "--set", "model.hidden=[8]",
              "--set", "run.references=false", "--set", "run.batch_size=512",
              *[a for k, v in TINY.items() if k != "pretrain_epochs"
                for a in ("--set", f"algorithm.settings.{k}={v}")]]
    assert main([*common, "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "run.epochs = 1; allowed: more than algorithm.settings.pretrain_epochs" in err
    assert not list(tmp_path.glob("results/*.h5"))
    assert main([*common, "--epochs", "2"]) == 0, capsys.readouterr().err
    rec = read_results(next(tmp_path.glob("results/run-*.h5")))
    assert rec.status == "ok" and len(rec.history["test_accuracy"]) == 2
    stages = json.loads(rec.meta["stages"])
    assert [s["stage"] for s in stages] == list(FLOW_STAGES)
    assert stages[0]["device"]["settings"] == 0 and stages[1]["device"]["vectors"] > 0
    # the device row averages the device steps only (the in-situ steps, the first carrying the
    # calibration and mapping); the twin steps are priced on the GPU rows of the BP step
    from experiments import labels
    from experiments.price import mean_summary
    assert labels.device_row("mzi-default", FLOW) in rec.costs
    assert labels.gpu_row("H100 SXM5", labels.BP_ROW) in rec.costs
    device_steps = [s for s in rec.step_summaries if touched_device(s)]
    assert len(rec.step_summaries) == stages[0]["steps"] + stages[3]["steps"]
    assert len(device_steps) == stages[3]["steps"]
    work = sum(s["device"]["settings"] for s in stages[1:])
    assert mean_summary(device_steps) and _settings(mean_summary(device_steps)) * len(
        device_steps) == pytest.approx(work)


def test_identity_reference_is_half_identity_per_block_and_nominal_knobs_invert_nominal():
    from algorithms.families.l2ight_flow import identity_reference
    from hwsim.oracle import TracingOracle
    dev = build_layer("mzi-l2ight", 20, 12, seed=0, name="l")      # 8×8 blocks, cropped edges
    o = TracingOracle(dev, Trace())
    knobs, w = identity_reference(o)
    k = 8
    tiled = (torch.arange(12)[:, None] % k == torch.arange(20)[None, :] % k).float()
    # closed form: U = V = I, σ = cos(π/3) = 0.5, gain 1 → 0.5·I in every block
    torch.testing.assert_close(w, 0.5 * tiled, atol=1e-5, rtol=0)
    target = torch.randn(12, 20, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(o.nominal(o.nominal_knobs(target)), target, atol=1e-4, rtol=0)
    assert not o.trace.events                      # design knowledge: no device query


def test_insitu_settings_round_trip_through_the_config_and_bad_ones_are_one_line():
    import tomllib

    from experiments.config import ConfigError, config_to_toml, resolve
    cfg = resolve({"algorithm": {"name": FLOW, "settings": {
        "insitu": "mfdd", "insitu_settings": {"num_directions": 4}}}})
    again = resolve(tomllib.loads(config_to_toml(cfg)))
    assert again.algorithm.settings["insitu_settings"] == {"num_directions": 4}
    assert again.run_id == cfg.run_id
    with pytest.raises(ConfigError) as e:
        resolve({"algorithm": {"name": FLOW, "settings": {"insitu": "bp"}}})
    assert "\n" not in str(e.value) and "L2ightFlowSettings.insitu = 'bp'; allowed" in str(e.value)

"""``forwardlab reproduce``: --list, the quick version of every reproduction, bad input."""
import json
import math

import pytest

from experiments.cli import main
from experiments.reproduce import REPRODUCTIONS


def test_list_names_every_reproduction(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(REPRODUCTIONS) >= 2
    assert any(line.startswith("pai2023") and "94" in line for line in out)
    assert any(line.startswith("ficonn2024") and "92.5" in line for line in out)


@pytest.mark.parametrize("name", sorted(REPRODUCTIONS))
def test_quick_reproduction_writes_table_results_and_report(tmp_path, capsys, name):
    out = tmp_path / name
    assert main(["reproduce", name, "--quick", "--seeds", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "published" in text and "forwardlab (mean ± sd)" in text
    res = json.loads((out / "results.json").read_text())
    assert res["quick"] and len(res["per_seed"]) == 1
    keys = {r["metric"] for r in res["table"]}
    assert {p.key for p in REPRODUCTIONS[name].published} <= keys
    for f in ("table.csv", "cost.csv", "report.md", "curves.png", "energy.png"):
        assert (out / f).stat().st_size > 0
    parts = REPRODUCTIONS[name].parts(REPRODUCTIONS[name].quick)
    for part in parts:                  # every finished job kept on its own as it ends
        stem = "seed0" + ("" if part is None else f"-{part}")
        kept = json.loads((out / "partial" / f"{stem}.json").read_text())
        assert kept["metrics"] and set(kept["metrics"]) <= set(res["per_seed"][0]["metrics"])
    # every in-situ run was priced and counted its optical passes
    priced = [c for c in res["cost"] if c["optical_passes"] > 0]
    assert priced and all(c["energy_per_step_j"] > 0 for c in priced)
    if name == "ficonn2024":
        assert "SYNTHETIC" in res["label"]
    if name == "pai2023":        # every forward-only algorithm ran on the device, priced
        from experiments.reproduce.pai2023 import FORWARD_ONLY
        runs = {c["run"]: c for c in res["cost"]}
        for alg in FORWARD_ONLY:
            assert f"moons/{alg}/test_acc" in keys
            assert runs[f"moons/{alg}"]["optical_passes"] > 0
            assert runs[f"moons/{alg}"]["energy_per_step_j"] > 0
    assert main(["reproduce", name, "--quick", "--seeds", "1", "--out", str(out)]) == 2


def test_bad_input_is_one_line(capsys):
    assert main(["reproduce", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "allowed: " in err and "pai2023" in err
    assert main(["reproduce", "pai2023", "--seeds", "0"]) == 2
    assert "seeds = 0" in capsys.readouterr().err
    assert main(["reproduce"]) == 2


def test_missing_vowel_file_fails_before_training_and_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["reproduce", "ficonn2024", "--seeds", "1", "--out", str(out),
                 "--data-dir", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "vowdata.dat not found" in err
    assert not out.exists()


def test_error_free_inference_keeps_the_chip_and_drops_only_per_query_errors():
    """The authors' simulations evaluate test accuracy with every field error and the shot
    noise at 0 (photonicbackprop mnist_insitu_eval.py): same static chip, no per-query noise."""
    import dataclasses

    import torch

    from experiments.reproduce.common import QUERY_ERRORS, build_device, error_free_device
    noisy, clean = build_device("pai-4port", 3), error_free_device("pai-4port", 3)
    assert all(getattr(clean.config, f) == 0.0 for f in QUERY_ERRORS)
    assert dataclasses.replace(clean.config, **{f: getattr(noisy.config, f)
                                                for f in QUERY_ERRORS}) == noisy.config
    assert torch.equal(clean._amplitude, noisy._amplitude)        # same fabricated losses
    knobs = {"phases": torch.rand(3, 16, generator=torch.Generator().manual_seed(0)) * 6}
    x = torch.rand(5, 4, generator=torch.Generator().manual_seed(1))
    a, b = (clean.query(clean.program(knobs), x, torch.Generator().manual_seed(s)) for s in (0, 1))
    assert torch.equal(a, b)                                       # no per-query draw left
    n1, n2 = (noisy.query(noisy.program(knobs), x, torch.Generator().manual_seed(s))
              for s in (0, 1))
    assert not torch.equal(n1, n2)


def test_unknown_inference_mode_is_one_line():
    from algorithms.optical_readout import Readout
    from experiments.reproduce.common import run_algorithm
    with pytest.raises(ValueError, match="inference = 'noisy'; allowed: device, error-free"):
        run_algorithm("insitu-bp", {}, "pai-4port", Readout(), (None,) * 4, 0, inference="noisy")


def test_layer_local_algorithms_train_through_the_chip_layers_only():
    """mfdd on the Pai chip: one oracle per mesh layer of the same chip (no adjoint), the
    same initial phases as insitu-bp at the seed, and its optical passes counted as layer
    vectors ÷ L from its own trace."""
    import torch

    from experiments.planar import circular_bias, load_planar
    from algorithms.optical_readout import Readout
    from experiments.reproduce.common import ALGORITHM_BUILDERS, build_device, start_knobs
    from hwsim.trace import MvmEvent
    device = build_device("pai-4port", 2)
    knobs = start_knobs(device, "haar", 2)
    tr, trace = ALGORITHM_BUILDERS["mfdd"](device, Readout(), {"epochs": 1, "batch": 8,
                                                               "num_directions": 4}, 2, knobs)
    oracles = tr.trainable.trainer.net.oracles
    assert len(oracles) == 3 and all("adjoint" not in o.capabilities for o in oracles)
    for i, o in enumerate(oracles):
        assert o.name == f"pai-4port/layer{i}"
        theta = tr.trainable.trainer.state.theta[i]       # range units: phase / 2π
        assert torch.allclose(theta * 2 * math.pi, knobs["phases"][i], atol=1e-5)
    x, y, _, _ = load_planar("moons", 0, n=40)
    trace.begin_step()
    start = len(trace.events)
    info = tr.step(circular_bias(x[:8]), y[:8])
    vectors = sum(e.vectors for e in trace.events[start:] if isinstance(e, MvmEvent))
    assert info["passes"] == vectors / 3 > 0


class _FakeTrainable:
    """Steps report a fixed loss and one pass; predict returns the trainable's tag."""

    def __init__(self, tag, loss):
        self.tag, self.loss, self.steps, self.epochs = tag, loss, 0, []

    def begin_epoch(self, epoch):
        self.epochs.append(epoch)

    def step(self, x, y):
        self.steps += 1
        return {"loss": self.loss, "passes": 1}

    def predict(self, x):
        return self.tag


def test_restarts_screen_every_start_on_the_same_batches_then_keep_the_lowest_loss():
    from experiments.reproduce.common import Restarts
    cands = [_FakeTrainable(i, loss) for i, loss in enumerate((0.6, 0.3, 0.5))]
    r = Restarts(cands, screen_epochs=2)
    for epoch in range(4):
        r.begin_epoch(epoch)
        for _ in range(3):
            info = r.step(None, None)
            # screening: all three step and their passes add up; after: the kept one alone
            assert info["passes"] == (3 if epoch < 2 else 1)
    assert r.kept == 1 and r.predict(None) == 1
    assert [c.steps for c in cands] == [6, 12, 6]
    assert cands[1].epochs == [0, 1, 2, 3] and cands[0].epochs == [0, 1]


def test_screening_to_the_end_keeps_the_lowest_final_loss_and_counts_every_pass():
    """screen_epochs = epochs (the pai2023 protocol): every start trains to the end, the one
    whose last-epoch training loss is lowest predicts, and the curve's final_train_loss is that
    epoch's mean measured loss."""
    import torch

    from experiments.reproduce.base import train_curve
    from experiments.reproduce.common import Restarts

    class Decaying(_FakeTrainable):          # loss falls by `rate` per step from 1
        def __init__(self, tag, rate):
            super().__init__(tag, 1.0)
            self.rate = rate

        def step(self, x, y):
            self.steps += 1
            return {"loss": 1.0 - self.rate * self.steps, "passes": 1}

        def predict(self, x):
            return torch.full((len(x),), self.tag)
    # start 1 is ahead early, start 2 ends lowest
    cands = [Decaying(0, 0.01), Decaying(1, 0.02), Decaying(2, 0.03)]
    cands[1].steps = 0
    r = Restarts(cands, screen_epochs=3)
    x, y = torch.zeros(8, 2), torch.full((8,), 2)
    curve = train_curve(r, x, y, x, y, epochs=3, batch=4, seed=0, trace=None, evals=1)
    assert r.kept is None and r.predict(x)[0] == 2 and curve.accuracy[-1] == 1.0
    assert curve.passes[-1] == 3 * 6                           # all three starts, every step
    # Restarts reports the lowest candidate loss of a step: start 2's, steps 5 and 6
    assert curve.final_train_loss == pytest.approx(1.0 - 0.03 * 5.5)


def test_restarts_of_one_start_is_the_plain_run_and_bad_counts_are_one_line():
    import torch

    from algorithms.optical_readout import Readout
    from experiments.planar import circular_bias, load_planar
    from experiments.reproduce.common import run_algorithm, start_knobs, build_device
    xtr, ytr, xte, yte = load_planar("moons", 0, n=60)
    data = (circular_bias(xtr), ytr, circular_bias(xte), yte)
    base = {"lr": 0.05, "epochs": 2, "batch": 16}
    one = run_algorithm("insitu-bp", base, "pai-4port", Readout(), data, 0, evals=2)
    same = run_algorithm("insitu-bp", {**base, "restarts": 1}, "pai-4port", Readout(), data, 0,
                         evals=2)
    assert one.accuracy == same.accuracy and one.passes == same.passes
    three = run_algorithm("insitu-bp", {**base, "restarts": 3, "screen_epochs": 1},
                          "pai-4port", Readout(), data, 0, evals=2)
    # epoch 0 screens three starts (3x the passes of a plain epoch), epoch 1 runs one
    assert three.passes[-1] == 2 * one.passes[-1]
    device = build_device("pai-4port", 0)
    a, b = (start_knobs(device, "uniform", 0, r)["phases"] for r in (0, 1))
    assert not torch.equal(a, b)
    with pytest.raises(ValueError, match="restarts = 0 for insitu-bp; allowed"):
        run_algorithm("insitu-bp", {**base, "restarts": 0}, "pai-4port", Readout(), data, 0)
    with pytest.raises(ValueError, match="restarts = 2 for mfdd; allowed"):
        run_algorithm("mfdd", {**base, "restarts": 2}, "pai-4port", Readout(), data, 0)


def _toy_reproduction(calls):
    """A registered-looking reproduction whose seeds cost nothing (the run machinery alone)."""
    from experiments.reproduce.base import Published, Reproduction

    def run_seed(config, seed, data_dir=None, part=None):
        calls.append((seed, part))
        acc = 0.5 + 0.1 * seed + (0.01 if part == "b" else 0.0)
        curve = {"passes": [0, 10], "energy_j": [0.0, 1e-6], "latency_s": [0.0, 1e-9],
                 "accuracy": [0.5, acc], "steps": 2, "step_energy_j": 5e-7, "step_latency_s": 5e-10}
        return {"metrics": {f"{part}/alg/test_acc": acc}, "curves": {f"{part}/alg": curve}}

    return Reproduction(name="toy", paper="toy", headline="toy", config={"tasks": ["a", "b"]},
                        quick={"tasks": ["a", "b"]},
                        published=(Published("a/alg/test_acc", 0.6, 0.1, "toy"),),
                        chip=(), run_seed=run_seed, parts=lambda c: list(c["tasks"]))


def test_resume_runs_only_the_jobs_an_interrupted_run_did_not_finish(tmp_path, monkeypatch):
    from experiments.reproduce import run as run_mod
    calls = []
    monkeypatch.setitem(run_mod.REPRODUCTIONS, "toy", _toy_reproduction(calls))
    out = tmp_path / "toy"
    full = run_mod.reproduce("toy", seeds=2, out=out, echo=lambda *a: None)
    assert len(calls) == 4 and (out / "partial" / "seed1-b.json").exists()
    (out / "results.json").unlink()                       # as if interrupted after 3 jobs
    (out / "partial" / "seed1-b.json").unlink()
    calls.clear()
    again = run_mod.reproduce("toy", seeds=2, out=out, resume=True, echo=lambda *a: None)
    assert calls == [(1, "b")]
    assert again["per_seed"] == full["per_seed"] and again["table"] == full["table"]
    # partial results of another protocol are refused in one line, before any job runs
    (out / "results.json").unlink()
    (out / "partial" / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="made with another config; allowed"):
        run_mod.reproduce("toy", seeds=2, out=out, resume=True, echo=lambda *a: None)
    with pytest.raises(ValueError, match="partial/config.json not found; allowed"):
        run_mod.reproduce("toy", seeds=1, out=tmp_path / "new", resume=True, echo=lambda *a: None)


def test_a_mean_equal_to_the_bound_up_to_float32_rounding_is_inside():
    import torch

    from experiments.reproduce.base import Published
    from experiments.reproduce.run import _inside
    acc = float(torch.tensor(0.94, dtype=torch.float32))          # 0.9399999976…
    assert acc < 0.94 and _inside(Published("k", 0.94, 0.0, "s", "at-least"), acc)
    assert not _inside(Published("k", 0.94, 0.0, "s", "at-least"), 0.93)
    assert _inside(Published("k", 0.0, 0.02, "s"), 0.02 + 1e-9)
    assert not _inside(Published("k", 0.0, 0.02, "s"), 0.03)


def test_pai2023_whole_network_algorithms_share_one_restart_rule():
    """Every whole-network algorithm on the Pai chip (in situ, forward-only and the digital
    model) runs the same K starts to the end, so at a seed all start from the same phase sets
    and the "within 2 points of the digital model" rows compare algorithms, not restart rules."""
    from experiments.reproduce.pai2023 import CONFIG
    whole = {a: s for a, s in CONFIG["algorithms"].items()
             if a in ("insitu-bp", "ficonn-spsa", "bp-twin")}
    assert len(whole) == 3
    assert {s["restarts"] for s in whole.values()} == {6}
    assert all(s["screen_epochs"] == s["epochs"] for s in whole.values())
    # the digital model trains as long as the in-situ rule it is the reference for
    assert whole["bp-twin"]["epochs"] == whole["insitu-bp"]["epochs"]

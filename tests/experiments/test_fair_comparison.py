"""Fair comparisons by construction: at one seed every stage of a run and every algorithm see
the same minibatch order, start from the same initial knobs and train on the same fabricated
devices (algorithms.seeds names the streams; the run controller draws every stage's batches
from the one ``batches`` stream)."""
import torch

from experiments import runner
from experiments.config import resolve


def _cfg(tmp_path, algorithm: str, references: bool):
    return resolve({"run": {"epochs": 1, "seed": 5, "batch_size": 512, "references": references,
                            "checkpoint": False,
                            "out": str(tmp_path / f"{algorithm}.h5")},
                    "model": {"hidden": [8]}, "algorithm": {"name": algorithm},
                    "cost": {"gpus": ["H100 SXM5"]}})


def _spy(monkeypatch, seen: dict):
    real = runner.train

    def train(model, **kw):
        t = model.trainer
        fixed = t.fixed if hasattr(t, "fixed") else t.state.fixed     # initial knob dicts
        oracles = t.net.oracles if hasattr(t, "net") else t.deploy.net.oracles \
            if getattr(t, "deploy", None) else None
        entry = seen[model.name] = {"batches": [], "knobs": [{k: v.clone() for k, v in d.items()}
                                                             for d in fixed]}
        if oracles is not None:           # the fabricated device: its answer to one query
            x = torch.ones(1, oracles[0].n_in)
            prog = oracles[0]._device.program(fixed[0], torch.Generator().manual_seed(0))
            entry["device"] = oracles[0]._device.query(prog, x, torch.Generator().manual_seed(0))
        step = model.step

        def recording(x, y, stages=None):
            entry["batches"].append(x.clone())
            return step(x, y, stages)
        model.step = recording
        return real(model, **kw)
    monkeypatch.setattr(runner, "train", train)


def test_two_algorithms_and_the_references_see_the_same_batches_and_knobs(tmp_path, monkeypatch):
    seen: dict = {}
    _spy(monkeypatch, seen)
    quiet = lambda *a: None    # noqa: E731
    runner.run(_cfg(tmp_path, "mfdd", True), echo=quiet)
    runner.run(_cfg(tmp_path, "local-guess", False), echo=quiet)
    assert set(seen) == {"mfdd", "mf-ad", "bp", "local-guess"}
    first = seen["mfdd"]
    assert len(first["batches"]) == 3            # 1437 examples in batches of 512
    for name, entry in seen.items():
        assert len(entry["batches"]) == len(first["batches"]), name
        assert all(torch.equal(a, b) for a, b in zip(entry["batches"], first["batches"])), name
        assert all(torch.equal(a[k], b[k]) for a, b in zip(entry["knobs"], first["knobs"])
                   for k in a), name
    assert torch.equal(seen["local-guess"]["device"], first["device"])

"""Every shipped example TOML parses and resolves (run configs with ``experiments.config.resolve``,
sweep files by expanding every point), and each run example names the number to compare with."""
from pathlib import Path

import pytest

from experiments.config import load_toml, resolve
from experiments.sweep import plan_sweep

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.toml"))


def test_examples_exist():
    names = {p.stem for p in EXAMPLES}
    assert {"sff-cnn-fashion", "sff-mlp-fashion", "ff-mnist-hinton", "mfdd-thesis-fashion",
            "mfdd-fashion"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_parses_and_resolves(path):
    doc = load_toml(path)
    if "sweep" in doc:
        plan = plan_sweep(path)
        assert plan.mappings
        for m in plan.mappings:
            resolve(m)
        return
    cfg = resolve(doc)
    assert cfg.algorithm.name == doc["algorithm"]["name"]
    text = path.read_text()
    assert "Compare with:" in text and "forwardlab run --config examples/" in text

"""The tiny run config the experiments tests start from (one hidden layer of 8, P = 2 knob
directions: a digits epoch takes well under a second), and the part of a
stored run that must reproduce exactly."""

from experiments.price import MEASURED_PREFIX


def tiny_toml(*, epochs: int = 1, batch_size: int = 512, references: bool | None = None) -> str:
    """Nested TOML of the tiny run; ``references`` unset keeps the default (on)."""
    refs = "" if references is None else f"references = {str(references).lower()}\n"
    return ("[model]\nhidden = [8]\n"
            "[algorithm]\nnum_directions = 2\n"
            f"[run]\nepochs = {epochs}\nbatch_size = {batch_size}\n{refs}"
            "[cost]\ngpus = [\"H100 SXM5\"]\n")


def reproducible_costs(costs: dict) -> dict:
    """Cost rows without the timed ones ("measured ...": the step run with torch here), which
    differ from run to run."""
    return {n: d for n, d in costs.items() if not n.startswith(MEASURED_PREFIX)}


def stop_after(n: int):
    """A run's ``stop()`` that turns true at its ``n``-th poll (one poll per training step)."""
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= n
    return stop

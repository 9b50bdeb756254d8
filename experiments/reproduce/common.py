"""Building blocks shared by the photonic reproductions: device + tracing oracle from a preset,
the algorithms by name, and the per-inference latency priced from one traced query."""
from __future__ import annotations

import torch

from algorithms.baselines.meshnet_twin import TwinBP, TwinBPSettings
from algorithms.ficonn_spsa import FICONNSPSA, FICONNSPSASettings
from algorithms.insitu_bp import InSituBP, InSituBPSettings
from algorithms.optical_readout import Readout
from hwsim.cost.analytic import price
from hwsim.cost.spec import photonic_spec
from hwsim.oracle import TracingOracle
from hwsim.photonic.meshnet import MeshNetwork
from hwsim.photonic.network_presets import NETWORK_PRESETS
from hwsim.trace import Trace

from .base import Curve, train_curve

__all__ = ["ALGORITHM_BUILDERS", "run_algorithm", "inference_latency_s", "build_device"]


def build_device(preset: str, seed: int) -> MeshNetwork:
    if preset not in NETWORK_PRESETS:
        raise ValueError(f"device preset = {preset!r}; allowed: {', '.join(NETWORK_PRESETS)}")
    return MeshNetwork(NETWORK_PRESETS[preset](), seed=seed, name=preset)


def _total_steps(s: dict) -> int | None:
    """Steps of the whole run when the settings ask for a cosine decay ("decay": true)."""
    if not s.get("decay"):
        return None
    return s["epochs"] * -(-s["n_train"] // s["batch"])


def _insitu(device, readout, s, seed):
    trace = Trace()
    st = InSituBPSettings(lr=s["lr"], readout=readout, decay_steps=_total_steps(s))
    return InSituBP(TracingOracle(device, trace), st, seed=seed), trace


def _spsa(device, readout, s, seed):
    trace = Trace()
    st = FICONNSPSASettings(delta=s["delta"], lr=s["lr"], readout=readout,
                            decay_steps=_total_steps(s))
    return FICONNSPSA(TracingOracle(device, trace), st, seed=seed), trace


def _twin(device, readout, s, seed):
    st = TwinBPSettings(lr=s["lr"], readout=readout, decay_steps=_total_steps(s))
    return TwinBP(device, st, seed=seed), None


#: name → builder(device, readout, settings, seed) → (trainable, trace or None)
ALGORITHM_BUILDERS = {"insitu-bp": _insitu, "ficonn-spsa": _spsa, "bp-twin": _twin}


def run_algorithm(name: str, settings: dict, preset: str, readout: Readout, data, seed: int,
                  evals: int = 10) -> Curve:
    """Train algorithm ``name`` on a fresh device of ``preset`` (device seed = run seed) and
    return its curve; ``data`` = (x_train, y_train, x_test, y_test) already encoded."""
    if name not in ALGORITHM_BUILDERS:
        raise ValueError(f"algorithm = {name!r}; allowed: {', '.join(ALGORITHM_BUILDERS)}")
    torch.set_num_threads(1)
    device = build_device(preset, seed)
    xtr, ytr, xte, yte = data
    settings = {**settings, "n_train": len(xtr)}
    trainable, trace = ALGORITHM_BUILDERS[name](device, readout, settings, seed)
    return train_curve(trainable, xtr, ytr, xte, yte, epochs=settings["epochs"],
                       batch=settings["batch"], seed=seed, trace=trace, evals=evals)


def inference_latency_s(preset: str, x: torch.Tensor) -> tuple[float, float]:
    """(latency s, energy J) of one inference (one input vector through the whole network),
    priced from its traced query alone (no programming), nominal photonic spec."""
    device = build_device(preset, 0)
    trace = Trace()
    oracle = TracingOracle(device, trace)
    knobs = {n: torch.zeros(ks.shape) for n, ks in device.knob_spec.items()}
    prog = oracle.program(knobs)
    trace.begin_step()
    oracle.query(prog, x[:1])
    report = price(trace.end_step(), photonic_spec("nominal"))
    return sum(report.latency_s.values()), sum(report.energy_j.values())

"""Building blocks shared by the photonic reproductions: device + tracing oracle from a preset,
the algorithms by name, and the per-inference latency priced from one traced query."""
from __future__ import annotations

import dataclasses

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
    st = InSituBPSettings(lr=s["lr"], readout=readout.kind, readout_scale=readout.scale,
                          decay_steps=_total_steps(s) or 0)
    return InSituBP(TracingOracle(device, trace), st, seed=seed), trace


def _spsa(device, readout, s, seed):
    trace = Trace()
    st = FICONNSPSASettings(delta=s["delta"], lr=s["lr"], readout=readout.kind,
                            readout_scale=readout.scale, decay_steps=_total_steps(s) or 0)
    return FICONNSPSA(TracingOracle(device, trace), st, seed=seed), trace


def _twin(device, readout, s, seed):
    st = TwinBPSettings(lr=s["lr"], readout=readout, decay_steps=_total_steps(s))
    return TwinBP(device, st, seed=seed), None


#: name → builder(device, readout, settings, seed) → (trainable, trace or None)
ALGORITHM_BUILDERS = {"insitu-bp": _insitu, "ficonn-spsa": _spsa, "bp-twin": _twin}


#: MeshNetworkConfig fields drawn anew at every query (measurement errors), as opposed to the
#: static fabrication and quantization of the chip (meshnet module docstring)
QUERY_ERRORS = ("phase_noise_rad", "io_amp_error", "io_phase_error", "monitor_noise",
                "readout_noise")
INFERENCE = ("device", "error-free")


def error_free_device(preset: str, seed: int) -> MeshNetwork:
    """The chip of ``preset`` and ``seed`` (same static phase errors, shifter losses and
    quantizers) with every per-query measurement error off: the authors' simulations evaluate
    test accuracy this way (``photonicbackprop`` ``mnist/mnist_insitu_eval.py``: all field errors
    and poiss_K set to 0, saved as ``test_acc_epochs_noerrorinf``)."""
    config = dataclasses.replace(NETWORK_PRESETS[preset](), **{f: 0.0 for f in QUERY_ERRORS})
    return MeshNetwork(config, seed=seed, name=preset)


def _trained_knobs(trainable) -> dict:
    knobs = getattr(trainable, "knobs", None)
    if knobs is None:                      # the twin baseline keeps autograd parameters
        knobs = {n: p.detach().float() for n, p in trainable.params.items()}
    return knobs


def run_algorithm(name: str, settings: dict, preset: str, readout: Readout, data, seed: int,
                  evals: int = 10, inference: str = "device") -> Curve:
    """Train algorithm ``name`` on a fresh device of ``preset`` (device seed = run seed) and
    return its curve; ``data`` = (x_train, y_train, x_test, y_test) already encoded.
    ``inference``: test accuracy from queries of the training device ("device", every
    measurement error on) or of the same chip without per-query errors ("error-free", see
    :func:`error_free_device`); either way the final accuracy under device inference is in
    ``curve.device_accuracy``."""
    if name not in ALGORITHM_BUILDERS:
        raise ValueError(f"algorithm = {name!r}; allowed: {', '.join(ALGORITHM_BUILDERS)}")
    if inference not in INFERENCE:
        raise ValueError(f"inference = {inference!r}; allowed: {', '.join(INFERENCE)}")
    torch.set_num_threads(1)
    device = build_device(preset, seed)
    xtr, ytr, xte, yte = data
    settings = {**settings, "n_train": len(xtr)}
    trainable, trace = ALGORITHM_BUILDERS[name](device, readout, settings, seed)
    predict = None
    if inference == "error-free":
        clean = error_free_device(preset, seed)
        predict = lambda x: readout.predict(clean.query(clean.program(_trained_knobs(trainable)),
                                                        x)[0])
    curve = train_curve(trainable, xtr, ytr, xte, yte, epochs=settings["epochs"],
                        batch=settings["batch"], seed=seed, trace=trace, evals=evals,
                        predict=predict)
    curve.device_accuracy = float((trainable.predict(xte) == yte).float().mean())
    return curve


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

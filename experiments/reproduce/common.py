"""Building blocks shared by the photonic reproductions: device + tracing oracle from a preset,
the algorithms by name, and the per-inference latency priced from one traced query."""
from __future__ import annotations

import dataclasses
from typing import Mapping

import torch

from algorithms import registry
from algorithms.baselines.meshnet_twin import TwinBP, TwinBPSettings
from algorithms.ficonn_spsa import FICONNSPSA, FICONNSPSASettings
from algorithms.insitu_bp import InSituBP, InSituBPSettings
from algorithms.meshnet_common import initial_knobs
from algorithms.seeds import generator
from algorithms.model import Amplitude, Dense, ModelDescription
from algorithms.optical_readout import Readout
from hwsim.cost.analytic import price
from hwsim.cost.spec import photonic_spec
from hwsim.oracle import TracingOracle
from hwsim.oracle import KnobSpec
from hwsim.photonic.decompose import decompose, haar_unitary
from hwsim.photonic.meshnet import MeshNetwork
from hwsim.photonic.network_presets import NETWORK_PRESETS
from hwsim.photonic.topology import build_topology
from hwsim.trace import MvmEvent, Trace

from .base import Curve, train_curve

__all__ = ["ALGORITHM_BUILDERS", "run_algorithm", "inference_latency_s", "build_device",
           "LAYER_LOCAL", "LayerLocal", "layer_model", "start_knobs", "haar_knobs", "INITIALISERS",
           "Restarts"]

#: Mono-Forward algorithms of the registry run on the chip's layers (:class:`LayerLocal`)
LAYER_LOCAL = ("mfdd", "frog")


def build_device(preset: str, seed: int) -> MeshNetwork:
    if preset not in NETWORK_PRESETS:
        raise ValueError(f"device preset = {preset!r}; allowed: {', '.join(NETWORK_PRESETS)}")
    return MeshNetwork(NETWORK_PRESETS[preset](), seed=seed, name=preset)


def _total_steps(s: dict) -> int | None:
    """Steps of the whole run when the settings ask for a cosine decay ("decay": true)."""
    if not s.get("decay"):
        return None
    return s["epochs"] * -(-s["n_train"] // s["batch"])


def haar_knobs(spec: Mapping[str, KnobSpec], mesh: str, generator: torch.Generator
               ) -> dict[str, torch.Tensor]:
    """The initial knobs of :func:`initial_knobs` with every layer's phases set to a Haar-random
    unitary decomposed onto the mesh ``mesh`` (its topology is part of the design, like the knob
    spec), output screen γ = 0.

    This is the authors' start for the Pai et al. network: ``solgaardlab/phox``
    ``phox/apps/onn.py`` ``Tri`` takes its initial θ, φ from simphox ``triangular(4)``, which
    decomposes ``scipy.stats.unitary_group.rvs(4)`` (a Haar-random unitary, simphox
    ``simphox/circuit/matrix.py`` ``triangular``) onto the triangular mesh, and sets the γ
    screen to zero ("useful hack for this demo": the |·| after every layer discards output
    phases). Uniform phases instead over-weight MZIs near the bar/cross ends of a triangular
    mesh's deep MZIs compared with the Haar measure (Russell et al., New J. Phys. 19, 033007
    (2017); Pai et al., Phys. Rev. Applied 11, 064044 (2019)). Shapes: "phases" (L, N²)."""
    out = initial_knobs(spec, generator)
    layers, n2 = spec["phases"].shape
    n = int(round(n2 ** 0.5))
    topology = build_topology(mesh, n)
    rows = []
    for _ in range(layers):
        theta, phi, _gamma = decompose(haar_unitary(n, generator), topology)
        rows.append(torch.cat([theta, phi, torch.zeros(n, dtype=theta.dtype)]))
    out["phases"] = torch.stack(rows).float()
    return out


#: initial phase distributions of the whole-network runs: ``uniform`` (every phase uniform on
#: [0, 2π)) and ``haar`` (every layer a Haar-random unitary, the authors' start: haar_knobs)
INITIALISERS = ("uniform", "haar")


def start_knobs(device: MeshNetwork, init: str, seed: int, start: int = 0) -> dict:
    """The initial knobs of every algorithm at ``seed`` (stream ``init/knobs``; candidate
    ``start`` > 0 of a :class:`Restarts` run draws from ``init/knobs/<start>``): ``uniform``
    phases or ``haar`` layers (:func:`haar_knobs`, on the device's declared mesh topology)."""
    if init not in INITIALISERS:
        raise ValueError(f"init = {init!r}; allowed: {', '.join(INITIALISERS)}")
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise ValueError(f"start = {start!r}; allowed: an integer >= 0")
    gen = generator(seed, "init/knobs" if start == 0 else f"init/knobs/{start}")
    if init == "haar":
        return haar_knobs(device.knob_spec, device.config.mesh, gen)
    return initial_knobs(device.knob_spec, gen)


def _insitu(device, readout, s, seed, knobs):
    trace = Trace()
    st = InSituBPSettings(lr=s["lr"], readout=readout.kind, readout_scale=readout.scale,
                          decay_steps=_total_steps(s) or 0)
    return InSituBP(TracingOracle(device, trace), st, seed=seed, knobs=knobs), trace


def _spsa(device, readout, s, seed, knobs):
    trace = Trace()
    st = FICONNSPSASettings(delta=s["delta"], lr=s["lr"], readout=readout.kind,
                            readout_scale=readout.scale, decay_steps=_total_steps(s) or 0,
                            directions=int(s.get("directions", 1)),
                            optimizer=s.get("optimizer", "sgd"))
    return FICONNSPSA(TracingOracle(device, trace), st, seed=seed, knobs=knobs), trace


def _twin(device, readout, s, seed, knobs):
    st = TwinBPSettings(lr=s["lr"], readout=readout, decay_steps=_total_steps(s))
    return TwinBP(device, st, seed=seed, knobs=knobs), None


#: settings keys of the protocol (not of an algorithm's settings dataclass)
PROTOCOL_KEYS = ("epochs", "batch", "decay", "n_train", "restarts", "screen_epochs")


class Restarts:
    """Several starts of one algorithm on the same chip, the best kept after a screening phase.

    For the first ``screen_epochs`` epochs every candidate (one per initial knob draw,
    :func:`start_knobs` ``start`` = 0 … K−1) takes the same mini-batch at every step; at the
    start of epoch ``screen_epochs`` the candidate whose training loss over the last screening
    epoch is lowest is kept and trains alone for the remaining epochs (its optimiser state and
    step count, hence its learning-rate schedule, carry on). The loss is the one each step
    already measures (in situ: the forward pass read on the chip; the twin: its own loss), so
    the choice uses training data only and costs no extra query; every candidate's queries are
    traced and priced, and ``passes`` counts them all. Why: from random phases this small
    network stalls on a plateau of the loss on some starts (``pai2023`` docstring), and a
    stalled start is visible in its training loss long before the end of the run."""

    def __init__(self, candidates: list, screen_epochs: int) -> None:
        if not candidates:
            raise ValueError("Restarts: candidates = []; allowed: at least one trainable")
        self.candidates, self.screen_epochs = list(candidates), int(screen_epochs)
        self.epoch_loss = [0.0] * len(self.candidates)
        self.epoch_steps = 0
        self.kept: int | None = 0 if len(self.candidates) == 1 else None
        self.label = getattr(self.candidates[0], "label", "")

    def begin_epoch(self, epoch: int) -> None:
        if self.kept is None and epoch >= self.screen_epochs and self.epoch_steps:
            self.kept = self._lowest()
        if self.kept is None:
            self.epoch_loss = [0.0] * len(self.candidates)
            self.epoch_steps = 0
        for i, c in enumerate(self.candidates):
            if (self.kept is None or i == self.kept) and callable(getattr(c, "begin_epoch", None)):
                c.begin_epoch(epoch)

    @property
    def best(self):
        """The kept candidate, or while screening the one with the lowest loss so far."""
        if self.kept is not None:
            return self.candidates[self.kept]
        return self.candidates[self._lowest() if self.epoch_steps else 0]

    def _lowest(self) -> int:
        """The candidate with the lowest training loss in the current screening epoch."""
        return min(range(len(self.candidates)), key=lambda i: self.epoch_loss[i])

    def step(self, x: torch.Tensor, y: torch.Tensor) -> dict:
        if self.kept is not None:
            return self.candidates[self.kept].step(x, y)
        infos = [c.step(x, y) for c in self.candidates]
        for i, info in enumerate(infos):
            self.epoch_loss[i] += float(info["loss"])
        self.epoch_steps += 1
        return {"loss": min(float(i["loss"]) for i in infos),
                "passes": sum(i.get("passes", 0) for i in infos)}

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.best.predict(x)


def layer_model(device: MeshNetwork) -> ModelDescription:
    """The whole network as Mono-Forward stages: one device block per mesh layer, the host's
    √ of the measured powers between layers (:class:`algorithms.model.Amplitude`), the last
    layer's powers read by the last stage's local head."""
    n, blocks = device.config.modes, []
    for layer in range(device.config.layers):
        blocks.append(Dense(n))
        if layer < device.config.layers - 1:
            blocks.append(Amplitude())
    return ModelDescription((n,), tuple(blocks))


class LayerLocal:
    """A Mono-Forward algorithm of the registry (mfdd, frog, …) on the chip's layers.

    Each mesh layer is a device of its own (:meth:`MeshNetwork.layer_device`: the same chip's
    layer, queried alone, output powers), the host re-injects √P between layers, and every
    stage carries its digital local head (Mono-Forward); the algorithm sees the chip only
    through these oracles and their declared capabilities. ``passes``: network-equivalent
    optical passes of a step, Σ over the step's layer queries of the vectors streamed ÷ L (a
    vector through one of the L meshes is 1/L of a pass through the network)."""

    def __init__(self, name: str, device: MeshNetwork, settings: dict, knobs: dict, seed: int,
                 trace: Trace) -> None:
        self.layers = [device.layer_device(i) for i in range(device.config.layers)]
        self.trace, self.model = trace, layer_model(device)
        values = {k: v for k, v in settings.items() if k not in PROTOCOL_KEYS}
        if settings.get("decay"):           # cosine over the run, per epoch, as the others' decay
            values.update(lr_schedule="cosine", lr_cosine_epochs=int(settings["epochs"]))
        self.trainable = registry.build(
            name, registry.settings_for(name, values), self.model, self.layers, 2, seed=seed,
            trace=trace, initial_knobs=[{"phases": knobs["phases"][i:i + 1].clone()}
                                        for i in range(len(self.layers))])
        self.label = self.trainable.label

    def begin_epoch(self, epoch: int) -> None:
        self.trainable.begin_epoch(epoch)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> dict:
        start = len(self.trace.events)
        info = dict(self.trainable.step(x, y))
        vectors = sum(e.vectors for e in self.trace.events[start:] if isinstance(e, MvmEvent))
        info["passes"] = vectors / len(self.layers)
        return info

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.trainable.predict(x)

    def predict_on(self, layers: list[MeshNetwork], x: torch.Tensor) -> torch.Tensor:
        """Predictions of the trained knobs and heads with the layers replaced by ``layers``
        (the error-free chip of :func:`error_free_device`), queried into a scratch trace."""
        net = self.trainable.trainer.net
        saved = net.oracles
        net.oracles = [TracingOracle(d, Trace()) for d in layers]
        try:
            return self.trainable.predict(x)
        finally:
            net.oracles = saved


def _layer_local(name: str):
    def build(device, readout, s, seed, knobs):
        trace = Trace()
        return LayerLocal(name, device, s, knobs, seed, trace), trace
    return build


#: name → builder(device, readout, settings, seed, initial knobs) → (trainable, trace or None)
ALGORITHM_BUILDERS = {"insitu-bp": _insitu, "ficonn-spsa": _spsa, "bp-twin": _twin,
                      **{n: _layer_local(n) for n in LAYER_LOCAL}}


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
    if isinstance(trainable, Restarts):
        trainable = trainable.best
    knobs = getattr(trainable, "knobs", None)
    if knobs is None:                      # the twin baseline keeps autograd parameters
        knobs = {n: p.detach().float() for n, p in trainable.params.items()}
    return knobs


def run_algorithm(name: str, settings: dict, preset: str, readout: Readout, data, seed: int,
                  evals: int = 10, inference: str = "device", init: str = "uniform",
                  start: int = 0) -> Curve:
    """Train algorithm ``name`` on a fresh device of ``preset`` (device seed = run seed) and
    return its curve; ``data`` = (x_train, y_train, x_test, y_test) already encoded.
    ``inference``: test accuracy from queries of the training device ("device", every
    measurement error on) or of the same chip without per-query errors ("error-free", see
    :func:`error_free_device`); either way the final accuracy under device inference is in
    ``curve.device_accuracy``. ``init``: the initial knobs (:func:`start_knobs`), the same for
    every algorithm of a seed; ``start``: which draw of them (:func:`start_knobs`)."""
    if name not in ALGORITHM_BUILDERS:
        raise ValueError(f"algorithm = {name!r}; allowed: {', '.join(ALGORITHM_BUILDERS)}")
    if inference not in INFERENCE:
        raise ValueError(f"inference = {inference!r}; allowed: {', '.join(INFERENCE)}")
    torch.set_num_threads(1)
    device = build_device(preset, seed)
    xtr, ytr, xte, yte = data
    settings = {**settings, "n_train": len(xtr)}
    restarts = int(settings.get("restarts", 1))
    if restarts < 1 or (restarts > 1 and name in LAYER_LOCAL):
        raise ValueError(f"restarts = {restarts!r} for {name}; allowed: an integer >= 1 (1 for "
                         f"{', '.join(LAYER_LOCAL)})")
    trainable, trace = ALGORITHM_BUILDERS[name](device, readout, settings, seed,
                                                start_knobs(device, init, seed, start))
    if restarts > 1:
        # every candidate queries the same chip through the same trace (one priced step)
        def candidate(r):
            t, _ = ALGORITHM_BUILDERS[name](device, readout, settings, seed,
                                           start_knobs(device, init, seed, start + r))
            if trace is not None:
                t.oracle = trainable.oracle
            return t
        trainable = Restarts([trainable] + [candidate(r) for r in range(1, restarts)],
                             int(settings.get("screen_epochs", 1)))
    predict = None
    if inference == "error-free":
        clean = error_free_device(preset, seed)
        if isinstance(trainable, LayerLocal):
            layers = [clean.layer_device(i) for i in range(clean.config.layers)]
            predict = lambda x: trainable.predict_on(layers, x)
        else:
            predict = lambda x: readout.predict(
                clean.query(clean.program(_trained_knobs(trainable)), x)[0])
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

"""``ficonn-spsa``: FICONN's forward-only training rule (Bandyopadhyay et al., Nat. Photon. 2024,
arXiv:2208.01623; algorithms.md §9 [V]).

Every iteration perturbs *all* parameters at once by Δ with Δ_i = ±δ (Bernoulli), measures the
loss at Θ + Δ and Θ − Δ (both settings programmed and queried as one batch of P = 2), and steps

    ∇_Δ L = [L(Θ + Δ) − L(Θ − Δ)] / (2‖Δ‖),     Θ ← Θ − η ∇_Δ L · Δ,

the rule in the reference notes (the δ/√d factor against plain SPSA is absorbed in η). A third
pass at Θ reports the training loss, as FICONN's three passes of the training set per iteration.

``directions`` = K > 1 (a labelled option; K = 1 is the paper's rule, bit for bit): K independent
Δ_k per iteration, all 2K settings programmed and queried as one batch, and the step averages
them, Θ ← Θ − η (1/K) Σ_k ∇_{Δ_k} L · Δ_k. Why: one two-sided estimate of a d-parameter
gradient carries about d times the variance of the gradient itself (Spall 1992, IEEE TAC 37:332),
so on a small network whose loss has plateaus (Pai et al.'s ring task, d = 48) a run of one
direction per iteration spends most of its iterations on noise; averaging K directions divides
that variance by K at K times the passes, and the passes are counted.

``optimizer`` = "adam" (a labelled option; "sgd" is the paper's rule): the same estimate
ĝ = (1/K) Σ_k g_k Δ_k fed to Adam (Kingma & Ba, arXiv:1412.6980) with step ``lr`` in rad, as
in-situ backprop on the same chip steps its measured gradient (:mod:`algorithms.insitu_bp`). Why:
on a plateau the plain rule's step η·ĝ shrinks with the gradient, where Adam's per-parameter
normalisation keeps moving; the estimate and its passes are the same.
The loss is the digital readout's cross-entropy on the output powers. Replications quote
δ = 0.05 and η = 0.002; the notes give η = 0.002. The tap fractions β are clamped to their range.

Knob units: phases in rad, β dimensionless; δ applies to both (one scale, as in the paper's one
δ for all 132 parameters).
"""
from __future__ import annotations

from dataclasses import dataclass


from hwsim.oracle import TracingOracle
from hwsim.trace import DigitalEvent

from . import updates
from .meshnet_common import cosine_factor, initial_knobs
from .optical_readout import Readout
from .seeds import generator
from .settings import integer, setting

from hwsim.lazy import torch

__all__ = ["FICONNSPSASettings", "FICONNSPSA", "build_ficonn_spsa", "LABEL", "OPTIMIZERS"]

LABEL = "FICONN forward-only perturbation (±δ on all parameters)"
#: update rules of the estimate: the paper's plain step, or Adam (labelled option)
OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class FICONNSPSASettings:
    """delta: perturbation per parameter (rad or 1); lr: η of the update; readout: the loss;
    loss_pass: also measure L(Θ) each iteration (the third pass); decay_steps: cosine decay of η
    to 0 over that many iterations (0: constant)."""

    delta: float = setting(0.05, "±δ perturbation of every parameter", "rad (β: 1)")
    lr: float = setting(0.002, "η of the update Θ ← Θ − η ∇_Δ L · Δ", "1")
    readout: str = setting("pairs", "digital readout of the output powers (pairs: ports "
                           "(0,1) vs (2,3); ports: one logit per port)")
    readout_scale: float = setting(1.0, "logit = scale × output power", "1")
    loss_pass: bool = setting(True, "also measure L(Θ) each iteration (the third pass)")
    decay_steps: int = setting(0, "cosine decay of η to 0 over this many iterations "
                               "(0: constant)", "steps")
    optimizer: str = setting("sgd", "update of the estimate: sgd (the paper's Θ ← Θ − η ĝ) or "
                             "adam (lr is then Adam's step in rad; option)")
    directions: int = setting(1, "independent ±δ perturbations averaged per iteration (1: the "
                              "paper's rule; K > 1 streams 2K settings per iteration)", "1")

    def __post_init__(self) -> None:
        for f in ("delta", "lr"):
            v = getattr(self, f)
            if not (isinstance(v, (int, float)) and v > 0):
                raise ValueError(f"FICONNSPSASettings.{f} = {v!r}; allowed: a number > 0")
        integer("FICONNSPSASettings", "decay_steps", self.decay_steps, 0, 10 ** 9)
        integer("FICONNSPSASettings", "directions", self.directions, 1, 16384)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"FICONNSPSASettings.optimizer = {self.optimizer!r}; allowed: "
                             f"{', '.join(OPTIMIZERS)}")
        self.head()

    def head(self) -> Readout:
        """The :class:`Readout` these settings name (one-line ValueError if unknown)."""
        return Readout(self.readout, self.readout_scale)


class FICONNSPSA:
    """Trainable: ``step(x, y)`` → {"loss", "passes"}; ``predict(x)`` → classes (B,)."""

    def __init__(self, oracle: TracingOracle, settings: FICONNSPSASettings, *, seed: int,
                 knobs: dict | None = None) -> None:
        self.oracle, self.settings = oracle, settings
        self.head = settings.head()
        self.knobs = knobs or initial_knobs(oracle.knob_spec, generator(seed, "init/knobs"))
        self.gen = generator(seed, "train/device")
        self.dir_gen = generator(seed, "train/directions")
        self.passes = 0
        self.steps = 0
        options = ([f"{settings.directions} directions averaged per iteration"]
                   if settings.directions > 1 else []) + (
            ["Adam on the estimate"] if settings.optimizer == "adam" else [])
        self.label = LABEL + "".join(f", {o} (option)" for o in options)
        self.opt = updates.adam(settings.lr) if settings.optimizer == "adam" else None
        self.state = self.opt.init(self.knobs) if self.opt else None

    def step(self, x: torch.Tensor, y: torch.Tensor) -> dict:
        s, spec, k = self.settings, self.oracle.knob_spec, self.settings.directions
        # (K, *shape): with K = 1 the same draws, in the same order, as one Δ of the knob's shape
        delta = {n: s.delta * (2.0 * torch.randint(0, 2, (k, *t.shape), generator=self.dir_gen)
                               - 1.0) for n, t in self.knobs.items()}
        norm = torch.sqrt(sum((d ** 2).flatten(1).sum(1) for d in delta.values()))     # (K,)
        # settings [Θ+Δ_1, Θ−Δ_1, Θ+Δ_2, Θ−Δ_2, …]: one batched programming and query
        pair = {n: spec[n].project(torch.stack([t + delta[n], t - delta[n]], 1)
                                   .reshape(2 * k, *t.shape)) for n, t in self.knobs.items()}
        powers = self.oracle.query(self.oracle.program(pair, self.gen), x, self.gen)  # (2K, B, N)
        losses = self.head.losses(powers, y).mean(-1).reshape(k, 2)                   # (K, 2)
        g = (losses[:, 0] - losses[:, 1]) / (2.0 * norm)                              # (K,)
        f = cosine_factor(self.steps, s.decay_steps)
        if self.opt is None:
            lr = s.lr * f
            # (lr·g_k)·Δ_k in that order: K = 1 rounds as the paper's single-direction step did
            self.knobs = {n: spec[n].project(t - ((lr * g).view(-1, *[1] * t.dim()) * delta[n])
                                             .mean(0)) for n, t in self.knobs.items()}
        else:
            est = {n: (g.view(-1, *[1] * t.dim()) * delta[n]).mean(0)
                   for n, t in self.knobs.items()}
            upd, self.state = self.opt.update(est, self.state, self.knobs)
            self.knobs = {n: spec[n].project(t + f * upd[n]) for n, t in self.knobs.items()}
        # host arithmetic of the estimate per direction: ‖Δ‖ (2d), the loss difference, the
        # update (2d)
        d = sum(t.numel() for t in self.knobs.values())
        self.oracle.trace.record(DigitalEvent(layer=self.oracle.name, flops=k * (4 * d + 4),
                                              role="estimator"))
        self.steps += 1
        passes = 2 * k * x.shape[0]
        loss = float(losses.mean())
        if s.loss_pass:
            p0 = self.oracle.query(self.oracle.program(self.knobs, self.gen), x, self.gen)[0]
            loss = float(self.head.losses(p0, y).mean())
            passes += x.shape[0]
        self.passes += passes
        return {"loss": loss, "passes": passes}

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        prog = self.oracle.program(self.knobs, self.gen)
        return self.head.predict(self.oracle.query(prog, x, self.gen)[0])


def build_ficonn_spsa(oracle: TracingOracle, settings: FICONNSPSASettings, *, seed: int) -> FICONNSPSA:
    return FICONNSPSA(oracle, settings, seed=seed)

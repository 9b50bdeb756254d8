"""``ficonn-spsa``: FICONN's forward-only training rule (Bandyopadhyay et al., Nat. Photon. 2024,
arXiv:2208.01623; algorithms.md §9 [V]).

Every iteration perturbs *all* parameters at once by Δ with Δ_i = ±δ (Bernoulli), measures the
loss at Θ + Δ and Θ − Δ (both settings programmed and queried as one batch of P = 2), and steps

    ∇_Δ L = [L(Θ + Δ) − L(Θ − Δ)] / (2‖Δ‖),     Θ ← Θ − η ∇_Δ L · Δ,

the rule in the reference notes (the δ/√d factor against plain SPSA is absorbed in η). A third
pass at Θ reports the training loss, as FICONN's three passes of the training set per iteration.
The loss is the digital readout's cross-entropy on the output powers. Replications quote
δ = 0.05 and η = 0.002; the notes give η = 0.002. The tap fractions β are clamped to their range.

Knob units: phases in rad, β dimensionless; δ applies to both (one scale, as in the paper's one
δ for all 132 parameters).
"""
from __future__ import annotations

from dataclasses import dataclass


from hwsim.oracle import TracingOracle
from hwsim.trace import DigitalEvent

from .meshnet_common import cosine_factor, initial_knobs
from .optical_readout import Readout
from .seeds import generator
from .settings import integer, setting

from hwsim.lazy import torch

__all__ = ["FICONNSPSASettings", "FICONNSPSA", "build_ficonn_spsa", "LABEL"]

LABEL = "FICONN forward-only perturbation (±δ on all parameters)"


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

    def __post_init__(self) -> None:
        for f in ("delta", "lr"):
            v = getattr(self, f)
            if not (isinstance(v, (int, float)) and v > 0):
                raise ValueError(f"FICONNSPSASettings.{f} = {v!r}; allowed: a number > 0")
        integer("FICONNSPSASettings", "decay_steps", self.decay_steps, 0, 10 ** 9)
        self.head()

    def head(self) -> Readout:
        """The :class:`Readout` these settings name (one-line ValueError if unknown)."""
        return Readout(self.readout, self.readout_scale)


class FICONNSPSA:
    """Trainable: ``step(x, y)`` → {"loss", "passes"}; ``predict(x)`` → classes (B,)."""

    label = LABEL

    def __init__(self, oracle: TracingOracle, settings: FICONNSPSASettings, *, seed: int,
                 knobs: dict | None = None) -> None:
        self.oracle, self.settings = oracle, settings
        self.head = settings.head()
        self.knobs = knobs or initial_knobs(oracle.knob_spec, generator(seed, "init/knobs"))
        self.gen = generator(seed, "train/device")
        self.dir_gen = generator(seed, "train/directions")
        self.passes = 0
        self.steps = 0

    def step(self, x: torch.Tensor, y: torch.Tensor) -> dict:
        s, spec = self.settings, self.oracle.knob_spec
        delta = {n: s.delta * (2.0 * torch.randint(0, 2, t.shape, generator=self.dir_gen) - 1.0)
                 for n, t in self.knobs.items()}
        norm = torch.sqrt(sum((d ** 2).sum() for d in delta.values()))
        pair = {n: torch.stack([spec[n].project(t + delta[n]), spec[n].project(t - delta[n])])
                for n, t in self.knobs.items()}
        powers = self.oracle.query(self.oracle.program(pair, self.gen), x, self.gen)   # (2, B, N)
        l_plus, l_minus = self.head.losses(powers, y).mean(-1)
        g = (l_plus - l_minus) / (2.0 * norm)
        lr = s.lr * cosine_factor(self.steps, s.decay_steps)
        self.knobs = {n: spec[n].project(t - lr * g * delta[n]) for n, t in self.knobs.items()}
        # host arithmetic of the estimate: ‖Δ‖ (2d), the loss difference, the update (2d)
        d = sum(t.numel() for t in self.knobs.values())
        self.oracle.trace.record(DigitalEvent(layer=self.oracle.name, flops=4 * d + 4,
                                              role="estimator"))
        self.steps += 1
        passes = 2 * x.shape[0]
        loss = 0.5 * float(l_plus + l_minus)
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

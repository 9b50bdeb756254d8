"""Benchmark: the deployed test accuracy of ONE fixed trained model on every device preset.

What each device effect costs a user who trains on the ideal digital twin and then deploys
(the ``bp-deploy`` situation). Per device kind, one MLP 64-32-32 with Mono-Forward local heads
(the default model, ``experiments.config.ModelSection``) is trained with backprop on the
ideal digital twin of the kind's ideal preset: the registry's ``bp`` (the training half of
``bp-deploy``: ``algorithms.baselines.twin_model.TwinTrainer``, default settings, Adam on
range-normalised knobs), 20 epochs, batch 64, seed 0, on the shipped UCI digits
(standardised). Its weight matrices W_i = twin_i(knobs_i), biases and heads are then frozen.

For every preset of that kind, each W_i is mapped onto the preset's own knobs
(``layer.knobs_from_weight``: the preset's block/tile layout and conductance range), the
knobs are programmed ONCE, and the test set goes through the device layers with the model's
own host arithmetic (``Stage.host_forward``: bias + ReLU; ``MonoForwardHead.scores``; the bp
prediction rule, the last head's argmax). Only ``program``/``query`` touch the device; no
hidden device error is read. Each preset is fabricated 3 times (device seeds 0, 1, 2: three
chips, same trained model): mean ± sample std over the chips, the drop against the twin and
the first layer's relative readout error against the product the model asked for.

Read times: each device's default; crossbar-pcm (conductance drift with global compensation,
1/f noise) also after 1 h and 1 day, mzi-default (phase drift) also after 1 h. Below each
preset, every effect alone on the preset's layout shows what it costs by itself, and an
effect that alone costs more than 5 points also gets an "all but" row.

Two rows sit at chance by construction, not by noise: ``PhaseBias`` (mzi-default) is a static,
uncalibrated random phase offset U(−1, 1) rad per shifter that nothing here calibrates away;
``mzi-ficonn`` detects intensity |ŷ|² per block (FICONN's direct detection), a square-law
readout that a model trained on the linear twin W x does not expect.

Bit slicing and correlated variation, switched on and off (``feature_rows``): crossbar-default
with 2-bit cells (4 levels) as one cell pair and as 4 slices × 2 bits (ISAAC's 2 bit/cell,
devices.md §6.1), and 2 slices × 4 bits; crossbar-default with correlated conductance variation
(die σ 5 %, within-die σ 5 %, ℓ = 8 cells) and the same σ uncorrelated (ℓ = 0); mzi-default
without its uncalibrated PhaseBias (which alone sits at chance) with correlated phase bias (die
0.02 rad, within 0.05 rad, ℓ = 4 heaters) or correlated γ (within 2 %), each against ℓ = 0.
These σ and ℓ are sweep points chosen here, not published values.

Run: python bench/deployed_accuracy.py   (one thread; well under 3 minutes)
     python bench/deployed_accuracy.py --features   (only the bit-slicing / correlated rows)
"""
from __future__ import annotations

import dataclasses
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")   # before numba is imported

import torch  # noqa: E402

torch.set_num_threads(1)   # one thread per process, as the CLI and the tests

import algorithms.baselines  # noqa: E402,F401  (registers the autograd baselines: bp, bp-deploy)
from algorithms import registry  # noqa: E402
from algorithms.model import model_from_config  # noqa: E402
from algorithms.seeds import derive_seed, generator  # noqa: E402
from experiments.build import layer_from_physics  # noqa: E402
from experiments.data import load_dataset, standardize  # noqa: E402
from hwsim.presets import DEVICE_PRESETS, build_layer, device_config, device_kind  # noqa: E402
from hwsim.trace import Trace  # noqa: E402
from hwsim.effects.bit_slicing import BitSlicing  # noqa: E402
from hwsim.effects.correlated import CorrelatedConductance, CorrelatedGamma, CorrelatedPhaseBias  # noqa: E402
from hwsim.effects.noise import PhaseBias  # noqa: E402
from hwsim.effects.quantize import ConductanceLevels  # noqa: E402

HIDDEN = (32, 32)              # the default model (experiments.config.ModelSection.hidden)
EPOCHS, BATCH, SEED = 20, 64, 0   # the run defaults (experiments.config.RunSection)
DEVICE_SEEDS = (0, 1, 2)       # three fabricated chips per preset
ONE_HOUR_S, ONE_DAY_S = 3600.0, 86400.0
#: extra read times (s since programming) beyond the preset's default read time
LATER_READS_S = {"crossbar-pcm": (ONE_HOUR_S, ONE_DAY_S), "mzi-default": (ONE_HOUR_S,)}
TIME_EFFECTS = ("Drift", "OneOverFNoise", "PhaseDrift")   # effects that depend on the read time
DOMINANT_DROP = 0.05           # an effect costing more than this alone also gets an "all but" row


class FixedModel:
    """The trained parameters, frozen: W_i (n_out, n_in), the stages' digital parameters
    (biases), the Mono-Forward heads and their parameters; ``forward(x, matmul)`` is the host
    arithmetic of ``TwinTrainer._forward`` / ``LocalTrainer._clean_pass`` with the device
    product ``matmul(i, x_dev)`` of stage i supplied by the caller; the prediction rule is the
    bp one (the last head's argmax, ``TwinTrainer.predict_twin``)."""

    def __init__(self, trainer) -> None:
        self.model, self.stages, self.heads = trainer.model, trainer.stages, trainer.heads
        with torch.no_grad():
            self.weights = [twin(m.unflatten(t, f)).detach().float() for twin, m, t, f
                            in zip(trainer.twins, trainer.maps, trainer.theta, trainer.fixed)]
        self.digital = [{k: v.detach().clone() for k, v in d.items()} for d in trainer.digital]
        self.head_params = [{k: v.detach().clone() for k, v in h.items()} for h in trainer.head_params]

    @torch.no_grad()
    def predict(self, x: torch.Tensor, matmul) -> torch.Tensor:
        a, scores = self.model.reshape_input(x), []
        for i, st in enumerate(self.stages):
            z = st.device_readout(matmul(i, st.device_inputs(a)), a.shape[1])
            h, _ = st.host_forward(z[0], self.digital[i])
            scores.append(self.heads[i].scores(h.reshape(h.shape[0], -1), self.head_params[i]))
            a = h.unsqueeze(0)
        return scores[-1].argmax(-1)


class DeployedNetwork:
    """The fixed model with its linear layers on programmed device layers of ``physics`` (a
    resolved MZIConfig or CrossbarConfig, e.g. ``device_config(preset)``).

    Each W_i is mapped with the preset's own ``knobs_from_weight`` and programmed ONCE here;
    ``predict`` only queries (``time_s``: seconds since programming, None = the device's
    default read time). Device seeds per layer as ``experiments.build.build_devices``.
    """

    def __init__(self, physics, fixed: FixedModel, device_seed: int) -> None:
        self.fixed, self.time_s = fixed, None
        gp = generator(device_seed, "deploy/program-noise")
        self._gq = generator(device_seed, "deploy/query-noise")
        self.layers = []
        for i, w in enumerate(fixed.weights):
            dev = layer_from_physics(physics, w.shape[1], w.shape[0], name=f"layer{i}",
                                     seed=derive_seed(device_seed, f"device/{i}") % (2 ** 62))
            self.layers.append((dev, dev.program(dev.knobs_from_weight(w), gp)))

    def _matmul(self, i: int, x: torch.Tensor) -> torch.Tensor:
        dev, prog = self.layers[i]
        return dev.query(prog, x, self._gq, time_s=self.time_s)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.fixed.predict(x, self._matmul)


class TwinWeights:
    """The fixed model on its plain matrices (the ideal twin): a @ W_iᵀ."""

    def __init__(self, fixed: FixedModel) -> None:
        self.fixed = fixed

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.fixed.predict(x, lambda i, a: a @ self.fixed.weights[i].T)


def accuracy(net, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((net.predict(x) == y).float().mean())


def train_twin(kind: str, data) -> tuple[FixedModel, float]:
    """The bp-deploy training: BP on the ideal twin of ``<kind>-ideal`` (registry ``bp``,
    default settings: Adam, θ in knob-range units). Returns the fixed model and its twin
    test accuracy."""
    model = model_from_config((data.x_train.shape[1],), hidden=list(HIDDEN))
    devices = [build_layer(f"{kind}-ideal", a, b, name=f"layer{i}",
                           seed=derive_seed(SEED, f"device/{i}") % (2 ** 62))
               for i, (a, b) in enumerate(model.device_shapes())]
    tr = registry.build("bp", registry.settings_for("bp"), model, devices, data.n_classes,
                        seed=SEED, trace=Trace())
    registry.train(tr, data.x_train, data.y_train, epochs=EPOCHS, batch_size=BATCH, seed=SEED)
    fixed = FixedModel(tr.trainer)
    twin_pred = tr.trainer.predict_twin(data.x_test)
    # the host forward used for deployment reproduces the trainer's own twin predictions
    if not torch.equal(TwinWeights(fixed).predict(data.x_test), twin_pred):
        raise RuntimeError(f"{kind}: deployment forward disagrees with TwinTrainer.predict_twin")
    return fixed, float((twin_pred == data.y_test).float().mean())


def effect_names(physics) -> str:
    names = [type(e).__name__ for e in physics.effects]
    return ", ".join(names) if names else "(none)"


def deployed(physics, fixed: FixedModel, data, reads) -> dict:
    """{read time: ([test accuracy], [layer-0 relative readout error]) per fabricated chip}.

    The readout error ‖z₀ − X W₀ᵀ‖_F / ‖X W₀ᵀ‖_F compares the first layer's device answers on the
    test inputs X with the product the model asked for (its own W₀): queries only, no hidden
    device state."""
    out = {t: ([], []) for t in reads}
    x, target = data.x_test, data.x_test @ fixed.weights[0].T
    for s in DEVICE_SEEDS:
        net = DeployedNetwork(physics, fixed, s)
        for t in reads:
            net.time_s = t
            out[t][0].append(accuracy(net, x, data.y_test))
            z = net._matmul(0, x)[0]
            out[t][1].append(float(torch.linalg.norm(z - target) / torch.linalg.norm(target)))
    return out


def _row(label: str, what: str, result: tuple, twin_acc: float) -> tuple:
    """(label, effects, mean accuracy, std, drop vs twin, mean layer-0 readout error)."""
    accs, errs = result
    m = statistics.mean(accs)
    return (label, what, m, statistics.stdev(accs), twin_acc - m, statistics.mean(errs))


def one_effect_rows(preset: str, fixed: FixedModel, data, twin_acc: float) -> list:
    """Each effect of ``preset`` alone on the preset's layout (block/mesh or tiles and
    conductance range): what that effect costs by itself, at the default read time (time
    effects also at the preset's later read times). Then, when one effect alone costs more
    than ``DOMINANT_DROP``, the preset with every effect but that one."""
    rows, physics = [], device_config(preset)
    worst, worst_drop = None, DOMINANT_DROP
    for e in physics.effects:
        name = type(e).__name__
        try:
            alone = dataclasses.replace(physics, effects=(e,))
        except ValueError as err:          # an effect that needs another one to be valid
            rows.append((f"  {preset}: {name} only", f"not valid alone: {err}", float("nan"),
                         None, float("nan"), float("nan")))
            continue
        reads = (None, *LATER_READS_S.get(preset, ())) if name in TIME_EFFECTS else (None,)
        accs = deployed(alone, fixed, data, reads)
        for t in reads:
            at = "" if t is None else f" @ {_time_label(t)}"
            rows.append(_row(f"  {preset}: {name} only{at}", repr(e), accs[t], twin_acc))
        drop = twin_acc - statistics.mean(accs[None][0])
        if drop > worst_drop:
            worst, worst_drop = e, drop
    if worst is not None:
        rest = dataclasses.replace(physics, effects=tuple(e for e in physics.effects if e is not worst))
        rows.append(_row(f"  {preset}: all but {type(worst).__name__}", effect_names(rest),
                         deployed(rest, fixed, data, (None,))[None], twin_acc))
    return rows


def _with(physics, drop=(), add=()):
    """``physics`` without the effect types in ``drop`` (and without any type in ``add``), plus ``add``."""
    kinds = tuple(drop) + tuple(type(a) for a in add)
    return dataclasses.replace(physics, effects=tuple(e for e in physics.effects
                                                      if not isinstance(e, kinds)) + tuple(add))


def feature_configs(kind: str) -> list[tuple[str, object]]:
    """(label, physics) pairs: bit slicing and correlated variation switched on and off."""
    if kind == "crossbar":
        base = device_config("crossbar-default")
        cc = dict(sigma_die=0.05, sigma_within=0.05)
        return [
            ("crossbar-default, 2-bit cells, 1 pair", _with(base, add=(ConductanceLevels(bits=2),))),
            ("crossbar-default, 2-bit cells, 4 slices", _with(base, add=(ConductanceLevels(bits=2),
                                                                        BitSlicing(slices=4, bits_per_slice=2)))),
            ("crossbar-default, 4-bit cells, 1 pair", _with(base, add=(ConductanceLevels(bits=4),))),
            ("crossbar-default, 4-bit cells, 2 slices", _with(base, add=(ConductanceLevels(bits=4),
                                                                        BitSlicing(slices=2, bits_per_slice=4)))),
            ("crossbar-default, 8-bit cells, 2 slices", _with(base, add=(BitSlicing(slices=2, bits_per_slice=8),))),
            ("crossbar-default + correlated G (l = 8 cells)",
             _with(base, add=(CorrelatedConductance(correlation_length=8.0, **cc),))),
            ("crossbar-default + uncorrelated G (l = 0)",
             _with(base, add=(CorrelatedConductance(correlation_length=0.0, **cc),))),
        ]
    base = _with(device_config("mzi-default"), drop=(PhaseBias,))
    return [
        ("mzi-default w/o PhaseBias", base),
        ("  + correlated phase bias (l = 4)", _with(base, add=(CorrelatedPhaseBias(
            sigma_die=0.02, sigma_within=0.05, correlation_length=4.0),))),
        ("  + uncorrelated phase bias (l = 0)", _with(base, add=(CorrelatedPhaseBias(
            sigma_die=0.02, sigma_within=0.05, correlation_length=0.0),))),
        ("  + correlated gamma (l = 4)", _with(base, add=(CorrelatedGamma(sigma_within=0.02, correlation_length=4.0),))),
        ("  + uncorrelated gamma (l = 0)", _with(base, add=(CorrelatedGamma(sigma_within=0.02, correlation_length=0.0),))),
    ]


def feature_rows(kind: str, fixed: FixedModel, data, twin_acc: float) -> list:
    return [_row(label, effect_names(phys), deployed(phys, fixed, data, (None,))[None], twin_acc)
            for label, phys in feature_configs(kind)]


def main() -> None:
    t0 = time.perf_counter()
    features_only = "--features" in sys.argv[1:]
    data = standardize(load_dataset("digits", seed=0))
    rows = []      # (label, effects, mean, std or None, drop, readout error)
    for kind in ("mzi", "crossbar"):
        fixed, twin_acc = train_twin(kind, data)
        rows.append((f"{kind} ideal twin (trained)", "ideal digital twin, autograd (bp)",
                     twin_acc, None, 0.0, 0.0))
        rows += feature_rows(kind, fixed, data, twin_acc)
        if features_only:
            continue
        for preset in (p for p in DEVICE_PRESETS if device_kind(p) == kind):
            reads = (None, *LATER_READS_S.get(preset, ()))
            accs = deployed(device_config(preset), fixed, data, reads)
            for t in reads:
                label = preset if t is None else f"{preset} @ {_time_label(t)}"
                rows.append(_row(label, effect_names(device_config(preset)), accs[t], twin_acc))
            if device_config(preset).effects:
                rows += one_effect_rows(preset, fixed, data, twin_acc)
    n_test = data.x_test.shape[0]
    print(f"Deployed test accuracy on UCI digits ({n_test} test samples) of one BP-on-twin model "
          f"per kind (MLP 64-{HIDDEN[0]}-{HIDDEN[1]}, Mono-Forward heads, {EPOCHS} epochs, batch "
          f"{BATCH}, seed {SEED}); mean ± std over {len(DEVICE_SEEDS)} fabricated devices (seeds "
          f"{', '.join(map(str, DEVICE_SEEDS))}); 'readout err' = layer-0 ‖z − XWᵀ‖/‖XWᵀ‖.")
    # one test sample is 1/n_test; the binomial standard error at the twin's accuracy is larger
    p_twin = rows[0][2]
    print(f"Test-set resolution: one sample = {1 / n_test:.4f}; binomial s.e. at "
          f"{p_twin:.2f} = {math.sqrt(p_twin * (1 - p_twin) / n_test):.4f} (smaller drops are noise).")
    w = max(len(r[0]) for r in rows)
    print(f"{'preset':<{w}} | {'deployed accuracy':>17} | {'drop vs twin':>12} | {'readout err':>11} | effects")
    print("-" * (w + 64))
    for label, eff, m, sd, drop, err in rows:
        spread = "" if sd is None else f"± {sd:6.4f}"   # the twin is one model: no chips
        print(f"{label:<{w}} | {m:8.4f} {spread:>8} | {drop:+12.4f} | {err:11.4f} | {eff}")
    print(f"runtime {time.perf_counter() - t0:.1f} s (one thread)")


def _time_label(t: float) -> str:
    return {ONE_HOUR_S: "1 h", ONE_DAY_S: "1 day"}.get(t, f"{t:g} s")


if __name__ == "__main__":
    main()

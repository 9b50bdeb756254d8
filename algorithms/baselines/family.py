"""Autograd baselines family: bp, mf-ad, bp-deploy, hwa-deploy (:mod:`.twin_model`) on the
ideal digital twin of the same model, and tt-autograd (:mod:`.tt_twin`), the same tensor-train
network trained with autograd on its twin (the reference of tt-zo, e.g. for PDE tasks). All are
labelled "ideal digital twin, autograd" (``registry.TWIN_LABEL``) and record no device trace."""
from __future__ import annotations

from dataclasses import dataclass

from .. import updates
from ..families.tensor_train import (TT_DIGITS_EXAMPLE, TTZOSettings, tt_check_task, tt_initial_weights, tt_layout,
                                     tt_model)
from ..mapping import calibrated_mapping
from ..network import OracleNetwork, device_hint, projection_dims
from ..seeds import generator
from ..registry import TWIN_LABEL, AlgorithmSpec, BuildRequest, register
from ..settings import choice, integer, nonnegative, positive, setting
from ..trainer import PREDICTIONS, SCHEDULES, LocalTrainer
from ..tt_network import TTNetwork
from ..tt_zo import OutputCrossEntropy
from .tt_twin import TTTwinTrainer
from .twin_model import TwinTrainer

__all__ = ["TwinSettings", "HWASettings"]


@dataclass(frozen=True)
class TwinSettings:
    """bp, mf-ad, bp-deploy: Adam on the ideal twin, θ in range units."""

    knob_lr_range_units: float = setting(2e-3, "Adam step on θ", "knob range units")
    head_lr: float = setting(1e-2, "Adam step of the heads and biases", "1")
    schedule: str = setting("simultaneous", f"stage schedule, one of {SCHEDULES}")
    prediction: str = setting("last", f"how stages vote, one of {PREDICTIONS}")
    projection_dim: int | None = setting(None, "random projection k of every local head wider "
                                         "than k (None: none)", "features")
    deploy_calibration: str = setting(
        "auto", "deploy modes: auto = map the twin's weights onto each device by calibrated "
        "mapping (measured Jacobian, forward queries) where it declares calibrate; off = "
        "program the twin's knobs as they are")
    mapping_iterations: int = setting(8, "Gauss–Newton rounds of the calibrated mapping",
                                      "rounds")

    def __post_init__(self) -> None:
        o = type(self).__name__
        choice(o, "deploy_calibration", self.deploy_calibration, ("auto", "off"))
        integer(o, "mapping_iterations", self.mapping_iterations, 1, 1000)
        positive(o, "knob_lr_range_units", self.knob_lr_range_units)
        positive(o, "head_lr", self.head_lr)
        choice(o, "schedule", self.schedule, SCHEDULES)
        choice(o, "prediction", self.prediction, PREDICTIONS)
        integer(o, "projection_dim", self.projection_dim, allow_none=True)


@dataclass(frozen=True)
class HWASettings(TwinSettings):
    """hwa-deploy: noise-injection BP on the twin; σ per knob in range units (None: the device's
    ``hwa_knob_noise_range_units`` hint)."""

    knob_noise_range_units: float | None = setting(
        None, "injected knob noise sigma (None: the device's hint)", "knob range units")

    def __post_init__(self) -> None:
        super().__post_init__()
        nonnegative(type(self).__name__, "knob_noise_range_units", self.knob_noise_range_units,
                    allow_none=True)


@dataclass
class DeployMapping:
    """(stage, twin knobs) → knobs mapped onto that stage's device so its matrix approaches the
    twin's (the target is the design-level matrix: the ``nominal`` capability); a plain class,
    so trainers holding it checkpoint."""

    oracles: list
    iterations: int
    generator: object

    def __call__(self, i: int, knobs: dict) -> dict:
        o = self.oracles[i]
        return calibrated_mapping(o, knobs, o.nominal(knobs).detach(), iterations=self.iterations,
                                  generator=self.generator).knobs


def _build_twin(req: BuildRequest) -> TwinTrainer:
    s, name = req.settings, req.name
    net = OracleNetwork.build(req.model, req.oracles)
    n = len(net.stages)
    proj = projection_dims(s.projection_dim, net)
    deploy = None
    if name.endswith("deploy"):      # a frozen forward-only trainer on the devices
        deploy = LocalTrainer(net, req.initial_knobs, req.n_classes, [None] * n, updates.sgd(1.0),
                              updates.sgd(1.0), projection_dims=proj, seed=req.seed,
                              trace=req.trace)
    noise = None
    if isinstance(s, HWASettings):
        noise = [s.knob_noise_range_units if s.knob_noise_range_units is not None
                 else device_hint(o, "hwa_knob_noise_range_units", 0.0) for o in net.oracles]
    twins = [o.nominal for o in net.oracles]      # design-level map; no hidden errors
    mapping = None
    if deploy is not None and s.deploy_calibration == "auto" \
            and all("calibrate" in o.capabilities for o in net.oracles):
        mapping = DeployMapping(net.oracles, s.mapping_iterations,
                                generator(req.seed, "deploy/calibration"))
    return TwinTrainer(req.model, twins, net.maps, req.initial_knobs, req.n_classes, mode=name,
                       knob_lr_range_units=s.knob_lr_range_units, head_lr=s.head_lr,
                       knob_noise_range_units=noise, deploy=deploy, projection_dims=proj,
                       prediction=s.prediction, seed=req.seed, deploy_mapping=mapping)


def _build_tt_twin(req: BuildRequest) -> TTTwinTrainer:
    s = req.settings
    m = tt_model(s, req.model)
    net = TTNetwork.build(list(m.shapes), req.oracles, m.activation)
    return TTTwinTrainer(net, req.initial_knobs, req.objective or OutputCrossEntropy(),
                         knob_lr_range_units=s.knob_lr_range_units, bias_lr=s.head_lr,
                         seed=req.seed)


def _twin(name: str, description: str, settings_type: type, label: str, order: int,
          **kw) -> AlgorithmSpec:
    return AlgorithmSpec(name, description, settings_type, kw.pop("build", _build_twin),
                         lambda s, n: 0, label, capability_for=lambda s: "nominal", twin=True,
                         order=order, **kw)


register(_twin("mf-ad", "Mono-Forward with autograd local gradients", TwinSettings, TWIN_LABEL, 6,
               short="MF-AD", traced=False))
register(_twin("bp", "backpropagation end to end", TwinSettings, TWIN_LABEL, 7, short="BP",
               traced=False))
def _deploy_label(base: str):
    """The deploy label says whether the weights were mapped by calibration where offered."""
    return lambda s: base + (" (calibrated mapping where the device offers calibrate)"
                             if s.deploy_calibration == "auto" else " (uncalibrated)")


_BP_DEPLOY = _deploy_label(f"{TWIN_LABEL}, deployed on device")
_HWA_DEPLOY = _deploy_label(f"{TWIN_LABEL} (noise injection), deployed on device")
register(_twin("bp-deploy", "BP on the twin, weights mapped onto the device by calibration "
               "where offered, then deployed", TwinSettings, _BP_DEPLOY(TwinSettings()), 8,
               label_for=_BP_DEPLOY))
register(_twin("hwa-deploy", "noise-injection BP on the twin, then deployed (calibrated "
               "mapping where offered)", HWASettings,
               _HWA_DEPLOY(HWASettings()), 9, label_for=_HWA_DEPLOY))
register(_twin("tt-autograd", "tensor-train network, autograd on the twin (tt-zo's reference)",
               TTZOSettings, TWIN_LABEL, 51, build=_build_tt_twin, layout=tt_layout,
               initial_weights=tt_initial_weights, check_task=tt_check_task,
               example=TT_DIGITS_EXAMPLE, short="TT-AD", traced=False))

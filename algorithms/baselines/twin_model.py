"""Autograd baselines on the ideal digital twin of the SAME model description — labelled
"ideal digital twin, autograd" wherever they appear.

* ``bp``: backpropagation end to end (the last stage's head is the classifier);
* ``mf-ad``: Mono-Forward with autograd local gradients (arXiv:2501.09238; inputs of every stage
  detached);
* ``bp-deploy``: BP on the twin, then the knobs deployed on the (noisy) device: ``predict`` goes
  through the device with the deployment noise stream (the model–reality gap);
* ``hwa-deploy``: hardware-aware (noise-injection) BP on the twin — every forward adds Gaussian
  knob noise of the device's datasheet write/phase noise (aihwkit ``StandardHWATrainingPreset``
  style; Rasch et al., Nat. Commun. 14, 5282 (2023), arXiv:2302.08469; algorithms.md §6b) — then
  deployed like ``bp-deploy``.

The trained parameters are the same range-normalised knobs θ as the forward-only algorithms
(:mod:`algorithms.knobmaps`), so one learning rate means the same on every device (a crossbar
step of 1e-3 is 0.05 µS of G⁺ − G⁻, not 1e-3 µS).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping, Sequence


from ..knobmaps import KnobMap
from ..model import ModelDescription
from ..objectives.heads import MonoForwardHead
from ..seeds import generator
from .leaf_adam import LeafAdam

from hwsim.lazy import no_grad, torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["TwinTrainer", "TWIN_MODES", "LABEL"]

TWIN_MODES = ("bp", "mf-ad", "bp-deploy", "hwa-deploy")
LABEL = "ideal digital twin, autograd"


class TwinTrainer:
    """Autograd training of θ through ``twins[i](knobs) → W_i`` on the model's stages.

    Args:
        model: the description (same as the forward-only algorithms).
        twins: per device block, the differentiable knobs → (n_out, n_in) map.
        maps: per block, the knob map (θ ↔ knobs) of that device.
        initial_knobs: per block, the initial knob dict.
        n_classes: C.
        mode: one of ``TWIN_MODES``.
        knob_lr_range_units, head_lr: Adam learning rates (θ and digital parameters).
        knob_noise_range_units: per block σ of the injected knob noise (``hwa-deploy`` only).
        deploy: for the deploy modes, a frozen forward-only trainer on the devices whose state is
            overwritten with the twin-trained parameters before each device prediction.
        projection_dims, prediction, seed: as for the forward-only trainers.
    """

    label = LABEL

    def __init__(self, model: ModelDescription, twins: Sequence[Callable[[Mapping[str, Tensor]], Tensor]],
                 maps: Sequence[KnobMap], initial_knobs: Sequence[Mapping[str, Tensor]],
                 n_classes: int, *, mode: str, knob_lr_range_units: float, head_lr: float,
                 knob_noise_range_units: Sequence[float] | None = None, deploy=None,
                 projection_dims: Sequence[int | None] | None = None, prediction: str = "last",
                 seed: int = 0, deploy_mapping: Callable[[int, dict], dict] | None = None) -> None:
        if mode not in TWIN_MODES:
            raise ValueError(f"twin baseline mode = {mode!r}; allowed: {TWIN_MODES}")
        if mode.endswith("deploy") and deploy is None:
            raise ValueError(f"mode {mode!r} needs the devices to deploy on")
        self.model, self.mode, self.prediction = model, mode, prediction
        self.stages = model.stages()
        self.twins, self.maps = list(twins), list(maps)
        self.deploy = deploy
        # deploy modes: (stage, knobs) → knobs that make the device's matrix approach the
        # twin's (a calibrated mapping through the oracle; None: program the twin knobs as they
        # are). Mapped once per twin update, cached until the next step.
        self.deploy_mapping = deploy_mapping
        self._mapped: list[Tensor] | None = None
        proj = list(projection_dims) if projection_dims is not None else [None] * len(self.stages)
        self.heads = [MonoForwardHead(n_classes, st.n_features, k) for st, k in zip(self.stages, proj)]
        g = generator(seed, "init/heads")      # same head init as the forward-only trainers
        self.fixed = [{n: t.detach().clone().float() for n, t in k.items()} for k in initial_knobs]
        self.theta = [m.project(m.flatten(k)).clone().requires_grad_(True)
                      for m, k in zip(self.maps, self.fixed)]
        self.digital = [{n: torch.zeros(s, requires_grad=True)
                         for n, s in st.digital_param_shapes().items()} for st in self.stages]
        self.head_params = [{k: (v.requires_grad_(True) if k == "M" else v)
                             for k, v in h.init(g).items()} for h in self.heads]
        self.noise = list(knob_noise_range_units) if (mode == "hwa-deploy"
                                                      and knob_noise_range_units) else None
        self._noise_gen = generator(seed, "hwa/knob-noise")
        digital_params = [p for d in self.digital for p in d.values()] + \
                         [h["M"] for h in self.head_params]
        self.opt = LeafAdam([(self.theta, knob_lr_range_units), (digital_params, head_lr)])

    def _weights(self, i: int, noisy: bool) -> Tensor:
        theta = self.theta[i]
        if noisy and self.noise is not None:
            xi = torch.randn(theta.shape, generator=self._noise_gen)
            theta = theta + self.noise[i] * xi        # noise injection (straight-through in θ)
        return self.twins[i](self.maps[i].unflatten(theta, self.fixed[i]))

    def _forward(self, x: Tensor, *, detach_between: bool, noisy: bool) -> list[Tensor]:
        scores, a = [], self.model.reshape_input(x)
        for i, st in enumerate(self.stages):
            if detach_between:
                a = a.detach()
            z = st.device_readout(st.device_inputs(a) @ self._weights(i, noisy).T, a.shape[1])
            h, _ = st.host_forward(z[0], self.digital[i])
            scores.append(self.heads[i].scores(h.reshape(h.shape[0], -1), self.head_params[i]))
            a = h.unsqueeze(0)
        return scores

    def step(self, x: Tensor, y: Tensor, train_stages=None) -> dict[str, float]:
        from ..objectives.heads import cross_entropy

        self.opt.zero_grad()
        local = self.mode == "mf-ad"
        scores = self._forward(x, detach_between=local, noisy=True)
        if local:
            chosen = range(len(scores)) if train_stages is None else train_stages
            losses = {f"loss.stage{i}": cross_entropy(scores[i], y) for i in chosen}
        else:
            losses = {"loss.bp": cross_entropy(scores[-1], y)}
        sum(losses.values()).backward()
        self.opt.step()
        self._mapped = None
        with torch.no_grad():
            for t, m in zip(self.theta, self.maps):
                t.copy_(m.project(t))
        return {k: float(v.detach()) for k, v in losses.items()}

    def device_queries_per_step(self, train_stages=None) -> int:
        return 0

    @no_grad
    def predict_twin(self, x: Tensor) -> Tensor:
        """Prediction on the ideal twin (no device)."""
        scores = self._forward(x, detach_between=True, noisy=False)
        if self.mode == "mf-ad" and self.prediction == "sum":
            return torch.stack(scores).sum(0).argmax(-1)
        return scores[-1].argmax(-1)

    @no_grad
    def predict(self, x: Tensor) -> Tensor:
        """Twin prediction (bp, mf-ad) or deployed prediction through the device (deploy modes)."""
        if self.deploy is None:
            return self.predict_twin(x)
        st = self.deploy.state
        st.theta = [t.detach().clone() for t in self.theta]
        if self.deploy_mapping is not None:
            if self._mapped is None:
                self._mapped = [m.project(m.flatten(self.deploy_mapping(i, m.unflatten(t, f))))
                                for i, (m, t, f) in enumerate(zip(self.maps, st.theta, self.fixed))]
            st.theta = [t.clone() for t in self._mapped]
        st.digital = [{k: v.detach().clone() for k, v in d.items()} for d in self.digital]
        st.heads = [{k: v.detach().clone() for k, v in h.items()} for h in self.head_params]
        scores = self.deploy.stage_scores(x, streams="deploy")
        return scores[-1].argmax(-1)

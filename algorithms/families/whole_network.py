"""Algorithms that train a whole photonic network as one device (:mod:`hwsim.photonic.meshnet`):
``insitu-bp`` (Pai et al., Science 380, 398 (2023): gradients from forward, adjoint and
interference passes read by the power monitors — capability ``adjoint``) and ``ficonn-spsa``
(FICONN, Bandyopadhyay et al., Nat. Photon. 2024, arXiv:2208.01623: ±δ on all parameters,
forward-only).

Their layout is ONE device slot holding the whole network (``AlgorithmSpec.network_knobs``
declares it): the per-layer contract suites and ``forwardlab run`` (whose models are built
block by block) do not apply; ``forwardlab reproduce pai2023`` / ``ficonn2024`` run them.
Queries per step: insitu-bp 3 passes of the one programmed setting (forward, adjoint, sum);
ficonn-spsa 2K settings (Θ ± Δ_k for its K directions, one query) plus 1 (Θ, the loss pass) when ``loss_pass``.
"""
from __future__ import annotations

from ..insitu_bp import LABEL as INSITU_LABEL
from ..insitu_bp import InSituBP, InSituBPSettings
from ..ficonn_spsa import LABEL as SPSA_LABEL
from ..ficonn_spsa import FICONNSPSA, FICONNSPSASettings
from ..meshnet_common import initial_knobs
from ..registry import AlgorithmSpec, DeviceSlot, register
from ..seeds import generator

__all__ = ["NetworkTrainer", "network_layout", "network_knobs"]


def network_layout(settings, model) -> list[DeviceSlot]:
    """One slot: the whole network (its width is the device's; 0 where no model says it)."""
    width = model.device_shapes()[0][0] if model is not None else 0
    return [DeviceSlot(width, width, "network", "device/network")]


def network_knobs(devices, seed: int) -> list[dict]:
    """The trainers' own initial knobs of a seed (``init/knobs`` stream of
    :mod:`algorithms.seeds`): the same for insitu-bp, ficonn-spsa and the twin at a seed."""
    return [initial_knobs(d.knob_spec, generator(seed, "init/knobs")) for d in devices]


class NetworkTrainer:
    """The registry's trainer protocol over a whole-network trainer (``step(x, y)``,
    ``predict``); ``queries``: device settings queried per step."""

    def __init__(self, inner, queries: int) -> None:
        self.inner, self.queries, self.n_stages = inner, queries, 1

    def step(self, x, y, train_stages=None) -> dict:
        return self.inner.step(x, y)

    def predict(self, x):
        return self.inner.predict(x)

    def device_queries_per_step(self, train_stages=None) -> int:
        return self.queries


def _spsa_queries(s: FICONNSPSASettings, n_blocks: int = 1) -> int:
    return 2 * s.directions + int(s.loss_pass)


register(AlgorithmSpec(
    "insitu-bp", "in-situ backpropagation on a whole mesh network: forward, adjoint and "
    "interference passes read by the power monitors (Pai et al., Science 2023)",
    InSituBPSettings,
    lambda req: NetworkTrainer(InSituBP(req.oracles[0], req.settings, seed=req.seed,
                                        knobs=req.initial_knobs[0]), 3),
    lambda s, n: 3, INSITU_LABEL, capability_for=lambda s: "adjoint", layout=network_layout,
    order=60, network_knobs=network_knobs, cross_device_row=False))

register(AlgorithmSpec(
    "ficonn-spsa", "FICONN's forward-only rule on a whole network: ±δ Bernoulli perturbation of "
    "all parameters, two-sided loss difference (Bandyopadhyay et al., Nat. Photon. 2024)",
    FICONNSPSASettings,
    lambda req: NetworkTrainer(FICONNSPSA(req.oracles[0], req.settings, seed=req.seed,
                                          knobs=req.initial_knobs[0]), _spsa_queries(req.settings)),
    _spsa_queries, SPSA_LABEL, layout=network_layout, order=61, network_knobs=network_knobs,
    cross_device_row=False))

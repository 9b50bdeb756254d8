"""Tensor-train family: tt-zo (Zhao et al., arXiv:2308.09858), one device per TT core, ZO
estimates of every core's knobs, one layer's cores perturbed at a time as the reference code
does (``perturbation = "all"``: every core at once, the labelled option) — for classification (``layers`` of the settings, output
cross-entropy) and for PDE tasks (a :class:`TTModel` and a PDE objective passed to ``build``).

The ``model`` a tensor-train algorithm takes is a :class:`TTModel` (layer shapes and hidden
activation), or None: the settings' ``layers`` with their ``activation``.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass


from ..estimators.hybrid import HYBRID_DIFFERENCES, HybridZO
from ..network import knob_steps
from ..registry import AlgorithmSpec, BuildRequest, DeviceSlot, register
from ..seeds import INIT_TT_CORES, device_stream, generator
from .. import updates
from ..settings import CommonSettings, bad, choice, integer, optimizer, positive, setting
from ..tt import core_to_matrix, parse_tt_layer
from ..tt_network import ACTIVATIONS, TTNetwork, check_chain, tt_init_cores
from ..tt_zo import OutputCrossEntropy, TTZOTrainer

from hwsim.lazy import torch

__all__ = ["TTZOSettings", "TTModel", "TT_DIGITS_EXAMPLE", "TT_GRADIENTS", "TT_PERTURBATIONS",
           "tt_shapes", "tt_model", "tt_layout", "tt_initial_weights", "tt_check_task",
           "layer_groups"]

#: tt-zo gradient evaluation: "rge" (Rademacher over every coordinate, the reference code's
#: MNIST setting) or "hybrid" (coordinate-wise on groups of at most ``cge_max_group``
#: coordinates, Rademacher on the rest; see algorithms.estimators.hybrid).
TT_GRADIENTS = ("rge", "hybrid")


#: tt-zo perturbation: "layer" — each query group perturbs one layer's cores (and that layer's
#: hidden bias), N directions per layer (the reference's ``en_layerwise_perturbation: True``);
#: "all" — every core of every layer in every direction.
TT_PERTURBATIONS = ("layer", "all")


#: a small tensor-train classifier of the shipped digits (64 = 4·4·4 features, 10 classes)
TT_DIGITS_EXAMPLE = {"layers": ("tt:4x4x4:2x2x2:2", "dense:8:10")}


def tt_shapes(layers, where: str = "layers") -> list:
    """TTShapes of layer strings ('tt:7x4x4x7:8x4x4x8:6', 'dense:16:1')."""
    return [parse_tt_layer(item, f"{where}[{i}]") for i, item in enumerate(layers)]


@dataclass(frozen=True)
class TTModel:
    """A tensor-train network: layer shapes (``tt_shapes``) and the hidden activation."""

    shapes: tuple
    activation: str = "relu"


@dataclass(frozen=True)
class TTZOSettings(CommonSettings):
    """tt-zo: tensor-train layers, one device per core, ZO estimates of the cores' knobs
    (Zhao et al., arXiv:2308.09858). Defaults from the reference code
    (``olokevin/scalable_bpfree_onn_training`` ``MNIST/configs/tt.yml``): 784-1024-10 with both
    layers in TT format, modes [[7,4,4,7],[8,4,4,8]] and [[8,4,4,8],[1,5,2,1]], rank 6, N = 10
    Rademacher samples, forward differences, σ = 0.01 (here: 1 % of each knob's range, raised by
    the device's perturbation rule), one layer perturbed at a time
    (``en_layerwise_perturbation: True``), Adam lr 1e-3 with betas (0.9, 0.5) (``optimizer:
    betas: [0.9,0.5]``). ``perturbation = "all"`` (every core at once) and ``adam_b2 = 0.999``
    are the labelled deviations. ``layers``: 'tt:IN:OUT:RANK' or 'dense:N_IN:N_OUT' strings (a
    PDE run takes its network from [pde] instead)."""

    knob_lr_range_units: float = setting(1e-3, "Adam step on the cores' knobs",
                                         "knob range units")
    head_lr: float = setting(1e-2, "step of the biases (hidden: ZO; output: exact)", "1")
    layers: tuple = setting(("tt:7x4x4x7:8x4x4x8:6", "tt:8x4x4x8:1x5x2x1:6"),
                            "layer strings 'tt:IN_MODES:OUT_MODES:RANK' / 'dense:N_IN:N_OUT'")
    activation: str = setting("relu", f"hidden activation, one of {ACTIVATIONS}")
    num_directions: int = setting(10, "Rademacher samples per estimate (N)", "count")
    difference: str = setting("forward", f"finite difference, one of {HYBRID_DIFFERENCES}")
    gradient: str = setting("rge", f"gradient evaluation, one of {TT_GRADIENTS}")
    cge_max_group: int = setting(64, "largest coordinate group estimated coordinate-wise "
                                 "(gradient = 'hybrid')", "coordinates")
    bias_epsilon: float = setting(0.01, "ZO step of the hidden biases", "readout units")
    perturbation: str = setting("layer", f"what one query group perturbs, one of "
                                f"{TT_PERTURBATIONS}: one layer's cores (the reference's) or all")
    adam_b1: float = setting(0.9, "Adam first-moment decay (the reference's 0.9)", "1")
    adam_b2: float = setting(0.5, "Adam second-moment decay (the reference's 0.5; Adam's usual "
                             "0.999 is the deviation)", "1")

    def __post_init__(self) -> None:
        super().__post_init__()
        o = type(self).__name__
        if isinstance(self.layers, (str, bytes)) or not isinstance(self.layers, (list, tuple)) \
                or not self.layers:
            raise bad(o, "layers", self.layers, "a non-empty list of "
                      "'tt:IN_MODES:OUT_MODES:RANK' / 'dense:N_IN:N_OUT' strings")
        object.__setattr__(self, "layers", tuple(self.layers))
        shapes = tt_shapes(self.layers, f"{o}.layers")
        for i in range(1, len(shapes)):
            if shapes[i].n_in != shapes[i - 1].n_out:
                raise bad(o, f"layers[{i}]", self.layers[i],
                          f"in modes whose product is {shapes[i - 1].n_out}")
        choice(o, "activation", self.activation, ACTIVATIONS)
        integer(o, "num_directions", self.num_directions, 1, 4096)
        choice(o, "difference", self.difference, HYBRID_DIFFERENCES)
        choice(o, "gradient", self.gradient, TT_GRADIENTS)
        integer(o, "cge_max_group", self.cge_max_group, 0, 100_000)
        positive(o, "bias_epsilon", self.bias_epsilon)
        choice(o, "perturbation", self.perturbation, TT_PERTURBATIONS)
        for name in ("adam_b1", "adam_b2"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
                raise bad(o, name, v, "a number in [0, 1)")


def tt_model(settings, model) -> TTModel:
    """The network ``model`` names where it is a :class:`TTModel` (e.g. a PDE task's), else the
    settings' ``layers`` and ``activation``."""
    if isinstance(model, TTModel):
        return model
    shapes = tt_shapes(settings.layers, "algorithm.settings.layers")
    n_in = math.prod(model.input_shape) if model is not None else None
    # The default layers are the paper's 784-input network; on another data set (digits: 64
    # inputs) their first in-modes are refactored into as many modes from the data's features,
    # so ``forwardlab run --algorithm tt-zo`` works as it stands. Layers a user gives are taken
    # as they are (a mismatch is a one-line error naming them, tt_check_task).
    if (n_in and shapes and tuple(settings.layers) == TTZOSettings().layers
            and math.prod(shapes[0].in_modes) != n_in):
        shapes[0] = dataclasses.replace(shapes[0],
                                        in_modes=factor_modes(n_in, len(shapes[0].in_modes)))
    return TTModel(tuple(shapes), settings.activation)


def factor_modes(n: int, k: int) -> tuple[int, ...]:
    """``n`` as ``k`` balanced integer factors (64, 4 → (4, 2, 2, 4)); their product is ``n``,
    the large modes at both ends as in the paper's 7x4x4x7."""
    primes, m, p = [], n, 2
    while p * p <= m:
        while m % p == 0:
            primes.append(p)
            m //= p
        p += 1
    if m > 1:
        primes.append(m)
    bins = [1] * k
    for q in sorted(primes, reverse=True):   # largest factor into the smallest bin
        bins[bins.index(min(bins))] *= q
    bins.sort(reverse=True)
    return tuple(bins[0::2] + bins[1::2][::-1])


def tt_layout(settings, model) -> list[DeviceSlot]:
    """One device per core, ``layer<l>.core<k>``, fabricated from stream ``device/tt<j>``."""
    slots, j = [], 0
    for li, sh in enumerate(tt_model(settings, model).shapes):
        for k, (n_in, n_out) in enumerate(sh.device_shapes()):
            slots.append(DeviceSlot(n_in, n_out, f"layer{li}.core{k}", device_stream(f"tt{j}")))
            j += 1
    return slots


def tt_initial_weights(settings, model, seed: int) -> list[torch.Tensor]:
    """Gaussian cores (``tt_init_cores``, stream ``INIT_TT_CORES``) as device matrices."""
    gen = generator(seed, INIT_TT_CORES)
    return [core_to_matrix(c) for sh in tt_model(settings, model).shapes
            for c in tt_init_cores(sh, gen)]


def tt_check_task(settings, model, n_in: int, n_classes: int) -> None:
    """The settings' layers must chain from the data's features to the classes."""
    check_chain(tt_model(settings, model).shapes, n_in, n_classes, "algorithm.settings.layers")


def _queries(s: TTZOSettings, n: int) -> int:
    """Settings per step (1 clean + R, or 1 + 2R central, R = P per layer perturbed apart or P
    for all at once) × core devices; CGE adds its coordinates (hybrid: counted when the network
    is built)."""
    shapes = tt_shapes(s.layers)
    cores = sum(sh.cores for sh in shapes)
    rows = s.num_directions * (len(shapes) if s.perturbation == "layer" else 1)
    return cores * (1 + (rows if s.difference == "forward" else 2 * rows))


def layer_groups(net: TTNetwork) -> torch.Tensor:
    """(dim,) layer index of every coordinate of θ: each core's knobs and each hidden bias
    belong to their layer (``net.groups()`` names them ``layer<l>.…``)."""
    return torch.cat([torch.full((size,), int(name.split(".")[0][len("layer"):]))
                      for name, size in net.groups()])


def _rule(s: TTZOSettings, name: str, lr: float):
    """Update rule ``name`` at ``lr``: Adam with the settings' betas (the reference's
    (0.9, 0.5)), else the common rule of that name."""
    if name != "adam":
        return optimizer(name, lr, s.clip_norm)
    base = updates.adam(lr, s.adam_b1, s.adam_b2)
    return updates.chain(updates.clip_by_global_norm(s.clip_norm), base) if s.clip_norm else base


def _build(req: BuildRequest) -> TTZOTrainer:
    """The per-knob step of every core follows ``perturbation_step`` (the device's write-noise
    hint and DAC step); hidden biases use ``bias_epsilon``."""
    s = req.settings
    m = tt_model(s, req.model)
    net = TTNetwork.build(list(m.shapes), req.oracles, m.activation)
    groups = net.groups()
    eps = [torch.full((size,), e) for (_, size), e in zip(groups, knob_steps(net.oracles,
                                                                             net.maps, s))]
    eps += [torch.full((size,), s.bias_epsilon) for _, size in groups[len(net.maps):]]
    cge = [torch.full((size,), s.gradient == "hybrid" and size <= s.cge_max_group)
           for _, size in groups]
    est = HybridZO(torch.cat(eps), torch.cat(cge), s.num_directions, s.difference,
                   layer_groups(net) if s.perturbation == "layer" else None)
    return TTZOTrainer(net, req.initial_knobs, req.objective or OutputCrossEntropy(), est,
                       _rule(s, s.knob_optimizer or s.optimizer, s.knob_lr_range_units),
                       _rule(s, s.optimizer, s.head_lr), seed=req.seed,
                       trace=req.trace)


def _tt_label(s: TTZOSettings) -> str:
    what = "one layer per query group" if s.perturbation == "layer" else "all layers at once"
    rule = (f"Adam betas ({s.adam_b1:g}, {s.adam_b2:g})" if s.optimizer == "adam"
            else s.optimizer)
    return f"forward-only, {what}, {rule}"


register(AlgorithmSpec(
    "tt-zo", "tensor-train layers, one device per core, ZO over the cores' knobs, one layer "
    "perturbed at a time (perturbation = 'all': every core at once) (queries: all core devices)",
    TTZOSettings, _build, _queries, _tt_label(TTZOSettings()), label_for=_tt_label,
    layout=tt_layout,
    initial_weights=tt_initial_weights, check_task=tt_check_task, example=TT_DIGITS_EXAMPLE,
    order=10, cross_device_row=False))   # its devices are TT cores, not the model's blocks

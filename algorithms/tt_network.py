"""A network of TT layers on device oracles: every layer is a :class:`~algorithms.tt.TTShape`
(one core = a dense layer), its cores each on one oracle (see :mod:`algorithms.tt` for why),
followed on the host by a bias and an activation (none after the last layer).

Trained parameters, as one flat vector per setting (the ZO estimate's coordinates):

    θ = [core knobs of layer 1 (core 1..K) … core knobs of layer L | hidden-layer biases]

knobs in range-normalised units (:mod:`algorithms.knobmaps`), biases in readout units. The
output layer's bias is kept apart (trained with its exact host gradient; see
:mod:`algorithms.tt_zo`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence


from hwsim.oracle import Oracle

from .knobmaps import KnobMap, knob_map_for
from .tt import TTShape, core_to_matrix, tt_contract

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["TTNetwork", "ACTIVATIONS", "activation", "tt_init_cores", "check_chain"]

ACTIVATIONS = ("relu", "tanh", "none")


def activation(name: str, x: Tensor) -> Tensor:
    if name == "relu":
        return torch.relu(x)
    if name == "tanh":
        return torch.tanh(x)
    return x


def check_chain(shapes: Sequence[TTShape], n_in: int, n_out: int, where: str) -> None:
    """Layer widths must chain from n_in to n_out; one-line ValueError otherwise."""
    prev = n_in
    for i, s in enumerate(shapes):
        if s.n_in != prev:
            raise ValueError(f"{where}[{i}] takes {s.n_in} inputs but receives {prev}; allowed: "
                             f"in modes whose product is {prev}")
        prev = s.n_out
    if prev != n_out:
        raise ValueError(f"{where}: the last layer has {prev} outputs; allowed: {n_out}")


def tt_init_cores(shape: TTShape, gen: torch.Generator) -> list[Tensor]:
    """Gaussian cores with Var(W_ij) = 1/(3N), the variance of PyTorch's default Linear init
    U(−1/√N, 1/√N): Var(W_ij) = ∏_k s² · r^{K−1} for i.i.d. N(0, s²) entries."""
    K = shape.cores
    s2 = (1.0 / (3.0 * shape.n_in) / shape.rank ** (K - 1)) ** (1.0 / K)
    return [torch.randn(*cs, generator=gen) * math.sqrt(s2) for cs in shape.core_shapes()]


@dataclass
class TTNetwork:
    """Layers (shapes + activations) and one oracle per core, in layer then core order."""

    shapes: list[TTShape]
    activation: str
    oracles: list[Oracle]
    maps: list[KnobMap]

    @classmethod
    def build(cls, shapes: Sequence[TTShape], oracles: Sequence[Oracle],
              activation_name: str = "relu") -> "TTNetwork":
        if activation_name not in ACTIVATIONS:
            raise ValueError(f"activation = {activation_name!r}; allowed: {ACTIVATIONS}")
        need = [ds for s in shapes for ds in s.device_shapes()]
        if len(oracles) != len(need):
            raise ValueError(f"the TT network has {len(need)} cores but {len(oracles)} devices were "
                             "given; allowed: one device per core")
        for o, (n_in, n_out) in zip(oracles, need):
            if (o.n_in, o.n_out) != (n_in, n_out):
                raise ValueError(f"device {o.name!r} is {o.n_in}->{o.n_out}; allowed {n_in}->{n_out}")
        maps = [knob_map_for(o.knob_spec, o.info().knob_bits) for o in oracles]
        return cls(list(shapes), activation_name, list(oracles), maps)

    # ------------------------------------------------------------------ layout
    @property
    def core_dims(self) -> list[int]:
        return [m.dim for m in self.maps]

    @property
    def knob_dim(self) -> int:
        return sum(self.core_dims)

    @property
    def hidden_bias_dim(self) -> int:
        return sum(s.n_out for s in self.shapes[:-1])

    @property
    def dim(self) -> int:
        return self.knob_dim + self.hidden_bias_dim

    def groups(self) -> list[tuple[str, int]]:
        """(name, size) of every coordinate group of θ, in order (cores, then hidden biases)."""
        out, j = [], 0
        for li, s in enumerate(self.shapes):
            for k in range(s.cores):
                out.append((f"layer{li}.core{k}", self.core_dims[j]))
                j += 1
        out += [(f"layer{li}.bias", s.n_out) for li, s in enumerate(self.shapes[:-1])]
        return out

    def _cores_of(self, li: int) -> range:
        start = sum(s.cores for s in self.shapes[:li])
        return range(start, start + self.shapes[li].cores)

    def initial_theta(self, knobs: Sequence[Mapping[str, Tensor]]) -> Tensor:
        parts = [m.project(m.flatten(k)) for m, k in zip(self.maps, knobs)]
        return torch.cat(parts + [torch.zeros(self.hidden_bias_dim)])

    # ------------------------------------------------------------------ forward
    def forward(self, theta: Tensor, out_bias: Tensor, x: Tensor, fixed: Sequence[Mapping],
                prog_gen: torch.Generator, query_gen: torch.Generator) -> Tensor:
        """Outputs (S, B, n_out) of S settings θ (S, dim) on inputs x (B, n_in): each core is
        programmed once with its S settings, then queried with the intermediates."""
        S = theta.shape[0]
        knobs = torch.split(theta[:, :self.knob_dim], self.core_dims, dim=-1)
        biases = torch.split(theta[:, self.knob_dim:], [s.n_out for s in self.shapes[:-1]], dim=-1)
        a = x.unsqueeze(0)
        for li, s in enumerate(self.shapes):
            idx = list(self._cores_of(li))
            progs = [self.oracles[c].program(self.maps[c].unflatten(knobs[c], fixed[c]), prog_gen)
                     for c in idx]

            def apply(k, v, idx=idx, progs=progs):
                return self.oracles[idx[k]].query(progs[k], v, query_gen)

            z = tt_contract(a, s, apply)                                     # (S, B, n_out)
            if li < len(self.shapes) - 1:
                a = activation(self.activation, z + biases[li].unsqueeze(1))
            else:
                a = z + out_bias
        return a

    def host_forward(self, matrices: Sequence[Tensor], biases: Sequence[Tensor], x: Tensor) -> Tensor:
        """The same network on host matrices (one (n_out, n_in) per core, e.g. a design-level
        twin): (1, B, n_out). Used by the autograd baselines."""
        a = x.unsqueeze(0)
        for li, s in enumerate(self.shapes):
            idx = list(self._cores_of(li))
            z = tt_contract(a, s, lambda k, v: v @ matrices[idx[k]].transpose(-1, -2))
            z = z + biases[li]
            a = activation(self.activation, z) if li < len(self.shapes) - 1 else z
        return a

    def describe(self) -> str:
        return " | ".join(s.describe() for s in self.shapes)

    @staticmethod
    def core_matrices(shape: TTShape, cores: Sequence[Tensor]) -> list[Tensor]:
        return [core_to_matrix(g) for g in cores]

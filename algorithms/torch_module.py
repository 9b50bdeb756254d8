"""A device layer as a torch ``nn.Module`` for evaluation inside a user's own torch model.

``forward(x)`` is an oracle query (traced like any other): inputs (B, n_in) → readout
(B, n_out), detached — there is no autograd graph through a device. The knobs are programmed once
(on construction or ``set_knobs``) and the programmed state is reused for every forward.
Program and query noise come from the module's own generators (seeded), never the global RNG.
"""
from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

from hwsim.oracle import Oracle

from .seeds import generator

__all__ = ["DeviceLayer"]


class DeviceLayer(nn.Module):
    """Wrap ``oracle`` programmed with ``knobs`` (one setting)."""

    def __init__(self, oracle: Oracle, knobs: Mapping[str, Tensor], *, seed: int = 0) -> None:
        super().__init__()
        self.oracle = oracle
        self._program_gen = generator(seed, "module/program")
        self._query_gen = generator(seed, "module/query")
        self.set_knobs(knobs)

    def set_knobs(self, knobs: Mapping[str, Tensor]) -> None:
        """Program new knobs (one write); later forwards reuse that state."""
        self._programmed = self.oracle.program({k: v.detach() for k, v in knobs.items()},
                                               self._program_gen)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2:
            raise ValueError(f"DeviceLayer input has shape {tuple(x.shape)}; allowed "
                             f"(B, {self.oracle.n_in})")
        with torch.no_grad():
            return self.oracle.query(self._programmed, x.detach(), self._query_gen)[0]

    def extra_repr(self) -> str:
        return f"{self.oracle.name}: {self.oracle.n_in} -> {self.oracle.n_out}, forward = oracle query"

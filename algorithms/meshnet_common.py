"""What the whole-network photonic algorithms share: initial knobs, the trainable protocol."""
from __future__ import annotations

import math
from typing import Mapping

import torch

from hwsim.oracle import KnobSpec

__all__ = ["initial_knobs", "haar_knobs", "cosine_factor", "INITIALISERS"]

#: initial phase distributions of the whole-network trainers: ``uniform`` (every phase uniform on
#: [0, 2π)) and ``haar`` (every layer a Haar-random unitary, the authors' start: see haar_knobs)
INITIALISERS = ("uniform", "haar")


def initial_knobs(spec: Mapping[str, KnobSpec], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Phases uniform on [0, 2π) (an unstructured start; Pai's code starts from simphox's
    triangular-mesh initialiser, not reproduced); NOFU taps β = 0.5 and bias π (the NOFU at
    full transmission for weak light: sin²(π/2) = 1). Float32, one setting."""
    out = {}
    for name, ks in spec.items():
        if name == "nofu_beta":
            out[name] = torch.full(ks.shape, 0.5)
        elif name == "nofu_bias":
            out[name] = torch.full(ks.shape, math.pi)
        elif ks.periodic:
            out[name] = torch.rand(ks.shape, generator=generator) * (ks.high - ks.low) + ks.low
        else:
            out[name] = torch.rand(ks.shape, generator=generator) * (ks.high - ks.low) + ks.low
    return out


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
    from hwsim.photonic.decompose import decompose, haar_unitary
    from hwsim.photonic.topology import build_topology

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


def cosine_factor(step: int, total: int | None) -> float:
    """Step-size factor ½(1 + cos(π t/T)) at step t of T (1 when ``total`` is None or 0): the
    noisy in-situ gradients otherwise keep the knobs jittering at the noise floor."""
    if not total:
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))

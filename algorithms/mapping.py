"""Calibrated mapping of target weights onto a mesh with hidden errors, from forward queries only.

L2ight's on-chip flow (Gu et al., NeurIPS 2021, arXiv:2110.14807; algorithms.md §9) calibrates
the hidden phase errors and then maps the pretrained weights block by block, all blocks in
parallel, by zeroth-order search on ‖W_device − W_target‖. Here the same two stages use the
device's ``calibrate`` capability (the measured block Jacobian ∂W/∂knob, 2 settings per shifter
of a block, :mod:`hwsim.photonic.calibrate`) and a full-matrix Hadamard readout of W (one
setting), and the mapping step is a damped Gauss–Newton step per block instead of ZO search
(labelled deviation: fewer device settings for the same residual; every query traced):

    R_b = W_target,b − W_meas,b          (k × k residual of block b, read with Hadamard probes)
    Δ_b = J_bᵀ (J_b J_bᵀ + λ I)⁻¹ R_b     (J_b: (k², n_knobs) measured ∂W_b/∂knob, min-norm step)
    knobs ← knobs + Δ                     (mesh phases wrap; Σ phases stay in [0, π])

The target of a deployment is the design-level matrix of the twin-trained knobs,
``oracle.nominal(knobs)`` (the ``nominal`` capability: what the designer knows).

Measured (16→16 layer, 2×2 blocks, seed 0, 1,024 probe rows): the relative error
‖W_meas − W_target‖/‖W_target‖ of the programmed twin knobs is 1.35 on mzi-l2ight and 1.26 on
mzi-default (the U(−1, 1) rad phase biases scramble the blocks); 8 Gauss–Newton rounds
(2,185 settings) bring it to 0.35 / 0.34 with damping λ = 1 × mean diag(J Jᵀ) (0.26 / 0.38
with λ = 0.1). The linearisation is far from the answer at the start, hence the slow rounds;
L2ight first calibrates to the identity for that reason.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping


from hwsim.oracle import TracingOracle

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["MappingResult", "read_matrix", "calibrated_mapping"]


@dataclass(frozen=True)
class MappingResult:
    knobs: dict[str, Tensor]
    errors: tuple[float, ...]     # relative error ‖W_meas − W_target‖/‖W_target‖ per read, first = before
    settings: int                 # device settings programmed and read (calibrations + readouts)


def _sylvester(n_in: int) -> Tensor:
    """(N, n_in) ±1 probes from a Sylvester–Hadamard matrix of the next power of two N ≥ n_in
    (XᵀX = N·I). A probe design the algorithm side builds itself: algorithms see only the
    oracle, never the device packages."""
    h = torch.ones(1, 1)
    while h.shape[0] < n_in:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h[:, :n_in].contiguous()


def read_matrix(oracle: TracingOracle, knobs: Mapping[str, Tensor], *, probe_rows: int = 1024,
                generator: torch.Generator | None = None) -> Tensor:
    """W (n_out, n_in) read by the device at ``knobs``: Hadamard probes X (N rows, XᵀX = N·I),
    W = (Xᵀ Y / N)ᵀ — one setting, ``probe_rows`` streamed vectors (traced)."""
    x = _sylvester(oracle.n_in)
    x = x.repeat(max(1, math.ceil(probe_rows / x.shape[0])), 1)
    prog = oracle.program(dict(knobs), generator=generator)
    y = oracle.query(prog, x, generator=generator)[0]                    # (N, n_out)
    return (x.T @ y / x.shape[0]).T


def calibrated_mapping(oracle: TracingOracle, knobs: Mapping[str, Tensor], target: Tensor, *,
                       iterations: int = 8, damping: float = 1.0, probe_rows: int = 1024,
                       generator: torch.Generator | None = None) -> MappingResult:
    """Move ``knobs`` so the device's matrix approaches ``target`` (n_out, n_in): ``iterations``
    rounds of (calibrate J, read W, one Gauss–Newton step per block), then a final read; keeps
    the best knobs read. Needs the ``calibrate`` capability (one-line MissingCapability)."""
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"calibrated_mapping.iterations = {iterations!r}; allowed: an integer >= 1")
    oracle.require("calibrate")
    cur = {k: v.detach().clone().float() for k, v in knobs.items()}
    tnorm = max(float(target.norm()), 1e-12)
    w = read_matrix(oracle, cur, probe_rows=probe_rows, generator=generator)
    errors = [float((w - target).norm()) / tnorm]
    best = (errors[0], {k: v.clone() for k, v in cur.items()})
    settings = 1
    spec = oracle.knob_spec
    for _ in range(iterations):
        jac = oracle.calibrate(cur, generator=generator, probe_rows=probe_rows)
        settings += jac.queries
        p, q, nk, k, _ = jac.jac.shape
        r = torch.nn.functional.pad(target - w, (0, q * k - jac.n_in, 0, p * k - jac.n_out))
        rb = r.reshape(p, k, q, k).transpose(1, 2).reshape(p, q, k * k)        # (p, q, k²)
        jb = jac.jac.reshape(p, q, nk, k * k).transpose(-1, -2)                 # (p, q, k², nk)
        gram = jb @ jb.transpose(-1, -2)
        lam = damping * gram.diagonal(dim1=-2, dim2=-1).mean(-1).clamp_min(1e-12)
        eye = torch.eye(k * k)
        sol = torch.linalg.solve(gram + lam[..., None, None] * eye, rb.unsqueeze(-1))
        delta = (jb.transpose(-1, -2) @ sol).squeeze(-1)                        # (p, q, nk)
        n_mesh = math.prod(jac.mesh_shape[2:])
        cur["mesh_phases"] = spec["mesh_phases"].project(
            cur["mesh_phases"] + delta[..., :n_mesh].reshape(jac.mesh_shape))
        cur["sigma_phases"] = spec["sigma_phases"].project(
            cur["sigma_phases"] + delta[..., n_mesh:].reshape(jac.sigma_shape))
        w = read_matrix(oracle, cur, probe_rows=probe_rows, generator=generator)
        settings += 1
        errors.append(float((w - target).norm()) / tnorm)
        if errors[-1] < best[0]:
            best = (errors[-1], {k: v.clone() for k, v in cur.items()})
    return MappingResult(best[1], tuple(errors), settings)

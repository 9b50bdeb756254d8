"""Calibration of an MZI mesh layer from forward queries only: the measured block Jacobian.

Hidden static errors (phase biases U(−1, 1) rad, heater-efficiency spread, thermal crosstalk,
coupler errors; devices.md §5.3–5.6) make the design-level map knobs → W useless as a Jacobian:
on mzi-default the nominal Jᵀc has cosine ≈ 0.04 with the device's. L2ight calibrates a mesh
before training (identity calibration, Gu et al. arXiv:2110.14807; algorithms.md §9) and FICONN
corrects its errors before in-situ training (fidelity 0.900 → 0.987, devices.md §5.13). What a
gradient guess needs is the device's own ∂W/∂knob near the operating point, and a tiled mesh
lets one measure it in few settings:

* the whole matrix is read at once with N ≥ n_in full-scale ±1 probe inputs X, the first n_in
  columns of a Sylvester–Hadamard matrix (XᵀX = N·I): W = (Xᵀ Y / N)ᵀ for the readout Y = X Wᵀ.
  Every modulator carries full power, and the per-entry detector noise falls as 1/√N — one-hot
  (identity) probes light one modulator per vector and leave single entries at an SNR near 1 on
  mzi-default;
* a knob index j moves only its own block, so shifting knob j of EVERY block at once by ±δ and
  reading W± gives the central difference ∂W_block/∂knob_j for all p·q blocks in one pair of
  settings.

So 2·(shifters per block) settings (2·136 for an 8×8 Clements block with its Σ row) measure the
whole layer's Jacobian, independent of the layer size. The result includes whatever the hidden
errors do at that operating point — it estimates their effect, not the bias values — and goes
stale as the knobs move (cosine 0.98 after 0.05 rad rms of knob motion, 0.92 after 0.1 rad,
measured on a 64→32 mzi-default layer), so trainers re-measure it every few steps. Every query
goes through the caller's :class:`~hwsim.oracle.TracingOracle`, so its cost is traced and priced.

Noise sets the defaults (measured on mzi-default, cosine of the measured Jᵀc with the true
device's, 24→16 and 128→64 layers): the detector noise dominates (without it: 0.98 at δ = 0.25);
with it δ = 0.1 / 0.25 / 0.5 rad give 0.45 / 0.80 / 0.93 at N = 32 probes. So δ = 0.5 rad (the
central difference then errs by O(δ²/6) ≈ 4 %; an 8-bit heater DAC step, ≤ 0.06 rad near π,
devices.md §5.2, is ≤ 6 % of 2δ) and the Hadamard probes are repeated to at least
``probe_rows`` = 1024 rows (noise ∝ 1/√rows).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping


from ..effects.validate import require_positive

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["BlockJacobian", "measure_block_jacobian", "hadamard_probes", "DEFAULT_STEP_RAD",
           "DEFAULT_PROBE_ROWS"]

DEFAULT_STEP_RAD = 0.5
DEFAULT_PROBE_ROWS = 1024
_MAX_QUERY_ELEMENTS = 2 ** 25       # per query call: P·B·p·q·k readout partial sums (~128 MiB)


@dataclass(frozen=True)
class BlockJacobian:
    """∂W/∂knob of every block, measured at one knob setting.

    jac: (p, q, n_mesh + k, k, k) in 1/rad — index j < n_mesh is the block's mesh shifter j (the
    flattened trailing dims of ``mesh_phases``), j ≥ n_mesh its Σ shifter j − n_mesh; rows of
    knob indices not in ``indices`` (a partial calibration) are zero, so Jᵀc is the projection
    of the guess onto the measured knobs.
    ``queries``: device settings spent (programmed and read out) to measure it.
    """

    jac: Tensor
    indices: Tensor                    # (n_measured,) knob indices j measured; others are zero
    mesh_shape: tuple[int, ...]
    sigma_shape: tuple[int, ...]
    n_out: int
    n_in: int
    queries: int

    @property
    def block(self) -> int:
        return self.jac.shape[-1]

    def vjp(self, cotangent: Tensor) -> dict[str, Tensor]:
        """Jᵀ c: cotangent (…, n_out, n_in) of the layer matrix (leading dimensions, e.g. P
        directions, kept) → one tensor per trained knob (``mesh_phases``, ``sigma_phases``; the
        digital ``gain`` is not measured: zeros)."""
        p, q, nk, k, _ = self.jac.shape
        if tuple(cotangent.shape[-2:]) != (self.n_out, self.n_in):
            raise ValueError(f"cotangent has shape {tuple(cotangent.shape)}; allowed "
                             f"(…, {self.n_out}, {self.n_in})")
        lead = cotangent.shape[:-2]
        c = torch.nn.functional.pad(cotangent.to(self.jac.dtype),
                                    (0, q * k - self.n_in, 0, p * k - self.n_out))
        cb = c.reshape(*lead, p, k, q, k).transpose(-3, -2)             # (…, p, q, k, k)
        g = torch.einsum("pqjab,...pqab->...pqj", self.jac, cb)
        n_mesh = math.prod(self.mesh_shape[2:])
        return {"mesh_phases": g[..., :n_mesh].reshape(*lead, *self.mesh_shape),
                "sigma_phases": g[..., n_mesh:].reshape(*lead, *self.sigma_shape),
                "gain": torch.zeros(*lead, p, q, dtype=g.dtype)}


def hadamard_probes(n_in: int) -> Tensor:
    """(N, n_in) ±1 probes, N = the next power of two ≥ n_in: columns of a Sylvester–Hadamard
    matrix, so XᵀX = N·I."""
    h = torch.ones(1, 1)
    while h.shape[0] < n_in:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h[:, :n_in].contiguous()


def _blocks(m: Tensor, p: int, q: int, k: int) -> Tensor:
    """(C, n_out, n_in) → (C, p, q, k, k), zero-padded."""
    C, n_out, n_in = m.shape
    m = torch.nn.functional.pad(m, (0, q * k - n_in, 0, p * k - n_out))
    return m.reshape(C, p, k, q, k).transpose(2, 3)


def measure_block_jacobian(oracle, knobs: Mapping[str, Tensor], *, block: int,
                           step_rad: float = DEFAULT_STEP_RAD,
                           probe_rows: int = DEFAULT_PROBE_ROWS,
                           indices=None, subset: int | None = None,
                           generator: torch.Generator | None = None) -> BlockJacobian:
    """Measure ∂W/∂knob of every block of an MZI mesh layer by central differences.

    oracle: the layer's (tracing) oracle — the only way the device is touched. knobs: one setting
    (``mesh_phases`` (p, q, …), ``sigma_phases`` (p, q, k), ``gain`` (p, q)). block: k, the
    design's block size. indices: the knob indices j (0 ≤ j < n_mesh + k, the same in every
    block) to measure; None = all; or ``subset``: that many indices drawn without replacement
    from ``generator`` (a different part of the knobs each calibration). Settings 2·len(indices), each read out with the N Hadamard
    probes, so a partial calibration costs proportionally less (the readout of a large layer
    dominates: 784→128 at N = 1024 is ~1 s of CPU per setting).
    """
    require_positive("calibrate", "step_rad", step_rad)
    if not isinstance(probe_rows, int) or probe_rows < 1:
        raise ValueError(f"calibrate.probe_rows = {probe_rows!r}; allowed: an integer >= 1")
    spec = oracle.knob_spec
    mesh = knobs["mesh_phases"].detach().float()
    sig = knobs["sigma_phases"].detach().float()
    gain = knobs["gain"].detach().float()
    k = block
    p, q = mesh.shape[0], mesh.shape[1]
    n_mesh = math.prod(mesh.shape[2:])
    nk = n_mesh + k
    info = oracle.info()
    n_in, n_out = info.n_in, info.n_out
    flat = torch.cat([mesh.reshape(p, q, n_mesh), sig.reshape(p, q, k)], dim=-1)   # (p, q, nk)
    probes = hadamard_probes(n_in)
    probes = probes.repeat(max(1, math.ceil(probe_rows / probes.shape[0])), 1)   # XᵀX = N·I still
    n_probe = probes.shape[0]
    if subset is not None:
        if indices is not None or not isinstance(subset, int) or not 1 <= subset <= nk:
            raise ValueError(f"calibrate.subset = {subset!r}; allowed: an integer 1..{nk}, "
                             "without indices")
        indices = torch.randperm(nk, generator=generator)[:subset].sort().values
    idx = torch.arange(nk) if indices is None else torch.as_tensor(indices, dtype=torch.long)
    if idx.dim() != 1 or idx.numel() == 0 or int(idx.min()) < 0 or int(idx.max()) >= nk \
            or idx.unique().numel() != idx.numel():
        raise ValueError(f"calibrate.indices = {idx.tolist()}; allowed: distinct knob indices "
                         f"of a block, 0..{nk - 1}")
    jac = torch.zeros(p, q, nk, k, k)
    # the applied knob difference: mesh phases are periodic (exactly 2δ); Σ clamps to [0, π]
    proj = spec["sigma_phases"].project
    span = torch.full((p, q, nk), 2 * step_rad)
    span[..., n_mesh:] = proj(sig.reshape(p, q, k) + step_rad) - proj(sig.reshape(p, q, k) - step_rad)
    # settings in the order +δ, −δ of each knob; a query call holds whole pairs
    pairs = max(1, _MAX_QUERY_ELEMENTS // (2 * n_probe * p * q * k))
    for part in idx.split(pairs):
        n = part.numel()
        settings = flat.unsqueeze(0).repeat(2 * n, 1, 1, 1)
        at = 2 * torch.arange(n)
        settings[at, :, :, part] += step_rad
        settings[at + 1, :, :, part] -= step_rad
        m = settings[..., :n_mesh].reshape(2 * n, *mesh.shape)
        sg = proj(settings[..., n_mesh:].reshape(2 * n, *sig.shape))
        prog = oracle.program({"mesh_phases": m, "sigma_phases": sg,
                               "gain": gain.expand(2 * n, *gain.shape)}, generator=generator)
        y = oracle.query(prog, probes, generator=generator)               # (2n, N, n_out)
        w_meas = torch.einsum("Nj,CNi->Cij", probes, y) / n_probe           # (2n, n_out, n_in)
        blk = _blocks(w_meas, p, q, k)                                      # (2n, p, q, k, k)
        diff = (blk[0::2] - blk[1::2]).permute(1, 2, 0, 3, 4)               # (p, q, n, k, k)
        jac[:, :, part] = diff / span[:, :, part].clamp_min(1e-12)[..., None, None]
    return BlockJacobian(jac=jac, indices=idx, mesh_shape=tuple(mesh.shape), sigma_shape=tuple(sig.shape),
                         n_out=n_out, n_in=n_in, queries=2 * idx.numel())

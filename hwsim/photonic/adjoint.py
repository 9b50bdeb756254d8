"""In-situ backpropagation on a mesh network with power monitors: the ``adjoint`` capability.

Derivation (Hughes et al., Optica 5, 864 (2018), arXiv:1805.09943; measured on a chip by Pai et
al., Science 380, 398 (2023); the gradient-from-powers formula is the authors'
``solgaardlab/phox`` ``phox/apps/onn.py`` ``extract_gradients_from_powers``; re-derived here):

A layer maps x to y = U x. Take a phase shifter k on mode m with a the field just after it
(forward pass) and A the transfer from there to the outputs, so ∂y/∂φ_k = A e_m (i a). For a
real loss with complex gradient g = ∂L/∂Re y + i ∂L/∂Im y,

    ∂L/∂φ_k = Re(ḡᵀ A e_m · i a) = −Im(a · b),    b = (Aᵀ ḡ)_m.

Reciprocity: injecting ḡ at the outputs and propagating *backward* through the same mesh gives
exactly Aᵀ ḡ at shifter k (each element's transpose: phase screens are diagonal, couplers
symmetric), so b is the backward ("adjoint") field there, and x_adj = Uᵀ ḡ leaves the inputs.
Sending x − i·conj(x_adj) forward puts a − i·b̄ at shifter k (unitarity: M M† = I from the
inputs to k), whose power is |a|² + |b|² − 2 Im(a b). Hence, from three power readings of the
monitor at shifter k,

    ∂L/∂φ_k = (P_sum,k − P_fwd,k − P_adj,k) / 2,

exact on a lossless mesh; loss, monitor noise and field errors make it an estimate.

Between layers of the measured-abs network (x_{l+1} = |y_l|) the host turns the next layer's
input gradient r = ∂L/∂x_{l+1} (real) into the error field injected at layer l's outputs,
ḡ_l = r · e^{−i∠y_l}, using the coherently measured output phase (authors' ``onn.py``
``error_{layer}``); the adjoint field leaving layer l's inputs gives r_l = Re(x_adj,l). The
output powers P = |y_L|² start it: r = 2 (∂L/∂P) |y_L|.

Passes: 3 optical passes per sample (forward, adjoint, sum), each through all L layers and each
traced as device work with its monitor reads. Nothing here reads the twin: every quantity is a
(noisy) measurement of the programmed device.

Monitor noise: with P̂ = P + √(K P P_in)·n on each monitor reading (``monitor_noise`` = K), the
per-sample estimate has variance Var = (K/4)(P_in,F·F_k + P_in,A·A_k + P_in,S·S_k) around the
exact value (the closed form tested in tests/photonic/test_adjoint.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..trace import DigitalEvent

__all__ = ["AdjointResult", "adjoint_gradient", "gradient_from_powers", "PASSES_PER_SAMPLE"]

PASSES_PER_SAMPLE = 3


@dataclass(frozen=True)
class AdjointResult:
    """grads: {"phases": (L, N²)} batch-mean ∂L/∂φ (1/rad); per_sample: (B, L, N²);
    outputs: measured output powers (B, N); loss: per-sample losses (B,) from the cotangent
    callable; passes: optical passes made (3 × B)."""

    grads: dict
    per_sample: torch.Tensor
    outputs: torch.Tensor
    loss: torch.Tensor
    passes: int


def gradient_from_powers(forward: torch.Tensor, adjoint: torch.Tensor, total: torch.Tensor
                         ) -> torch.Tensor:
    """∂L/∂φ_k = (P_sum − P_fwd − P_adj)/2, element-wise on monitor readings (any shape)."""
    return 0.5 * (total - forward - adjoint)


def adjoint_gradient(device, oracle, programmed, x: torch.Tensor,
                     output_cotangent: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
                     generator: torch.Generator | None = None) -> AdjointResult:
    """Measure ∂L/∂φ of every phase of ``device`` (a :class:`~.meshnet.MeshNetwork` with
    monitors) for the inputs ``x`` (B, N) at one programmed setting.

    ``output_cotangent(P̂)``: host callable from measured output powers (B, N) to
    (∂ℓ_b/∂P_b (B, N), ℓ_b (B,)): the digital loss on the readout. Events go to ``oracle.trace``.
    """
    c = device.config
    if "adjoint" not in device.capabilities:
        raise ValueError(f"device {device.name!r} has no power monitors; the adjoint "
                         "capability needs monitors and a measured nonlinearity")
    if programmed.settings != 1:
        raise ValueError(f"adjoint: programmed settings = {programmed.settings}; allowed: 1")
    x = x.detach().to(torch.float64)
    if x.dim() != 2 or x.shape[1] != c.modes:
        raise ValueError(f"adjoint: input shape {tuple(x.shape)}; allowed (B, {c.modes})")
    batch = x.shape[0]
    maps = [m for m in device.maps(programmed, generator, backward=True)]   # one noise draw per step
    mon = lambda f: f.real ** 2 + f.imag ** 2
    k_mon = c.monitor_noise

    # pass 1: forward, monitors read, outputs measured coherently between layers
    inputs, fwd_mon, y_meas = [], [], []
    a = x
    for layer, m in enumerate(maps):
        inputs.append(a)
        p_in = (a ** 2).sum(-1, keepdim=True)
        field = device.io_error(a.to(torch.complex128), generator)
        fwd_mon.append(device.measure_power(mon(field @ m.at_shifters[0]), p_in, generator, k_mon))
        out = field @ m.out[0]
        y = device.io_error(out, generator)                           # coherent readout
        power = device.measure_power(mon(y), p_in, generator, c.readout_noise)
        amp = power.clamp_min(0.0).sqrt()
        y_meas.append(amp * torch.polar(torch.ones_like(amp), torch.angle(y)))
        a = amp
    outputs = power

    dl_dp, loss = output_cotangent(outputs.to(torch.float32))
    dl_dp = dl_dp.detach().to(torch.float64)
    r = 2.0 * dl_dp * outputs.clamp_min(0.0).sqrt()            # ∂L/∂|y_L|

    # pass 2: adjoint (backward through the reciprocal meshes), monitors read
    adj_mon, x_adj = [None] * c.layers, [None] * c.layers
    for layer in reversed(range(c.layers)):
        m = maps[layer]
        err = r * torch.polar(torch.ones_like(r), -torch.angle(y_meas[layer]))
        p_in = (err.real ** 2 + err.imag ** 2).sum(-1, keepdim=True)
        err = device.io_error(err, generator)
        adj_mon[layer] = device.measure_power(mon(err @ m.back_at_shifters[0]), p_in, generator,
                                              k_mon)
        x_adj[layer] = device.io_error(err @ m.back_out[0], generator)   # coherent, at inputs
        r = x_adj[layer].real

    # pass 3: interference of forward and adjoint light, monitors read
    grads = []
    for layer, m in enumerate(maps):
        s = inputs[layer].to(torch.complex128) - 1j * x_adj[layer].conj()
        p_in = (s.real ** 2 + s.imag ** 2).sum(-1, keepdim=True)
        s = device.io_error(s, generator)
        sum_mon = device.measure_power(mon(s @ m.at_shifters[0]), p_in, generator, k_mon)
        grads.append(gradient_from_powers(fwd_mon[layer], adj_mon[layer], sum_mon))
    per_sample = torch.stack(grads, dim=1)                      # (B, L, N²)

    trace = oracle.trace
    for _ in range(3):
        trace.record(device.pass_event(1, tuple(x.shape), monitors=True))
    # host arithmetic: error fields, input gradients and (S − F − A)/2 per monitor
    trace.record(DigitalEvent(layer=device.name, flops=int(batch * c.layers * (3 * device.n_phases
                                                                             + 8 * c.modes)),
                              role="estimator"))
    return AdjointResult({"phases": per_sample.mean(0).to(torch.float32)},
                         per_sample, outputs.to(torch.float32), loss.detach(), PASSES_PER_SAMPLE * batch)

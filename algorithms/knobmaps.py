"""Trained knob vectors θ over a device's ``knob_spec``, in range-normalised units.

Which knobs train is read from the spec alone (no device internals):

* knobs in rad (phases) train; θ = phase / (high − low), so a step of 0.01 is 1 % of the range;
* a ``conductances`` knob of shape (2, n_out, n_in) (G⁺, G⁻ differential pairs) trains as ONE
  knob per pair (:class:`DifferentialPairs`);
* dimensionless scales (unit ``"1"``: mesh gain, crossbar tile scale) stay where they were set.

Differential pairs (why): perturbing G⁺ and G⁻ independently wastes half of every perturbation
on the common mode G⁺ + G⁻ (a null direction of the readout, which sees only G⁺ − G⁻), and a cell
at the g_min bound can only move one way, so its ± pair is one-sided. One knob per pair,
θ = (G⁺ − G⁻)/(2(g_max − g_min)) ∈ [−½, ½] (range width 1), written as

    G⁺ = g_min + 2(g_max − g_min)·max(θ, 0),   G⁻ = g_min + 2(g_max − g_min)·max(−θ, 0),

moves the cell that is not at its bound, antisymmetrically in G⁺ − G⁻, and every ±ε step is
two-sided (through zero it hands over from one cell to the other).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping


from hwsim.oracle import KnobSpec

from hwsim.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["KnobMap", "knob_map_for"]


def _largest_divisor_at_most(n: int, bound: int) -> int:
    for r in range(max(1, bound), 0, -1):
        if n % r == 0:
            return r
    return 1


@dataclass(frozen=True)
class KnobMap:
    """θ (d,) ↔ a knob dict. ``phases``: names of phase knobs; ``pairs``: the conductance knob."""

    spec: Mapping[str, KnobSpec]
    phases: tuple[str, ...]
    pairs: str | None
    knob_bits: int

    # ------------------------------------------------------------------ sizes
    @property
    def dim(self) -> int:
        d = sum(self.spec[n].numel for n in self.phases)
        if self.pairs is not None:
            d += self.spec[self.pairs].numel // 2
        return d

    @property
    def lsb_range_units(self) -> float:
        """One knob write step in θ units: a b-bit DAC/level grid has 2^b − 1 steps per range."""
        steps = 2 ** self.knob_bits - 1
        return 1.0 / steps if self.pairs is None else 1.0 / (2 * steps)

    @property
    def matrix_shape(self) -> tuple[int, int]:
        """A 2-D view of θ for low-rank perturbations: (n_out, n_in) for pairs, else a
        near-square factorisation of d."""
        if self.pairs is not None and not self.phases:
            s = self.spec[self.pairs].shape
            return (s[1], s[2])
        r = _largest_divisor_at_most(self.dim, int(math.isqrt(self.dim)))
        return (r, self.dim // r)

    def _span(self, name: str) -> float:
        s = self.spec[name]
        return s.high - s.low

    # ------------------------------------------------------------------ maps
    def flatten(self, knobs: Mapping[str, Tensor]) -> Tensor:
        """One knob setting → θ (d,)."""
        parts = [knobs[n].reshape(-1).float() / self._span(n) for n in self.phases]
        if self.pairs is not None:
            g = knobs[self.pairs].float()
            parts.append(((g[0] - g[1]) / (2 * self._span(self.pairs))).reshape(-1))
        return torch.cat(parts)

    def project(self, theta: Tensor) -> Tensor:
        """Keep θ in its range (phases wrap on the device; pairs clamp to [−½, ½])."""
        if self.pairs is None:
            return theta
        n = sum(self.spec[p].numel for p in self.phases)
        return torch.cat([theta[..., :n], theta[..., n:].clamp(-0.5, 0.5)], dim=-1)

    def unflatten(self, theta: Tensor, fixed: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """θ (d,) or (P, d) → knob dict (leading P kept), inside each knob's allowed range.

        Written in place on fresh tensors (these hold 2P + 1 settings), except when θ carries an
        autograd graph (the twin baselines): then out of place, the same float32 operations."""
        lead = theta.shape[:-1]
        in_place = not (theta.requires_grad and torch.is_grad_enabled())
        out, i = dict(fixed), 0
        for n in self.phases:
            s = self.spec[n]
            project = s.project_ if in_place else s.project
            out[n] = project(theta[..., i:i + s.numel].reshape(*lead, *s.shape) * self._span(n))
            i += s.numel
        if self.pairs is not None:
            s = self.spec[self.pairs]
            t = theta[..., i:].clamp(-0.5, 0.5).reshape(*lead, *s.shape[1:])
            two_span = 2 * self._span(self.pairs)
            # G± = low + 2·span·max(±θ, 0), clamped to [low, high]
            if in_place:   # into one (…, 2, n_out, n_in) tensor: no temporaries, no stack copy
                g = torch.empty(*lead, *s.shape, dtype=t.dtype, device=t.device)
                gp, gn = g.select(len(lead), 0), g.select(len(lead), 1)
                torch.clamp(t, min=0, out=gp).mul_(two_span).add_(s.low)
                torch.neg(t, out=gn).clamp_(min=0).mul_(two_span).add_(s.low)
                out[self.pairs] = g.clamp_(s.low, s.high)
            else:
                g = torch.stack([s.low + two_span * t.clamp(min=0),
                                 s.low + two_span * (-t).clamp(min=0)], dim=len(lead))
                out[self.pairs] = g.clamp(s.low, s.high)
        return out

    def pullback(self, theta: Tensor, knob_cotangents: Mapping[str, Tensor]) -> Tensor:
        """Chain rule: ∂L/∂knob (one tensor per knob, optionally with leading dimensions, e.g.
        P directions) → ∂L/∂θ (…, d)."""
        first = self.phases[0] if self.phases else self.pairs
        lead = knob_cotangents[first].shape[: knob_cotangents[first].dim()
                                            - len(self.spec[first].shape)]
        parts = [knob_cotangents[n].reshape(*lead, -1) * self._span(n) for n in self.phases]
        if self.pairs is not None:
            n = sum(self.spec[p].numel for p in self.phases)
            t = theta[n:]
            c = knob_cotangents[self.pairs]
            k = len(lead)
            cp, cn = c.select(k, 0).reshape(*lead, -1), c.select(k, 1).reshape(*lead, -1)
            two_span = 2 * self._span(self.pairs)
            # piecewise-linear map: G⁺ moves for θ > 0, G⁻ for θ < 0; at 0 the mean slope
            d = torch.where(t > 0, cp, torch.where(t < 0, -cn, 0.5 * (cp - cn)))
            parts.append(two_span * d * (t.abs() <= 0.5))   # clamped beyond the range: flat
        return torch.cat(parts, dim=-1)


def knob_map_for(spec: Mapping[str, KnobSpec], knob_bits: int) -> KnobMap:
    """The trained-knob map of a device from its spec (rules in the module docstring)."""
    phases = tuple(n for n, s in spec.items() if s.unit == "rad")
    pairs = None
    for n, s in spec.items():
        if n == "conductances":
            if len(s.shape) != 3 or s.shape[0] != 2:
                raise ValueError(f"knob 'conductances' has shape {s.shape}; allowed (2, n_out, n_in)")
            pairs = n
    if not phases and pairs is None:
        raise ValueError(f"no trainable knobs in spec {sorted(spec)}; allowed: phases in rad or "
                         "'conductances' pairs")
    return KnobMap(spec, phases, pairs, int(knob_bits))

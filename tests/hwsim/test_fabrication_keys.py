"""Fabrication draws keyed per effect type (hwsim.effects.fabrication), on every device kind:
adding, removing or reordering one effect leaves every other effect's draws bit-identical, and
different effects draw independent streams."""
import dataclasses

import pytest
import torch

from hwsim.crossbar.device import CrossbarConfig, CrossbarLayer
from hwsim.effects.beamsplitter import BeamsplitterImbalance
from hwsim.effects.correlated import CorrelatedConductance, CorrelatedGamma
from hwsim.effects.drift import Drift
from hwsim.effects.fabrication import fabrication_generator, fabrication_seed
from hwsim.effects.noise import PhaseBias
from hwsim.effects.phase_shifter import GammaSpread
from hwsim.effects.stuck import Endurance, StuckCells
from hwsim.microring.device import MRRBankLayer
from hwsim.microring.effects import ResonanceSpread
from hwsim.microring.presets import mrr_default
from hwsim.photonic.device import MZIConfig, MZIMeshLayer


def _mzi(effects):
    return MZIMeshLayer(12, 10, MZIConfig(block=4, effects=tuple(effects)), seed=7)


def _crossbar(effects):
    return CrossbarLayer(12, 10, CrossbarConfig(effects=tuple(effects)), seed=7)


def _mrr(effects):
    return MRRBankLayer(12, 10, dataclasses.replace(mrr_default(), effects=tuple(effects)), seed=7)


# kind → (layer factory, fabricated effects, the layer's fabricated draws {type: tensors})
KINDS = {
    "mzi": (_mzi, (PhaseBias(0.5), GammaSpread(0.004), BeamsplitterImbalance(0.02),
                   CorrelatedGamma(sigma_within=0.01)),
            lambda dev: dev._fab),
    "crossbar": (_crossbar, (StuckCells(0.05, 0.05), Endurance(1e6, 0.5), Drift(nu_std=0.01),
                             CorrelatedConductance(sigma_within=0.02)),
                 lambda dev: dev._cell_state),
    "mrr": (_mrr, (ResonanceSpread(0.01), GammaSpread(0.004)), lambda dev: dev._fab),
}


def _flat(draw):
    if isinstance(draw, dict):
        return {k: v.clone() for k, v in draw.items()}
    return {"": draw.clone()}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_adding_removing_or_reordering_an_effect_leaves_the_other_draws_bit_identical(kind):
    make, effects, draws = KINDS[kind]
    full = {t: _flat(d) for t, d in draws(make(effects)).items()}
    assert len(full) == len(effects)
    for i, e in enumerate(effects):                       # remove one
        rest = effects[:i] + effects[i + 1:]
        got = draws(make(rest))
        for t in (type(r) for r in rest):
            _assert_same(_flat(got[t]), full[t])
    got = draws(make(tuple(reversed(effects))))           # reorder all
    for t in full:
        _assert_same(_flat(got[t]), full[t])
    one = draws(make(effects[:1]))                        # the others added around one
    _assert_same(_flat(one[type(effects[0])]), full[type(effects[0])])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_fabricated_effects_draw_independent_streams(kind):
    """A shared stream would make two effects' standard draws identical (correlation 1)."""
    make, effects, draws = KINDS[kind]
    seeds = {fabrication_seed(7, e) for e in effects}
    assert len(seeds) == len(effects)
    a, b = (fabrication_generator(7, e) for e in effects[:2])
    za, zb = torch.randn(4000, generator=a), torch.randn(4000, generator=b)
    assert abs(float(torch.corrcoef(torch.stack([za, zb]))[0, 1])) < 0.06


def test_crossbar_endurance_and_drift_draws_are_uncorrelated():
    """Pin (issue): with one stream for both, ln E_i and ξ_i of the drift spread correlate at 1."""
    dev = _crossbar((Endurance(1e6, 0.5), Drift(nu_std=0.01)))
    lnE = dev._cell_state[Endurance].log().flatten()
    xi = dev._cell_state[Drift].double().flatten()
    assert abs(float(torch.corrcoef(torch.stack([lnE, xi]))[0, 1])) < 0.15      # 480 cells


def test_photonic_phase_bias_does_not_move_when_gamma_spread_is_added_before_it():
    """Pin (issue): the old single generator re-rolled the biases (by up to 1.96 rad)."""
    alone = _mzi((PhaseBias(1.0),))._fab[PhaseBias]
    both = _mzi((GammaSpread(0.002), PhaseBias(1.0)))._fab[PhaseBias]
    _assert_same(_flat(alone), _flat(both))


def test_fabrication_seed_depends_on_device_seed_and_effect_type_only():
    assert fabrication_seed(3, PhaseBias(1.0)) == fabrication_seed(3, PhaseBias(0.2))
    assert fabrication_seed(3, PhaseBias(1.0)) != fabrication_seed(4, PhaseBias(1.0))
    assert fabrication_seed(3, dataclasses.replace(GammaSpread())) != fabrication_seed(3, PhaseBias())

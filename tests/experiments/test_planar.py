"""Moons and ring as the Pai et al. code defines them, and the circular-bias encoding."""
import pytest
import torch

from experiments.planar import circular_bias, load_planar


@pytest.mark.parametrize("name,ones", [("moons", 0.5), ("ring", 1 / 3)])
def test_sizes_split_and_class_balance(name, ones):
    xtr, ytr, xte, yte = load_planar(name, seed=0)
    assert xtr.shape == (400, 2) and xte.shape == (100, 2)
    assert abs(float(torch.cat([ytr, yte]).float().mean()) - ones) < 0.01
    again = load_planar(name, seed=0)
    assert torch.equal(again[0], xtr) and not torch.equal(load_planar(name, seed=1)[0], xtr)


def test_ring_class_is_the_middle_shell():
    xtr, ytr, _, _ = load_planar("ring", seed=0)
    r = xtr.norm(dim=1)
    assert r[ytr == 1].min() > r[ytr == 0].min() and r[ytr == 1].max() < r[ytr == 0].max()
    inner = r[ytr == 0][r[ytr == 0] < r[ytr == 1].min()]
    assert len(inner) > 50                                       # the inner disc is class 0 too


def test_circular_bias_gives_four_ports_of_power_nine():
    x = torch.tensor([[0.0, 0.0], [1.0, -2.0], [5.0, 0.0]])
    enc = circular_bias(x)
    assert enc.shape == (3, 4)
    assert torch.allclose(enc[:2].pow(2).sum(1), torch.tensor([9.0, 9.0]))
    assert torch.equal(enc[2, 2:], torch.zeros(2))                # |x|² > 9 is clipped: no bias
    with pytest.raises(ValueError, match="allowed: moons, ring"):
        load_planar("spiral")

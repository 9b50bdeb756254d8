"""Beamsplitter imbalance, Reck topology and decomposition, loss tolerance Clements vs Reck,
and the generic torch mesh path against the numba Clements fast path."""
import math

import pytest
import torch

from hwsim.effects.beamsplitter import BeamsplitterImbalance
from hwsim.effects.loss import InsertionLoss
from hwsim.photonic.decompose import decompose, haar_unitary, reck_decompose
from hwsim.photonic.device import MZIConfig, MZIMeshLayer
from hwsim.photonic.mesh import clements_unitary, imperfect_mzi_transfer, mesh_unitary
from hwsim.photonic.mzi import mzi_transfer
from hwsim.photonic.topology import ClementsTopology, ReckTopology, build_topology

F64 = torch.float64


def _fidelity(u, v):
    """|Tr(U†V)|² / (N Tr(V†V)): 1 for V = c·U (a scaled unitary), < 1 otherwise."""
    n = u.shape[-1]
    tr = torch.einsum("...ij,...ij->...", u.conj(), v)
    return tr.abs() ** 2 / (n * torch.einsum("...ij,...ij->...", v.conj(), v).real)


def _haar_phases(name, n, count):
    us = torch.stack([haar_unitary(n, torch.Generator().manual_seed(s)) for s in range(count)])
    th, ph, de = decompose(us, build_topology(name, n))
    return us, th, ph, de


# ------------------------------------------------------------------ imperfect MZI

def test_perfect_couplers_give_the_toolkit_mzi():
    g = torch.Generator().manual_seed(0)
    th, ph = (torch.rand(50, generator=g, dtype=F64) * 4 * math.pi for _ in range(2))
    zero = torch.zeros((), dtype=F64)
    torch.testing.assert_close(imperfect_mzi_transfer(th, ph, zero, zero), mzi_transfer(th, ph), rtol=0, atol=1e-14)


@pytest.mark.parametrize("e1,e2", [(0.03, 0.01), (-0.02, 0.05), (0.04, 0.04)])
def test_finite_extinction_closed_forms(e1, e2):
    """Bar (θ = π) leaks sin²(ε₁−ε₂) into the cross port; cross (θ = 0) leaks sin²(ε₁+ε₂)
    (full bar needs t₁ = t₂, full cross t₁ + t₂ = 1: devices.md §1.3)."""
    e1t, e2t, zero = torch.tensor(e1, dtype=F64), torch.tensor(e2, dtype=F64), torch.zeros((), dtype=F64)
    bar = imperfect_mzi_transfer(torch.tensor(math.pi, dtype=F64), zero, e1t, e2t)
    cross = imperfect_mzi_transfer(zero, zero, e1t, e2t)
    assert float(bar[1, 0].abs() ** 2) == pytest.approx(math.sin(e1 - e2) ** 2, abs=1e-15)
    assert float(cross[0, 0].abs() ** 2) == pytest.approx(math.sin(e1 + e2) ** 2, abs=1e-15)
    t = imperfect_mzi_transfer(torch.tensor(1.1, dtype=F64), torch.tensor(0.4, dtype=F64), e1t, e2t)
    torch.testing.assert_close(t.conj().T @ t, torch.eye(2, dtype=torch.complex128), rtol=0, atol=1e-14)


def test_generic_torch_path_equals_the_numba_clements_fast_path():
    for n in (2, 5, 8, 16):
        g = torch.Generator().manual_seed(n)
        m = n * (n - 1) // 2
        th, ph = (torch.rand(3, m, generator=g, dtype=F64) * 6.3 for _ in range(2))
        de = torch.rand(3, n, generator=g, dtype=F64)
        topo = ClementsTopology.build(n)
        fast = clements_unitary(th, ph, de, 0.3, backend="numba")
        slow = mesh_unitary(th, ph, de, topo, 0.3, torch.zeros(m, 2, dtype=F64))
        assert (fast - slow).abs().max() <= 1e-12


@pytest.mark.parametrize("name", ["clements", "reck"])
def test_mesh_infidelity_from_coupler_errors_follows_the_closed_form(name):
    """Each coupler error is a rotation exp(iεX) on two modes, so for N(N−1) couplers
    1 − F ≈ (2/N)·N(N−1)σ² = 2(N−1)σ² (derived), the same for Clements and Reck; fidelity falls
    with σ_BS as in Fang et al., Opt. Express 27, 14009 (2019)."""
    n, count = 8, 24
    us, th, ph, de = _haar_phases(name, n, count)
    topo = build_topology(name, n)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(count, topo.n_mzis, 2, generator=g, dtype=F64)
    infid = []
    for sigma in (0.005, 0.01, 0.02):
        f = _fidelity(us, mesh_unitary(th, ph, de, topo, 0.0, sigma * z)).mean()
        infid.append(1 - float(f))
        assert 1 - float(f) == pytest.approx(2 * (n - 1) * sigma ** 2, rel=0.15)
    assert infid[0] < infid[1] < infid[2]


def test_loss_gives_a_scaled_unitary_in_clements_not_in_reck():
    """Clements et al. 2016: balanced path lengths make uniform loss nearly a global scale;
    in Reck the number of MZIs on a path varies from 1 to 2N−3, so loss distorts U."""
    n = 8
    res = {}
    for name in ("clements", "reck"):
        us, th, ph, de = _haar_phases(name, n, 16)
        v = mesh_unitary(th, ph, de, build_topology(name, n), 0.5)
        sv = torch.linalg.svdvals(v)
        res[name] = (float(_fidelity(us, v).mean()), float((sv[..., 0] / sv[..., -1]).mean()))
    # measured: Clements F = 0.997, σ_max/σ_min = 1.15; Reck F = 0.980, 1.56
    assert res["clements"][0] > 0.995 and res["reck"][0] < 0.985
    assert res["clements"][1] < 1.2 < 1.4 < res["reck"][1]


# ------------------------------------------------------------------ Reck

@pytest.mark.parametrize("n,depth", [(2, 1), (3, 3), (4, 5), (5, 7), (8, 13)])
def test_reck_inventory(n, depth):
    t = ReckTopology.build(n)
    assert t.name == "reck" and t.n_mzis == n * (n - 1) // 2 and t.depth == t.n_columns == depth
    assert t.n_phase_shifters == n * n and t.n_couplers == n * (n - 1)
    assert t.mzis_on_path.tolist()[-1] == 1 and max(t.mzis_on_path.tolist()) == 2 * n - 3
    for k in range(t.n_columns):
        modes = [m for pair in t.pairs(k) for m in pair]
        assert len(modes) == len(set(modes))              # MZIs of a column act on disjoint modes


@pytest.mark.parametrize("n", [2, 3, 4, 7, 8, 16, 33, 64])
def test_reck_round_trip_float64(n):
    u = haar_unitary(n, torch.Generator().manual_seed(n))
    th, ph, de = reck_decompose(u)
    assert th.shape == ph.shape == (n * (n - 1) // 2,) and de.shape == (n,)
    assert bool(((th >= 0) & (th < 2 * math.pi)).all())
    assert (mesh_unitary(th, ph, de, ReckTopology.build(n)) - u).abs().max() <= 1e-10


def test_reck_layer_is_exact_in_the_ideal_limit_and_deeper_in_loss():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(12, 20, generator=g)
    x = torch.randn(5, 20, generator=g)
    dev = MZIMeshLayer(20, 12, MZIConfig(block=8, mesh="reck"))
    knobs = dev.knobs_from_weight(w)
    torch.testing.assert_close(dev.query(dev.program(knobs), x)[0], x @ w.T, atol=1e-4, rtol=1e-4)
    lossy = {name: MZIMeshLayer(8, 8, MZIConfig(block=8, mesh=name, effects=(InsertionLoss(0.1),))).info()
             for name in ("clements", "reck")}
    assert lossy["clements"].optical_path_db == pytest.approx(0.1 * (2 * 8 + 1))
    assert lossy["reck"].optical_path_db == pytest.approx(0.1 * (2 * 13 + 1))
    with pytest.raises(ValueError, match="mesh"):
        MZIConfig(mesh="triangle")


# ------------------------------------------------------------------ at the layer output

def test_insertion_loss_at_the_layer_output():
    """k = 2: every path crosses one MZI per mesh plus one Σ MZI, so y = 10^(−3L/20)·W x."""
    g = torch.Generator().manual_seed(0)
    w, x = torch.randn(2, 2, generator=g), torch.randn(7, 2, generator=g)
    for db in (0.2, 0.4):
        dev = MZIMeshLayer(2, 2, MZIConfig(block=2, effects=(InsertionLoss(db),)))
        y = dev.query(dev.program(dev.knobs_from_weight(w)), x)[0]
        torch.testing.assert_close(y, 10 ** (-3 * db / 20) * x @ w.T, atol=1e-5, rtol=1e-5)


def test_beamsplitter_imbalance_at_the_layer_output():
    """Measured law for real weights: the first-order coupler error cancels in Re(UΣV†) of a real
    SVD, so the relative output error grows as σ² (×4 per doubling; ≈ 25 σ² for 8×8)."""
    g = torch.Generator().manual_seed(0)
    w, x = torch.randn(8, 8, generator=g), torch.randn(256, 8, generator=g)
    rel = []
    for sigma in (0.01, 0.02):
        errs = []
        for seed in range(6):
            dev = MZIMeshLayer(8, 8, MZIConfig(block=8, effects=(BeamsplitterImbalance(sigma),)), seed=seed)
            y = dev.query(dev.program(dev.knobs_from_weight(w)), x)[0]
            errs.append(float((y - x @ w.T).pow(2).mean() / (x @ w.T).pow(2).mean()))
        rel.append(math.sqrt(sum(errs) / len(errs)))
    assert rel[1] / rel[0] == pytest.approx(4.0, rel=0.15)
    assert 15 * 0.01 ** 2 < rel[0] < 40 * 0.01 ** 2
    lay_fab = BeamsplitterImbalance(0.01).fabricate(MZIMeshLayer(8, 8).layout, torch.Generator().manual_seed(0))
    assert lay_fab["mesh"].shape == (1, 1, 2, 28, 2) and lay_fab["sigma"].shape == (1, 1, 8, 2)
    assert float(lay_fab["mesh"].std()) == pytest.approx(0.01, rel=0.2)


def test_push_pull_sigma_mzi_with_imperfect_couplers():
    from hwsim.photonic.mesh import push_pull_transmission
    from hwsim.photonic.mzi import coupler
    g = torch.Generator().manual_seed(0)
    phi = torch.rand(20, generator=g, dtype=F64) * math.pi
    eps = 0.05 * torch.randn(20, 2, generator=g, dtype=F64)

    def b(e):
        a = math.pi / 4 + e
        return torch.tensor([[math.cos(a), 1j * math.sin(a)], [1j * math.sin(a), math.cos(a)]], dtype=torch.complex128)

    for i in range(20):
        arms = torch.diag(torch.polar(torch.ones(2, dtype=F64), torch.stack([phi[i], -phi[i]])))
        t = b(float(eps[i, 1])) @ arms @ b(float(eps[i, 0]))
        assert abs(complex(t[1, 0] / 1j) - complex(push_pull_transmission(phi[i], eps[i]))) < 1e-14
    torch.testing.assert_close(push_pull_transmission(phi), torch.cos(phi))
    assert torch.allclose(coupler(torch.complex128), b(0.0))


def test_layer_with_coupler_errors_equals_the_closed_form_product():
    """y = s·Re(U′ Σ′ V′†) x with U′, V′ from the imperfect-MZI mesh and Σ′ the push-pull closed
    form, both from the device's own fabrication draw (σ = 0.05 rad so Σ′ ≠ cos φ is visible)."""
    from hwsim.photonic.mesh import push_pull_transmission
    eff = BeamsplitterImbalance(0.05)
    dev = MZIMeshLayer(8, 8, MZIConfig(block=8, effects=(eff,)), seed=3)
    g = torch.Generator().manual_seed(0)
    w, x = torch.randn(8, 8, generator=g), torch.randn(16, 8, generator=g)
    knobs = dev.knobs_from_weight(w)
    fab = dev._fab[type(eff)]
    mesh = knobs["mesh_phases"].double()
    m = dev.n_mzi
    u = mesh_unitary(mesh[..., :m], mesh[..., m:2 * m], mesh[..., 2 * m:], dev.topology, 0.0, fab["mesh"])
    sig = push_pull_transmission(knobs["sigma_phases"].double(), fab["sigma"])
    blk = (u[..., 1, :, :] * sig.unsqueeze(-2)) @ u[..., 0, :, :]
    w_dev = (knobs["gain"].double().reshape(1, 1, 1, 1) * blk.real)[0, 0]
    y = dev.query(dev.program(knobs), x)[0]
    torch.testing.assert_close(y, (x.double() @ w_dev.T).float(), atol=2e-5, rtol=1e-4)
    w_cos = (knobs["gain"].double().reshape(1, 1, 1, 1) *
             ((u[..., 1, :, :] * torch.cos(knobs["sigma_phases"].double()).unsqueeze(-2)) @ u[..., 0, :, :]).real)[0, 0]
    assert float((x.double() @ w_cos.T - y.double()).abs().max()) > 1e-3   # Σ errors matter

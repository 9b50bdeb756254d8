"""The calibrated Jacobian model's levers (local-guess, activity): fewer probe rows, the step's
own minibatch as probes, rank-one secant (Broyden) updates, and activity asking the device's
``calibrate`` where it is declared."""
import math

import pytest
import torch

from algorithms import registry
from algorithms.model import model_from_config
from algorithms.trainer import broyden_update
from hwsim.oracle import TracingOracle
from hwsim.presets import build_layer
from hwsim.trace import Trace

from .test_trainer import devices as _devices, toy as _toy


def _vectors(summary, kind="mvm"):
    return sum(v for k, v in summary.items() if k.endswith(f".{kind}.vectors"))


def _ideal_layer(n_in=16, n_out=8):
    dev = build_layer("mzi-ideal", n_in, n_out, seed=0, name="I")
    oracle = TracingOracle(dev, Trace())
    knobs = dev.knobs_from_weight(torch.randn(n_out, n_in,
                                              generator=torch.Generator().manual_seed(2)))
    knobs["sigma_phases"] = knobs["sigma_phases"].clamp(0.3, math.pi - 0.3)
    return dev, oracle, knobs


def _flat(v):
    return torch.cat([v["mesh_phases"].flatten(), v["sigma_phases"].flatten()])


# ------------------------------------------------------------------ probes
def test_minibatch_probes_give_the_exact_guess_summed_over_column_blocks():
    """W read with B < n_in inputs X is W on their row span; a cotangent built from the same
    inputs (c = δzᵀX) then gets, per row block and knob index, the true Jᵀc summed over the
    column blocks (the blocks of one row share the readout), and with B ≥ n_in the full one."""
    dev, oracle, knobs = _ideal_layer()
    g = torch.Generator().manual_seed(7)
    full = oracle.calibrate(knobs, step_rad=0.02)
    for B in (6, 32):
        x = torch.randn(B, 16, generator=g)
        c = torch.randn(B, 8, generator=g).T @ x                   # (n_out, n_in), rows ∈ span X
        mb = oracle.calibrate(knobs, step_rad=0.02, probes=x)
        assert mb.queries == full.queries
        a, b = mb.vjp(c), full.vjp(c)
        if B >= 16:
            assert torch.allclose(_flat(a), _flat(b), atol=1e-3 * float(_flat(b).abs().max()))
        # sum over the q column blocks: mesh (p, q, ...) and Σ (p, q, k)
        for name in ("mesh_phases", "sigma_phases"):
            sa, sb = a[name].sum(1), b[name].sum(1)
            assert torch.allclose(sa, sb, atol=2e-3 * float(sb.abs().max()))
    with pytest.raises(ValueError, match="probes"):
        oracle.calibrate(knobs, probes=torch.ones(4, 5))


def test_probe_rows_set_the_vectors_a_calibration_streams():
    dev, _, knobs = _ideal_layer()
    for rows, streamed in ((1024, 1024), (64, 64), (3, 16)):      # ≥ the Hadamard size 16
        trace = Trace()
        oracle = TracingOracle(dev, trace)
        trace.begin_step()
        cal = oracle.calibrate(knobs, probe_rows=rows, subset=4,
                               generator=torch.Generator().manual_seed(0))
        assert _vectors(trace.end_step()) == cal.queries * streamed


# ------------------------------------------------------------------ Broyden
def test_broyden_update_satisfies_the_secant_condition_and_moves_only_measured_knobs():
    dev, oracle, knobs = _ideal_layer()
    cal = oracle.calibrate(knobs, subset=20, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(3)
    delta = {"mesh_phases": 0.05 * torch.randn(knobs["mesh_phases"].shape, generator=g),
             "sigma_phases": 0.05 * torch.randn(knobs["sigma_phases"].shape, generator=g)}
    for B in (5, 40):                                  # under- and over-determined
        x = torch.randn(B, 16, generator=g)
        dz = torch.randn(B, 8, generator=g)
        new = broyden_update(cal, delta, x, dz, 1.0)
        p, q, nk, k, _ = cal.jac.shape
        n_mesh = nk - k
        d = torch.cat([delta["mesh_phases"].reshape(p, q, n_mesh),
                       delta["sigma_phases"].reshape(p, q, k)], -1)
        keep = torch.zeros(nk, dtype=torch.bool)
        keep[cal.indices] = True
        jd = torch.einsum("pqjab,pqj->pqab", new.jac, d * keep)
        w = jd.transpose(1, 2).reshape(p * k, q * k)[:8, :16]
        pred = x @ w.T
        if B <= 16:   # the secant condition holds exactly on the probes
            assert torch.allclose(pred, dz, atol=1e-4 * float(dz.abs().max()))
        else:         # least squares: the residual is orthogonal to the probes
            r = dz - pred
            assert float((x.T @ r).abs().max()) < 1e-3 * float((x.T @ dz).abs().max())
        assert torch.count_nonzero(new.jac[:, :, ~keep]) == 0
        half = broyden_update(cal, delta, x, dz, 0.5)
        assert torch.allclose(half.jac - cal.jac, 0.5 * (new.jac - cal.jac), atol=1e-6)


def test_broyden_on_the_device_tracks_the_jacobian_after_a_move():
    """A move of the knobs makes the measured Jacobian stale; the secant update from one pair of
    readouts of the minibatch brings it closer to the re-measured one along the move."""
    dev, oracle, knobs = _ideal_layer(n_in=16, n_out=8)
    cal = oracle.calibrate(knobs, step_rad=0.02)
    g = torch.Generator().manual_seed(11)
    delta = {"mesh_phases": 0.3 * torch.randn(knobs["mesh_phases"].shape, generator=g),
             "sigma_phases": torch.zeros_like(knobs["sigma_phases"])}
    plus = {**knobs, "mesh_phases": knobs["mesh_phases"] + delta["mesh_phases"] / 2}
    minus = {**knobs, "mesh_phases": knobs["mesh_phases"] - delta["mesh_phases"] / 2}
    x = torch.randn(16, 16, generator=g)
    z = [oracle.query(oracle.program(k), x)[0] for k in (plus, minus)]
    new = broyden_update(cal, delta, x, z[0] - z[1], 1.0)

    def err(c):
        p, q, nk, k, _ = c.jac.shape
        d = torch.cat([delta["mesh_phases"].reshape(p, q, nk - k),
                       delta["sigma_phases"].reshape(p, q, k)], -1)
        w = torch.einsum("pqjab,pqj->pqab", c.jac, d).transpose(1, 2).reshape(p * k, q * k)
        return float((x @ w[:8, :16].T - (z[0] - z[1])).norm())
    assert err(new) < 1e-3 * err(cal) + 1e-6


def _step_summaries(values, preset="mzi-default", steps=3, batch=16, hidden=(8,)):
    model = model_from_config((16,), hidden=list(hidden))
    trace = Trace()
    s = registry.settings_for("local-guess", values)
    tr = registry.build("local-guess", s, model, _devices(model, preset), 4, seed=0, trace=trace)
    x, y = _toy(32)
    out = []
    for i in range(steps):
        trace.begin_step()
        tr.step(x[i * batch % 32:][:batch], y[i * batch % 32:][:batch])
        out.append(trace.end_step())
    return tr, out


def test_broyden_in_training_streams_no_extra_vector_and_changes_the_model():
    base = {"recalibrate_every": 100, "calibrate_subset": 4}
    tr0, off = _step_summaries({**base, "broyden": 0.0})
    tr1, on = _step_summaries({**base, "broyden": 1.0})
    # every step streams exactly the same vectors and settings with or without the update
    assert [_vectors(s) for s in off] == [_vectors(s) for s in on]
    assert [s.get("layer0.mvm.settings") for s in off] == [s.get("layer0.mvm.settings")
                                                          for s in on]
    assert not torch.equal(tr0.trainer.state.calibration[0].jac,
                           tr1.trainer.state.calibration[0].jac)


def test_minibatch_calibration_streams_the_batch_not_the_hadamard_probes():
    _, had = _step_summaries({"calibrate_subset": 4, "calibrate_probe_rows": 1024}, steps=1)
    tr, mb = _step_summaries({"calibrate_subset": 4, "calibrate_probes": "minibatch"}, steps=1)
    cal = sum(c.queries for c in tr.trainer.state.calibration)
    train = registry.ALGORITHMS["local-guess"].queries_per_step(tr.settings, 1)
    assert _vectors(mb[0]) == (train + cal) * 16                     # B = 16 per setting
    assert _vectors(had[0]) == train * 16 + cal * 1024              # the device's default


def test_local_guess_defaults_stream_the_fewest_hadamard_rows_and_update_between():
    s = registry.settings_for("local-guess")
    assert (s.calibrate_probe_rows, s.broyden, s.recalibrate_every) == (1, 1.0, 20)
    _, sums = _step_summaries({"calibrate_subset": 4}, steps=1)
    train = registry.ALGORITHMS["local-guess"].queries_per_step(s, 1)
    assert _vectors(sums[0]) == train * 16 + 8 * 16             # 16 inputs: 16 Hadamard rows


def test_calibration_settings_are_checked_in_one_line():
    for values, field in (({"calibrate_probes": "x"}, "calibrate_probes"),
                          ({"broyden": 2.0}, "broyden"), ({"calibrate_probe_rows": 0},
                                                          "calibrate_probe_rows")):
        with pytest.raises(ValueError, match=field) as e:
            registry.settings_for("local-guess", values)
        assert "\n" not in str(e.value)


# ------------------------------------------------------------------ activity
class _Spy:
    """A device wrapper recording which Jacobian model the trainer asks for."""

    def __init__(self, dev, calibrates: bool):
        self._dev, self.calls = dev, []
        self.name = dev.name
        if calibrates:
            self.calibrate = self._calibrate

    def __getattr__(self, k):
        if k == "calibrate":         # not declared: the wrapped device's must stay hidden
            raise AttributeError(k)
        return getattr(self._dev, k)

    def _calibrate(self, oracle, knobs, **kw):
        self.calls.append("calibrate")
        return self._dev.calibrate(oracle, knobs, **kw)

    def digital_twin(self, knobs):
        self.calls.append("nominal")
        return self._dev.digital_twin(knobs)


@pytest.mark.parametrize("calibrates", [True, False])
def test_activity_asks_the_oracles_calibrate_where_declared_else_nominal(calibrates):
    model = model_from_config((16,), hidden=[8])
    spies = [_Spy(d, calibrates) for d in _devices(model, "mzi-default")]
    s = registry.settings_for("activity", {"calibrate_subset": 4})
    tr = registry.build("activity", s, model, spies, 4, seed=0, trace=Trace())
    x, y = _toy(32)
    tr.step(x[:16], y[:16])
    calls = [c for sp in spies for c in sp.calls]
    if calibrates:
        assert "calibrate" in calls and "calibrated model" in tr.label
        assert all(c is not None for c in tr.trainer.state.calibration)
    else:
        assert "calibrate" not in calls and "nominal" in calls
        assert "nominal model" in tr.label


# ------------------------------------------------------------------ static per-step counts
@pytest.mark.parametrize("values", [
    {"recalibrate_every": 2, "calibrate_subset": 4},
    {"recalibrate_every": 2, "calibrate_subset": 4, "calibrate_probes": "minibatch"},
    {"recalibrate_every": 2, "calibrate_subset": 4, "calibrate_probe_rows": 1}])
@pytest.mark.parametrize("target", ["global", "local"])
@pytest.mark.parametrize("hidden", [(8,), (8, 8)])
def test_step_costs_equal_the_trace_over_a_calibration_period(values, target, hidden):
    """Static counts against the trace, on one block and on two (where the global target
    streams the first block's candidates through the second)."""
    values = {**values, "target": target}
    model = model_from_config((16,), hidden=list(hidden))
    devs = _devices(model, "mzi-default")
    s = registry.settings_for("local-guess", values)
    c = registry.step_costs("local-guess", s, model, devs, 16)
    assert c["calibration_settings"] > 0 and c["calibration_vectors"] > 0
    tr, sums = _step_summaries(values, steps=2, hidden=hidden)
    from hwsim.trace import device_totals
    got = device_totals(sums)
    assert got["settings"] == pytest.approx(2 * c["settings"])
    assert got["vectors"] == pytest.approx(2 * c["vectors"])


def test_fit_history_carries_cumulative_settings_and_vectors_and_the_result_cpu_time():
    from hwsim.trace import device_totals
    model = model_from_config((16,), hidden=[8])
    trace = Trace()
    tr = registry.build("local-guess", registry.settings_for("local-guess", {
        "calibrate_subset": 4}), model, _devices(model, "mzi-default"), 4, seed=0, trace=trace)
    x, y = _toy(32)
    r = registry.train(tr, x, y, epochs=2, batch_size=16, seed=0, trace=trace)
    tot = device_totals(r.step_summaries)
    first = device_totals(r.step_summaries[:2])
    assert r.history["device_settings"] == [first["settings"], tot["settings"]]
    assert r.history["streamed_vectors"] == [first["vectors"], tot["vectors"]]
    assert r.cpu_s > 0 and "cpu_s" not in r.history         # the history stays reproducible


def test_listing_prints_the_capability_a_configuration_needs():
    line = next(ln for ln in registry.describe() if ln.startswith("mfdd "))
    assert "nominal with directions=input-span" in line
    assert registry.capability_text("local-guess") == "nominal; calibrate with guess_model=calibrated"
    span = registry.settings_for("mfdd", {"directions": "head-span", "guess_model": "calibrated"})
    assert registry.ALGORITHMS["mfdd"].capability_for(span) == "calibrate"
    assert registry.ALGORITHMS["mfdd"].capability_for(registry.settings_for("mfdd")) is None

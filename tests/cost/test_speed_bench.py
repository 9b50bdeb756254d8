"""bench/speed.py's kernel comparison runs on the current code: it finds the crossbar programming
kernel where the device looks it up (hwsim.crossbar.kernels), swaps it inside a real step, checks
the new kernel bit for bit against the column-wise reference and puts the module back."""
import hwsim.crossbar.kernels as xk
from tests.bench_scripts import load


def test_program_kernel_comparison_runs_and_restores_the_kernel(monkeypatch):
    mod = load("speed")
    original = mod._step_setup
    calls = []

    def tiny(dataset, preset, hidden, batch, P, settings_per_call=None):
        calls.append((dataset, preset))
        return original("digits", preset, [8], 8, 2, settings_per_call)
    monkeypatch.setattr(mod, "_step_setup", tiny)
    kernel = xk.program_weights
    out = mod.program_kernel(1)
    assert calls == [("fashion-mnist", "crossbar-default")]
    assert set(out) == {"program", "crossbar_step"}
    assert all(out[k]["cpu"]["median"] > 0 for k in out)
    assert xk.program_weights is kernel


def test_phase_chain_comparison_accepts_what_the_physics_tests_accept(monkeypatch):
    """The fused-chain figure checks its two chains with the tests' rule (bit for bit, or within a
    DAC code where one rounding boundary was crossed) and returns both ratios."""
    mod = load("speed")
    original = mod._step_setup
    monkeypatch.setattr(mod, "_step_setup", lambda dataset, preset, hidden, batch, P,
                        settings_per_call=None: original("digits", preset, [8], 8, 2, settings_per_call))
    out = mod.phase_chain(1)
    assert set(out) == {"program", "mzi_step"}

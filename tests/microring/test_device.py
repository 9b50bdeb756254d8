"""The microring layer: the inverse of the Lorentzian, the nominal map and its VJP, signed inputs
in two passes, chunked queries, batched settings and the trace."""
import dataclasses
import math

import pytest
import torch

import hwsim.microring.device as device_module
from hwsim.effects.detection import Detection
from hwsim.microring.device import MRRBankLayer
from hwsim.microring.presets import MRR_PRESETS, mrr_default, mrr_ideal
from hwsim.oracle import TracingOracle
from hwsim.trace import Trace


@pytest.mark.parametrize("n_in,n_out", [(8, 8), (20, 12), (64, 32), (3, 17)])
def test_knobs_from_weight_round_trip(n_in, n_out):
    for cfg in (mrr_ideal(), mrr_default()):
        dev = MRRBankLayer(n_in, n_out, cfg)
        w = torch.randn(n_out, n_in, generator=torch.Generator().manual_seed(n_in)) / n_in ** 0.5
        w[0, 0] = 0.0
        knobs = dev.knobs_from_weight(w)
        phases = knobs["ring_phases"]
        assert phases.shape == dev.knob_spec["ring_phases"].shape
        # the weight branch: resonance within half a channel spacing blue of its channel
        d = dev._detuning(phases.double())
        assert float(d.max()) <= 1e-6 and float(d.min()) >= -cfg.channel_spacing_nm / 2 - 1e-6
        # inside the heater range [0, 2π(δ₀ + spacing/2)/FSR]
        phase_max = 2 * math.pi * (cfg.cold_detuning_nm + cfg.channel_spacing_nm / 2) / cfg.fsr_nm
        assert dev.knob_spec["ring_phases"].high == pytest.approx(phase_max)
        assert 0.0 <= float(phases.min()) and float(phases.max()) <= phase_max
        torch.testing.assert_close(dev.digital_twin(knobs), w, atol=2e-5, rtol=1e-4)


def test_knobs_from_weight_rejects_bad_weights():
    dev = MRRBankLayer(8, 4, mrr_default())
    with pytest.raises(ValueError, match="shape"):
        dev.knobs_from_weight(torch.zeros(4, 9))
    with pytest.raises(ValueError, match="finite"):
        dev.knobs_from_weight(torch.full((4, 8), float("nan")))


def test_nominal_map_and_its_vjp_match_finite_differences():
    dev = MRRBankLayer(12, 6, mrr_default(), seed=1)
    knobs = {k: v.double() for k, v in dev.knobs_from_weight(torch.randn(6, 12) / 4).items()}
    oracle = TracingOracle(dev, Trace())
    assert {"nominal"} <= set(oracle.capabilities)
    c = torch.randn(6, 12, dtype=torch.float64)
    grads = oracle.nominal_vjp(knobs, c)
    h = 1e-6
    for name in ("ring_phases", "gain"):
        flat = knobs[name].reshape(-1)
        for i in (0, flat.numel() // 2, flat.numel() - 1):
            plus = {k: v.clone() for k, v in knobs.items()}
            minus = {k: v.clone() for k, v in knobs.items()}
            plus[name].view(-1)[i] += h
            minus[name].view(-1)[i] -= h
            fd = float(((dev.digital_twin(plus) - dev.digital_twin(minus)) * c).sum() / (2 * h))
            assert float(grads[name].reshape(-1)[i]) == pytest.approx(fd, rel=1e-3, abs=1e-3)
    batched = oracle.nominal_vjp(knobs, torch.stack([c, 2 * c]))
    torch.testing.assert_close(batched["gain"][1], 2 * grads["gain"].float(), rtol=1e-4, atol=1e-4)


def test_signed_inputs_take_two_passes_and_the_trace_counts_them():
    dev = MRRBankLayer(20, 12, mrr_ideal())
    w = torch.randn(12, 20) / 5
    trace = Trace()
    oracle = TracingOracle(dev, trace)
    knobs = dev.knobs_from_weight(w)
    x = torch.rand(6, 20)
    x[1, 3] = -0.5
    x[4] = -x[4]
    trace.begin_step()
    y = oracle.query(oracle.program({k: v.expand(3, *v.shape) for k, v in knobs.items()}), x)
    s = trace.end_step()
    torch.testing.assert_close(y[1], x @ w.T, atol=1e-4, rtol=1e-4)
    assert s[f"{dev.name}.mvm.vectors"] == 3 * (6 + 2)
    tiles = dev.p * dev.q
    assert s[f"{dev.name}.mvm.adc_conversions"] == 3 * 8 * tiles * dev.k
    assert s[f"{dev.name}.info.photodiodes_per_output"] == 2
    assert s[f"{dev.name}.info.phase_shifters"] == dev.k * dev.n      # heaters per tile


def _noisy():
    det = Detection(mode="intensity", laser_power_w=0.1, lo_fraction=0.0, modulator_power_w=1e-6)
    """mrr-default with a weak laser (1 µW per wavelength): noise large enough to show."""
    return dataclasses.replace(mrr_default(), effects=tuple(e for e in mrr_default().effects
                                                            if not isinstance(e, Detection)) + (det,))


@pytest.mark.parametrize("chunk", [None, 64])
def test_batched_settings_equal_separate_calls_with_signed_inputs(monkeypatch, chunk):
    if chunk is not None:   # several input-tile chunks per query
        monkeypatch.setattr(device_module, "_CHUNK_ELEMENTS", chunk)
    dev = MRRBankLayer(40, 12, _noisy(), seed=2)
    assert len(dev._chunks(6)) == (1 if chunk is None else 5)
    knobs = dev.knobs_from_weight(torch.randn(12, 40) / 6)
    g = torch.Generator().manual_seed(0)
    knobs = {k: spec.project(v.expand(4, *v.shape) * (1 + 0.01 * torch.randn(4, *v.shape, generator=g)))
             for (k, v), spec in zip(knobs.items(), dev.knob_spec.values())}
    x = torch.rand(4, 6, 40, generator=g)
    x[1, 2, 5] = -1.0            # only settings 1 and 3 stream a second pass
    x[3] = -x[3]
    batched = dev.query(dev.program(knobs), x, torch.Generator().manual_seed(5))
    gq = torch.Generator().manual_seed(5)
    separate = torch.cat([dev.query(dev.program({k: v[p] for k, v in knobs.items()}), x[p], gq)
                          for p in range(4)])
    torch.testing.assert_close(batched, separate, atol=1e-5, rtol=1e-5)


def test_chunked_query_equals_one_chunk_on_the_ideal_device(monkeypatch):
    dev = MRRBankLayer(100, 24, mrr_ideal())
    knobs = dev.knobs_from_weight(torch.randn(24, 100) / 10)
    x = torch.randn(7, 100)
    prog = dev.program(knobs)
    whole = dev.query(prog, x)
    monkeypatch.setattr(device_module, "_CHUNK_ELEMENTS", 100)
    assert len(dev._chunks(7)) > 1
    torch.testing.assert_close(dev.query(prog, x), whole, atol=1e-5, rtol=1e-5)


def test_info_and_presets():
    for name, make in MRR_PRESETS.items():
        dev = MRRBankLayer(64, 32, make(), name=name)
        info = dev.info()
        assert info.device == "mrr" and info.tiles == 4 * 8 and info.tile_rows == 8
    info = MRRBankLayer(64, 32, mrr_default()).info()
    assert info.laser_power_w == pytest.approx(1e-3 * 4 * 8 * 8)     # 1 mW per wavelength per tile
    assert info.knob_bits == 12 and info.dac_bits == 8 and info.adc_bits == 8

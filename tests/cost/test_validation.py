"""Published chips re-priced from their own parameters (±30 %), and the sanity ladder of
cost.md §4. Each chip's parameters and sources are stated in ``hwsim.cost.validation`` (the
builders' docstrings) and summarised here.

| chip | published | parameters (source) |
|---|---|---|
| FICONN | 9.8 pJ/OP | N = 6, 3 layers, 132 heaters at P_π 25 mW (phases traced on the mesh shifters of unitary weights), 435 ps/inference, 10 dB loss (arXiv:2208.01623v1 Table I) |
| IBM HERMES | 9.76 TOPS/W | 256×256 cells × 4 PCM, PWM 8 b one pass at 1 ns/LSB (128 ns), ADC per column, 63.1 TOPS / 64 cores, 0.86 µJ per MVM on all cores incl. array + ADCs + PWMs (doi:10.1038/s41928-023-01010-1 Table I; doi:10.1109/JSSC.2022.3140414) |
| NeuRRAM | 15.95 TOPS/W at 4 b in / 6 b out | 256×256 RRAM, 2 devices per weight, one integrating neuron per column, WL C = 2.1 fF × 256 + 48 fF at 1.8 V, sample 1.2 pJ, integrate 0.25 pJ/slot, ADC 0.3 pJ/step, V_read 0.5 V, one 10 ns read pulse per input bit at bit density 0.5, R_on/R_off 250 k/1 MΩ (doi:10.1038/s41586-022-04992-8 Fig. 12 via mit-emze/cimloop wan_nature_2022; hwcomponents-library neurram.py) |
| Lightmatter 2025 | 1.6 W optical; 1.22 pJ/op | 65.5 T ops/s, 78 W electrical + 1.6 W optical (doi:10.1038/s41586-025-08854-x) |
| LT MZI baseline | 30.8 pJ/MAC | N = 12, 8 b, 5 GHz, 0.99 dB/MZI, re-driven weights (arXiv:2305.19533, LT photonic_MZI.py) |
"""
import dataclasses
import math

import pytest

from hwsim.cost import (GPU_PRESETS, crossbar_spec, gpu_band, held_weight_pj_per_mac,
                        laser_power_w, photonic_spec, price)
from hwsim.cost import validation as V
from hwsim.cost.analytic import shot_noise_laser_power_w
from hwsim.cost.gpu import mlp_bytes, mlp_forward_flops


@pytest.mark.parametrize("check", [V.neurram, V.lightmatter_optical, V.lightmatter_energy,
                                   V.lightening_transformer_redriven])
def test_within_30_percent(check):
    c = check()
    assert 0.7 <= c.ratio <= 1.3, f"{c.name}: modelled {c.modelled:.4g} vs published {c.published:.4g}"


def test_ficonn_heaters_from_the_presets_traced_phases():
    """The heater term uses the mzi-ficonn preset's traced phases (not 'mean phase = π') of
    unitary weights on its mesh shifters: the model lands well below the published figure, and
    the table says so (0.52×, not counted as within ±30 %)."""
    c = V.ficonn()
    frac = V.ficonn_traced_phase_fraction()
    assert 0.3 < frac < 1.0                      # traced phases are not uniform on [0, 2π)
    heater_pj_per_op = 132 * 25e-3 * frac * 0.435e-9 / 216 / 1e-12
    assert heater_pj_per_op / c.modelled == pytest.approx(0.86, abs=0.05)   # heaters dominate
    assert c.kind == "chip" and c.counted and not c.within_30_percent
    assert "traced mean phase" in c.note
    # pricing 18 MZIs... at P_pi/2 (the old per-MZI rule) would land far below (cost.md §4.4b)
    old_rule = 3 * 15 * 12.5e-3 * 0.435e-9 / 216 / 1e-12
    assert old_rule / c.published < 0.3


def test_ficonn_phases_are_the_mesh_phases_of_unitary_weights():
    # a unitary CMXU has no Σ attenuation: the preset's Σ shifters sit at 0 rad for the
    # orthogonal weights the fraction is traced with, so the mean is over the 72 mesh shifters
    import torch
    from hwsim.presets import build_layer
    layer = build_layer("mzi-ficonn", 6, 6, seed=0, name="f")
    g = torch.randn(6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    q, r = torch.linalg.qr(g)
    knobs = layer.knobs_from_weight((q * torch.sign(torch.diagonal(r))).float())
    assert float(knobs["sigma_phases"].abs().max()) < 1e-3
    assert knobs["mesh_phases"].numel() == 2 * 36          # V† and U meshes: 15·2 + 6 each
    assert 3 * 36 + 12 * 2 == 132                          # the published parameter count


def test_hermes_visible_with_band_and_reason_not_counted():
    row = V.hermes_row()
    assert row.kind == "chip" and not row.counted
    assert row.band[0] < row.ratio < row.band[1] < 1.0
    assert "published total only" in row.note and "split unpublished" in row.note
    text = V.validation_table()
    assert "IBM HERMES" in text and "(not counted)" in text


def test_neurram_at_every_published_one_phase_point():
    rows = V.neurram_points()
    assert len(rows) == len(V.NEURRAM_ONE_PHASE_TOPS_PER_W) == 6
    ratios = [r.ratio for r in rows]
    # energy grows with bits in the model as in the paper; every point within ±30 % once the
    # array is read once per input bit (the neuron, not the array, weights bit k by 2^k)
    assert all(a <= b for a, b in zip([r.modelled for r in rows], [r.modelled for r in rows][1:]))
    assert all(0.7 <= x <= 1.3 for x in ratios), ratios
    assert rows[3].modelled == pytest.approx(V.neurram().modelled)     # 4b in / 6b out


def test_validation_table_two_parts_and_silicon_count():
    text = V.validation_table()
    part1, part2 = text.split("Part 2")
    assert part1.startswith("Part 1 - chip validations")
    for name in ("FICONN", "NeuRRAM", "HERMES"):
        assert name in part1 and name not in part2
    for name in ("Lightmatter 2025 laser", "Lightmatter 2025 processor", "LT MZI core"):
        assert name in part2 and name not in part1
    assert "circular" in part2 and "code against code" in part2 and "assumption-selected" in part2
    ok, n = V.silicon_within_30_percent()
    assert n == 2 and ok == 1                   # FICONN 0.52× misses; NeuRRAM 0.82–1.02×
    assert f"{ok} of {n} counted" in text
    assert all(not c.counted for c in V.consistency_checks())


def test_hermes_published_figures_are_consistent():
    # 0.86 µJ per MVM on all 64 cores (Table I) = 9.76 TOPS/W at 2·256² ops per core-MVM,
    # and the chip draws the same power in the 1-phase and 4-phase modes (63.1/9.76 and
    # 16.1/2.48 W): its energy grows with read time, so the missing terms are powers × window
    ops = 64 * 2 * 256 * 256
    assert ops / V.HERMES_MVM_ENERGY_J / 1e12 == pytest.approx(9.76, rel=0.01)
    assert 63.1 / 9.76 == pytest.approx(16.1 / 2.48, rel=0.01)
    assert V.HERMES_MVM_NS == pytest.approx(133.0, abs=0.5)
    assert V.hermes_core_power_w() == pytest.approx(0.101, rel=0.01)
    # the single core of JSSC 2022 (1.008 TOPS at 10.5 TOPS/W: one MVM per 130 ns, 96 mW) is
    # an independent total within 5 % of the 64-core chip's per-core power: the gap of the
    # model is in the unpublished split, not a misread total
    assert 2 * 256 * 256 / 130e-9 / 1e12 == pytest.approx(V.HERMES_CORE_TOPS, rel=0.01)
    assert V.hermes_single_core_power_w() == pytest.approx(0.096, rel=0.01)
    assert V.hermes_single_core_power_w() / V.hermes_core_power_w() == pytest.approx(1.0, abs=0.06)


def test_neurram_breakdown_matches_fig12b():
    # the paper's Fig. 12b categories: wordline switching and neuron operations within ±30 %;
    # input pulses are the cells alone (V_read²·G·t per pulse) because the row-driver energy
    # is not published separately, so they sit below the published category, not above it
    got, pub = V.neurram_breakdown_fj_per_op(), V.NEURRAM_FJ_PER_OP
    for k in ("wl_switching", "neuron"):
        assert 0.7 <= got[k] / pub[k] <= 1.3, (k, got[k], pub[k])
    assert 0.5 <= got["input_pulses"] / pub["input_pulses"] < 1.0
    assert sum(got.values()) == pytest.approx(V.neurram().modelled, rel=1e-9)


def test_neurram_input_pulses_linear_in_input_bits_as_published():
    # Fig. 12b (cimloop _tests.py, 1-phase = 2-phase up to 3 magnitude bits): input-pulse
    # energy 3.96, 7.73, 11.51 fJ/op at 1, 2, 3 magnitude bits — equal steps, i.e. one array
    # read per input bit, not 2^b − 1 unit pulses. The model's cell term steps equally too.
    published = [3.955661604, 7.73153662, 11.50740478]
    steps = [b - a for a, b in zip(published, published[1:])]
    assert steps[0] == pytest.approx(steps[1], rel=0.01)
    cells = []
    for mb in (1, 2, 3):
        r = V._neurram_report(mb, 6)
        cells.append(r.energy_j["detection"] / 1e-15 / (2.0 * r.macs))
    assert cells[1] - cells[0] == pytest.approx(cells[2] - cells[1], rel=1e-9)
    assert cells[0] == pytest.approx(cells[1] / 2, rel=1e-9)
    # per pulse: V_read² · mean G · 10 ns × bit density 0.5 (two devices per signed weight,
    # two ops per MAC): 0.25 V² · 1.72 µS · 10 ns · 0.5 = 2.15 fJ/op per bit
    g_mean = (2e-6 + 324 / 96 / 7 * 3e-6) / 2
    assert cells[0] == pytest.approx(0.25 * g_mean * 10e-9 * 0.5 / 1e-15, rel=1e-9)


def test_neurram_needs_integrating_neurons():
    # without the neuron's per-pass and per-slot terms the same chip misses the published figure
    pub_j = V.NEURRAM_OPS_PER_MVM * 1e3 / V.NEURRAM_TOPS_PER_W * 1e-15
    per_mvm = lambda r: r.total_energy_j / (r.macs / (256 * 128))  # noqa: E731
    r = V._neurram_report()
    assert r.macs_per_conversion == 128            # red flag 7: MACs per conversion reported
    assert 0.7 <= per_mvm(r) / pub_j <= 1.3
    no_neuron = V._neurram_report(e_pass_per_column_pj=0.0, e_integrate_step_pj=0.0)
    assert per_mvm(no_neuron) / pub_j < 0.6


def test_hermes_gap_is_bounded_and_pwm_beats_bit_serial():
    ratios = [V.hermes(lv).ratio for lv in ("low", "nominal", "high")]
    assert ratios[0] < ratios[1] < ratios[2] < 1.0 and ratios[2] > 0.7
    # bit-serial pricing (8 passes) of the same core costs several times the PWM one pass
    rows = 256
    from hwsim.trace import LayerInfo, MvmEvent, summarize
    info = LayerInfo("core", "crossbar", rows, rows, rows, rows, 1, rows * rows, 8, 8, 8,
                     cells=4 * rows * rows)
    s = summarize([MvmEvent("core", 1, 100, 100 * rows * rows, 100 * rows, 100 * rows, 0)], [info])
    pwm = price(s, dataclasses.replace(crossbar_spec(), input_mode="pwm"))
    serial = price(s, crossbar_spec())
    assert serial.energy_j["detection"] > 4 * pwm.energy_j["detection"]
    assert serial.latency_s["streaming"] > 4 * pwm.latency_s["streaming"]


def test_lightmatter_needs_shot_noise_receiver():
    # the thermal-noise receiver (S_PD·2^b) at the same geometry asks for ~30x more light
    n, il = 128, 0.1 * (2 * 128 + 1) + 1.2 + 0.15
    thermal_w = laser_power_w(il, n, 8, -25.0, 0.2) * 0.2      # optical
    shot_w = shot_noise_laser_power_w(il, n, 8, 2.0e9, 1310.0, 0.2) * 0.2
    assert thermal_w > 30 * 1.6 and 0.7 * 1.6 <= shot_w <= 1.3 * 1.6


# ---------------------------------------------------------------- sanity ladder (cost.md §4)
def test_ladder_photonic_held_weights_above_limits():
    # red flag 2: < 10 fJ/MAC at >= 6 bits with DAC, ADC and laser counted is a projection;
    # shot-noise limit 50 zJ/MAC (Hamerly 2019) bounds everything
    for n, il, bits in ((32, 0.3, 8), (64, 0.1, 8), (64, 0.1, 6)):
        e = held_weight_pj_per_mac(n, il, bits, photonic_spec("low"))
        assert e > 10e-3 and e > 50e-9
    # 4 b at N = 64 may go below 10 fJ only because it is < 6 bits; still above the limits
    assert held_weight_pj_per_mac(64, 0.1, 4, photonic_spec()) > 50e-9


@pytest.mark.parametrize("level", ("low", "nominal", "high"))
def test_ladder_adc_above_empirical_frontier(level):
    # red flag 1: 8 b ADC energy below 0.27 pJ + 0.145 aJ·4^ENOB (bmurmann ADC survey)
    frontier_pj = 0.27 + 0.145e-6 * 4 ** 8
    assert photonic_spec(level).e_adc_pj >= frontier_pj
    assert crossbar_spec(level).e_adc_pj >= frontier_pj


def test_ladder_gpu():
    a100 = GPU_PRESETS["A100 SXM4 80GB"]
    # A100 FP32 at peak: 41 pJ/MAC (TDP/peak, cost.md §4.1)
    big = gpu_band(1e15, 0.0, 0, a100)["low"]
    assert big.total_energy_j / big.macs / 1e-12 == pytest.approx(41.0, rel=0.02)
    # small MLP launch-bound eager: ~80–460 pJ/MAC (cost.md §4.3); throughput-bound far below
    f = 3 * mlp_forward_flops([784, 256, 10], 64)
    band = gpu_band(f, 3 * mlp_bytes([784, 256, 10], 64), 20, a100)
    assert 80 <= band["nominal"].total_energy_j / (f / 2) / 1e-12 <= 460
    assert band["low"].total_energy_j < band["nominal"].total_energy_j / 3
    assert band["nominal"].total_energy_j < band["high"].total_energy_j


def test_ladder_order_of_published_regimes():
    # FICONN (thermal, small N) sits above the Lightmatter processor, which sits above HERMES,
    # as on the ladder of cost.md §4.1
    assert V.ficonn().modelled > V.lightmatter_energy().modelled > V.hermes().modelled

"""Cost specs: sources' values, ranges, unit conversions, validation."""
import dataclasses
import math

import pytest

from hwsim.cost import spec as S
from hwsim.cost.spec import (GPU_PRESETS, HIGHER_IS_CHEAPER, LEVELS, CrossbarCostSpec, GpuSpec,
                             PhotonicCostSpec, crossbar_spec, gpu_preset, photonic_spec)

FACTORIES = {"photonic": photonic_spec, "crossbar": crossbar_spec}


def _numeric(spec):
    return {k: v for k, v in spec.items() if not isinstance(v, (str, bool))}


@pytest.mark.parametrize("kind", FACTORIES)
@pytest.mark.parametrize("level", LEVELS)
def test_values_positive(kind, level):
    for k, v in _numeric(FACTORIES[kind](level)).items():
        if k.endswith("_dbm"):      # log-scale optical power: sign carries no meaning
            assert math.isfinite(v)
        elif k.endswith("_db"):     # losses may be 0 dB (e.g. on-chip source, no coupler)
            assert v >= 0, k
        elif k.endswith("_fraction") or k in ("p_host_static_w", "p_column_uw"):
            assert v >= 0, k        # duty assumptions and static powers may be 0 (gated)
        elif k in ("e_pass_per_column_pj", "e_integrate_step_pj"):
            assert v == 0, k        # integrating neurons: absent unless a chip has them
        else:
            assert v > 0, k


@pytest.mark.parametrize("kind", FACTORIES)
def test_levels_ordered_by_cost(kind):
    lo, nom, hi = (_numeric(FACTORIES[kind](lv)) for lv in LEVELS)
    for k in nom:
        if k in HIGHER_IS_CHEAPER:
            assert lo[k] >= nom[k] >= hi[k], k
        else:
            assert lo[k] <= nom[k] <= hi[k], k


def test_nominal_is_default_and_cited_values():
    assert photonic_spec() == PhotonicCostSpec()
    assert crossbar_spec("nominal") == CrossbarCostSpec()
    p = photonic_spec()
    assert (p.laser_wpe, p.s_pd_dbm, p.e_adc_pj, p.e_dac_pj, p.p_pi_mw, p.t_settle_ns) == \
        (0.2, -25.0, 1.48, 3.57, 30.0, 10_000.0)
    # per phase shifter, phases uniform on [0, 2π): mean P_pi·φ/π = P_pi (cost.md §1.3); the
    # old "per MZI at P_pi/2" (15 mW × 64 MZIs per 8×8 tile) left out half the shifters
    assert p.p_hold_per_shifter_w == pytest.approx(30e-3)


@pytest.mark.parametrize("level", LEVELS)
def test_heater_power_speed_product(level):
    # thermo-optic P_pi·τ ≈ conserved, ≥ 30 mW·µs for standard heaters (cost.md §3): "low"
    # must not pair the fastest settle with the weakest heater
    p = photonic_spec(level)
    assert p.p_pi_mw * p.t_settle_ns * 1e-3 >= 30.0 - 1e-9


def test_unit_conversions():
    assert S.NS == 1e-9 and S.US == 1e-6 and S.PJ == 1e-12 and S.FJ == 1e-15 and S.MW == 1e-3
    assert 1 * S.NS == pytest.approx(1e-9, rel=1e-15)   # not the "10e-9" typo (cost.md §5.1)
    p = dataclasses.replace(photonic_spec(), t_settle_ns=1.0)
    assert p.t_settle_s == 1e-9
    assert photonic_spec().t_settle_s == pytest.approx(1e-5)      # 10 µs
    assert crossbar_spec().t_write_s == pytest.approx(1e-6)       # 1 µs per row
    assert crossbar_spec().t_read_s == pytest.approx(1e-7)        # 100 ns
    assert GPU_PRESETS["A100 SXM4 80GB"].t_launch_s == pytest.approx(5e-6)
    assert S.dbm_to_mw(0.0) == 1.0 and S.dbm_to_mw(-30.0) == pytest.approx(1e-3)


def test_bit_scaling():
    assert S.adc_energy_pj(1.48, 8, 8) == 1.48
    assert S.adc_energy_pj(1.48, 4, 8) == pytest.approx(0.74)           # SAR ∝ b
    assert S.dac_energy_pj(3.57, 4, 8) == pytest.approx(3.57 / 8)       # 2^b/b


def test_gpu_presets():
    assert set(GPU_PRESETS) == {"H100 SXM5", "A100 SXM4 80GB", "Jetson AGX Orin 64GB"}
    a100 = gpu_preset("A100 SXM4 80GB")
    assert (a100.peak_fp32_tflops, a100.mem_bw_gbs, a100.tdp_w, a100.p_idle_w) == \
        (19.5, 2039.0, 400.0, 61.0)
    h100 = GPU_PRESETS["H100 SXM5"]
    assert (h100.peak_fp32_tflops, h100.mem_bw_gbs, h100.tdp_w) == (66.9, 3350.0, 700.0)
    for g in GPU_PRESETS.values():
        assert all(v > 0 for k, v in _numeric(g).items() if k not in ("p_idle_low_w", "p_idle_high_w"))
        # an idle figure that is not a measurement of this GPU carries its own band
        assert g.p_idle_measured or g.p_idle_at("low") < g.p_idle_w < g.p_idle_at("high")
        # dynamic energy at peak + idle = TDP
        assert g.p_idle_w + g.e_flop_pj * 1e-12 * g.peak_fp32_tflops * 1e12 == \
            pytest.approx(g.tdp_w)


@pytest.mark.parametrize("cls, field, value", [
    (PhotonicCostSpec, "e_adc_pj", -1.0),
    (PhotonicCostSpec, "f_mod_ghz", 0.0),
    (PhotonicCostSpec, "laser_wpe", 1.5),
    (PhotonicCostSpec, "t_settle_ns", float("nan")),
    (PhotonicCostSpec, "adc_ref_bits", 0),
    (PhotonicCostSpec, "il_mod_db", -0.1),
    (CrossbarCostSpec, "e_write_pj", -10.0),
    (CrossbarCostSpec, "t_read_ns", 0.0),
    (CrossbarCostSpec, "cols_per_adc", 2.5),
])
def test_bad_spec_raises(cls, field, value):
    with pytest.raises(ValueError) as err:
        cls(**{field: value})
    msg = str(err.value)
    assert field in msg and repr(value) in msg and "allowed" in msg


def test_bad_level_and_preset():
    with pytest.raises(ValueError, match="allowed: low, nominal, high"):
        photonic_spec("typical")
    with pytest.raises(ValueError, match="medium"):
        crossbar_spec("medium")
    with pytest.raises(ValueError, match="allowed"):
        gpu_preset("V100")
    with pytest.raises(KeyError):
        GPU_PRESETS["V100"]
    with pytest.raises(ValueError, match="p_idle_w"):
        GpuSpec("x", 1.0, 1.0, 10.0, 20.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="peak_fp32_tflops"):
        GpuSpec("x", 0.0, 1.0, 10.0, 2.0, 1.0, 1.0, 1.0)

"""Physics check of the photodiode power (1.1 mW each in LT's defaults): it is photocurrent
power V_bias·R·P_det, consistent with the detected power of the thermal-noise link budget at
8 bits, and it flows only while light arrives (it follows the laser), unlike the TIA bias."""
import dataclasses

import pytest

from hwsim.cost import photonic_spec, price
from hwsim.cost.spec import dbm_to_mw
from hwsim.trace import LayerInfo, MvmEvent, ProgramEvent, summarize

INFO = LayerInfo("m", "mzi", 8, 8, 8, 8, 1, 64, 8, 8, 8, optical_path_db=3.0, mzis=28)


def test_pd_power_is_photocurrent_power_at_the_link_budget():
    spec = photonic_spec()
    p_det_w = dbm_to_mw(spec.s_pd_dbm) * 2 ** 8 * 1e-3         # S_PD·2^b = 0.81 mW at 8 b
    assert p_det_w == pytest.approx(0.81e-3, rel=0.01)
    responsivity = 1.0                                          # A/W (cost.md §2.1)
    p_pd_w = spec.e_pd_pj * 1e-12 * spec.f_mod_ghz * 1e9        # 1.1 mW
    v_bias = p_pd_w / (responsivity * p_det_w)
    assert 1.0 < v_bias < 2.0                                   # a plausible reverse bias
    dark_w = 60e-9 * 2.0                                        # 60 nA (LT) at 2 V
    assert dark_w < 1e-3 * p_pd_w                               # dark current: negligible


def _summary():
    ev = [ProgramEvent("m", 1, 64, 1), MvmEvent("m", 1, 100, 100 * 64, 800, 800, 0)]
    return summarize(ev, [INFO])


def test_pd_idle_follows_the_laser_tia_the_receiver_duty():
    base = dataclasses.replace(photonic_spec(), converter_idle_fraction=0.0,
                               p_host_static_w=0.0)
    s = _summary()
    r = price(s, base)
    t_idle = r.total_latency_s - 800 / (8 * 5e9)               # step minus receivers' active time
    f = 5e9
    tia_w, pd_w = 0.6e-12 * f, 0.22e-12 * f
    active = 800 * (0.22 + 0.6) * 1e-12
    for laser, rx in ((1.0, 1.0), (0.0, 1.0), (1.0, 0.0), (0.0, 0.0)):
        spec = dataclasses.replace(base, laser_idle_on_fraction=laser, receiver_idle_fraction=rx)
        got = price(s, spec).energy_j["detection"]
        want = active + 8 * t_idle * (rx * tia_w + laser * pd_w)
        assert got == pytest.approx(want, rel=1e-9), (laser, rx)

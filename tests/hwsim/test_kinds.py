"""Every registered device kind declares, in one place, what the rest of forwardlab needs: its
config class, builder, presets, knob names, cost-spec section, capabilities and hints — and the
declarations match the devices it builds. The kinds come from the registry, never a hand list."""
import pytest

from hwsim.cost.spec import spec_from_mapping
from hwsim.kinds import KINDS, kind, kind_of_config, kind_of_preset
from hwsim.oracle import CAPABILITIES, TracingOracle
from hwsim.presets import DEVICE_PRESETS, device_kind
from hwsim.trace import Trace

HINTS = {"write_noise_range_units", "zo_knob_lr_range_units", "hwa_knob_noise_range_units"}


@pytest.mark.parametrize("name", list(KINDS))
def test_a_kind_matches_the_devices_it_builds(name):
    k = KINDS[name]
    assert k.default_preset in k.presets and k.label
    for preset, factory in k.presets.items():
        cfg = factory()
        assert isinstance(cfg, k.config_type) and kind_of_config(cfg) is k
        assert kind_of_preset(preset) is k and device_kind(preset) == name
    dev = k.build(6, 4, k.presets[k.default_preset](), seed=0, name="L")
    assert dev.info().device == name
    assert set(dev.knob_spec) == set(k.knob_names)
    o = TracingOracle(dev, Trace())
    assert o.capabilities == k.capabilities and k.capabilities <= set(CAPABILITIES)
    assert o.hints() == dict(k.hints) and set(k.hints) <= HINTS
    assert k.cost_section in spec_from_mapping("nominal")


def test_presets_are_the_union_of_the_kinds_and_errors_name_what_is_allowed():
    assert set(DEVICE_PRESETS) == {p for k in KINDS.values() for p in k.presets}
    with pytest.raises(ValueError, match="unknown device preset 'nope'; allowed") as e:
        kind_of_preset("nope")
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="device kind = 'tpu'; allowed"):
        kind("tpu")
    with pytest.raises(ValueError, match="device physics int; allowed"):
        kind_of_config(3)

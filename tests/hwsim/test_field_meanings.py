"""Every device config field of every registered kind — the kind's config class and every
effect class it accepts — says what it means (``hwsim.meaning.described``), so that
``forwardlab config show --explain`` can print it. Iterates the kind registry: a new kind or
effect is covered without editing this file."""
import dataclasses

import pytest

from hwsim.kinds import KINDS
from hwsim.meaning import described, meanings


def _device_classes():
    for kind in KINDS.values():
        yield kind.name, kind.config_type
        for effect in kind.config_type.EFFECT_TYPES:
            yield kind.name, effect


@pytest.mark.parametrize("kind,cls", list(_device_classes()),
                         ids=lambda v: v.__name__ if isinstance(v, type) else v)
def test_every_device_field_has_a_meaning(kind, cls):
    said = meanings(cls)
    assert said, f"{cls.__name__} has no fields"
    missing = [name for name, text in said.items() if not text.strip()]
    assert not missing, f"{kind}: {cls.__name__} fields without meaning {missing}"


def test_numbers_name_their_unit():
    """A numeric field says its unit ("1" for dimensionless): only words and choices may not."""
    unitless = []
    for kind, cls in _device_classes():
        hints = {f.name: f.type for f in dataclasses.fields(cls)}
        for f in dataclasses.fields(cls):
            numeric = any(t in str(hints[f.name]) for t in ("int", "float"))
            if numeric and not f.metadata.get("unit"):
                unitless.append(f"{cls.__name__}.{f.name}")
    assert not unitless, unitless


def test_a_described_field_keeps_its_default_and_refuses_an_empty_meaning():
    @dataclasses.dataclass(frozen=True)
    class Example:
        sigma_rad: float = described(0.01, "phase noise std", "rad")
        effects: tuple = described(factory=tuple, meaning="effect stages")

    assert Example().sigma_rad == 0.01 and Example().effects == ()
    assert meanings(Example) == {"sigma_rad": "phase noise std [rad]", "effects": "effect stages"}
    with pytest.raises(ValueError, match="meaning"):
        described(1.0, "", "s")

"""No device-kind name outside its own package: code reaches a kind through the registry
(hwsim.kinds), never by spelling its name, so a new kind is one package plus its registration.
Scans every Python string constant equal to a kind's name (preset names like "mzi-default" are
names of presets, not kinds, and stay allowed)."""
import ast
from pathlib import Path

from hwsim.kinds import KINDS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("algorithms", "experiments", "hwsim")
#: the few places that must spell a kind, and why
ALLOWED = {
    # results files written before the trace carried the kind flagged meshes with is_mzi
    "hwsim/trace.py",
    # the cost specs of the two built-in kinds and the published chips they are validated
    # against (the cost model keys its sections by kind; being moved into the kinds)
    "hwsim/cost/spec.py", "hwsim/cost/analytic.py", "hwsim/cost/validation.py",
    # the kind registry's documentation example
    "hwsim/kinds.py",
}


def kind_literals():
    kinds = set(KINDS)
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            own = {k for k in kinds if rel.startswith(f"hwsim/{_package_of(k)}/")}
            if rel in ALLOWED:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in kinds - own:
                    yield rel, node.lineno, node.value


def _package_of(kind: str) -> str:
    return KINDS[kind].build.__module__.split(".")[1]


def test_no_kind_literal_outside_its_package():
    assert list(kind_literals()) == []


def test_the_scan_knows_each_kind_package():
    assert {_package_of(k) for k in KINDS} >= {"photonic", "crossbar"}

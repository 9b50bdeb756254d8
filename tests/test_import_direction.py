"""Import rules of design.md: hwsim imports neither other package; algorithms imports only the
oracle/trace vocabulary of hwsim; only experiments imports everything."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imports_of(package: str):
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    yield path, a.name
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, node.module


def test_hwsim_imports_neither_algorithms_nor_experiments():
    bad = [(p, m) for p, m in imports_of("hwsim") if m.split(".")[0] in ("algorithms", "experiments")]
    assert not bad, bad


def test_algorithms_use_only_oracle_and_trace_from_hwsim():
    # hwsim.lazy: the deferred torch import, no device vocabulary
    allowed = {"hwsim.oracle", "hwsim.trace", "hwsim.lazy"}
    bad = [(p, m) for p, m in imports_of("algorithms")
           if (m.startswith("hwsim") and m not in allowed) or m.startswith("experiments")]
    assert not bad, bad


def test_algorithm_modules_never_import_autograd_based_code():
    """Only algorithms/baselines may use autograd; the rest of algorithms stays forward-only."""
    offenders = []
    for path in (ROOT / "algorithms").rglob("*.py"):
        if "baselines" in path.parts:
            continue
        src = path.read_text()
        for token in ("torch.autograd", ".backward(", "torch.func", "requires_grad_(True)",
                      "algorithms.baselines", "from .baselines", "from ..baselines"):
            if token in src:
                offenders.append((path.name, token))
    assert not offenders, offenders

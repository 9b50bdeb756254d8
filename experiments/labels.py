"""How every row of a run is named — algorithm, device, baseline — in one place.

* :func:`algorithm_label`: "<name> (<label>)", the label with the Jacobian model resolved
  ("local-guess (forward-only, calibrated model)");
* :func:`run_label`: the accuracy row of a trained stage: "<short> on <preset>" for algorithms
  with a short name (mfdd: "MF+DD on mzi-default"), "<short> (<label>)" for twin baselines with
  one ("BP (ideal digital twin, autograd)"), else "<name> (<label>) on <preset>";
* :func:`row_name`: the algorithm inside cost rows: "mzi-default MF+DD", "GPU H100 SXM5:
  local-guess", so that every cost row names the algorithm whose step it prices;
* :func:`device_row` / :func:`gpu_row`: those cost rows; ``BP_ROW``: the GPU BP baseline.

Short names are the registry's (``AlgorithmSpec.short``); device kinds name themselves
(:mod:`hwsim.kinds`).
"""
from __future__ import annotations

from typing import Mapping

__all__ = ["algorithm_label", "resolved_label", "run_label", "row_name", "device_row", "gpu_row", "BP_ROW",
           "calibrates"]

#: the GPU baseline every device run is compared with: the same network trained by BP
BP_ROW = "BP"


def _spec(name: str):
    from algorithms.registry import ALGORITHMS
    return ALGORITHMS[name]


def calibrates(device_kind: str | None) -> bool | None:
    """Whether devices of this kind declare ``calibrate`` (None: unknown kind or none given)."""
    if device_kind is None:
        return None
    from hwsim.kinds import kind_or_none
    kind = kind_or_none(device_kind)
    return None if kind is None else "calibrate" in kind.capabilities


def resolved_label(name: str, settings: Mapping | None = None,
                   device_kind: str | None = None) -> str:
    """The results label of ``name`` with these config settings on devices of ``device_kind``
    (what the built trainable resolves; for files that did not store it)."""
    from algorithms.registry import results_label, settings_for
    return results_label(name, settings_for(name, settings or {}), calibrates(device_kind))


def algorithm_label(name: str, settings: Mapping | None = None,
                    device_kind: str | None = None) -> str:
    """"<name> (<label>)" before the trainable exists (the run's header, older files):
    ``settings``: the run's ``algorithm.settings``; ``device_kind``: resolves the Jacobian
    model ("calibrated model" where the kind declares ``calibrate``)."""
    spec = _spec(name)
    if spec.short and spec.twin:
        return f"{spec.short} ({spec.label})"
    if spec.short:
        return spec.short
    return f"{name} ({resolved_label(name, settings, device_kind)})"


def run_label(name: str, resolved: str, preset: str) -> str:
    """The accuracy row of stage ``name`` with its resolved label (``Trainable.label``)."""
    spec = _spec(name)
    if spec.short:
        return f"{spec.short} ({resolved})" if spec.twin else f"{spec.short} on {preset}"
    return f"{name} ({resolved}) on {preset}"


def row_name(name: str) -> str:
    """The algorithm inside cost rows (its short name where it has one)."""
    try:
        return _spec(name).short or name
    except KeyError:          # a results file of an algorithm this version does not know
        return name


def device_row(preset: str, name: str) -> str:
    return f"{preset} {row_name(name)}"


def gpu_row(gpu: str, what: str) -> str:
    """``what``: :func:`row_name` of the run's algorithm, or ``BP_ROW``."""
    return f"GPU {gpu}: {what}"


def kind_words(kind: str) -> str:
    """A device kind in words ("MZI mesh", "crossbar", "MRR weight bank"): the label the kind
    registers (hwsim.kinds); an unknown kind (a file from another version) keeps its name."""
    from hwsim.kinds import kind_or_none
    k = kind_or_none(kind)
    return k.label if k is not None else kind


def preset_kind_words(preset: str) -> str:
    """The kind of a named device preset in words, or "" for a name no kind holds."""
    from hwsim.kinds import kind_of_preset
    try:
        return kind_of_preset(preset).label
    except (KeyError, ValueError):
        return ""

"""Autograd baselines on the ideal digital twin (labelled "ideal digital twin, autograd").

Importing this package registers the builders of ``bp``, ``mf-ad``, ``bp-deploy`` and
``hwa-deploy`` with :mod:`algorithms.registry`.
"""
from ..registry import TWIN_NAMES, register_twin_builder
from .twin_model import TwinTrainer

for _name in TWIN_NAMES:
    register_twin_builder(_name, lambda *a, _n=_name, **k: TwinTrainer(*a, **k))

__all__ = ["TwinTrainer"]

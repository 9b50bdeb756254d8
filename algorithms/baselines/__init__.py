"""Autograd baselines on the ideal digital twin (labelled "ideal digital twin, autograd").

Their algorithms (bp, mf-ad, bp-deploy, hwa-deploy, tt-autograd) register from
:mod:`.family`, which the registry discovers like every family.
"""
from .twin_model import TwinTrainer

__all__ = ["TwinTrainer"]

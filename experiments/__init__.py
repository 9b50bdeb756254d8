"""Experiments: config → run → results file → report; ``experiments.load(PATH)`` reads runs
into a pandas DataFrame."""
from .frame import load

__all__ = ["load"]

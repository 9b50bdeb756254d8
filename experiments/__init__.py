"""Experiments: config → run → results file → report.

``experiments.load(PATH)`` reads results files into a pandas DataFrame of runs (see
:mod:`experiments.frame`); it is imported on first use so that ``forwardlab run`` does not
pay for pandas.
"""

__all__ = ["load"]


def __getattr__(name: str):
    if name == "load":
        from .frame import load
        return load
    raise AttributeError(f"module 'experiments' has no attribute {name!r}")

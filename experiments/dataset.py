"""The data-set types every loader shares: :class:`Dataset`, :class:`DataError` and the
stratified split (kept apart from the loaders so that loaders in their own modules, e.g.
:mod:`experiments.vowels`, and :mod:`experiments.data` import them without a circle; where the
data lives, the download cache included, is decided by :func:`experiments.data.load_dataset`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.lazy import torch

__all__ = ["DataError", "Dataset", "stratified_indices"]


class DataError(ValueError):
    """Missing or corrupt data; the message says what is wrong and where."""


@dataclass(frozen=True)
class Dataset:
    """A classification data set with a train/test split.

    x_train: (N, D) float32 in [0, 1]; y_train: (N,) int64;
    x_test: (M, D) float32 in [0, 1]; y_test: (M,) int64;
    shape: image shape with prod(shape) == D, e.g. (8, 8) or (28, 28).
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    shape: tuple
    citation: str


def stratified_indices(y: np.ndarray, n_test: int, seed: int) -> np.ndarray:
    """Indices (n_test,) of a stratified held-out set (test or validation split), sorted.

    Per-class quotas by largest remainder of ``n_test * count / N``; the
    members of each class are drawn from one ``default_rng(seed)`` permutation
    per class, classes in ascending order.
    """
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * n_test / len(y)
    quota = np.floor(exact).astype(int)
    extra = np.argsort(-(exact - quota), kind="stable")[: n_test - quota.sum()]
    quota[extra] += 1
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, quota)]
    return np.sort(np.concatenate(picks))

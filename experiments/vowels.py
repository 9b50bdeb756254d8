"""Hillenbrand et al. vowel data (J. Acoust. Soc. Am. 97, 3099 (1995)) as FICONN uses it.

The author publishes ``vowdata.dat`` (``VOWEL_URL``): a few lines of notes, then one row per
token with 16 whitespace-separated columns — the file name (talker group m/w/b/g, two-digit
talker number, two-letter vowel code, e.g. ``m01ae``), duration (ms), f0, F1–F4 at steady state,
F1–F3 at 20 %, 50 % and 80 % of the vowel's duration (Hz); 0 marks a formant that could not be
measured. The published file holds 1668 tokens of 12 vowels (139 talkers).

FICONN (Bandyopadhyay et al., Nat. Photon. 2024, arXiv:2208.01623): six vowels (ae, aw, uw, er,
iy, ih), features F1–F3 at steady state and at 50 % of the duration (six features for six
modes), tokens with an unmeasurable used formant dropped, each sample scaled by its maximum,
540 training and 294 test tokens, stratified. Where the file yields another token count the
split keeps the same test fraction 294/834.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import torch

from .dataset import DataError, Dataset, stratified_indices

__all__ = ["VOWELS", "VOWEL_URL", "VOWEL_FILE", "parse_vowdata", "load_vowels", "download_vowdata",
           "check_published_structure", "VOWEL_CITATION"]

#: The author's address for the file (Western Michigan University home page of J. Hillenbrand).
VOWEL_URL = "https://homepages.wmich.edu/~hillenbr/voweldata/vowdata.dat"
#: The same file through the Internet Archive (the author's site may be offline).
VOWEL_MIRROR = "https://web.archive.org/web/2020id_/" + VOWEL_URL
VOWEL_FILE = "vowdata.dat"
VOWELS = ("ae", "aw", "uw", "er", "iy", "ih")
#: columns (0-based) of F1–F3 at steady state and F1–F3 at 50 % of the duration
FEATURE_COLUMNS = (3, 4, 5, 10, 11, 12)
COLUMNS = 16
PUBLISHED_TOKENS = 1668
PUBLISHED_VOWELS = 12
FICONN_TRAIN, FICONN_TEST = 540, 294
VOWEL_CITATION = ("Hillenbrand, Getty, Clark & Wheeler, J. Acoust. Soc. Am. 97, 3099 (1995); "
                  "selection as in Bandyopadhyay et al., Nat. Photon. (2024), arXiv:2208.01623")
_ROW = re.compile(r"^[mwbg]\d{2}[a-z]{2}$")


def parse_vowdata(text: str, source: str = VOWEL_FILE) -> tuple[list[str], np.ndarray]:
    """Token names and an (n, 15) float array of the numeric columns. Lines before the first
    data row are notes; a data row is a name matching [mwbg]NN<vowel> followed by 15 numbers.
    A malformed row raises DataError naming the file, the line and what is wrong."""
    names, rows = [], []
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts or not _ROW.match(parts[0]):
            if names and parts:
                raise DataError(f"{source}: line {number}: {parts[0]!r} is not a token name; "
                                "allowed: [mwbg] + two-digit talker + two-letter vowel, e.g. m01ae")
            continue
        if len(parts) != COLUMNS:
            raise DataError(f"{source}: line {number} ({parts[0]}): {len(parts)} columns; "
                            f"allowed: {COLUMNS} (name, duration, f0, F1-F4, F1-F3 at 20/50/80 %)")
        try:
            values = [float(v) for v in parts[1:]]
        except ValueError:
            raise DataError(f"{source}: line {number} ({parts[0]}): non-numeric value among "
                            f"{parts[1:]}; allowed: numbers (0 = not measurable)") from None
        if any(v < 0 or not np.isfinite(v) for v in values):
            raise DataError(f"{source}: line {number} ({parts[0]}): negative or non-finite value; "
                            "allowed: finite numbers >= 0")
        names.append(parts[0])
        rows.append(values)
    if not names:
        raise DataError(f"{source}: no token rows found; allowed: the vowdata.dat format "
                        "(notes, then rows like 'm01ae 257 174 663 2012 2659 3803 ...')")
    return names, np.asarray(rows, dtype=np.float64)


def check_published_structure(names: list[str], source: str) -> None:
    """The structural check of a downloaded file: 1668 tokens of 12 vowels, unique names."""
    vowels = {n[3:5] for n in names}
    if len(names) != PUBLISHED_TOKENS or len(vowels) != PUBLISHED_VOWELS or len(set(names)) != len(names):
        raise DataError(f"{source}: {len(names)} tokens of {len(vowels)} vowels "
                        f"({len(names) - len(set(names))} duplicate names); the published "
                        f"vowdata.dat has {PUBLISHED_TOKENS} unique tokens of {PUBLISHED_VOWELS} vowels")


def download_vowdata(target: Path) -> Path:
    """Fetch vowdata.dat from the author's address (else its archived copy) into ``target``,
    check its structure, and move it in place atomically; returns the path."""
    target.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in (VOWEL_URL, VOWEL_MIRROR):
        fd, tmp = tempfile.mkstemp(prefix=".vowdata.", suffix=".part", dir=target)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
                blob = resp.read(1 << 22)        # the file is ~120 kB; a larger answer is wrong
                out.write(blob)
            names, _ = parse_vowdata(blob.decode("latin-1"), url)
            check_published_structure(names, url)
            final = target / VOWEL_FILE
            os.replace(tmp, final)
            digest = hashlib.sha256(blob).hexdigest()
            (target / (VOWEL_FILE + ".sha256")).write_text(f"{digest}  {VOWEL_FILE}\n")
            return final
        except (OSError, http.client.HTTPException, DataError) as exc:
            errors.append(f"{url}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DataError("vowels: cannot download vowdata.dat (" + "; ".join(errors) + "); put the "
                    "file in a directory and pass --data-dir DIR")


def _select(names: list[str], values: np.ndarray):
    vowel = np.array([n[3:5] for n in names])
    keep = np.isin(vowel, VOWELS)
    feats = values[:, [c - 1 for c in FEATURE_COLUMNS]]
    keep &= (feats > 0).all(1)                       # drop tokens with an unmeasurable formant
    x = feats[keep]
    y = np.array([VOWELS.index(v) for v in vowel[keep]], dtype=np.int64)
    return x / x.max(1, keepdims=True), y           # each sample scaled by its maximum


def load_vowels(data_dir: str | Path | None = None, *, seed: int = 0, download: bool = True,
                cache: Path | None = None) -> Dataset:
    """The FICONN vowel task as a :class:`~experiments.data.Dataset` (6 features in (0, 1]).

    Reads ``<data_dir>/vowdata.dat`` when ``data_dir`` is given (only there), else the download
    cache ``cache`` (given by :func:`experiments.data.load_dataset`, which decides where data
    lives), downloading into it when allowed. Split: stratified, test fraction 294/834, ``seed``.
    """
    if data_dir is not None:
        path = Path(data_dir) / VOWEL_FILE
        if not path.is_file():
            raise DataError(f"vowels: {path} not found; allowed: a directory holding {VOWEL_FILE} "
                            f"(the author's file, {VOWEL_URL})")
    elif cache is None:
        raise DataError("vowels: no data directory and no download cache given; allowed: a "
                        f"directory holding {VOWEL_FILE}, or experiments.data.load_dataset('vowels')")
    else:
        path = Path(cache) / VOWEL_FILE
        if not path.is_file():
            if not download:
                raise DataError(f"vowels: {path} not found and downloading is off; pass --data-dir")
            path = download_vowdata(path.parent)
    names, values = parse_vowdata(path.read_text(encoding="latin-1"), str(path))
    x, y = _select(names, values)
    missing = [v for i, v in enumerate(VOWELS) if not (y == i).any()]
    if missing:
        raise DataError(f"{path}: no usable tokens of vowel(s) {missing}; allowed: a file holding "
                        f"all of {', '.join(VOWELS)}")
    n_test = int(round(len(y) * FICONN_TEST / (FICONN_TRAIN + FICONN_TEST)))
    test = np.zeros(len(y), bool)
    test[stratified_indices(y, n_test, seed)] = True
    t = lambda a, dt=torch.float32: torch.from_numpy(np.ascontiguousarray(a)).to(dt)
    return Dataset("vowels", t(x[~test]), t(y[~test], torch.int64), t(x[test]),
                   t(y[test], torch.int64), len(VOWELS), (len(FEATURE_COLUMNS),), VOWEL_CITATION)

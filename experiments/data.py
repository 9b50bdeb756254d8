"""Data-set loaders: UCI digits (shipped), Fashion-MNIST and MNIST (IDX files).

``load_dataset(name)`` returns a :class:`Dataset` of float32 tensors in [0, 1]
with flattened features and int64 labels.

Where the IDX files are looked for, in order (the first directory holding all
four files wins; ``<name>`` is ``fashion-mnist`` or ``mnist``):

1. ``data_dir`` and ``data_dir/<name>``;
2. ``$FORWARDLAB_DATA/<name>`` and ``$FORWARDLAB_DATA``;
3. the Debian package directory (``/usr/share/datasets/fashion-mnist``,
   package ``dataset-fashion-mnist``; Fashion-MNIST only);
4. the cache ``$XDG_CACHE_HOME/forwardlab/<name>`` (default ``~/.cache``),
   filled by downloading from the official source when ``download=True``.

Each file may be gzipped or raw (``<file>`` or ``<file>.gz``). Every file is
parsed strictly (magic, dimensions, length, label range, image count == label
count). Files from the Debian package and the cache must moreover match the
MD5 of the official *uncompressed* file (Debian recompressed the archives, so
their ``.gz`` MD5s differ from the official ones); files supplied by the user
(1, 2) are not hashed, so subsets or re-encodings are accepted. Downloads are
written to a temporary name and renamed only after the MD5 of the downloaded
archive matches the official checksum.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import math
import http.client
import os
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from algorithms.seeds import VAL_SPLIT, derive_seed

from .dataset import DataError, Dataset, stratified_indices

from hwsim.lazy import torch

__all__ = ["DATASETS", "DataError", "Dataset", "load_dataset", "read_idx", "stratified_indices",
           "cache_dir", "standardize", "split_validation", "standardize_with"]

DATASETS = ("digits", "fashion-mnist", "mnist", "vowels")


# --------------------------------------------------------------------- digits

DIGITS_PATH = Path(__file__).resolve().parents[1] / "data" / "digits.csv.gz"
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
DIGITS_N_TEST = 360
DIGITS_CITATION = (
    "Alpaydin, E. & Kaynak, C. (1998). Optical Recognition of Handwritten "
    "Digits [Dataset]. UCI Machine Learning Repository. "
    "https://doi.org/10.24432/C50P49 (CC BY 4.0)"
)


def _load_digits(seed: int) -> Dataset:
    path = Path(DIGITS_PATH)
    if not path.is_file():
        raise DataError(f"digits: shipped data file not found at {path}")
    blob = path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != DIGITS_SHA256:
        raise DataError(
            f"digits: {path} is corrupt: SHA-256 {digest} != expected {DIGITS_SHA256} "
            "(see data/README.md)"
        )
    table = np.loadtxt(gzip.decompress(blob).decode("ascii").splitlines(), delimiter=",")
    x, y = table[:, :64], table[:, 64].astype(np.int64)
    test = stratified_indices(y, DIGITS_N_TEST, seed)
    is_test = np.zeros(len(y), dtype=bool)
    is_test[test] = True
    x = torch.from_numpy((x / 16.0).astype(np.float32))
    y = torch.from_numpy(y)
    mask = torch.from_numpy(is_test)
    return Dataset("digits", x[~mask], y[~mask], x[mask], y[mask], 10, (8, 8), DIGITS_CITATION)


# ------------------------------------------------------------------------ IDX

def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """Read an unsigned-byte IDX file (gzipped or raw) as a uint8 array.

    ndim=3: images, magic 0x00000803, shape (N, rows, cols);
    ndim=1: labels, magic 0x00000801, shape (N,). Raises DataError.
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path), ndim, path)


def _read_bytes(path: Path) -> bytes:
    """File contents, gunzipped if they start with the gzip magic."""
    try:
        blob = path.read_bytes()
        return gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read/decompress: {exc}") from exc


def _parse_idx(blob: bytes, ndim: int, path: Path) -> np.ndarray:
    want = 0x800 | ndim
    if len(blob) < 4:
        raise DataError(f"{path}: truncated header ({len(blob)} bytes)")
    magic = int.from_bytes(blob[:4], "big")
    if magic != want:
        raise DataError(f"{path}: bad magic number 0x{magic:08x}, expected 0x{want:08x}")
    header = 4 + 4 * ndim
    if len(blob) < header:
        raise DataError(f"{path}: truncated header ({len(blob)} of {header} bytes)")
    dims = tuple(int.from_bytes(blob[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    size = math.prod(dims)          # Python ints: a forged header cannot overflow the check
    if size == 0:
        raise DataError(f"{path}: empty data, dimensions {dims}; allowed: an IDX file with "
                        "non-zero dimensions")
    if len(blob) - header != size:
        raise DataError(
            f"{path}: {'truncated' if len(blob) - header < size else 'trailing bytes'}: "
            f"header dimensions {dims} need {size} data bytes, file has {len(blob) - header}; "
            "allowed: a complete IDX file as published"
        )
    return np.frombuffer(blob, dtype=np.uint8, offset=header).reshape(dims).copy()


# ------------------------------------------------------------ (Fashion-)MNIST

_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# Official MD5s per file: (archive <stem>.gz, uncompressed <stem>). Archive MD5s
# as published by Zalando's README / used by torchvision; uncompressed MD5s
# checked against the Debian package (Fashion-MNIST) and public references.
MD5 = {
    "fashion-mnist": {
        "train-images-idx3-ubyte": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        "train-labels-idx1-ubyte": ("25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9"),
        "t10k-images-idx3-ubyte": ("bef4ecab320f06d8554ea6380940ec79", "8181f5470baa50b63fa0f6fddb340f0a"),
        "t10k-labels-idx1-ubyte": ("bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965"),
    },
    "mnist": {
        "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "6bbc9ace898e44ae57da46a324031adb"),
        "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432", "a25bea736e30d166cdddb491f175f624"),
        "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3", "2646ac647ad5339dbf082846283269ea"),
        "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c", "27ae3e4e09519cfbb04c329615203637"),
    },
}

URLS = {
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
}

SYSTEM_DIRS = {"fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")], "mnist": []}

CITATIONS = {
    "fashion-mnist": (
        "Xiao, H., Rasul, K. & Vollgraf, R. (2017). Fashion-MNIST: a Novel Image "
        "Dataset for Benchmarking Machine Learning Algorithms. arXiv:1708.07747 (MIT licence)"
    ),
    "mnist": (
        "LeCun, Y., Bottou, L., Bengio, Y. & Haffner, P. (1998). Gradient-based "
        "learning applied to document recognition. Proc. IEEE 86(11), 2278-2324. "
        "MNIST database: http://yann.lecun.com/exdb/mnist/ (CC BY-SA 3.0)"
    ),
}


def cache_dir(name: str) -> Path:
    """``$XDG_CACHE_HOME/forwardlab/<name>``, default ``~/.cache/forwardlab/<name>``."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "forwardlab" / name


def _candidates(name: str, data_dir, cache: Path) -> list[tuple[Path, bool]]:
    """Directories to search, in order, each with a flag 'check official MD5'."""
    dirs = []
    if data_dir is not None:
        d = Path(data_dir)
        if d.exists() and not d.is_dir():
            raise DataError(f"{name}: data directory {str(data_dir)!r} is a file; allowed: a "
                            "directory holding the four IDX files")
        if not d.is_dir():
            raise DataError(f"{name}: data directory {str(data_dir)!r} does not exist; allowed: a "
                            "directory holding the four IDX files (or omit it to use "
                            "$FORWARDLAB_DATA, the Debian package location or the download cache)")
        # An explicit directory is the only place searched: no silent fallback elsewhere.
        return [(d, False), (d / name, False)]
    env = os.environ.get("FORWARDLAB_DATA")
    if env:
        dirs += [(Path(env) / name, False), (Path(env), False)]
    dirs += [(d, True) for d in SYSTEM_DIRS.get(name, [])]
    dirs.append((cache, True))
    return dirs


def _find(directory: Path) -> dict[str, Path]:
    """Existing files per stem in ``directory`` (``<stem>.gz`` preferred)."""
    found = {}
    for stem in _STEMS.values():
        for path in (directory / f"{stem}.gz", directory / stem):
            if path.is_file():
                found[stem] = path
                break
    return found


def _read_checked(path: Path, stem: str, ndim: int, name: str, official: bool) -> np.ndarray:
    blob = _read_bytes(path)
    if official:
        digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
        if digest != MD5[name][stem][1]:
            raise DataError(
                f"{path}: corrupt: MD5 of the uncompressed data {digest} != official "
                f"{MD5[name][stem][1]}; delete or reinstall it"
            )
    return _parse_idx(blob, ndim, path)


def _download(name: str, stems, target: Path) -> None:
    """Fetch ``<stem>.gz`` for each stem into ``target``, MD5-checked, atomically."""
    target.mkdir(parents=True, exist_ok=True)
    for stem in stems:
        url = URLS[name] + stem + ".gz"
        final = target / f"{stem}.gz"
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}.gz.", suffix=".part", dir=target)
        try:
            md5 = hashlib.md5(usedforsecurity=False)
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as resp:
                while chunk := resp.read(1 << 20):
                    md5.update(chunk)
                    out.write(chunk)
            if md5.hexdigest() != MD5[name][stem][0]:
                raise DataError(
                    f"{name}: download of {url} failed its checksum: MD5 {md5.hexdigest()} "
                    f"!= official {MD5[name][stem][0]}; nothing was saved"
                )
            os.replace(tmp, final)
        except (OSError, http.client.HTTPException) as exc:
            raise DataError(f"{name}: cannot download {url} into {target}: {exc}") from exc
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _load_idx_dataset(name: str, data_dir, download: bool, cache: Path) -> Dataset:
    candidates = _candidates(name, data_dir, cache)
    searched = []
    chosen = None
    for directory, official in candidates:
        found = _find(directory)
        if len(found) == 4:
            chosen = directory, found, official
            break
        missing = [s for s in _STEMS.values() if s not in found]
        if found and directory != cache:
            raise DataError(f"{name}: {directory} holds an incomplete set of IDX files; missing {missing}")
        searched.append(f"{directory} ({'missing ' + ', '.join(missing) if found else 'no IDX files'})")
    if chosen is None and data_dir is not None:
        raise DataError(f"{name}: data directory {str(data_dir)!r} holds no complete set of IDX "
                        f"files ({'; '.join(searched)}); allowed: a directory with "
                        f"{', '.join(s + '[.gz]' for s in _STEMS.values())}")
    if chosen is None:
        if not download:
            raise DataError(
                f"{name}: IDX files not found and download=False; searched: "
                + "; ".join(searched)
                + ". Pass data_dir, set FORWARDLAB_DATA, or allow the download."
            )
        try:
            _download(name, [s for s in _STEMS.values() if s not in _find(cache)], cache)
        except DataError as exc:
            raise DataError(f"{exc}; searched locally before downloading: "
                            + "; ".join(searched)) from exc
        chosen = cache, _find(cache), True
    _, found, official = chosen

    arrays = {}
    for key, stem in _STEMS.items():
        arrays[key] = _read_checked(found[stem], stem, 3 if "images" in key else 1, name, official)
    for split in ("train", "test"):
        n_img, n_lab = len(arrays[f"{split}_images"]), len(arrays[f"{split}_labels"])
        if n_img != n_lab:
            raise DataError(
                f"{name}: {found[_STEMS[split + '_images']]} has {n_img} images but "
                f"{found[_STEMS[split + '_labels']]} has {n_lab} labels"
            )
        top = int(arrays[f"{split}_labels"].max())
        if top >= 10:
            raise DataError(f"{name}: {found[_STEMS[split + '_labels']]} has label {top} >= 10")
    shape = arrays["train_images"].shape[1:]
    if arrays["test_images"].shape[1:] != shape:
        raise DataError(
            f"{name}: image shape {shape} in {found[_STEMS['train_images']]} != "
            f"{arrays['test_images'].shape[1:]} in {found[_STEMS['test_images']]}"
        )

    def x(a):
        return torch.from_numpy(a.reshape(len(a), -1)).to(torch.float32).div_(255.0)

    def y(a):
        return torch.from_numpy(a.astype(np.int64))

    return Dataset(
        name, x(arrays["train_images"]), y(arrays["train_labels"]),
        x(arrays["test_images"]), y(arrays["test_labels"]), 10, tuple(shape), CITATIONS[name],
    )


# ------------------------------------------------------------------------ API

def load_dataset(
    name: str, data_dir: str | Path | None = None, *, seed: int = 0, download: bool = True
) -> Dataset:
    """Load ``name`` (one of ``DATASETS``) as a :class:`Dataset`.

    digits: shipped file, SHA-256 checked; stratified split 1437/360 drawn with
    ``seed``; features / 16; ``data_dir`` and ``download`` are ignored.
    fashion-mnist, mnist: official 60000/10000 split, pixels / 255, D = 784;
    see the module docstring for the search order; ``seed`` is ignored.
    vowels: ``vowdata.dat`` in ``data_dir`` (else the download cache, fetched from the author's
    address and structurally checked); 6 features, stratified 540/294-fraction split by ``seed``.
    Raises ValueError for an unknown name, DataError for missing/corrupt data.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "digits":
        return _load_digits(seed)
    cache = cache_dir(name)      # the download cache, searched after the local places
    if name != "vowels":
        return _load_idx_dataset(name, data_dir, download, cache)
    # Hillenbrand vowdata.dat, FICONN's selection (experiments/vowels.py)
    from .vowels import load_vowels
    return load_vowels(data_dir, seed=seed, download=download, cache=cache)


def standardize(ds: Dataset, eps: float = 0.1) -> Dataset:
    """Z-score every feature with the training set's mean and std (+ ``eps`` so constant
    pixels stay finite); the test set uses the training statistics."""
    mean = ds.x_train.mean(0)
    std = ds.x_train.std(0) + eps
    return dataclasses.replace(ds, x_train=(ds.x_train - mean) / std, x_test=(ds.x_test - mean) / std)


def split_validation(data: Dataset, fraction: float, seed: int):
    """Hold out ``fraction`` of the training set (stratified by class, stream ``VAL_SPLIT`` of
    the seed) for choosing settings; the test split is never used for that."""
    if fraction <= 0:
        return data, None
    y = data.y_train
    val_idx = torch.from_numpy(stratified_indices(y.numpy(), round(fraction * y.numel()),
                                                  derive_seed(seed, VAL_SPLIT) % 2 ** 32))
    keep = torch.ones(y.numel(), dtype=torch.bool)
    keep[val_idx] = False
    val = (data.x_train[val_idx], y[val_idx])
    return dataclasses.replace(data, x_train=data.x_train[keep], y_train=y[keep]), val


def standardize_with(data: Dataset, val):
    """Standardise with training statistics; the validation split uses the same statistics."""
    if val is None:
        return standardize(data), None
    val_x = standardize(dataclasses.replace(data, x_test=val[0])).x_test
    return standardize(data), (val_x, val[1])

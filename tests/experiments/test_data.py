"""Tests for experiments.data (offline; downloads go through a fake opener)."""

import gzip
import hashlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from experiments import data
from experiments.data import DATASETS, DataError, Dataset, load_dataset, read_idx

STEMS = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
DEBIAN = Path("/usr/share/datasets/fashion-mnist")


# ------------------------------------------------------------------ helpers

def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    head = (0x800 | arr.ndim).to_bytes(4, "big")
    head += b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.tobytes()


def fake_set(n_train=20, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    return {
        STEMS[0]: rng.integers(0, 256, (n_train, 28, 28)),
        STEMS[1]: np.arange(n_train) % 10,
        STEMS[2]: rng.integers(0, 256, (n_test, 28, 28)),
        STEMS[3]: np.arange(n_test) % 10,
    }


def write_set(directory: Path, arrays=None, gz=True) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    arrays = arrays or fake_set()
    for stem, arr in arrays.items():
        blob = idx_bytes(arr)
        if gz:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(blob))
        else:
            (directory / stem).write_bytes(blob)
    return arrays


def check_matches(ds: Dataset, arrays: dict, name: str):
    assert ds.name == name and ds.n_classes == 10 and ds.shape == (28, 28)
    assert ds.x_train.shape == (20, 784) and ds.x_test.shape == (10, 784)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    expect = torch.from_numpy(arrays[STEMS[0]].reshape(20, -1).astype(np.float32) / 255)
    assert torch.allclose(ds.x_train, expect)
    assert ds.y_test.tolist() == list(arrays[STEMS[3]])


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No env var, no Debian dir, cache under tmp; network forbidden."""
    monkeypatch.delenv("FORWARDLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "SYSTEM_DIRS", {"fashion-mnist": [tmp_path / "nodeb"], "mnist": []})

    def no_net(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(data.urllib.request, "urlopen", no_net)
    return tmp_path


# ------------------------------------------------------------------- digits

def test_digits_shapes_range_balance():
    ds = load_dataset("digits")
    assert ds.name == "digits" and ds.n_classes == 10 and ds.shape == (8, 8)
    assert ds.x_train.shape == (1437, 64) and ds.x_test.shape == (360, 64)
    assert ds.y_train.shape == (1437,) and ds.y_test.shape == (360,)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    for x in (ds.x_train, ds.x_test):
        assert x.min() >= 0 and x.max() <= 1
    assert ds.x_train.max() == 1.0
    all_counts = torch.bincount(torch.cat([ds.y_train, ds.y_test]), minlength=10)
    test_counts = torch.bincount(ds.y_test, minlength=10)
    assert all_counts.sum() == 1797
    assert torch.all((test_counts - all_counts * 360 / 1797).abs() < 1)
    assert "10.24432/C50P49" in ds.citation


def test_digits_deterministic_per_seed():
    a, b, c = load_dataset("digits", seed=3), load_dataset("digits", seed=3), load_dataset("digits", seed=4)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_test, c.x_test)
    assert torch.equal(torch.bincount(a.y_test), torch.bincount(c.y_test))


def test_digits_corrupt_copy_raises(tmp_path, monkeypatch):
    copy = tmp_path / "digits.csv.gz"
    shutil.copyfile(data.DIGITS_PATH, copy)
    monkeypatch.setattr(data, "DIGITS_PATH", copy)
    assert load_dataset("digits").x_train.shape == (1437, 64)
    blob = bytearray(copy.read_bytes())
    blob[100] ^= 0xFF
    copy.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="SHA-256"):
        load_dataset("digits")
    copy.unlink()
    with pytest.raises(DataError, match="not found"):
        load_dataset("digits")


def test_shipped_digits_checksum_matches_readme():
    readme = (data.DIGITS_PATH.parent / "README.md").read_text()
    assert data.DIGITS_SHA256 in readme
    assert hashlib.sha256(data.DIGITS_PATH.read_bytes()).hexdigest() == data.DIGITS_SHA256


def test_unknown_name():
    with pytest.raises(ValueError, match="'cifar'.*digits, fashion-mnist, mnist, vowels"):
        load_dataset("cifar")
    assert DATASETS == ("digits", "fashion-mnist", "mnist", "vowels")


# ---------------------------------------------------------------------- IDX

@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip_data_dir(isolated, gz):
    arrays = write_set(isolated / "mine", gz=gz)
    check_matches(load_dataset("fashion-mnist", isolated / "mine", download=False), arrays, "fashion-mnist")


@pytest.mark.parametrize("sub", ["", "mnist"])
def test_idx_round_trip_env(isolated, monkeypatch, sub):
    arrays = write_set(isolated / "env" / sub, gz=False)
    monkeypatch.setenv("FORWARDLAB_DATA", str(isolated / "env"))
    check_matches(load_dataset("mnist", download=False), arrays, "mnist")


def test_data_dir_precedes_env(isolated, monkeypatch):
    write_set(isolated / "env", fake_set(seed=1))
    monkeypatch.setenv("FORWARDLAB_DATA", str(isolated / "env"))
    arrays = write_set(isolated / "mine", fake_set(seed=2))
    check_matches(load_dataset("mnist", str(isolated / "mine")), arrays, "mnist")


def test_read_idx_errors(tmp_path):
    good = idx_bytes(np.zeros((3, 28, 28)))
    p = tmp_path / "x-idx3-ubyte"
    p.write_bytes(b"\x00\x00\x08\x01" + good[4:])
    with pytest.raises(DataError, match=r"x-idx3-ubyte.*bad magic.*0x00000801.*0x00000803"):
        read_idx(p, 3)
    p.write_bytes(good[:-5])
    with pytest.raises(DataError, match="x-idx3-ubyte.*truncated"):
        read_idx(p, 3)
    p.write_bytes(good[:10])
    with pytest.raises(DataError, match="x-idx3-ubyte.*truncated header"):
        read_idx(p, 3)
    p.write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(DataError, match="x-idx3-ubyte.*decompress"):
        read_idx(p, 3)
    p.write_bytes(gzip.compress(good))
    assert read_idx(p, 3).shape == (3, 28, 28)


def test_count_mismatch_names_files(isolated):
    arrays = fake_set()
    arrays[STEMS[3]] = np.arange(9) % 10
    write_set(isolated / "mine", arrays)
    with pytest.raises(DataError, match="10 images.*t10k-labels-idx1-ubyte.gz has 9 labels"):
        load_dataset("mnist", isolated / "mine", download=False)


def test_bad_file_in_set_names_it(isolated):
    write_set(isolated / "mine")
    (isolated / "mine" / f"{STEMS[1]}.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((5, 2)))))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: bad magic"):
        load_dataset("mnist", isolated / "mine", download=False)


def test_incomplete_set_raises(isolated):
    write_set(isolated / "mine")
    (isolated / "mine" / f"{STEMS[2]}.gz").unlink()
    with pytest.raises(DataError, match="incomplete.*t10k-images"):
        load_dataset("mnist", isolated / "mine", download=False)


def test_nothing_found_lists_places(isolated, monkeypatch):
    monkeypatch.setenv("FORWARDLAB_DATA", str(isolated / "env"))
    with pytest.raises(DataError) as info:
        load_dataset("fashion-mnist", None, download=False)
    msg = str(info.value)
    for place in ["env", "nodeb", str(data.cache_dir("fashion-mnist"))]:
        assert place in msg


def test_explicit_data_dir_is_the_only_place_searched(isolated, monkeypatch):
    """An explicit directory without the data is an error, not a fallback to other places."""
    write_set(isolated / "env")                       # a complete set elsewhere is not used
    monkeypatch.setenv("FORWARDLAB_DATA", str(isolated / "env"))
    (isolated / "mine").mkdir()
    with pytest.raises(DataError) as info:
        load_dataset("mnist", isolated / "mine", download=True)
    msg = str(info.value)
    assert "mine" in msg and "holds no complete set of IDX files" in msg and "env" not in msg


# ----------------------------------------------------------------- download

class FakeOpener:
    def __init__(self, files: dict):
        self.files, self.urls = files, []

    def __call__(self, url, timeout=None):
        self.urls.append(url)
        return io.BytesIO(self.files[url.rsplit("/", 1)[1]])


def serve(isolated, monkeypatch, name, corrupt=None):
    arrays = fake_set()
    files = {f"{s}.gz": gzip.compress(idx_bytes(a)) for s, a in arrays.items()}
    table = {s: (hashlib.md5(files[f"{s}.gz"]).hexdigest(), hashlib.md5(idx_bytes(a)).hexdigest())
             for s, a in arrays.items()}
    monkeypatch.setitem(data.MD5, name, table)
    if corrupt:
        files[f"{corrupt}.gz"] = files[f"{corrupt}.gz"] + b"junk"
    opener = FakeOpener(files)
    monkeypatch.setattr(data.urllib.request, "urlopen", opener)
    return arrays, opener


def test_download_good_then_cached(isolated, monkeypatch):
    arrays, opener = serve(isolated, monkeypatch, "fashion-mnist")
    check_matches(load_dataset("fashion-mnist"), arrays, "fashion-mnist")
    assert sorted(opener.urls) == sorted(data.URLS["fashion-mnist"] + f"{s}.gz" for s in STEMS)
    cache = data.cache_dir("fashion-mnist")
    assert cache == isolated / "cache" / "forwardlab" / "fashion-mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{s}.gz" for s in STEMS)
    check_matches(load_dataset("fashion-mnist", download=False), arrays, "fashion-mnist")
    assert len(opener.urls) == 4


def test_download_bad_checksum_leaves_nothing(isolated, monkeypatch):
    serve(isolated, monkeypatch, "mnist", corrupt=STEMS[0])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*checksum"):
        load_dataset("mnist")
    cache = data.cache_dir("mnist")
    assert not cache.exists() or list(cache.iterdir()) == []


def test_download_later_file_bad_keeps_only_verified(isolated, monkeypatch):
    serve(isolated, monkeypatch, "mnist", corrupt=STEMS[3])
    with pytest.raises(DataError, match="checksum"):
        load_dataset("mnist")
    names = {p.name for p in data.cache_dir("mnist").iterdir()}
    assert names == {f"{s}.gz" for s in STEMS[:3]}


def test_corrupt_cache_file_raises(isolated, monkeypatch):
    serve(isolated, monkeypatch, "mnist")
    load_dataset("mnist")
    path = data.cache_dir("mnist") / f"{STEMS[1]}.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(20))))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: corrupt: MD5"):
        load_dataset("mnist", download=False)


def test_official_checksums():
    assert data.MD5["fashion-mnist"]["t10k-labels-idx1-ubyte"][0] == "bb300cfdad3c16e7a12a480ee83cd310"
    assert data.MD5["mnist"]["t10k-labels-idx1-ubyte"][0] == "ec29112dd5afa0611ce80d1b7f02629c"


# ------------------------------------------------------------ Debian package

@pytest.mark.skipif(not DEBIAN.is_dir(), reason="dataset-fashion-mnist not installed")
def test_debian_fashion_mnist(monkeypatch, tmp_path):
    monkeypatch.delenv("FORWARDLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ds = load_dataset("fashion-mnist", download=False)
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert ds.shape == (28, 28) and ds.n_classes == 10
    assert torch.equal(torch.bincount(ds.y_train), torch.full((10,), 6000))
    assert ds.x_train.min() >= 0 and ds.x_train.max() == 1


def test_explicit_data_dir_that_does_not_exist_is_an_error(isolated):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("fashion-mnist", isolated / "missing", download=False)

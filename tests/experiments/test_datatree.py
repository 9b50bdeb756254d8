"""Data-only files (checkpoints): round trips keep values, shared storages, cycles and random
streams; nothing stored in a file is ever executed — planted pickles and crafted names are
refused and leave no trace."""

import dataclasses
import io
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from experiments import datatree
from experiments.datatree import TreeError, dumps, loads


@dataclasses.dataclass(frozen=True)
class Frozen:            # a test module is not an allowed package: see test_foreign_class
    a: int


def test_round_trip_of_plain_values_tensors_arrays_and_generators():
    g = torch.Generator().manual_seed(3)
    torch.rand(5, generator=g)
    rng = np.random.default_rng(7)
    rng.random(3)
    tree = {"i": 2 ** 70, "f": float("nan"), "inf": float("-inf"), "c": 1 + 2j, "s": "x",
            "none": None, "t": (1, [2.5, True]), "set": {1, 2}, 3: "int key",
            "tensor": torch.arange(6, dtype=torch.float64).reshape(2, 3),
            "half": torch.ones(3, dtype=torch.bfloat16), "cplx": torch.ones(2, dtype=torch.complex64),
            "array": np.arange(4, dtype=np.int16), "np": np.float32(1.5), "dtype": torch.float16,
            "gen": g, "rng": rng, "slice": slice(1, 5, 2)}
    back, attrs = loads(dumps(tree, {"run_id": "abc"}))
    assert attrs["run_id"] == "abc"
    assert back["i"] == 2 ** 70 and np.isnan(back["f"]) and back["inf"] == float("-inf")
    assert back["c"] == 1 + 2j and back["t"] == (1, [2.5, True]) and back["set"] == {1, 2}
    assert back[3] == "int key" and back["none"] is None and back["slice"] == slice(1, 5, 2)
    assert torch.equal(back["tensor"], tree["tensor"]) and back["tensor"].dtype == torch.float64
    assert torch.equal(back["half"], tree["half"]) and back["cplx"].dtype == torch.complex64
    assert np.array_equal(back["array"], tree["array"]) and back["array"].dtype == np.int16
    assert back["np"] == np.float32(1.5) and back["dtype"] is torch.float16
    # random streams continue exactly where they were
    assert torch.equal(torch.rand(4, generator=back["gen"]), torch.rand(4, generator=g))
    assert np.array_equal(back["rng"].random(4), rng.random(4))


def test_views_of_one_buffer_stay_views_and_shared_objects_stay_shared():
    flat = torch.zeros(10)
    w, b = flat[:6].view(2, 3), flat[6:]
    p = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([p], lr=0.1)
    p.grad = torch.ones(3)
    opt.step()
    shared = [1, 2]
    cyc: list = []
    cyc.append(cyc)
    back, _ = loads(dumps({"flat": flat, "w": w, "b": b, "p": p, "opt": opt, "x": shared,
                           "y": shared, "cyc": cyc}))
    back["flat"] += 1                       # writes through the views as before
    assert torch.equal(back["w"], torch.ones(2, 3)) and torch.equal(back["b"], torch.ones(4))
    assert back["x"] is back["y"] and back["cyc"][0] is back["cyc"]
    assert isinstance(back["p"], torch.nn.Parameter) and back["p"].requires_grad
    assert back["opt"].param_groups[0]["params"][0] is back["p"]
    assert back["opt"].state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]


def test_frozen_dataclasses_of_the_project_round_trip_without_their_constructor():
    from experiments.config import RunSection
    r = RunSection(seed=3, epochs=2)
    back, _ = loads(dumps(r))
    assert back == r and type(back) is RunSection


def test_closures_and_foreign_objects_cannot_be_stored():
    def inner(x):
        return x
    with pytest.raises(TreeError, match=r"state\.f: .*not a module-level"):
        dumps({"f": inner})
    with pytest.raises(TreeError, match=r"state\.lam"):
        dumps({"lam": lambda x: x})
    with pytest.raises(TreeError, match=r"test_datatree\.Frozen cannot be stored"):
        dumps(Frozen(1))
    with pytest.raises(TreeError, match="builtins.object"):
        dumps(object())


class _Exploit:
    """A pickle that runs code when loaded: it would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def test_a_planted_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    blob = pickle.dumps({"run_id": "x", "payload": _Exploit(marker)})
    with pytest.raises(TreeError, match="not an HDF5 data file"):
        loads(blob)
    assert not marker.exists()
    # a pickle hidden inside an HDF5 container is only bytes: the tree is not one of ours
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs["format"] = datatree.FORMAT
        f.create_dataset("tree", data=np.frombuffer(blob, dtype=np.uint8))
        f.create_group("storage")
        f.create_group("array")
    with pytest.raises(TreeError):
        loads(buf.getvalue())
    assert not marker.exists()


def _crafted(tree_doc: dict) -> bytes:
    import json
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs["format"] = datatree.FORMAT
        doc = json.dumps({"format": datatree.FORMAT, "tree": tree_doc}).encode()
        f.create_dataset("tree", data=np.frombuffer(doc, dtype=np.uint8))
        f.create_group("storage")
        f.create_group("array")
    return buf.getvalue()


@pytest.mark.parametrize("node, fragment", [
    ({"__id__": 0, "__obj__": "os:system", "state": []}, "outside the allowed packages"),
    ({"__id__": 0, "__name__": "builtins:eval"}, "outside the allowed packages"),
    ({"__id__": 0, "__name__": "subprocess:Popen"}, "outside the allowed packages"),
    ({"__id__": 0, "__obj__": "experiments.cli:main", "state": []}, "is not a class"),
    ({"__id__": 0, "__name__": "experiments.sweep:os"}, "not a class or function"),
    ({"__id__": 0, "__name__": "experiments.sweep:Path"}, "not a class or function of the allowed"),
    ({"__id__": 0, "__torchopt__": "Optimizer_x", "params": [], "state_dict": {}}, "not one of torch.optim"),
    ({"__id__": 0, "__npgen__": "os", "state": {}}, "not allowed"),
    ({"__dtype__": "object"}, "not allowed"),
    ({"__ref__": 99}, "reference 99 to nothing"),
])
def test_crafted_names_are_refused(tmp_path, node, fragment):
    with pytest.raises(TreeError, match=fragment):
        loads(_crafted(node))


@pytest.mark.parametrize("blob", [b"", b"\x89HDF\r\n\x1a\n", b"garbage" * 100])
def test_truncated_or_garbage_files_are_refused(blob):
    with pytest.raises(TreeError):
        loads(blob)


def test_a_truncated_real_file_is_refused():
    blob = dumps({"t": torch.ones(1000)})
    with pytest.raises(TreeError):
        loads(blob[: len(blob) // 2])

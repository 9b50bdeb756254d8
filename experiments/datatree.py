"""Data-only files for object trees (checkpoints): HDF5 holding JSON and raw arrays, read back
without executing anything stored in the file.

A tree of plain values (None, bool, int, float, complex, str, list, tuple, dict, set), torch
tensors (their storages kept shared, so views of one flat buffer stay views), numpy arrays,
torch and numpy random generators (their state as data), dtypes and instances of forwardlab's
own classes (modules under ``algorithms``, ``hwsim``, ``experiments``) is written as:

* ``/tree``: one JSON document (the structure, plain values inline);
* ``/storage/<n>``: the bytes of every distinct tensor storage (uint8), ``/array/<n>``: numpy
  arrays.

Reading never unpickles and never calls a constructor, ``__setstate__`` or ``__reduce__``: an
instance of an allowed class is made with ``object.__new__`` and its attributes set one by one;
a name outside the allowed packages (``os.system``, ``builtins.eval``, ``subprocess.Popen``) or
anything that is not a class or function of them is refused with :class:`TreeError`. Shared
objects and cycles are kept (each object is written once and referenced). Callables are stored
only as the name of a module-level function or class of the allowed packages; a closure or
lambda cannot be stored (``TreeError`` names its place in the tree).
"""
from __future__ import annotations

import collections
import enum
import importlib
import io
import json
import math
import types
from typing import Any

import h5py
import numpy as np
import torch

__all__ = ["TreeError", "dumps", "loads", "read_attrs", "ALLOWED_PACKAGES", "FORMAT"]

#: Packages whose classes and functions may be named in a file.
ALLOWED_PACKAGES = ("algorithms", "hwsim", "experiments")
#: numpy bit generators restored from their state dict (data only).
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
FORMAT = "forwardlab-datatree-1"


class TreeError(ValueError):
    """A tree cannot be written (an unstorable object) or a file cannot be read back."""


def _allowed(module: str) -> bool:
    return module.split(".", 1)[0] in ALLOWED_PACKAGES


def _qualname(obj) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


def _resolve(name: Any, what: str):
    """A class or function of the allowed packages, by ``module:qualname``; anything else is
    refused (the module is imported only if it is one of ours)."""
    if not isinstance(name, str) or ":" not in name:
        raise TreeError(f"{what} {name!r} is not a name")
    module, qual = name.split(":", 1)
    if not _allowed(module) or "<" in qual:
        raise TreeError(f"{what} {name!r} is outside the allowed packages "
                        f"({', '.join(ALLOWED_PACKAGES)}); refused")
    try:
        obj = importlib.import_module(module)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        raise TreeError(f"{what} {name!r} does not exist in this version") from None
    if not isinstance(obj, (type, types.FunctionType)) or not _allowed(obj.__module__):
        raise TreeError(f"{what} {name!r} is not a class or function of the allowed packages")
    return obj


# ------------------------------------------------------------------ writing

class _Writer:
    def __init__(self) -> None:
        self.memo: dict[int, int] = {}      # id(obj) → reference number
        self.keep: list[Any] = []           # keeps ids stable while writing
        self.storages: dict[int, int] = {}  # storage data_ptr/nbytes key → index
        self.storage_data: list[bytes] = []
        self.arrays: list[np.ndarray] = []

    def ref(self, obj) -> tuple[bool, int]:
        key = id(obj)
        if key in self.memo:
            return True, self.memo[key]
        self.memo[key] = n = len(self.memo)
        self.keep.append(obj)
        return False, n

    def enc(self, obj, where: str):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj if -2 ** 63 <= obj < 2 ** 63 else {"__bigint__": str(obj)}
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        if isinstance(obj, complex):
            return {"__complex__": [self.enc(obj.real, where), self.enc(obj.imag, where)]}
        if isinstance(obj, np.generic):
            return {"__npscalar__": str(obj.dtype), "v": self.enc(obj.item(), where)}
        if isinstance(obj, torch.dtype):
            return {"__dtype__": str(obj).removeprefix("torch.")}
        if isinstance(obj, np.dtype):
            return {"__npdtype__": obj.str}
        if isinstance(obj, torch.device):
            return {"__device__": str(obj)}
        if isinstance(obj, enum.Enum):
            return {"__enum__": _qualname(type(obj)), "v": self.enc(obj.value, where)}
        if isinstance(obj, slice):
            return {"__slice__": [self.enc(x, where) for x in (obj.start, obj.stop, obj.step)]}
        if isinstance(obj, range):
            return {"__range__": [obj.start, obj.stop, obj.step]}
        seen, n = self.ref(obj)
        if seen:
            return {"__ref__": n}
        if isinstance(obj, torch.Tensor):
            return {"__id__": n, "__tensor__": self.tensor(obj, where)}
        if isinstance(obj, torch.optim.Optimizer):
            # torch's own optimizer: its class name (from torch.optim), its parameters (shared
            # with the model through the tree) and its state dict as data
            name = type(obj).__name__
            if getattr(torch.optim, name, None) is not type(obj):
                raise TreeError(f"{where}: optimizer {type(obj).__qualname__} is not one of torch.optim")
            params = [list(g["params"]) for g in obj.param_groups]
            return {"__id__": n, "__torchopt__": name,
                    "params": self.enc(params, f"{where}.params"),
                    "state_dict": self.enc(obj.state_dict(), f"{where}.state_dict")}
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise TreeError(f"{where}: a numpy array of Python objects cannot be stored")
            self.arrays.append(np.ascontiguousarray(obj))
            return {"__id__": n, "__array__": len(self.arrays) - 1}
        if isinstance(obj, torch.Generator):
            return {"__id__": n, "__generator__": str(obj.device),
                    "state": self.enc(obj.get_state(), where)}
        if isinstance(obj, np.random.Generator):
            bg = obj.bit_generator
            return {"__id__": n, "__npgen__": type(bg).__name__, "state": self.enc(bg.state, where)}
        if isinstance(obj, np.random.RandomState):
            return {"__id__": n, "__randomstate__": self.enc(obj.get_state(legacy=False), where)}
        if isinstance(obj, list):
            return {"__id__": n, "__list__": [self.enc(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, tuple) and type(obj) is tuple:
            return {"__id__": n, "__tuple__": [self.enc(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, (set, frozenset)):
            return {"__id__": n, "__set__": [self.enc(v, where) for v in obj],
                    "frozen": isinstance(obj, frozenset)}
        if type(obj) in (dict, collections.OrderedDict):
            return {"__id__": n, "__dict__": [[self.enc(k, where), self.enc(v, f"{where}.{k}")]
                                              for k, v in obj.items()],
                    "ordered": type(obj) is collections.OrderedDict}
        if isinstance(obj, types.MethodType) and isinstance(obj.__func__, types.FunctionType):
            # a bound method of one of our objects: the object and the method's name
            if not _allowed(type(obj.__self__).__module__):
                raise TreeError(f"{where}: a method of {type(obj.__self__).__qualname__} cannot be "
                                "stored as data")
            name = next((k for klass in type(obj.__self__).__mro__ for k, v in vars(klass).items()
                         if v is obj.__func__), None)
            if name is None:
                raise TreeError(f"{where}: {obj!r} is not a method of its object's class")
            return {"__id__": n, "__method__": name,
                    "self": self.enc(obj.__self__, f"{where}.__self__")}
        if isinstance(obj, (type, types.FunctionType)):
            if not _allowed(obj.__module__) or "<" in obj.__qualname__:
                raise TreeError(f"{where}: {obj!r} is not a module-level class or function of "
                                f"{', '.join(ALLOWED_PACKAGES)}; it cannot be stored as data")
            return {"__id__": n, "__name__": _qualname(obj)}
        cls = type(obj)
        if not _allowed(cls.__module__) or "<" in cls.__qualname__:
            raise TreeError(f"{where}: a {cls.__module__}.{cls.__qualname__} cannot be stored as "
                            "data (only plain values, tensors, arrays, generators and classes of "
                            f"{', '.join(ALLOWED_PACKAGES)})")
        return {"__id__": n, "__obj__": _qualname(cls), "state": self.state(obj, where)}

    def state(self, obj, where: str) -> list:
        items: dict[str, Any] = {}
        if hasattr(obj, "__dict__"):
            items.update(vars(obj))
        for klass in type(obj).__mro__:
            for slot in getattr(klass, "__slots__", ()):
                if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                    items[slot] = getattr(obj, slot)
        if isinstance(obj, tuple):   # a NamedTuple of ours
            items["__items__"] = list(obj)
        return [[k, self.enc(v, f"{where}.{k}")] for k, v in items.items()]

    def tensor(self, t: torch.Tensor, where: str) -> dict:
        if t.is_sparse or t.layout != torch.strided:
            raise TreeError(f"{where}: a {t.layout} tensor cannot be stored")
        st = t.untyped_storage()
        key = (st.data_ptr(), st.nbytes()) if st.nbytes() else ("empty", id(st))
        if key not in self.storages:
            self.storages[key] = len(self.storage_data)
            self.storage_data.append(_storage_bytes(st) if st.nbytes() else b"")
        return {"storage": self.storages[key], "dtype": str(t.dtype).removeprefix("torch."),
                "offset": t.storage_offset(), "shape": list(t.shape), "stride": list(t.stride()),
                "device": str(t.device), "requires_grad": bool(t.requires_grad),
                "parameter": isinstance(t, torch.nn.Parameter)}


def _storage_bytes(st: torch.UntypedStorage) -> bytes:
    """The raw bytes of a storage, copied in one go through a uint8 view. (``bytes(storage)``
    gives the same bytes but walks the storage as a Python sequence, one ``__getitem__`` per
    byte: about 4 µs a byte, i.e. most of a small run's CPU went into its epoch checkpoints.)"""
    return torch.empty(0, dtype=torch.uint8).set_(st.cpu()).numpy().tobytes()


def dumps(tree: Any, attrs: dict[str, str] | None = None) -> bytes:
    """The HDF5 bytes of ``tree`` (and string ``attrs`` on the root, e.g. a run id)."""
    w = _Writer()
    doc = json.dumps({"format": FORMAT, "tree": w.enc(tree, "state")}, allow_nan=False)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs["format"] = FORMAT
        for k, v in (attrs or {}).items():
            f.attrs[k] = str(v)
        f.create_dataset("tree", data=np.frombuffer(doc.encode(), dtype=np.uint8))
        g = f.create_group("storage")
        for i, b in enumerate(w.storage_data):
            g.create_dataset(str(i), data=np.frombuffer(b, dtype=np.uint8))
        a = f.create_group("array")
        for i, arr in enumerate(w.arrays):
            a.create_dataset(str(i), data=arr)
    return buf.getvalue()


# ------------------------------------------------------------------ reading

_DTYPES = {name: getattr(torch, name) for name in (
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128", "int8", "uint8",
    "int16", "int32", "int64", "bool")}


class _Reader:
    def __init__(self, storages: list[bytes], arrays: list[np.ndarray]) -> None:
        self.memo: dict[int, Any] = {}
        self.storage_bytes = storages
        self.storages: dict[int, torch.UntypedStorage] = {}
        self.arrays = arrays

    def dec(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            raise TreeError("a bare list in the tree (lists are tagged)")
        if not isinstance(node, dict):
            raise TreeError(f"unexpected node {type(node).__name__}")
        if "__ref__" in node:
            try:
                return self.memo[node["__ref__"]]
            except (KeyError, TypeError):
                raise TreeError(f"reference {node['__ref__']!r} to nothing") from None
        if "__bigint__" in node:
            return int(str(node["__bigint__"]))
        if "__float__" in node:
            return float(str(node["__float__"]))
        if "__complex__" in node:
            re_, im = node["__complex__"]
            return complex(self.dec(re_), self.dec(im))
        if "__npscalar__" in node:
            return np.dtype(str(node["__npscalar__"])).type(self.dec(node["v"]))
        if "__dtype__" in node:
            try:
                return _DTYPES[node["__dtype__"]]
            except KeyError:
                raise TreeError(f"dtype {node['__dtype__']!r} is not allowed") from None
        if "__npdtype__" in node:
            d = np.dtype(str(node["__npdtype__"]))
            if d.hasobject:
                raise TreeError("an object dtype is not allowed")
            return d
        if "__device__" in node:
            return torch.device(str(node["__device__"]))
        if "__slice__" in node:
            return slice(*(self.dec(x) for x in node["__slice__"]))
        if "__range__" in node:
            return range(*(int(x) for x in node["__range__"]))
        if "__enum__" in node:
            cls = _resolve(node["__enum__"], "enum")
            if not (isinstance(cls, type) and issubclass(cls, enum.Enum)):
                raise TreeError(f"{node['__enum__']!r} is not an enum")
            return cls(self.dec(node["v"]))
        n = node.get("__id__")
        if not isinstance(n, int):
            raise TreeError("an object without an id")
        if "__tensor__" in node:
            return self.keep(n, self.tensor(node["__tensor__"]))
        if "__array__" in node:
            return self.keep(n, self.arrays[int(node["__array__"])])
        if "__generator__" in node:
            g = torch.Generator(device=str(node["__generator__"]))
            g.set_state(self.dec(node["state"]))
            return self.keep(n, g)
        if "__npgen__" in node:
            name = str(node["__npgen__"])
            if name not in _BIT_GENERATORS:
                raise TreeError(f"bit generator {name!r} is not allowed")
            bg = getattr(np.random, name)()
            bg.state = self.dec(node["state"])
            return self.keep(n, np.random.Generator(bg))
        if "__randomstate__" in node:
            rs = np.random.RandomState()
            rs.set_state(self.dec(node["__randomstate__"]))
            return self.keep(n, rs)
        if "__list__" in node:
            out: list = self.keep(n, [])
            out.extend(self.dec(v) for i, v in enumerate(node["__list__"]))
            return out
        if "__tuple__" in node:
            return self.keep(n, tuple(self.dec(v)
                                      for i, v in enumerate(node["__tuple__"])))
        if "__set__" in node:
            items = [self.dec(v) for v in node["__set__"]]
            return self.keep(n, frozenset(items) if node.get("frozen") else set(items))
        if "__torchopt__" in node:
            cls = getattr(torch.optim, str(node["__torchopt__"]), None)
            if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
                raise TreeError(f"optimizer {node['__torchopt__']!r} is not one of torch.optim")
            groups = self.dec(node["params"])
            opt = self.keep(n, cls([{"params": ps} for ps in groups]))
            opt.load_state_dict(self.dec(node["state_dict"]))
            return opt
        if "__dict__" in node:
            d: dict = self.keep(n, collections.OrderedDict() if node.get("ordered") else {})
            for k, v in node["__dict__"]:
                key = self.dec(k)
                d[key] = self.dec(v)
            return d
        if "__name__" in node:
            return self.keep(n, _resolve(node["__name__"], "name"))
        if "__method__" in node:
            owner = self.dec(node["self"])
            name = str(node["__method__"])
            fn = getattr(type(owner), name, None)
            if not (isinstance(fn, types.FunctionType) and _allowed(type(owner).__module__)):
                raise TreeError(f"method {name!r} is not a function of an allowed class")
            return self.keep(n, types.MethodType(fn, owner))
        if "__obj__" in node:
            cls = _resolve(node["__obj__"], "class")
            if not isinstance(cls, type):
                raise TreeError(f"{node['__obj__']!r} is not a class")
            state = {str(k): v for k, v in node["state"]}
            if "__items__" in state:   # a NamedTuple: its items are its value
                items = state["__items__"]["__list__"]
                return self.keep(n, tuple.__new__(cls, [self.dec(v)
                                                        for i, v in enumerate(items)]))
            obj = self.keep(n, object.__new__(cls))   # no __init__, __new__ or __setstate__ runs
            for k, v in state.items():
                object.__setattr__(obj, k, self.dec(v))
            return obj
        raise TreeError(f"unknown node with keys {sorted(node)[:4]}")

    def keep(self, n: int, obj):
        self.memo[n] = obj
        return obj

    def tensor(self, spec: dict) -> torch.Tensor:
        i = int(spec["storage"])
        if i not in self.storages:
            raw = self.storage_bytes[i]
            self.storages[i] = torch.UntypedStorage.from_buffer(raw, dtype=torch.uint8) if raw \
                else torch.UntypedStorage(0)
        try:
            dtype = _DTYPES[spec["dtype"]]
        except KeyError:
            raise TreeError(f"tensor dtype {spec['dtype']!r} is not allowed") from None
        t = torch.empty(0, dtype=dtype)
        try:
            t.set_(self.storages[i], int(spec["offset"]), [int(s) for s in spec["shape"]],
                   [int(s) for s in spec["stride"]])
        except RuntimeError as e:
            raise TreeError(f"a tensor does not fit its storage ({e})") from None
        if spec.get("parameter"):
            return torch.nn.Parameter(t, requires_grad=bool(spec.get("requires_grad")))
        if spec.get("requires_grad"):
            t.requires_grad_(True)
        return t


def read_attrs(blob: bytes) -> dict[str, str]:
    """The root attributes of a file written by :func:`dumps` (without decoding the tree)."""
    if not blob.startswith(b"\x89HDF\r\n\x1a\n"):
        raise TreeError("not an HDF5 data file (a pickle or another format is never loaded)")
    try:
        with h5py.File(io.BytesIO(blob), "r") as f:
            attrs = {k: str(v) for k, v in f.attrs.items()}
    except Exception as e:
        raise TreeError(f"unreadable ({type(e).__name__})") from None
    if attrs.get("format") != FORMAT:
        raise TreeError(f"format {attrs.get('format')!r}; expected {FORMAT!r}")
    return attrs


def loads(blob: bytes) -> tuple[Any, dict[str, str]]:
    """The tree and root attributes of a file written by :func:`dumps`. Anything else — a pickle,
    a truncated or edited file, a name outside the allowed packages — raises
    :class:`TreeError`; nothing stored in the file is executed."""
    if not blob.startswith(b"\x89HDF\r\n\x1a\n"):
        raise TreeError("not an HDF5 data file (a pickle or another format is never loaded)")
    try:
        with h5py.File(io.BytesIO(blob), "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise TreeError(f"format {f.attrs.get('format')!r}; expected {FORMAT!r}")
            attrs = {k: str(v) for k, v in f.attrs.items()}
            doc = json.loads(bytes(f["tree"][()]).decode())
            storages = [bytes(f["storage"][str(i)][()]) for i in range(len(f["storage"]))]
            arrays = [f["array"][str(i)][()] for i in range(len(f["array"]))]
    except TreeError:
        raise
    except Exception as e:
        raise TreeError(f"unreadable ({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise TreeError("the tree document is not one of ours")
    try:
        return _Reader(storages, arrays).dec(doc["tree"]), attrs
    except TreeError:
        raise
    except Exception as e:
        raise TreeError(f"malformed tree ({type(e).__name__}: {e})") from None

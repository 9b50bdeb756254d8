"""Network description: device blocks (Dense, Conv2d) and host transforms (bias, ReLU, pooling,
flatten). One description builds both the oracle network (device blocks = oracle queries) and the
ideal-twin network of the autograd baselines (device blocks = ``x @ twin(knobs)ᵀ``), so every
comparison is like-for-like.

Each device block is one oracle holding a matrix of shape ``device_shape``:

* ``Dense(n)``: (n, n_in) on a flat input (B, n_in) → (B, n);
* ``Conv2d(c, k, stride, padding)``: im2col onto a device matrix (C_out, C_in·k·k); the input
  (B, C_in, H, W) is unfolded into B·L patch vectors (L = H'·W' output positions), queried as one
  batch, and the readout (B·L, C_out) reshaped to feature maps (B, C_out, H', W').

A *stage* is one device block followed by the host transforms up to the next device block;
Mono-Forward attaches one local head to every stage's output.

Host transforms work on tensors with any leading dimensions (settings P, batch B) followed by the
feature shape, and have a closed-form ``pullback`` (their vector–Jacobian product, used for the
exact digital head gradient; no autograd). Their ``forward`` is plain torch, so the autograd baselines reuse it.

Config form (``parse_architecture``): a list of strings or dicts, e.g.
``["conv2d:8:3:1:1", "bias", "relu", "maxpool:2", "flatten", "dense:128", "bias", "relu"]`` or
``[{"type": "dense", "out_features": 128}, {"type": "bias"}, {"type": "relu"}]``; ``hidden``
stays the MLP shorthand: ``mlp([128, 128])`` = dense:128, bias, relu, dense:128, bias, relu.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, fields
from typing import TYPE_CHECKING, Any, Mapping, Sequence, Union

from hwsim.lazy import torch, nn_functional as F

if TYPE_CHECKING:
    from torch import Tensor


__all__ = ["Dense", "Conv2d", "Bias", "ReLU", "Amplitude", "MaxPool2d", "AvgPool2d", "Flatten", "Block",
           "Stage", "ModelDescription", "parse_architecture", "mlp", "model_from_config",
           "BLOCK_TYPES"]


def _positive_int(owner: str, name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{owner}.{name} = {value!r}; allowed: an integer >= {minimum}")


# --------------------------------------------------------------------------- device blocks
@dataclass(frozen=True)
class Dense:
    """Device block: flat (…, n_in) → (…, out_features)."""

    out_features: int

    def __post_init__(self) -> None:
        _positive_int("Dense", "out_features", self.out_features)

    def out_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(in_shape) != 1:
            raise ValueError(f"Dense needs a flat input, got feature shape {in_shape}; "
                             "allowed: put 'flatten' before it")
        return (self.out_features,)

    def device_shape(self, in_shape: tuple[int, ...]) -> tuple[int, int]:
        """(n_out, n_in) of the device matrix."""
        return (self.out_features, in_shape[0])

    def columns(self, a: Tensor, in_shape: tuple[int, ...]) -> Tensor:
        """(L, B, n_in) → device input vectors (L, B, n_in)."""
        return a

    def readout(self, z: Tensor, batch: int, in_shape: tuple[int, ...]) -> Tensor:
        return z


@dataclass(frozen=True)
class Conv2d:
    """Device block: (…, C_in, H, W) → (…, out_channels, H', W') by im2col."""

    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int = 0

    def __post_init__(self) -> None:
        _positive_int("Conv2d", "out_channels", self.out_channels)
        _positive_int("Conv2d", "kernel_size", self.kernel_size)
        _positive_int("Conv2d", "stride", self.stride)
        _positive_int("Conv2d", "padding", self.padding, 0)

    def _spatial(self, in_shape: tuple[int, ...]) -> tuple[int, int]:
        if len(in_shape) != 3:
            raise ValueError(f"Conv2d needs a (C, H, W) input, got feature shape {in_shape}")
        _, h, w = in_shape
        ho = (h + 2 * self.padding - self.kernel_size) // self.stride + 1
        wo = (w + 2 * self.padding - self.kernel_size) // self.stride + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"Conv2d kernel_size {self.kernel_size} does not fit input {in_shape}")
        return ho, wo

    def out_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (self.out_channels, *self._spatial(in_shape))

    def device_shape(self, in_shape: tuple[int, ...]) -> tuple[int, int]:
        return (self.out_channels, in_shape[0] * self.kernel_size ** 2)

    def columns(self, a: Tensor, in_shape: tuple[int, ...]) -> Tensor:
        """(L, B, C, H, W) → patch vectors (L, B·H'·W', C·k·k) (im2col)."""
        lead, b = a.shape[0], a.shape[1]
        cols = F.unfold(a.reshape(lead * b, *in_shape), self.kernel_size, padding=self.padding,
                        stride=self.stride)                            # (L·B, C·k·k, H'W')
        return cols.transpose(1, 2).reshape(lead, -1, cols.shape[1])

    def readout(self, z: Tensor, batch: int, in_shape: tuple[int, ...]) -> Tensor:
        """(P, B·H'·W', C_out) → feature maps (P, B, C_out, H', W')."""
        ho, wo = self._spatial(in_shape)
        return z.reshape(z.shape[0], batch, ho, wo, self.out_channels).permute(0, 1, 4, 2, 3)


# --------------------------------------------------------------------------- host transforms
@dataclass(frozen=True)
class Bias:
    """Digital bias, one value per feature (Dense) or per channel (Conv2d); trained, init 0."""

    def out_shape(self, in_shape):
        return in_shape

    def param_shape(self, in_shape):
        return in_shape[:1]

    def forward(self, x: Tensor, b: Tensor, in_shape) -> tuple[Tensor, Any]:
        """x (*lead, *in_shape); b (C,) or batched over settings (n, C) with x (n, B, …)."""
        lead_x, lead_b = x.dim() - len(in_shape), b.dim() - 1
        bb = b.reshape(*b.shape[:-1], *([1] * (lead_x - lead_b)), b.shape[-1],
                       *([1] * (len(in_shape) - 1)))
        return x + bb, None

    def pullback(self, ctx, dy: Tensor, in_shape) -> tuple[Tensor, Tensor]:
        nd = len(in_shape)
        db = dy.reshape(-1, *in_shape)
        return dy, db.sum(dim=(0, *range(2, nd + 1))) if nd > 1 else db.sum(0)


@dataclass(frozen=True)
class ReLU:
    def out_shape(self, in_shape):
        return in_shape

    def forward(self, x, params, in_shape):
        return torch.relu(x), x > 0

    def pullback(self, ctx, dy, in_shape):
        return dy * ctx, None


@dataclass(frozen=True)
class Amplitude:
    """Field amplitude from a measured power: a = √max(P, 0) (the measured |y| nonlinearity of
    Pai et al., Science 380, 398 (2023), re-injected into the next mesh). Pullback
    ∂a/∂P = 1/(2a), with a floored at ``floor`` (readout units) where the power vanishes."""

    floor: float = 1e-6

    def out_shape(self, in_shape):
        return in_shape

    def forward(self, x, params, in_shape):
        a = torch.sqrt(x.clamp_min(0.0))
        return a, a

    def pullback(self, ctx, dy, in_shape):
        return dy * 0.5 / ctx.clamp_min(self.floor), None


def _pool_check(kind: str, size: int, in_shape) -> tuple[int, ...]:
    _positive_int(kind, "size", size)
    if len(in_shape) != 3 or in_shape[1] < size or in_shape[2] < size:
        raise ValueError(f"{kind}(size={size}) needs a (C, H, W) input with H, W >= size, "
                         f"got feature shape {in_shape}")
    return (in_shape[0], in_shape[1] // size, in_shape[2] // size)


@dataclass(frozen=True)
class MaxPool2d:
    size: int = 2

    def __post_init__(self) -> None:
        _positive_int("MaxPool2d", "size", self.size)

    def out_shape(self, in_shape):
        return _pool_check("MaxPool2d", self.size, in_shape)

    def forward(self, x, params, in_shape):
        lead = x.shape[: x.dim() - 3]
        y, idx = F.max_pool2d(x.reshape(-1, *in_shape), self.size, return_indices=True)
        return y.reshape(*lead, *y.shape[1:]), (idx, lead)

    def pullback(self, ctx, dy, in_shape):
        """``dy`` may carry extra leading dimensions (e.g. P directions) before the forward's."""
        idx, _ = ctx
        flat = dy.reshape(-1, *dy.shape[-3:])
        reps = flat.shape[0] // idx.shape[0]
        dx = F.max_unpool2d(flat, idx.repeat(reps, 1, 1, 1) if reps > 1 else idx, self.size,
                            output_size=in_shape[1:])
        return dx.reshape(*dy.shape[:-3], *in_shape), None


@dataclass(frozen=True)
class AvgPool2d:
    size: int = 2

    def __post_init__(self) -> None:
        _positive_int("AvgPool2d", "size", self.size)

    def out_shape(self, in_shape):
        return _pool_check("AvgPool2d", self.size, in_shape)

    def forward(self, x, params, in_shape):
        lead = x.shape[: x.dim() - 3]
        y = F.avg_pool2d(x.reshape(-1, *in_shape), self.size)
        return y.reshape(*lead, *y.shape[1:]), None

    def pullback(self, ctx, dy, in_shape):
        s = self.size
        up = dy.repeat_interleave(s, -1).repeat_interleave(s, -2) / (s * s)
        dx = dy.new_zeros(*dy.shape[:-3], *in_shape)
        dx[..., : up.shape[-2], : up.shape[-1]] = up          # floor mode: the rest gets no gradient
        return dx, None


@dataclass(frozen=True)
class Flatten:
    def out_shape(self, in_shape):
        return (math.prod(in_shape),)

    def forward(self, x, params, in_shape):
        return x.reshape(*x.shape[: x.dim() - len(in_shape)], -1), None

    def pullback(self, ctx, dy, in_shape):
        return dy.reshape(*dy.shape[:-1], *in_shape), None


DeviceBlock = Union[Dense, Conv2d]
HostTransform = Union[Bias, ReLU, Amplitude, MaxPool2d, AvgPool2d, Flatten]
Block = Union[DeviceBlock, HostTransform]
BLOCK_TYPES: dict[str, type] = {"dense": Dense, "conv2d": Conv2d, "bias": Bias, "relu": ReLU,
                                "amplitude": Amplitude,
                                "maxpool": MaxPool2d, "avgpool": AvgPool2d, "flatten": Flatten}


# --------------------------------------------------------------------------- stages
@dataclass(frozen=True)
class Stage:
    """One device block and the host transforms after it, with their feature shapes."""

    index: int
    device: DeviceBlock
    host: tuple[HostTransform, ...]
    in_shape: tuple[int, ...]             # stage input (device block input) feature shape
    device_out_shape: tuple[int, ...]     # device readout feature shape
    host_shapes: tuple[tuple[int, ...], ...]   # input feature shape of every host transform
    out_shape: tuple[int, ...]            # stage output feature shape

    @property
    def device_shape(self) -> tuple[int, int]:
        """(n_out, n_in) of the stage's device matrix."""
        return self.device.device_shape(self.in_shape)

    @property
    def n_features(self) -> int:
        """Width of the flattened stage output (input of the local head)."""
        return math.prod(self.out_shape)

    def digital_param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Trainable digital parameters of the host transforms (``b`` for a Bias)."""
        out = {}
        for t, s in zip(self.host, self.host_shapes):
            if isinstance(t, Bias):
                if "b" in out:
                    raise ValueError(f"stage {self.index}: at most one bias per stage")
                out["b"] = t.param_shape(s)
        return out

    # ---- device side -------------------------------------------------------------------
    def device_inputs(self, a: Tensor) -> Tensor:
        """Stage input (L, B, *in_shape) → device vectors (L, B·(positions), n_in)."""
        return self.device.columns(a, self.in_shape)

    def device_readout(self, z: Tensor, batch: int) -> Tensor:
        """Device answer (P, B·(positions), n_out) → (P, B, *device_out_shape)."""
        return self.device.readout(z, batch, self.in_shape)

    def weight_cotangent(self, dz: Tensor, a: Tensor) -> Tensor:
        """∂L/∂W (…, n_out, n_in) from ∂L/∂z (…, B, *device_out_shape) and the input a
        (1, B, *in_shape); leading dimensions of ``dz`` (e.g. P directions) are kept."""
        cols = self.device_inputs(a)[0]                                   # (B·L, n_in)
        n_out = self.device_shape[0]
        lead = dz.shape[: dz.dim() - 1 - len(self.device_out_shape)]
        if isinstance(self.device, Conv2d):
            dz = dz.movedim(-3, -1)
        return dz.reshape(*lead, -1, n_out).transpose(-1, -2) @ cols

    # ---- host side ---------------------------------------------------------------------
    def host_forward(self, z: Tensor, digital: Mapping[str, Tensor]) -> tuple[Tensor, list]:
        """Apply the host transforms to (…, *device_out_shape); returns (output, contexts)."""
        ctxs, x = [], z
        for t, s in zip(self.host, self.host_shapes):
            x, c = t.forward(x, digital.get("b") if isinstance(t, Bias) else None, s)
            ctxs.append(c)
        return x, ctxs

    def host_backward(self, ctxs: list, dy: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Closed-form backward of the host transforms: ∂L/∂z and digital-parameter grads."""
        grads: dict[str, Tensor] = {}
        for t, s, c in zip(reversed(self.host), reversed(self.host_shapes), reversed(ctxs)):
            dy, dp = t.pullback(c, dy, s)
            if isinstance(t, Bias):
                grads["b"] = dp
        return dy, grads


@dataclass(frozen=True)
class ModelDescription:
    """A network: input feature shape ((D,) flat or (C, H, W)) and a sequence of blocks."""

    input_shape: tuple[int, ...]
    blocks: tuple[Block, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        object.__setattr__(self, "blocks", tuple(self.blocks))
        if not self.blocks or not isinstance(self.blocks[0], (Dense, Conv2d)):
            raise ValueError("model.architecture must start with a device block ('dense' or "
                             f"'conv2d'), got {self.blocks[:1]}")
        self.stages()   # validates every shape

    def stages(self) -> list[Stage]:
        out: list[Stage] = []
        shape = self.input_shape
        i = 0
        while i < len(self.blocks):
            dev = self.blocks[i]
            in_shape, shape = shape, dev.out_shape(shape)
            dev_out, host, host_shapes = shape, [], []
            i += 1
            while i < len(self.blocks) and not isinstance(self.blocks[i], (Dense, Conv2d)):
                host_shapes.append(shape)
                host.append(self.blocks[i])
                shape = self.blocks[i].out_shape(shape)
                i += 1
            st = Stage(len(out), dev, tuple(host), in_shape, dev_out, tuple(host_shapes), shape)
            st.digital_param_shapes()
            out.append(st)
        return out

    def device_shapes(self) -> list[tuple[int, int]]:
        """(n_in, n_out) of every device block, in order: build one device per entry."""
        return [(s.device_shape[1], s.device_shape[0]) for s in self.stages()]

    def reshape_input(self, x: Tensor) -> Tensor:
        """(B, D) flat data → (1, B, *input_shape)."""
        if x.dim() != 2 or x.shape[1] != math.prod(self.input_shape):
            raise ValueError(f"input has shape {tuple(x.shape)}; allowed (B, "
                             f"{math.prod(self.input_shape)}) for model input {self.input_shape}")
        return x.reshape(1, x.shape[0], *self.input_shape)


# --------------------------------------------------------------------------- config forms
def _block_from_dict(item: Mapping[str, Any], where: str) -> Block:
    kind = item.get("type")
    if kind not in BLOCK_TYPES:
        raise ValueError(f"{where}.type = {kind!r}; allowed: {sorted(BLOCK_TYPES)}")
    cls = BLOCK_TYPES[kind]
    names = {f.name for f in fields(cls)}
    extra = sorted(set(item) - names - {"type"})
    if extra:
        raise ValueError(f"{where}: unknown keys {extra} for {kind!r}; allowed: {sorted(names)}")
    return cls(**{k: v for k, v in item.items() if k != "type"})


def _block_from_string(item: str, where: str) -> Block:
    kind, *args = item.strip().lower().split(":")
    if kind not in BLOCK_TYPES:
        raise ValueError(f"{where} = {item!r}; allowed block types: {sorted(BLOCK_TYPES)}")
    cls = BLOCK_TYPES[kind]
    names = [f.name for f in fields(cls)]
    if len(args) > len(names):
        raise ValueError(f"{where} = {item!r}: {kind} takes at most {len(names)} values {names}")
    try:
        values = [int(a) for a in args]
    except ValueError:
        raise ValueError(f"{where} = {item!r}: values must be integers ({names})") from None
    required = [f.name for f in fields(cls) if f.default is MISSING]
    if len(values) < len(required):
        raise ValueError(f"{where} = {item!r}: {kind} needs values {required}, "
                         f"e.g. '{kind}:{':'.join('8' for _ in required)}'")
    return cls(*values)


def parse_architecture(items: Sequence[Any], where: str = "model.architecture") -> tuple[Block, ...]:
    """Config list (strings like ``"dense:128"`` or dicts with ``type``) → blocks."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or not items:
        raise ValueError(f"{where} = {items!r}; allowed: a non-empty list of blocks")
    out = []
    for j, item in enumerate(items):
        w = f"{where}[{j}]"
        if isinstance(item, str):
            out.append(_block_from_string(item, w))
        elif isinstance(item, Mapping):
            out.append(_block_from_dict(item, w))
        elif isinstance(item, tuple(BLOCK_TYPES.values())):
            out.append(item)
        else:
            raise ValueError(f"{w} = {item!r}; allowed: a string like 'dense:128' or a table")
    return tuple(out)


def mlp(hidden: Sequence[int]) -> tuple[Block, ...]:
    """The ``hidden`` shorthand: every width h becomes dense:h, bias, relu."""
    if isinstance(hidden, (str, bytes)) or not hidden:
        raise ValueError(f"model.hidden = {hidden!r}; allowed: a non-empty list of widths")
    out: list[Block] = []
    for h in hidden:
        out += [Dense(h), Bias(), ReLU()]
    return tuple(out)


def model_from_config(input_shape: Sequence[int], architecture: Sequence[Any] | None = None,
                      hidden: Sequence[int] | None = None) -> ModelDescription:
    """Model section → description: ``architecture`` if given, else the ``hidden`` MLP.

    ``input_shape``: the data's feature shape, (D,) for an MLP or (C, H, W) for a CNN (a
    (H, W) image shape is read as one channel).
    """
    if architecture is not None and hidden is not None:
        raise ValueError("model: give either 'architecture' or 'hidden', not both")
    shape = tuple(int(s) for s in input_shape)
    if architecture is None:
        return ModelDescription((math.prod(shape),), mlp(hidden if hidden is not None else [64]))
    blocks = parse_architecture(architecture)
    if isinstance(blocks[0], Conv2d) and len(shape) == 2:
        shape = (1, *shape)
    elif isinstance(blocks[0], Dense):
        shape = (math.prod(shape),)
    return ModelDescription(shape, blocks)

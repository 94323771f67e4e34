"""Activation checkpointing and spike compression: exact BPTT at lower activation memory.

Used by ``bptt_ckpt``; every piece keeps the gradient bit for bit:

* :func:`block_units`, :func:`saved_bytes`, :func:`balanced_cuts` and :func:`pieces` cut a
  model's chain of top-level blocks into contiguous segments, each ending at a block that
  holds a spiking layer, of near-equal bytes saved for backward;
* :func:`checkpoint_segment` runs a segment under ``torch.utils.checkpoint`` (reentrant): the
  forward keeps only the segment's input, the backward recomputes it, with the buffers as
  they were before its forward (BatchNorm running statistics are updated once per step);
* :class:`SpikeCompression` is a ``saved_tensors_hooks`` pair that stores every saved tensor
  whose values are all 0 or 1 through a codec (:class:`BoolCodec`: 1 byte, :class:`BitCodec`:
  1 bit per element), chained to the hooks already active (so ``SavedTensorMeter`` counts the
  packed bytes). A codec has the interface of spikingjelly's ``memopt.SpikeCompressor``:
  ``compress(x) → (values, *meta)``, ``decompress((values, *meta)) → x``.

A segment's recompute is pure given its input: in multi-step mode every spiking layer runs
all T steps from a zero state in one call, and the random state is restored
(``preserve_rng_state``), so sequence dropout draws the same mask.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

StorageKey = tuple[str, int, int]


class SpikeCodec(Protocol):
    """What :class:`SpikeCompression` needs of a codec (spikingjelly's compressors have it)."""

    def compress(self, x: torch.Tensor) -> Any: ...

    def decompress(self, packed: Any) -> torch.Tensor: ...


# -- segments -----------------------------------------------------------------------------------
def block_units(model: nn.Module, is_neuron: Callable[[nn.Module], bool]) -> list[list[int]]:
    """Indices of the top-level children, grouped into units that each end at a child holding a
    spiking layer (children after the last such one join the last unit). A model that is not
    an ``nn.Sequential`` (its children need not form a chain) is one unit."""
    if not isinstance(model, nn.Sequential):
        return [[]]
    units: list[list[int]] = []
    current: list[int] = []
    for i, child in enumerate(model):
        current.append(i)
        if any(is_neuron(m) for m in child.modules()):
            units.append(current)
            current = []
    if current and units:
        units[-1].extend(current)
    elif current:
        units.append(current)
    return units


def balanced_cuts(weights: list[int], segments: int) -> list[int]:
    """How many units precede each cut: ``segments`` contiguous non-empty groups of near-equal
    total weight (cut ``j`` after the unit where the running sum first reaches
    ``j·W/segments``)."""
    if not 1 <= segments <= len(weights):
        raise ValueError(f"cannot cut {len(weights)} units into {segments} segments")
    total, running, unit = sum(weights), 0, 0
    cuts: list[int] = []
    for j in range(1, segments):
        low = (cuts[-1] if cuts else 0) + 1  # this segment holds a unit at least ...
        high = len(weights) - (segments - j)  # ... and leaves one to each later segment
        while unit < low or (unit < high and running < j * total / segments):
            running += weights[unit]
            unit += 1
        cuts.append(unit)
    return cuts


def saved_bytes(model: nn.Sequential, units: list[list[int]], x: torch.Tensor) -> list[int]:
    """Bytes each unit saves for backward on input ``x`` (parameters not counted): one forward
    whose graph keeps nothing, with the buffers and the random state restored after it."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    counts: list[int] = []

    def count(t: torch.Tensor) -> None:
        if t.untyped_storage().data_ptr() not in params:
            counts[-1] += t.numel() * t.element_size()

    kept = [(b, b.clone()) for b in model.buffers()]
    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices), torch.enable_grad(), \
            torch.autograd.graph.saved_tensors_hooks(count, _same):
        h = x
        for indices in units:
            counts.append(0)
            for i in indices:
                h = model[i](h)
    with torch.no_grad():
        for buffer, value in kept:
            buffer.copy_(value)
    return counts


def pieces(model: nn.Module, units: list[list[int]], cuts: list[int]) -> list[nn.Module]:
    """The model's chain cut after the units counted by ``cuts`` (slices share the modules)."""
    if not cuts:
        return [model]
    assert isinstance(model, nn.Sequential)  # several units: block_units found a chain
    bounds = [0, *cuts, len(units)]
    return [model[units[a][0]:units[b - 1][-1] + 1] for a, b in itertools.pairwise(bounds)]


# -- recomputation --------------------------------------------------------------------------------
class _Segment:
    """What ``checkpoint`` calls: the segment itself the first time (the forward, which updates
    its buffers), and on copies of its buffers as they were before that forward afterwards
    (each recompute), so the recompute sees the same buffers and commits nothing."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.buffers = {name: b.detach().clone() for name, b in module.named_buffers()}
        self.calls = 0

    def __call__(self, x: torch.Tensor, _token: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 1:
            return self.module(x)
        fresh = {name: b.clone() for name, b in self.buffers.items()}
        return torch.func.functional_call(self.module, fresh, (x,))


def checkpoint_segment(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` keeping only ``x`` for backward; the backward recomputes the segment.

    Reentrant checkpointing, so that the recompute's saved tensors go through the active
    saved-tensor hooks (compressed, and counted by ``SavedTensorMeter``); the non-reentrant
    variant keeps them in its own frame, out of reach of both. The empty ``token`` requires
    grad so that a segment whose input needs none (the first) still gets parameter gradients.
    """
    token = torch.empty(0, device=x.device, requires_grad=True)
    out = checkpoint(_Segment(module), x, token, use_reentrant=True, preserve_rng_state=True)
    assert isinstance(out, torch.Tensor)
    return out


# -- spike compression ---------------------------------------------------------------------------
def is_binary(t: torch.Tensor) -> bool:
    """Whether a floating tensor's values are all 0 or 1 (one device→host sync)."""
    if not t.is_floating_point() or t.numel() == 0:
        return False
    return bool(t.eq(t.ne(0)).all())


def _dense_order(t: torch.Tensor) -> list[int]:
    """Dimensions from the outermost to the innermost in memory (``t.permute`` of it is
    contiguous for a dense tensor: channels-last stays channels-last after a round trip)."""
    strides = t.stride()
    return sorted(range(t.dim()), key=lambda d: -strides[d])


class BoolCodec:
    """0/1 values as ``bool`` (1 byte per element); the layout is kept."""

    def compress(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.dtype]:
        return x.ne(0), x.dtype

    def decompress(self, packed: tuple[torch.Tensor, torch.dtype]) -> torch.Tensor:
        values, dtype = packed
        return values.to(dtype)


class BitCodec:
    """0/1 values packed 8 to a byte (1 bit per element), in memory order: the layout is kept."""

    def compress(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.dtype, tuple[int, ...],
                                                  list[int]]:
        order = _dense_order(x)
        bits = x.permute(order).ne(0).reshape(-1).to(torch.uint8)
        bits = nn.functional.pad(bits, (0, -bits.numel() % 8))
        shifts = torch.arange(8, dtype=torch.uint8, device=x.device)
        packed = (bits.view(-1, 8) << shifts).sum(1, dtype=torch.uint8)
        return packed, x.dtype, tuple(x.shape), order

    def decompress(self, packed: tuple[torch.Tensor, torch.dtype, tuple[int, ...],
                                       list[int]]) -> torch.Tensor:
        values, dtype, shape, order = packed
        shifts = torch.arange(8, dtype=torch.uint8, device=values.device)
        bits = ((values.unsqueeze(1) >> shifts) & 1).reshape(-1)[: torch.Size(shape).numel()]
        inverse = sorted(range(len(order)), key=order.__getitem__)
        return bits.to(dtype).reshape([shape[d] for d in order]).permute(inverse)


class _Packed:
    """A compressed saved tensor: the outer hooks' handle of the codec's values, and the rest
    of the codec's payload."""

    __slots__ = ("stored", "meta", "__weakref__")

    def __init__(self, stored: Any, meta: tuple[Any, ...]) -> None:
        self.stored, self.meta = stored, meta


def _storage_key(t: torch.Tensor) -> StorageKey:
    return (t.device.type, t.device.index or 0, t.untyped_storage().data_ptr())


class SpikeCompression:
    """Saved-tensor hooks that keep 0/1 tensors through ``codec``; ``active()`` enters them.

    Every other tensor, and those of ``exclude`` (the model's parameters and buffers: BN's unit
    scale is all ones), is passed on unchanged. The hooks active when ``active()`` is entered
    see what this stores (the packed values), so nesting inside ``SavedTensorMeter`` measures
    the compressed bytes. One tensor saved twice (a block's input feeding two convolutions) is
    packed once. Enter it around both the forward and the backward: a reentrant checkpoint
    saves its recompute's tensors during the backward.
    """

    def __init__(self, codec: SpikeCodec, exclude: Iterable[torch.Tensor] = ()) -> None:
        self.codec = codec
        self.excluded = {_storage_key(t) for t in exclude if t.untyped_storage().nbytes()}
        self._packed: dict[int, tuple[weakref.ref, int, weakref.ref]] = {}

    def _cached(self, t: torch.Tensor) -> _Packed | None:
        entry = self._packed.get(id(t))
        if entry is None or entry[0]() is not t or entry[1] != t._version:
            return None
        return entry[2]()

    @contextmanager
    def active(self) -> Iterator[None]:
        outer = torch._C._autograd._top_saved_tensors_default_hooks(False)
        outer_pack, outer_unpack = outer if outer is not None else (_same, _same)

        def pack(t: torch.Tensor) -> Any:
            cached = self._cached(t)
            if cached is not None:
                return cached
            if _storage_key(t) in self.excluded or not is_binary(t):
                return outer_pack(t)
            with torch.no_grad():
                values, *meta = self.codec.compress(t)
            packed = _Packed(outer_pack(values), tuple(meta))
            key = id(t)
            self._packed[key] = (weakref.ref(t, lambda _: self._packed.pop(key, None)),
                                 t._version, weakref.ref(packed))
            return packed

        def unpack(p: Any) -> torch.Tensor:
            if not isinstance(p, _Packed):
                return outer_unpack(p)
            with torch.no_grad():
                return self.codec.decompress((outer_unpack(p.stored), *p.meta))

        with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
            yield


def _same(x: Any) -> Any:
    return x

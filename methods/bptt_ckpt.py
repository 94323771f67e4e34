"""bptt_ckpt: BPTT's exact gradient at lower activation memory (checkpointing, spike storage)."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import nn

from benches.cell import Cell

from .base import NULL_TIMER, Complexity, Timer, register_method, step_optimizer
from .bptt import BPTT
from .libraries import SpikingNeuron, get_library
from .recipes import COMMON
from .snn.checkpointing import (
    BitCodec,
    BoolCodec,
    SpikeCodec,
    SpikeCompression,
    balanced_cuts,
    block_units,
    checkpoint_segment,
    is_binary,
    pieces,
    saved_bytes,
)
from .snn.functional import reset_states, set_step_mode
from .snn.layers import LayerFactory
from .snn.loss import sequence_loss

COMPRESS = ("none", "bool", "bit")
"""How tensors of 0/1 values saved for backward are stored: as computed, 1 byte or 1 bit per
element."""
MEMOPT = "spikingjelly.activation_based.memopt"


def is_neuron(module: nn.Module) -> bool:
    """A spiking layer of any library (what segments are balanced by)."""
    return isinstance(module, SpikingNeuron)


@functools.cache
def unit_count(architecture: str) -> int | None:
    """How many segments ``architecture`` can be cut into (its top-level blocks that hold a
    spiking layer); ``None`` when it cannot be built without data (checked at run time)."""
    from .architectures import get_architecture

    arch = get_architecture(architecture)
    try:
        with torch.device("meta"):
            model = arch.build(LayerFactory(get_library("torch"), COMMON.lif()), (3, 32, 32), 10)
    except Exception:  # noqa: BLE001 - a shape it rejects: run time says so instead
        return None
    return len(block_units(model, is_neuron))


@register_method
class BPTTCheckpoint(BPTT):
    """BPTT's forward and gradient (reset spike detached), at lower activation memory. The
    network's top-level chain of blocks is cut into ``segments`` contiguous pieces, each ending
    at a block that holds a spiking layer, of near-equal bytes saved for backward (measured
    once per model and input shape by a forward that keeps nothing). Every piece but the last
    keeps only its input for backward and is recomputed there: each spiking layer runs all T
    steps from a zero state in one call and the random state is restored, so the recompute is
    pure, and BatchNorm statistics are updated once. With ``compress``, tensors saved for
    backward whose values are all 0 or 1 (spikes) are kept as ``bool`` (1 byte) or 8 to a byte
    (1 bit), through a saved-tensors pack/unpack hook. On spikingjelly the pieces go through
    ``memopt.checkpoint_module``, which compresses their spiking inputs itself, and the hook
    uses memopt's compressors; elsewhere through reentrant ``torch.utils.checkpoint``, whose
    recompute saves through the hook too (compressed)."""

    name = "bptt_ckpt"
    description = ("BPTT with activation checkpointing in segments and spikes saved as 1 byte "
                   "or 1 bit (exact BPTT gradient)")
    paper = ("Chen et al. 2016 (gradient checkpointing); spikingjelly 2.0 memopt "
             "(checkpointing, spike compression)")
    paper_url = "https://arxiv.org/abs/1604.06174"
    parameters = {"segments": (2, 1, 4, 8), "compress": COMPRESS}
    complexity = Complexity(memory="L·T", backward="L·T")
    cuda_graph = False
    """Not captured: with ``compress`` every saved tensor is checked for 0/1 values on the host
    (a device→host sync), and capture of the checkpointed step (RNG state stashed per segment,
    recompute inside the backward) has not been verified on a GPU."""
    unsupported = {"compile": "the segments are called one by one under torch.utils.checkpoint, "
                              "bypassing the compiled model forward"}

    @classmethod
    def supports(cls, cell: Cell) -> tuple[bool, str]:
        ok, reason = super().supports(cell)
        if not ok:
            return ok, reason
        params = {**cls.default_params(), **cell.params}
        segments, compress = params["segments"], params["compress"]
        if type(segments) is not int or segments < 1:
            return False, f"bptt_ckpt needs segments ≥ 1, an integer (got {segments!r})"
        if compress not in COMPRESS:
            return False, f"bptt_ckpt compress must be one of {COMPRESS} (got {compress!r})"
        if cell.library == "spikingjelly" and importlib.util.find_spec(MEMOPT) is None:
            return False, f"bptt_ckpt on spikingjelly needs {MEMOPT} (spikingjelly 2.0)"
        units = unit_count(cell.architecture)
        if units is not None and segments > units:
            return False, (f"bptt_ckpt: {cell.architecture} cuts into at most {units} segments "
                           f"(one per top-level block holding a spiking layer), not {segments}")
        return True, ""

    def __init__(self, cell: Cell) -> None:
        super().__init__(cell)
        self._cuts: weakref.WeakKeyDictionary[nn.Module, dict[tuple[Any, ...], list[int]]] = \
            weakref.WeakKeyDictionary()

    # -- pieces ------------------------------------------------------------------------------
    @property
    def on_spikingjelly(self) -> bool:
        return self.cell.library == "spikingjelly"

    def codec(self) -> SpikeCodec | None:
        """How 0/1 tensors are stored (``None``: as computed): spikingjelly's own compressors
        on spikingjelly, the suite's (same format) elsewhere."""
        kind = self.params["compress"]
        if kind == "none":
            return None
        if self.on_spikingjelly:
            from spikingjelly.activation_based import memopt

            return memopt.BooleanSpikeCompressor() if kind == "bool" \
                else memopt.BitSpikeCompressor()
        return BoolCodec() if kind == "bool" else BitCodec()

    def compression(self, model: nn.Module) -> Callable[[], AbstractContextManager[Any]]:
        """Enters the spike-compressing saved-tensor hooks (nothing with ``compress="none"``)."""
        codec = self.codec()
        if codec is None:
            return contextlib.nullcontext
        return SpikeCompression(codec, exclude=[*model.parameters(), *model.buffers()]).active

    def checkpointed(self, piece: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """``piece(x)``, recomputed in the backward instead of kept."""
        if not self.on_spikingjelly:
            return checkpoint_segment(piece, x)
        from spikingjelly.activation_based import memopt

        codec = self.codec()  # memopt compresses the piece's input itself: if it is spikes
        compressor = codec if codec is not None and is_binary(x) else None
        out = memopt.checkpoint_module(piece, compressor=compressor)(x)
        assert isinstance(out, torch.Tensor)
        return out

    def split(self, model: nn.Module, x: torch.Tensor) -> list[nn.Module]:
        """The model as ``segments`` pieces: its units (:func:`block_units`) grouped by near-equal
        bytes saved for backward, measured once per model, input shape and dtype."""
        segments = self.params["segments"]
        units = block_units(model, is_neuron)
        if segments == 1:
            return [model]
        if segments > len(units):
            raise ValueError(f"bptt_ckpt: the model cuts into at most {len(units)} segments, "
                             f"not {segments}")
        assert isinstance(model, nn.Sequential)  # several units: block_units found a chain
        key = (tuple(x.shape), x.dtype, x.device, segments)
        known = self._cuts.setdefault(model, {})
        if key not in known:
            known[key] = balanced_cuts(saved_bytes(model, units, x), segments)
            reset_states(model)
        return pieces(model, units, known[key])

    def forward(self, model: nn.Module, x_seq: torch.Tensor) -> torch.Tensor:
        """Multi-step forward ``[T, B, ...]`` → ``[T, B, C]`` in checkpointed pieces."""
        T = x_seq.shape[0]
        set_step_mode(model, "m", T)
        reset_states(model)
        h = x_seq.flatten(0, 1)
        parts = self.split(model, h)
        for piece in parts[:-1]:
            h = self.checkpointed(piece, h)
        h = parts[-1](h)  # the last piece's recompute would follow its forward at once
        return h.reshape(T, -1, *h.shape[1:])

    def train_step(
        self, model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
        optimizer: torch.optim.Optimizer | None, timer: Timer = NULL_TIMER,
    ) -> torch.Tensor:
        compression = self.compression(model)  # around the backward too: recomputes save
        with timer("forward"), compression():
            loss = sequence_loss(self.forward(model, x_seq), y, self.recipe)
        with timer("backward"), compression():
            loss.backward()
        step_optimizer(optimizer, timer)
        return loss.detach()

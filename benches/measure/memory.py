"""Memory figures of a cell.

* :class:`SavedTensorMeter` — the deterministic **activation memory**: peak bytes of tensors held
  for backward at any moment, from ``torch.autograd.graph.saved_tensors_hooks``. Tensors sharing
  a storage count once; a storage stops counting when the graph that holds it is freed
  (liveness); model parameters and buffers are excluded.
* :func:`peak_rss_bytes` — peak resident set size of this process (secondary figure on CPU).
* :class:`CudaMemory` — ``max_memory_allocated``/``reserved`` after a reset, minus the baseline.
"""

from __future__ import annotations

import resource
import sys
import weakref
from collections.abc import Iterable

import torch

StorageKey = tuple[str, int, int]
"""A storage: device type, device index, data pointer."""


def _storage_key(t: torch.Tensor) -> StorageKey:
    storage = t.untyped_storage()
    return (t.device.type, t.device.index or 0, storage.data_ptr())


def _byte_span(t: torch.Tensor) -> tuple[int, int]:
    """Bytes ``[start, end)`` of its storage that a tensor (or view) reaches."""
    size = t.element_size()
    start = int(t.storage_offset()) * size
    if t.numel() == 0:
        return start, start
    extent = sum((int(n) - 1) * abs(s) for n, s in zip(t.shape, t.stride(), strict=True)) + 1
    return start, start + extent * size


class _Held:
    """What the autograd graph keeps instead of the tensor; its death releases the bytes.

    It holds a detached alias: holding the saved tensor itself would, for an op's *output*,
    make a reference cycle (tensor → grad_fn → saved variable → holder → tensor) that keeps
    an abandoned graph alive.
    """

    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor


class SavedTensorMeter:
    """Counts live bytes saved for backward while active (a context manager).

    Per storage the counted bytes are the span covered by its live saved views (so a step's
    slice of an input batch counts as that slice, and two views of one tensor count once).
    """

    def __init__(self, exclude: Iterable[torch.Tensor] = ()) -> None:
        self.excluded = {_storage_key(t) for t in exclude if t.untyped_storage().nbytes()}
        self.live: dict[StorageKey, list[tuple[int, int]]] = {}  # storage → live view spans
        self.counted: dict[StorageKey, int] = {}
        self.current = 0
        self.peak = 0
        self.packed = 0
        self._hooks: torch.autograd.graph.saved_tensors_hooks | None = None

    def _recount(self, key: StorageKey) -> None:
        spans = self.live.get(key)
        new = max(e for _, e in spans) - min(s for s, _ in spans) if spans else 0
        self.current += new - self.counted.get(key, 0)
        if spans:
            self.counted[key] = new
        else:
            self.live.pop(key, None)
            self.counted.pop(key, None)
        self.peak = max(self.peak, self.current)

    def _release(self, key: StorageKey, span: tuple[int, int]) -> None:
        spans = self.live.get(key)
        if spans is not None and span in spans:
            spans.remove(span)
            self._recount(key)

    def _pack(self, t: torch.Tensor) -> torch.Tensor | _Held:
        if t.untyped_storage().nbytes() == 0:
            return t
        key = _storage_key(t)
        if key in self.excluded:
            return t
        self.packed += 1
        span = _byte_span(t)
        self.live.setdefault(key, []).append(span)
        self._recount(key)
        held = _Held(t.detach())
        weakref.finalize(held, self._release, key, span)
        return held

    @staticmethod
    def _unpack(packed: torch.Tensor | _Held) -> torch.Tensor:
        return packed.tensor if isinstance(packed, _Held) else packed

    def __enter__(self) -> SavedTensorMeter:
        hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        hooks.__enter__()
        self._hooks = hooks
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._hooks is not None, "__exit__ without __enter__"
        self._hooks.__exit__(*exc)
        self._hooks = None


def peak_rss_bytes() -> int:
    """Peak resident set size of this process in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class CudaMemory:
    """Peak CUDA memory of the timed region, minus what was allocated before it."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.base_allocated = 0
        self.base_reserved = 0

    def start(self) -> None:
        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        self.base_allocated = torch.cuda.memory_allocated(self.device)
        self.base_reserved = torch.cuda.memory_reserved(self.device)

    def summary(self) -> dict[str, int]:
        torch.cuda.synchronize(self.device)
        return {
            "cuda_max_allocated_bytes": torch.cuda.max_memory_allocated(self.device)
            - self.base_allocated,
            "cuda_max_reserved_bytes": torch.cuda.max_memory_reserved(self.device)
            - self.base_reserved,
            "cuda_baseline_bytes": self.base_allocated,
        }

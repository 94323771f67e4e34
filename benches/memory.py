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


def _storage_key(t: torch.Tensor) -> tuple[str, int, int]:
    storage = t.untyped_storage()
    return (t.device.type, t.device.index or 0, storage.data_ptr())


class _Held:
    """What the autograd graph keeps instead of the tensor; its death releases the bytes."""

    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor


class SavedTensorMeter:
    """Counts live bytes saved for backward while active (a context manager)."""

    def __init__(self, exclude: Iterable[torch.Tensor] = ()) -> None:
        self.excluded = {_storage_key(t) for t in exclude if t.untyped_storage().nbytes()}
        self.live: dict[tuple, list[int]] = {}  # key -> [nbytes, holders]
        self.current = 0
        self.peak = 0
        self.packed = 0
        self._hooks = None

    def _release(self, key: tuple) -> None:
        entry = self.live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del self.live[key]
            self.current -= entry[0]

    def _pack(self, t: torch.Tensor):
        nbytes = t.untyped_storage().nbytes()
        if nbytes == 0:
            return t
        key = _storage_key(t)
        if key in self.excluded:
            return t
        self.packed += 1
        entry = self.live.get(key)
        if entry is None:
            self.live[key] = [nbytes, 1]
            self.current += nbytes
            self.peak = max(self.peak, self.current)
        else:
            entry[1] += 1
        held = _Held(t)
        weakref.finalize(held, self._release, key)
        return held

    @staticmethod
    def _unpack(packed):
        return packed.tensor if isinstance(packed, _Held) else packed

    def __enter__(self) -> SavedTensorMeter:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
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

    def summary(self) -> dict:
        torch.cuda.synchronize(self.device)
        return {
            "cuda_max_allocated_bytes": torch.cuda.max_memory_allocated(self.device)
            - self.base_allocated,
            "cuda_max_reserved_bytes": torch.cuda.max_memory_reserved(self.device)
            - self.base_reserved,
            "cuda_baseline_bytes": self.base_allocated,
        }

"""Mini-batches for training and evaluation.

Datasets that are not in-memory tensors are read by ``BENCHES_WORKERS`` worker processes
(default ``min(8, cpu_count // 2)`` on CUDA, 0 on CPU; the train record says how many in
``data_workers``), kept alive across epochs, with pinned memory on CUDA. The number of workers
is an environment variable, not a recipe key, so it does not change a cell's key: it changes how
fast batches arrive, not which samples (each epoch's order and each worker's seeds follow from
the cell's seed alone, as with a loader made per epoch). Random augmentations are drawn in the
training process without workers and in the workers with them, so a dataset with random
augmentation draws differently under another ``BENCHES_WORKERS``: compare runs with the same.

**Several ranks** (``shard = (rank, world)``): each epoch's order is the one a single process
draws, and a rank takes its share as torch's ``DistributedSampler`` does after ``set_epoch``
(:func:`rank_share`: the order padded with its first samples to a multiple of the world size,
then every world-th sample from the rank's position), so the ranks' k-th batches together are
the single process's k-th global batch. The test set is split without padding (rank r takes
samples r, r + world, …), so that every test sample is counted once.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator, Sized
from typing import Any, cast

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler, TensorDataset, get_worker_info
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data._utils.worker import _generate_state

WORKERS_ENV = "BENCHES_WORKERS"
"""Data-loading worker processes per loader (an integer ≥ 0); see :func:`data_workers`."""
PREFETCH_FACTOR = 4
"""Batches each worker loads ahead (only with workers)."""


def data_workers(device: torch.device) -> int:
    """``$BENCHES_WORKERS``, else ``min(8, cpu_count // 2)`` on CUDA and 0 (load in the training
    process) on CPU, where workers would take cores from the measured step."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if value:
        try:
            workers = int(value)
        except ValueError:
            workers = -1
        if workers < 0:
            raise ValueError(f"{WORKERS_ENV} must be an integer ≥ 0, got {value!r}")
        return workers
    if device.type != "cuda":
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return min(8, cpus // 2)


def rank_share(order: list[int], rank: int, world: int, pad: bool) -> list[int]:
    """The samples of ``order`` that rank ``rank`` of ``world`` takes (``pad``: as
    ``DistributedSampler``, padded with the first samples to a multiple of ``world``)."""
    if pad and len(order) % world:
        extra = world - len(order) % world
        order = order + (order * (extra // max(len(order), 1) + 1))[:extra]
    return order[rank::world]


EpochKey = tuple[tuple[int, int], int]
"""``((base_seed, epoch), index)``: a sample of one epoch."""


def _size(data: TorchDataset) -> int:
    """The number of samples (every data set the suite loads is map-style, with a length;
    ``torch.utils.data.Dataset`` itself does not declare ``__len__``)."""
    return len(cast(Sized, data))


class _EpochSampler(Sampler[EpochKey]):
    """Yields ``((base_seed, epoch), index)``: the epoch's order, drawn as a fresh ``DataLoader``
    seeded with the epoch's seed draws it (one int64 for its workers' base seed, then
    ``randperm``), so a loader made once per run gives every epoch the order a per-epoch loader
    gave; ``epoch`` counts the passes, so that workers know when a new one starts."""

    def __init__(self, size: int, shuffle: bool, shard: tuple[int, int] | None = None) -> None:
        self.size, self.shuffle, self.seed, self.passes = size, shuffle, 0, 0
        self.shard = shard

    def __len__(self) -> int:
        if self.shard is None:
            return self.size
        rank, world = self.shard
        return -(-self.size // world) if self.shuffle else len(range(rank, self.size, world))

    def __iter__(self) -> Iterator[EpochKey]:
        self.passes += 1
        generator = torch.Generator().manual_seed(self.seed)
        base_seed = int(torch.empty((), dtype=torch.int64).random_(generator=generator).item())
        order = (torch.randperm(self.size, generator=generator).tolist() if self.shuffle
                 else list(range(self.size)))
        if self.shard is not None:
            order = rank_share(order, *self.shard, pad=self.shuffle)
        token = (base_seed, self.passes)
        for index in order:
            yield token, index


class _EpochSeeded(TorchDataset):
    """The dataset, indexed by ``((base_seed, epoch), index)``. In a worker process the first
    sample of each epoch reseeds ``random``, NumPy and torch exactly as PyTorch seeds a freshly
    started worker, so persistent workers draw the same augmentations a per-epoch loader's
    workers drew (and a resumed run draws what an uninterrupted one did). In the training
    process (no workers) nothing is reseeded: augmentations come from the global torch RNG, as
    before."""

    def __init__(self, data: TorchDataset) -> None:
        self.data = data
        self._token: tuple[int, int] | None = None

    def __len__(self) -> int:
        return _size(self.data)

    def __getitem__(self, key: EpochKey) -> Any:
        token, index = key
        info = get_worker_info()
        if info is not None and token != self._token:
            self._token = token
            base_seed = token[0]
            seed = base_seed + info.id
            random.seed(seed)
            torch.manual_seed(seed)
            np.random.seed(_generate_state(base_seed, info.id))
        return self.data[index]


class Batches:
    """Mini-batches of one dataset, epoch after epoch, from one loader made once.

    ``for x, y in batches.epoch(seed)`` gives the epoch whose order ``seed`` determines.
    In-memory tensor datasets are sliced directly (no per-sample collate); other datasets
    go through one ``DataLoader`` with ``workers`` processes kept alive between epochs
    (``persistent_workers``), pinned batches on CUDA (``pin_memory``) and
    ``PREFETCH_FACTOR`` batches loaded ahead per worker. ``close()`` stops the workers.
    """

    def __init__(self, data: TorchDataset, batch_size: int, shuffle: bool,
                 device: torch.device | None = None, workers: int = 0,
                 shard: tuple[int, int] | None = None, drop_last: bool = False) -> None:
        self.data, self.batch_size, self.shuffle, self.shard = data, batch_size, shuffle, shard
        self.drop_last = drop_last
        self.tensors = isinstance(data, TensorDataset)
        self.workers = 0 if self.tensors else workers
        """Worker processes actually used (0 for in-memory tensors)."""
        self._sampler: _EpochSampler | None = None
        self._loader: DataLoader | None = None
        if not self.tensors:
            self._sampler = _EpochSampler(_size(data), shuffle, shard)
            extra: dict[str, Any] = {"prefetch_factor": PREFETCH_FACTOR} if workers > 0 else {}
            self._loader = DataLoader(
                _EpochSeeded(data), batch_size=batch_size, sampler=self._sampler,
                num_workers=workers, persistent_workers=workers > 0, drop_last=drop_last,
                pin_memory=device is not None and device.type == "cuda",
                # the loader's own base-seed draw must not consume the global torch RNG
                generator=torch.Generator(), **extra,
            )

    def epoch(self, seed: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if isinstance(self.data, TensorDataset):  # self.tensors
            x, y = self.data.tensors
            generator = torch.Generator().manual_seed(seed)
            order = torch.randperm(len(x), generator=generator) if self.shuffle \
                else torch.arange(len(x))
            if self.shard is not None:
                order = torch.tensor(rank_share(order.tolist(), *self.shard, pad=self.shuffle),
                                     dtype=torch.long)
            end = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
            for i in range(0, end, self.batch_size):
                idx = order[i : i + self.batch_size]
                yield x[idx], y[idx]
            return
        if self._sampler is None or self._loader is None:
            raise RuntimeError("Batches.epoch() after close()")
        self._sampler.seed = seed
        yield from self._loader

    def close(self) -> None:
        """Stop persistent workers now (they would stop when the loader is collected)."""
        iterator = getattr(self._loader, "_iterator", None)
        if iterator is not None and hasattr(iterator, "_shutdown_workers"):
            iterator._shutdown_workers()
        self._loader = None

    def __enter__(self) -> Batches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def batches(
    data: TorchDataset,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    workers: int = 0,
    device: torch.device | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of mini-batches (a :class:`Batches` made for it); for several epochs make one
    :class:`Batches` and call its ``epoch(seed)``, so that its workers persist."""
    yield from Batches(data, batch_size, shuffle, device, workers).epoch(seed)

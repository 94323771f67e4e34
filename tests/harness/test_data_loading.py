"""Data loading: one loader per run whose workers persist across epochs, the same batches (order
and augmentation draws) as a loader made per epoch, and the data-wait figures of a train cell."""

from __future__ import annotations

import os

import pytest
import torch
from helpers import make_cell
from torch.utils.data import DataLoader, Dataset, TensorDataset, get_worker_info

from benches.records import read_record, record_path
from benches.worker.cell_process import run_cell
from benches.worker.loading import WORKERS_ENV, Batches, batches, data_workers


class Augmented(Dataset):
    """Map-style: sample ``i`` is ``[i, a random draw (its "augmentation"), worker pid]``."""

    def __len__(self) -> int:
        return 37

    def __getitem__(self, i):
        pid = os.getpid() if get_worker_info() is not None else -1
        return torch.tensor([float(i), torch.rand(()).item(), float(pid)], dtype=torch.float64), i


def _epoch(loader) -> torch.Tensor:
    return torch.cat([x for x, _ in loader])


def _per_epoch_loader(seed: int, workers: int) -> DataLoader:
    """How batches were loaded before: a fresh loader every epoch."""
    return DataLoader(Augmented(), batch_size=8, shuffle=True, num_workers=workers,
                      generator=torch.Generator().manual_seed(seed))


def test_workers_persist_across_epochs_with_the_per_epoch_batches():
    with Batches(Augmented(), 8, True, workers=2) as loader:
        epochs = [_epoch(loader.epoch(seed)) for seed in (3, 4)]
    pids = [set(e[:, 2].long().tolist()) for e in epochs]
    assert len(pids[0]) == 2 and pids[0] == pids[1] and os.getpid() not in pids[0]
    for seed, epoch in zip((3, 4), epochs, strict=True):
        before = _epoch(_per_epoch_loader(seed, workers=2))
        assert torch.equal(epoch[:, :2], before[:, :2])  # same order, same augmentation draws
    assert not torch.equal(epochs[0][:, 0], epochs[1][:, 0])  # the seed sets the order


def test_without_workers_the_order_and_global_rng_use_are_unchanged():
    loader = Batches(Augmented(), 8, True, workers=0)
    torch.manual_seed(5)
    now = [_epoch(loader.epoch(seed)) for seed in (3, 4)]
    after_now = torch.rand(1)
    torch.manual_seed(5)
    before = [_epoch(_per_epoch_loader(seed, workers=0)) for seed in (3, 4)]
    assert torch.equal(torch.rand(1), after_now)  # loading draws augmentations only
    for a, b in zip(now, before, strict=True):
        assert torch.equal(a, b)
    one = _epoch(batches(Augmented(), 8, True, seed=3))  # the one-epoch form
    assert torch.equal(one[:, 0], now[0][:, 0])


def test_tensor_datasets_are_sliced_in_the_seeded_order():
    data = TensorDataset(torch.arange(50), torch.arange(50))
    loader = Batches(data, 16, True, workers=4)
    assert loader.workers == 0  # in memory: no worker processes
    order = torch.cat([x for x, _ in loader.epoch(7)])
    assert torch.equal(order, torch.randperm(50, generator=torch.Generator().manual_seed(7)))
    assert torch.equal(torch.cat([x for x, _ in Batches(data, 16, False).epoch(7)]),
                       torch.arange(50))


def test_worker_count_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert data_workers(torch.device("cpu")) == 0
    cpus = len(os.sched_getaffinity(0))
    assert data_workers(torch.device("cuda")) == min(8, cpus // 2)
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert data_workers(torch.device("cpu")) == 3
    monkeypatch.setenv(WORKERS_ENV, "many")
    with pytest.raises(ValueError, match=WORKERS_ENV):
        data_workers(torch.device("cpu"))


def test_train_record_has_the_data_wait(tmp_path):
    cell = make_cell("bptt", timesteps=2, epochs=1, batch_size=128, augment=())
    run_cell(cell.to_dict(), str(tmp_path))
    record = read_record(record_path(tmp_path, cell))
    assert record["status"] == "ok", record.get("traceback")
    m = record["metrics"]
    assert 0.0 <= m["data_wait_fraction"] <= 1.0
    assert 0.0 < m["data_wait_s"] < m["time_per_iter_s"]  # digits: slicing in memory
    assert m["data_workers"] == 0

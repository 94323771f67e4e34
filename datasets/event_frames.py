"""Event-camera data sets read with spikingjelly: the one-time conversion of an unpacked
archive into spikingjelly's ``events_np/`` folder, integration of an event file into frames,
and the frames cached one ``.npy`` per sample."""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset
from torchvision.transforms.v2 import functional as F

from .base import DatasetUnavailable

SENSOR, SIZE = 128, 48
Integrate = Callable[[Path, int], np.ndarray]


def convert_extracted(folder: Path, create_raw: Callable[[Path, Path], None], name: str,
                      layout: str) -> Path:
    """``folder/events_np``, made once from ``folder/extract`` by spikingjelly's
    ``create_raw_from_extracted`` (into a partial folder, renamed when complete)."""
    events = folder / "events_np"
    if events.is_dir():
        return events
    partial = folder / "events_np.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        create_raw(folder / "extract", partial)
    except (OSError, ValueError, IndexError) as exc:
        raise DatasetUnavailable(
            f"{name}: converting {folder / 'extract'} failed ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())}); expected {layout}") from None
    os.replace(partial, events)
    return events


def integrate_file(events_file: Path, timesteps: int, name: str) -> np.ndarray:
    """Frames ``[T, 2, 48, 48]`` (float32) from one spikingjelly ``.npz`` event file of the
    128×128 sensor: spikingjelly's ``integrate_events_by_fixed_frames_number`` (split by event
    number), resized antialiased (each value the mean count over the pixels it covers)."""
    from spikingjelly.datasets.utils import integrate_events_by_fixed_frames_number

    try:
        with np.load(events_file) as z:
            events = {k: z[k] for k in ("t", "x", "y", "p")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetUnavailable(
            f"{name}: unreadable event file {events_file} ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())}); expected .npz with t, x, y, p") from None
    frames = integrate_events_by_fixed_frames_number(events, "number", timesteps, SENSOR, SENSOR)
    return F.resize(torch.from_numpy(frames).float(), [SIZE, SIZE], antialias=True).numpy()


class FrameFiles(TorchDataset):
    """Samples ``(frames [T, 2, 48, 48], label)`` read from the cache (or integrated)."""

    def __init__(self, items: list[tuple[Path, Path | None, int]], timesteps: int,
                 integrate: Integrate,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        self.items, self.timesteps, self.transform = items, timesteps, transform
        self.integrate = integrate

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        events_file, cached, label = self.items[index]
        if cached is not None and cached.is_file():
            frames = np.load(cached)
        else:
            frames = self.integrate(events_file, self.timesteps)
        x = torch.from_numpy(frames)
        return (self.transform(x) if self.transform else x), label


def cache_frames(items: list[tuple[Path, Path | None, int]], timesteps: int,
                 integrate: Integrate) -> None:
    """Integrate every item whose cached file is missing (in parallel; each written under a
    temporary name, then renamed), so integration never counts as training time."""
    def one(events_file: Path, cached: Path) -> None:
        tmp = cached.with_name(f".{cached.stem}.{os.getpid()}.npy")
        np.save(tmp, integrate(events_file, timesteps))
        os.replace(tmp, cached)

    todo = [(f, c) for f, c, _ in items if c is not None and not c.is_file()]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(lambda fc: one(*fc), todo))

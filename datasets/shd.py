"""Spiking Heidelberg Digits (Cramer et al. 2020), read with spikingjelly, binned to T steps.

Files: the HDF5 release, unzipped, in spikingjelly's layout ``ROOT/shd/events_h5/shd_train.h5``
and ``shd_test.h5`` (each: ``spikes/times`` in seconds and ``spikes/units`` in 0..699, ragged
per sample, and ``labels``; 20 classes, spoken digits 0–9 in English and German).
``BENCHES_DOWNLOAD=1`` lets spikingjelly download and unpack them when nothing is there.

Events are read with spikingjelly's ``SpikingHeidelbergDigits(data_type="event")``. Binning:
T equal time bins over ``[0, t_max]``, where ``t_max`` is the latest spike of the training file
(so every spike of every training sample falls in a bin; a later test spike joins the last
bin); each bin counts the spikes per input channel: samples ``[T, 700]``, float32. The binned
tensors are kept in memory per T.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from .base import DataRoot, Dataset, DatasetUnavailable, Splits, register_dataset, resolve_root
from .cifar import download_requested

CHANNELS, CLASSES = 700, 20
FILES = ("shd_train.h5", "shd_test.h5")


def read_events(folder: Path, train: bool) -> tuple[list[dict], np.ndarray]:
    """Events (dicts with ``t`` and ``x``) and labels of one split, through spikingjelly."""
    from spikingjelly.datasets.shd import SpikingHeidelbergDigits

    try:
        data = SpikingHeidelbergDigits(str(folder), train=train, data_type="event")
        samples = [data[i] for i in range(len(data))]
    except (OSError, KeyError, ValueError) as exc:
        raise DatasetUnavailable(
            f"shd: unreadable {folder / 'events_h5' / FILES[0 if train else 1]} "
            f"({type(exc).__name__}: {' '.join(str(exc).split())}); expected the HDF5 release "
            "with spikes/times, spikes/units and labels") from None
    return [e for e, _ in samples], np.array([int(y) for _, y in samples], dtype=np.int64)


def bin_events(events: list[dict], timesteps: int, t_max: float) -> np.ndarray:
    """Spike counts ``[N, T, 700]`` in T equal bins over ``[0, t_max]`` (later spikes: last)."""
    out = np.zeros((len(events), timesteps, CHANNELS), dtype=np.float32)
    for i, e in enumerate(events):
        t = np.asarray(e["t"], dtype=np.float64)
        b = np.minimum((t / t_max * timesteps).astype(np.int64), timesteps - 1)
        np.add.at(out[i], (b, np.asarray(e["x"], dtype=np.int64)), 1.0)
    return out


@lru_cache(maxsize=2)
def _events(folder: str) -> tuple:
    train = read_events(Path(folder), True)
    test = read_events(Path(folder), False)
    t_max = max((float(np.max(e["t"])) for e in train[0] if len(e["t"])), default=1.0)
    return train, test, t_max


@register_dataset
class SHD(Dataset):
    name = "shd"
    description = ("Spiking Heidelberg Digits: spoken digits as spike trains of 700 cochlear "
                   "channels, 20 classes (HDF5 release, read with spikingjelly)")
    num_classes = CLASSES
    in_shape = (CHANNELS,)
    encoding = "frames"
    modality = "spike trains"
    time_semantics = "T equal time bins of the recording (spike counts per channel)"
    default_architecture = "fc_seq"
    recipe_defaults = {"augment": ()}
    layout = "ROOT/shd/events_h5/shd_train.h5 and shd_test.h5 (the unzipped HDF5 release)"

    @staticmethod
    def folder(root: DataRoot = None) -> Path:
        """``ROOT/shd``."""
        return resolve_root(root) / "shd"

    def locate(self, root: DataRoot = None) -> tuple[bool, str]:
        raw = self.folder(root) / "events_h5"
        missing = [f for f in FILES if not (raw / f).is_file()]
        if missing:
            return False, f"{raw} (no {', '.join(missing)})" if raw.is_dir() else str(raw)
        return True, f"{raw} (2 HDF5 files)"

    def check(self, root: DataRoot = None) -> None:
        if download_requested() and not self.locate(root)[0]:
            try:
                from spikingjelly.datasets.shd import SpikingHeidelbergDigits

                self.folder(root).mkdir(parents=True, exist_ok=True)
                SpikingHeidelbergDigits(str(self.folder(root)), train=True, data_type="event")
            except Exception as exc:  # noqa: BLE001 - network or archive errors
                raise DatasetUnavailable(
                    f"{self.name}: download into {self.folder(root)} failed "
                    f"({type(exc).__name__}: {' '.join(str(exc).split())}); expected "
                    f"{self.layout}") from None
        super().check(root)

    def splits(self, timesteps: int, augment: tuple[str, ...] = (),
               root: DataRoot = None) -> Splits:
        self.check(root)
        (ev_tr, y_tr), (ev_te, y_te), t_max = _events(str(self.folder(root)))
        timesteps = int(timesteps)
        return Splits(
            train=TensorDataset(torch.from_numpy(bin_events(ev_tr, timesteps, t_max)),
                                torch.from_numpy(y_tr)),
            test=TensorDataset(torch.from_numpy(bin_events(ev_te, timesteps, t_max)),
                               torch.from_numpy(y_te)))

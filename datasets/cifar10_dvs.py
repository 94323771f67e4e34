"""CIFAR10-DVS (Li et al. 2017) as T event frames of 2×48×48, read with spikingjelly.

Files under ``ROOT/cifar10_dvs/``, either spikingjelly's converted events
``events_np/<class>/cifar10_<class>_<i>.npz`` (keys t, x, y, p) or the unpacked figshare
archives ``extract/<class>/cifar10_<class>_<i>.aedat``, which are converted once into
``events_np/`` with spikingjelly's own reader (``CIFAR10DVS.create_raw_from_extracted``).
``BENCHES_DOWNLOAD=1`` lets spikingjelly download and convert them when nothing is there.

Frames: spikingjelly's ``integrate_events_by_fixed_frames_number`` (split by event number, as
the published code does) on the 128×128 sensor, then resized to 48×48 (torchvision v2, bilinear,
antialiased: each value is the mean count over the pixels it covers). No other normalisation.
They are cached, one ``.npy`` per sample, in ``ROOT/cifar10_dvs/frames_T{T}_48/<class>/`` when
:meth:`splits` first runs (so integration never counts as training time); an unwritable root
falls back to integrating on every read.

Split: per class, files sorted by name (the order of torchvision's DatasetFolder, hence of
spikingjelly's ``split_to_train_test_set(0.9, ..., random_split=False)``); the first 90 %
(rounded up) train, the rest test. Train augmentation by name: ``flip`` (horizontal, the same
for all T frames) and ``roll`` (circular shift by up to ±5 px on each axis).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from torchvision.transforms import v2

from .base import DataRoot, Dataset, DatasetUnavailable, Splits, register_dataset, resolve_root
from .cifar import download_requested
from .event_frames import SIZE, FrameFiles, cache_frames, convert_extracted, integrate_file
from .transforms import RandomRoll

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")
"""Label order: spikingjelly's ``CIFAR10DVS_CLASS_NAMES`` (alphabetical, as the folders)."""
TRAIN_FRACTION = 0.9


def integrate(events_file: Path, timesteps: int) -> np.ndarray:
    """Frames ``[T, 2, 48, 48]`` (float32) from one spikingjelly ``.npz`` event file."""
    return integrate_file(events_file, timesteps, "cifar10_dvs")


@register_dataset
class Cifar10DVS(Dataset):
    name = "cifar10_dvs"
    description = "CIFAR10-DVS event frames, T×2×48×48 (from 128×128), 10 classes, 9:1 split"
    num_classes = 10
    in_shape = (2, SIZE, SIZE)
    encoding = "frames"
    modality = "events"
    time_semantics = "T equal slices of the recording (spikingjelly frames)"
    default_architecture = "vggsnn"
    recipe_defaults = {"augment": ("flip", "roll")}
    augmentations = ("flip", "roll")
    paper_budget = {
        # Rate-based BP's CIFAR10-DVS budget (Tab-ct/rate-based-backpropagation; lr 0.1 and
        # wd 5e-4 there are the CIFAR values, so they stay with each method):
        "epochs": 300,  # experiment/dvs/config/config.py --num_epoch
        "batch_size": 128,  # experiment/dvs/config/config.py --train_batch_size
        "schedule": "cosine",  # --scheduler COSINE: CosineAnnealingLR(T_max=epochs), main.py
        # util/data.py CIFAR10_DVS_AUG (training set): horizontal flip with p = 0.5 and
        # torch.roll by randint(-5, 5) on both axes; --auto_aug and --cutout default to off
        "augment": ("flip", "roll"),
    }
    layout = ("ROOT/cifar10_dvs/events_np/<class>/*.npz (spikingjelly's converted events) or "
              "ROOT/cifar10_dvs/extract/<class>/*.aedat, for the 10 classes airplane … truck")

    @staticmethod
    def folder(root: DataRoot = None) -> Path:
        """``ROOT/cifar10_dvs``."""
        return resolve_root(root) / "cifar10_dvs"

    @staticmethod
    def _scan(base: Path, suffix: str) -> tuple[dict[str, list[str]], list[str]]:
        """Files per class (sorted by name) and the classes with no such file."""
        found = {c: sorted(f for f in os.listdir(base / c) if f.endswith(suffix))
                 for c in CLASSES if (base / c).is_dir()}
        return found, [c for c in CLASSES if not found.get(c)]

    def locate(self, root: DataRoot = None) -> tuple[bool, str]:
        folder = self.folder(root)
        for sub, suffix in (("events_np", ".npz"), ("extract", ".aedat")):
            base = folder / sub
            marker = folder / f"{sub}.building"
            if marker.exists():
                return False, f"{base} (incomplete: unfinished conversion, {marker.name} exists)"
            if base.is_dir():
                found, empty = self._scan(base, suffix)
                if empty:
                    return False, f"{base} (incomplete: no {suffix} for {', '.join(empty)})"
                return True, f"{base} ({sum(map(len, found.values()))} {suffix} files)"
        return False, str(folder)

    def check(self, root: DataRoot = None) -> None:
        folder = self.folder(root)
        nothing = not any((folder / d).exists() for d in ("events_np", "extract"))
        if download_requested() and nothing and not self.locate(root)[0]:
            try:
                from spikingjelly.datasets.cifar10_dvs import CIFAR10DVS

                folder.mkdir(parents=True, exist_ok=True)
                CIFAR10DVS(str(folder), data_type="event")
            except Exception as exc:  # noqa: BLE001 - network, archive or conversion errors
                raise DatasetUnavailable(
                    f"{self.name}: download into {folder} failed ({type(exc).__name__}: "
                    f"{' '.join(str(exc).split())}); expected {self.layout}"
                ) from None
        super().check(root)

    def events_dir(self, root: DataRoot = None) -> Path:
        """``events_np/``, converting the ``.aedat`` files with spikingjelly first if needed."""
        self.check(root)
        from spikingjelly.datasets.cifar10_dvs import CIFAR10DVS

        return convert_extracted(self.folder(root), CIFAR10DVS.create_raw_from_extracted,
                                 self.name, self.layout)

    def file_split(
        self, root: DataRoot = None
    ) -> tuple[list[tuple[Path, int]], list[tuple[Path, int]]]:
        """``(train, test)`` lists of (event file, label): first 90 % of each class train."""
        events = self.events_dir(root)
        found, _ = self._scan(events, ".npz")
        train, test = [], []
        for label, cls in enumerate(CLASSES):
            files = [(events / cls / f, label) for f in found[cls]]
            cut = math.ceil(len(files) * TRAIN_FRACTION)
            train += files[:cut]
            test += files[cut:]
        return train, test

    def _cache_dir(self, root: DataRoot, timesteps: int) -> Path | None:
        """The frames cache for this T, or None if the data root is not writable."""
        cache = self.folder(root) / f"frames_T{timesteps}_{SIZE}"
        try:
            for cls in CLASSES:
                (cache / cls).mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        return cache if os.access(cache / CLASSES[0], os.W_OK) else None

    def splits(self, timesteps: int, augment: tuple[str, ...] = (),
               root: DataRoot = None) -> Splits:
        timesteps = int(timesteps)
        train, test = self.file_split(root)
        cache = self._cache_dir(root, timesteps)

        def items(files: list[tuple[Path, int]]) -> list[tuple[Path, Path | None, int]]:
            return [(f, cache / f.parent.name / f"{f.stem}.npy" if cache else None, y)
                    for f, y in files]

        train_items, test_items = items(train), items(test)
        cache_frames(train_items + test_items, timesteps, integrate)
        steps: list[v2.Transform] = []
        if "flip" in augment:
            steps.append(v2.RandomHorizontalFlip())
        if "roll" in augment:
            steps.append(RandomRoll(5))
        return Splits(
            train=FrameFiles(train_items, timesteps, integrate,
                             v2.Compose(steps) if steps else None),
            test=FrameFiles(test_items, timesteps, integrate),
        )

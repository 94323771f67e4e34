"""CIFAR10-DVS (Li et al. 2017) as T event frames of 2×48×48, read with spikingjelly.

Files under ``ROOT/cifar10_dvs/``, either spikingjelly's converted events
``events_np/<class>/cifar10_<class>_<i>.npz`` (keys t, x, y, p) or the unpacked figshare
archives ``extract/<class>/cifar10_<class>_<i>.aedat``, which are converted once into
``events_np/`` with spikingjelly's own reader (``CIFAR10DVS.create_raw_from_extracted``).
``BENCHES_DOWNLOAD=1`` lets spikingjelly download and convert them when nothing is there.

Frames (:mod:`datasets.event_frames`): integrated by event number on the 128×128 sensor, then
resized to the ``resolution`` option's side (0: 48 px) antialiased (each value the mean count
over the pixels it covers), cached one ``.npy`` per sample in
``ROOT/cifar10_dvs/frames_T{T}_{side}[_{encoding}]/<class>/`` when :meth:`splits` first runs
(so integration never counts as training time); an unwritable root falls back to integrating
on every read.

Options (the recipe keys :meth:`splits` reads):

* ``train_split``: ``standard`` — per class, files sorted by name (lexicographic: _0, _1, _10,
  _100, …; the order of torchvision's DatasetFolder), the first 90 % (rounded up) train, the
  rest test. This is spikingjelly's ``split_to_train_test_set(0.9, ..., random_split=False)``,
  which zhuyaoyu/SNN-online-normalization ``datasets/data.py`` uses. ``first_900`` — the files
  ``cifar10_<class>_0`` … ``_899`` by numeric index train, the others (``_900`` … ``_999``)
  test: pkuxmq/OTTT-SNN ``datasets/cifar10_dvs.py`` and qymeng94/SLTT ``utils/cifar10_dvs.py``
  (``CIFAR10DVS``, ``split_ratio=0.9``: ``np.arange(0, 900)`` train, ``np.arange(900, 1000)``
  test, per class).
* ``normalize``: ``none`` (the frames as encoded; the common track's default, set in
  ``recipe_defaults``) or ``official``: pkuxmq/OTTT-SNN ``train_cifar10dvs.py``'s
  ``Normalize((0.2728, 0.1295), (0.2225, 0.1290))`` per polarity channel, train and test,
  after every other operation (OTTT computed it on its ``pil8`` frames: name ``ottt_dvs``
  too). Rate-BP, SLTT and OS do not normalise the frames.
* ``resolution``: 0 (48 px) or a side of 1–128 px (128: the sensor, no resizing).

Train augmentation by name: ``flip`` (horizontal, the same for all T frames) and ``roll``
(circular shift by up to ±5 px on each axis) — Tab-ct/rate-based-backpropagation
``util/data.py`` ``CIFAR10_DVS_AUG`` (flip with p = 0.5, then ``torch.roll`` by
``random.randint(-5, 5)`` on each axis); and one paper pipeline at most, which also sets the
encoding of the *test* frames, as the official code does (:mod:`datasets.event_frames`):
``ottt_dvs`` (``pil8`` frames, zero-pad 4 and random crop, no flip), ``sltt_dvs`` (``pil8``
frames, nothing random) and ``os_dvs`` (``bilinear`` frames; random resized crop of the
sensor counts, scale 0.7–1, flip, then one of roll ±5 px, rotation ±30°, 16-px cutout).
``os_dvs`` also caches the training files' 128×128 counts (uint16, T·64 KiB per sample).

Not reproduced: the official readers orient the sensor differently (OTTT and SLTT's
``read_bin``: x = 127 − x, y = y; spikingjelly 2's: x = 127 − y, y = 127 − x; polarity
1 − p in both): every sample is transposed and flipped the same way, so a horizontal flip of
one reader's frames is a vertical flip of the other's.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from torchvision.transforms import v2

from .base import DataRoot, Dataset, DatasetUnavailable, Splits, register_dataset, resolve_root
from .cifar import download_requested
from .event_frames import (
    OS_CIFAR10_DVS,
    OTTT_DVS,
    SIZE,
    SLTT_DVS,
    Pipeline,
    convert_extracted,
    frame_side,
    frame_splits,
    integrate_file,
    pipeline_problem,
)
from .transforms import RandomRoll, choice_problem

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")
"""Label order: spikingjelly's ``CIFAR10DVS_CLASS_NAMES`` (alphabetical, as the folders)."""
TRAIN_FRACTION = 0.9
FIRST_TRAIN_INDEX_END = 900
"""``first_900``: files ``_0`` … ``_899`` of each class train (OTTT's and SLTT's CIFAR10DVS)."""
TRAIN_SPLITS = ("standard", "first_900")
NORMALIZATIONS: dict[str, tuple[tuple[float, float], tuple[float, float]] | None] = {
    "none": None,
    "official": ((0.2728, 0.1295), (0.2225, 0.1290)),  # OTTT train_cifar10dvs.py Normalize
}
PIPELINES: dict[str, Pipeline] = {"ottt_dvs": OTTT_DVS, "sltt_dvs": SLTT_DVS,
                                  "os_dvs": OS_CIFAR10_DVS}
_INDEX = re.compile(r"_(\d+)\.npz$")


def integrate(events_file: Path, timesteps: int, side: int = SIZE,
              encoding: str = "counts") -> np.ndarray:
    """Frames ``[T, 2, side, side]`` (float32) from one spikingjelly ``.npz`` event file."""
    return integrate_file(events_file, timesteps, "cifar10_dvs", side, encoding)


def file_index(name: str) -> int:
    """The sample index ``i`` of ``cifar10_<class>_<i>.npz``."""
    match = _INDEX.search(name)
    if match is None:
        raise DatasetUnavailable(f"cifar10_dvs: {name} is not named cifar10_<class>_<i>.npz")
    return int(match.group(1))


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
    recipe_defaults = {"augment": ("flip", "roll"), "normalize": "none"}
    augmentations = ("flip", "roll", *PIPELINES)
    options = ("normalize", "resolution", "train_split")
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
        self, root: DataRoot = None, train_split: str = "standard"
    ) -> tuple[list[tuple[Path, int]], list[tuple[Path, int]]]:
        """``(train, test)`` lists of (event file, label) for the ``train_split`` rule."""
        return self._files(self.events_dir(root), train_split)

    def _files(self, events: Path, train_split: str
               ) -> tuple[list[tuple[Path, int]], list[tuple[Path, int]]]:
        problem = choice_problem(self.name, "train_split", train_split, TRAIN_SPLITS)
        if problem:
            raise ValueError(problem)
        found, _ = self._scan(events, ".npz")
        train, test = [], []
        for label, cls in enumerate(CLASSES):
            files = [(events / cls / f, label) for f in found[cls]]
            if train_split == "standard":
                cut = math.ceil(len(files) * TRAIN_FRACTION)
                train += files[:cut]
                test += files[cut:]
                continue
            files.sort(key=lambda fy: file_index(fy[0].name))
            first = [fy for fy in files if file_index(fy[0].name) < FIRST_TRAIN_INDEX_END]
            if len(first) == len(files):
                raise DatasetUnavailable(
                    f"{self.name}: train_split first_900 needs files numbered "
                    f"{FIRST_TRAIN_INDEX_END} and above for the test set; {cls} has none "
                    f"(in {events / cls})")
            train += first
            test += files[len(first):]
        return train, test

    def option_problem(self, augment: tuple[str, ...], normalize: str = "none",
                       resolution: object = 0, train_split: str = "standard",
                       **options: Any) -> str:
        """Why these pipeline settings do not fit (empty if they do)."""
        return (pipeline_problem(self.name, augment, PIPELINES, normalize,
                                 tuple(NORMALIZATIONS), resolution)
                or choice_problem(self.name, "train_split", train_split, TRAIN_SPLITS))

    def input_shape(self, resolution: int = 0, **options: Any) -> tuple[int, ...]:
        """The frame shape ``(2, side, side)`` at this ``resolution`` option."""
        return (2, frame_side(resolution), frame_side(resolution))

    def splits(self, timesteps: int, augment: tuple[str, ...] = (), root: DataRoot = None,
               normalize: str = "none", resolution: int = 0,
               train_split: str = "standard") -> Splits:
        augment = tuple(augment)
        problem = self.option_problem(augment, normalize, resolution, train_split)
        if problem:
            raise ValueError(problem)
        events = self.events_dir(root)
        train, test = self._files(events, train_split)
        pipeline = next((PIPELINES[a] for a in augment if a in PIPELINES), Pipeline())
        extra: list[v2.Transform] = []
        if "flip" in augment:
            extra.append(v2.RandomHorizontalFlip())
        if "roll" in augment:
            extra.append(RandomRoll(5))
        return frame_splits(events, self.folder(root), train, test, int(timesteps),
                            frame_side(resolution), pipeline, extra, NORMALIZATIONS[normalize],
                            integrate)

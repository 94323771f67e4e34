"""DVS128 Gesture (Amir et al. 2017) as T event frames, read and split with spikingjelly.

Files under ``ROOT/dvs_gesture/``: either spikingjelly's converted samples
``events_np/{train,test}/<label>/*.npz`` (keys t, x, y, p; labels 0–10), or the unpacked IBM
archive ``extract/DvsGesture/`` (``userNN_<lighting>.aedat`` with ``..._labels.csv``,
``trials_to_train.txt``, ``trials_to_test.txt``), which spikingjelly's own reader
(``DVS128Gesture.create_raw_from_extracted``: AEDAT 3.1 parsing, one sample per labelled time
range) converts once into ``events_np/``. ``BENCHES_DOWNLOAD=1`` lets spikingjelly fetch what
it can (the archive itself needs a manual download from IBM).

Split: the dataset's own (users 1–23 train, 24–29 test). Frames (:mod:`datasets.event_frames`):
spikingjelly's ``integrate_events_by_fixed_frames_number`` (split by event number) on the
128×128 sensor, resized to the ``resolution`` option's side (0: 48 px, as for CIFAR10-DVS;
antialiased: each value is the mean count over the pixels it covers), cached one ``.npy`` per
sample in ``ROOT/dvs_gesture/frames_T{T}_{side}[_{encoding}]/``.

Options: ``resolution`` 0 (48 px) or a side of 1–128 px. 128 is the sensor itself, the frames
pkuxmq/OTTT-SNN ``train_dvsgesture.py`` (``datasets/dvs128_gesture.py``, ``get_H_W`` 128×128,
no transform) and qymeng94/SLTT ``train_SLTT.py`` (dvsgesture branch: spikingjelly's
``DVS128Gesture`` frames, no transform) train on. ``normalize``: ``none`` only (no official
code normalises these frames; the common track's value, set in ``recipe_defaults``).

Train augmentation by name: ``os_dvs``, zhuyaoyu/SNN-online-normalization ``datasets/data.py``
dvsgesture branch (random resized crop of the sensor counts, scale 0.7–1, nearest; resize to
the side without antialiasing, as for its test frames; rotation ±20°).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .base import DataRoot, Dataset, Splits, register_dataset, resolve_root
from .event_frames import (
    OS_GESTURE,
    SIZE,
    Pipeline,
    convert_extracted,
    frame_side,
    frame_splits,
    integrate_file,
    pipeline_problem,
)

CLASSES = 11
SPLITS = ("train", "test")
NORMALIZATIONS = ("none",)
PIPELINES: dict[str, Pipeline] = {"os_dvs": OS_GESTURE}


def integrate(events_file: Path, timesteps: int, side: int = SIZE,
              encoding: str = "counts") -> np.ndarray:
    """Frames ``[T, 2, side, side]`` (float32) from one spikingjelly ``.npz`` event file."""
    return integrate_file(events_file, timesteps, "dvs_gesture", side, encoding)


@register_dataset
class DVSGesture(Dataset):
    name = "dvs_gesture"
    description = ("DVS128 Gesture: 11 hand gestures seen by an event camera, T×2×48×48 "
                   "frames (from 128×128), the dataset's user split")
    num_classes = CLASSES
    in_shape = (2, SIZE, SIZE)
    encoding = "frames"
    modality = "events"
    time_semantics = "T slices of the recording with equal event counts (spikingjelly frames)"
    default_architecture = "vggsnn"
    recipe_defaults = {"augment": (), "normalize": "none"}
    augmentations = tuple(PIPELINES)
    options = ("normalize", "resolution")
    layout = ("ROOT/dvs_gesture/events_np/{train,test}/<label>/*.npz (spikingjelly's converted "
              "samples) or ROOT/dvs_gesture/extract/DvsGesture/ (the unpacked IBM archive)")

    @staticmethod
    def folder(root: DataRoot = None) -> Path:
        """``ROOT/dvs_gesture``."""
        return resolve_root(root) / "dvs_gesture"

    def locate(self, root: DataRoot = None) -> tuple[bool, str]:
        folder = self.folder(root)
        events = folder / "events_np"
        if events.is_dir():
            counts = {s: sum(1 for _ in (events / s).glob("*/*.npz")) for s in SPLITS}
            if not all(counts.values()):
                return False, f"{events} (incomplete: {counts})"
            return True, f"{events} ({counts['train']} train, {counts['test']} test samples)"
        extract = folder / "extract" / "DvsGesture"
        needed = ("trials_to_train.txt", "trials_to_test.txt")
        if extract.is_dir():
            missing = [n for n in needed if not (extract / n).is_file()]
            if missing:
                return False, f"{extract} (no {', '.join(missing)})"
            return True, f"{extract} ({sum(1 for _ in extract.glob('*.aedat'))} .aedat files)"
        return False, str(folder)

    def events_dir(self, root: DataRoot = None) -> Path:
        """``events_np/``, converting the ``.aedat`` files with spikingjelly first if needed."""
        self.check(root)
        from spikingjelly.datasets.dvs128_gesture import DVS128Gesture

        return convert_extracted(self.folder(root), DVS128Gesture.create_raw_from_extracted,
                                 self.name, self.layout)

    def file_split(self, root: DataRoot = None) -> dict[str, list[tuple[Path, int]]]:
        """Per split, the (event file, label) pairs, sorted by label then file name."""
        events = self.events_dir(root)
        return {s: [(f, int(f.parent.name)) for f in sorted(
                    (events / s).glob("*/*.npz"), key=lambda p: (int(p.parent.name), p.name))]
                for s in SPLITS}

    def option_problem(self, augment: tuple[str, ...], normalize: str = "none",
                       resolution: object = 0, **options: Any) -> str:
        """Why these pipeline settings do not fit (empty if they do)."""
        return pipeline_problem(self.name, augment, PIPELINES, normalize, NORMALIZATIONS,
                                resolution)

    def input_shape(self, resolution: int = 0, **options: Any) -> tuple[int, ...]:
        """The frame shape ``(2, side, side)`` at this ``resolution`` option."""
        return (2, frame_side(resolution), frame_side(resolution))

    def splits(self, timesteps: int, augment: tuple[str, ...] = (), root: DataRoot = None,
               normalize: str = "none", resolution: int = 0) -> Splits:
        augment = tuple(augment)
        problem = self.option_problem(augment, normalize, resolution)
        if problem:
            raise ValueError(problem)
        files = self.file_split(root)
        pipeline = next((PIPELINES[a] for a in augment if a in PIPELINES), Pipeline())
        return frame_splits(self.events_dir(root), self.folder(root), files["train"],
                            files["test"], int(timesteps), frame_side(resolution), pipeline,
                            [], None, integrate)

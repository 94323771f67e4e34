"""Event-camera data sets read with spikingjelly: the one-time conversion of an unpacked
archive into spikingjelly's ``events_np/`` folder, integration of an event file into frames,
the frames cached one ``.npy`` per sample, and each paper's frame pipeline.

Frames are spikingjelly's ``integrate_events_by_fixed_frames_number`` (split by event number:
⌊N/T⌋ events per frame, the last takes the rest) on the 128×128 sensor, then brought to the
side the ``resolution`` option asks for (0: 48 px) by one of three *encodings*, each the way
an official code turns the counts into the network input:

* ``counts`` (the suite's): resized antialiased, so each value is the mean count over the
  sensor pixels it covers; at 128 px the counts themselves.
* ``pil8`` (pkuxmq/OTTT-SNN ``train_cifar10dvs.py``; qymeng94/SLTT ``train_SLTT.py``, DVSCIFAR10
  branch): each frame through torchvision's ``ToPILImage`` → ``Resize(side)`` → ``ToTensor``
  (``datasets/augmentation.py``, ``utils/augmentation.py``). ``ToPILImage`` casts 255·count to
  uint8, which wraps (count k ≥ 1 becomes (256 − k mod 256) mod 256, so 1 → 255, 2 → 254: a
  near-binary "any event here" map); the two polarity channels make an ``LA`` image, which
  Pillow resizes with premultiplied alpha (python-pillow/Pillow PR #1912, Pillow ≥ 3.3), so
  polarity 0 survives only where polarity 1 has events nearby; ``ToTensor`` divides by 255.
  The published numbers were obtained with this input; it is reproduced as is, with the same
  torchvision and Pillow calls.
* ``bilinear`` (zhuyaoyu/SNN-online-normalization ``datasets/data.py``, ``Resize((48, 48))`` on
  the frame tensor): bilinear without antialiasing (torchvision ≤ 0.16's default for tensors;
  the README asks for PyTorch 2.0).

A *pipeline* (:class:`Pipeline`) pairs an encoding, used for both splits, with the random
operations of the official training transform. Cached frames are stored as uint16 when they
are whole counts that fit (lossless), else float32, and always read back as float32.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset
from torchvision import transforms as v1
from torchvision.transforms import InterpolationMode, v2
from torchvision.transforms.v2 import functional as F

from .base import DatasetUnavailable, Splits
from .transforms import Cutout, RandomRoll, choice_problem

SENSOR, SIZE = 128, 48
ENCODINGS = ("counts", "pil8", "bilinear")
Integrate = Callable[[Path, int], np.ndarray]
IntegrateAt = Callable[[Path, int, int, str], np.ndarray]
"""``(events file, T, side, encoding) -> frames [T, 2, side, side]``."""
Item = tuple[Path, Path | None, int]


@dataclass(frozen=True)
class Pipeline:
    """An official code's frame pipeline: the encoding of both splits and the random operations
    of its training transform (``train_ops(side)``), which start from the encoded frames or,
    with ``from_sensor``, from the 128×128 counts (cropped before resizing)."""

    encoding: str = "counts"
    from_sensor: bool = False
    train_ops: Callable[[int], list[v2.Transform]] = field(default=lambda side: [])


def _ottt_ops(side: int) -> list[v2.Transform]:
    # Padding(4) with 0, then RandomCrop(side, consistent=True): one offset for all frames
    return [v2.RandomCrop(side, padding=4, fill=0)]


def _os_crop(side: int) -> list[v2.Transform]:
    # RandomResizedCrop(128, scale=(0.7, 1.0), NEAREST) of the whole clip, then Resize to side
    return [v2.RandomResizedCrop(SENSOR, scale=(0.7, 1.0), ratio=(3 / 4, 4 / 3),
                                 interpolation=InterpolationMode.NEAREST),
            v2.Resize((side, side), antialias=False)]


def _rotation(degrees: float) -> v2.Transform:
    # torchvision's RandomRotation defaults, as the official code leaves them
    return v2.RandomRotation(degrees, interpolation=InterpolationMode.NEAREST, fill=0)


def _os_cifar10_dvs_ops(side: int) -> list[v2.Transform]:
    # then flip p = 0.5 and function_nda(M=1, N=2): one of roll ±(2N + 1) = ±5 px,
    # rotation ±15N = ±30° (NEAREST, fill 0) and cutout of side 8N = 16 px, drawn uniformly
    return [*_os_crop(side), v2.RandomHorizontalFlip(),
            v2.RandomChoice([RandomRoll(5), _rotation(30), Cutout(16)])]


def _os_gesture_ops(side: int) -> list[v2.Transform]:
    # then RandomRotation(20); its RandomTemporalDelete(T_remain=T) keeps every frame
    return [*_os_crop(side), _rotation(20)]


COUNTS = Pipeline()
"""The suite's frames, no random operation of its own (``flip``/``roll`` add theirs)."""
OTTT_DVS = Pipeline("pil8", train_ops=_ottt_ops)
"""pkuxmq/OTTT-SNN ``train_cifar10dvs.py`` ``transform_train``: ToPILImage, Resize(48),
Padding(4), RandomCrop(48, consistent=True), ToTensor (then its Normalize: the ``normalize``
option ``official``); no flip. Test: the same without Padding and RandomCrop."""
SLTT_DVS = Pipeline("pil8")
"""qymeng94/SLTT ``train_SLTT.py`` DVSCIFAR10 branch: ToPILImage, Resize(48), ToTensor for
train and test alike, no random operation and no normalisation."""
OS_CIFAR10_DVS = Pipeline("bilinear", from_sensor=True, train_ops=_os_cifar10_dvs_ops)
"""zhuyaoyu/SNN-online-normalization ``datasets/data.py`` cifar10dvs ``transform_train``:
RandomResizedCrop(128, scale (0.7, 1.0), NEAREST), Resize((48, 48)), horizontal flip with
p = 0.5, then ``function_nda`` (M = 1, N = 2). Test: Resize((48, 48))."""
OS_GESTURE = Pipeline("bilinear", from_sensor=True, train_ops=_os_gesture_ops)
"""zhuyaoyu/SNN-online-normalization ``datasets/data.py`` dvsgesture ``transform_train``:
RandomResizedCrop(128, scale (0.7, 1.0), NEAREST), Resize((48, 48)), RandomRotation(20),
RandomTemporalDelete(T_remain=T) (a no-op: it keeps T of T frames; the random T_train of 20
frames that ``train.py`` picks is the training loop's, not the data's). Test: Resize."""


def frame_side(resolution: int) -> int:
    """The frame side for the ``resolution`` option (0: the suite's 48 px)."""
    return resolution or SIZE


def resolution_problem(dataset: str, resolution: object) -> str:
    """Empty if ``resolution`` is 0 or a side of 1…128 px, else why not (one line)."""
    if isinstance(resolution, int) and not isinstance(resolution, bool) \
            and 0 <= resolution <= SENSOR:
        return ""
    return (f"{dataset} has no resolution {resolution!r} (known: 0 for {SIZE} px, or a side "
            f"of 1–{SENSOR} px)")


def pipeline_problem(dataset: str, augment: Sequence[str], pipelines: dict[str, Pipeline],
                     normalize: str, normalizations: Sequence[str], resolution: object) -> str:
    """Why these pipeline settings do not fit an event dataset (empty if they do): an unknown
    ``normalize`` or ``resolution``, or more than one pipeline named in ``augment``."""
    named = [a for a in augment if a in pipelines]
    if len(named) > 1:
        return f"{dataset}: augment names more than one frame pipeline ({', '.join(named)})"
    return (choice_problem(dataset, "normalize", normalize, normalizations)
            or resolution_problem(dataset, resolution))


def encode(counts: torch.Tensor, side: int, encoding: str) -> torch.Tensor:
    """Frames ``[T, 2, side, side]`` (float32) from sensor counts ``[T, 2, 128, 128]``."""
    if encoding == "pil8":
        to_image, resize, to_tensor = v1.ToPILImage(), v1.Resize(side), v1.ToTensor()
        return torch.stack([to_tensor(resize(to_image(frame))) for frame in counts])
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown frame encoding {encoding!r} (known: {', '.join(ENCODINGS)})")
    if side == counts.shape[-1]:
        return counts.float()
    return F.resize(counts.float(), [side, side], antialias=encoding == "counts")


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


def integrate_file(events_file: Path, timesteps: int, name: str, side: int = SIZE,
                   encoding: str = "counts") -> np.ndarray:
    """Frames ``[T, 2, side, side]`` (float32) from one spikingjelly ``.npz`` event file of the
    128×128 sensor, integrated by event number and encoded (``counts``, ``pil8``, ``bilinear``)."""
    from spikingjelly.datasets.utils import integrate_events_by_fixed_frames_number

    try:
        with np.load(events_file) as z:
            events = {k: z[k] for k in ("t", "x", "y", "p")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetUnavailable(
            f"{name}: unreadable event file {events_file} ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())}); expected .npz with t, x, y, p") from None
    frames = integrate_events_by_fixed_frames_number(events, "number", timesteps, SENSOR, SENSOR)
    return encode(torch.from_numpy(frames).float(), side, encoding).numpy()


class FrameFiles(TorchDataset):
    """Samples ``(frames [T, 2, H, W] float32, label)`` read from the cache (or integrated)."""

    def __init__(self, items: list[Item], timesteps: int, integrate: Integrate,
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
        x = torch.from_numpy(np.asarray(frames, dtype=np.float32))
        return (self.transform(x) if self.transform else x), label


def compact(frames: np.ndarray) -> np.ndarray:
    """``frames`` as uint16 if they are whole counts in 0…65535 (lossless), else float32."""
    if frames.size and 0 <= frames.min() and frames.max() <= 65535 \
            and np.array_equal(frames, np.rint(frames)):
        return frames.astype(np.uint16)
    return frames.astype(np.float32, copy=False)


def cache_frames(items: list[Item], timesteps: int, integrate: Integrate) -> None:
    """Integrate every item whose cached file is missing (in parallel; each written under a
    temporary name, then renamed), so integration never counts as training time."""
    def one(events_file: Path, cached: Path) -> None:
        tmp = cached.with_name(f".{cached.stem}.{os.getpid()}.npy")
        np.save(tmp, compact(integrate(events_file, timesteps)))
        os.replace(tmp, cached)

    todo = [(f, c) for f, c, _ in items if c is not None and not c.is_file()]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(lambda fc: one(*fc), todo))


def cache_name(timesteps: int, side: int, encoding: str) -> str:
    """``frames_T{T}_{side}``, with ``_{encoding}`` after it for encodings other than counts."""
    return f"frames_T{timesteps}_{side}" + ("" if encoding == "counts" else f"_{encoding}")


def cached_items(files: list[tuple[Path, int]], events: Path, cache: Path) -> list[Item]:
    """(event file, its cached frames or None if ``cache`` is not writable, label): the cache
    mirrors ``events`` (``cache/<relative path>.npy``)."""
    paths = [cache / f.relative_to(events).with_suffix(".npy") for f, _ in files]
    try:
        for parent in {p.parent for p in paths}:
            parent.mkdir(parents=True, exist_ok=True)
        writable = all(os.access(parent, os.W_OK) for parent in {p.parent for p in paths})
    except OSError:
        writable = False
    return [(f, p if writable else None, y) for (f, y), p in zip(files, paths, strict=True)]


def frame_splits(events: Path, folder: Path, train: list[tuple[Path, int]],
                 test: list[tuple[Path, int]], timesteps: int, side: int, pipeline: Pipeline,
                 extra_ops: list[v2.Transform], normalize: tuple[Sequence[float], Sequence[float]]
                 | None, integrate: IntegrateAt) -> Splits:
    """Train and test sets of cached frames: both in the pipeline's encoding at ``side`` px
    (the training set from the sensor counts if the pipeline crops there), the training set
    through the pipeline's random operations, then ``extra_ops``, then both normalised with
    ``(mean, std)`` per polarity channel if given."""
    def at(size: int, encoding: str) -> Integrate:
        return lambda f, t: integrate(f, t, size, encoding)

    encoded = at(side, pipeline.encoding)
    cache = folder / cache_name(timesteps, side, pipeline.encoding)
    train_items, test_items = cached_items(train, events, cache), cached_items(test, events, cache)
    cache_frames(train_items + test_items, timesteps, encoded)
    train_read = encoded
    if pipeline.from_sensor:
        train_read = at(SENSOR, "counts")
        train_items = cached_items(train, events, folder / cache_name(timesteps, SENSOR, "counts"))
        cache_frames(train_items, timesteps, train_read)
    last = [v2.Normalize(list(normalize[0]), list(normalize[1]))] if normalize else []
    train_ops = pipeline.train_ops(side) + extra_ops + last
    return Splits(
        train=FrameFiles(train_items, timesteps, train_read,
                         v2.Compose(train_ops) if train_ops else None),
        test=FrameFiles(test_items, timesteps, encoded, v2.Compose(last) if last else None),
    )

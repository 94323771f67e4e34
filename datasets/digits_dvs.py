"""An event-camera version of scikit-learn's digits, generated offline and deterministically.

The embedded stand-in for CIFAR10-DVS. Each 8×8 digit (same split as ``digits``) is upsampled
2× (bilinear: a 16×16 "sensor") and moved along a small triangular saccade as in N-MNIST
(1 digit pixel right, diagonally down-left, then up, in half-pixel steps of equal duration).
An ideal DVS sees it: every sensor pixel keeps a reference log intensity ``log(I + 0.1)`` and
emits one event each time the current value gets a contrast threshold ``C = 0.2`` away from it
(ON when brighter, OFF when darker), the reference then moving by ``C``. Event times are
interpolated within each step, so the stream is continuous in time. Events are binned into T
equal time bins and summed over 2×2 sensor pixels: frames ``[T, 2, 8, 8]``, channel 0 OFF,
channel 1 ON (spikingjelly's order).

Normalisation: counts × T / s, where s is the standard deviation, over the training set, of
each sample's total event counts; so the time-average of a sample's frames has unit std over
the training set whatever T (a rate, non-negative, zero where nothing happened).
Frames are kept in memory per T (generation takes well under a second).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch.utils.data import TensorDataset

from .base import DataRoot, Dataset, Splits, register_dataset
from .digits import digits_arrays

UPSAMPLE = 2
EPS = 0.1
THRESHOLD = 0.2
SACCADE = ((-1, -1), (1, -1), (-1, 1), (-1, -1))
"""Path vertices ``(dx, dy)`` in sensor pixels (half a digit pixel); the first leg moves right."""


@dataclass(frozen=True)
class Events:
    """An event stream for a batch of images: one entry per event, times in [0, duration]."""

    sample: np.ndarray  # int64, which image
    t: np.ndarray  # float64
    p: np.ndarray  # bool, True = ON (brighter)
    y: np.ndarray  # int64, row on the 8×8 grid
    x: np.ndarray  # int64, column on the 8×8 grid
    duration: int


def saccade_positions(vertices: Sequence[tuple[int, int]] = SACCADE) -> np.ndarray:
    """Integer offsets ``[K + 1, 2]`` visiting the vertices one sensor pixel at a time."""
    pos = [np.asarray(vertices[0], dtype=float)]
    for va, vb in zip(vertices[:-1], vertices[1:], strict=False):
        a, b = np.asarray(va, float), np.asarray(vb, float)
        steps = int(np.abs(b - a).max())
        pos += [a + (b - a) * k / steps for k in range(1, steps + 1)]
    return np.rint(np.array(pos)).astype(int)


def _log_views(images: np.ndarray, positions: np.ndarray) -> Iterator[np.ndarray]:
    """Log intensity of the sensor at each position: yields ``[N, S, S]`` arrays."""
    hi = torch.nn.functional.interpolate(
        torch.from_numpy(images).float()[:, None], scale_factor=UPSAMPLE, mode="bilinear",
        align_corners=False,
    )[:, 0].numpy().clip(0, None)
    size, pad = hi.shape[-1], int(np.abs(positions).max())
    canvas = np.pad(hi, ((0, 0), (pad, pad), (pad, pad)))
    for dx, dy in positions:  # view[y, x] = image[y - dy, x - dx]
        yield np.log(canvas[:, pad - dy:pad - dy + size, pad - dx:pad - dx + size] + EPS)


def saccade_events(images: np.ndarray,
                   vertices: Sequence[tuple[int, int]] = SACCADE) -> Events:
    """The events an ideal DVS reports while ``images`` ``[N, 8, 8]`` (in [0, 1]) move."""
    positions = saccade_positions(vertices)
    views = _log_views(images, positions)
    prev = next(views)
    ref = prev.copy()
    parts = []
    for k, cur in enumerate(views):
        diff = cur - ref
        count = np.floor(np.abs(diff) / THRESHOLD).astype(np.int64)
        where = np.nonzero(count)
        n = count[where]
        sign = np.sign(diff[where])
        ref[where] += sign * n * THRESHOLD
        idx = np.repeat(np.arange(len(n)), n)
        nth = np.arange(len(idx)) - np.repeat(np.cumsum(n) - n, n) + 1  # 1..n per pixel
        level = ref[where][idx] - sign[idx] * (n[idx] - nth) * THRESHOLD
        lo, hi = prev[where][idx], cur[where][idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.clip(np.nan_to_num((level - lo) / (hi - lo), nan=1.0), 0.0, 1.0)
        parts.append((where[0][idx], k + frac, sign[idx] > 0,
                      where[1][idx] // UPSAMPLE, where[2][idx] // UPSAMPLE))
        prev = cur
    sample, t, p, y, x = (np.concatenate(c) for c in zip(*parts, strict=True))
    return Events(sample, t, p, y, x, duration=len(positions) - 1)


def events_to_frames(events: Events, n_samples: int, timesteps: int) -> np.ndarray:
    """Event counts ``[N, T, 2, 8, 8]`` in T equal time bins (float32)."""
    size = 8
    b = np.minimum((events.t * timesteps / events.duration).astype(np.int64), timesteps - 1)
    flat = (((events.sample * timesteps + b) * 2 + events.p) * size + events.y) * size + events.x
    counts = np.bincount(flat, minlength=n_samples * timesteps * 2 * size * size)
    return counts.reshape(n_samples, timesteps, 2, size, size).astype(np.float32)


@lru_cache(maxsize=1)
def _all_events() -> tuple[Events, int, int]:
    x_tr, _, x_te, _ = digits_arrays()
    return saccade_events(np.concatenate([x_tr, x_te])), len(x_tr), len(x_te)


@lru_cache(maxsize=8)
def digits_dvs_arrays(timesteps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``: normalised frames ``[N, T, 2, 8, 8]``, labels."""
    _, y_tr, _, y_te = digits_arrays()
    events, n_tr, n_te = _all_events()
    frames = events_to_frames(events, n_tr + n_te, timesteps)
    scale = float(frames[:n_tr].sum(1).std())
    frames *= timesteps / scale
    return frames[:n_tr], y_tr, frames[n_tr:], y_te


@register_dataset
class DigitsDVS(Dataset):
    name = "digits_dvs"
    description = ("scikit-learn digits through a simulated event camera, T×2×8×8 frames, "
                   "10 classes (embedded, offline)")
    num_classes = 10
    in_shape = (2, 8, 8)
    encoding = "frames"
    modality = "events"
    time_semantics = "T equal time bins of the event stream"
    default_architecture = "convnet_digits"
    recipe_defaults = {"epochs": 10, "batch_size": 64, "lr": 0.05, "augment": ()}

    def splits(self, timesteps: int, augment: tuple[str, ...] = (),
               root: DataRoot = None) -> Splits:
        x_tr, y_tr, x_te, y_te = digits_dvs_arrays(int(timesteps))
        def tensors(x: np.ndarray, y: np.ndarray) -> TensorDataset:
            return TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
        return Splits(train=tensors(x_tr, y_tr), test=tensors(x_te, y_te))

"""The simulated event-camera digits: determinism, polarity, binning, split, speed."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from datasets import digits_dvs as dd
from datasets import get_dataset
from datasets.digits import digits_arrays

ON, OFF = 1, 0


def bright_square() -> np.ndarray:
    """One 8×8 image: a bright square on columns 2..5, rows 2..5, black elsewhere."""
    img = np.zeros((1, 8, 8), np.float32)
    img[0, 2:6, 2:6] = 1.0
    return img


def test_moving_right_gives_on_at_leading_and_off_at_trailing_edge():
    ev = dd.saccade_events(bright_square(), vertices=((0, 0), (2, 0)))  # one digit pixel right
    assert len(ev.t) > 0 and ev.p.any() and (~ev.p).any()
    # the square spans columns 2..5; bilinear upsampling blurs each edge over a column or two
    assert ev.x[ev.p].min() >= 5, "ON events must sit on the right-hand (leading) edge"
    assert ev.x[~ev.p].max() <= 3, "OFF events must sit on the left-hand (trailing) edge"
    assert ev.y.min() >= 1 and ev.y.max() <= 6
    frames = dd.events_to_frames(ev, 1, 1)[0, 0]
    assert frames[ON, :, 5:].sum() == ev.p.sum() and frames[OFF, :, :4].sum() == (~ev.p).sum()
    assert frames[OFF].sum() == frames[ON].sum()  # a translated square: as much dimming as not
    back = dd.saccade_events(bright_square(), vertices=((0, 0), (-2, 0)))  # moving left
    assert back.x[back.p].max() <= 3 and back.x[~back.p].min() >= 4


def test_time_bins_follow_the_path():
    ev = dd.saccade_events(bright_square(), vertices=((0, 0), (2, 0), (0, 0)))  # right, then back
    assert ev.duration == 4 and ev.t.min() >= 0 and ev.t.max() <= 4
    first, second = dd.events_to_frames(ev, 1, 2)[0]
    assert first[ON, :, 5:].sum() > 0 and first[ON, :, :4].sum() == 0
    assert second[OFF, :, 5:].sum() > 0 and second[OFF, :, :4].sum() == 0  # right edge recedes
    assert second[ON, :, :4].sum() > 0  # left edge now leads


def test_closed_path_balances_polarities_per_sensor_pixel():
    """After a closed saccade each sensor pixel is back where it began: |ON - OFF| ≤ 1 each."""
    x_tr = digits_arrays()[0][:50]
    ev = dd.saccade_events(x_tr)
    frames = dd.events_to_frames(ev, len(x_tr), 1)[:, 0]
    assert frames.sum() > 50 * 100
    assert np.abs(frames[:, ON] - frames[:, OFF]).max() <= dd.UPSAMPLE ** 2


def test_binning_conserves_events_and_uses_every_bin():
    x = digits_arrays()[0][:20]
    ev = dd.saccade_events(x)
    totals = [dd.events_to_frames(ev, 20, T).sum(1) for T in (1, 3, 8)]
    assert np.array_equal(totals[0], totals[1]) and np.array_equal(totals[0], totals[2])
    assert (dd.events_to_frames(ev, 20, 8).sum((0, 2, 3, 4)) > 0).all()
    assert dd.saccade_events(np.zeros((2, 8, 8), np.float32)).t.size == 0  # nothing, no events


def test_deterministic():
    x = digits_arrays()[2][:40]
    a, b = dd.saccade_events(x), dd.saccade_events(x.copy())
    for name in ("sample", "t", "p", "y", "x"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    first = dd.digits_dvs_arrays(3)[0].copy()
    dd.digits_dvs_arrays.cache_clear()
    dd._all_events.cache_clear()
    assert np.array_equal(first, dd.digits_dvs_arrays(3)[0])


def test_splits_match_digits_and_shapes():
    ds = get_dataset("digits_dvs")
    assert ds.encoding == "frames" and ds.in_shape == (2, 8, 8)
    assert ds.default_architecture == get_dataset("digits").default_architecture
    splits = ds.splits(5)
    assert isinstance(splits.train, TensorDataset) and isinstance(splits.test, TensorDataset)
    _, y_tr, _, y_te = digits_arrays()
    x, y = splits.train.tensors
    assert x.shape == (len(y_tr), 5, 2, 8, 8) and x.dtype == torch.float32
    assert torch.equal(y, torch.from_numpy(y_tr)) and len(splits.test) == len(y_te) == 450
    assert torch.equal(splits.test.tensors[1], torch.from_numpy(y_te))
    assert ds.encode(x[:7], 5).shape == (5, 7, 2, 8, 8)
    assert ds.locate() == (True, "embedded (no files needed)")


@pytest.mark.parametrize("T", [2, 8])
def test_normalisation_is_a_unit_scale_rate(T):
    x_tr, _, x_te, _ = dd.digits_dvs_arrays(T)
    assert x_tr.min() >= 0 and x_te.min() >= 0
    assert np.isclose(x_tr.mean(1).std(), 1.0, atol=1e-4)  # the same whatever T
    assert 0.05 < (x_tr > 0).mean() < 0.95


def test_generation_is_fast():
    dd.digits_dvs_arrays.cache_clear()
    dd._all_events.cache_clear()
    digits_arrays()
    start = time.perf_counter()
    dd.digits_dvs_arrays(8)
    assert time.perf_counter() - start < 5.0

"""Spiking Heidelberg Digits: small HDF5 files in the release's format, read with spikingjelly,
binned to T steps; missing files are one clear line."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from helpers import make_cell

from datasets import DatasetUnavailable, get_dataset
from datasets import shd as shd_module
from methods import get_method

# (spike times in s, channels, label) per sample
TRAIN = [
    (np.array([0.0, 0.1, 0.5, 0.99, 1.0]), np.array([3, 3, 10, 699, 0]), 4),
    (np.array([0.2, 0.2, 0.7]), np.array([1, 1, 2]), 17),
    (np.array([0.05]), np.array([5]), 0),
]
TEST = [(np.array([0.3, 1.2]), np.array([7, 8]), 19)]


def write_h5(path, samples) -> None:
    """One file of the HDF5 release: ragged spikes/times and spikes/units, labels, extra."""
    with h5py.File(path, "w") as f:
        spikes = f.create_group("spikes")
        times = spikes.create_dataset("times", (len(samples),),
                                      dtype=h5py.vlen_dtype(np.float32))
        units = spikes.create_dataset("units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, x, _) in enumerate(samples):
            times[i], units[i] = t.astype(np.float32), x.astype(np.uint16)
        f.create_dataset("labels", data=np.array([y for *_, y in samples], dtype=np.uint8))
        f.create_group("extra").create_dataset("speaker", data=np.zeros(len(samples), np.uint8))


@pytest.fixture
def root(tmp_path):
    raw = tmp_path / "shd" / "events_h5"
    raw.mkdir(parents=True)
    write_h5(raw / "shd_train.h5", TRAIN)
    write_h5(raw / "shd_test.h5", TEST)
    shd_module._events.cache_clear()
    yield tmp_path
    shd_module._events.cache_clear()


def test_bins_count_every_spike_in_its_channel_and_step(root):
    ds = get_dataset("shd")
    assert ds.locate(root)[0]
    splits = ds.splits(4, root=str(root))
    x0, y0 = splits.train[0]
    assert x0.shape == (4, 700) and int(y0) == 4
    # t_max = 1.0 (latest training spike): bins [0, .25), [.25, .5), [.5, .75), [.75, 1.0]
    assert x0[0, 3] == 2 and x0[2, 10] == 1 and x0[3, 699] == 1 and x0[3, 0] == 1
    assert x0.sum() == 5
    x1, y1 = splits.train[1]
    assert x1[0, 1] == 2 and x1[2, 2] == 1 and int(y1) == 17
    xt, yt = splits.test[0]  # the test spike after t_max joins the last bin
    assert xt[1, 7] == 1 and xt[3, 8] == 1 and int(yt) == 19
    assert len(splits.train) == 3 and len(splits.test) == 1
    assert ds.about()["modality"] == "spike trains"


def test_missing_files_are_one_line(tmp_path):
    ds = get_dataset("shd")
    ok, where = ds.locate(tmp_path)
    assert not ok and "events_h5" in where
    with pytest.raises(DatasetUnavailable) as info:
        ds.check(tmp_path)
    assert "\n" not in str(info.value) and "shd_train.h5" in str(info.value)


def test_a_method_trains_on_the_bins(root):
    splits = get_dataset("shd").splits(4, root=str(root))
    x = torch.stack([splits.train[i][0] for i in range(3)])
    y = torch.stack([splits.train[i][1] for i in range(3)])
    cell = make_cell("bptt", dataset="shd", architecture="fc_seq", timesteps=4, augment=[])
    method = get_method("bptt")(cell)
    model = method.build((700,), 20)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = method.train_step(model, x.transpose(0, 1), y, optimizer)
    assert torch.isfinite(torch.as_tensor(loss))

"""The temporal digits task: one image row per step, T fixed at 8, and the fc_seq network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import BUILTIN_METHODS, make_cell

from datasets import get_dataset
from datasets.digits import digits_arrays
from methods import get_method


def test_each_step_is_one_row_of_the_image():
    ds = get_dataset("digits_seq")
    splits = ds.splits(8)
    x_tr, y_tr, x_te, y_te = digits_arrays()
    assert len(splits.train) == len(x_tr) and len(splits.test) == len(x_te)
    x, y = splits.train[17]
    assert x.shape == (8, 8) and int(y) == int(y_tr[17])
    for t in range(8):  # step t carries row t, nothing else
        assert np.array_equal(x[t].numpy(), x_tr[17][t])
    batch = torch.stack([splits.test[i][0] for i in range(4)])
    seq = ds.encode(batch, 8)
    assert seq.shape == (8, 4, 8)  # time-major
    assert torch.equal(seq[3, 2], torch.from_numpy(x_te[2][3]))


def test_deterministic():
    a, b = get_dataset("digits_seq").splits(8), get_dataset("digits_seq").splits(8)
    assert torch.equal(a.train.tensors[0], b.train.tensors[0])
    assert torch.equal(a.test.tensors[1], b.test.tensors[1])


def test_only_t_8_is_supported():
    ds = get_dataset("digits_seq")
    def cell(t):
        return make_cell("bptt", dataset="digits_seq", architecture="fc_seq", augment=[],
                         timesteps=t)

    ok, _ = ds.supports(cell(8))
    assert ok
    ok, why = ds.supports(cell(4))
    assert not ok and "T must be 8" in why


def test_about_states_modality_and_time():
    about = get_dataset("digits_seq").about()
    assert about["modality"] == "sequence" and "row" in about["time_semantics"]
    assert get_dataset("digits").about()["modality"] == "static image"
    assert get_dataset("digits_dvs").about()["modality"] == "events"


@pytest.mark.parametrize("method", BUILTIN_METHODS)
def test_every_method_trains_a_step_of_fc_seq(method):
    cell = make_cell(method, dataset="digits_seq", architecture="fc_seq", timesteps=8)
    m = get_method(method)(cell)
    model = m.build((8,), 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    ds = get_dataset("digits_seq").splits(8)
    x = torch.stack([ds.train[i][0] for i in range(32)])
    y = torch.stack([ds.train[i][1] for i in range(32)])
    before = [p.detach().clone() for p in model.parameters()]
    loss = m.train_step(model, x.transpose(0, 1), y, optimizer)
    assert torch.isfinite(torch.as_tensor(loss))
    moved = sum(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    assert moved >= 3  # the readout and the hidden layers learn

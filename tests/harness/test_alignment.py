"""Gradient alignment: exact where theory says so, below 1 where methods approximate."""

from __future__ import annotations

import pytest
import torch
from helpers import make_cell

from benches.worker.modes.alignment import compare
from benches.worker.setup import execute


def alignment(name: str, T: int, **params) -> dict:
    cell = make_cell(name, timesteps=T, mode="alignment", params=params, batch_size=32,
                     augment=())
    return execute(cell)


def test_bptt_is_perfectly_aligned_with_itself():
    m = alignment("bptt", 4)
    assert m["grad_cosine"] == pytest.approx(1.0, abs=1e-6)
    assert m["grad_norm_ratio"] == pytest.approx(1.0, abs=1e-5)
    assert set(m["grad_cosine_per_layer"]) == {"0", "1", "3", "4", "8"}  # convs, norms, readout
    assert all(c == pytest.approx(1.0, abs=1e-5) for c in m["grad_cosine_per_layer"].values())


@pytest.mark.parametrize("name", ["ottt_a", "sltt", "rate_m", "rate_s", "bptt_reset"])
def test_one_step_has_no_temporal_gradient_to_miss(name):
    assert alignment(name, 1)["grad_cosine"] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", ["ottt_a", "sltt", "bptt_reset", "os"])
def test_approximate_methods_are_below_one_for_several_steps(name):
    m = alignment(name, 6)
    assert 0.5 < m["grad_cosine"] < 0.9999


def test_sltt_k_gradient_shrinks_with_the_steps_it_skips():
    full, sampled = alignment("sltt", 8), alignment("sltt_k", 8, k=2)
    assert sampled["grad_norm_ratio"] < 0.6 * full["grad_norm_ratio"]


def test_compare_is_the_cosine_and_norm_ratio():
    ref = {"a.weight": torch.tensor([1.0, 0.0]), "a.bias": torch.tensor([0.0]),
           "b.weight": torch.tensor([0.0, 2.0])}
    got = {"a.weight": torch.tensor([1.0, 1.0]), "a.bias": torch.tensor([0.0]),
           "b.weight": torch.tensor([0.0, 4.0])}
    m = compare(got, ref)
    # overall: (1 + 8) / (sqrt(18) · sqrt(5))
    assert m["grad_cosine"] == pytest.approx(9 / (18**0.5 * 5**0.5))
    assert m["grad_cosine_per_layer"]["a"] == pytest.approx(1 / 2**0.5)
    assert m["grad_cosine_per_layer"]["b"] == pytest.approx(1.0)
    assert m["grad_norm_ratio"] == pytest.approx(18**0.5 / 5**0.5)

"""Precise BatchNorm statistics for evaluation (``bn_stats``, benches.worker.modes.precise_bn)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from helpers import make_cell
from torch import nn

from benches.worker.loading import Batches
from benches.worker.modes import precise_bn
from benches.worker.modes.common import build_model, evaluate
from datasets import get_dataset
from methods import get_method


def _setup(method_name: str, bn_stats: str = "precise"):
    torch.manual_seed(0)
    cell = make_cell(method_name, timesteps=8, dataset="digits_seq", architecture="fc_seq",
                     bn_stats=bn_stats)
    method = get_method(method_name)(cell)
    dataset = get_dataset("digits_seq")
    model = build_model(method, dataset, torch.device("cpu"))
    splits = dataset.splits(8)
    return method, dataset, model, splits


def test_common_track_evaluates_with_precise_statistics_and_paper_with_running() -> None:
    for name in ("bptt", "sltt", "rate_s", "os", "ottt_a"):
        method = get_method(name)
        assert method.recipe_for("common").bn_stats == "precise"
        assert method.recipe_for("paper", "cifar10").bn_stats == "running"


def test_per_step_statistics_are_the_equal_mean_over_steps_and_batches() -> None:
    """sltt normalises each step on its own: the first BatchNorm's population mean is the mean,
    over every (batch, step), of that step's batch mean of linear(row t), computed here from
    the weights alone."""
    method, dataset, model, splits = _setup("sltt")
    linear, norm = model[1], model[2]
    assert isinstance(linear, nn.Linear) and isinstance(norm, nn.BatchNorm1d)
    train = Batches(splits.train, 100, True, torch.device("cpu"))  # 1347 → 13 full + 1 of 47
    expected = []
    with torch.no_grad():
        for x, _ in train.epoch(precise_bn.SEED):
            for t in range(8):
                expected.append(linear(x[:, t]).mean(0))
    expected_mean = torch.stack(expected).mean(0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with precise_bn.precise_statistics(method, model, dataset, train) as used:
        assert used == 14
        torch.testing.assert_close(norm.running_mean, expected_mean, rtol=1e-5, atol=1e-6)
        assert not model.training
    # afterwards: the moving averages are back, the model is in training mode again
    assert model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert norm.momentum == 0.1


def test_recomputation_draws_nothing_from_the_global_generators() -> None:
    method, dataset, model, splits = _setup("rate_s")
    train = Batches(splits.train, 64, True, torch.device("cpu"))
    torch.manual_seed(5)
    random.seed(5)
    np.random.seed(5)
    with precise_bn.precise_statistics(method, model, dataset, train):
        pass
    after = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(5)
    random.seed(5)
    np.random.seed(5)
    assert torch.equal(after[0], torch.rand(3))
    assert after[1:] == (random.random(), np.random.rand())


@pytest.mark.parametrize("method_name", ["ottt_a", "os"])
def test_models_without_batchnorm_are_left_alone(method_name: str) -> None:
    """OTTT has no normalisation and OS's OSR keeps its own statistics: nothing runs."""
    method, dataset, model, splits = _setup(method_name)
    train = Batches(splits.train, 64, True, torch.device("cpu"))
    with precise_bn.precise_statistics(method, model, dataset, train) as used:
        assert used == 0


def test_precise_statistics_change_a_per_step_method_s_accuracy_and_running_does_not() -> None:
    """After a few steps of training, evaluation with ``bn_stats = "running"`` uses the moving
    averages (the plain evaluation), while ``"precise"`` evaluates differently."""
    method, dataset, model, splits = _setup("sltt")
    train = Batches(splits.train, 64, True, torch.device("cpu"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for i, (x, y) in enumerate(train.epoch(0)):
        optimizer.zero_grad()
        method.train_step(model, dataset.encode(x, 8), y, optimizer)
        if i == 5:
            break
    test = Batches(splits.test, 64, False, torch.device("cpu"))
    plain = evaluate(method, model, dataset, test, torch.device("cpu"), 64)
    with precise_bn.evaluation_statistics(method, model, dataset, train) as used:
        precise = evaluate(method, model, dataset, test, torch.device("cpu"), 64)
    assert used == 22 and precise != plain
    method.recipe = method.recipe.updated(bn_stats="running")
    with precise_bn.evaluation_statistics(method, model, dataset, train) as used:
        assert used == 0
        assert evaluate(method, model, dataset, test, torch.device("cpu"), 64) == plain

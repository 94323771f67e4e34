"""Every method learns digits: ≥ 90 % test top-1 with the common recipe (seeded)."""

from __future__ import annotations

import pytest
from helpers import BUILTIN_METHODS, make_cell

from benches.worker.setup import execute
from datasets import get_dataset


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTIN_METHODS)
def test_reaches_90_percent_on_digits(name):
    digits = get_dataset("digits")
    cell = make_cell(name, "torch", timesteps=4, seed=0, **digits.recipe_defaults)
    metrics = execute(cell)
    assert metrics["test_top1"] >= 0.90, metrics["test_top1_curve"]
    assert metrics["train_loss_curve"][-1] < metrics["train_loss_curve"][0]
    assert metrics["activation_bytes"] > 0 and metrics["time_per_iter_s"] > 0

"""Training in stages (a recipe's ``stages``: SLTT's ImageNet T = 1, then T = 6)."""

from __future__ import annotations

import pytest
import torch
from helpers import make_cell

import benches.worker.modes.train as train_mode
from benches.worker.setup import execute
from methods.recipes import COMMON

STAGES = [{"epochs": 2, "timesteps": 2, "lr": 0.05, "weight_decay": 1e-4},
          {"epochs": 1, "timesteps": 4, "lr": 0.01, "weight_decay": 0.0}]


def test_each_stage_trains_with_its_own_t_rate_and_decay(monkeypatch, tmp_path):
    seen = []
    original = train_mode.run_stage

    def spy(method, dataset, model, device, data_root=None, checkpoint_dir=None):
        optimizer = train_mode.make_optimizer(model, method.recipe)
        seen.append((method.T, method.recipe.epochs, optimizer.param_groups[0]["lr"],
                     optimizer.param_groups[0]["weight_decay"], method.recipe.stages,
                     str(checkpoint_dir)))
        return original(method, dataset, model, device, data_root, checkpoint_dir)

    monkeypatch.setattr(train_mode, "run_stage", spy)
    cell = make_cell("sltt", timesteps=4, augment=(), epochs=3, batch_size=64, stages=STAGES)
    metrics = execute(cell, checkpoint_dir=tmp_path / "ckpt")
    assert [s[:5] for s in seen] == [(2, 2, 0.05, 1e-4, ()), (4, 1, 0.01, 0.0, ())]
    assert [s[5] for s in seen] == [str(tmp_path / "ckpt" / "stage1"),
                                    str(tmp_path / "ckpt" / "stage2")]
    assert len(metrics["test_top1_curve"]) == 3 and len(metrics["train_loss_curve"]) == 3
    assert [(s["epochs"], s["timesteps"], s["lr"]) for s in metrics["stages"]] == \
        [(2, 2, 0.05), (1, 4, 0.01)]
    assert metrics["test_top1"] == metrics["stages"][-1]["test_top1"] == \
        metrics["test_top1_curve"][-1]
    assert metrics["iterations"] == 3 * 22  # 1347 training digits in batches of 64
    assert metrics["train_time_s"] == pytest.approx(sum(s["train_time_s"]
                                                        for s in metrics["stages"]))


def test_a_resumed_staged_cell_ends_where_the_uninterrupted_one_does(tmp_path):
    """Every stage keeps its last checkpoint until the cell ends, so a rerun in the same folder
    (a resume after the last epoch) restores each stage instead of training it again."""
    torch.set_num_threads(1)
    cell = make_cell("bptt", timesteps=4, augment=(), epochs=3, batch_size=64, stages=STAGES)
    first = execute(cell, checkpoint_dir=tmp_path)
    again = execute(cell, checkpoint_dir=tmp_path)
    assert again["test_top1_curve"] == first["test_top1_curve"]
    assert again["resumed_at_epochs"] == [1]  # the last stage resumed after its only epoch


@pytest.mark.parametrize("stages, message", [
    ([{"timesteps": 2}], "epochs ≥ 1"),
    ([{"epochs": 2, "momentum": 0.5}], "not momentum"),
    ([{"epochs": 2, "timesteps": 0}], "timesteps"),
    ("T1 then T6", "list of tables"),
])
def test_malformed_stages_are_refused(stages, message):
    with pytest.raises(ValueError, match=message):
        COMMON.updated(stages=stages)


def test_an_epochs_override_applies_to_every_stage():
    recipe = COMMON.updated(stages=STAGES).updated(epochs=1)
    assert [s["epochs"] for s in recipe.stages] == [1, 1]

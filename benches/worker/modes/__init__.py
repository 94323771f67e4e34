"""What a cell does, by ``cell.mode``: ``train`` (accuracy and cost), ``efficiency`` (a T sweep
point on fixed-shape input), ``alignment`` (gradient agreement with BPTT), and any mode an
outside package registers (entry-point group ``benches.modes``).

A mode is a :class:`Mode`: a name, a description and ``run(method, dataset, model, device,
data_root, checkpoint_dir)`` returning the record's metrics (a mode that keeps no checkpoints
ignores ``checkpoint_dir``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from benches.registry import Registry

if TYPE_CHECKING:
    import torch
    from torch import nn

    from datasets import Dataset
    from datasets.base import DataRoot
    from methods import Method


class ModeRun(Protocol):
    def __call__(self, method: Method, dataset: Dataset, model: nn.Module,
                 device: torch.device, data_root: DataRoot = None,
                 checkpoint_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Mode:
    """A cell mode: what the cell process does with the built method, dataset and model."""

    name: str
    description: str
    run: ModeRun


MODES: Registry[Mode] = Registry(
    "mode", "benches.modes",
    builtins=("benches.worker.modes.train", "benches.worker.modes.efficiency",
              "benches.worker.modes.alignment"),
)
register_mode = MODES.register
get_mode = MODES.get
list_modes = MODES.names

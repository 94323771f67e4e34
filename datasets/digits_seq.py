"""scikit-learn's digits as a sequence: one image row per time step.

At step t the network sees only row t of the 8×8 image (8 pixel values in [0, 1]), so T = 8
and the class is recoverable only by integrating the rows over time: a method that assigns
credit through time can shape what the membrane keeps of earlier rows; one that drops the
temporal path (or averages the input over time, as rate-based BP's second pass does) cannot.
Same split as ``digits``. Samples are ``[T, 8]``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from benches.cell import Cell

from .base import DataRoot, Dataset, Splits, register_dataset
from .digits import digits_arrays

ROWS = 8


@register_dataset
class DigitsSeq(Dataset):
    name = "digits_seq"
    description = ("scikit-learn digits presented one row per time step (T = 8 steps of 8 "
                   "pixels), 10 classes (embedded, offline)")
    num_classes = 10
    in_shape = (ROWS,)
    encoding = "frames"
    modality = "sequence"
    time_semantics = "one image row per step (T = 8 only)"
    default_architecture = "fc_seq"
    timesteps = ROWS
    recipe_defaults = {"epochs": 20, "batch_size": 64, "lr": 0.05, "augment": ()}

    def supports(self, cell: Cell) -> tuple[bool, str]:
        if cell.timesteps != self.timesteps:
            return False, f"digits_seq presents the {ROWS} image rows one per step: T must be " \
                f"{ROWS}, got {cell.timesteps}"
        return super().supports(cell)

    def splits(self, timesteps: int, augment: tuple[str, ...] = (),
               root: DataRoot = None) -> Splits:
        x_tr, y_tr, x_te, y_te = digits_arrays()

        # [N, 8, 8] images → [N, T=8, 8] row sequences
        def rows(x: np.ndarray, y: np.ndarray) -> TensorDataset:
            return TensorDataset(torch.from_numpy(x).contiguous(), torch.from_numpy(y))

        return Splits(train=rows(x_tr, y_tr), test=rows(x_te, y_te))

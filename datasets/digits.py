"""scikit-learn's handwritten digits (1,797 8×8 images, shipped with scikit-learn: no download).

Fixed stratified split (25 % test, seed 0), pixels scaled to [0, 1] then standardised with the
training set's mean and standard deviation, direct encoding over T steps.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch.utils.data import TensorDataset

from .base import DataRoot, Dataset, Splits, register_dataset

SPLIT_SEED = 0
TEST_FRACTION = 0.25


@lru_cache(maxsize=1)
def digits_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``: images ``[N, 8, 8]`` in [0, 1], labels int64."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(
        images, data.target.astype(np.int64), test_size=TEST_FRACTION, stratify=data.target,
        random_state=SPLIT_SEED,
    )
    return x_tr, y_tr, x_te, y_te


@register_dataset
class Digits(Dataset):
    name = "digits"
    description = "scikit-learn handwritten digits, 8×8, 10 classes (embedded, offline)"
    num_classes = 10
    in_shape = (1, 8, 8)
    encoding = "direct"
    default_architecture = "convnet_digits"
    recipe_defaults = {"epochs": 8, "batch_size": 64, "lr": 0.05, "augment": ()}

    def splits(self, timesteps: int, augment: tuple[str, ...] = (),
               root: DataRoot = None) -> Splits:
        x_tr, y_tr, x_te, y_te = digits_arrays()
        mean, std = float(x_tr.mean()), float(x_tr.std())
        def tensors(x: np.ndarray, y: np.ndarray) -> TensorDataset:
            return TensorDataset(
                torch.from_numpy((x - mean) / std).unsqueeze(1), torch.from_numpy(y)
            )
        return Splits(train=tensors(x_tr, y_tr), test=tensors(x_te, y_te))

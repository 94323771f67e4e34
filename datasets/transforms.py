"""Augmentations that torchvision.transforms.v2 has no exact equivalent for.

* :class:`Cutout` (DeVries & Taylor 2017): one square hole of fixed side whose *centre* is uniform
  over the image, clipped at the borders, filled with 0 (the mean, after normalisation).
  ``v2.RandomErasing`` is not exact: it samples area and aspect ratio and keeps the box inside.
* :class:`RandomRoll`: circular shift of event frames by up to ±``max_shift`` pixels on each
  axis (the CIFAR10-DVS recipe of Deng et al. 2022, TET); ``torch.roll`` on the last two dims.

Both are ``v2.Transform`` subclasses (randomness from ``torch``'s generator), so they compose
with v2 pipelines and act on plain tensors and ``tv_tensors.Image`` alike.
"""

from __future__ import annotations

from typing import Any

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F


class Cutout(v2.Transform):
    """Zero one ``size``×``size`` square centred at a uniformly drawn pixel (clipped)."""

    _transformed_types = (torch.Tensor,)

    def __init__(self, size: int = 16, fill: float = 0.0) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"Cutout size must be ≥ 1, got {size}")
        self.size, self.fill = size, float(fill)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = v2.query_size(flat_inputs)
        cy = int(torch.randint(0, height, ()).item())
        cx = int(torch.randint(0, width, ()).item())
        top, left = max(cy - self.size // 2, 0), max(cx - self.size // 2, 0)
        bottom = min(cy - self.size // 2 + self.size, height)
        right = min(cx - self.size // 2 + self.size, width)
        return {"i": top, "j": left, "h": bottom - top, "w": right - left}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return self._call_kernel(F.erase, inpt, **params, v=torch.tensor(self.fill))


class RandomRoll(v2.Transform):
    """Roll the last two dims by integers drawn uniformly from [-max_shift, max_shift]."""

    _transformed_types = (torch.Tensor,)

    def __init__(self, max_shift: int = 5) -> None:
        super().__init__()
        self.max_shift = max_shift

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        dy, dx = torch.randint(-self.max_shift, self.max_shift + 1, (2,)).tolist()
        return {"shifts": (dy, dx)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        return torch.roll(inpt, shifts=params["shifts"], dims=(-2, -1))

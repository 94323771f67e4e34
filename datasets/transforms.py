"""Augmentations that torchvision.transforms.v2 has no exact equivalent for, and the check of
a dataset's pipeline option values.

* :class:`Cutout` (DeVries & Taylor 2017): one square hole of fixed side whose *centre* is uniform
  over the image, clipped at the borders, filled with a constant. ``v2.RandomErasing`` is not
  exact: it samples area and aspect ratio and keeps the box inside. It is the hole of
  Tab-ct/rate-based-backpropagation ``util/image_augment.py`` ``Cutout(n_holes=1, length=16)``
  (rows and columns ``[c − 8, c + 8)`` clipped, the pixels multiplied by 0) and of
  zhuyaoyu/SNN-online-normalization ``datasets/data.py`` ``MyCutout(length=16)`` on event frames.
* :class:`ToolboxCutout`: the ``Cutout()`` of the ``torchtoolbox`` package (0.1.8,
  ``torchtoolbox/transform/transforms.py``) that pkuxmq/OTTT-SNN ``train_cifar.py``,
  qymeng94/SLTT ``train_SLTT.py`` and zhuyaoyu/SNN-online-normalization ``datasets/data.py`` apply
  to the PIL image: with probability 0.5 one rectangle of area fraction s ~ U(0.02, 0.4) and
  aspect r ~ U(0.4, 2.5) (width ⌊√(s·HW/r)⌋, height ⌊√(s·HW·r)⌋), placed uniformly inside the
  image, filled through ``PIL.Image.paste`` with one integer c drawn from 0…255 (Python's
  ``random.randint``, both ends included). Pillow reads an integer colour of a multi-band image
  as a packed pixel, so the hole of an RGB image is (c, 0, 0): the first band c, the others 0
  (checked with Pillow 13).
* :class:`RandomRoll`: circular shift of event frames by up to ±``max_shift`` pixels on each
  axis (the CIFAR10-DVS recipe of Deng et al. 2022, TET; rate-BP's ``CIFAR10_DVS_AUG`` in
  ``util/data.py``: ``torch.roll`` by ``random.randint(-5, 5)`` on each spatial axis).

All are ``v2.Transform`` subclasses drawing from ``torch``'s generator, so they compose with v2
pipelines, act on plain tensors (any leading dims: one draw for all the frames of a clip) and
``tv_tensors.Image`` alike, and repeat under ``torch.manual_seed``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import PIL.Image
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F


def choice_problem(dataset: str, key: str, value: object, known: Sequence[object]) -> str:
    """Empty if ``value`` is one of ``known``, else one line naming the key and the known
    values (what :meth:`Dataset.supports` returns and :meth:`Dataset.splits` raises)."""
    if value in known:
        return ""
    return f"{dataset} has no {key} {value!r} (known: {', '.join(map(repr, known))})"


class Cutout(v2.Transform):
    """Fill one ``size``×``size`` square centred at a uniformly drawn pixel (clipped)."""

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


class ToolboxCutout(v2.Transform):
    """torchtoolbox's ``Cutout()``: with probability ``p`` one random rectangle filled with
    (c, 0, …, 0), c uniform in 0…255 (c/255 on a float image)."""

    _transformed_types = (torch.Tensor, PIL.Image.Image)

    def __init__(self, p: float = 0.5, scale: tuple[float, float] = (0.02, 0.4),
                 ratio: tuple[float, float] = (0.4, 1 / 0.4)) -> None:
        super().__init__()
        self.p, self.scale, self.ratio = p, scale, ratio

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        height, width = v2.query_size(flat_inputs)
        if not torch.rand(()).item() < self.p:
            return {"apply": False}
        area = torch.empty(()).uniform_(*self.scale).item() * height * width
        aspect = torch.empty(()).uniform_(*self.ratio).item()
        w = min(int(math.sqrt(area / aspect)), width)
        h = min(int(math.sqrt(area * aspect)), height)
        left = int(torch.randint(0, width - w + 1, ()).item())
        top = int(torch.randint(0, height - h + 1, ()).item())
        value = int(torch.randint(0, 256, ()).item())
        return {"apply": True, "i": top, "j": left, "h": h, "w": w, "value": value}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not params["apply"]:
            return inpt
        channels = len(inpt.getbands()) if isinstance(inpt, PIL.Image.Image) else inpt.shape[-3]
        scaled = isinstance(inpt, torch.Tensor) and inpt.is_floating_point()
        fill = torch.zeros(channels, 1, 1)
        fill[0] = params["value"] / 255 if scaled else params["value"]
        box = {k: params[k] for k in ("i", "j", "h", "w")}
        return self._call_kernel(F.erase, inpt, **box, v=fill)


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

"""CIFAR-10 and CIFAR-100 through ``torchvision.datasets`` from the data root.

Files are torchvision's python-pickle layout. They are never downloaded unless the user sets
``BENCHES_DOWNLOAD=1`` (then :meth:`check`, which ``benches run`` calls before any cell, fetches
them into the data root with torchvision, which verifies the archive's MD5). Presence is checked
file by file; the per-file MD5 is not (a damaged file is reported when it fails to load).

Train transforms, each enabled by its name in ``recipe.augment`` (torchvision v2), in this
order: ``crop`` RandomCrop(32, padding=4); ``cutout_torchtoolbox``
(:class:`datasets.transforms.ToolboxCutout` on the PIL image: p = 0.5, a rectangle of 2–40 %
of the area, aspect 0.4–2.5, filled (c, 0, 0) with c uniform in 0…255); ``flip``
RandomHorizontalFlip; ``autoaugment`` AutoAugment(CIFAR10 policy); ToImage/ToDtype to [0, 1];
``cutout_before_normalize`` (:class:`datasets.transforms.Cutout`, one 16-px hole of zeros in
[0, 1], so −mean/std after normalising); Normalize; ``cutout`` (one 16-px hole of zeros after
normalising, i.e. the mean). Test: ToImage/ToDtype/Normalize only.

Where each official code cuts (the facts behind the three Cutout names):

* Tab-ct/rate-based-backpropagation ``util/data.py`` ``load_dataset``: RandomCrop(32, 4), flip,
  ``CIFAR10Policy`` (``--auto_aug``), ToTensor, ``Cutout(n_holes=1, length=16)``
  (``util/image_augment.py``: multiplies a 16×16 square, centre uniform, clipped, by 0;
  ``--cutout``), then Normalize: ``cutout_before_normalize``, on CIFAR-10 and CIFAR-100.
* pkuxmq/OTTT-SNN ``train_cifar.py``, qymeng94/SLTT ``train_SLTT.py`` and
  zhuyaoyu/SNN-online-normalization ``datasets/data.py``: RandomCrop(32, 4), torchtoolbox
  ``Cutout()`` on the PIL image, RandomHorizontalFlip, ToTensor, Normalize:
  ``cutout_torchtoolbox``, on CIFAR-10 and CIFAR-100.
* ``cutout`` (after normalising) is the suite's own form; no official code uses it.

The ``normalize`` option picks the mean and std:

* ``measured`` (default): the per-channel statistics of each training set, CIFAR-10
  (0.4914, 0.4822, 0.4465) / (0.2470, 0.2435, 0.2616), CIFAR-100 (0.5071, 0.4865, 0.4409) /
  (0.2673, 0.2564, 0.2762).
* ``official``: the constants of the official codes for that dataset. CIFAR-10: mean
  (0.4914, 0.4822, 0.4465), std (0.2023, 0.1994, 0.2010) in all four (rate-BP ``util/data.py``,
  OTTT ``train_cifar.py``, SLTT ``train_SLTT.py``, OS ``datasets/data.py``); that std is the
  mean of the per-image stds, not the training set's. CIFAR-100: (0.5071, 0.4867, 0.4408) /
  (0.2675, 0.2565, 0.2761) (rate-BP ``util/data.py``, SLTT ``train_SLTT.py``).
* ``official_cifar10``: the CIFAR-10 constants above on either dataset — OTTT ``train_cifar.py``
  and OS ``datasets/data.py`` build one transform for both and normalise CIFAR-100 with them.

Not reproduced: rate-BP's ``CIFAR10Policy`` (``util/image_augment.py``) fills rotated, sheared
and translated areas with grey (128, 128, 128); ``autoaugment`` (torchvision's policy) fills
with 0.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import ClassVar

import torch
from torchvision import datasets as tvd
from torchvision.transforms import v2

from benches.cell import Cell

from .base import DataRoot, Dataset, DatasetUnavailable, Splits, register_dataset, resolve_root
from .transforms import Cutout, ToolboxCutout, choice_problem

Stats = tuple[tuple[float, float, float], tuple[float, float, float]]
CIFAR10_OFFICIAL: Stats = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
"""Mean and std of all four official codes on CIFAR-10 (see the module docstring)."""

DOWNLOAD_ENV = "BENCHES_DOWNLOAD"


def download_requested() -> bool:
    """Whether the user allowed downloads (``BENCHES_DOWNLOAD=1``); never by default."""
    return os.environ.get(DOWNLOAD_ENV, "").strip().lower() in ("1", "true", "yes")


class _CIFAR10Files(tvd.CIFAR10):
    """torchvision's CIFAR10 checking only that each file exists (MD5s dropped)."""

    train_list = [[name, None] for name, _ in tvd.CIFAR10.train_list]
    test_list = [[name, None] for name, _ in tvd.CIFAR10.test_list]
    meta = {**tvd.CIFAR10.meta, "md5": None}


class _CIFAR100Files(tvd.CIFAR100):
    """torchvision's CIFAR100 checking only that each file exists (MD5s dropped)."""

    train_list = [[name, None] for name, _ in tvd.CIFAR100.train_list]
    test_list = [[name, None] for name, _ in tvd.CIFAR100.test_list]
    meta = {**tvd.CIFAR100.meta, "md5": None}


class _Cifar(Dataset):
    """Shared adapter; subclasses name the torchvision class and the statistics."""

    torchvision_class: ClassVar[type[tvd.CIFAR10]]
    """The torchvision class (with MD5s) used to download; ``files_class`` reads."""
    files_class: ClassVar[type[tvd.CIFAR10]]
    mean: ClassVar[tuple[float, float, float]]
    std: ClassVar[tuple[float, float, float]]
    """The measured statistics of the training set (``normalize = "measured"``)."""
    official: ClassVar[Stats]
    """The official codes' constants for this dataset (``normalize = "official"``)."""
    in_shape = (3, 32, 32)
    encoding = "direct"
    default_architecture = "resnet18"
    augmentations = ("crop", "flip", "autoaugment", "cutout", "cutout_before_normalize",
                     "cutout_torchtoolbox")
    options = ("normalize",)

    @classmethod
    def files(cls) -> list[str]:
        """The file names that must all be present in the dataset's folder."""
        tv = cls.torchvision_class
        return [n for n, _ in tv.train_list + tv.test_list] + [tv.meta["filename"]]

    def locate(self, root: DataRoot = None) -> tuple[bool, str]:
        folder = resolve_root(root) / self.torchvision_class.base_folder
        if not folder.is_dir():
            return False, str(folder)
        missing = [f for f in self.files() if not (folder / f).is_file()]
        if missing:
            return False, f"{folder} (incomplete: missing {', '.join(missing)})"
        return True, str(folder)

    def check(self, root: DataRoot = None) -> None:
        if download_requested() and not self.locate(root)[0]:
            where = resolve_root(root)
            try:
                where.mkdir(parents=True, exist_ok=True)
                self.torchvision_class(str(where), train=False, download=True)
            except (OSError, RuntimeError) as exc:
                raise DatasetUnavailable(
                    f"{self.name}: download into {where} failed ({type(exc).__name__}: {exc}); "
                    f"expected {self.layout}"
                ) from None
        super().check(root)

    def normalizations(self) -> dict[str, Stats]:
        """Mean and std per ``normalize`` value."""
        return {"measured": (self.mean, self.std), "official": self.official,
                "official_cifar10": CIFAR10_OFFICIAL}

    def normalize_problem(self, normalize: str) -> str:
        """Why ``normalize`` is not a value of this dataset (empty if it is)."""
        return choice_problem(self.name, "normalize", normalize, tuple(self.normalizations()))

    def supports(self, cell: Cell) -> tuple[bool, str]:
        ok, why = super().supports(cell)
        if ok and "normalize" in cell.recipe:
            why = self.normalize_problem(cell.recipe["normalize"])
        return not why, why

    def train_transform(self, augment: tuple[str, ...], normalize: str = "measured"
                        ) -> v2.Compose:
        """The training pipeline for the given augmentation names (PIL image in)."""
        steps: list = []
        if "crop" in augment:
            steps.append(v2.RandomCrop(32, padding=4))
        if "cutout_torchtoolbox" in augment:
            steps.append(ToolboxCutout())
        if "flip" in augment:
            steps.append(v2.RandomHorizontalFlip())
        if "autoaugment" in augment:
            steps.append(v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10))
        steps += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
        if "cutout_before_normalize" in augment:
            steps.append(Cutout(16))
        steps += self.test_transform(normalize).transforms[2:]
        if "cutout" in augment:
            steps.append(Cutout(16))
        return v2.Compose(steps)

    def test_transform(self, normalize: str = "measured") -> v2.Compose:
        """To a float tensor in [0, 1], then per-channel normalisation."""
        problem = self.normalize_problem(normalize)
        if problem:
            raise ValueError(problem)
        mean, std = self.normalizations()[normalize]
        return v2.Compose([
            v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std),
            v2.ToPureTensor(),
        ])

    def splits(self, timesteps: int, augment: tuple[str, ...] = (), root: DataRoot = None,
               normalize: str = "measured") -> Splits:
        test_transform = self.test_transform(normalize)  # refuses an unknown value first
        self.check(root)
        base = self.files_class
        where = str(resolve_root(root))
        try:
            train = base(where, train=True,
                         transform=self.train_transform(tuple(augment), normalize))
            test = base(where, train=False, transform=test_transform)
        except (pickle.UnpicklingError, EOFError, KeyError, ValueError, OSError) as exc:
            folder = Path(where) / self.torchvision_class.base_folder
            raise DatasetUnavailable(
                f"{self.name}: files in {folder} are unreadable ({type(exc).__name__}: {exc}); "
                f"expected {self.layout}"
            ) from None
        return Splits(train=train, test=test)


@register_dataset
class Cifar10(_Cifar):
    name = "cifar10"
    description = "CIFAR-10, 32×32 RGB, 10 classes (torchvision files under the data root)"
    num_classes = 10
    torchvision_class = tvd.CIFAR10
    files_class = _CIFAR10Files
    mean = (0.4914, 0.4822, 0.4465)
    std = (0.2470, 0.2435, 0.2616)
    official = CIFAR10_OFFICIAL
    layout = ("ROOT/cifar-10-batches-py/{data_batch_1..data_batch_5,test_batch,batches.meta} "
              f"(torchvision's; {DOWNLOAD_ENV}=1 downloads it)")


@register_dataset
class Cifar100(_Cifar):
    name = "cifar100"
    description = "CIFAR-100, 32×32 RGB, 100 fine classes (torchvision files under the data root)"
    num_classes = 100
    torchvision_class = tvd.CIFAR100
    files_class = _CIFAR100Files
    mean = (0.5071, 0.4865, 0.4409)
    std = (0.2673, 0.2564, 0.2762)
    official = ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761))
    layout = (f"ROOT/cifar-100-python/{{train,test,meta}} (torchvision's; {DOWNLOAD_ENV}=1 "
              "downloads it)")

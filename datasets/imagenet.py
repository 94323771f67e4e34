"""ImageNet-1k (ILSVRC 2012) from the usual ImageFolder tree under the data root.

Layout: ``ROOT/imagenet/{train,val}/<wnid>/*.JPEG``; ``ROOT/{train,val}/<wnid>/`` is accepted
too (``--data-root`` pointing at the ImageNet folder itself). ``val`` must be sorted into class
folders (the flat 50,000-file archive is reported, not guessed). Never downloaded.

``num_classes`` is 1000, the published models' head. Labels are the index of the sorted class
folder, so a subset (e.g. 100 wnids) still loads — its labels are then not the ImageNet-1k
indices; train and val must hold the same class folders.

Train (torchvision v2, by name in ``recipe.augment``): ``crop`` RandomResizedCrop(224) (without
it: Resize(256) + CenterCrop(224)), ``flip`` RandomHorizontalFlip, ``autoaugment``
AutoAugment(IMAGENET policy). Val: Resize(256) + CenterCrop(224). Both: ImageNet mean/std.

The four official codes do exactly ``crop`` + ``flip``: RandomResizedCrop(224) (torchvision's
default scale 0.08–1 and ratio 3/4–4/3), RandomHorizontalFlip, ToTensor, Normalize for
training; Resize(256), CenterCrop(224), ToTensor, Normalize for testing; mean
(0.485, 0.456, 0.406), std (0.229, 0.224, 0.225) — Tab-ct/rate-based-backpropagation
``util/data.py`` (IMAGENET branch), pkuxmq/OTTT-SNN ``train_imagenet.py``, qymeng94/SLTT
``train_SLTT.py`` (imagenet branch), zhuyaoyu/SNN-online-normalization ``datasets/data.py``
(imagenet branch). So nothing here needs a paper-specific name. The ``normalize`` option takes
``measured`` and ``official``, which are the same constants: torchvision's reference ImageNet
training-set statistics, the ones all four codes use.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

from benches.cell import Cell

from .base import DataRoot, Dataset, DatasetUnavailable, Splits, register_dataset, resolve_root
from .transforms import choice_problem

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
NORMALIZATIONS = ("measured", "official")
"""Both mean ``MEAN``/``STD`` (see the module docstring)."""


def _class_dirs(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.is_dir()}


@register_dataset
class ImageNet(Dataset):
    name = "imagenet"
    description = "ImageNet-1k (ILSVRC 2012), 224×224 RGB, 1000 classes (ImageFolder tree)"
    num_classes = 1000
    in_shape = (3, 224, 224)
    encoding = "direct"
    default_architecture = "resnet34"
    recipe_defaults = {"augment": ("crop", "flip")}
    augmentations = ("crop", "flip", "autoaugment")
    options = ("normalize",)
    layout = ("ROOT/imagenet/{train,val}/<wnid>/*.JPEG (or ROOT/{train,val}/<wnid>/*.JPEG; "
              "val sorted into class folders)")

    def _problem(self, folder: Path) -> str | None:
        """Why ``folder`` (holding train/ and val/) is unusable, or None if it looks complete."""
        train, val = folder / "train", folder / "val"
        missing = [p.name + "/" for p in (train, val) if not p.is_dir()]
        if missing:
            return f"missing {' and '.join(missing)}"
        classes, val_classes = _class_dirs(train), _class_dirs(val)
        if not classes:
            return "train/ has no class folders"
        if not val_classes:
            return "val/ has no class folders (sort the flat validation files into <wnid>/)"
        if classes != val_classes:
            diff = sorted(classes ^ val_classes)
            return (f"train/ and val/ class folders differ ({len(diff)}: "
                    f"{', '.join(diff[:3])}{', …' if len(diff) > 3 else ''})")
        if len(classes) > self.num_classes:
            return f"{len(classes)} class folders, more than {self.num_classes}"
        return None

    def _candidates(self, root: DataRoot) -> list[Path]:
        base = resolve_root(root)
        return [base / "imagenet", base]

    def locate(self, root: DataRoot = None) -> tuple[bool, str]:
        candidates = self._candidates(root)
        for folder in candidates:
            if (folder / "train").is_dir() or (folder / "val").is_dir():
                problem = self._problem(folder)
                return (problem is None), (str(folder) if problem is None
                                           else f"{folder} (incomplete: {problem})")
        return False, " or ".join(str(c) for c in candidates)

    def folder(self, root: DataRoot = None) -> Path:
        """The folder holding train/ and val/ (after :meth:`check`)."""
        self.check(root)
        return next(f for f in self._candidates(root) if self._problem(f) is None)

    def supports(self, cell: Cell) -> tuple[bool, str]:
        ok, why = super().supports(cell)
        if ok and "normalize" in cell.recipe:
            why = choice_problem(self.name, "normalize", cell.recipe["normalize"],
                                 NORMALIZATIONS)
        return not why, why

    def train_transform(self, augment: tuple[str, ...]) -> v2.Compose:
        """The training pipeline for the given augmentation names (PIL image in)."""
        steps: list = ([v2.RandomResizedCrop(224)] if "crop" in augment
                       else [v2.Resize(256), v2.CenterCrop(224)])
        if "flip" in augment:
            steps.append(v2.RandomHorizontalFlip())
        if "autoaugment" in augment:
            steps.append(v2.AutoAugment(v2.AutoAugmentPolicy.IMAGENET))
        return v2.Compose(steps + self._to_tensor())

    def test_transform(self) -> v2.Compose:
        """Resize(256), CenterCrop(224), normalise."""
        return v2.Compose([v2.Resize(256), v2.CenterCrop(224), *self._to_tensor()])

    @staticmethod
    def _to_tensor() -> list:
        return [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD),
                v2.ToPureTensor()]

    def splits(self, timesteps: int, augment: tuple[str, ...] = (), root: DataRoot = None,
               normalize: str = "measured") -> Splits:
        problem = choice_problem(self.name, "normalize", normalize, NORMALIZATIONS)
        if problem:
            raise ValueError(problem)
        folder = self.folder(root)
        try:
            train = ImageFolder(str(folder / "train"), self.train_transform(tuple(augment)))
            test = ImageFolder(str(folder / "val"), self.test_transform())
        except FileNotFoundError as exc:  # a class folder without images
            why = " ".join(str(exc).split())
            raise DatasetUnavailable(
                f"{self.name}: incomplete files in {folder} ({why}); expected {self.layout}"
            ) from None
        return Splits(train=train, test=test)

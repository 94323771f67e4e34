"""Dataset interface and registry.

A dataset declares its shape, class count and encoding (``direct``: a static image fed as the
input current at every step; ``frames``: T event frames per sample), says where its files are,
and returns train/test splits as ``torch.utils.data.Dataset`` objects.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeAlias

import torch
from torch.utils.data import Dataset as TorchDataset

from benches.cell import Cell
from benches.registry import Registry

DATA_ROOT_ENV = "BENCHES_DATA_ROOT"
DataRoot: TypeAlias = "str | os.PathLike[str] | None"
"""A data root as the adapters accept it (``None``: the environment or ``./data``)."""


class DatasetUnavailable(RuntimeError):
    """The dataset's files are missing or incomplete; the message is one line for the user."""


@dataclass
class Splits:
    """Train and test sets; ``train`` applies the recipe's augmentation, ``test`` never does."""

    train: TorchDataset
    test: TorchDataset


def resolve_root(root: DataRoot) -> Path:
    """The data root: the argument, else ``$BENCHES_DATA_ROOT``, else ``./data``."""
    return Path(root or os.environ.get(DATA_ROOT_ENV) or "data").expanduser()


class Dataset(ABC):
    """Base class of dataset adapters."""

    name: ClassVar[str]
    description: ClassVar[str]
    num_classes: ClassVar[int]
    in_shape: ClassVar[tuple[int, ...]]
    encoding: ClassVar[str] = "direct"  # "direct" or "frames"
    modality: ClassVar[str] = "static image"
    """What a sample is: ``static image``, ``events`` (an event camera) or ``sequence``."""
    time_semantics: ClassVar[str] = "the same image at every step"
    """What the T steps are (the image repeated, time bins of a recording, a sequence)."""
    default_architecture: ClassVar[str] = ""
    recipe_defaults: ClassVar[dict[str, Any]] = {}
    """Training budget that suits this dataset on the common track (applied under the matrix's
    own settings); the paper track takes each published setup whole
    (``methods/paper_recipes.toml``)."""
    augmentations: ClassVar[tuple[str, ...]] = ()
    """The augmentation names this dataset understands in ``recipe.augment``."""
    options: ClassVar[tuple[str, ...]] = ()
    """The recipe's data-pipeline keys (``normalize``, ``resolution``, ``train_split``) that
    :meth:`splits` takes as keyword arguments; a cell giving another one a value other than
    the common recipe's is refused."""
    timesteps: ClassVar[int | None] = None
    """The dataset's own number of time steps where it fixes one (its samples are sequences of
    that length); a matrix grid that names no ``timesteps`` takes it, as it takes
    ``default_architecture``."""
    layout: ClassVar[str] = ""
    """The on-disk layout expected under the data root (for messages; empty if embedded)."""

    def about(self) -> dict[str, Any]:
        """What a record says of this data set (reports need nothing but the records)."""
        return {"name": self.name, "description": self.description,
                "num_classes": self.num_classes, "in_shape": list(self.in_shape),
                "encoding": self.encoding, "modality": self.modality,
                "time_semantics": self.time_semantics, "embedded": not self.layout}

    def locate(self, root: DataRoot = None) -> tuple[bool, str]:
        """Whether the files are present, and where this looked (or what it uses)."""
        return True, "embedded (no files needed)"

    def check(self, root: DataRoot = None) -> None:
        """Raise :class:`DatasetUnavailable` with one clear line if the files are not usable."""
        ok, where = self.locate(root)
        if not ok:
            raise DatasetUnavailable(
                f"{self.name}: files not found (looked in {where}); expected {self.layout}. "
                f"Pass --data-root DIR or set {DATA_ROOT_ENV}."
            )

    def supports(self, cell: Cell) -> tuple[bool, str]:
        """Whether the cell's settings fit this dataset (e.g. frames need T ≤ frames stored)."""
        unknown = sorted(set(cell.recipe.get("augment", ())) - set(self.augmentations))
        if unknown:
            return False, f"{self.name} has no augmentation {', '.join(unknown)} " \
                f"(has: {', '.join(self.augmentations) or 'none'})"
        given = {k: cell.recipe[k] for k in self.options if k in cell.recipe}
        why = self.option_problem(tuple(cell.recipe.get("augment", ())), **given)
        return not why, why

    def option_problem(self, augment: tuple[str, ...], **options: Any) -> str:
        """Why these augmentations and pipeline ``options`` do not fit together (empty if they
        do); a dataset with ``options`` checks their values here."""
        return ""

    def input_shape(self, **options: Any) -> tuple[int, ...]:
        """The shape of one step's sample under the recipe's data ``options`` (``in_shape``
        unless an option changes it, e.g. an event dataset's ``resolution``)."""
        return self.in_shape

    @abstractmethod
    def splits(
        self, timesteps: int, augment: tuple[str, ...] = (), root: DataRoot = None
    ) -> Splits:
        """The train and test sets (samples ``[C, H, W]`` or, for frames, ``[T, C, H, W]``)."""

    def encode(self, x: torch.Tensor, timesteps: int) -> torch.Tensor:
        """A batch as the method sees it: time-major ``[T, B, C, H, W]``."""
        if self.encoding == "direct":
            return x.unsqueeze(0).expand(timesteps, *x.shape)
        return x.transpose(0, 1)


DATASETS: Registry[type[Dataset]] = Registry(
    "dataset",
    "benches.datasets",
    builtins=("datasets.digits", "datasets.cifar", "datasets.imagenet", "datasets.digits_dvs",
              "datasets.digits_seq", "datasets.shd", "datasets.dvs_gesture",
              "datasets.cifar10_dvs", "datasets.synthetic_cifar",
              "datasets.synthetic_imagenet"),
)
register_dataset = DATASETS.register
list_datasets = DATASETS.names


def get_dataset(name: str) -> Dataset:
    """The dataset registered under ``name`` (an instance)."""
    return DATASETS.get(name)()

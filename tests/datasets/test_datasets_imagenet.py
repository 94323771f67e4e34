"""ImageNet adapter on a tiny ImageFolder tree of JPEGs."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from datasets import DatasetUnavailable, get_dataset
from datasets.imagenet import MEAN, STD

WNIDS = ("n01440764", "n01443537", "n01484850")
RED, BLUE = (200, 20, 20), (20, 20, 200)


def two_halves(width: int = 64, height: int = 32) -> Image.Image:
    """Left half red, right half blue (a 2:1 image, so the crop geometry is checkable)."""
    img = Image.new("RGB", (width, height), RED)
    img.paste(Image.new("RGB", (width // 2, height), BLUE), (width // 2, 0))
    return img


def write_tree(folder, per_class: int = 2) -> None:
    for split in ("train", "val"):
        for c, wnid in enumerate(WNIDS):
            d = folder / split / wnid
            d.mkdir(parents=True)
            for k in range(per_class):
                name = f"{wnid}_{k}.JPEG" if split == "train" else f"ILSVRC2012_val_{c}{k}.JPEG"
                two_halves().save(d / name, quality=100, subsampling=0)


def colour(rgb) -> torch.Tensor:
    """An RGB colour after ToDtype and ImageNet normalisation, as [3, 1, 1]."""
    return ((torch.tensor(rgb) / 255 - torch.tensor(MEAN)) / torch.tensor(STD))[:, None, None]


@pytest.fixture
def root(tmp_path):
    write_tree(tmp_path / "imagenet")
    return tmp_path


def test_val_is_resize_centre_crop_normalise(root):
    ds = get_dataset("imagenet")
    assert ds.locate(root) == (True, str(root / "imagenet"))
    splits = ds.splits(4, (), root)
    assert len(splits.train) == 6 and len(splits.test) == 6
    assert [splits.test[i][1] for i in range(6)] == [0, 0, 1, 1, 2, 2]
    x, _ = splits.test[3]
    assert type(x) is torch.Tensor and x.shape == (3, 224, 224) and x.dtype == torch.float32
    # Resize(256) makes it 512×256; the centre 224 columns straddle the middle: 112 red, 112 blue
    assert torch.allclose(x[:, :, :104], colour(RED).expand(3, 224, 104), atol=0.08)
    assert torch.allclose(x[:, :, 120:], colour(BLUE).expand(3, 224, 104), atol=0.08)


def test_train_crop_and_flip_vary_val_does_not(root):
    ds = get_dataset("imagenet")
    splits = ds.splits(4, ("crop", "flip"), root)
    trains, vals = [], []
    for seed in range(6):
        torch.manual_seed(seed)
        trains.append(splits.train[0][0])
        vals.append(splits.test[0][0])
    assert all(t.shape == (3, 224, 224) for t in trains)
    assert any(not torch.equal(trains[0], t) for t in trains[1:])
    assert all(torch.equal(vals[0], v) for v in vals[1:])
    # without augmentation the train pipeline is the val pipeline
    plain = ds.splits(4, (), root)
    assert torch.equal(plain.train[0][0], plain.test[0][0])


def test_root_itself_may_hold_train_and_val(tmp_path):
    write_tree(tmp_path, per_class=1)
    ds = get_dataset("imagenet")
    assert ds.locate(tmp_path) == (True, str(tmp_path))
    assert len(ds.splits(2, (), tmp_path).test) == 3


def test_missing_is_one_line(tmp_path):
    ds = get_dataset("imagenet")
    ok, where = ds.locate(tmp_path)
    assert not ok and str(tmp_path / "imagenet") in where
    with pytest.raises(DatasetUnavailable) as err:
        ds.check(tmp_path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("imagenet:") and ds.layout in msg


@pytest.mark.parametrize("breakage, expect", [
    ("no_val", "missing val/"),
    ("flat_val", "val/ has no class folders"),
    ("val_lacks_class", "class folders differ (1: n01484850)"),
])
def test_incomplete_tree_is_reported(root, breakage, expect):
    import shutil

    val = root / "imagenet" / "val"
    if breakage == "no_val":
        shutil.rmtree(val)
    elif breakage == "flat_val":
        for f in list(val.rglob("*.JPEG")):
            f.rename(val / f.name)
        for d in WNIDS:
            (val / d).rmdir()
    else:
        shutil.rmtree(val / WNIDS[2])
    ds = get_dataset("imagenet")
    ok, where = ds.locate(root)
    assert not ok and expect in where
    with pytest.raises(DatasetUnavailable) as err:
        ds.splits(2, (), root)
    assert expect in str(err.value) and "\n" not in str(err.value)


def test_class_folder_without_images(root):
    for f in (root / "imagenet" / "train" / WNIDS[1]).iterdir():
        f.unlink()
    with pytest.raises(DatasetUnavailable, match=r"imagenet: incomplete files .*n01443537"):
        get_dataset("imagenet").splits(2, (), root)

"""Each paper's data pipeline on tiny files in the real on-disk formats: the three Cutout forms
at their stage, the official normalisation constants, the DVS frame pipelines (their encodings,
published parameters and determinism), the frame resolution and the CIFAR10-DVS splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import make_cell
from PIL import Image
from test_datasets_cifar import normalised, write_cifar10, write_cifar100
from test_datasets_cifar10_dvs import (
    PER_CLASS,
    events,
    reference_frames,
    sensor_counts,
    write_events,
)
from test_datasets_dvs_gesture import RECORDINGS, write_aedat
from torchvision.transforms import InterpolationMode, v2

from benches.worker.setup import support
from datasets import DatasetUnavailable, get_dataset
from datasets import cifar10_dvs as c10
from datasets.transforms import Cutout, RandomRoll, ToolboxCutout

C10_OFFICIAL = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))
C100_OFFICIAL = ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761))
OTTT_DVS = ((0.2728, 0.1295), (0.2225, 0.1290))


def hole_of(x: torch.Tensor, expect: torch.Tensor) -> torch.Tensor:
    """The [H, W] mask of pixels where ``x`` differs from ``expect`` in some channel."""
    return ~torch.isclose(x, expect, rtol=1e-5, atol=1e-5).all(0)


def box(mask: torch.Tensor) -> tuple[int, int, int, int]:
    """(top, left, height, width) of a mask that must be one filled rectangle."""
    rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
    top, left = int(rows[0]), int(cols[0])
    height, width = int(rows[-1]) - top + 1, int(cols[-1]) - left + 1
    assert int(mask.sum()) == height * width, "the hole is not one rectangle"
    return top, left, height, width


def per_channel(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)[:, None]


# --- CIFAR: the three Cutout forms ---------------------------------------------------------


@pytest.fixture
def cifar10_root(tmp_path):
    return tmp_path, write_cifar10(tmp_path)


@pytest.mark.parametrize("normalize", ["measured", "official"])
def test_cutout_before_normalize_leaves_minus_mean_over_std(cifar10_root, normalize):
    root, data = cifar10_root
    ds = get_dataset("cifar10")
    mean, std = (ds.mean, ds.std) if normalize == "measured" else C10_OFFICIAL
    expect = normalised(data["data_batch_1"][0][0], mean, std)
    train = ds.splits(2, ("cutout_before_normalize",), root, normalize=normalize).train
    fill = -per_channel(mean) / per_channel(std)  # a zero in [0, 1], normalised
    sizes = set()
    for seed in range(10):
        torch.manual_seed(seed)
        x = train[0][0]
        hole = hole_of(x, expect)
        _, _, height, width = box(hole)
        assert 0 < height <= 16 and 0 < width <= 16
        torch.testing.assert_close(x[:, hole], fill.expand(3, int(hole.sum())))
        torch.testing.assert_close(x[:, ~hole], expect[:, ~hole])
        sizes.add((height, width))
    assert (16, 16) in sizes  # an unclipped hole is 16×16 (rows and columns [c − 8, c + 8))


def test_cutout_after_normalize_leaves_zero(cifar10_root):
    root, data = cifar10_root
    ds = get_dataset("cifar10")
    expect = normalised(data["data_batch_1"][0][0], ds.mean, ds.std)
    train = ds.splits(2, ("cutout",), root).train
    for seed in range(5):
        torch.manual_seed(seed)
        x = train[0][0]
        hole = hole_of(x, expect)
        assert hole.any() and (x[:, hole] == 0).all()


def test_toolbox_cutout_on_cifar_fills_c_0_0_before_normalising(cifar10_root):
    root, data = cifar10_root
    ds = get_dataset("cifar10")
    mean, std = C10_OFFICIAL
    expect = normalised(data["data_batch_1"][0][0], mean, std)
    train = ds.splits(2, ("cutout_torchtoolbox",), root, normalize="official").train
    applied = 0
    for seed in range(40):
        torch.manual_seed(seed)
        x = train[0][0]
        hole = hole_of(x, expect)
        if not hole.any():
            continue
        applied += 1
        _, _, height, width = box(hole)
        assert 2 <= width <= 32 and 2 <= height <= 32 and height * width <= 0.4 * 1024
        red = x[0, hole] * std[0] + mean[0]  # back to [0, 1]: one value c / 255
        c = red[0] * 255
        assert abs(c - round(float(c))) < 1e-3 and 0 <= round(float(c)) <= 255
        torch.testing.assert_close(red, red[0].expand_as(red))
        for ch in (1, 2):  # the other bands are 0 before normalising
            torch.testing.assert_close(x[ch, hole], torch.full_like(x[ch, hole],
                                                                    -mean[ch] / std[ch]))
    assert 10 <= applied <= 30  # p = 0.5


def test_toolbox_cutout_parameters_and_seed():
    cut = ToolboxCutout()
    assert (cut.p, cut.scale, cut.ratio) == (0.5, (0.02, 0.4), (0.4, 2.5))
    image = Image.fromarray(np.full((32, 32, 3), 7, np.uint8))
    areas, fills = [], set()
    for seed in range(300):
        torch.manual_seed(seed)
        out = np.asarray(cut(image))
        torch.manual_seed(seed)
        assert np.array_equal(out, np.asarray(cut(image)))  # deterministic under a seed
        hole = torch.from_numpy((out != 7).any(-1))
        if hole.any():
            top, left, height, width = box(hole)
            areas.append(height * width)
            assert (out[hole.numpy()][:, 1:] == 0).all()
            fills.add(int(out[top, left, 0]))
    assert 120 <= len(areas) <= 180
    assert min(areas) >= int(np.sqrt(0.02 * 1024 / 2.5)) * int(np.sqrt(0.02 * 1024 * 0.4))
    assert max(areas) <= 0.4 * 1024 and max(areas) > 0.3 * 1024
    assert len(fills) > 50 and max(fills) <= 255


# --- CIFAR: normalisation constants --------------------------------------------------------


def test_official_normalisation_uses_the_published_constants(cifar10_root, tmp_path):
    root, data = cifar10_root
    ds = get_dataset("cifar10")
    official = ds.splits(2, (), root, normalize="official").test[1][0]
    torch.testing.assert_close(official, normalised(data["test_batch"][0][1], *C10_OFFICIAL))
    same = ds.splits(2, (), root, normalize="official_cifar10").test[1][0]
    torch.testing.assert_close(same, official)
    measured = ds.splits(2, (), root).test[1][0]
    torch.testing.assert_close(measured, normalised(data["test_batch"][0][1],
                                                    (0.4914, 0.4822, 0.4465),
                                                    (0.2470, 0.2435, 0.2616)))
    c100_root = tmp_path / "c100"
    c100 = write_cifar100(c100_root)
    ds100 = get_dataset("cifar100")
    for name, stats in (("official", C100_OFFICIAL), ("official_cifar10", C10_OFFICIAL)):
        x = ds100.splits(2, (), c100_root, normalize=name).test[0][0]
        torch.testing.assert_close(x, normalised(c100["test"][0][0], *stats))


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "imagenet"])
def test_unknown_normalisation_is_refused_with_the_known_values(name):
    ds = get_dataset(name)
    with pytest.raises(ValueError, match=r"normalize 'zscore' \(known: 'measured', 'official'"):
        ds.splits(2, (), "/nonexistent", normalize="zscore")
    arch = "resnet18" if name != "imagenet" else "resnet34"
    ok, why = support(make_cell("bptt", dataset=name, architecture=arch, normalize="zscore"))
    assert not ok and why.startswith(f"{name} has no normalize 'zscore' (known: 'measured'")
    assert support(make_cell("bptt", dataset=name, architecture=arch, normalize="official"))[0]


# --- CIFAR10-DVS: splits ---------------------------------------------------------------------


def touch_archive(root, per_class: int) -> None:
    """Empty files named as spikingjelly names them (the split reads names only)."""
    for name in c10.CLASSES:
        folder = root / "cifar10_dvs" / "events_np" / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            (folder / f"cifar10_{name}_{i}.npz").touch()


def indices(files, label: int) -> set[int]:
    return {c10.file_index(f.name) for f, y in files if y == label}


def test_first_900_is_900_train_100_test_per_class_by_numeric_index(tmp_path):
    touch_archive(tmp_path, 1000)
    ds = get_dataset("cifar10_dvs")
    train, test = ds.file_split(tmp_path, "first_900")
    assert len(train) == 9000 and len(test) == 1000
    for label in range(10):
        assert indices(train, label) == set(range(900))
        assert indices(test, label) == set(range(900, 1000))
    assert not {f for f, _ in train} & {f for f, _ in test}
    # "standard" cuts the name order (_0, _1, _10, _100, …): another 100 per class
    std_train, std_test = ds.file_split(tmp_path, "standard")
    assert len(std_train) == 9000 and len(std_test) == 1000
    assert indices(std_test, 3) == {909, *range(91, 100), *range(910, 1000)}
    assert 95 in indices(std_test, 3) and 900 in indices(std_train, 3)


def test_first_900_needs_test_files(tmp_path):
    touch_archive(tmp_path, 12)
    with pytest.raises(DatasetUnavailable, match=r"first_900 needs files numbered 900"):
        get_dataset("cifar10_dvs").file_split(tmp_path, "first_900")


def test_first_900_splits_end_to_end(tmp_path):
    kept = (0, 1, 2, 900, 901)
    for c, name in enumerate(c10.CLASSES):
        folder = tmp_path / "cifar10_dvs" / "events_np" / name
        folder.mkdir(parents=True)
        for i in kept:
            np.savez(folder / f"cifar10_{name}_{i}.npz", **events(c, i))
    splits = get_dataset("cifar10_dvs").splits(2, (), tmp_path, train_split="first_900")
    assert len(splits.train) == 30 and len(splits.test) == 20
    x, y = splits.test[3]  # class 1, index 901
    assert y == 1
    torch.testing.assert_close(x, reference_frames(events(1, 901), 2), rtol=1e-5, atol=1e-5)


# --- CIFAR10-DVS: resolution and frame pipelines ----------------------------------------------


@pytest.fixture
def dvs_root(tmp_path):
    write_events(tmp_path)
    return tmp_path


def test_resolution_128_is_the_sensor_counts_cached_by_side(dvs_root):
    ds = get_dataset("cifar10_dvs")
    splits = ds.splits(3, (), dvs_root, resolution=128)
    x, y = splits.test[4]
    assert x.shape == (3, 2, 128, 128) and x.dtype == torch.float32 and y == 4
    torch.testing.assert_close(x, sensor_counts(events(4, 9), 3))
    cached = sorted((dvs_root / "cifar10_dvs" / "frames_T3_128").rglob("*.npy"))
    assert len(cached) == 10 * PER_CLASS and np.load(cached[0]).dtype == np.uint16
    assert ds.input_shape(128) == (2, 128, 128) and ds.input_shape(0) == ds.in_shape == (2, 48, 48)
    assert ds.splits(3, (), dvs_root).test[4][0].shape == (3, 2, 48, 48)
    assert (dvs_root / "cifar10_dvs" / "frames_T3_48").is_dir()


def crafted(path, blocks) -> None:
    """Write one event file: ``blocks`` is a list of (polarity, rows, cols, count per pixel)."""
    t, x, y, p = [], [], [], []
    for polarity, rows, cols, count in blocks:
        for r in rows:
            for c in cols:
                y += [r] * count
                x += [c] * count
                p += [polarity] * count
    t = list(range(len(x)))
    np.savez(path, t=np.array(t), x=np.array(x), y=np.array(y), p=np.array(p))


def test_pil8_frames_wrap_255_times_the_count(dvs_root):
    target = dvs_root / "cifar10_dvs" / "events_np" / "airplane" / "cifar10_airplane_9.npz"
    crafted(target, [(1, [10], [10], 1), (1, [10], [20], 2), (1, [10], [30], 3),
                     (0, [40], [40], 5), (1, [50], [50], 256)])
    x = get_dataset("cifar10_dvs").splits(1, ("sltt_dvs",), dvs_root, resolution=128).test[0][0]
    assert x.shape == (1, 2, 128, 128)
    # uint8(255 k) = (256 − k) mod 256: 1 → 255, 2 → 254, 3 → 253, 5 → 251, 256 → 0
    assert [round(float(v) * 255) for v in (x[0, 1, 10, 10], x[0, 1, 10, 20], x[0, 1, 10, 30],
                                             x[0, 0, 40, 40], x[0, 1, 50, 50])] == \
        [255, 254, 253, 251, 0]
    assert int((x > 0).sum()) == 4


def test_pil8_resize_premultiplies_polarity_0_by_polarity_1(dvs_root):
    target = dvs_root / "cifar10_dvs" / "events_np" / "airplane" / "cifar10_airplane_9.npz"
    crafted(target, [(0, range(0, 32), range(0, 32), 1), (1, range(64, 128), range(64, 128), 1)])
    ds = get_dataset("cifar10_dvs")
    pil8 = ds.splits(1, ("sltt_dvs",), dvs_root).test[0][0]
    counts = ds.splits(1, (), dvs_root).test[0][0]
    assert pil8.shape == counts.shape == (1, 2, 48, 48)
    torch.testing.assert_close(counts[0, 0, :10, :10], torch.ones(10, 10))  # mean count 1
    assert float(pil8[0, 0].abs().max()) == 0.0  # no polarity-1 event near: polarity 0 gone
    assert float(pil8[0, 1, 26:, 26:].min()) == pytest.approx(1.0)


def test_ottt_dvs_pads_crops_and_normalises_with_its_constants(dvs_root):
    ds = get_dataset("cifar10_dvs")
    splits = ds.splits(2, ("ottt_dvs",), dvs_root, normalize="official")
    plain = ds.splits(2, ("sltt_dvs",), dvs_root)  # the same pil8 frames, not normalised
    mean, std = per_channel(OTTT_DVS[0])[..., None], per_channel(OTTT_DVS[1])[..., None]
    torch.testing.assert_close(splits.test[0][0], (plain.test[0][0] - mean) / std)
    frames = plain.train[0][0]
    padded = torch.nn.functional.pad(frames, (4, 4, 4, 4))
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        x = splits.train[0][0] * std + mean
        hits = [(i, j) for i in range(9) for j in range(9)
                if torch.allclose(x, padded[..., i:i + 48, j:j + 48], atol=1e-5)]
        assert hits, "not one 48×48 window (the same for every frame) of the 4-px padding"
        seen.add(hits[0])
    assert len(seen) > 3
    assert not any(isinstance(t, v2.RandomHorizontalFlip)
                   for t in splits.train.transform.transforms)  # OTTT does not flip


def test_os_dvs_has_the_published_parameters_and_repeats_under_a_seed(dvs_root):
    ds = get_dataset("cifar10_dvs")
    splits = ds.splits(2, ("os_dvs",), dvs_root)
    crop, resize, flip, nda = splits.train.transform.transforms
    assert isinstance(crop, v2.RandomResizedCrop) and tuple(crop.size) == (128, 128)
    assert crop.scale == (0.7, 1.0) and crop.ratio == pytest.approx((3 / 4, 4 / 3))
    assert crop.interpolation == InterpolationMode.NEAREST
    assert isinstance(resize, v2.Resize) and list(resize.size) == [48, 48]
    assert resize.antialias is False
    assert isinstance(flip, v2.RandomHorizontalFlip) and flip.p == 0.5
    roll, rotate, cut = nda.transforms
    assert isinstance(roll, RandomRoll) and roll.max_shift == 5
    assert isinstance(rotate, v2.RandomRotation) and list(rotate.degrees) == [-30.0, 30.0]
    assert InterpolationMode(rotate.interpolation) == InterpolationMode.NEAREST
    assert rotate.fill == 0 and rotate.expand is False
    assert isinstance(cut, Cutout) and cut.size == 16 and nda.p == [1 / 3] * 3
    draws = []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        draws.append(splits.train[0][0])
    assert draws[0].shape == (2, 2, 48, 48)
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])
    # training reads the sensor counts (cropped there); testing the bilinear 48 px frames
    assert np.load(splits.train.items[0][1]).shape == (2, 2, 128, 128)
    counts = sensor_counts(events(0, 9), 2)
    expect = torch.nn.functional.interpolate(counts, size=(48, 48), mode="bilinear",
                                             antialias=False, align_corners=False)
    torch.testing.assert_close(splits.test[0][0], expect, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("options, match", [
    ({"normalize": "measured"}, r"no normalize 'measured' \(known: 'none', 'official'\)"),
    ({"resolution": 200}, r"no resolution 200 \(known: 0 for 48 px, or a side of 1–128 px\)"),
    ({"train_split": "random"}, r"no train_split 'random' \(known: 'standard', 'first_900'\)"),
    ({"augment": ("ottt_dvs", "os_dvs")}, r"more than one frame pipeline \(ottt_dvs, os_dvs\)"),
])
def test_unknown_dvs_options_are_refused(dvs_root, options, match):
    ds = get_dataset("cifar10_dvs")
    augment = options.pop("augment", ())
    with pytest.raises(ValueError, match=match):
        ds.splits(2, augment, dvs_root, **options)
    cell = make_cell("bptt", dataset="cifar10_dvs", architecture="vggsnn",
                     **{"normalize": "none", "augment": augment, **options})
    ok, why = support(cell)
    assert not ok and why == ds.option_problem(augment, **{"normalize": "none", **options})


def test_dvs_common_track_keeps_unnormalised_frames():
    for name in ("cifar10_dvs", "dvs_gesture"):
        ds = get_dataset(name)
        assert ds.recipe_defaults["normalize"] == "none"
        cell = make_cell("bptt", dataset=name, architecture="vggsnn",
                         **ds.recipe_defaults)
        assert support(cell) == (True, "")


# --- DVS128 Gesture -------------------------------------------------------------------------


@pytest.fixture
def gesture_root(tmp_path):
    base = tmp_path / "dvs_gesture" / "extract" / "DvsGesture"
    base.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for name, ranges in RECORDINGS.items():
        t = np.sort(rng.integers(0, 3000, 400))
        write_aedat(base / f"{name}.aedat", t, rng.integers(0, 128, 400),
                    rng.integers(0, 128, 400), rng.integers(0, 2, 400))
        rows = "\n".join(f"{c},{s},{e}" for c, s, e in ranges)
        (base / f"{name}_labels.csv").write_text(f"class,startTime_usec,endTime_usec\n{rows}\n")
    (base / "trials_to_train.txt").write_text("user01_led.aedat\n")
    (base / "trials_to_test.txt").write_text("user24_led.aedat\n")
    return tmp_path


def test_gesture_at_128_px_keeps_every_event(gesture_root):
    ds = get_dataset("dvs_gesture")
    splits = ds.splits(4, (), gesture_root, resolution=128)
    x, _ = splits.train[0]
    assert x.shape == (4, 2, 128, 128) and ds.input_shape(128) == (2, 128, 128)
    sample = next((gesture_root / "dvs_gesture" / "events_np" / "train").glob("*/*.npz"))
    with np.load(sample) as z:
        total = len(z["t"])
    counts = [float(splits.train[i][0].sum()) for i in range(len(splits.train))]
    assert total in counts and all(c == int(c) for c in counts)
    assert (gesture_root / "dvs_gesture" / "frames_T4_128").is_dir()
    with pytest.raises(ValueError, match=r"dvs_gesture has no normalize 'official'"):
        ds.splits(4, (), gesture_root, normalize="official")


def test_gesture_os_dvs_rotates_the_cropped_clip(gesture_root):
    splits = get_dataset("dvs_gesture").splits(2, ("os_dvs",), gesture_root)
    crop, resize, rotate = splits.train.transform.transforms
    assert crop.scale == (0.7, 1.0) and list(resize.size) == [48, 48]
    assert isinstance(rotate, v2.RandomRotation) and list(rotate.degrees) == [-20.0, 20.0]
    torch.manual_seed(1)
    first = splits.train[0][0]
    torch.manual_seed(1)
    assert first.shape == (2, 2, 48, 48) and torch.equal(first, splits.train[0][0])

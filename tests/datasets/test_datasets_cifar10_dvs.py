"""CIFAR10-DVS adapter on tiny spikingjelly event files (and minimal .aedat recordings)."""

from __future__ import annotations

import shutil
import struct

import numpy as np
import pytest
import torch

from datasets import DatasetUnavailable, get_dataset
from datasets import cifar10_dvs as c10
from datasets.cifar import DOWNLOAD_ENV

PER_CLASS, T = 12, 4


def events(cls: int, i: int, n: int = 300) -> dict[str, np.ndarray]:
    """Random events as spikingjelly stores them (t ascending, x/y in 0..127, p in {0, 1})."""
    rng = np.random.default_rng(1000 * cls + i)
    return {"t": np.sort(rng.integers(0, 10**6, n)).astype(np.uint32),
            "x": rng.integers(0, 128, n), "y": rng.integers(0, 128, n),
            "p": rng.integers(0, 2, n)}


def write_events(root) -> None:
    for c, name in enumerate(c10.CLASSES):
        d = root / "cifar10_dvs" / "events_np" / name
        d.mkdir(parents=True)
        for i in range(PER_CLASS):
            np.savez_compressed(d / f"cifar10_{name}_{i}.npz", **events(c, i))


def sensor_counts(ev: dict[str, np.ndarray], timesteps: int) -> torch.Tensor:
    """Integration by hand on the 128×128 sensor: N // T events per frame, the last the rest."""
    n = len(ev["t"])
    frames = np.zeros((timesteps, 2, 128, 128))
    bounds = [k * (n // timesteps) for k in range(timesteps)] + [n]
    for k in range(timesteps):
        s = slice(bounds[k], bounds[k + 1])
        np.add.at(frames[k], (ev["p"][s], ev["y"][s], ev["x"][s]), 1)
    return torch.from_numpy(frames).float()


def reference_frames(ev: dict[str, np.ndarray], timesteps: int) -> torch.Tensor:
    """Integration by hand (:func:`sensor_counts`), then 48×48."""
    return torch.nn.functional.interpolate(sensor_counts(ev, timesteps), size=(48, 48),
                                           mode="bilinear", antialias=True, align_corners=False)


@pytest.fixture
def root(tmp_path):
    write_events(tmp_path)
    return tmp_path


def test_class_order_is_spikingjelly_s():
    from spikingjelly.datasets.cifar10_dvs import CIFAR10DVS_CLASS_NAMES

    assert c10.CLASSES == tuple(CIFAR10DVS_CLASS_NAMES)


def test_split_is_first_ninety_percent_per_class_by_name(root):
    ds = get_dataset("cifar10_dvs")
    ok, where = ds.locate(root)
    assert ok and "events_np" in where and f"{10 * PER_CLASS} .npz files" in where
    train, test = ds.file_split(root)
    assert len(train) == 10 * 11 and len(test) == 10
    # name order: _0, _1, _10, _11, _2, …, _9, so the last file of each class is _9
    assert [f.name for f, _ in test] == [f"cifar10_{c}_9.npz" for c in c10.CLASSES]
    assert [y for _, y in test] == list(range(10))
    assert {f.name for f, y in train if y == 3} == {f"cifar10_cat_{i}.npz" for i in range(12)
                                                     if i != 9}
    assert (train, test) == ds.file_split(root)


def test_frames_shape_values_and_cache(root, monkeypatch):
    ds = get_dataset("cifar10_dvs")
    splits = ds.splits(T, (), root)
    assert len(splits.train) == 110 and len(splits.test) == 10
    x, y = splits.test[2]
    assert x.shape == (T, 2, 48, 48) and x.dtype == torch.float32 and y == 2
    torch.testing.assert_close(x, reference_frames(events(2, 9), T), rtol=1e-5, atol=1e-5)
    assert x.sum() > 0
    cached = sorted((root / "cifar10_dvs" / f"frames_T{T}_48").rglob("*.npy"))
    assert len(cached) == 10 * PER_CLASS

    def no_integration(*args, **kwargs):
        raise AssertionError("integrated again although the frames are cached")

    monkeypatch.setattr(c10, "integrate", no_integration)
    again = ds.splits(T, (), root)
    torch.testing.assert_close(again.test[2][0], x)
    x0, y0 = again.train[0]
    assert y0 == 0
    torch.testing.assert_close(x0, reference_frames(events(0, 0), T), rtol=1e-5, atol=1e-5)


def test_train_is_flipped_and_rolled_test_is_not(root):
    ds = get_dataset("cifar10_dvs")
    base = reference_frames(events(0, 0), T)
    splits = ds.splits(T, ("flip", "roll"), root)
    candidates = {(f, dy, dx): (base.flip(-1) if f else base).roll((dy, dx), dims=(-2, -1))
                  for f in (0, 1) for dy in range(-5, 6) for dx in range(-5, 6)}
    seen = set()
    for seed in range(8):
        torch.manual_seed(seed)
        x = splits.train[0][0]
        match = [k for k, v in candidates.items() if torch.allclose(x, v, atol=1e-5)]
        assert match, "train sample is not a flip/roll (|shift| ≤ 5) of the frames"
        seen.add(match[0])
        torch.testing.assert_close(splits.test[0][0], reference_frames(events(0, 9), T),
                                   rtol=1e-5, atol=1e-5)
    assert len(seen) > 1
    plain = ds.splits(T, (), root)
    torch.testing.assert_close(plain.train[0][0], base, rtol=1e-5, atol=1e-5)


def test_missing_and_incomplete_are_one_line(tmp_path):
    ds = get_dataset("cifar10_dvs")
    ok, where = ds.locate(tmp_path)
    assert not ok and where == str(tmp_path / "cifar10_dvs")
    with pytest.raises(DatasetUnavailable) as err:
        ds.check(tmp_path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("cifar10_dvs:") and ds.layout in msg
    write_events(tmp_path)
    for f in (tmp_path / "cifar10_dvs" / "events_np" / "cat").iterdir():
        f.unlink()
    with pytest.raises(DatasetUnavailable, match=r"cifar10_dvs: .*incomplete: no \.npz for cat"):
        ds.splits(T, (), tmp_path)


def test_unfinished_conversion_is_reported(root):
    (root / "cifar10_dvs" / "events_np.building").touch()
    ok, where = get_dataset("cifar10_dvs").locate(root)
    assert not ok and "events_np.building" in where


def test_unreadable_event_file(root):
    (root / "cifar10_dvs" / "events_np" / "dog" / "cifar10_dog_3.npz").write_bytes(b"garbage")
    with pytest.raises(DatasetUnavailable, match=r"unreadable event file .*cifar10_dog_3\.npz"):
        get_dataset("cifar10_dvs").splits(T, (), root)


def write_aedat(path, x_raw, y_raw, pol, t) -> None:
    """A minimal AER-DAT 2.0 file as in CIFAR10-DVS: header, then big-endian (address, time)."""
    addr = (np.asarray(y_raw) << 8) | (np.asarray(x_raw) << 1) | np.asarray(pol)
    body = np.stack([addr, np.asarray(t)], 1).astype(">u4").tobytes()
    path.write_bytes(b"#!AER-DAT2.0\r\n# This is a raw AE data file\r\n" + body)


def test_aedat_files_are_converted_once_with_spikingjelly(tmp_path):
    n = 40
    for c, name in enumerate(c10.CLASSES):
        d = tmp_path / "cifar10_dvs" / "extract" / name
        d.mkdir(parents=True)
        for i in range(11):  # the fewest files that leave one for test: ceil(0.9 · 11) = 10
            k = np.arange(n)
            write_aedat(d / f"cifar10_{name}_{i}.aedat", x_raw=(10 * c + k) % 128,
                        y_raw=np.full(n, 20 + i), pol=k % 2, t=100 * k)
    ds = get_dataset("cifar10_dvs")
    ok, where = ds.locate(tmp_path)
    assert ok and "110 .aedat files" in where
    splits = ds.splits(2, (), tmp_path)
    assert len(splits.train) == 100 and len(splits.test) == 10
    converted = np.load(tmp_path / "cifar10_dvs" / "events_np" / "bird" / "cifar10_bird_1.npz")
    k = np.arange(n)
    assert struct.pack(">I", int(converted["t"][3])) == struct.pack(">I", 300)
    assert np.array_equal(converted["x"], np.full(n, 127 - 21))  # x = 127 - y_raw
    assert np.array_equal(converted["y"], 127 - (20 + k) % 128)  # y = 127 - x_raw
    assert np.array_equal(converted["p"], 1 - k % 2)
    x, y = splits.test[2]  # cifar10_bird_9
    assert y == 2 and x.shape == (2, 2, 48, 48)
    assert abs(float(x.sum()) - n * (48 / 128) ** 2) < 0.2 * n * (48 / 128) ** 2
    assert ds.locate(tmp_path)[1].endswith("(110 .npz files)")
    shutil.rmtree(tmp_path / "cifar10_dvs" / "extract")  # the converted events are enough now
    torch.testing.assert_close(ds.splits(2, (), tmp_path).test[2][0], x)


def test_download_only_when_asked(tmp_path, monkeypatch):
    import spikingjelly.datasets.cifar10_dvs as sj

    calls = []

    class FakeCIFAR10DVS:
        def __init__(self, root, data_type="event"):
            calls.append(root)
            raise OSError("no network in tests")

    monkeypatch.setattr(sj, "CIFAR10DVS", FakeCIFAR10DVS)
    monkeypatch.delenv(DOWNLOAD_ENV, raising=False)
    ds = get_dataset("cifar10_dvs")
    with pytest.raises(DatasetUnavailable, match="files not found"):
        ds.check(tmp_path)
    assert calls == []
    monkeypatch.setenv(DOWNLOAD_ENV, "1")
    with pytest.raises(DatasetUnavailable, match="download into .* failed"):
        ds.check(tmp_path)
    assert calls == [str(tmp_path / "cifar10_dvs")]

"""CIFAR-10/100 adapters on tiny fixtures written exactly like torchvision's pickle files."""

from __future__ import annotations

import io
import pickle
import struct

import numpy as np
import pytest
import torch

from datasets import DatasetUnavailable, get_dataset
from datasets.cifar import DOWNLOAD_ENV

PER_BATCH, N_TEST = 2, 3


class Py2Str(str):
    """Pickled as a Python 2 ``str`` (BINSTRING): the real files' keys and names."""


class Py2Pickler(pickle._Pickler):
    """Protocol-2 pickler writing :class:`Py2Str` as Python 2 would."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2str(self, obj: Py2Str) -> None:
        data = obj.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[Py2Str] = save_py2str


def dump_py2(obj: dict, path) -> None:
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump({Py2Str(k): v for k, v in obj.items()})
    path.write_bytes(buf.getvalue())


def images(n: int, seed: int) -> np.ndarray:
    """``n`` random images as CIFAR stores them: uint8 rows of 3072 (R, G, B planes)."""
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def write_cifar10(root) -> dict[str, np.ndarray]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    data = {}
    for i in range(1, 6):
        x, y = images(PER_BATCH, i), [(2 * i + k) % 10 for k in range(PER_BATCH)]
        dump_py2({"batch_label": Py2Str(f"training batch {i} of 5"), "labels": y, "data": x,
                  "filenames": [Py2Str(f"img_{i}_{k}.png") for k in range(PER_BATCH)]},
                 folder / f"data_batch_{i}")
        data[f"data_batch_{i}"] = (x, y)
    x, y = images(N_TEST, 99), [7, 3, 9]
    dump_py2({"batch_label": Py2Str("testing batch 1 of 1"), "labels": y, "data": x,
              "filenames": [Py2Str(f"t_{k}.png") for k in range(N_TEST)]}, folder / "test_batch")
    data["test_batch"] = (x, y)
    dump_py2({"num_cases_per_batch": 10000, "num_vis": 3072,
              "label_names": [Py2Str(c) for c in "abcdefghij"]}, folder / "batches.meta")
    return data


def write_cifar100(root) -> dict[str, tuple]:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    out = {}
    for split, n, seed in (("train", 4, 1), ("test", N_TEST, 2)):
        x = images(n, seed)
        fine = [int(v) for v in np.arange(n) * 31 % 100]
        coarse = [f % 20 for f in fine]
        dump_py2({"filenames": [Py2Str(f"{split}_{k}.png") for k in range(n)],
                  "batch_label": Py2Str(f"{split} batch"), "fine_labels": fine,
                  "coarse_labels": coarse, "data": x}, folder / split)
        out[split] = (x, fine)
    dump_py2({"fine_label_names": [Py2Str(f"f{i}") for i in range(100)],
              "coarse_label_names": [Py2Str(f"c{i}") for i in range(20)]}, folder / "meta")
    return out


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, rtol=1e-5, atol=1e-5)


def normalised(row: np.ndarray, mean, std, size: int = 32) -> torch.Tensor:
    """The deterministic test transform computed by hand: [0, 1] then per-channel z-score."""
    x = torch.from_numpy(row.reshape(3, size, size).astype(np.float32) / 255)
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


@pytest.fixture
def cifar10_root(tmp_path):
    return tmp_path, write_cifar10(tmp_path)


def test_fixture_matches_the_real_pickles(cifar10_root):
    root, _ = cifar10_root
    with open(root / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        entry = pickle.load(f, encoding="bytes")  # as the CIFAR page documents
    assert set(entry) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert entry[b"data"].dtype == np.uint8 and entry[b"data"].shape == (PER_BATCH, 3072)


def test_cifar10_splits_shapes_labels_and_test_transform(cifar10_root):
    root, data = cifar10_root
    ds = get_dataset("cifar10")
    assert ds.locate(root) == (True, str(root / "cifar-10-batches-py"))
    splits = ds.splits(4, (), root)
    assert len(splits.train) == 5 * PER_BATCH and len(splits.test) == N_TEST
    x, y = splits.test[1]
    assert type(x) is torch.Tensor and x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert y == data["test_batch"][1][1]
    torch.testing.assert_close(x, normalised(data["test_batch"][0][1], ds.mean, ds.std))
    train_labels = [splits.train[i][1] for i in range(len(splits.train))]
    assert train_labels == [v for i in range(1, 6) for v in data[f"data_batch_{i}"][1]]
    assert ds.encode(x.unsqueeze(0), 4).shape == (4, 1, 3, 32, 32)


def test_no_augmentation_named_means_none_applied(cifar10_root):
    root, data = cifar10_root
    ds = get_dataset("cifar10")
    train = ds.splits(2, (), root).train
    expect = normalised(data["data_batch_1"][0][0], ds.mean, ds.std)
    for seed in range(3):
        torch.manual_seed(seed)
        torch.testing.assert_close(train[0][0], expect)


def test_crop_is_a_window_of_the_zero_padded_image(cifar10_root):
    root, data = cifar10_root
    ds = get_dataset("cifar10")
    train = ds.splits(2, ("crop",), root).train
    img = data["data_batch_1"][0][0].reshape(3, 32, 32)
    padded = normalised(np.pad(img, ((0, 0), (4, 4), (4, 4))), ds.mean, ds.std, size=40)
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        x = train[0][0]
        hits = [(i, j) for i in range(9) for j in range(9)
                if close(x, padded[:, i:i + 32, j:j + 32])]
        assert hits, "crop output is not a 32×32 window of the 4-px zero-padded image"
        seen.add(hits[0])
    assert len(seen) > 1


def test_flip_and_cutout(cifar10_root):
    root, data = cifar10_root
    ds = get_dataset("cifar10")
    expect = normalised(data["data_batch_1"][0][0], ds.mean, ds.std)
    flip = ds.splits(2, ("flip",), root).train
    outcomes = set()
    for seed in range(16):
        torch.manual_seed(seed)
        x = flip[0][0]
        assert close(x, expect) or close(x, expect.flip(-1))
        outcomes.add(close(x, expect))
    assert outcomes == {True, False}
    cut = ds.splits(2, ("cutout",), root).train
    for seed in range(8):
        torch.manual_seed(seed)
        x = cut[0][0]
        hole = ~torch.isclose(x, expect, rtol=1e-5, atol=1e-5).all(0)
        assert (x[:, hole] == 0).all()
        rows, cols = hole.any(1).nonzero(), hole.any(0).nonzero()
        assert 0 < len(rows) <= 16 and 0 < len(cols) <= 16
        assert hole.sum() == len(rows) * len(cols)  # one rectangle
        assert close(x[:, ~hole], expect[:, ~hole])


def test_all_augmentations_vary_train_and_never_test(cifar10_root):
    root, _ = cifar10_root
    ds = get_dataset("cifar10")
    splits = ds.splits(2, ds.augmentations, root)
    draws = []
    for seed in range(4):
        torch.manual_seed(seed)
        draws.append((splits.train[3][0], splits.test[0][0]))
    assert draws[0][0].shape == (3, 32, 32)
    assert any(not torch.equal(draws[0][0], d[0]) for d in draws[1:])
    assert all(torch.equal(draws[0][1], d[1]) for d in draws[1:])


def test_cifar100_reads_fine_labels(tmp_path):
    data = write_cifar100(tmp_path)
    ds = get_dataset("cifar100")
    assert ds.num_classes == 100 and ds.in_shape == (3, 32, 32)
    splits = ds.splits(2, (), tmp_path)
    assert len(splits.train) == 4 and len(splits.test) == N_TEST
    assert [splits.train[i][1] for i in range(4)] == data["train"][1]
    torch.testing.assert_close(splits.test[2][0], normalised(data["test"][0][2], ds.mean, ds.std))


@pytest.mark.parametrize("name, folder", [("cifar10", "cifar-10-batches-py"),
                                          ("cifar100", "cifar-100-python")])
def test_missing_files_one_line(tmp_path, name, folder):
    ds = get_dataset(name)
    ok, where = ds.locate(tmp_path)
    assert not ok and where == str(tmp_path / folder)
    with pytest.raises(DatasetUnavailable) as err:
        ds.check(tmp_path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{name}:") and str(tmp_path) in msg
    assert ds.layout in msg


def test_incomplete_cifar10_is_reported(cifar10_root):
    root, _ = cifar10_root
    (root / "cifar-10-batches-py" / "test_batch").unlink()
    ds = get_dataset("cifar10")
    ok, where = ds.locate(root)
    assert not ok and "test_batch" in where
    with pytest.raises(DatasetUnavailable, match=r"cifar10: .*missing test_batch.*expected ROOT"):
        ds.splits(2, (), root)


def test_unreadable_file_is_one_line(cifar10_root):
    root, _ = cifar10_root
    (root / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DatasetUnavailable) as err:
        get_dataset("cifar10").splits(2, (), root)
    assert "unreadable" in str(err.value) and "\n" not in str(err.value)


def test_download_only_when_asked(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tv_cifar

    calls = []

    def fake_download(url, download_root, **kwargs):
        calls.append(url)
        raise OSError("no network in tests")

    monkeypatch.setattr(tv_cifar, "download_and_extract_archive", fake_download)
    monkeypatch.delenv(DOWNLOAD_ENV, raising=False)
    ds = get_dataset("cifar10")
    with pytest.raises(DatasetUnavailable, match="files not found"):
        ds.splits(2, (), tmp_path)
    assert calls == []
    monkeypatch.setenv(DOWNLOAD_ENV, "1")
    with pytest.raises(DatasetUnavailable, match="download into .* failed"):
        ds.check(tmp_path)
    assert calls == [ds.torchvision_class.url]

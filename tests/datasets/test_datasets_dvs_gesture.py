"""DVS128 Gesture: a tiny archive in the release's formats (AEDAT 3.1, label CSVs, trial
lists), converted and split by spikingjelly, integrated into frames; missing files."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from datasets import DatasetUnavailable, get_dataset

# per recording: (events t, x, y, p) and labelled ranges (class 1..11, start, end) in µs
RNG = np.random.default_rng(0)


def events(n: int, t0: int, t1: int):
    t = np.sort(RNG.integers(t0, t1, n))
    return t, RNG.integers(0, 128, n), RNG.integers(0, 128, n), RNG.integers(0, 2, n)


def write_aedat(path, t, x, y, p) -> None:
    """An AEDAT 3.1 file: ASCII header, then one polarity packet (type 1, 8-byte events)."""
    n = len(t)
    with open(path, "wb") as f:
        f.write(b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n")
        f.write(struct.pack("<HHIIIIII", 1, 1, 8, 4, 0, n, n, n))
        for ti, xi, yi, pi in zip(t, x, y, p, strict=True):
            f.write(struct.pack("<II", (int(xi) << 17) | (int(yi) << 2) | (int(pi) << 1) | 1,
                                int(ti)))


RECORDINGS = {  # name: labelled ranges; events fill 0..3000 µs
    "user01_led": [(1, 0, 1000), (3, 1000, 3000)],
    "user24_led": [(2, 0, 1500), (11, 1500, 3000)],
}


@pytest.fixture
def root(tmp_path):
    base = tmp_path / "dvs_gesture" / "extract" / "DvsGesture"
    base.mkdir(parents=True)
    counts = {}
    for name, ranges in RECORDINGS.items():
        t, x, y, p = events(400, 0, 3000)
        write_aedat(base / f"{name}.aedat", t, x, y, p)
        rows = "\n".join(f"{c},{s},{e}" for c, s, e in ranges)
        (base / f"{name}_labels.csv").write_text(f"class,startTime_usec,endTime_usec\n{rows}\n")
        for c, s, e in ranges:
            counts[(name, c - 1)] = int(((t >= s) & (t < e)).sum())
    (base / "trials_to_train.txt").write_text("user01_led.aedat\n")
    (base / "trials_to_test.txt").write_text("user24_led.aedat\n")
    return tmp_path, counts


def test_converted_split_and_frames(root):
    path, counts = root
    ds = get_dataset("dvs_gesture")
    assert ds.locate(path)[0]
    splits = ds.splits(2, root=str(path))
    assert ds.locate(path)[0] and (path / "dvs_gesture" / "events_np").is_dir()
    train = [splits.train[i] for i in range(len(splits.train))]
    test = [splits.test[i] for i in range(len(splits.test))]
    assert sorted(y for _, y in train) == [0, 2] and sorted(y for _, y in test) == [1, 10]
    for (x, y), name in [(s, "user01_led") for s in train] + [(s, "user24_led") for s in test]:
        assert x.shape == (2, 2, 48, 48)
        # resizing keeps about the mean count per area: the total scales by (48/128)²
        assert float(x.sum()) * (128 / 48) ** 2 == pytest.approx(counts[(name, y)], rel=0.03)
    for (name, label), n in counts.items():  # each labelled range became one sample
        split = "train" if name == "user01_led" else "test"
        (sample,) = (path / "dvs_gesture" / "events_np" / split / str(label)).glob("*.npz")
        with np.load(sample) as z:
            assert len(z["t"]) == n and z["x"].max() < 128
    assert any((path / "dvs_gesture" / "frames_T2_48").rglob("*.npy"))  # cached


def test_missing_files_are_one_line(tmp_path):
    ds = get_dataset("dvs_gesture")
    assert not ds.locate(tmp_path)[0]
    with pytest.raises(DatasetUnavailable) as info:
        ds.check(tmp_path)
    assert "\n" not in str(info.value) and "events_np" in str(info.value)

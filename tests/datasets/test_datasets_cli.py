"""``benches list datasets`` reports, per dataset, whether its files are present and where."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def list_datasets(root: Path) -> dict[str, str]:
    """Each dataset's "present  where" cells, as printed."""
    env = {k: v for k, v in os.environ.items() if k not in ("BENCHES_DATA_ROOT",
                                                            "BENCHES_DOWNLOAD")}
    out = subprocess.run(
        [sys.executable, "-m", "benches", "list", "datasets", "--data-root", str(root)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    header, _, *rows = out.splitlines()
    assert "present" in header and "where" in header
    start = header.index("present")  # "present" and "where" are the last two columns
    return {row.split()[0]: row[start:].strip() for row in rows}


def test_list_datasets_shows_present_and_where(tmp_path):
    cifar = tmp_path / "cifar-10-batches-py"
    cifar.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]:
        (cifar / name).touch()
    (tmp_path / "cifar-100-python").mkdir()
    (tmp_path / "cifar-100-python" / "train").touch()
    rows = list_datasets(tmp_path)
    for name in ("cifar10", "cifar100", "imagenet", "cifar10_dvs", "digits", "digits_dvs"):
        assert name in rows, f"{name} missing from `list datasets`"
    assert rows["cifar10"].startswith("yes") and str(cifar) in rows["cifar10"]
    assert rows["cifar100"].startswith("no") and "missing test, meta" in rows["cifar100"]
    assert rows["imagenet"].startswith("no") and str(tmp_path / "imagenet") in rows["imagenet"]
    assert rows["cifar10_dvs"].startswith("no")
    assert str(tmp_path / "cifar10_dvs") in rows["cifar10_dvs"]
    assert rows["digits_dvs"].startswith("yes") and "embedded" in rows["digits_dvs"]

"""Test configuration: every test starts from the same torch seed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

# The paper tests write their small files with the data-set tests' writers (``from
# test_datasets_cifar import write_cifar10``): their folder is importable from every folder,
# as this one is (pytest puts tests/ on sys.path for helpers.py and the other shared modules).
sys.path.insert(1, str(Path(__file__).resolve().parent / "datasets"))


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield

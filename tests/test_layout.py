"""Dependencies point one way: methods and datasets never import the runner or the site."""

from __future__ import annotations

import ast

import pytest
from conftest import REPO

ALLOWED = {"benches.registry", "benches.cell"}


@pytest.mark.parametrize("package", ["methods", "datasets"])
def test_plugins_import_only_the_plain_data_modules_of_benches(package):
    offenders = []
    for path in (REPO / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names
                          if n.split(".")[0] == "benches" and n not in ALLOWED]
    assert not offenders


def test_one_file_per_method_and_dataset():
    from datasets import list_datasets
    from methods import list_methods

    for name in list_methods():
        assert (REPO / "methods" / f"{name}.py").exists(), name
    for name in list_datasets():
        stem = name if name not in ("cifar10", "cifar100") else "cifar"
        assert (REPO / "datasets" / f"{stem}.py").exists(), name

"""Dependencies point one way: methods and datasets never import the runner or the site."""

from __future__ import annotations

import ast

import pytest
from helpers import REPO

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
    from datasets import get_dataset, list_datasets
    from methods import get_method, list_methods

    for name in list_methods():
        assert get_method(name).__module__ == f"methods.{name}"
    families = {"cifar10": "cifar", "cifar100": "cifar"}  # datasets/cifar.py holds both
    for name in list_datasets():
        module = type(get_dataset(name)).__module__
        assert module == f"datasets.{families.get(name, name)}", (name, module)

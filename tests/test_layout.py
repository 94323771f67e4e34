"""Dependencies point one way: methods and datasets never import the runner or the site."""

from __future__ import annotations

import ast

import pytest
from helpers import BUILTIN_METHODS, REPO

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
    """Every built-in method and dataset lives in its own module (plug-ins live elsewhere)."""
    from datasets import get_dataset, list_datasets
    from methods import get_method, list_methods

    assert set(BUILTIN_METHODS) <= set(list_methods())
    for name in BUILTIN_METHODS:
        assert get_method(name).__module__ == f"methods.{name}"
    families = {"cifar10": "cifar", "cifar100": "cifar"}  # datasets/cifar.py holds both
    builtin = [n for n in list_datasets()
               if type(get_dataset(n)).__module__.startswith("datasets.")]
    assert {"digits", "digits_dvs", "digits_seq", "cifar10", "shd"} <= set(builtin)
    for name in builtin:
        module = type(get_dataset(name)).__module__
        assert module == f"datasets.{families.get(name, name)}", (name, module)

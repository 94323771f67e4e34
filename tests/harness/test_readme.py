"""README promises: the example method works as printed; the test command is what CI runs."""

from __future__ import annotations

import re

import torch
from helpers import REPO, library_lacking

from benches.cell import Cell
from benches.worker.setup import execute
from methods.base import METHODS
from methods.libraries.base import LIBRARIES
from methods.libraries.capabilities import MULTI_STEP

Stepper = library_lacking("stepper", MULTI_STEP, "steps one at a time")
README = (REPO / "README.md").read_text()


def test_readme_method_example_runs():
    block = re.search(r"```python\n(# my_package/tet\.py.*?)```", README, re.S).group(1)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    method = namespace["TETBPTT"]
    METHODS.register(method)
    try:
        recipe = method.recipe_for("common").updated(epochs=2, batch_size=64, lr=0.05, augment=())
        cell = Cell("bptt_tet", "torch", "digits", "convnet_digits", 2, 0,
                    recipe=recipe.to_dict(), params={"lamb": 0.05})
        assert method.supports(cell) == (True, "")
        bad = Cell("bptt_tet", "torch", "digits", "convnet_digits", 2, 0,
                   recipe=recipe.to_dict(), params={"lamb": 2.0})
        assert method.supports(bad) == (False, "lamb must be in [0, 1]")
        assert method.neuron_needs() == {"multi_step"}  # runs on every library that has it
        no_multi = Cell("bptt_tet", "stepper", "digits", "convnet_digits", 2, 0,
                        recipe=recipe.to_dict())
        LIBRARIES.register(Stepper)
        ok, why = method.supports(no_multi)
        assert not ok and why == "bptt_tet cannot run on stepper: library stepper has no " \
            "multi_step (steps one at a time)"
        torch.manual_seed(0)
        metrics = execute(cell)
        assert metrics["test_top1"] > 0.5
    finally:
        METHODS.unregister("bptt_tet")
        LIBRARIES.unregister("stepper")


def test_ci_runs_the_readme_test_command():
    command = re.search(r"(python3? -m )?pytest[^`&;|\n]*", README).group(0).strip()
    assert command in (REPO / ".ci" / "run").read_text()


def test_quick_start_has_exactly_two_commands():
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```\n\s*(.*?)\n\s*```", quick, re.S)
    assert len(commands) == 2
    assert "benches run --matrix default" in commands[0]
    assert "pytest" in commands[1] and '".[test]"' in commands[1]

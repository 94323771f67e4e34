"""A library added by an outside package (entry point ``benches.libraries``) runs the built-in
methods wherever it declares what they need; methods ask for capabilities, never for names."""

from __future__ import annotations

import os
import subprocess
import sys

from helpers import REPO, library_lacking

from benches.cell import Cell
from benches.records import load_records
from methods import get_method
from methods.libraries.capabilities import MULTI_STEP, SINGLE_STEP, STEP_THRESHOLD

PLUGIN = '''
from methods.libraries import Library
from methods.libraries.capabilities import ALL, STEP_THRESHOLD
from methods.libraries.torch import TorchLIF


class WrappedLIF(TorchLIF):
    library = "wrapped"


class Wrapped(Library):
    """The suite's reference neuron under another name, as an outside package would ship it."""
    name = "wrapped"
    description = "the torch LIF, wrapped by an outside package"

    def neuron(self, cfg):
        return WrappedLIF(cfg)


class Stepless(Wrapped):
    """A library whose neurons take no per-step threshold."""
    name = "stepless"
    capabilities = ALL - {STEP_THRESHOLD}
    lacks = {STEP_THRESHOLD: "its neuron has a fixed threshold"}
'''


def plugin_env(root) -> dict[str, str]:
    (root / "benches_wrapped.py").write_text(PLUGIN)
    info = root / "benches_wrapped-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: benches-wrapped\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[benches.libraries]\nwrapped = benches_wrapped:Wrapped\n"
        "stepless = benches_wrapped:Stepless\n")
    return {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{REPO}"}


def test_a_plugged_in_library_runs_bptt_and_rate_m_like_the_reference(tmp_path):
    env = plugin_env(tmp_path)
    out = tmp_path / "results"
    cmd = [sys.executable, "-m", "benches", "run", "--matrix", "default", "--datasets", "digits",
           "--methods", "bptt", "rate_m", "--timesteps", "2", "--seeds", "0", "--epochs", "1",
           "--threads", "1", "--no-site", "--out", str(out)]
    for library in ("wrapped", "torch"):
        done = subprocess.run([*cmd, "--libraries", library], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    records, problems = load_records(out)
    assert not problems and len(records) == 4
    top1 = {(r["cell"]["method"], r["cell"]["library"]): r["metrics"]["test_top1"]
            for r in records if r["status"] == "ok"}
    assert len(top1) == 4, [r["reason"] for r in records]
    for method in ("bptt", "rate_m"):  # the same neuron under another name: the same run
        assert top1[(method, "wrapped")] == top1[(method, "torch")]
    listed = subprocess.run([sys.executable, "-m", "benches", "list", "methods"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120).stdout
    os_row = next(line for line in listed.splitlines() if line.startswith("os "))
    assert "wrapped" in os_row and "stepless" not in os_row


def test_methods_declare_needs_and_libraries_their_capabilities():
    NoThreshold = library_lacking("no_threshold", STEP_THRESHOLD, "fixed threshold")
    lib = NoThreshold()
    assert lib.missing(get_method("bptt").neuron_needs()) is None
    assert lib.missing(get_method("sltt").neuron_needs()) is None
    assert lib.missing(get_method("os").neuron_needs()) == \
        "library no_threshold has no step_threshold (fixed threshold)"
    assert get_method("bptt").neuron_needs() == {MULTI_STEP}
    assert SINGLE_STEP in get_method("rate_m").neuron_needs()
    ok, why = get_method("os").supports(Cell("os", "snntorch", "digits", "convnet_digits", 2, 0))
    assert not ok and "step_threshold" in why and "reset_delay" in why

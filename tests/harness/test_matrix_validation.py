"""Matrix input is checked where it enters: one line naming the file, the grid and the key,
exit 2, before any cell runs."""

from __future__ import annotations

import pytest

from benches.commands import main

BASE = 'description = "x"\n[[grid]]\nmethods = ["sltt_k"]\ndatasets = ["digits"]\n'


@pytest.mark.parametrize("extra, message", [
    ("params = { K = [1, 3] }", "grid 1: params.K is not a parameter of sltt_k"),
    ("params = { k = [1, 7] }", "params.k = 7 is not one of sltt_k's values"),
    ('params = { k = ["2"] }', "params.k = '2' is not one of"),
    ("params = { k = [1, 1] }", "params.k lists 1 twice"),
    ("seeds = [0, 0]", "seeds lists 0 twice"),
    ('timesteps = "4"', "timesteps must be positive integers, got '4'"),
    ("seeds = 1.5", "seeds must be integers"),
    ("timesteps = []", "timesteps is empty"),
    ("recipe = { lrr = 0.1 }", "unknown recipe key(s): lrr"),
    ('recipe = { lr = "fast" }', "lr must be a number, got 'fast'"),
    ("recipe = { epochs = 2.5 }", "epochs must be a whole number, got 2.5"),
    ('recipe = { augment = "flip" }', "augment must be a list of names"),
])
def test_bad_matrix_is_one_line_and_exit_2(tmp_path, capsys, extra, message):
    path = tmp_path / "bad.toml"
    path.write_text(BASE + extra + "\n")
    out = tmp_path / "results"
    assert main(["run", "--matrix", str(path), "--out", str(out), "--no-site"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err and str(path) in err
    assert not out.exists() or not list(out.glob("*.json"))  # nothing ran


def test_a_parameter_of_one_method_is_fine_in_a_mixed_grid(tmp_path, capsys):
    path = tmp_path / "ok.toml"
    path.write_text('description = "x"\n[[grid]]\nmethods = ["bptt", "sltt_k"]\n'
                    'datasets = ["digits"]\nparams = { k = [1, 3] }\n')
    assert main(["run", "--matrix", str(path), "--dry-run", "--list"]) == 0
    out = capsys.readouterr()
    assert "k=1" in out.out + out.err and "k=3" in out.out + out.err

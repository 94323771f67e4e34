"""A grid that names no ``timesteps`` takes a dataset's own T, as it takes its architecture."""

from __future__ import annotations

from benches.plan.matrix import load_matrix
from datasets import get_dataset


def _matrix(tmp_path, grid: str):
    path = tmp_path / "m.toml"
    path.write_text(f"[[grid]]\nmethods = [\"bptt\"]\n{grid}\n")
    return load_matrix(str(path))


def test_digits_seq_without_timesteps_runs_its_own_T(tmp_path):
    assert get_dataset("digits_seq").timesteps == 8
    cells = _matrix(tmp_path, 'datasets = ["digits_seq", "digits"]').cells
    assert {(c.dataset, c.architecture, c.timesteps) for c in cells} == {
        ("digits_seq", "fc_seq", 8), ("digits", "convnet_digits", 4)}


def test_named_timesteps_still_win(tmp_path):
    cells = _matrix(tmp_path, 'datasets = ["digits_seq"]\ntimesteps = [4]').cells
    assert [c.timesteps for c in cells] == [4]  # and the cell is then skipped with the reason
    ok, why = get_dataset("digits_seq").supports(cells[0])
    assert not ok and "T must be 8" in why

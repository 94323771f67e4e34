"""Matrix files expand into the cells they describe."""

from __future__ import annotations

import pytest

from benches.errors import UserError
from benches.matrix import load_matrix, packaged_matrices
from methods import list_methods


def test_default_matrix_covers_every_method_on_both_embedded_datasets():
    cells = load_matrix("default").cells
    digits = [c for c in cells if c.dataset == "digits"]
    assert {c.method for c in digits} == set(list_methods())
    assert {c.timesteps for c in digits} == {2, 4, 8}
    assert len({c.seed for c in digits}) >= 2
    assert any(c.dataset == "digits_dvs" for c in cells)
    for c in cells:
        assert c.recipe["track"] == "common" and c.architecture == "convnet_digits"
        assert c.recipe["epochs"] in (8, 10) and c.recipe["augment"] == []
    assert len(cells) == len({c.key() for c in cells})


def test_overrides_replace_axes_and_set_recipe_keys():
    m = load_matrix("default", {"methods": ["rate_m"], "timesteps": [3], "seeds": [5],
                                "recipe": {"epochs": 1}})
    assert {(c.method, c.timesteps, c.seed) for c in m.cells} == {("rate_m", 3, 5)}
    assert all(c.recipe["epochs"] == 1 for c in m.cells)


def test_paper_track_resolves_the_published_recipe(tmp_path):
    (tmp_path / "p.toml").write_text('[[grid]]\nmethods = ["rate_m", "sltt", "bptt_reset"]\n'
                                     'datasets = ["digits"]\ntracks = ["paper"]\n')
    by_method = {c.method: c.recipe for c in load_matrix(str(tmp_path / "p.toml")).cells}
    assert by_method["rate_m"]["tau"] == 1.25 and by_method["rate_m"]["grad_scale_by_T"]
    assert not by_method["rate_m"]["decay_norm_and_bias"]
    assert by_method["sltt"]["surrogate"] == "triangle" and by_method["sltt"]["tau"] == 1.1
    assert by_method["bptt_reset"]["detach_reset"] is False
    assert all(r["epochs"] == 8 for r in by_method.values())  # digits' own budget


def test_method_parameters_form_a_grid_only_for_methods_that_have_them(tmp_path):
    (tmp_path / "k.toml").write_text('[[grid]]\nmethods = ["sltt_k", "bptt"]\n'
                                     'datasets = ["digits"]\nparams = { k = [1, 3] }\n')
    cells = load_matrix(str(tmp_path / "k.toml")).cells
    assert sorted((c.method, c.params.get("k")) for c in cells) == [
        ("bptt", None), ("sltt_k", 1), ("sltt_k", 3)]


def test_every_packaged_matrix_loads():
    for name in packaged_matrices():
        assert load_matrix(name).cells, name


@pytest.mark.parametrize("text, message", [
    ('[[grid]]\nmethods = ["bptt"]\ndatasets = ["digits"]\ntimesteps = [-2]\n', "positive"),
    ('[[grid]]\nmethods = []\ndatasets = ["digits"]\n', "empty"),
    ('[[grid]]\nmethods = ["bptt"]\ndatasets = ["digits"]\nmode = "fast"\n', "unknown mode"),
    ('[[grid]]\nmethods = ["bptt"]\ndatasets = ["digits"]\nrecipe = { reset = "none" }\n',
     "reset"),
])
def test_invalid_matrices_raise_user_errors(tmp_path, text, message):
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(UserError, match=message):
        load_matrix(str(tmp_path / "bad.toml"))

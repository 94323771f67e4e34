"""Matrix files expand into the cells they describe."""

from __future__ import annotations

import pytest
from helpers import BUILTIN_METHODS

from benches.errors import UserError
from benches.plan.matrix import load_matrix, packaged_matrices


def test_default_matrix_covers_every_method_on_both_embedded_datasets():
    cells = load_matrix("default").cells
    digits = [c for c in cells if c.dataset == "digits"]
    newer = {"bptt_ckpt", "fptt", "ndot_a", "ndot_o"}  # on digits_seq only (time budget)
    assert {c.method for c in digits} == set(BUILTIN_METHODS) - newer  # plug-ins are not in it
    assert {c.timesteps for c in digits} == {2, 4, 8}
    assert {c.seed for c in digits} == {0}  # saturated: one seed shows cost vs T
    assert any(c.dataset == "digits_dvs" for c in cells)
    seq = [c for c in cells if c.dataset == "digits_seq"]  # the temporal task, 5 seeds
    assert {c.method for c in seq} == set(BUILTIN_METHODS) and len(seq) == 13 * 5
    assert {c.timesteps for c in seq} == {8}
    for c in cells:
        assert c.recipe["track"] == "common"
        assert c.architecture == ("fc_seq" if c.dataset == "digits_seq" else "convnet_digits")
        assert c.recipe["epochs"] in (8, 10, 20) and c.recipe["augment"] == []
    assert len(cells) == len({c.key() for c in cells})


def test_named_overrides_narrow_a_matrix_that_names_them():
    cells = load_matrix("default", {"datasets": ["digits"], "methods": ["bptt"]}).cells
    assert sorted(c.timesteps for c in cells) == [2, 4, 8]  # not digits_seq's grid as digits
    assert {(c.dataset, c.method, c.recipe["epochs"]) for c in cells} == {("digits", "bptt", 8)}
    seq = load_matrix("default", {"methods": ["fptt"]}).cells  # only digits_seq's grid has it
    assert {c.dataset for c in seq} == {"digits_seq"} and len(seq) == 5


def test_narrowing_methods_drops_the_params_of_the_methods_that_left():
    cells = load_matrix("efficiency", {"methods": ["bptt"]}).cells
    assert cells and all(c.method == "bptt" and not c.params for c in cells)
    ckpt = load_matrix("efficiency", {"methods": ["bptt_ckpt"]}).cells
    assert {c.params.get("segments") for c in ckpt} >= {1, 2, 4}


def test_overrides_replace_axes_and_set_recipe_keys():
    m = load_matrix("default", {"methods": ["rate_m"], "timesteps": [3], "seeds": [5],
                                "recipe": {"epochs": 1}})
    assert {(c.method, c.timesteps, c.seed) for c in m.cells} == {("rate_m", 3, 5)}
    assert all(c.recipe["epochs"] == 1 for c in m.cells)


def test_paper_track_resolves_each_method_s_published_setup(tmp_path):
    (tmp_path / "p.toml").write_text(
        '[[grid]]\nmethods = ["rate_m", "sltt", "sltt_k", "bptt_reset"]\n'
        'datasets = ["cifar100", "digits"]\ntracks = ["paper"]\narchitectures = ["resnet18"]\n'
        'timesteps = [4]\n')
    cells = load_matrix(str(tmp_path / "p.toml")).cells
    by_method = {c.method: c.recipe for c in cells}
    # nothing published on digits, no SLTT-K command on CIFAR, no paper for bptt_reset
    assert {(c.method, c.dataset) for c in cells} == {("rate_m", "cifar100"),
                                                      ("sltt", "cifar100")}
    assert by_method["rate_m"]["tau"] == 1.25 and by_method["rate_m"]["grad_scale_by_T"]
    assert not by_method["rate_m"]["decay_norm_and_bias"]
    assert by_method["rate_m"]["augment"] == ["crop", "flip", "autoaugment",
                                              "cutout_before_normalize"]
    assert by_method["sltt"]["surrogate"] == "triangle" and by_method["sltt"]["tau"] == 1.1
    assert by_method["sltt"]["weight_decay"] == 5e-4 and by_method["sltt"]["epochs"] == 200
    sltt = next(c for c in cells if c.method == "sltt")
    assert (sltt.architecture, sltt.timesteps, sltt.precision) == ("resnet18", 4, "bf16")


def test_published_rows_filtered_by_the_given_axes(tmp_path):
    (tmp_path / "p.toml").write_text(
        '[[grid]]\nmethods = ["rate_m", "os", "sltt_k"]\ndatasets = ["cifar10", "dvs_gesture"]\n'
        'tracks = ["paper"]\nrows = "published"\n')
    cells = load_matrix(str(tmp_path / "p.toml")).cells
    assert sorted((c.method, c.dataset, c.architecture, c.timesteps, c.params.get("k"))
                  for c in cells) == [
        ("os", "cifar10", "os_resnet19", 4, None), ("os", "cifar10", "vgg11", 4, None),
        ("rate_m", "cifar10", "resnet18", 2, None), ("rate_m", "cifar10", "resnet18", 4, None),
        ("rate_m", "cifar10", "resnet18", 6, None), ("sltt_k", "dvs_gesture", "vgg11_bn", 20, 4)]
    only = load_matrix(str(tmp_path / "p.toml"), {"timesteps": [4]}).cells
    assert sorted((c.method, c.architecture) for c in only) == [
        ("os", "os_resnet19"), ("os", "vgg11"), ("rate_m", "resnet18")]
    (tmp_path / "bad.toml").write_text('[[grid]]\nmethods = ["os"]\ndatasets = ["cifar10"]\n'
                                       'rows = "published"\n')
    with pytest.raises(UserError, match=r'needs tracks = \["paper"\]'):
        load_matrix(str(tmp_path / "bad.toml"))


def test_method_parameters_form_a_grid_only_for_methods_that_have_them(tmp_path):
    (tmp_path / "k.toml").write_text('[[grid]]\nmethods = ["sltt_k", "bptt"]\n'
                                     'datasets = ["digits"]\nparams = { k = [1, 3] }\n')
    cells = load_matrix(str(tmp_path / "k.toml")).cells
    assert sorted((c.method, c.params.get("k")) for c in cells) == [
        ("bptt", None), ("sltt_k", 1), ("sltt_k", 3)]


def test_precision_and_compile_are_axes_applied_alike_to_every_method(tmp_path):
    (tmp_path / "x.toml").write_text(
        '[[grid]]\nmethods = ["bptt", "os"]\ndatasets = ["synthetic_cifar"]\n'
        'precision = ["fp32", "bf16"]\ncompile = [false, true]\n')
    cells = load_matrix(str(tmp_path / "x.toml")).cells
    assert sorted((c.method, c.precision, c.compile) for c in cells) == [
        (m, p, c) for m in ("bptt", "os") for p in ("bf16", "fp32") for c in (False, True)]
    assert len({c.key() for c in cells}) == 8
    only_bf16 = load_matrix(str(tmp_path / "x.toml"), {"precision": ["bf16"], "compile": [True]})
    assert {(c.precision, c.compile) for c in only_bf16.cells} == {("bf16", True)}


def test_records_written_before_precision_and_compile_keep_their_keys():
    """A record of schema 1 written before the two fields existed names its file by the hash of
    a cell dict without them; it must still validate and be found by ``--resume``."""
    import hashlib
    import json

    from benches.cell import Cell

    cell = load_matrix("smoke").cells[0]
    later = ("precision", "compile", "gpus_per_cell", "nodes")  # fields added since
    old = {k: v for k, v in cell.to_dict().items() if k not in later}
    blob = json.dumps(old, sort_keys=True, separators=(",", ":"), default=str)
    assert Cell.from_dict(old).key() == hashlib.sha256(blob.encode()).hexdigest()[:16]
    bf16 = Cell.from_dict({**old, "precision": "bf16"})
    assert bf16.key() != cell.key() and "bf16" in bf16.label()


def test_every_packaged_matrix_loads():
    for name in packaged_matrices():
        assert load_matrix(name).cells, name


@pytest.mark.parametrize("text, message", [
    ('[[grid]]\nmethods = ["bptt"]\ndatasets = ["digits"]\ntimesteps = [-2]\n', "positive"),
    ('[[grid]]\nmethods = []\ndatasets = ["digits"]\n', "empty"),
    ('[[grid]]\nmethods = ["bptt"]\ndatasets = ["digits"]\nmode = "fast"\n', "unknown mode"),
    ('[[grid]]\nmethods = ["bptt"]\ndatasets = ["digits"]\nrecipe = { reset = "none" }\n',
     "reset"),
    ('[[grid]]\nmethods = ["bptt"]\ndatasets = ["digits"]\nprecision = ["fp16"]\n',
     "unknown precision"),
    ('[[grid]]\nmethods = ["bptt"]\ndatasets = ["digits"]\ncompile = ["yes"]\n',
     "compile must be true or false"),
])
def test_invalid_matrices_raise_user_errors(tmp_path, text, message):
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(UserError, match=message):
        load_matrix(str(tmp_path / "bad.toml"))


def test_recipes_carry_every_neuron_constant_with_its_default():
    from dataclasses import fields

    from methods.recipes import Recipe
    from methods.snn.config import LIFConfig

    recipe = {f.name: f.default for f in fields(Recipe)}
    for f in fields(LIFConfig):
        assert recipe[f.name] == f.default, f.name
    assert Recipe(tau=3.0, reset="hard").lif() == LIFConfig(tau=3.0, reset="hard")


def test_tracks_narrow_a_matrix_that_has_both():
    both = load_matrix("paper", {"methods": ["bptt"], "datasets": ["imagenet"]}).cells
    paper = load_matrix("paper", {"methods": ["bptt"], "datasets": ["imagenet"],
                                  "tracks": ["paper"]}).cells
    assert {c.recipe["track"] for c in both} == {"common", "paper"}
    assert paper and {c.recipe["track"] for c in paper} == {"paper"}
    assert {c.key() for c in paper} < {c.key() for c in both}

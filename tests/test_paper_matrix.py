"""The ``paper`` matrix: the published comparison, expanded (no training), and reported.csv."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
import torch
from helpers import BUILTIN_METHODS

from benches.matrix import load_matrix
from datasets import get_dataset
from methods import get_method
from methods.architectures import get_architecture, list_architectures
from methods.libraries import get_library
from methods.snn.config import LIFConfig
from methods.snn.functional import reset_states, set_step_mode
from methods.snn.layers import LayerFactory

REPORTED = Path(__file__).resolve().parent.parent / "benches" / "data" / "reported.csv"

METHODS = ["bptt", "bptt_reset", "ottt_a", "ottt_o", "sltt", "sltt_k", "os", "rate_s", "rate_m"]
TRACKS = ("common", "paper")
CIFAR = ("cifar10", "cifar100")

# (dataset, architecture, T) → seeds
POINTS = {
    **{(d, "resnet18", t): (0, 1, 2) for d in CIFAR for t in (2, 4, 6)},
    **{(d, a, 4): (0, 1, 2) for d in CIFAR for a in ("resnet19", "vggsnn")},
    **{(d, "vgg11", 6): (0, 1, 2) for d in CIFAR},
    ("imagenet", "resnet34", 4): (0,),
    ("imagenet", "nf_resnet34", 4): (0,),
    ("imagenet", "nf_resnet34", 6): (0,),  # OTTT's published ImageNet point (reported.csv)
    ("cifar10_dvs", "vggsnn", 10): (0, 1, 2),
    **{("dvs_gesture", a, 20): (0, 1, 2) for a in ("vgg11", "vggsnn")},
}

# Cells per (method, track): seeds summed over the points
#   CIFAR-10/100, resnet18, T = 2, 4, 6:     2 · 3 · 3 seeds = 18
#   CIFAR-10/100, resnet19 and vggsnn, T = 4: 2 · 2 · 3     = 12
#   CIFAR-10/100, vgg11, T = 6:               2 · 3         =  6
#   ImageNet, resnet34 and nf_resnet34, T = 4: 2 · 1 seed   =  2
#   ImageNet, nf_resnet34, T = 6:              1 · 1        =  1
#   CIFAR10-DVS, vggsnn, T = 10:               3            =  3
#   DVS128 Gesture, vgg11 and vggsnn, T = 20:  2 · 3        =  6
#                                                             48
# × 9 methods × 2 tracks = 864.
CELLS = 48 * 9 * 2

# reported.csv's method names → the methods that implement them
FAMILIES = {
    "bptt": {"bptt", "bptt_reset"},
    "rate": {"rate_m", "rate_s"},
    "os": {"os"},
    "ottt": {"ottt_a", "ottt_o"},
    "sltt": {"sltt", "sltt_k"},
}


@pytest.fixture(scope="module")
def matrix():
    return load_matrix("paper")


def reported_rows() -> list[dict]:
    with REPORTED.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_cell_count(matrix):
    assert sum(len(seeds) for seeds in POINTS.values()) == 48
    assert len(matrix.cells) == CELLS
    assert len({c.key() for c in matrix.cells}) == CELLS


def test_description_and_timeout(matrix):
    assert matrix.description
    assert matrix.timeout_s >= 172_800  # multi-hour to multi-day cells


def test_every_point_for_every_method_and_track(matrix):
    assert sorted(METHODS) == sorted(BUILTIN_METHODS)  # every built-in method, no plug-in
    seeds = defaultdict(set)
    for c in matrix.cells:
        assert (c.library, c.device, c.mode) == ("torch", "cuda", "train")
        assert (c.precision, c.compile, c.params) == ("fp32", False, {})
        seeds[(c.dataset, c.architecture, c.timesteps, c.method, c.recipe["track"])].add(c.seed)
    expected = {
        (*point, method, track): set(point_seeds)
        for point, point_seeds in POINTS.items() for method in METHODS for track in TRACKS
    }
    assert dict(seeds) == expected


def test_seeds(matrix):
    for c in matrix.cells:
        assert c.seed in ((0,) if c.dataset == "imagenet" else (0, 1, 2))


def test_paper_track_carries_the_paper_budget(matrix):
    differs = set()
    for c in matrix.cells:
        dataset = get_dataset(c.dataset)
        budget = dataset.paper_budget
        assert budget, f"{c.dataset} has no paper budget"
        method = get_method(c.method)
        track = c.recipe["track"]
        expected = method.recipe_for(track).updated(**dataset.recipe_defaults)
        if track == "paper":
            expected = expected.updated(**budget)
            for key, value in budget.items():
                want = list(value) if key == "augment" else value
                assert c.recipe[key] == want, (c.method, c.dataset, key)
        elif any(c.recipe[k] != (list(v) if k == "augment" else v) for k, v in budget.items()):
            differs.add(c.dataset)
        assert c.recipe == expected.to_dict()
    # the common track's own budget differs from the published one, except on CIFAR10-DVS,
    # whose common budget (300 epochs, batch 128, cosine, flip + roll) happens to be the same
    assert differs == {"cifar10", "cifar100", "imagenet", "dvs_gesture"}


def test_paper_budgets_are_valid_recipes():
    for name in ("cifar10", "cifar100", "imagenet", "cifar10_dvs", "dvs_gesture"):
        dataset = get_dataset(name)
        recipe = get_method("bptt").recipe_for("paper").updated(**dataset.paper_budget)
        assert set(recipe.augment) <= set(dataset.augmentations)


def test_reported_architectures_are_registered():
    names = list_architectures()
    for row in reported_rows():
        if row["architecture"]:
            assert row["architecture"] in names, row


def test_reported_points_are_covered(matrix):
    cells = {(c.dataset, c.method, c.architecture, c.timesteps) for c in matrix.cells}
    covered = 0
    for row in reported_rows():
        if not (row["architecture"] and row["T"]):
            continue
        assert row["method"] in FAMILIES, row
        assert any((row["dataset"], m, row["architecture"], int(row["T"])) in cells
                   for m in FAMILIES[row["method"]]), row
        covered += 1
    assert covered > 0


def test_architectures_fit_their_datasets(matrix):
    """vggsnn was published for 48×48 DVS frames; on 32×32 CIFAR its flattened readout sees a
    2×2 map (512·4 features) and still gives logits."""
    factory = LayerFactory(get_library("torch"), LIFConfig())
    for dataset_name, arch in sorted({(c.dataset, c.architecture) for c in matrix.cells}):
        dataset = get_dataset(dataset_name)
        model = get_architecture(arch).build(factory, dataset.in_shape, dataset.num_classes)
        if dataset.in_shape[1] <= 48:
            set_step_mode(model, "m", 1)
            reset_states(model)
            with torch.no_grad():
                out = model(torch.rand(1, *dataset.in_shape))
            assert out.shape == (1, dataset.num_classes)

"""The ``paper`` matrix: the published comparison, expanded (no training), and reported.csv."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
import torch
from helpers import BUILTIN_METHODS

from benches.plan.matrix import load_matrix
from datasets import get_dataset
from methods import get_method
from methods.architectures import get_architecture, list_architectures
from methods.libraries import get_library
from methods.paper_recipes import paper_setup
from methods.snn.config import LIFConfig
from methods.snn.functional import reset_states, set_step_mode
from methods.snn.layers import LayerFactory

REPORTED = Path(__file__).resolve().parents[2] / "benches" / "data" / "reported.csv"

METHODS = ["bptt", "bptt_reset", "ottt_a", "ottt_o", "sltt", "sltt_k", "os", "rate_s", "rate_m",
           "bptt_ckpt", "fptt", "ndot_a", "ndot_o"]
TRACKS = ("common", "paper")
CIFAR = ("cifar10", "cifar100")

# Common track: the shared grid, every method. (dataset, architecture, T) → seeds
COMMON_POINTS = {
    **{(d, "resnet18", t): (0, 1, 2) for d in CIFAR for t in (2, 4, 6)},
    **{(d, a, 4): (0, 1, 2) for d in CIFAR for a in ("resnet19", "vggsnn")},
    **{(d, "vgg11", 6): (0, 1, 2) for d in CIFAR},
    ("imagenet", "resnet34", 4): (0,),
    ("imagenet", "nf_resnet34", 4): (0,),
    ("imagenet", "nf_resnet34", 6): (0,),
    ("cifar10_dvs", "vggsnn", 10): (0, 1, 2),
    **{("dvs_gesture", a, 20): (0, 1, 2) for a in ("vgg11", "vggsnn")},
}
# Cells per method on the common track: 18 + 12 + 6 (CIFAR) + 3 (ImageNet, 1 seed)
# + 3 (CIFAR10-DVS) + 6 (DVS128 Gesture) = 48.

# Paper track: each method's own published points, written out here from the papers' code
# (methods/paper_recipes.toml gives each row's source). (method, dataset) → (architecture, T)
RATE_BP = {"cifar10": [("resnet18", 2), ("resnet18", 4), ("resnet18", 6)],
           "cifar100": [("resnet18", 2), ("resnet18", 4), ("resnet18", 6)],
           "imagenet": [("resnet34", 4)], "cifar10_dvs": [("vggsnn", 10)]}
OTTT = {"cifar10": [("vgg11", 6)], "cifar100": [("vgg11", 6)], "imagenet": [("nf_resnet34", 6)],
        "cifar10_dvs": [("vgg11", 10)], "dvs_gesture": [("vgg11", 20)]}
SLTT = {"cifar10": [("preact_resnet18", 6)], "cifar100": [("preact_resnet18", 6)],
        "imagenet": [("nf_resnet34", 6)], "cifar10_dvs": [("vgg11_bn", 10)],
        "dvs_gesture": [("vgg11_bn", 20)]}
OS = {"cifar10": [("vgg11", 4), ("os_resnet19", 4)], "cifar100": [("vgg11", 4), ("os_resnet19", 4)],
      "imagenet": [("resnet34", 4), ("nf_resnet34", 4)], "cifar10_dvs": [("vgg11", 10)]}
NDOT = {"cifar10": [("vgg11", 4), ("vgg11", 6)], "cifar100": [("vgg11", 4), ("vgg11", 6)],
        "cifar10_dvs": [("vgg11", 10)]}
PAPER_POINTS = {
    **{(m, d): rows for m in ("bptt", "rate_s", "rate_m") for d, rows in RATE_BP.items()},
    **{(m, d): rows for m in ("ottt_a", "ottt_o") for d, rows in OTTT.items()},
    **{("sltt", d): rows for d, rows in SLTT.items()},
    **{("sltt_k", d): rows for d, rows in SLTT.items() if d not in CIFAR},  # no CIFAR command
    **{("os", d): rows for d, rows in OS.items()},
    **{(m, d): rows for m in ("ndot_a", "ndot_o") for d, rows in NDOT.items()},
}
SLTT_K = {"cifar10_dvs": 2, "dvs_gesture": 4, "imagenet": 2}  # the README's -K
NDOT_O_REG = {"cifar10_dvs": 0.05}  # train_cifar10dvs.py --reg_lambda (with --online_update)


def seeds_of(dataset: str) -> tuple[int, ...]:
    return (0,) if dataset == "imagenet" else (0, 1, 2)


# reported.csv's method names → the methods that implement them
FAMILIES = {
    "bptt": {"bptt", "bptt_reset"},
    "rate": {"rate_m", "rate_s"},
    "os": {"os"},
    "ottt": {"ottt_a", "ottt_o"},
    "sltt": {"sltt", "sltt_k"},
    "ndot_a": {"ndot_a"},
    "ndot_o": {"ndot_o"},
}


@pytest.fixture(scope="module")
def matrix():
    return load_matrix("paper")


def reported_rows() -> list[dict]:
    with REPORTED.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_cell_count(matrix):
    common = sum(len(s) for s in COMMON_POINTS.values()) * len(METHODS)
    paper = sum(len(rows) * len(seeds_of(d)) for (_, d), rows in PAPER_POINTS.items())
    assert (common, paper) == (48 * 13, 159)
    assert len(matrix.cells) == common + paper
    assert len({c.key() for c in matrix.cells}) == common + paper


def test_description_and_timeout(matrix):
    assert matrix.description
    assert matrix.timeout_s >= 172_800  # multi-hour to multi-day cells


def test_common_track_is_the_shared_grid_for_every_method(matrix):
    assert sorted(METHODS) == sorted(BUILTIN_METHODS)  # every built-in method, no plug-in
    seeds = defaultdict(set)
    for c in matrix.cells:
        assert (c.library, c.device, c.mode, c.compile) == ("torch", "cuda", "train", False)
        if c.recipe["track"] == "common":
            assert (c.precision, c.params) == ("fp32", {})
            assert c.recipe == get_method(c.method).recipe_for("common").updated(
                **get_dataset(c.dataset).recipe_defaults).to_dict()
            seeds[(c.dataset, c.architecture, c.timesteps, c.method)].add(c.seed)
    assert dict(seeds) == {(*point, m): set(s) for point, s in COMMON_POINTS.items()
                           for m in METHODS}


def test_paper_track_is_each_method_s_own_published_setup(matrix):
    seeds = defaultdict(set)
    for c in matrix.cells:
        if c.recipe["track"] != "paper":
            continue
        setup = paper_setup(c.method, c.dataset)
        assert setup is not None
        assert c.recipe == setup.recipe().to_dict()
        assert c.precision == ("bf16" if c.method in ("sltt", "sltt_k") else "fp32")  # -amp
        if c.method == "sltt_k":
            assert c.params == {"k": SLTT_K[c.dataset]}
        elif c.method == "ndot_o" and c.dataset in NDOT_O_REG:
            assert c.params == {"reg_lambda": NDOT_O_REG[c.dataset]}
        else:
            assert c.params == {}
        seeds[(c.method, c.dataset, c.architecture, c.timesteps)].add(c.seed)
    assert dict(seeds) == {(m, d, a, t): set(seeds_of(d)) for (m, d), rows in PAPER_POINTS.items()
                           for a, t in rows}


def test_methods_without_a_published_setup_run_on_the_common_track_only(matrix):
    paper = {(c.method, c.dataset) for c in matrix.cells if c.recipe["track"] == "paper"}
    assert not any(m == "bptt_reset" for m, _ in paper)
    assert ("sltt_k", "cifar10") not in paper and ("os", "dvs_gesture") not in paper
    assert ("bptt_reset", "cifar10") in {(c.method, c.dataset) for c in matrix.cells}


def test_seeds(matrix):
    for c in matrix.cells:
        assert c.seed in seeds_of(c.dataset)


def test_reported_architectures_are_registered():
    names = list_architectures()
    for row in reported_rows():
        if row["architecture"]:
            assert row["architecture"] in names, row


def test_reported_points_are_covered_by_the_paper_track(matrix):
    cells = {(c.dataset, c.method, c.architecture, c.timesteps) for c in matrix.cells
             if c.recipe["track"] == "paper"}
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
    2×2 map (512·4 features) and still gives logits. Inputs up to 48×48 are run (batch 2:
    os_resnet19's head normalises over the batch)."""
    factory = LayerFactory(get_library("torch"), LIFConfig())
    points = {(c.dataset, c.architecture, c.recipe["resolution"]) for c in matrix.cells}
    for dataset_name, arch, resolution in sorted(points):
        dataset = get_dataset(dataset_name)
        shape = dataset.input_shape(**{k: v for k, v in {"resolution": resolution}.items()
                                       if k in dataset.options})
        model = get_architecture(arch).build(factory, shape, dataset.num_classes)
        if shape[1] <= 48:
            set_step_mode(model, "m", 1)
            reset_states(model)
            with torch.no_grad():
                out = model(torch.rand(2, *shape))
            assert out.shape == (2, dataset.num_classes)

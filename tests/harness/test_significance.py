"""Pairwise tests over seeds, Holm's correction, letter groups and the detectable difference,
checked against hand-computed values and scipy; and the pairing they rely on (same seed: same
initial weights for every method with the same network)."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from benches.cell import Cell
from benches.report.significance import (
    ALPHA,
    PairTest,
    detectable_difference,
    holm,
    letter_groups,
    pair_test,
    pairwise_tests,
)
from benches.worker.modes.common import build_model, seed_everything
from datasets import get_dataset
from methods import get_method


def test_paired_test_is_scipy_ttest_rel_on_shared_seeds():
    a = {0: 0.80, 1: 0.82, 2: 0.79, 3: 0.85}
    b = {0: 0.78, 1: 0.80, 2: 0.79, 3: 0.81, 7: 0.5}  # seed 7 has no partner
    t = pair_test("a", a, "b", b)
    expected = stats.ttest_rel([0.80, 0.82, 0.79, 0.85], [0.78, 0.80, 0.79, 0.81]).pvalue
    assert t.test == "paired t" and t.n == 4
    assert t.p == pytest.approx(expected, rel=1e-12)
    assert t.difference == pytest.approx((0.02 + 0.02 + 0.0 + 0.04) / 4)


def test_welch_without_shared_seeds_and_too_few_seeds():
    t = pair_test("a", {0: 0.8, 1: 0.9, 2: 0.85}, "b", {5: 0.7, 6: 0.75})
    assert t.test == "Welch t"
    assert t.p == pytest.approx(stats.ttest_ind([0.8, 0.9, 0.85], [0.7, 0.75],
                                                equal_var=False).pvalue)
    one = pair_test("a", {0: 0.8}, "b", {0: 0.7})
    assert one.test == "too few seeds" and math.isnan(one.p) and not one.differs


def test_constant_differences():
    assert pair_test("a", {0: 0.5, 1: 0.6}, "b", {0: 0.5, 1: 0.6}).p == 1.0
    assert pair_test("a", {0: 0.6, 1: 0.7}, "b", {0: 0.5, 1: 0.6}).p == 0.0


def test_holm_by_hand():
    # sorted 0.01, 0.02, 0.04 → 3·0.01, max(0.03, 2·0.02), max(0.04, 1·0.04); NaN untouched
    assert holm([0.04, 0.01, math.nan, 0.02]) == pytest.approx([0.04, 0.03, math.nan, 0.04],
                                                                nan_ok=True)
    assert holm([0.5, 0.9]) == [1.0, 1.0]


def test_pairwise_tests_adjust_together():
    values = {"x": {0: 0.9, 1: 0.91, 2: 0.92}, "y": {0: 0.5, 1: 0.52, 2: 0.49},
              "z": {0: 0.89, 1: 0.92, 2: 0.92}}
    tests = {(t.a, t.b): t for t in pairwise_tests(values)}
    assert set(tests) == {("x", "y"), ("x", "z"), ("y", "z")}
    raw = [t.p for t in tests.values()]
    assert [t.p_adjusted for t in tests.values()] == pytest.approx(holm(raw))
    assert tests[("x", "y")].differs and not tests[("x", "z")].differs


def _t(a: str, b: str, differs: bool) -> PairTest:
    return PairTest(a, b, 3, 0.0, "paired t", 0.0, 0.01 if differs else 0.5)


def test_letter_groups_overlap():
    # a ~ b, b ~ c, a ≠ c, everything ≠ d: groups {a, b}, {b, c}, {d}
    tests = [_t("a", "b", False), _t("b", "c", False), _t("a", "c", True),
             _t("a", "d", True), _t("b", "d", True), _t("c", "d", True)]
    assert letter_groups(["a", "b", "c", "d"], tests) == {"a": "a", "b": "ab", "c": "b",
                                                            "d": "c"}
    assert letter_groups(["a", "b"], [_t("a", "b", False)]) == {"a": "a", "b": "a"}


def test_detectable_difference():
    t = stats.t
    expected = (t.ppf(1 - ALPHA / 2, 4) + t.ppf(0.8, 4)) * 0.01 / math.sqrt(5)
    assert detectable_difference(0.01, 5) == pytest.approx(expected)
    assert detectable_difference(0.01, 1) is None
    assert detectable_difference(0.01, 3) > detectable_difference(0.01, 10)


@pytest.mark.parametrize("dataset, arch, T", [("digits_seq", "fc_seq", 8),
                                              ("digits", "convnet_digits", 4)])
def test_a_seed_gives_the_same_initial_weights_across_methods(dataset, arch, T):
    """What the pairing rests on: with the same network, the same seed, the same weights."""
    def weights(method: str) -> torch.Tensor:
        seed_everything(3)
        m = get_method(method)(Cell(method, "torch", dataset, arch, T, 3))
        model = build_model(m, get_dataset(dataset), torch.device("cpu"))
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    reference = weights("bptt")
    for method in ("rate_m", "sltt", "os", "bptt_reset", "fptt"):
        assert torch.equal(weights(method), reference), method


def test_letters_share_exactly_when_no_difference_was_found():
    """Insert-absorb's guarantee, on 300 random patterns of significant pairs over 6 methods
    (the consecutive-run shortcut breaks it where a difference skips a method)."""
    import itertools
    import random

    rng = random.Random(0)
    names = list("uvwxyz")
    for _ in range(300):
        tests = [_t(a, b, rng.random() < 0.4) for a, b in itertools.combinations(names, 2)]
        letters = letter_groups(names, tests)
        for t in tests:
            shared = bool(set(letters[t.a]) & set(letters[t.b]))
            assert shared == (not t.differs), (t.a, t.b, letters)
        assert all(letters[n] for n in names) and "a" in letters["u"]

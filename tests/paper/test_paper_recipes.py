"""The paper setups file (methods/paper_recipes.toml), ``show --recipe`` and what the site says."""

from __future__ import annotations

import pytest
from helpers import make_cell, run_cli
from site_records import ENV

from benches.records import make_record, write_record
from benches.site import render_site
from benches.worker.cell_process import about
from methods import get_method
from methods.paper_recipes import (
    ONLY_FOR,
    RECIPE_KEYS,
    PaperRecipesError,
    _values,
    all_setups,
    paper_setup,
    published_datasets,
)


def test_every_setup_gives_every_value_with_a_source_or_a_reason():
    setups = all_setups()
    assert len(setups) == 40  # rate-BP 3 methods × 4 datasets, OTTT 2 × 5, SLTT 5 + 4, OS 4,
    # NDOT 2 × 3
    for setup in setups:
        assert setup.rows and setup.paper and setup.code
        for key, value in setup.values.items():
            assert value.source.strip(), (setup.method, setup.dataset, key)
            if value.choice:
                assert value.source.startswith("suite's choice"), (setup.method, key)
        needed = RECIPE_KEYS - {"stages"} - {k for k, only in ONLY_FOR.items()
                                             if setup.method not in only}
        if setup.recipe().loss != "tet":  # TET's λ and φ matter only with the TET loss
            needed -= {"tet_lambda", "tet_phi"}
        assert needed <= set(setup.values), (setup.method, setup.dataset)
        setup.recipe()  # every value is a valid recipe value


def test_published_facts_the_issue_names():
    assert paper_setup("sltt", "cifar100").recipe().weight_decay == 5e-4
    imagenet = {m: paper_setup(m, "imagenet").recipe() for m in ("rate_m", "ottt_a", "os")}
    assert [imagenet[m].weight_decay for m in ("rate_m", "ottt_a", "os")] == [2e-5, 2e-5, 2e-5]
    assert imagenet["rate_m"].batch_size == 512 and imagenet["rate_m"].lr == 0.2
    assert imagenet["ottt_a"].loss == "ce" and paper_setup("sltt", "imagenet").recipe().loss == "ce"
    assert [s["timesteps"] for s in paper_setup("sltt", "imagenet").recipe().stages] == [1, 6]
    dvs = {m: paper_setup(m, "cifar10_dvs").recipe() for m in ("ottt_a", "sltt", "os")}
    assert [dvs[m].dropout for m in ("ottt_a", "sltt", "os")] == [0.1, 0.3, 0.1]
    assert dvs["ottt_a"].mse_weight == dvs["os"].mse_weight == 0.001
    assert (dvs["sltt"].lr, dvs["sltt"].weight_decay, dvs["sltt"].epochs,
            dvs["sltt"].mse_target) == (0.05, 5e-4, 300, "onehot")
    assert (dvs["os"].osr_eps, dvs["os"].osr_bound) == (1e-4, 50.0)
    for method in ("ottt_a", "sltt", "os"):
        assert "cutout_torchtoolbox" in paper_setup(method, "cifar10").recipe().augment
    assert paper_setup("sltt", "cifar10").rows[0].architecture == "preact_resnet18"
    assert paper_setup("sltt_k", "cifar10") is None and paper_setup("bptt_reset", "cifar10") is None
    assert published_datasets("bptt_reset") == {}


def test_a_value_without_a_source_or_an_unknown_key_is_refused():
    with pytest.raises(PaperRecipesError, match="exactly one of source and choice"):
        _values("ottt", "cifar10", {"lr": {"value": 0.1}})
    with pytest.raises(PaperRecipesError, match="unknown key"):
        _values("ottt", "cifar10", {"learning_rate": {"value": 0.1, "source": "x"}})


def test_the_paper_track_of_a_dataset_without_a_setup_is_refused():
    with pytest.raises(ValueError, match="no published setup on digits"):
        get_method("rate_m").recipe_for("paper", "digits")


def test_show_recipe_prints_every_value_with_its_source(tmp_path):
    out = run_cli("show", "--recipe", "sltt_k", "dvs_gesture", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "qymeng94/SLTT" in text and "vgg11_bn T=20" in text
    assert "README SLTT-K DVS-Gesture command: -K 4" in text
    dropout = next(line for line in text.splitlines() if line.startswith("dropout"))
    assert "0.4" in dropout and "0.0" in dropout  # published value, and the common one
    none = run_cli("show", "--recipe", "bptt_reset", "cifar10", cwd=tmp_path)
    assert none.returncode == 2 and none.stdout == ""
    assert none.stderr.strip() == ("benches: error: bptt_reset has no published setup on "
                                   "cifar10: it runs on the common track only (its published "
                                   "setups: none)")
    assert run_cli("show", "--recipe", "nope", "cifar10", cwd=tmp_path).returncode == 2


def test_site_shows_setups_and_says_who_runs_on_the_common_track_only(tmp_path):
    results = tmp_path / "results"
    for method, track in (("os", "paper"), ("bptt_reset", "common"), ("os", "common")):
        cell = make_cell(method, dataset="cifar10", architecture="vgg11", timesteps=4,
                         track=track)
        write_record(make_record(cell, "ok", None, {"test_top1": 0.9, "test_samples": 10000},
                                 ENV, about=about(cell)), results)
    render_site(str(results), str(tmp_path / "site"))
    board = (tmp_path / "site" / "board-cifar10-vgg11.html").read_text()
    assert "bptt_reset published nothing on cifar10, so it runs on the common track only" \
        in board
    methods = (tmp_path / "site" / "methods.html").read_text()
    assert "os on cifar10: the published setup" in methods
    assert "config.py eps default 1e-4" in methods  # a source, as the file gives it
    assert "no published setup on these datasets" in methods  # bptt_reset

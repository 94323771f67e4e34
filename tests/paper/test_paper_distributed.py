"""The paper setups' distributed facts (methods/paper_recipes.toml): every ImageNet setup gives
its published global batch, the world size of the published run and whether BatchNorm is
synchronised over the ranks, each with its source."""

from __future__ import annotations

import pytest

from methods.paper_recipes import (
    PaperRecipesError,
    Sourced,
    _check_world_size,
    all_setups,
    paper_setup,
)

IMAGENET = {s.method: s for s in all_setups() if s.dataset == "imagenet"}

PUBLISHED = {  # family's methods: (global batch, world size, sync_bn)
    ("rate_m", "rate_s", "bptt"): (512, 8, True),  # 64 per GPU, SyncBatchNorm
    ("ottt_a", "ottt_o"): (256, 1, False),  # one GPU, no BatchNorm
    ("sltt", "sltt_k"): (256, 1, False),  # one GPU, no BatchNorm
    ("os",): (256, 2, True),  # 128 per GPU, OSR synchronised over the ranks
}


def test_the_imagenet_setups_are_rate_bp_ottt_sltt_and_os_s() -> None:
    assert set(IMAGENET) == {m for methods in PUBLISHED for m in methods}
    assert not any(s.family == "ndot" for s in IMAGENET.values())  # NDOT has no ImageNet run


@pytest.mark.parametrize("method", sorted(IMAGENET))
def test_every_imagenet_setup_sources_its_batch_world_size_and_sync_bn(method: str) -> None:
    setup = IMAGENET[method]
    for key in ("batch_size", "world_size", "sync_bn", "drop_last"):
        value = setup.values[key]
        assert not value.choice and value.source.strip(), (method, key)
    world = setup.values["world_size"].value
    assert isinstance(world, int) and not isinstance(world, bool) and world >= 1
    assert setup.world_size == world
    recipe = setup.recipe()
    assert recipe.batch_size % world == 0  # the global batch splits over the published ranks
    assert recipe.sync_bn is setup.values["sync_bn"].value
    assert recipe.drop_last is setup.values["drop_last"].value is False
    assert setup.to_dict()["values"]["world_size"] == {"value": world,
                                                       "source": setup.values["world_size"].source}


@pytest.mark.parametrize("methods", list(PUBLISHED))
def test_the_published_imagenet_values(methods: tuple[str, ...]) -> None:
    batch, world, sync_bn = PUBLISHED[methods]
    for method in methods:
        setup = paper_setup(method, "imagenet")
        assert setup is not None
        recipe = setup.recipe()
        assert (recipe.batch_size, setup.world_size, recipe.sync_bn) == (batch, world, sync_bn)


def test_world_size_is_given_on_imagenet_only_and_every_setup_sources_sync_bn_and_drop_last(
) -> None:
    for setup in all_setups():
        assert (setup.world_size is not None) == (setup.dataset == "imagenet"), setup.method
        for key in ("sync_bn", "drop_last"):
            assert setup.values[key].source.strip() and not setup.values[key].choice
            assert getattr(setup.recipe(), key) is setup.values[key].value
    # the one train loader of these codes that drops the last batch: SLTT's DVS-Gesture one
    dropping = {(s.method, s.dataset) for s in all_setups() if s.recipe().drop_last}
    assert dropping == {("sltt", "dvs_gesture"), ("sltt_k", "dvs_gesture")}


def test_a_world_size_that_is_not_a_positive_int_or_does_not_split_the_batch_is_refused(
) -> None:
    def values(world: object) -> dict[str, Sourced]:
        return {"batch_size": Sourced(256, "x"), "world_size": Sourced(world, "y")}

    _check_world_size("os", "imagenet", values(2))
    _check_world_size("os", "imagenet", {"batch_size": Sourced(256, "x")})  # none given
    for bad in (0, -1, 2.0, True, "2"):
        with pytest.raises(PaperRecipesError, match="positive integer"):
            _check_world_size("os", "imagenet", values(bad))
    with pytest.raises(PaperRecipesError, match="does not split"):
        _check_world_size("os", "imagenet", values(3))

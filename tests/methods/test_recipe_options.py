"""Recipe keys for the network (dropout, init) and the data pipeline (dataset options)."""

from __future__ import annotations

import pytest
from helpers import make_cell
from torch import nn

from benches.worker.setup import support
from methods import get_method
from methods.recipes import COMMON
from methods.snn.layers import SequenceDropout


@pytest.mark.parametrize("key, value", [("dropout", 1.0), ("dropout", -0.1),
                                        ("init", "xavier-ish"), ("resolution", -1)])
def test_bad_values_are_refused_with_the_key(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        COMMON.updated(**{key: value})


@pytest.mark.parametrize("key, value", [("resolution", 128), ("normalize", "official"),
                                        ("train_split", "first_900")])
def test_a_dataset_refuses_a_pipeline_option_it_does_not_read(key: str, value: object) -> None:
    ok, reason = support(make_cell("bptt", dataset="digits", augment=(), **{key: value}))
    assert not ok
    assert reason == f"digits has no option {key} = {value!r} (its options: none)"
    assert support(make_cell("bptt", dataset="digits", augment=()))[0]  # common values: fine


def test_the_dropout_rate_reaches_the_layer_factory() -> None:
    for rate in (0.0, 0.3):
        method = get_method("sltt")(make_cell("sltt", dropout=rate))
        factory = method.layers()
        assert factory.drop_rate == rate
        layer = factory.drop()
        assert isinstance(layer, SequenceDropout if rate else nn.Identity)
        assert getattr(layer, "p", 0.0) == rate

"""One dropout mask per sample for the whole sequence (spikingjelly's ``layer.Dropout``)."""

from __future__ import annotations

import pytest
import torch
from helpers import make_cell

from methods import get_method
from methods.snn.functional import reset_states, set_step_mode
from methods.snn.layers import SequenceDropout
from methods.snn.trace import SpikeTrace

T, B, F = 5, 64, 32


def test_single_step_keeps_the_mask_until_reset() -> None:
    torch.manual_seed(0)
    drop = SequenceDropout(0.5).train()
    set_step_mode(drop, "s", T)
    ones = torch.ones(B, F)
    steps = [drop(ones) for _ in range(T)]
    for out in steps[1:]:
        assert torch.equal(out, steps[0])
    assert set(steps[0].unique().tolist()) == {0.0, 2.0}  # kept values scaled by 1/(1 − p)
    assert 0.4 < (steps[0] == 0).float().mean() < 0.6
    reset_states(drop)
    assert not torch.equal(drop(ones), steps[0])  # a new sequence draws a new mask


def test_multi_step_gives_each_sample_its_mask_at_every_step() -> None:
    torch.manual_seed(0)
    drop = SequenceDropout(0.3).train()
    set_step_mode(drop, "m", T)
    out = drop(torch.ones(T * B, F)).reshape(T, B, F)
    for t in range(1, T):
        assert torch.equal(out[t], out[0])
    assert not torch.equal(out[0, 0], out[0, 1])  # but samples differ
    assert out.mean().item() == pytest.approx(1.0, abs=0.05)


def test_eval_and_rate_zero_are_identity() -> None:
    x = torch.randn(T * B, F)
    assert torch.equal(SequenceDropout(0.5).eval()(x), x)
    assert torch.equal(SequenceDropout(0.0).train()(x), x)
    with pytest.raises(ValueError, match="rate"):
        SequenceDropout(1.0)


def test_ottt_drops_a_spike_and_its_trace_with_one_mask() -> None:
    """OTTT's layers carry (spike, trace) pairs; both pass the same kept mask, so the dropped
    trace is the trace of the dropped spikes (the mask does not change over time)."""
    method = get_method("ottt_a")(make_cell("ottt_a", dropout=0.5))
    pair = method.layers().dropout(0.5).train()
    set_step_mode(pair, "s", T)
    torch.manual_seed(0)
    spike, trace = torch.ones(B, F), torch.full((B, F), 3.0)
    out = pair(SpikeTrace(spike, trace))
    out_spike, out_trace = out.spike, out.trace
    assert torch.equal(out_spike == 0, out_trace == 0)
    torch.testing.assert_close(out_trace, 3.0 * out_spike)

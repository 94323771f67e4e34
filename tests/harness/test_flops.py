"""Operations per training iteration (``benches.measure.flops``): the counter by hand, its
phases, and how the counts scale with T — BPTT's grow linearly, rate_m's backward does not."""

from __future__ import annotations

import pytest
import torch
from helpers import make_cell

from benches.measure.flops import PhaseFlops
from benches.report.scaling import fit_scaling
from benches.worker.setup import execute


def test_phase_counts_by_hand():
    """A linear layer 8→4 on a batch of 16: forward 2·16·8·4 FLOPs; backward twice that (the
    input's and the weight's gradients); an SGD step is elementwise and counts 0."""
    layer = torch.nn.Linear(8, 4, bias=False)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    x = torch.randn(16, 8, requires_grad=True)
    flops = PhaseFlops()
    with flops.iteration():
        with flops("forward"):
            loss = layer(x).sum()
        with flops("backward"):
            loss.backward()
        with flops("optimizer"):
            optimizer.step()
    assert flops.metrics() == {"flops_per_iter": 3 * 1024, "flops_forward": 1024,
                               "flops_backward": 2048, "flops_optimizer": 0}


def _efficiency(method: str, T: int) -> dict:
    return execute(make_cell(method, timesteps=T, mode="efficiency", batch_size=16,
                             augment=(), warmup_iters=1, timed_iters=1))


@pytest.fixture(scope="module")
def sweep() -> dict[str, dict[int, dict]]:
    return {m: {T: _efficiency(m, T) for T in (1, 2, 4)} for m in ("bptt", "rate_m")}


def _exponent(points: dict[int, dict], metric: str) -> float:
    fit = fit_scaling(list(points), [points[T][metric] for T in points])
    assert fit is not None
    return fit.exponent


def test_cells_record_their_flops(sweep):
    m = sweep["bptt"][2]
    assert m["flops_per_iter"] > 0
    assert m["flops_per_iter"] == m["flops_forward"] + m["flops_backward"] + m["flops_optimizer"]
    assert m["flops_backward"] == pytest.approx(2 * m["flops_forward"], rel=0.05)


def test_bptt_grows_linearly_and_rate_m_backward_stays_flat(sweep):
    assert _exponent(sweep["bptt"], "flops_forward") == pytest.approx(1.0, abs=0.02)
    assert _exponent(sweep["bptt"], "flops_backward") == pytest.approx(1.0, abs=0.02)
    assert abs(_exponent(sweep["rate_m"], "flops_backward")) < 0.02  # one batch-sized pass
    assert 0.3 < _exponent(sweep["rate_m"], "flops_forward") < 1.0  # T spike steps + one rate pass

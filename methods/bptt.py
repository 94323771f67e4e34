"""BPTT: unroll T steps with autograd through time, reset spike detached, one backward."""

from __future__ import annotations

import torch
from torch import nn

from .base import (
    NULL_TIMER,
    Complexity,
    Method,
    Timer,
    forward_sequence,
    register_method,
    step_optimizer,
)
from .snn.loss import sequence_loss


@register_method
class BPTT(Method):
    """Backpropagation through time in multi-step mode (T folded into the batch for conv/BN)."""

    name = "bptt"
    description = "backprop through time; reset spike detached; multi-step (T folded into batch)"
    paper = "Wu et al. 2018 (STBP); detach-reset as in spikingjelly / Zenke & Vogels 2021"
    paper_url = "https://doi.org/10.3389/fnins.2018.00331"
    complexity = Complexity(memory="L·T", backward="L·T")
    cuda_graph = True
    forced = {"detach_reset": True}

    def train_step(
        self, model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
        optimizer: torch.optim.Optimizer | None, timer: Timer = NULL_TIMER,
    ) -> torch.Tensor:
        with timer("forward"):
            loss = sequence_loss(forward_sequence(model, x_seq), y, self.recipe)
        with timer("backward"):
            loss.backward()
        step_optimizer(optimizer, timer)
        return loss.detach()

"""rate_M: rate-based backpropagation with a multi-step spike pass (T folded into the batch)."""

from __future__ import annotations

import torch
from torch import nn

from .base import (
    NULL_TIMER,
    Complexity,
    Method,
    Timer,
    forward_sequence,
    forward_steps,
    register_method,
    step_optimizer,
)
from .libraries import capabilities
from .snn.functional import set_phase
from .snn.layers import LayerFactory
from .snn.loss import scale_gradient, sequence_loss
from .snn.rate import RateBatchNorm, RateNeuron


class RateLayers(LayerFactory):
    """Two-pass neurons and BatchNorm (see :mod:`methods.snn.rate`)."""

    def norm(self, channels: int, dims: int = 2) -> nn.Module:
        return RateBatchNorm(channels, dims)

    def neuron(self) -> nn.Module:
        return RateNeuron(self.library.neuron(self.lif))


@register_method
class RateM(Method):
    """Pass 1 without grad over T steps records rates and eligibilities; pass 2 runs once on
    the time-averaged input with grad; one backward of batch size B, independent of T."""

    name = "rate_m"
    description = "rate-based BP, multi-step spike pass (BN statistics over T·B)"
    paper = "Yu et al., Advancing Training Efficiency of Deep SNNs through Rate-based BP, " \
        "NeurIPS 2024"
    paper_url = "https://arxiv.org/abs/2410.11488"
    complexity = Complexity(memory="L", backward="L")
    cuda_graph = True
    no_step_outputs = ("rate-based BP back-propagates one output, the rate pass's on the "
                       "time-averaged input; there is no o_t per step for a mean over t of CE(o_t)")
    needs = frozenset({capabilities.SINGLE_STEP})  # the spike pass steps the neuron

    def layers(self) -> LayerFactory:
        return RateLayers(self.library, self.lif, self.recipe.dropout)

    def train_step(
        self, model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
        optimizer: torch.optim.Optimizer | None, timer: Timer = NULL_TIMER,
    ) -> torch.Tensor:
        T = x_seq.shape[0]
        with timer("forward"):
            set_phase(model, "spike")
            with torch.no_grad():
                if self.forward_mode == "m":  # rate_m: T folded into the batch
                    forward_sequence(model, x_seq)
                else:
                    for _ in forward_steps(model, x_seq):
                        pass
            set_phase(model, "rate")
            out = model(x_seq.mean(0))
            loss = sequence_loss(out.unsqueeze(0), y, self.recipe)
            if self.recipe.grad_scale_by_T:
                loss = scale_gradient(loss, 1.0 / T)
        with timer("backward"):
            loss.backward()
        set_phase(model, "spike")
        step_optimizer(optimizer, timer)
        return loss.detach()

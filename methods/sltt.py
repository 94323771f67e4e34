"""SLTT: spatial learning through time (instantaneous gradients, per-step BatchNorm)."""

from __future__ import annotations

import torch
from torch import nn

from .base import NULL_TIMER, Complexity, Method, Timer, register_method
from .snn.layers import LayerFactory
from .snn.online import OnlineNeuron, online_train_step


class SLTTLayers(LayerFactory):
    """Plain synapses, BatchNorm with each step's batch statistics, detached-membrane neurons."""

    def neuron(self) -> nn.Module:
        return OnlineNeuron(self.library.online_neuron(self.lif, "sltt"))


@register_method
class SLTT(Method):
    """Per step: detached membrane, loss L_t/T, backward through the spatial path with the
    instantaneous input s_t (no trace); one optimizer step per batch."""

    name = "sltt"
    description = "spatial learning through time: per-step backward, no temporal gradient"
    paper = "Meng et al., Towards Memory- and Time-Efficient Backpropagation, ICCV 2023"
    paper_url = "https://arxiv.org/abs/2302.14311"
    complexity = Complexity(memory="L", backward="L·T")
    cuda_graph = True
    forward_mode = "s"
    objective = "per_step"

    def layers(self) -> LayerFactory:
        return SLTTLayers(self.library, self.lif, self.recipe.dropout)

    def train_step(
        self, model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
        optimizer: torch.optim.Optimizer | None, timer: Timer = NULL_TIMER,
    ) -> torch.Tensor:
        return online_train_step(model, x_seq, y, self.recipe, optimizer, timer)

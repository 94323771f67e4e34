"""OS: online stabilization — SLTT-style online training with OTS thresholds and OSR norm."""

from __future__ import annotations

import torch
from torch import nn

from .base import NULL_TIMER, Complexity, Method, Timer, register_method
from .libraries import Library, capabilities
from .snn.config import LIFConfig
from .snn.layers import LayerFactory
from .snn.online import online_train_step
from .snn.osr import BOUND, OSRNorm, OTSNeuron


class OSLayers(LayerFactory):
    """Plain synapses, OSR in place of BatchNorm, neurons with the OTS threshold."""

    def __init__(self, library: Library, lif: LIFConfig, drop_rate: float = 0.0,
                 eps: float = 1e-5, bound: float = BOUND) -> None:
        super().__init__(library, lif, drop_rate)
        self.eps, self.bound = eps, bound

    def norm(self, channels: int, dims: int = 2) -> nn.Module:
        return OSRNorm(channels, dims, eps=self.eps, bound=self.bound)

    def neuron(self) -> nn.Module:
        return OTSNeuron(self.library.neuron(self.lif))


@register_method
class OS(Method):
    """Detached charge, instantaneous gradient, loss L_t/T per step, one optimizer step per
    batch; OTS sets each step's threshold, OSR normalises with running sequence statistics."""

    name = "os"
    description = "online stabilization: online training with OTS threshold and OSR norm"
    paper = "Zhu et al., Online Stabilization of Spiking Neural Networks, ICLR 2024"
    paper_url = "https://openreview.net/forum?id=CIj1CVbkpr"
    needs = frozenset({capabilities.STEP_THRESHOLD})  # OTS: a threshold chosen per step
    complexity = Complexity(memory="L", backward="L·T")
    cuda_graph = True
    multi_step_eval = False
    forward_mode = "s"
    objective = "per_step"

    def layers(self) -> LayerFactory:
        return OSLayers(self.library, self.lif, self.recipe.dropout, self.recipe.osr_eps,
                        self.recipe.osr_bound)

    def train_step(
        self, model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
        optimizer: torch.optim.Optimizer | None, timer: Timer = NULL_TIMER,
    ) -> torch.Tensor:
        return online_train_step(model, x_seq, y, self.recipe, optimizer, timer)

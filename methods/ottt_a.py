"""OTTT-A: online training through time, gradients accumulated over T, one optimizer step."""

from __future__ import annotations

import torch
from torch import nn

from .base import NULL_TIMER, Complexity, Method, Timer, register_method
from .snn.layers import LayerFactory
from .snn.online import online_train_step
from .snn.trace import PairAdd, PairMap, TraceNeuron

OUTPUT_SCALE = 2.74
"""Constant after each neuron of a weight-standardised OTTT network (OTTT reference)."""


class OTTTLayers(LayerFactory):
    """Scaled weight-standardised synapses fed by spike/trace pairs, no BatchNorm, trace-keeping
    neurons; parameter-free layers map spike and trace alike."""

    def conv(
        self, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0,
        bias: bool = False,
    ) -> nn.Module:
        ws = self.library.weight_standardized("conv", cin, cout, kernel, stride=stride,
                                              padding=padding, bias=bias)
        return self.library.trace_synapse(ws)

    def linear(self, fin: int, fout: int, bias: bool = True) -> nn.Module:
        return self.library.trace_synapse(self.library.weight_standardized("linear", fin, fout,
                                                                           bias=bias))

    def readout(self, fin: int, fout: int) -> nn.Module:
        """A plain linear classifier, as in OTTT's own network (no weight standardisation),
        still taking its weight gradient from the presynaptic trace."""
        return self.library.trace_synapse(nn.Linear(fin, fout))

    def norm(self, channels: int, dims: int = 2) -> nn.Module:
        return nn.Identity()

    def neuron(self) -> nn.Module:
        return TraceNeuron(self.library.online_neuron(self.lif, "ottt"), scale=OUTPUT_SCALE)

    def max_pool(self, kernel: int, stride: int | None = None, padding: int = 0) -> nn.Module:
        return PairMap(super().max_pool(kernel, stride, padding))

    def avg_pool(self, kernel: int, stride: int | None = None) -> nn.Module:
        return PairMap(super().avg_pool(kernel, stride))

    def adaptive_avg_pool(self, size: int) -> nn.Module:
        return PairMap(super().adaptive_avg_pool(size))

    def flatten(self) -> nn.Module:
        return PairMap(super().flatten())

    def dropout(self, p: float) -> nn.Module:
        return PairMap(super().dropout(p))

    def add(self) -> nn.Module:
        return PairAdd()


@register_method
class OTTTA(Method):
    """Per step: detached membrane, loss L_t/T, backward through the spatial path with
    trace-based weight gradients (∇W += δ_t ⊗ â_t); the optimizer steps once per batch."""

    name = "ottt_a"
    description = "online training through time, gradients accumulated over T (OTTT-A)"
    paper = "Xiao et al., Online Training Through Time for SNNs, NeurIPS 2022"
    paper_url = "https://arxiv.org/abs/2210.04195"
    complexity = Complexity(memory="L", backward="L·T", optimizer_steps="1")
    cuda_graph = True
    step_every = False
    forward_mode = "s"
    objective = "per_step"

    def layers(self) -> LayerFactory:
        return OTTTLayers(self.library, self.lif, self.recipe.dropout)

    def train_step(
        self, model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
        optimizer: torch.optim.Optimizer | None, timer: Timer = NULL_TIMER,
    ) -> torch.Tensor:
        return online_train_step(model, x_seq, y, self.recipe, optimizer, timer,
                                 step_every=self.step_every)

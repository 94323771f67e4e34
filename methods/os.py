"""OS: online stabilization — SLTT-style online training with OTS thresholds and OSR norm."""

from __future__ import annotations

from .base import NULL_TIMER, Complexity, Method, register_method
from .libraries import capabilities
from .recipes import OS_PAPER
from .snn.layers import LayerFactory
from .snn.online import online_train_step
from .snn.osr import OSRNorm, OTSNeuron


class OSLayers(LayerFactory):
    """Plain synapses, OSR in place of BatchNorm, neurons with the OTS threshold."""

    def norm(self, channels, dims=2):
        return OSRNorm(channels, dims)

    def neuron(self):
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
    paper_recipe = OS_PAPER
    multi_step_eval = False
    forward_mode = "s"
    objective = "per_step"

    def layers(self):
        return OSLayers(self.library, self.lif)

    def train_step(self, model, x_seq, y, optimizer, timer=NULL_TIMER):
        return online_train_step(model, x_seq, y, self.recipe, optimizer, timer)

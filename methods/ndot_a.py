"""NDOT-A: OTTT-A with the presynaptic trace decayed by NDOT's neuron-dynamics factor P_t."""

from __future__ import annotations

from torch import nn

from .base import Complexity, register_method
from .ottt_a import OTTTA, OUTPUT_SCALE, OTTTLayers
from .snn.layers import LayerFactory
from .snn.ndot_trace import NDOTTraceNeuron


class NDOTLayers(OTTTLayers):
    """OTTT's layers (scaled weight-standardised synapses fed by spike/trace pairs, no
    BatchNorm, plain readout, outputs × 2.74: the official ``online_spiking_vgg11_ws`` is OTTT's)
    with NDOT's trace neuron around the library's plain LIF."""

    def neuron(self) -> nn.Module:
        return NDOTTraceNeuron(self.library.neuron(self.lif), scale=OUTPUT_SCALE)


@register_method
class NDOTA(OTTTA):
    """Per step: detached membrane, loss L_t/T, backward through the spatial path with
    trace-based weight gradients (∇W += δ_t ⊗ â_t), the trace â_t = P_t ⊙ â_{t−1} + s_t with
    P_t = clamp((V_t − θ s_t)/(V_{t−1} − θ s_{t−1}), −λ, λ) (λ where the ratio is undefined);
    the optimizer steps once per batch."""

    name = "ndot_a"
    description = ("neuronal dynamics-based online training, gradients accumulated over T "
                   "(NDOT-A)")
    paper = ("Jiang et al., NDOT: Neuronal Dynamics-based Online Training for Spiking Neural "
             "Networks, ICML 2024")
    paper_url = "https://proceedings.mlr.press/v235/jiang24a.html"
    complexity = Complexity(memory="L", backward="L·T", optimizer_steps="1")

    def layers(self) -> LayerFactory:
        return NDOTLayers(self.library, self.lif, self.recipe.dropout)

"""SNN library backends: one small module per library, each supplying the LIF neuron.

``get_library(name)``, ``list_libraries()`` and ``register_library`` follow the same registry
pattern as methods and datasets (entry-point group ``benches.libraries``).
"""

from .base import (
    Library,
    SpikingNeuron,
    get_library,
    list_libraries,
    register_library,
)

__all__ = ["Library", "SpikingNeuron", "get_library", "list_libraries", "register_library"]

"""SNN library backends: one small module per library, each supplying the LIF neuron.

``get_library(name)``, ``list_libraries()`` and ``register_library`` follow the same registry
pattern as methods and datasets (entry-point group ``benches.libraries``).
"""

from . import capabilities
from .base import (
    Library,
    SpikingNeuron,
    get_library,
    list_libraries,
    register_library,
)

DEFAULT_LIBRARY = "torch"
"""The library a matrix uses when it names none: the suite's reference LIF."""

__all__ = ["DEFAULT_LIBRARY", "Library", "SpikingNeuron", "capabilities", "get_library",
           "list_libraries", "register_library"]

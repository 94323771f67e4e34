"""Training methods: one adapter class per file, registered by name.

``get_method(name)``, ``list_methods()``, ``register_method`` (entry-point group
``benches.methods``); the API is documented in :mod:`methods.base`.
"""

from .base import (
    NULL_TIMER,
    Complexity,
    Method,
    forward_sequence,
    forward_steps,
    get_method,
    list_methods,
    register_method,
    step_optimizer,
)

__all__ = [
    "NULL_TIMER", "Complexity", "Method", "forward_sequence", "forward_steps", "get_method",
    "list_methods", "register_method", "step_optimizer",
]

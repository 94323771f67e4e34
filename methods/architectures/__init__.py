"""Architectures: registered builders that take a method's :class:`LayerFactory`.

``get_architecture``, ``list_architectures``, ``register_architecture``; entry-point group
``benches.architectures``.
"""

from .base import (
    Architecture,
    get_architecture,
    list_architectures,
    register_architecture,
)

__all__ = ["Architecture", "get_architecture", "list_architectures", "register_architecture"]

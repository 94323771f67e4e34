"""Weight initialisation schemes, by name (the recipe's ``init``).

``default`` keeps what PyTorch's layers draw when they are built. The paper track names the
scheme of each method's official code; :func:`initialize` applies it to a built network.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

Scheme = Callable[[nn.Module], None]


def _default(model: nn.Module) -> None:
    """PyTorch's own initialisation, as the layers were built: nothing to do."""


SCHEMES: dict[str, Scheme] = {"default": _default}
INIT_SCHEMES = tuple(SCHEMES)
"""The scheme names a recipe may give."""


def initialize(model: nn.Module, scheme: str) -> None:
    """Re-initialise ``model``'s weights in place with ``scheme`` (one of :data:`INIT_SCHEMES`)."""
    try:
        apply = SCHEMES[scheme]
    except KeyError:
        raise ValueError(f"unknown init scheme {scheme!r} (known: {', '.join(SCHEMES)})") from None
    apply(model)

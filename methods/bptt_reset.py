"""BPTT keeping the reset term (Temporal Surrogate BP): the reset spike is not detached."""

from __future__ import annotations

from .base import register_method
from .bptt import BPTT


@register_method
class BPTTReset(BPTT):
    """As :class:`BPTT` with ``detach_reset=False``: the temporal Jacobian keeps the reset term,
    ``λ(1 − θσ'_t)`` (soft) or ``λ(1 − s_t) − λH_tσ'_t`` (hard)."""

    name = "bptt_reset"
    description = "BPTT with the reset spike kept in the graph (temporal surrogate BP)"
    paper = "Temporal Surrogate BP, arXiv 2011.09964"
    paper_url = "https://arxiv.org/abs/2011.09964"
    forced = {"detach_reset": False}

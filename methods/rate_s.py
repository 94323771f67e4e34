"""rate_S: rate-based backpropagation with a single-step spike pass (per-step BN statistics)."""

from __future__ import annotations

from .base import register_method
from .rate_m import RateM


@register_method
class RateS(RateM):
    name = "rate_s"
    description = "rate-based BP, single-step spike pass (per-step BN statistics)"
    forward_mode = "s"  # the spike pass steps through T

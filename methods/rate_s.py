"""rate_S: rate-based backpropagation with a single-step spike pass (per-step BN statistics)."""

from __future__ import annotations

from torch import nn

from .base import register_method
from .libraries import Library
from .rate_m import RateLayers, RateM
from .snn.config import LIFConfig
from .snn.layers import LayerFactory
from .snn.rate import RateBatchNorm


class RateSLayers(RateLayers):
    """:class:`RateLayers` whose BatchNorm hands the rate pass the recipe's ``rate_bn``
    statistics of the per-step spike pass (``mean`` or ``last_step``)."""

    def __init__(self, library: Library, lif: LIFConfig, drop_rate: float = 0.0,
                 bn_stats: str = "mean") -> None:
        super().__init__(library, lif, drop_rate)
        self.bn_stats = bn_stats

    def norm(self, channels: int, dims: int = 2) -> nn.Module:
        return RateBatchNorm(channels, dims, stats=self.bn_stats)


@register_method
class RateS(RateM):
    name = "rate_s"
    description = "rate-based BP, single-step spike pass (per-step BN statistics)"
    forward_mode = "s"  # the spike pass steps through T

    def layers(self) -> LayerFactory:
        return RateSLayers(self.library, self.lif, self.recipe.dropout, self.recipe.rate_bn)

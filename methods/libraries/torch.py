"""Plain PyTorch: the suite's reference LIF, with a fused multi-step autograd node (fused Triton
kernels on CUDA)."""

from __future__ import annotations

import torch

from ..snn import triton_lif
from ..snn.config import LIFConfig
from ..snn.lif import lif_multi_step, lif_sequence, lif_step
from .base import Library, SpikingNeuron, register_library


class TorchLIF(SpikingNeuron):
    """Reference LIF: ``lif_multi_step`` in multi-step mode, ``lif_step`` in single-step mode."""

    library = "torch"
    v: torch.Tensor | None  # kept state (``register_memory``), declared for the type checker

    def __init__(self, cfg: LIFConfig) -> None:
        super().__init__(cfg)
        self.register_memory("v")  # the post-reset membrane V_t

    def multi_step(self, x_seq: torch.Tensor) -> torch.Tensor:
        return lif_multi_step(x_seq, self.cfg)

    def single_step(
        self, x: torch.Tensor, threshold: torch.Tensor | float | None = None
    ) -> torch.Tensor:
        s, self.v, self.h = lif_step(x, self.v, self.cfg, threshold)
        return s

    def membrane(self) -> torch.Tensor | None:
        return self.v

    def sequence(self, x_seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return lif_sequence(x_seq, self.cfg)

    def rate_pass(
        self, x_seq: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if triton_lif.available(x_seq):  # one kernel, H never stored
            with torch.no_grad():
                return triton_lif.rate_spike_pass(x_seq, self.cfg)
        return super().rate_pass(x_seq)


@register_library
class TorchLibrary(Library):
    name = "torch"
    description = "plain PyTorch reference LIF (fused multi-step autograd node)"
    distribution = None

    def neuron(self, cfg: LIFConfig) -> SpikingNeuron:
        return TorchLIF(cfg)

"""OTTT's presynaptic traces: forward with spikes, weight gradients from traces.

A spiking layer of an OTTT network emits a :class:`SpikeTrace` pair in training. Parameter-free
layers map both members (the trace without grad); a synapse (conv/linear) computes its output
from the spike ``s`` but its weight gradient from the trace ``â``:
``∇W += δ ⊗ â`` while the input gradient ``Wᵀδ`` still flows to ``s``.
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.grad import conv2d_input, conv2d_weight

from .functional import StepModule
from .neuron import Neuron


class SpikeTrace(NamedTuple):
    spike: torch.Tensor
    trace: torch.Tensor


def _weight_of(module: nn.Module) -> torch.Tensor:
    get = getattr(module, "effective_weight", None)
    # a conv/linear: its weight is a Parameter (nn.Module types attributes as Tensor | Module)
    return get() if callable(get) else cast(torch.Tensor, module.weight)


def _autocast_dtype(grad: torch.Tensor, *tensors: torch.Tensor) -> list[torch.Tensor]:
    """The backward runs outside autocast: under bf16 autocast the forward's output (and so
    ``grad``) is bf16 while the weight is float32; compute in the gradient's dtype, as the
    autocast forward did (a no-op in float32)."""
    return [t.to(grad.dtype) for t in tensors]


class _TraceConv2d(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, s: torch.Tensor, trace: torch.Tensor, weight: torch.Tensor,
        bias: torch.Tensor | None, stride: tuple[int, ...], padding: str | tuple[int, ...],
        dilation: tuple[int, ...], groups: int,
    ) -> torch.Tensor:
        ctx.save_for_backward(trace, weight)
        ctx.conf = (stride, padding, dilation, groups)
        ctx.input_shape = s.shape
        ctx.has_bias = bias is not None
        return F.conv2d(s, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        trace, weight = _autocast_dtype(grad, *ctx.saved_tensors)
        stride, padding, dilation, groups = ctx.conf
        grad_s = conv2d_input(ctx.input_shape, weight, grad, stride, padding, dilation, groups)
        grad_w = conv2d_weight(trace, weight.shape, grad, stride, padding, dilation, groups)
        grad_b = grad.sum(dim=(0, 2, 3)) if ctx.has_bias else None
        return grad_s, None, grad_w, grad_b, None, None, None, None


class _TraceLinear(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, s: torch.Tensor, trace: torch.Tensor, weight: torch.Tensor,
        bias: torch.Tensor | None,
    ) -> torch.Tensor:
        ctx.save_for_backward(trace, weight)
        ctx.has_bias = bias is not None
        return F.linear(s, weight, bias)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        trace, weight = _autocast_dtype(grad, *ctx.saved_tensors)
        grad_w = grad.reshape(-1, grad.shape[-1]).t() @ trace.reshape(-1, trace.shape[-1])
        grad_b = grad.reshape(-1, grad.shape[-1]).sum(0) if ctx.has_bias else None
        return grad @ weight, None, grad_w, grad_b


class TraceSynapse(nn.Module):
    """Wraps a conv/linear: a :class:`SpikeTrace` input gets OTTT's trace-based weight gradient,
    a plain tensor input (the image) the ordinary one."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor | SpikeTrace) -> torch.Tensor:
        if not isinstance(x, SpikeTrace):
            return self.module(x)
        m, w = self.module, _weight_of(self.module)
        trace = x.trace.detach()
        if isinstance(m, nn.Conv2d):
            return _TraceConv2d.apply(x.spike, trace, w, m.bias, m.stride, m.padding,
                                      m.dilation, m.groups)
        return _TraceLinear.apply(x.spike, trace, w, m.bias)


class PairMap(nn.Module):
    """A parameter-free layer applied to spike (with grad) and trace (without)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor | SpikeTrace) -> torch.Tensor | SpikeTrace:
        if not isinstance(x, SpikeTrace):
            return self.module(x)
        with torch.no_grad():
            trace = self.module(x.trace)
        return SpikeTrace(self.module(x.spike), trace)


class PairAdd(nn.Module):
    """Residual addition. Two spike/trace pairs add member-wise (traces are linear in spikes,
    SEW blocks); a pair added to a current (identity shortcut into a neuron) contributes its
    spikes — a neuron's input needs no trace."""

    def forward(
        self, a: torch.Tensor | SpikeTrace, b: torch.Tensor | SpikeTrace
    ) -> torch.Tensor | SpikeTrace:
        if isinstance(a, SpikeTrace) and isinstance(b, SpikeTrace):
            return SpikeTrace(a.spike + b.spike, a.trace + b.trace)
        if isinstance(a, SpikeTrace):
            a = a.spike
        if isinstance(b, SpikeTrace):
            b = b.spike
        return a + b


class TraceNeuron(StepModule):
    """OTTT's spiking layer: membrane detached before every step (no gradient across time),
    trace ``â_t = λ·â_{t−1} + s_t`` kept without grad, output scaled by ``scale``.

    In training (single-step) it returns ``SpikeTrace(scale·s_t, scale·â_t)``; in evaluation, or
    in multi-step mode, plain spikes. If the library neuron keeps the trace itself
    (``provides_trace``, spikingjelly's ``OTTTLIFNode``) that trace is used.
    """

    trace: torch.Tensor | None  # kept state (``register_memory``), declared for the type checker

    def __init__(self, inner: Neuron, scale: float = 1.0) -> None:
        super().__init__()
        self.inner = inner
        self.scale = scale
        self.register_memory("trace")  # â_t, without grad

    def _scaled(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.scale == 1.0 else x * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor | SpikeTrace:
        if self.step_mode == "m":
            return self._scaled(self.inner(x))
        if not self.exact:
            self.inner.detach_state()
        s = self.inner(x)
        if not self.training or self.exact:
            return self._scaled(s)
        if getattr(self.inner, "provides_trace", False):
            self.trace = cast(Any, self.inner).trace  # such a neuron keeps it as .trace
        else:
            with torch.no_grad():
                self.trace = self.next_trace(s.detach())
        return SpikeTrace(self._scaled(s), self._scaled(self.trace))

    def next_trace(self, spikes: torch.Tensor) -> torch.Tensor:
        """``â_t`` from ``â_{t−1}`` (``self.trace``) and this step's spikes, without grad:
        OTTT's ``λ·â_{t−1} + s_t`` (``s_1`` at the first step). A subclass may decay otherwise
        (NDOT, :mod:`methods.snn.ndot_trace`)."""
        return spikes if self.trace is None else self.trace * self.inner.cfg.decay + spikes

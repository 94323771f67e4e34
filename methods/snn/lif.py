"""Reference LIF dynamics in plain PyTorch (notation of docs/methods.md, What each method computes).

``H_t = λ·V_{t-1} + I_t``; ``s_t = Θ(H_t − θ)``; soft ``V_t = H_t − θ·s_t`` or hard
``V_t = H_t·(1 − s_t)``. The reset spike is detached when ``cfg.detach_reset``.

* :func:`lif_step` — one step with ordinary autograd (used by single-step methods);
* :func:`lif_multi_step` — all T steps in one autograd node with a hand-written backward (the
  fast path of BPTT: it saves only ``H`` and loops backward in time);
* :func:`reset_derivative` / :func:`temporal_jacobian` — ``∂V_t/∂H_t`` and ``J_t = ∂H_{t+1}/∂H_t``,
  shared by the fused backward and by the rate-based eligibility.

On CUDA the same computations run as one Triton kernel per call (:mod:`.triton_lif`): the
multi-step forward and backward, and the single step as one autograd node; on the CPU they run
as written here.
"""

from __future__ import annotations

from typing import Any

import torch

from . import triton_lif
from .config import LIFConfig
from .surrogate import spike, surrogate_grad


def reset_derivative(
    h: torch.Tensor, s: torch.Tensor | None, sg: torch.Tensor, cfg: LIFConfig
) -> torch.Tensor | float:
    """``∂V_t/∂H_t`` for the configured reset (``sg`` = σ'(H_t − θ); the spikes ``s`` are
    read by the hard reset only)."""
    if cfg.reset == "soft":
        return 1.0 if cfg.detach_reset else 1.0 - cfg.threshold * sg
    if s is None:
        raise ValueError("the derivative of a hard reset needs the spikes")
    keep = 1.0 - s
    return keep if cfg.detach_reset else keep - h * sg


def temporal_jacobian(
    h: torch.Tensor, s: torch.Tensor, sg: torch.Tensor, cfg: LIFConfig
) -> torch.Tensor | float:
    """``J_t = ∂H_{t+1}/∂H_t = λ·∂V_t/∂H_t`` (docs/methods.md)."""
    return cfg.decay * reset_derivative(h, s, sg, cfg)


def lif_step(
    x: torch.Tensor,
    v: torch.Tensor | None,
    cfg: LIFConfig,
    threshold: torch.Tensor | float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One LIF step with autograd. Returns ``(spike, v_next, h)``.

    ``threshold`` overrides ``cfg.threshold`` for this step (a scalar tensor for OTS).
    """
    if triton_lif.available(x):
        return _FusedLIFStep.apply(x, v, cfg, threshold)
    theta = cfg.threshold if threshold is None else threshold
    h = x if v is None else x + cfg.decay * v
    s = spike(h - theta, cfg.surrogate, cfg.alpha)
    s_reset = s.detach() if cfg.detach_reset else s
    if cfg.reset == "soft":
        v_next = h - theta * s_reset
    else:
        v_next = h * (1.0 - s_reset)
    return s, v_next, h


@torch.no_grad()
def lif_forward_sequence(
    x_seq: torch.Tensor, cfg: LIFConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """No-grad forward over ``[T, ...]``: returns ``(s_seq, h_seq)`` (spikes and charged H)."""
    s_seq = torch.empty_like(x_seq)
    h_seq = torch.empty_like(x_seq)
    v = torch.zeros_like(x_seq[0])
    theta, lam = cfg.threshold, cfg.decay
    for t in range(x_seq.shape[0]):
        h, s = h_seq[t], s_seq[t]
        torch.add(x_seq[t], v, alpha=lam, out=h)
        torch.ge(h, theta, out=s)
        if cfg.reset == "soft":
            torch.sub(h, s, alpha=theta, out=v)
        else:
            torch.mul(h, 1.0 - s, out=v)
    return s_seq, h_seq


def _surrogate_product(grad: torch.Tensor, u: torch.Tensor, cfg: LIFConfig) -> torch.Tensor:
    """``grad·σ'(u)``, consuming ``u`` (the sigmoid case: two in-place passes and one fused
    ``sigmoid_backward``)."""
    if cfg.surrogate == "sigmoid":
        sig = u.mul_(cfg.alpha).sigmoid_()
        return torch.ops.aten.sigmoid_backward(grad, sig).mul_(cfg.alpha)
    return grad * surrogate_grad(u, cfg.surrogate, cfg.alpha)


def sequence_backward(grad_s: torch.Tensor, h_seq: torch.Tensor, cfg: LIFConfig) -> torch.Tensor:
    """``∂L/∂I_t`` of the whole sequence from ``∂L/∂s_t`` and the saved ``H``: the surrogate
    term of every step at once, then the temporal recursion
    ``g_t += λ·∂V_t/∂H_t·g_{t+1}`` backward in time (one pass a step when ``∂V_t/∂H_t = 1``)."""
    u = h_seq - cfg.threshold
    constant = cfg.reset == "soft" and cfg.detach_reset  # ∂V_t/∂H_t = 1
    sg = None if constant else surrogate_grad(u, cfg.surrogate, cfg.alpha)
    grad_x = _surrogate_product(grad_s, u, cfg) if sg is None else grad_s * sg
    for t in range(h_seq.shape[0] - 2, -1, -1):
        if sg is None:
            grad_x[t].add_(grad_x[t + 1], alpha=cfg.decay)
            continue
        s = (h_seq[t] >= cfg.threshold).to(h_seq.dtype) if cfg.reset == "hard" else None
        grad_x[t].add_(grad_x[t + 1] * reset_derivative(h_seq[t], s, sg[t], cfg),
                       alpha=cfg.decay)
    return grad_x


class _FusedLIF(torch.autograd.Function):
    """All T steps as one node; saves ``H`` only and runs the temporal recursion backward."""

    @staticmethod
    def forward(ctx: Any, x_seq: torch.Tensor, cfg: LIFConfig) -> torch.Tensor:
        if triton_lif.available(x_seq):
            s_seq, h_seq = triton_lif.multi_step_forward(x_seq, cfg)
        else:
            s_seq, h_seq = lif_forward_sequence(x_seq, cfg)
        ctx.save_for_backward(h_seq)
        ctx.cfg = cfg
        return s_seq

    @staticmethod
    def backward(ctx: Any, grad_s: torch.Tensor) -> tuple[torch.Tensor, None]:
        (h_seq,) = ctx.saved_tensors
        cfg: LIFConfig = ctx.cfg
        if triton_lif.available(h_seq):
            return triton_lif.multi_step_backward(grad_s, h_seq, cfg), None
        return sequence_backward(grad_s, h_seq, cfg), None


def lif_multi_step(x_seq: torch.Tensor, cfg: LIFConfig) -> torch.Tensor:
    """Spikes ``[T, ...]`` for inputs ``[T, ...]`` from a zero state, with BPTT gradients."""
    if not torch.is_grad_enabled() or not x_seq.requires_grad:
        if triton_lif.available(x_seq):
            return triton_lif.multi_step_forward(x_seq, cfg, save_h=False)[0]
        return lif_forward_sequence(x_seq, cfg)[0]
    return _FusedLIF.apply(x_seq, cfg)


def lif_sequence(x_seq: torch.Tensor, cfg: LIFConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """No-grad ``(s_seq, h_seq)`` over ``[T, ...]`` (fused kernel where available)."""
    if triton_lif.available(x_seq):
        with torch.no_grad():
            return triton_lif.multi_step_forward(x_seq, cfg)
    return lif_forward_sequence(x_seq, cfg)


class _FusedLIFStep(torch.autograd.Function):
    """:func:`lif_step` as one node (fused kernels): saves ``H`` only. ``h`` is returned
    without gradient (the methods read it under ``no_grad``)."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, v: torch.Tensor | None, cfg: LIFConfig,
        threshold: torch.Tensor | float | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        s, v_next, h = triton_lif.single_step_forward(x, v, cfg, threshold)
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(h)
        ctx.save_for_backward(h)
        ctx.cfg, ctx.threshold = cfg, threshold
        return s, v_next, h

    @staticmethod
    def backward(
        ctx: Any, grad_s: torch.Tensor | None, grad_v_next: torch.Tensor | None,
        _grad_h: torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, None, None]:
        (h,) = ctx.saved_tensors
        if grad_s is None and grad_v_next is None:
            return None, None, None, None
        grad_h = triton_lif.single_step_backward(grad_s, grad_v_next, h, ctx.cfg, ctx.threshold)
        grad_v = grad_h * ctx.cfg.decay if ctx.needs_input_grad[1] else None
        return grad_h, grad_v, None, None

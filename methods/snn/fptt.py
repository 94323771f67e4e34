"""Forward Propagation Through Time (FPTT): one optimizer step per time step on the step's loss
plus a dynamic regulariser around a running average ``W̄`` of the weights.

The update is that of spikingjelly's ``learning.online_learning.fptt_online_training`` (2.0),
step for step, with the suite's layers: at step ``t`` of a batch, from the detached state
``V_{t-1}``,

1. ``W ← opt.step(∇ℓ_t(W) + ∇R_t(W))`` with ``R_t(W) = α/2 · Σ_i mean((W_i − W̄_i − g_i/(2α))²)``
   (``g`` is the previous step's gradient, 0 at the first step of a batch; ``mean`` over the
   elements of each parameter tensor, as spikingjelly's ``F.mse_loss``);
2. if ``t < T − 1``: the state ``V_t`` is kept, ``g = ∇ℓ_t(W)`` at the new weights is computed
   by a second forward of ``x_t`` from ``V_t``, ``W̄ ← (W̄ + W)/2 − g/(2α)``, and ``V_t`` is put
   back before step ``t + 1``.

``W̄`` lives across batches (the caller owns it); ``g`` restarts at 0 with every batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .functional import MemoryModule, reset_states, set_step_mode

if TYPE_CHECKING:
    from ..base import Timer

StepLoss = Callable[[torch.Tensor, int], torch.Tensor]
"""``(output of step t, t) → ℓ_t``, the loss the optimizer steps on at step ``t``."""


def _kept(value: Any) -> Any:
    """A detached copy of a tensor (spikingjelly deep-copies its memories); others as they are."""
    return value.detach().clone() if isinstance(value, torch.Tensor) else value


class KeptState:
    """Every state a model keeps between steps, as it is now, to be put back later.

    Covers the suite's :class:`MemoryModule` memories, spikingjelly's ``MemoryModule``
    ``_memories`` dicts and non-persistent buffers (snntorch's membrane). Persistent buffers
    (BatchNorm's running statistics) are left alone, as spikingjelly leaves them."""

    def __init__(self, model: nn.Module) -> None:
        self.memories: list[tuple[MemoryModule, dict[str, Any]]] = []
        self.library: list[tuple[nn.Module, dict[str, Any]]] = []
        self.buffers: list[tuple[nn.Module, dict[str, Any]]] = []
        for module in model.modules():
            if isinstance(module, MemoryModule):
                self.memories.append(
                    (module, {name: _kept(getattr(module, name)) for name in module._memories}))
            else:
                own = module.__dict__.get("_memories")
                if isinstance(own, dict):  # a spikingjelly MemoryModule keeps its values there
                    self.library.append((module, {k: _kept(v) for k, v in own.items()}))
            buffers = {name: _kept(module._buffers[name])
                       for name in module._non_persistent_buffers_set
                       if module._buffers.get(name) is not None}
            if buffers:
                self.buffers.append((module, buffers))

    def restore(self) -> None:
        """Put every kept state back as it was when this snapshot was taken."""
        for module, values in self.memories:
            for name, value in values.items():
                setattr(module, name, value)
        for library_module, values in self.library:
            library_module.__dict__["_memories"] = dict(values)
        for buffer_module, values in self.buffers:
            buffer_module._buffers.update(values)


def optimizer_parameters(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The optimizer's parameters in its order (spikingjelly's order for ``w_ra``)."""
    return [p for group in optimizer.param_groups for p in group["params"]]


@torch.no_grad()
def add_regularizer_gradient(
    params: Sequence[torch.Tensor], running: Sequence[torch.Tensor],
    previous: Sequence[torch.Tensor | None], alpha: float,
) -> None:
    """``∇W += α/n · (W − W̄ − g/(2α))``: the gradient of ``α/2 · mean((W − W̄ − g/(2α))²)``
    (``n`` elements), added to each parameter's ``.grad``."""
    for p, w_bar, g in zip(params, running, previous, strict=True):
        target = w_bar if g is None else w_bar + g / (2.0 * alpha)
        # the arithmetic of autograd through ``α/2 · F.mse_loss``: (W − c) · 2/n · α/2
        grad = (p - target).mul_(2.0 / p.numel()).mul_(alpha / 2.0)
        if p.grad is None:
            p.grad = grad
        else:
            p.grad.add_(grad)


@torch.no_grad()
def update_running_average(
    params: Sequence[torch.Tensor], running: Sequence[torch.Tensor], alpha: float,
) -> list[torch.Tensor | None]:
    """``W̄ ← (W̄ + W)/2 − g/(2α)`` in place, with ``g`` the gradient now in ``.grad``; returns
    the ``g`` of each parameter (the next step's regulariser uses it)."""
    grads: list[torch.Tensor | None] = []
    for p, w_bar in zip(params, running, strict=True):
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        w_bar.add_(p).div_(2.0).sub_(g / (2.0 * alpha))
        grads.append(g)
    return grads


def fptt_train_step(
    model: nn.Module, x_seq: torch.Tensor, loss_of: StepLoss,
    optimizer: torch.optim.Optimizer, running: Sequence[torch.Tensor], alpha: float,
    timer: Timer,
) -> torch.Tensor:
    """One batch of FPTT (see the module docstring); ``running`` (``W̄``, in the optimizer's
    parameter order) is updated in place. Returns ``Σ_t ℓ_t / T`` (regulariser excluded)."""
    T = x_seq.shape[0]
    params = optimizer_parameters(optimizer)
    previous: list[torch.Tensor | None] = [None] * len(params)
    set_step_mode(model, "s", T)
    reset_states(model)
    losses = []
    for t in range(T):
        optimizer.zero_grad(set_to_none=True)
        with timer("forward"):
            loss = loss_of(model(x_seq[t]), t)
        with timer("backward"):
            loss.backward()
        with timer("optimizer"):
            add_regularizer_gradient(params, running, previous, alpha)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        losses.append(loss.detach())
        if t < T - 1:  # ∇ℓ_t at the new weights, from V_t, then V_t back for step t + 1
            kept = KeptState(model)
            with timer("forward"):
                again = loss_of(model(x_seq[t]), t)
            with timer("backward"):
                again.backward()
            with timer("optimizer"):
                previous = update_running_average(params, running, alpha)
                optimizer.zero_grad(set_to_none=True)
            kept.restore()
    return torch.stack(losses).sum() / T


def accumulate_gradient(
    model: nn.Module, x_seq: torch.Tensor, loss_of: StepLoss, timer: Timer,
) -> torch.Tensor:
    """Gradients only (no optimizer): ``Σ_t ∇ℓ_t / T`` accumulated in ``.grad`` at the current
    weights, each step's backward spatial only (as OTTT-O without its steps). Returns
    ``Σ_t ℓ_t / T``."""
    T = x_seq.shape[0]
    set_step_mode(model, "s", T)
    reset_states(model)
    losses = []
    for t in range(T):
        with timer("forward"):
            loss = loss_of(model(x_seq[t]), t) / T
        with timer("backward"):
            loss.backward()
        losses.append(loss.detach())
    return torch.stack(losses).sum()

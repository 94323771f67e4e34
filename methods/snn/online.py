"""Online (per-step) training: detached membranes and one backward per time step.

Used by OTTT, SLTT(-K), OS and NDOT. At each step the model runs in single-step mode, the
step's loss ``L_t / T`` is back-propagated through the spatial path only (the membrane state is
detached before every step, so no gradient crosses time) and the step's graph is freed at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from .functional import StepModule, reset_states, set_step_mode
from .loss import step_loss
from .neuron import Neuron

if TYPE_CHECKING:
    from ..base import Timer
    from ..recipes import Recipe

StepTerm = Callable[[int], "torch.Tensor | None"]
"""A term added to step t's loss before its backward, computed from the weights of that moment
(``None``: nothing added); e.g. NDOT-O's parameter-difference regulariser on CIFAR10-DVS."""


class OnlineNeuron(StepModule):
    """A library neuron whose membrane is detached before every step (SLTT)."""

    def __init__(self, inner: Neuron) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s" and not self.exact:
            self.inner.detach_state()
        return self.inner(x)


def online_train_step(
    model: nn.Module,
    x_seq: torch.Tensor,
    y: torch.Tensor,
    recipe: Recipe,
    optimizer: torch.optim.Optimizer | None,
    timer: Timer,
    grad_steps: set[int] | None = None,
    step_every: bool = False,
    step_term: StepTerm | None = None,
) -> torch.Tensor:
    """Run T single steps; back-propagate ``L_t / T`` at the steps in ``grad_steps`` (all by
    default), plus ``step_term(t)`` where given (called after step t's forward, at the steps
    with grad); step the optimizer after every step (``step_every``) or once at the end.
    Returns the summed ``L_t / T`` (the loss value of the whole sequence, without the added
    terms)."""
    T = x_seq.shape[0]
    set_step_mode(model, "s", T)
    reset_states(model)
    total = torch.zeros((), device=x_seq.device)
    for t in range(T):
        with_grad = grad_steps is None or t in grad_steps
        with timer("forward"), torch.set_grad_enabled(with_grad):
            loss = step_loss(model(x_seq[t]), y, recipe) / T
            extra = step_term(t) if with_grad and step_term is not None else None
        if with_grad:
            with timer("backward"):
                (loss if extra is None else loss + extra).backward()
            if step_every and optimizer is not None:
                with timer("optimizer"):
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
        total += loss.detach()
    if not step_every and optimizer is not None:
        with timer("optimizer"):
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    return total

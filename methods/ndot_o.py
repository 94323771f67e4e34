"""NDOT-O: as NDOT-A, but the optimizer steps after every time step."""

from __future__ import annotations

import math

import torch
from torch import nn

from benches.cell import Cell

from .base import NULL_TIMER, Complexity, Timer, register_method
from .ndot_a import NDOTA
from .snn.online import online_train_step

REG_LAMBDA_SOURCE = "HaiyanJiang/SNN-DNOT train_cifar10dvs.py:87 (--reg_lambda default 0.05)"
"""Where the CIFAR10-DVS value of ``reg_lambda`` comes from."""


class ParameterDifference:
    """The official CIFAR10-DVS ``--online_update`` regulariser (HaiyanJiang/SNN-DNOT
    functions_cifar10dvs.py lines 158-187; 108-136 under --amp): called at step t after the
    forward, it returns ``0.5·λ·Σ_W ‖W − W_prev‖₂ / √numel(W)`` over every parameter of the
    model (``None`` at t = 0, where the official term is 0, lines 162-163), the whole tensor's
    2-norm (``torch.norm(·, p=2)`` flattens), W_prev detached; then W_prev ← a detached copy
    of the current W (line 183, at every t, before that step's backward and optimizer step).
    So at step t ≥ 1 W_prev is the weights step t − 1 ran with, and the term pulls against
    step t − 1's update. Its gradient is torch's: 0 for a tensor that did not move
    (``vector_norm``'s backward at 0). W_prev lives within one batch: the official refreshes
    before the epoch and each batch (lines 57, 83) are overwritten at t = 0 before any use,
    so nothing is carried across batches or checkpoints."""

    def __init__(self, model: nn.Module, reg_lambda: float) -> None:
        self.parameters = list(model.parameters())
        self.reg_lambda = reg_lambda
        self.previous: list[torch.Tensor] | None = None

    def __call__(self, t: int) -> torch.Tensor | None:
        term = None
        if t > 0 and self.previous is not None and self.parameters:
            norms = [torch.linalg.vector_norm(p - q) / math.sqrt(p.numel())
                     for p, q in zip(self.parameters, self.previous, strict=True)]
            total = norms[0]
            for norm in norms[1:]:  # summed in the parameters' order, as the official loop
                total = total + norm
            term = 0.5 * self.reg_lambda * total
        self.previous = [p.detach().clone() for p in self.parameters]
        return term


@register_method
class NDOTO(NDOTA):
    """As ndot_a, except that the optimizer steps and zeroes the gradients right after each
    step's backward (T optimizer steps per batch; step t+1 runs with the weights of step t).
    With ``reg_lambda`` > 0 (the CIFAR10-DVS paper setup: 0.05), step t ≥ 1 also
    back-propagates 0.5·reg_lambda·Σ_W ‖W − W_{t−1}‖₂/√numel(W), W_{t−1} the detached weights
    step t − 1 ran with (the official CIFAR10-DVS --online_update loop)."""

    name = "ndot_o"
    description = "neuronal dynamics-based online training, optimizer step at every time step " \
        "(NDOT-O)"
    complexity = Complexity(memory="L", backward="L·T", optimizer_steps="T")
    step_every = True
    # reg_lambda: 0 (no regulariser: CIFAR-10/100's train_cifar_main.py, the common track) or
    # the CIFAR10-DVS default 0.05 (REG_LAMBDA_SOURCE)
    parameters = {"reg_lambda": (0.0, 0.05)}

    @classmethod
    def supports(cls, cell: Cell) -> tuple[bool, str]:
        ok, reason = super().supports(cell)
        if not ok:
            return ok, reason
        value = cell.params.get("reg_lambda", 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            return False, f"ndot_o needs reg_lambda ≥ 0 (reg_lambda={value!r})"
        return True, ""

    def train_step(
        self, model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
        optimizer: torch.optim.Optimizer | None, timer: Timer = NULL_TIMER,
    ) -> torch.Tensor:
        """ndot_a's online loop stepping every step, with the regulariser where
        ``reg_lambda`` > 0 and an optimizer steps (without one the weights do not move, so
        W = W_prev and its gradient is 0). The returned loss leaves the regulariser out."""
        reg_lambda = float(self.params["reg_lambda"])
        term = ParameterDifference(model, reg_lambda) \
            if reg_lambda > 0 and optimizer is not None else None
        return online_train_step(model, x_seq, y, self.recipe, optimizer, timer,
                                 step_every=self.step_every, step_term=term)

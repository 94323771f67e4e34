"""SLTT-K: SLTT with backward on K randomly drawn time steps per batch."""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from typing import cast

import torch
from torch import nn

from benches.cell import Cell

from .base import NULL_TIMER, Complexity, Timer, register_method
from .sltt import SLTT
from .snn.online import online_train_step


@register_method
class SLTTK(SLTT):
    """Per batch K distinct steps are drawn uniformly (``randperm(T)[:K]``); only those run with
    grad and backward ``L_t/T``, the others run under ``no_grad``."""

    name = "sltt_k"
    description = "SLTT with backward on K random steps per batch (K = 2 by default)"
    complexity = Complexity(memory="L", backward="L·K")
    parameters = {"k": (2, 1, 3, 4)}

    @classmethod
    def supports(cls, cell: Cell) -> tuple[bool, str]:
        ok, reason = super().supports(cell)
        if not ok:
            return ok, reason
        k = cell.params.get("k", cls.default_params()["k"])
        if not isinstance(k, int) or not 1 <= k <= cell.timesteps:
            return False, f"sltt_k needs 1 ≤ k ≤ T (k={k}, T={cell.timesteps})"
        return True, ""

    def variants(self) -> list[Hashable]:
        return [frozenset(c) for c in itertools.combinations(range(self.T), self.params["k"])]

    def draw_variant(self) -> Hashable:
        return frozenset(torch.randperm(self.T)[: self.params["k"]].tolist())

    def train_step(
        self, model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
        optimizer: torch.optim.Optimizer | None, timer: Timer = NULL_TIMER,
    ) -> torch.Tensor:
        # a variant is one of ``variants()``: a frozenset of step indices (Method types it
        # as any Hashable)
        steps = cast("frozenset[int]",
                     self.variant if self.variant is not None else self.draw_variant())
        self.grad_steps = set(steps)
        return online_train_step(model, x_seq, y, self.recipe, optimizer, timer,
                                 grad_steps=self.grad_steps)

"""SLTT-K: SLTT with backward on K randomly drawn time steps per batch."""

from __future__ import annotations

import itertools

import torch

from .base import NULL_TIMER, Complexity, register_method
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
    def supports(cls, cell):
        ok, reason = super().supports(cell)
        if not ok:
            return ok, reason
        k = cell.params.get("k", cls.default_params()["k"])
        if not isinstance(k, int) or not 1 <= k <= cell.timesteps:
            return False, f"sltt_k needs 1 ≤ k ≤ T (k={k}, T={cell.timesteps})"
        return True, ""

    def variants(self):
        return [frozenset(c) for c in itertools.combinations(range(self.T), self.params["k"])]

    def draw_variant(self):
        return frozenset(torch.randperm(self.T)[: self.params["k"]].tolist())

    def train_step(self, model, x_seq, y, optimizer, timer=NULL_TIMER):
        steps = self.variant if self.variant is not None else self.draw_variant()
        self.grad_steps = set(steps)
        return online_train_step(model, x_seq, y, self.recipe, optimizer, timer,
                                 grad_steps=self.grad_steps)

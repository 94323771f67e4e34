"""Losses of the recipes, for whole sequences and for single steps of online methods."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from ..recipes import Recipe


def _mse_target(out: torch.Tensor, y: torch.Tensor, recipe: Recipe) -> torch.Tensor:
    if recipe.mse_target == "const":
        return torch.full_like(out, recipe.mse_const)
    return F.one_hot(y, out.shape[-1]).to(out.dtype)


def step_loss(out: torch.Tensor, y: torch.Tensor, recipe: Recipe) -> torch.Tensor:
    """Loss of one step's output ``[B, C]`` (not yet divided by T)."""
    ce = F.cross_entropy(out, y)
    if recipe.loss == "ce":
        return ce
    if recipe.loss == "tet":
        w = recipe.tet_lambda
        return (1.0 - w) * ce + w * F.mse_loss(out, torch.full_like(out, recipe.tet_phi))
    w = recipe.mse_weight
    return (1.0 - w) * ce + w * F.mse_loss(out, _mse_target(out, y, recipe))


def sequence_loss(out_seq: torch.Tensor, y: torch.Tensor, recipe: Recipe) -> torch.Tensor:
    """Loss of a whole output sequence ``[T, B, C]``.

    ``ce``: cross-entropy on the time-averaged output; ``ce+mse`` and ``tet``: the per-step
    loss averaged over t (what an online method accumulates step by step).
    """
    if recipe.loss == "ce":
        return F.cross_entropy(out_seq.mean(0), y)
    return torch.stack([step_loss(o, y, recipe) for o in out_seq]).mean()


def scale_gradient(loss: torch.Tensor, factor: float) -> torch.Tensor:
    """Same value, gradient multiplied by ``factor`` (rate-BP's 1/T on the loss gradient)."""
    return loss.detach() + (loss * factor - (loss * factor).detach())

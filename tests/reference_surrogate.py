"""The tests' own surrogate gradients, written independently of ``methods.snn.surrogate``:
each surrogate as the derivative of a primitive P, taken by autograd in a straight-through
spike ``Θ(x) + P(x) − P(x).detach()`` (forward Heaviside, backward P')."""

from __future__ import annotations

import torch


def primitive(x: torch.Tensor, kind: str, alpha: float) -> torch.Tensor:
    """P with P' = the surrogate: sigmoid α·sig(αx)(1 − sig(αx)), triangle max(0, α − α²|x|),
    rectangle 1/a on |x| < a/2."""
    if kind == "sigmoid":
        return torch.sigmoid(alpha * x)
    if kind == "triangle":
        c = x.clamp(-1.0 / alpha, 1.0 / alpha)
        return alpha * c - alpha * alpha * c * c.abs() / 2
    if kind == "rectangle":
        return x.clamp(-alpha / 2, alpha / 2) / alpha
    raise ValueError(kind)


def ref_spike(x: torch.Tensor, kind: str = "sigmoid", alpha: float = 4.0) -> torch.Tensor:
    p = primitive(x, kind, alpha)
    return (x >= 0).to(x.dtype) + p - p.detach()


def ref_surrogate_grad(x: torch.Tensor, kind: str, alpha: float) -> torch.Tensor:
    """P'(x), by autograd through the primitive."""
    with torch.enable_grad():
        xg = x.detach().clone().requires_grad_()
        (grad,) = torch.autograd.grad(primitive(xg, kind, alpha).sum(), xg)
    return grad

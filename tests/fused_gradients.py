"""Prints every method's float64 gradient on a small network as JSON (run by
``test_fused_methods.py`` twice: with the fused Triton kernels under ``TRITON_INTERPRET=1`` and
with the plain-PyTorch reference)."""

from __future__ import annotations

import json

import torch
from helpers import BUILTIN_METHODS, make_cell

from methods import get_method
from methods.snn import triton_lif


def gradients() -> dict:
    out = {}
    for name in BUILTIN_METHODS:
        method = get_method(name)(make_cell(name, timesteps=3, augment=()))
        torch.manual_seed(0)
        model = method.build((1, 8, 8), 10).double()
        g = torch.Generator().manual_seed(1)
        x = torch.rand(3, 4, 1, 8, 8, generator=g, dtype=torch.float64) * 2
        y = torch.randint(0, 10, (4,), generator=g)
        torch.manual_seed(5)
        method.train_step(model, x, y, None)
        out[name] = {n: p.grad.flatten().tolist() for n, p in model.named_parameters()
                     if p.grad is not None}
    return {"fused": triton_lif.available(x), "grads": out}


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps(gradients()))

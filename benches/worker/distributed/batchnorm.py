"""BatchNorm across the ranks (the recipe's ``sync_bn``).

Without ``sync_bn`` each rank normalises its own part of the global batch, as DDP does by
default; before each evaluation the moving averages are taken from rank 0 (what DDP's
``broadcast_buffers`` does at every forward). With ``sync_bn`` a BatchNorm normalises with the
statistics of the whole global batch: on CUDA torch's ``SyncBatchNorm``; on a CPU, where that
refuses to run, :class:`CollectiveBatchNorm`, the same computation with torch.distributed
collectives (which gloo runs). A normalisation with statistics of its own synchronises itself
when it has a ``synchronise()`` method (the rate methods' two-pass BatchNorm, OS's OSR: their
batch statistics and backward means over all ranks).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from methods.snn.ranks import update_running

PLAIN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) whose backward pass all-reduces the gradient: every rank's loss
    depends on every rank's contribution."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        out = grad.clone()
        dist.all_reduce(out)
        return out


class CollectiveBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics are those of every rank's batch together
    (sum, sum of squares and count all-reduced, differentiably: the backward pass all-reduces
    the gradient of the statistics as ``SyncBatchNorm`` does)."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input, got {input.dim()}D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training or not self.track_running_stats):
            return super().forward(x)
        dims = [d for d in range(x.dim()) if d != 1]
        count = torch.full((1,), x.numel() / x.shape[1], dtype=x.dtype, device=x.device)
        local = torch.cat([x.sum(dims), (x * x).sum(dims), count])
        total = _SumOverRanks.apply(local)
        c = x.shape[1]
        n = total[-1]
        mean, var = total[:c] / n, total[c:2 * c] / n - (total[:c] / n) ** 2
        if self.training and self.track_running_stats:
            assert self.num_batches_tracked is not None
            self.num_batches_tracked += 1
            update_running(self, mean.detach(), var.detach() * n / (n - 1))
        shape = [1, c] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def synchronise_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` with every plain BatchNorm normalising over all ranks (in place where it can)."""
    for module in model.modules():  # normalisations of their own (rate-BP's two-pass BN)
        synchronise = getattr(module, "synchronise", None)
        if callable(synchronise):
            synchronise()
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in model.named_children():
        if type(child) in PLAIN and isinstance(child, _BatchNorm):
            setattr(model, name, _collective(child))
        else:
            synchronise_batchnorm(child, device)
    return model


def _collective(bn: _BatchNorm) -> CollectiveBatchNorm:
    new = CollectiveBatchNorm(bn.num_features, bn.eps, bn.momentum, bn.affine,
                              bn.track_running_stats)
    new.load_state_dict(bn.state_dict())
    return new.to(device=bn.weight.device if bn.affine else None,
                  dtype=bn.weight.dtype if bn.affine else None)


def broadcast_buffers(model: nn.Module) -> None:
    """Every rank takes rank 0's buffers (BatchNorm's moving averages)."""
    for buffer in model.buffers():
        dist.broadcast(buffer, src=0)


def average_over_ranks(norms: list[_BatchNorm]) -> None:
    """Each plain BatchNorm's statistics become their mean over the ranks (precise statistics
    computed on each rank's own part of the batches; synchronised ones are equal already)."""
    if not dist.is_initialized():
        return
    for norm in norms:
        if isinstance(norm, (CollectiveBatchNorm, nn.SyncBatchNorm)):
            continue
        for stat in (norm.running_mean, norm.running_var):
            if stat is not None:
                dist.all_reduce(stat)
                stat /= dist.get_world_size()

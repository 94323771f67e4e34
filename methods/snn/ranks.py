"""Batch statistics over every rank of a distributed cell (the recipe's ``sync_bn``), for the
normalisations that compute their own (rate-BP's two-pass BatchNorm, OS's OSR)."""

from __future__ import annotations

import torch
from torch.nn.modules.batchnorm import _BatchNorm


def batch_means(sums: list[torch.Tensor], x: torch.Tensor,
                synchronised: bool) -> tuple[list[torch.Tensor], float]:
    """Per-channel sums over ``x``'s batch divided by its count, and the count: this rank's
    batch, or, when ``synchronised``, every rank's together (one all-reduce of the sums and
    counts, as SyncBatchNorm)."""
    count = torch.tensor([x.numel() / x.shape[1]], dtype=sums[0].dtype, device=x.device)
    if synchronised:
        import torch.distributed as dist

        flat = torch.cat([*sums, count])
        dist.all_reduce(flat)
        sums, count = list(flat[:-1].split(x.shape[1])), flat[-1:]
    return [s / count for s in sums], float(count)


@torch.no_grad()
def update_running(bn: _BatchNorm, mean: torch.Tensor, var: torch.Tensor) -> None:
    """``bn``'s moving averages after a batch of ``mean`` and unbiased ``var`` (its
    ``num_batches_tracked`` already counted), as ``nn.BatchNorm`` updates them (momentum
    ``None``: the cumulative average)."""
    assert bn.running_mean is not None and bn.running_var is not None
    momentum = bn.momentum if bn.momentum is not None \
        else 1.0 / float(bn.num_batches_tracked or 1)
    bn.running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
    bn.running_var.mul_(1 - momentum).add_(var, alpha=momentum)

"""Population BatchNorm statistics for evaluation ("precise BN").

During training a BatchNorm keeps an exponential moving average of its batch statistics. A
method that normalises each time step separately (sltt, sltt_k, rate_s: the time loop outside
the model) updates that average T times per batch, so it ends up weighted towards the last
steps, and it lags behind the weights of the last iterations. On input whose statistics change
from step to step (``digits_seq``: one image row per step) that average disagrees with every
step the network was trained on, and the test accuracy depends on the seed by 3–9 pp.

With the recipe's ``bn_stats = "precise"`` (the common track) every evaluation first recomputes
each BatchNorm's statistics with the current weights: the model runs forward, without grad, on
up to :data:`BATCHES` training batches in the method's own forward mode, and each BatchNorm
takes the equally weighted mean of the batch statistics it sees (PyTorch's ``momentum=None``).
Afterwards the moving averages are put back, so training and checkpoints are unchanged. This is
Wu & Johnson's "precise BN" (Rethinking "Batch" in BatchNorm, 2021; fvcore's ``update_bn_stats``
takes 200 batches by default, as here). ``"running"`` (the paper track, as the official codes)
evaluates with the moving averages. Normalisations that are not BatchNorms (OS's OSR, which
defines its own running statistics) are left alone.

On several ranks each rank runs its own share of those batches; with ``sync_bn`` every batch is
normalised over all ranks, so the statistics are the global batches'; without, each rank's
population statistics are averaged over the ranks.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from benches.worker.distributed.batchnorm import average_over_ranks
from benches.worker.loading import Batches
from datasets import Dataset
from methods import Method

BATCHES = 200
"""At most this many training batches per recomputation (fvcore's default)."""
SEED = 2**31 - 1
"""The order of the training batches used (fixed, apart from every training epoch's seed)."""


def batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
            and m.track_running_stats]


@contextlib.contextmanager
def precise_statistics(method: Method, model: nn.Module, dataset: Dataset,
                       train: Batches) -> Iterator[int]:
    """Within the block, every BatchNorm of ``model`` holds population statistics computed on
    the training batches; yields the number of batches used (0: no BatchNorm, nothing done)."""
    norms = batch_norms(model)
    if not norms:
        yield 0
        return
    saved = [(m.momentum, {k: v.clone() for k, v in m.state_dict().items()}) for m in norms]
    was_training = model.training
    rng = (random.getstate(), np.random.get_state())
    used = 0
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            for m in norms:
                m.reset_running_stats()
                m.momentum = None
            model.eval()
            for m in norms:  # only the BatchNorms compute batch statistics
                m.train()
            for x, _ in itertools.islice(train.epoch(SEED), BATCHES):
                x = x.to(next(model.parameters()).device, non_blocking=True)
                method.predict(model, dataset.encode(x, method.T))
                used += 1
            model.eval()
            average_over_ranks(norms)
        yield used
    finally:
        random.setstate(rng[0])
        np.random.set_state(rng[1])
        for m, (momentum, state) in zip(norms, saved, strict=True):
            m.load_state_dict(state)
            m.momentum = momentum
        model.train(was_training)


def evaluation_statistics(method: Method, model: nn.Module, dataset: Dataset,
                          train: Batches) -> contextlib.AbstractContextManager[int]:
    """The BatchNorm statistics the recipe evaluates with: :func:`precise_statistics` for
    ``bn_stats = "precise"``, the moving averages as they are for ``"running"``."""
    if method.recipe.bn_stats == "precise":
        return precise_statistics(method, model, dataset, train)
    return contextlib.nullcontext(0)

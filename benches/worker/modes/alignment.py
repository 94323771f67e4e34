"""``alignment`` mode: how far a method's gradient is from the exact BPTT gradient.

For one batch and the cell's seeded initial weights, the method's gradient (its ``train_step``
without an optimizer) is compared with the exact BPTT gradient of the method's own objective
through its own forward (``Method.exact_gradient``: reset detached as in ``bptt``), computed on
an identical copy of the model. Reported: cosine similarity over all parameters and per layer,
and the norm ratio ‖g_method‖ / ‖g_bptt‖.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

import torch
from torch import nn

from benches.worker.loading import batches
from benches.worker.modes import Mode, register_mode
from benches.worker.modes.common import data_options
from benches.worker.step_runner import StepRunner, prepare_input
from datasets import Dataset
from datasets.base import DataRoot
from methods import Method


def _grads(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: (p.grad.detach().flatten() if p.grad is not None else p.new_zeros(p.numel()))
            for n, p in model.named_parameters() if p.requires_grad}


def compare(method_grads: dict[str, torch.Tensor],
            reference: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Cosine overall and per layer (parameters grouped by owning module), norm ratio."""
    a = torch.cat([method_grads[n] for n in reference])
    b = torch.cat(list(reference.values()))
    layers: dict[str, list[str]] = defaultdict(list)
    for name in reference:
        layers[name.rsplit(".", 1)[0]].append(name)
    per_layer = {}
    for layer, names in layers.items():
        la = torch.cat([method_grads[n] for n in names])
        lb = torch.cat([reference[n] for n in names])
        if lb.norm() > 0 and la.norm() > 0:
            per_layer[layer] = float(torch.nn.functional.cosine_similarity(la, lb, dim=0))
    return {
        "grad_cosine": float(torch.nn.functional.cosine_similarity(a, b, dim=0)),
        "grad_cosine_per_layer": per_layer,
        "grad_norm_ratio": float(a.norm() / b.norm()) if b.norm() > 0 else None,
        "grad_norm": float(a.norm()),
        "reference_grad_norm": float(b.norm()),
    }


def run(method: Method, dataset: Dataset, model: nn.Module, device: torch.device,
        data_root: DataRoot = None, checkpoint_dir: object = None) -> dict[str, Any]:
    recipe = method.recipe
    splits = dataset.splits(method.T, (), data_root, **data_options(method.recipe, dataset))
    x, y = next(batches(splits.train, recipe.batch_size, True, seed=method.cell.seed))
    x_seq, y = dataset.encode(x.to(device), method.T), y.to(device)
    model.train()
    reference_model = copy.deepcopy(model)
    runner = StepRunner(method, model, None, device)  # the cell's precision and layout
    runner(x_seq, y)
    with runner.autocast():
        reference_loss = method.exact_gradient(
            reference_model, prepare_input(x_seq, runner.channels_last), y)
    metrics = compare(_grads(model), _grads(reference_model))
    metrics["reference_loss"] = float(reference_loss)
    metrics["execution"] = runner.info()
    return metrics


register_mode(Mode("alignment", "gradient agreement with exact BPTT on one batch", run))

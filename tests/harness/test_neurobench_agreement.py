"""The suite's inference counts against NeuroBench's own metrics (``neurobench`` package,
``metrics.workload``: SynapticOperations, ActivationSparsity) on the same network and input.

Where the definitions agree (no zero weight, no zero input to a real-valued layer, no padding)
the numbers must be equal; the differences README names are checked too.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from benches.measure.inference import inference_cost
from methods.libraries.torch import TorchLIF
from methods.snn.config import LIFConfig
from methods.snn.functional import reset_states, set_step_mode

neurobench = pytest.importorskip(
    "neurobench", reason="the neurobench package is not installed: pip install neurobench")
from neurobench.metrics.manager.workload_manager import WorkloadMetricManager  # noqa: E402
from neurobench.metrics.workload import ActivationSparsity, SynapticOperations  # noqa: E402
from neurobench.models import TorchModel  # noqa: E402

T, N = 3, 4


class _Net(nn.Module):
    """conv 3×3 on a real 1×6×6 image → LIF → linear 64→10 → LIF → linear 10→5, on ``[T, N,
    ...]`` folded to ``[T·N, ...]`` (each layer called once, as in the suite's networks)."""

    def __init__(self, padding: int) -> None:
        super().__init__()
        size = 6 + 2 * padding - 2
        self.conv = nn.Conv2d(1, 4, 3, padding=padding, bias=False)
        self.lif1 = TorchLIF(LIFConfig(threshold=0.5))
        self.fc1 = nn.Linear(4 * size * size, 10, bias=False)
        self.lif2 = TorchLIF(LIFConfig(threshold=0.5))
        self.fc2 = nn.Linear(10, 5, bias=False)
        set_step_mode(self, "m", T)

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        reset_states(self)
        z = self.lif1(self.conv(x_seq.flatten(0, 1)))
        z = self.lif2(self.fc1(z.flatten(1)))
        return self.fc2(z).unflatten(0, (T, N)).mean(0)


class _Direct:
    def predict(self, model: nn.Module, x_seq: torch.Tensor) -> torch.Tensor:
        return model(x_seq)


def _neurobench(net: nn.Module, x_seq: torch.Tensor) -> dict:
    """NeuroBench's metrics on one batch (its data is batch-first)."""
    model = TorchModel(_BatchFirst(net))
    model.add_activation_module(TorchLIF)
    manager = WorkloadMetricManager([SynapticOperations, ActivationSparsity])
    manager.register_hooks(model)
    manager.initialize_metrics()
    data = (x_seq.transpose(0, 1), torch.zeros(N))
    with torch.no_grad():
        preds = model(data[0])
    results = dict(manager.run_metrics(model, preds, data, N, N))
    manager.cleanup_hooks(model)
    return {**results.pop("SynapticOperations"), **results}


class _BatchFirst(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.transpose(0, 1))


def _case(padding: int = 0, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    net = _Net(padding).eval()
    x_seq = torch.randn(T, N, 1, 6, 6) + 3.0  # no zero input
    assert all((p != 0).all() for p in net.parameters())
    return net, x_seq


def test_counts_equal_neurobench_where_the_definitions_agree():
    net, x_seq = _case()
    ours, theirs = inference_cost(_Direct(), net, x_seq), _neurobench(net, x_seq)
    assert 0 < ours["synops"] < ours["dense_macs"]
    assert ours["synops"] == pytest.approx(theirs["Effective_ACs"], rel=1e-12)
    assert ours["macs"] == pytest.approx(theirs["Effective_MACs"], rel=1e-12)
    assert ours["dense_macs"] == pytest.approx(theirs["Dense"], rel=1e-12)
    assert ours["activation_sparsity"] == pytest.approx(theirs["ActivationSparsity"], rel=1e-12)


def test_the_named_differences():
    """NeuroBench skips zero weights and zero inputs of a real-valued layer, and its dense count
    leaves out a convolution's padding; spikingjelly counts each of them."""
    net, x_seq = _case(padding=1)
    with torch.no_grad():
        net.fc1.weight[:, :8] = 0.0
    x_seq[..., 0, :] = 0.0  # one zero row of each image
    ours, theirs = inference_cost(_Direct(), net, x_seq), _neurobench(net, x_seq)
    assert ours["macs"] == 4 * 9 * 36 * T  # every product of the real-valued conv
    assert theirs["Effective_MACs"] < ours["macs"]  # its zero inputs skipped
    assert theirs["Effective_ACs"] < ours["synops"]  # the zero weights skipped
    assert theirs["Dense"] < ours["dense_macs"]  # padding not counted
    assert ours["activation_sparsity"] == pytest.approx(theirs["ActivationSparsity"], rel=1e-12)

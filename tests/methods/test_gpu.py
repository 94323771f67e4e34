"""The GPU path computes what the CPU path computes (marked ``gpu``; skipped without CUDA).

* every method's gradient on CUDA — fused Triton LIF kernels, ``channels_last`` — equals its
  CPU gradient (float64, so no spike flips from rounding);
* a training step replayed from a CUDA graph updates the weights exactly as the eager step;
* the profiler counts the kernels of a known workload; a backend that cannot run is refused.
"""

from __future__ import annotations

import copy

import pytest
import torch
from helpers import BUILTIN_METHODS, make_cell

from benches.cell import Cell
from benches.measure.profiling import profile_iteration
from benches.worker.modes.common import make_optimizer
from benches.worker.step_runner import StepRunner, prepare_input, prepare_model
from methods import get_method

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
CUDA = torch.device("cuda")
CLASSES, B, T = 10, 6, 4
SHAPES = {"resnet18": (3, 32, 32), "convnet_digits": (1, 8, 8)}


def build(name: str, device: torch.device, dtype=torch.float64, arch="resnet18", **fields):
    base = make_cell(name, timesteps=T, dataset="synthetic_cifar", architecture=arch,
                     augment=())
    cell = Cell(**{**base.to_dict(), "device": device.type, **fields})
    method = get_method(name)(cell)
    torch.manual_seed(0)
    model = method.build(SHAPES[arch], CLASSES).to(dtype)
    return method, prepare_model(model.to(device), cell, device)


def batch(dtype=torch.float64, arch="resnet18"):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(T, B, *SHAPES[arch], generator=g).to(dtype)
    return x, torch.randint(0, CLASSES, (B,), generator=g)


def gradients(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().cpu() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("arch", sorted(SHAPES))
@pytest.mark.parametrize("name", BUILTIN_METHODS)
def test_cuda_gradient_equals_cpu_gradient(name, arch):
    """(os on resnet18 at initialisation has silent layers whose OTS threshold is NaN, as in
    the official code: the NaNs must then sit in the same places.)"""
    x, y = batch(arch=arch)
    grads = {}
    for device in (torch.device("cpu"), CUDA):
        method, model = build(name, device, arch=arch)
        torch.manual_seed(7)  # sltt_k draws its steps from the CPU generator on both
        StepRunner(method, model, None, device)(x.to(device), y.to(device))
        grads[device.type] = gradients(model)
    assert grads["cpu"].keys() == grads["cuda"].keys() and grads["cpu"]
    finite = [n for n, g in grads["cpu"].items() if torch.isfinite(g).all()]
    assert finite if arch == "convnet_digits" or name != "os" else True
    assert len(finite) == len(grads["cpu"]) or (name, arch) == ("os", "resnet18")
    for n, g in grads["cpu"].items():
        torch.testing.assert_close(grads["cuda"][n], g, rtol=1e-9, atol=1e-12, msg=n,
                                   equal_nan=True)


@pytest.mark.parametrize("name", BUILTIN_METHODS)
def test_graph_replay_updates_weights_as_the_eager_step(name):
    if not get_method(name).cuda_graph:
        pytest.skip(f"{name} does not declare cuda_graph (runs eagerly)")
    x, y = batch()
    x, y = x.cuda(), y.cuda()
    method, model = build(name, CUDA)
    twin_method, twin = get_method(name)(method.cell), copy.deepcopy(model)
    runner = StepRunner(method, model, make_optimizer(model, method.recipe), CUDA)
    twin_opt = make_optimizer(twin, twin_method.recipe)
    assert runner.graphed, runner.why_eager
    for step in range(4):  # eager (warm-up), eager, capture + replay, replay
        torch.manual_seed(step)
        loss = runner(x, y)
        torch.manual_seed(step)
        twin_loss = twin_method.train_step(twin, prepare_input(x, True), y, twin_opt)
        torch.testing.assert_close(loss, twin_loss, rtol=1e-10, atol=1e-12, equal_nan=True)
    assert runner.info()["graphs_captured"] >= 1
    for (n, p), q in zip(model.named_parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-10, atol=1e-12, msg=n, equal_nan=True)
    for (n, b), c in zip(model.named_buffers(), twin.buffers(), strict=True):
        torch.testing.assert_close(b, c, rtol=1e-10, atol=1e-12, msg=n, equal_nan=True)


def test_sltt_k_captures_one_graph_per_choice_of_steps():
    method, model = build("sltt_k", CUDA, dtype=torch.float32)
    runner = StepRunner(method, model, make_optimizer(model, method.recipe), CUDA)
    x, y = batch(torch.float32)
    runner(x.cuda(), y.cuda())
    runner.capture_all(x.cuda(), y.cuda())
    assert runner.graphed and runner.info()["graphs_captured"] == 6  # C(4, 2)


def test_profiler_counts_the_kernels_of_a_known_workload():
    a = torch.randn(512, 512, device=CUDA)

    def products(n):
        def run():
            for _ in range(n):
                torch.mm(a, a)
        return run

    products(3)()
    ten, twenty = profile_iteration(products(10), CUDA), profile_iteration(products(20), CUDA)
    assert ten["kernels_per_iter"] >= 10  # cuBLAS may launch more than one kernel per product
    assert twenty["kernels_per_iter"] == 2 * ten["kernels_per_iter"]
    for m in (ten, twenty):
        assert 0.0 < m["gpu_busy_fraction"] <= 1.0 and m["gpu_busy_s"] <= m["profiled_iter_s"]


def test_bf16_cells_run_every_method():
    x, y = batch(torch.float32)
    for name in BUILTIN_METHODS:
        method, model = build(name, CUDA, dtype=torch.float32, precision="bf16")
        runner = StepRunner(method, model, make_optimizer(model, method.recipe), CUDA)
        losses = [float(runner(x.cuda(), y.cuda())) for _ in range(3)]
        assert all(torch.isfinite(torch.tensor(losses))), (name, losses)


def test_spikingjelly_backends_are_refused_with_the_librarys_reason():
    from methods.libraries import get_library
    from methods.snn.config import LIFConfig

    sj = get_library("spikingjelly")
    status = sj.usable_backends("cuda")
    assert status["torch"] is None and status["auto"] is None
    ok, reason = sj.supports(LIFConfig(), "cuda", "cuda")
    assert ok == (status["cuda"] is None)
    if not ok:  # the wheel ships no native operators: spikingjelly's own message says so
        assert "spikingjelly backend 'cuda' cannot run here" in reason

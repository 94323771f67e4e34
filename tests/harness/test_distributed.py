"""A cell over several torch.distributed ranks (gloo, 2 ranks on the CPU) against one process,
in float64: the gradients every method steps with, the all-reduces it issues, and a whole
train cell (accuracy, loss curve, firing rates, precise BatchNorm statistics)."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
import torch
import torch.multiprocessing as mp
from helpers import make_cell, run_cli
from torch.utils.data import DistributedSampler

from benches.cell import Cell
from benches.worker.distributed.batchnorm import synchronise_batchnorm
from benches.worker.distributed.gradients import synchronise_steps
from benches.worker.distributed.launch import free_port
from benches.worker.distributed.world import join, leave, world
from benches.worker.loading import rank_share
from benches.worker.modes.common import build_model, make_optimizer, seed_everything
from benches.worker.setup import execute
from benches.worker.step_runner import prepare_model
from datasets import get_dataset
from methods import get_method, list_methods

T, BATCH = 2, 8


@pytest.mark.parametrize("n, world_size", [(10, 2), (11, 2), (11, 3), (4, 3)])
def test_rank_share_is_distributed_samplers(n, world_size):
    generator = torch.Generator().manual_seed(7)
    order = torch.randperm(n, generator=generator).tolist()
    for rank in range(world_size):
        sampler = DistributedSampler(range(n), num_replicas=world_size, rank=rank, seed=0)
        sampler.set_epoch(7)
        assert rank_share(order, rank, world_size, pad=True) == list(sampler)
    shares = [rank_share(order, r, world_size, pad=False) for r in range(world_size)]
    assert sorted(i for share in shares for i in share) == sorted(order)  # the test set


def _cell(method: str, sync_bn: bool, ranks: int = 2) -> Cell:
    cell = make_cell(method, timesteps=T, batch_size=BATCH, augment=(), sync_bn=sync_bn)
    return replace(cell, precision="fp64", gpus_per_cell=ranks)


def _syncs(method: str) -> bool:
    """Whether the method's normalisation runs with sync_bn on several ranks."""
    return "sync_bn" not in get_method(method).unsupported


def _first_step_gradients(cell: Cell, part: slice) -> tuple[list[torch.Tensor], int]:
    """The gradients the first optimizer step uses, training on ``part`` of a fixed batch;
    and the optimizer steps of the iteration."""
    dataset = get_dataset(cell.dataset)
    train = dataset.splits(T, (), None).train
    x = torch.stack([train[i][0] for i in range(BATCH)])[part]
    y = torch.tensor([int(train[i][1]) for i in range(BATCH)])[part]
    seed_everything(cell.seed)
    method = get_method(cell.method)(cell)
    cpu = torch.device("cpu")
    model = prepare_model(build_model(method, dataset, cpu), cell, cpu)
    here = world()
    if here is not None and method.recipe.sync_bn:
        synchronise_batchnorm(model, cpu)
    optimizer = make_optimizer(model, method.recipe)
    if here is not None:
        synchronise_steps(optimizer, here)
    seen: list[list[torch.Tensor]] = []
    optimizer.register_step_pre_hook(lambda opt, a, k: seen.append(
        [p.grad.clone() for g in opt.param_groups for p in g["params"] if p.grad is not None]))
    method.train_step(model, dataset.encode(x, T), y, optimizer)
    return seen[0], len(seen)


def _on_rank(rank: int, port: int, result: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    here = join(_cell("bptt", False), rank, rank)
    out = {}
    for name in list_methods():
        for sync in {False, _syncs(name)}:
            before = here.allreduces
            grads, steps = _first_step_gradients(_cell(name, sync), slice(rank, None, 2))
            out[name, sync] = (grads, steps, here.allreduces - before)
    out["osr"] = _osr_gradients(slice(rank, None, 2), synchronised=True)
    leave()
    if rank == 0:
        torch.save(out, result)


def _osr_gradients(part: slice, synchronised: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """OSR on ``part`` of a fixed batch, loss Σ y·c: the input's gradient and γ's (summed over
    the ranks when ``synchronised``)."""
    import torch.distributed as dist

    from methods.snn.osr import OSRNorm

    generator = torch.Generator().manual_seed(3)
    x = torch.randn(8, 3, 4, 4, generator=generator, dtype=torch.float64) * 2 + 1
    c = torch.randn(8, 3, 4, 4, generator=generator, dtype=torch.float64)
    norm = OSRNorm(3).double().train()
    if synchronised:
        norm.synchronise()
    xs = x[part].clone().requires_grad_()
    (norm(xs) * c[part]).sum().backward()
    assert xs.grad is not None and norm.weight.grad is not None
    gamma = norm.weight.grad.clone()
    if synchronised:
        dist.all_reduce(gamma)
    return xs.grad, gamma


def test_synchronised_osr_is_the_global_batch_s(two_ranks):
    """OS's OSR with sync_bn (the official code's synchronised OSR) normalises and back-
    propagates with the global batch's statistics; its OTS threshold, as in the official code,
    keeps each rank's own."""
    grad_x, grad_gamma = two_ranks["osr"]
    whole_x, whole_gamma = _osr_gradients(slice(None), synchronised=False)
    assert torch.allclose(grad_x, whole_x[0::2], rtol=1e-9)
    assert torch.allclose(grad_gamma, whole_gamma, rtol=1e-9)
    alone_x, _ = _osr_gradients(slice(0, None, 2), synchronised=False)
    assert not torch.allclose(alone_x, whole_x[0::2], rtol=1e-6)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Every method's first-step gradients and all-reduce counts on 2 gloo ranks."""
    result = str(tmp_path_factory.mktemp("ranks") / "grads.pt")
    mp.start_processes(_on_rank, args=(free_port(), result), nprocs=2, join=True,
                       start_method="spawn")
    return torch.load(result, weights_only=False)


def _close(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(
        torch.allclose(x, y, rtol=1e-6, atol=1e-12) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("method", list_methods())
def test_one_allreduce_per_optimizer_step(two_ranks, method):
    for key, value in two_ranks.items():
        if key != "osr" and key[0] == method:
            _, steps, allreduces = value
            declared = get_method(method).complexity.optimizer_steps  # "1" or "T"
            assert steps == (T if declared == "T" else 1)
            assert allreduces == steps


@pytest.mark.parametrize("method", list_methods())
def test_gradients_equal_one_process(two_ranks, method):
    """With sync_bn (or without BatchNorm) the averaged gradients are the global batch's;
    without sync_bn they are the mean of each half's, normalised on its own."""
    for key, value in two_ranks.items():
        if key == "osr" or key[0] != method:
            continue
        (name, sync), (grads, _, _) = key, value
        if sync and name == "os":  # OTS's threshold statistics stay each rank's (see above)
            assert not _close(grads, two_ranks[name, False][0])
            continue
        whole, _ = _first_step_gradients(_cell(method, sync, ranks=1), slice(None))
        halves = [_first_step_gradients(_cell(method, sync, ranks=1), slice(r, None, 2))[0]
                  for r in (0, 1)]
        mean = [(a + b) / 2 for a, b in zip(*halves, strict=True)]
        if not sync:
            assert _close(grads, mean)
        if sync or not _has_batchnorm(method):
            assert _close(grads, whole)
        if _has_batchnorm(method):  # the two settings differ, so each check can fail
            assert not _close(whole, mean)


def _has_batchnorm(method: str) -> bool:
    cell = _cell(method, False, ranks=1)
    model = build_model(get_method(method)(cell), get_dataset(cell.dataset), torch.device("cpu"))
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) or "Norm" in type(m).__name__
               for m in model.modules())


def _train_cell(method: str, ranks: int, sync_bn: bool) -> Cell:
    cell = make_cell(method, timesteps=T, epochs=2, batch_size=64, augment=(), drop_last=True,
                     sync_bn=sync_bn)
    return replace(cell, precision="fp64", gpus_per_cell=ranks)


@pytest.mark.parametrize("method, sync_bn", [("bptt", True), ("ottt_o", False), ("rate_m", True)])
def test_a_train_cell_equals_one_process(tmp_path, method, sync_bn):
    """Two epochs, evaluation with precise BatchNorm statistics (the common track): the
    accuracy, the loss curve and the firing rates of one process; rank 0's checkpoint."""
    one = execute(_train_cell(method, 1, sync_bn))
    two = execute(_train_cell(method, 2, sync_bn), checkpoint_dir=tmp_path / "ckpt")
    assert two["test_top1_curve"] == one["test_top1_curve"]
    assert two["train_loss_curve"] == pytest.approx(one["train_loss_curve"], rel=1e-9)
    assert two["firing_rates"] == pytest.approx(one["firing_rates"], rel=1e-9)
    assert two["synops"] == pytest.approx(one["synops"], rel=1e-9)  # rank 0's network
    assert two["distributed"] == {
        "world_size": 2, "nodes": 1, "gpus_per_cell": 2, "per_rank_batch": 32,
        "backend": "gloo", "sync_bn": sync_bn, "collective_timeout_s": 600.0,
        "allreduces": two["iterations"] * (T if method == "ottt_o" else 1)}
    assert len(two["rank_metrics"]) == 2
    assert two["time_per_iter_s"] == max(m["time_per_iter_s"] for m in two["rank_metrics"])
    assert (tmp_path / "ckpt").is_dir() and any((tmp_path / "ckpt").iterdir())
    assert "MASTER_ADDR" not in os.environ  # the rendezvous is the ranks' own, not the caller's


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs (the NCCL path)")
def test_nccl_cell_on_two_gpus_matches_one_gpu():
    """The CUDA path: NCCL, one GPU per rank, torch's SyncBatchNorm (float64: cuDNN's
    BatchNorm and convolutions differ from the CPU's in the last bits only)."""
    cells = [replace(_train_cell("bptt", ranks, True), device="cuda") for ranks in (1, 2)]
    one, two = execute(cells[0]), execute(cells[1])
    assert two["distributed"]["backend"] == "nccl" and two["distributed"]["sync_bn"]
    assert two["train_loss_curve"] == pytest.approx(one["train_loss_curve"], rel=1e-6)
    assert two["test_top1_curve"] == pytest.approx(one["test_top1_curve"], abs=2 / 450)


def test_a_batch_that_does_not_split_is_refused_in_one_line(tmp_path):
    proc = run_cli("run", "--matrix", "smoke", "--gpus-per-cell", "3", "--dry-run",
                   cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "global batch of 64 does not split over 3 ranks" in lines[0]
    assert "Traceback" not in proc.stderr


def test_another_number_of_ranks_is_another_cell():
    """A checkpoint is never resumed on another N: the key (the checkpoint folder) differs."""
    one = make_cell("bptt")
    assert len({replace(one, gpus_per_cell=n).key() for n in (1, 2, 4)}) == 3
    assert replace(one, gpus_per_cell=1).key() == one.key()  # records before the field


@pytest.mark.parametrize("reshuffle, orders", [(True, [0, 1]), (False, [0, 0])])
def test_reshuffle_false_keeps_the_first_epoch_order(monkeypatch, reshuffle, orders):
    """rate-BP's ImageNet sampler is never given set_epoch: every epoch the first order."""
    from benches.worker.loading import Batches
    from benches.worker.modes.precise_bn import SEED

    seeds: list[int] = []
    epoch = Batches.epoch

    def spy(self, seed=0):
        if self.shuffle and seed != SEED:
            seeds.append(seed)
        return epoch(self, seed)

    monkeypatch.setattr(Batches, "epoch", spy)
    execute(make_cell("bptt", timesteps=2, epochs=2, batch_size=256, augment=(),
                      reshuffle=reshuffle))
    assert seeds == orders

"""Fabricated records for the site tests: known numbers, every field the site reads."""

from __future__ import annotations

from pathlib import Path

from helpers import make_cell

from benches.cell import Cell
from benches.records import make_record, write_record
from benches.worker.cell_process import about

EVIL = "<script>alert(1)</script>"
ENV = {"device_name": "test-cpu", "cpu_model": "test-cpu", "cpu_count": 2, "torch_threads": 2,
       "python": "3.11", "versions": {"torch": "x"}, "git_commit": "0123456789abcdef"}

# method → (top-1 per seed, time per iteration in s at T=2, activation bytes at T=2)
# bptt's memory and time grow with T, the others' memory stays flat.
TRAINED = {
    "bptt": ((0.90, 0.94, 0.92), 0.010, 4 * 2**20),
    "ottt_a": ((0.91, 0.93, 0.92), 0.012, 2 * 2**20),
    "rate_m": ((0.80, 0.81, 0.79), 0.005, 2 * 2**20),
}
GROWS = {"bptt"}


def train_record(method: str, seed: int, top1: float, t: int, time_s: float, act: float,
                 **metrics) -> dict:
    cell = make_cell(method, timesteps=t, seed=seed)
    m = {"test_top1": top1, "test_samples": 450, "time_per_iter_s": time_s,
         "backward_s": time_s / 2, "activation_bytes": act, "peak_memory_bytes": 500 * 2**20,
         "mean_firing_rate": 0.2, "test_top1_curve": [top1 - 0.2, top1 - 0.05, top1],
         "train_loss_curve": [1.5, 0.6, 0.3], **metrics}
    return make_record(cell, "ok", None, m, ENV, matrix="m", about=about(cell),
                       command="python -m benches run --matrix m", started_at="2026-11-23T10:00:00")


def write_site_records(results: Path) -> None:
    """Three methods × T = 2, 4 × 3 seeds, a hard-reset variant, a record whose method name is
    markup, a skipped cell, and a cifar10 os record that matches a published row."""
    for method, (tops, time_s, act) in TRAINED.items():
        for t in (2, 4):
            factor = t / 2 if method in GROWS else 1.0
            for seed, top1 in enumerate(tops):
                write_record(train_record(method, seed, top1, t, time_s * factor, act * factor),
                             results)
    write_record(make_record(make_cell("bptt", seed=0, reset="hard"), "ok", None,
                             {"test_top1": 0.80, "test_samples": 450}, ENV,
                             about=about(make_cell("bptt"))), results)
    evil = Cell(EVIL, "torch", "digits", "convnet_digits", 2, 0,
                recipe=make_cell("bptt").recipe)
    write_record(make_record(evil, "ok", None, {"test_top1": 0.5, "test_samples": 450,
                                                "activation_bytes": 2**20,
                                                "time_per_iter_s": 0.02}, ENV), results)
    write_record(make_record(make_cell("sltt", timesteps=4), "skipped",
                             f"{EVIL} & more"), results)
    for t in (1, 2, 4):  # an efficiency sweep and an alignment sweep
        for method, grows in (("bptt", True), ("rate_m", False)):
            cell = make_cell(method, timesteps=t, mode="efficiency", dataset="synthetic_cifar",
                             architecture="resnet18")
            scale = t if grows else 1
            write_record(make_record(cell, "ok", None, {
                "time_per_iter_s": 0.01 * t, "backward_s": 0.005 * scale,
                "activation_bytes": 2**20 * scale}, ENV, about=about(cell)), results)
        for method, cosine in (("bptt", 1.0), ("ottt_a", 0.9 / t)):
            cell = make_cell(method, timesteps=t, mode="alignment")
            write_record(make_record(cell, "ok", None, {
                "grad_cosine": cosine, "grad_norm_ratio": 1.0 / t}, ENV, about=about(cell)),
                results)
    cifar = make_cell("os", dataset="cifar10", architecture="vgg11", timesteps=4,
                      track="paper")
    write_record(make_record(cifar, "ok", None, {"test_top1": 0.9335, "test_samples": 10000},
                             ENV, about=about(cifar)), results)

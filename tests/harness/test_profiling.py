"""GPU busy fraction: union of device intervals over wall time, kernels counted apart from
copies (the arithmetic is checked on made-up events; the CUDA pass is a GPU test)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from benches.measure.profiling import busy_metrics, device_activity, union_length


def event(name, start, end, device=torch.autograd.DeviceType.CUDA):
    return SimpleNamespace(name=name, device_type=device,
                           time_range=SimpleNamespace(start=start, end=end))


def test_union_counts_overlaps_once_and_gaps_not_at_all():
    assert union_length([]) == 0.0
    assert union_length([(0, 10), (20, 30)]) == 20
    assert union_length([(0, 10), (5, 15), (30, 31)]) == 16  # two streams overlapping
    assert union_length([(5, 6), (0, 10)]) == 10  # nested, unsorted


def test_busy_fraction_and_kernel_count():
    events = [
        event("void conv_kernel", 0, 400), event("Memcpy DtoD (Device -> Device)", 400, 500),
        event("elementwise", 600, 700), event("aten::add", 0, 1000, torch.autograd.DeviceType.CPU),
        event("Memset (Device)", 950, 1000),
    ]
    intervals, kernels = device_activity(events)
    assert kernels == 2  # copies and memsets are busy time, not kernel launches
    m = busy_metrics(intervals, kernels, wall_s=1000e-6)
    assert m["gpu_busy_fraction"] == pytest.approx(0.65)
    assert m["gpu_busy_s"] == pytest.approx(650e-6)
    assert busy_metrics(intervals, kernels, wall_s=500e-6)["gpu_busy_fraction"] == 1.0

"""How busy the GPU is during a training iteration, from profiled iterations.

``gpu_busy_fraction`` is the time the GPU spends executing kernels or copies (the union of their
intervals, so overlapping work on two streams counts once) divided by the iteration's wall time
(CUDA events around it, the host synchronised before); of three iterations profiled one by one,
the median is reported (one iteration can catch a hiccup of the profiler or the host). A
launch-bound step — many tiny kernels issued one by one from Python — leaves the GPU idle
between kernels and scores low; a step that keeps the GPU fed scores close to 1.
``kernels_per_iter`` counts kernel launches (copies and memsets aside). Only CUDA activity is
traced, so the profiler adds little host overhead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from torch.autograd.profiler_util import FunctionEvent

COPY_PREFIXES = ("Memcpy", "Memset")


def union_length(intervals: Iterable[tuple[float, float]]) -> float:
    """Total length covered by ``[start, end)`` intervals (overlaps counted once)."""
    total, cur_start = 0.0, 0.0
    cur_end: float | None = None
    for start, end in sorted(intervals):
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None:
        total += cur_end - cur_start
    return total


def device_activity(events: Iterable[FunctionEvent]) -> tuple[list[tuple[float, float]], int]:
    """GPU intervals (µs) of profiler events and the number of kernels among them."""
    intervals: list[tuple[float, float]] = []
    kernels = 0
    for event in events:
        if event.device_type != torch.autograd.DeviceType.CUDA:
            continue
        intervals.append((event.time_range.start, event.time_range.end))
        if not event.name.startswith(COPY_PREFIXES):
            kernels += 1
    return intervals, kernels


def busy_metrics(intervals: list[tuple[float, float]], kernels: int,
                 wall_s: float) -> dict[str, Any]:
    busy_s = union_length(intervals) * 1e-6
    return {
        "gpu_busy_fraction": min(busy_s / wall_s, 1.0) if wall_s > 0 else None,
        "gpu_busy_s": busy_s,
        "kernels_per_iter": kernels,
        "profiled_iter_s": wall_s,
    }


def profile_iteration(step: Callable[[], object], device: torch.device,
                      repeats: int = 3) -> dict[str, Any]:
    """Busy fraction, GPU time and kernel count of ``step``: each of ``repeats`` iterations is
    profiled on its own; the figures of the iteration with the median busy fraction."""
    runs = [_profile_once(step, device) for _ in range(repeats)]
    runs.sort(key=lambda m: m["gpu_busy_fraction"] or 0.0)
    return {**runs[len(runs) // 2], "profiled_iters": repeats}


def _profile_once(step: Callable[[], object], device: torch.device) -> dict[str, Any]:
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize(device)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        end.synchronize()
    intervals, kernels = device_activity(prof.events())
    return busy_metrics(intervals, kernels, start.elapsed_time(end) / 1000.0)

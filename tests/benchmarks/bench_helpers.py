"""Helpers for the benchmarks: interleaved timing so that ratios are measured in one run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def interleaved_samples(candidates: dict[str, Callable[[], object]], rounds: int,
                        warmup: int = 2) -> dict[str, list[float]]:
    """Seconds of each call of each candidate, calling them in turn (A B A B …) so that
    machine drift affects all alike."""
    for _ in range(warmup):
        for fn in candidates.values():
            fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return samples


def interleaved_medians(candidates: dict[str, Callable[[], object]], rounds: int,
                        warmup: int = 2) -> dict[str, float]:
    """Median seconds per call of each candidate, timed as :func:`interleaved_samples`."""
    samples = interleaved_samples(candidates, rounds, warmup)
    return {name: statistics.median(s) for name, s in samples.items()}


def set_threads(n: int) -> int:
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    return old


def graphed(fn: Callable[[], object], warmup: int = 2) -> Callable[[], None]:
    """``fn`` captured in a CUDA graph (after eager warm-up on a side stream); the returned
    callable replays it and waits for the GPU, so host timers measure the GPU work."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()

    def replay() -> None:
        graph.replay()
        torch.cuda.synchronize()

    return replay

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


Factory = Callable[..., tuple[Callable[[], object], dict[str, object]]]
"""Builds a candidate in its own process and returns its step and what it measured while
building (a module-level function, so that a spawned process can import it)."""


def _serve(factory: Factory, args: tuple[object, ...], threads: int, conn) -> None:
    """A candidate's process: build it, then time one step per request until told to stop."""
    torch.set_num_threads(threads)
    step, info = factory(*args)
    conn.send(info)
    while conn.recv() == "step":
        start = time.perf_counter()
        step()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        conn.send(time.perf_counter() - start)
    conn.close()


class ProcessCandidates:
    """Each candidate in a process of its own, stepped in turn (A B A B …) from this one.

    In one process the candidates share the memory allocator: glibc's ``malloc`` moves its
    mmap and trim thresholds with what was freed last, so a step's large buffers are fresh
    pages (page faults) or reused ones depending on which candidate ran before it. A training
    run is one method in one process, and so is each candidate here; only one runs at a time,
    so turns still see the same machine drift."""

    def __init__(self, factories: dict[str, tuple[Factory, tuple[object, ...]]],
                 threads: int = 2) -> None:
        ctx = torch.multiprocessing.get_context("spawn")
        self._conns = {}
        self._procs = []
        self.info: dict[str, dict[str, object]] = {}
        """What each factory measured while building its candidate."""
        for name, (factory, args) in factories.items():  # built one after the other
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(factory, args, threads, child), daemon=True)
            proc.start()
            self.info[name] = parent.recv()
            self._conns[name] = parent
            self._procs.append(proc)

    def step(self, name: str) -> float:
        """Seconds of one step of ``name``, timed in its process."""
        self._conns[name].send("step")
        return float(self._conns[name].recv())

    def samples(self, rounds: int, warmup: int = 1) -> dict[str, list[float]]:
        """Seconds of each step of each candidate, stepped in turn after ``warmup`` rounds."""
        for _ in range(warmup):
            for name in self._conns:
                self.step(name)
        samples: dict[str, list[float]] = {name: [] for name in self._conns}
        for _ in range(rounds):
            for name in self._conns:
                samples[name].append(self.step(name))
        return samples

    def close(self) -> None:
        for conn in self._conns.values():
            conn.send("stop")
        for proc in self._procs:
            proc.join(timeout=30)

    def __enter__(self) -> ProcessCandidates:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Where a rate-BP training iteration spends its time, phase by phase, for any implementation.

Phases are found from outside, so our code and the official code are measured alike: a
model's ``forward`` entered with gradients off is the **spike pass**, with gradients on the
**rate pass** (the official code runs both from one ``model(x)`` call through its hooks, which
call ``model.forward`` again); ``Tensor.backward`` is the **backward**; ``optimizer.step`` the
**optimizer**; the rest of the iteration (loss, zero_grad, state reset) is **other**. Each
phase is timed by wall clock (median over iterations) and, under ``torch.profiler``, its ops'
self CPU time is summed by op kind.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, record_function

PHASES = ("spike pass", "rate pass", "backward", "optimizer", "other")
OP_KINDS = (("convolution", ("conv",)), ("batch norm", ("batch_norm",)),
            ("copy / cat", ("copy", "cat", "_to_copy", "clone")))
"""Op kinds by name fragment, first match wins; other aten ops are "elementwise / reduce"."""


def op_kind(name: str) -> str:
    for kind, fragments in OP_KINDS:
        if any(f in name for f in fragments):
            return kind
    return "elementwise / reduce"


class PhaseClock:
    """Per-iteration seconds of each phase, from the wrappers :func:`instrument` installs."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)
        self.iterations: list[dict[str, float]] = []

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        with record_function(f"phase:{name}"):
            yield
        self.current[name] += time.perf_counter() - start

    def end_iteration(self, total: float) -> None:
        measured = sum(self.current.values())
        self.iterations.append({**self.current, "other": total - measured})
        self.current = defaultdict(float)

    def medians_ms(self) -> dict[str, float]:
        return {p: 1e3 * statistics.median(it.get(p, 0.0) for it in self.iterations)
                for p in PHASES}


@contextlib.contextmanager
def instrument(model: nn.Module, optimizer: torch.optim.Optimizer,
               clock: PhaseClock) -> Iterator[None]:
    """Wrap ``model.forward``, ``optimizer.step`` and ``Tensor.backward`` to report phases."""
    forward, step, backward = model.forward, optimizer.step, torch.Tensor.backward

    def timed_forward(*args: Any, **kwargs: Any) -> Any:
        with clock.phase("rate pass" if torch.is_grad_enabled() else "spike pass"):
            return forward(*args, **kwargs)

    def timed_step(*args: Any, **kwargs: Any) -> Any:
        with clock.phase("optimizer"):
            return step(*args, **kwargs)

    def timed_backward(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        with clock.phase("backward"):
            return backward(self, *args, **kwargs)

    model.forward, optimizer.step = timed_forward, timed_step  # type: ignore[method-assign]
    torch.Tensor.backward = timed_backward  # type: ignore[method-assign]
    try:
        yield
    finally:
        del model.forward, optimizer.step  # the class's methods show through again
        torch.Tensor.backward = backward  # type: ignore[method-assign]


def _phase_of(intervals: list[tuple[int, int, str]], start: int, end: int) -> str:
    inner = [(s, e, n) for s, e, n in intervals if s <= start and end <= e]
    return max(inner)[2] if inner else "other"  # the innermost (latest start) phase


def op_time_by_phase(prof: Any, iterations: int) -> dict[str, dict[str, float]]:
    """Self CPU ms per iteration of each op kind within each phase (aten ops only)."""
    events = [e for e in prof.events() if e.device_type.name == "CPU"]
    intervals = [(e.time_range.start, e.time_range.end, e.name.removeprefix("phase:"))
                 for e in events if e.name.startswith("phase:")]
    table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for e in events:
        if e.name.startswith("aten::"):
            phase = _phase_of(intervals, e.time_range.start, e.time_range.end)
            table[phase][op_kind(e.name)] += e.self_cpu_time_total / 1e3 / iterations
    return table


def profile_phases(model: nn.Module, optimizer: torch.optim.Optimizer,
                   iteration: Callable[[], object], iterations: int, warmup: int = 1,
                   ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Median wall-clock ms per phase over ``iterations`` plain runs, then op-kind ms per
    phase from ``iterations`` more runs under the profiler."""
    clock = PhaseClock()
    with instrument(model, optimizer, clock):
        for _ in range(warmup):
            iteration()
        clock.iterations.clear()
        clock.current.clear()
        for _ in range(iterations):
            start = time.perf_counter()
            iteration()
            clock.end_iteration(time.perf_counter() - start)
        wall = clock.medians_ms()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(iterations):
                iteration()
    return wall, op_time_by_phase(prof, iterations)

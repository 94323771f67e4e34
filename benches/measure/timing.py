"""Timing protocol: per-phase timers around each training iteration, and robust summaries.

On CPU phases are timed with ``time.perf_counter``; on CUDA with CUDA events recorded on the
current stream, resolved after the iteration's end event (no host sync inside the timed region
other than the method's own). Per-step methods enter a phase T times; the times are summed.
A step replayed from a CUDA graph brings the phase events captured with it
(:class:`CaptureTimer`): each replay records them again, so they time that replay.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias

import torch

PHASES = ("forward", "backward", "optimizer")
Mark: TypeAlias = "float | torch.cuda.Event"
"""A point in time: ``time.perf_counter()`` on CPU, a recorded CUDA event on CUDA."""
PhaseMarks: TypeAlias = "list[tuple[str, Mark, Mark]]"
"""``(phase, start, end)`` of each timed phase of an iteration."""


class IterationTimer:
    """Times whole iterations and their phases. Use ``with timer.iteration(): ...`` and pass
    ``timer`` (callable as ``timer(phase)``) to the method's ``train_step``."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.samples: list[float] = []
        self.phase_samples: dict[str, list[float]] = defaultdict(list)
        self._marks: PhaseMarks = []

    def _mark(self) -> Mark:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    @staticmethod
    def _elapsed(start: Mark, end: Mark) -> float:
        if isinstance(start, float):
            assert isinstance(end, float)
            return end - start
        assert isinstance(end, torch.cuda.Event)
        return start.elapsed_time(end) / 1000.0

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = self._mark()
        try:
            yield
        finally:
            self._marks.append((phase, start, self._mark()))

    @contextmanager
    def iteration(self, record: bool = True) -> Iterator[None]:
        """One training iteration; ``record=False`` for warm-up iterations."""
        self._marks = []
        start = self._mark()
        yield
        end = self._mark()
        if isinstance(end, torch.cuda.Event):
            end.synchronize()
        if not record:
            return
        self.samples.append(self._elapsed(start, end))
        totals: dict[str, float] = defaultdict(float)
        for phase, a, b in self._marks:
            totals[phase] += self._elapsed(a, b)
        for phase, value in totals.items():
            self.phase_samples[phase].append(value)

    def add_marks(self, marks: PhaseMarks) -> None:
        """Phase events of a replayed CUDA graph, resolved with this iteration."""
        self._marks.extend(marks)

    def summary(self, batch_size: int) -> dict[str, Any]:
        """Medians, IQR, throughput and the raw samples (seconds)."""
        if not self.samples:
            return {}
        med = statistics.median(self.samples)
        out: dict[str, Any] = {
            "time_per_iter_s": med,
            "time_per_iter_iqr_s": iqr(self.samples),
            "time_per_iter_samples_s": list(self.samples),
            "samples_per_s": batch_size / med if med > 0 else None,
            "timed_iters": len(self.samples),
        }
        for phase in PHASES:
            values = self.phase_samples.get(phase)
            out[f"{phase}_s"] = statistics.median(values) if values else None
        return out


def iqr(values: list[float]) -> float:
    """Interquartile range (inclusive quartiles; 0 for fewer than two values)."""
    if len(values) < 2:
        return 0.0
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[2] - q[0]


class CaptureTimer(IterationTimer):
    """``timer(phase)`` for a step being captured in a CUDA graph: its marks are external timing
    events, which become nodes of the graph and are recorded again at every replay."""

    def __init__(self) -> None:
        super().__init__(torch.device("cuda"))

    @property
    def marks(self) -> PhaseMarks:
        return self._marks

    def _mark(self) -> Mark:
        event = torch.cuda.Event(enable_timing=True, external=True)
        event.record()
        return event


class DataWait:
    """Time from the end of the previous step until the next batch is on the device."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        self.samples: list[float] = []
        self._since = time.perf_counter()
        # (before the copy, after it was issued, CUDA events around it or None on CPU)
        self._pending: tuple[float, float, tuple[torch.cuda.Event, torch.cuda.Event] | None] \
            | None = None

    def restart(self) -> None:
        """The previous step ended now (or an epoch starts)."""
        self._since = time.perf_counter()

    def to_device(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch, copied to the device (asynchronously from pinned memory on CUDA)."""
        before = time.perf_counter()
        events = None
        if self.cuda:
            events = (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
            events[0].record()
        x = x.to(self.device, non_blocking=True)
        y = y.to(self.device, non_blocking=True)
        if events is not None:
            events[1].record()
        self._pending = (before, time.perf_counter(), events)
        return x, y

    def step_done(self, record: bool) -> None:
        """After the step (whose timer has waited for it): keep this iteration's wait."""
        assert self._pending is not None, "step_done() before to_device()"
        before, after, events = self._pending
        ready = after
        if events is not None:
            events[1].synchronize()
            ready = max(after, before + events[0].elapsed_time(events[1]) / 1000.0)
        if record:
            self.samples.append(ready - self._since)
        self.restart()

    def summary(self, step_samples: list[float]) -> dict[str, Any]:
        if not self.samples:
            return {}
        total = sum(self.samples) + sum(step_samples)
        return {
            "data_wait_s": statistics.median(self.samples),
            "data_wait_fraction": sum(self.samples) / total if total > 0 else None,
        }

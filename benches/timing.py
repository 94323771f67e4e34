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
from contextlib import contextmanager

import torch

PHASES = ("forward", "backward", "optimizer")


class IterationTimer:
    """Times whole iterations and their phases. Use ``with timer.iteration(): ...`` and pass
    ``timer`` (callable as ``timer(phase)``) to the method's ``train_step``."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.samples: list[float] = []
        self.phase_samples: dict[str, list[float]] = defaultdict(list)
        self._marks: list[tuple[str, object, object]] = []

    def _mark(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    @staticmethod
    def _elapsed(start, end) -> float:
        if isinstance(start, float):
            return end - start
        return start.elapsed_time(end) / 1000.0

    @contextmanager
    def __call__(self, phase: str):
        start = self._mark()
        try:
            yield
        finally:
            self._marks.append((phase, start, self._mark()))

    @contextmanager
    def iteration(self, record: bool = True):
        """One training iteration; ``record=False`` for warm-up iterations."""
        self._marks = []
        start = self._mark()
        yield
        end = self._mark()
        if self.cuda:
            end.synchronize()
        if not record:
            return
        self.samples.append(self._elapsed(start, end))
        totals: dict[str, float] = defaultdict(float)
        for phase, a, b in self._marks:
            totals[phase] += self._elapsed(a, b)
        for phase, value in totals.items():
            self.phase_samples[phase].append(value)

    def add_marks(self, marks: list[tuple[str, object, object]]) -> None:
        """Phase events of a replayed CUDA graph, resolved with this iteration."""
        self._marks.extend(marks)

    def summary(self, batch_size: int) -> dict:
        """Medians, IQR, throughput and the raw samples (seconds)."""
        if not self.samples:
            return {}
        med = statistics.median(self.samples)
        out = {
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
    def marks(self) -> list[tuple[str, object, object]]:
        return self._marks

    def _mark(self):
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
        self._pending: tuple | None = None

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
        before, after, events = self._pending
        ready = after
        if events is not None:
            events[1].synchronize()
            ready = max(after, before + events[0].elapsed_time(events[1]) / 1000.0)
        if record:
            self.samples.append(ready - self._since)
        self.restart()

    def summary(self, step_samples: list[float]) -> dict:
        if not self.samples:
            return {}
        total = sum(self.samples) + sum(step_samples)
        return {
            "data_wait_s": statistics.median(self.samples),
            "data_wait_fraction": sum(self.samples) / total if total > 0 else None,
        }

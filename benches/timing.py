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


class CaptureTimer:
    """``timer(phase)`` for a step being captured in a CUDA graph: records external timing
    events, which become nodes of the graph and are recorded again at every replay."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, object, object]] = []

    @staticmethod
    def _event():
        event = torch.cuda.Event(enable_timing=True, external=True)
        event.record()
        return event

    @contextmanager
    def __call__(self, phase: str):
        start = self._event()
        try:
            yield
        finally:
            self.marks.append((phase, start, self._event()))

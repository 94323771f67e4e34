"""How a cell's training step is executed: precision, compilation, memory layout, CUDA graphs.

A method owns what one training step computes (``Method.train_step``); this module owns how the
step is run, alike for every method of a grid:

* ``precision = "bf16"``: the step runs under ``torch.autocast`` with bfloat16 (parameters,
  gradients and optimizer state stay float32);
* ``precision = "fp64"``: parameters and the model's input in float64 (for exactness checks,
  e.g. a distributed cell against one process);
* ``compile = true``: the model's forward goes through ``torch.compile`` (Inductor);
* convolutional models and their inputs are ``channels_last`` (on the CPU oneDNN's convolutions
  are 1.1–1.4× faster in that layout: forward and backward of ResNet-18's stages, 2 threads);
  on CUDA cuDNN picks its fastest algorithm per shape (``cudnn.benchmark``);
* on CUDA, a method that declares ``cuda_graph = True`` has its whole training step (forward,
  every backward, every optimizer step) captured once per input shape, learning rates and
  host-side variant (``Method.variants``), then replayed: one launch per iteration instead of
  one per kernel, the same kernels and so the same gradients. A shape's first two steps run
  eagerly on a side stream: cuDNN autotuning and compilation happen outside the capture, and
  the second gives the step's CUDA working memory (a replay allocates nothing).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from benches.cell import DEVICES, Cell
from benches.measure.timing import CaptureTimer
from benches.worker.distributed import world
from methods import Method
from methods.base import NULL_TIMER, Timer

if TYPE_CHECKING:
    from torch.cuda import _POOL_HANDLE

GRAPHS_ENV = "BENCHES_CUDA_GRAPHS"
"""Set to 0 to run every step eagerly on CUDA (the record says so)."""
EAGER_STEPS = 2
"""Eager steps at each input shape before its step is captured."""
MAX_VARIANTS = 128
"""More host-side variants than this (e.g. sltt_k with a large C(T, K)) run eagerly."""


def uses_channels_last(model: nn.Module, device: torch.device) -> bool:
    """2-D convolutions run channels-last on every device (cuDNN and oneDNN prefer it)."""
    return device.type in DEVICES and any(isinstance(m, nn.Conv2d)
                                                  for m in model.modules())


def prepare_model(model: nn.Module, cell: Cell, device: torch.device) -> nn.Module:
    """Layout, cuDNN autotuning and compilation of a freshly built model (in place)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if cell.precision == "fp64":
        model.double()
        for module in model.modules():  # a layer with weights takes its input in float64
            if next(module.parameters(recurse=False), None) is not None:
                module.register_forward_pre_hook(_inputs_to_float64)
    if uses_channels_last(model, device):
        model.to(memory_format=torch.channels_last)
    if cell.compile:
        # one model has several legitimate guard variants (step mode, pass, grad mode, first
        # step of a sequence, train/eval): allow them all instead of falling back to eager
        torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
        model.compile()
    return model


def _inputs_to_float64(module: nn.Module, args: tuple) -> tuple:
    return tuple(a.double() if torch.is_tensor(a) and a.is_floating_point() else a for a in args)


def compile_stats() -> dict[str, int]:
    """Graphs Dynamo compiled and the graph breaks it hit in this process."""
    from torch._dynamo.utils import counters

    return {"compiled_graphs": int(counters["stats"]["unique_graphs"]),
            "graph_breaks": int(sum(counters["graph_break"].values()))}


def prepare_input(x_seq: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``[T, B, C, H, W]`` input whose per-step images are ``channels_last``."""
    if not channels_last or x_seq.dim() != 5:
        return x_seq
    T = x_seq.shape[0]
    return x_seq.flatten(0, 1).contiguous(memory_format=torch.channels_last).unflatten(0, (T, -1))


class StepRunner:
    """Runs ``method.train_step`` with the cell's precision, layout and CUDA graphs.

    ``runner(x_seq, y, timer)`` is one training iteration; it returns the loss (detached).
    """

    def __init__(self, method: Method, model: nn.Module,
                 optimizer: torch.optim.Optimizer | None, device: torch.device) -> None:
        self.method, self.model, self.optimizer, self.device = method, model, optimizer, device
        self.bf16 = method.cell.precision == "bf16"
        self.channels_last = uses_channels_last(model, device)
        self.why_eager = self._why_eager()
        self.graphed = self.why_eager is None
        self.eager_peak_bytes: int | None = None
        """CUDA memory allocated at the peak of an eager step after a shape's first, minus what
        was allocated before it (replays allocate nothing: this is the step's working
        memory)."""
        self._graphs: dict[Hashable, _CapturedStep] = {}
        self._warm: dict[tuple[Any, ...], int] = {}  # eager steps run per input shape
        self._lrs: tuple[float, ...] | None = None
        self._pool: _POOL_HANDLE | None = None
        self._side = torch.cuda.Stream(device) if self.graphed else None

    def _why_eager(self) -> str | None:
        if self.device.type != "cuda":
            return "not on CUDA"
        if os.environ.get(GRAPHS_ENV, "1") == "0":
            return f"disabled by {GRAPHS_ENV}=0"
        if world() is not None:
            return "several ranks (gradients are all-reduced before each optimizer step)"
        if not self.method.cuda_graph:
            return f"{self.method.cell.method} does not declare cuda_graph"
        if self.optimizer is None:
            return "gradients only (no optimizer)"
        count = len(self.method.variants())
        if count > MAX_VARIANTS:
            return f"{count} host-side variants (more than {MAX_VARIANTS})"
        return None

    def autocast(self) -> contextlib.AbstractContextManager[object]:
        """bfloat16 autocast, or nothing. Cached casts must not outlive a capture, so the cast
        cache is off when graphs are used (weights are cast inside every replay)."""
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16,
                              cache_enabled=not self.graphed)

    def info(self) -> dict[str, Any]:
        """What the record says about how the step ran."""
        return {
            "precision": self.method.cell.precision, "compile": self.method.cell.compile,
            "cuda_graph": self.graphed, "cuda_graph_note": self.why_eager,
            "graphs_captured": len(self._graphs) if self.graphed else 0,
            "channels_last": self.channels_last,
            "cudnn_benchmark": self.device.type == "cuda",
            "tf32_convolutions": self.device.type == "cuda" and torch.backends.cudnn.allow_tf32,
            **(compile_stats() if self.method.cell.compile else {}),
        }

    def __call__(self, x_seq: torch.Tensor, y: torch.Tensor,
                 timer: Timer = NULL_TIMER) -> torch.Tensor:
        if not self.graphed:
            with self.autocast():
                return self.method.train_step(self.model, prepare_input(x_seq, self.channels_last),
                                              y, self.optimizer, timer)
        shape = (tuple(x_seq.shape), tuple(y.shape))
        eager_steps = self._warm.get(shape, 0)
        if eager_steps < EAGER_STEPS:
            self._warm[shape] = eager_steps + 1
            return self._eager_on_side_stream(prepare_input(x_seq, self.channels_last), y, timer,
                                              measure=eager_steps > 0)
        try:
            graph = self._graph(shape, self.method.draw_variant(), x_seq, y)
        except RuntimeError as exc:  # a step that cannot be captured runs eagerly from now on
            self.graphed, self.why_eager = False, f"capture failed: {exc}".splitlines()[0][:300]
            self._graphs.clear()
            return self(x_seq, y, timer)
        return graph.replay(x_seq, y, timer)  # the input goes straight into its static buffer

    def capture_all(self, x_seq: torch.Tensor, y: torch.Tensor) -> None:
        """Capture every variant for this input now (before a timed region)."""
        if not self.graphed:
            return
        shape = (tuple(x_seq.shape), tuple(y.shape))
        while self._warm.get(shape, 0) < EAGER_STEPS:
            self(x_seq, y)
        try:
            for variant in self.method.variants():
                self._graph(shape, variant, x_seq, y)
        except RuntimeError as exc:
            self.graphed, self.why_eager = False, f"capture failed: {exc}".splitlines()[0][:300]
            self._graphs.clear()

    def _graph(self, shape: tuple[Any, ...], variant: Hashable, x_seq: torch.Tensor,
               y: torch.Tensor) -> _CapturedStep:
        assert self.optimizer is not None  # graphed: _why_eager() found an optimizer
        lrs = tuple(float(group["lr"]) for group in self.optimizer.param_groups)
        if lrs != self._lrs:  # learning rates are baked into a captured optimizer step
            self._graphs.clear()
            self._lrs = lrs
        key = (shape, variant)
        if key not in self._graphs:
            if self._pool is None:
                self._pool = torch.cuda.graph_pool_handle()
            self._graphs[key] = _CapturedStep(self, x_seq, y, variant)
        return self._graphs[key]

    def _eager_on_side_stream(self, x_seq: torch.Tensor, y: torch.Tensor, timer: Timer,
                              measure: bool) -> torch.Tensor:
        assert self._side is not None  # made in __init__ whenever steps are graphed
        main = torch.cuda.current_stream(self.device)
        self._side.wait_stream(main)
        before = torch.cuda.memory_allocated(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        with torch.cuda.stream(self._side), self.autocast():
            loss = self.method.train_step(self.model, x_seq, y, self.optimizer, timer)
        main.wait_stream(self._side)
        loss.record_stream(main)
        if measure:  # not the first step at a shape: that one includes cuDNN autotuning
            peak = torch.cuda.max_memory_allocated(self.device) - before
            self.eager_peak_bytes = max(self.eager_peak_bytes or 0, peak)
        return loss


class _CapturedStep:
    """One training step captured in a CUDA graph, with static input buffers."""

    def __init__(self, runner: StepRunner, x_seq: torch.Tensor, y: torch.Tensor,
                 variant: Hashable) -> None:
        method, optimizer = runner.method, runner.optimizer
        assert optimizer is not None  # graphed: _why_eager() found an optimizer
        self.x, self.y = prepare_input(x_seq, runner.channels_last).clone(), y.clone()
        self.graph = torch.cuda.CUDAGraph()
        timer = CaptureTimer()
        optimizer.zero_grad(set_to_none=True)  # gradients are allocated inside the capture
        method.variant = variant
        try:
            with torch.cuda.graph(self.graph, pool=runner._pool), runner.autocast():
                self.loss = method.train_step(runner.model, self.x, self.y, optimizer, timer)
        finally:
            method.variant = None
        self.marks = timer.marks

    def replay(self, x_seq: torch.Tensor, y: torch.Tensor, timer: Timer) -> torch.Tensor:
        self.x.copy_(x_seq)  # one copy, into the buffer's layout (channels_last on CUDA)
        self.y.copy_(y)
        self.graph.replay()
        add_marks = getattr(timer, "add_marks", None)
        if add_marks is not None:
            add_marks(self.marks)
        return self.loss.clone()

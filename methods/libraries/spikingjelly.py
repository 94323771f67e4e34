"""spikingjelly 2.x: ``neuron.LIFNode`` (``decay_input=False``), its fused multi-step operator and,
on CUDA, its native CUDA or Triton kernels (``SJ_LIF_CUDA_IMPLEMENTATION``, read at import)."""

from __future__ import annotations

import functools
import importlib
from typing import Any

import torch

from ..snn.config import LIFConfig
from .base import Library, SpikingNeuron, register_library

BACKEND_ENV = "SJ_LIF_CUDA_IMPLEMENTATION"


def sj_surrogate(cfg: LIFConfig) -> Any:
    """spikingjelly's surrogate equal to ours: Sigmoid(α), PiecewiseQuadratic(α), Rect(1/a)."""
    from spikingjelly.activation_based import surrogate

    if cfg.surrogate == "sigmoid":
        return surrogate.Sigmoid(alpha=cfg.alpha)
    if cfg.surrogate == "triangle":
        return surrogate.PiecewiseQuadratic(alpha=cfg.alpha)
    return surrogate.Rect(alpha=1.0 / cfg.alpha)


def lif_node_kwargs(cfg: LIFConfig) -> dict[str, Any]:
    """Keyword arguments of spikingjelly's LIF nodes for these constants."""
    return dict(
        tau=float(cfg.tau),
        decay_input=False,
        v_threshold=float(cfg.threshold),
        v_reset=None if cfg.reset == "soft" else 0.0,
        surrogate_function=sj_surrogate(cfg),
        detach_reset=cfg.detach_reset,
    )


@functools.cache
def _cuda_backend_problem(backend: str) -> str | None:
    module = "native" if backend == "cuda" else backend
    try:
        loaded = importlib.import_module(f"spikingjelly._ops.lif.{module}")
        if backend == "cuda":
            from spikingjelly._ops.native_loader import _check_native_device

            _check_native_device(loaded._build_info, torch.cuda.current_device())
    except (ImportError, OSError) as exc:
        return f"spikingjelly backend {backend!r} cannot run here: {exc}"
    except Exception as exc:  # noqa: BLE001 - a changed private API: say so, do not crash
        return f"spikingjelly backend {backend!r} could not be checked ({type(exc).__name__}: " \
            f"{exc})"
    return None


class SpikingJellyLIF(SpikingNeuron):
    """Wraps ``spikingjelly.activation_based.neuron.LIFNode`` (or a subclass passed as ``node``)."""

    library = "spikingjelly"
    node: Any  # a spikingjelly node (an nn.Module of an untyped library)

    def __init__(self, cfg: LIFConfig, node: torch.nn.Module | None = None) -> None:
        super().__init__(cfg)
        if node is None:
            from spikingjelly.activation_based import neuron

            node = neuron.LIFNode(**lif_node_kwargs(cfg), step_mode="m")
        self.node = node

    def _node(self, step_mode: str) -> Any:
        """The library node, set for this call: its step mode and the reset detachment of
        ``cfg`` (detached in exact mode)."""
        node = self.node
        node.step_mode, node.detach_reset = step_mode, self.cfg.detach_reset
        return node

    def _v(self) -> torch.Tensor | None:
        v = self.node.v
        return v if isinstance(v, torch.Tensor) else None

    def multi_step(self, x_seq: torch.Tensor) -> torch.Tensor:
        node = self._node("m")
        node.reset()
        out = node(x_seq)
        node.reset()
        return out

    def single_step(
        self, x: torch.Tensor, threshold: torch.Tensor | float | None = None
    ) -> torch.Tensor:
        node = self._node("s")
        v = self._v()
        self.h = x if v is None else x + self.cfg.decay * v
        if threshold is None:
            return node(x)
        node.v_threshold = float(threshold)
        try:
            return node(x)
        finally:
            node.v_threshold = float(self.cfg.threshold)

    def membrane(self) -> torch.Tensor | None:
        return self._v()

    def reset_state(self) -> None:
        super().reset_state()
        self.node.reset()

    def detach_state(self) -> None:
        super().detach_state()
        v = self._v()
        if v is not None:
            self.node.v = v.detach()

    @torch.no_grad()
    def sequence(self, x_seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        node = self._node("m")
        node.reset()
        node.store_v_seq = True
        try:
            s_seq = node(x_seq)
            v_seq = node.v_seq
        finally:
            node.store_v_seq = False
            node.reset()
        h_seq = x_seq.clone()
        h_seq[1:].add_(v_seq[:-1], alpha=self.cfg.decay)
        return s_seq, h_seq


class SpikingJellyOnlineLIF(SpikingJellyLIF):
    """spikingjelly's online nodes: ``OTTTLIFNode`` (keeps the presynaptic trace) or
    ``SLTTLIFNode``; both detach the membrane before every training step themselves."""

    trace: torch.Tensor | None  # kept state (``register_memory``), declared for the type checker

    def __init__(self, cfg: LIFConfig, kind: str) -> None:
        from spikingjelly.activation_based.neuron import OTTTLIFNode, SLTTLIFNode

        node_cls = OTTTLIFNode if kind == "ottt" else SLTTLIFNode
        super().__init__(cfg, node_cls(**lif_node_kwargs(cfg), step_mode="s"))
        self.provides_trace = kind == "ottt"
        self.register_memory("trace")  # OTTTLIFNode's presynaptic trace of the last step

    def single_step(
        self, x: torch.Tensor, threshold: torch.Tensor | float | None = None
    ) -> torch.Tensor:
        out = super().single_step(x, threshold)
        if isinstance(out, (list, tuple)):  # OTTTLIFNode in training: [spike, trace]
            out, self.trace = out
        return out

    def multi_step(self, x_seq: torch.Tensor) -> torch.Tensor:
        self.reset_state()
        out = torch.stack([self.single_step(x) for x in x_seq])
        self.reset_state()
        return out


class SpikingJellyTraceSynapse(torch.nn.Module):
    """spikingjelly's ``layer.GradwithTrace`` for spike/trace pairs, the plain module otherwise."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        from spikingjelly.activation_based.layer import GradwithTrace

        self.module = module
        self.with_trace = GradwithTrace(module)

    def forward(self, x: Any) -> torch.Tensor:  # a tensor or a SpikeTrace pair
        from ..snn.trace import SpikeTrace

        if isinstance(x, SpikeTrace):
            return self.with_trace([x.spike, x.trace])
        return self.module(x)


@register_library
class SpikingJellyLibrary(Library):
    name = "spikingjelly"
    description = "spikingjelly 2.x LIFNode; CUDA backends: cuda (native), triton, torch"
    distribution = "spikingjelly"
    backends = ("torch", "auto", "cuda", "triton")

    def default_backend(self, device: str) -> str:
        """On CUDA spikingjelly picks its kernels itself; on CPU only torch ops run."""
        return "auto" if device == "cuda" else "torch"

    def backend_problem(self, backend: str, device: str) -> str | None:
        """Asks spikingjelly's own loaders, as its backend selection does: the ``cuda``
        backend needs native operators built for this GPU, ``triton`` needs Triton."""
        if backend in ("torch", "auto"):
            return None
        if device == "cpu":
            return f"spikingjelly backend {backend!r} needs CUDA; on CPU only 'torch' runs"
        if not torch.cuda.is_available():
            return f"spikingjelly backend {backend!r} needs CUDA; no CUDA device is available"
        return _cuda_backend_problem(backend)

    def backend_env(self, backend: str) -> dict[str, str]:
        return {} if backend == "auto" else {BACKEND_ENV: backend}

    def backend_in_use(self, backend: str, device: torch.device) -> str:
        from spikingjelly.activation_based.functional.neuron import neuron_implementation

        return str(neuron_implementation("lif", device)["implementation"])

    def neuron(self, cfg: LIFConfig) -> SpikingNeuron:
        return SpikingJellyLIF(cfg)

    def online_neuron(self, cfg: LIFConfig, kind: str) -> SpikingNeuron:
        return SpikingJellyOnlineLIF(cfg, kind)

    def trace_synapse(self, module: torch.nn.Module) -> torch.nn.Module:
        return SpikingJellyTraceSynapse(module)

    def weight_standardized(self, kind: str, *args: Any, **kwargs: Any) -> torch.nn.Module:
        from spikingjelly.activation_based import layer

        return (layer.WSConv2d if kind == "conv" else layer.WSLinear)(*args, **kwargs)

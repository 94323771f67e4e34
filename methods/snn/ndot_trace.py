"""NDOT's presynaptic trace: OTTT's trace decayed by a neuron-dynamics factor instead of λ.

Jiang et al., ICML 2024 (official code: HaiyanJiang/SNN-NDOT, ``modules/neuron.py``
``OnlineLIFNode.forward``). With ``V_t`` the membrane after the reset of step ``t``, ``s_t`` the
spikes and ``θ`` the threshold, each spiking layer keeps, without gradient,

    P_t = clamp(safe(( V_t − θ·s_t ) / ( V_{t−1} − θ·s_{t−1} )), −λ, λ)
    â_t = P_t ⊙ â_{t−1} + s_t,        â_1 = s_1,

where ``safe`` puts ``λ`` wherever the ratio is not a finite number or its denominator is 0.
Everything else (spike/trace pairs, trace-based weight gradients) is OTTT's
(:mod:`methods.snn.trace`).
"""

from __future__ import annotations

import torch

from .neuron import Neuron
from .trace import TraceNeuron


def ndot_factor(now: torch.Tensor, before: torch.Tensor, decay: float) -> torch.Tensor:
    """``P_t`` from ``now = V_t − θ s_t`` and ``before = V_{t−1} − θ s_{t−1}``: their ratio
    where it and both terms are finite and ``before ≠ 0``, else ``decay`` (λ); then clamped to
    ``[−λ, λ]``."""
    ratio = now / before
    ok = torch.isfinite(ratio) & torch.isfinite(now) & torch.isfinite(before) & (before != 0)
    return torch.where(ok, ratio, decay).clamp(-decay, decay)


class NDOTTraceNeuron(TraceNeuron):
    """:class:`TraceNeuron` whose trace decays by NDOT's ``P_t`` (see the module docstring).

    ``inner`` must be a plain library neuron (one that keeps no trace of its own) whose
    ``membrane()`` gives the post-reset potential ``V_t``. Kept without grad: the trace and
    ``V_{t−1} − θ s_{t−1}`` of the previous step.
    """

    before: torch.Tensor | None  # V_{t−1} − θ·s_{t−1} (``register_memory``)

    def __init__(self, inner: Neuron, scale: float = 1.0) -> None:
        if getattr(inner, "provides_trace", False):
            raise ValueError("NDOT computes its own trace: give it a neuron without one")
        super().__init__(inner, scale)
        self.register_memory("before")

    def next_trace(self, spikes: torch.Tensor) -> torch.Tensor:
        cfg = self.inner.cfg
        v = self.inner.membrane()
        if v is None:
            raise RuntimeError(f"{type(self.inner).__name__} kept no membrane after its step")
        now = v.detach() - cfg.threshold * spikes
        before, self.before = self.before, now
        if self.trace is None or before is None:
            return spikes
        return self.trace * ndot_factor(now, before, cfg.decay) + spikes

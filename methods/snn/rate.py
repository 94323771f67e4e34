"""Rate-based backpropagation (Yu et al., NeurIPS 2024): two passes per iteration.

Pass 1 (``phase='spike'``, no grad) runs all T steps; each spiking layer keeps the rate
``r = (1/T)·Σ s_t`` and the eligibility ``e = (1/T)·Σ σ'(H_t − θ)·κ_t`` with ``κ_1 = 1``,
``κ_{t+1} = 1 + κ_t·J_t`` (``J_t = ∂H_{t+1}/∂H_t``, see :func:`lif.temporal_jacobian`);
BatchNorm layers record the batch statistics of their inputs.
Pass 2 (``phase='rate'``, with grad) runs the network once on the time-averaged input: a
spiking layer returns ``r.detach() + (c⊙e − (c⊙e).detach())`` (value: the true rate; gradient:
``dr/dc = e``) and BatchNorm takes its value from the pass-1 statistics while the gradient
flows through the rate tensor's own statistics. Nothing of the temporal graph is stored.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import LIFConfig
from .functional import TwoPassModule
from .lif import temporal_jacobian
from .surrogate import surrogate_grad


class Eligibility:
    """Running ``Σ s_t``, ``Σ σ'_t κ_t`` and ``κ_t`` of one layer over the spike pass."""

    def __init__(self, cfg: LIFConfig) -> None:
        self.cfg = cfg
        self.steps = 0
        self.spikes: torch.Tensor | None = None
        self.elig: torch.Tensor | None = None
        self.kappa: torch.Tensor | float = 1.0
        # κ is the same for every neuron when J_t is a constant (soft reset, reset detached)
        self.constant_jacobian = cfg.reset == "soft" and cfg.detach_reset

    @torch.no_grad()
    def update(self, h: torch.Tensor, s: torch.Tensor) -> None:
        """Add step t: its charged potentials ``h`` and spikes ``s``."""
        cfg = self.cfg
        sg = surrogate_grad(h - cfg.threshold, cfg.surrogate, cfg.alpha)
        kappa = self.kappa
        if self.steps == 0:
            self.spikes = s.clone()
            self.elig = sg  # κ_1 = 1 (sg is a fresh tensor, not modified in this step)
        else:
            self.spikes.add_(s)
            if torch.is_tensor(kappa):
                self.elig.addcmul_(sg, kappa)
            else:
                self.elig.add_(sg, alpha=kappa)
        if self.constant_jacobian:
            self.kappa = 1.0 + kappa * cfg.decay
        else:
            self.kappa = 1.0 + kappa * temporal_jacobian(h, s, sg, cfg)
        self.steps += 1

    def rate_and_eligibility(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.steps == 0:
            raise RuntimeError("the rate pass needs a spike pass first")
        return self.spikes / self.steps, self.elig / self.steps


def eligibility_of_sequence(
    h_seq: torch.Tensor, s_seq: torch.Tensor, cfg: LIFConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rate and eligibility of a whole ``[T, ...]`` sequence of charges and spikes."""
    acc = Eligibility(cfg)
    for h, s in zip(h_seq, s_seq, strict=True):
        acc.update(h, s)
    return acc.rate_and_eligibility()


class RateNeuron(TwoPassModule):
    """A library neuron made two-pass; plain spiking neuron in evaluation."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.acc: Eligibility | None = None
        self.rate: torch.Tensor | None = None
        self.elig: torch.Tensor | None = None

    def forward(self, x):
        if not self.training or self.exact:
            return self.inner(x) if self.step_mode == "m" else self.inner.single_step(x)
        if self.phase == "rate":
            if self.rate is None:
                self.rate, self.elig = self.acc.rate_and_eligibility()
            ce = x * self.elig
            return self.rate + (ce - ce.detach())
        if self.step_mode == "m":
            x_seq = x.reshape(self.T, -1, *x.shape[1:])
            s_seq, h_seq = self.inner.sequence(x_seq)
            self.rate, self.elig = eligibility_of_sequence(h_seq, s_seq, self.inner.cfg)
            return s_seq.flatten(0, 1)
        with torch.no_grad():
            s = self.inner.single_step(x)
        if self.acc is None:
            self.acc = Eligibility(self.inner.cfg)
        self.acc.update(self.inner.h, s)
        return s

    def reset_state(self) -> None:
        self.inner.reset_state()
        self.acc, self.rate, self.elig = None, None, None


class RateBatchNorm(TwoPassModule):
    """BatchNorm for rate-based BP.

    Spike pass: ordinary training BatchNorm (running statistics updated) that also records the
    batch mean and variance of its input — over T·B in multi-step mode, averaged over the per-step
    statistics in single-step mode. Rate pass: the normalisation *value* uses the recorded
    statistics, the *gradient* flows through the rate input's own statistics (straight-through);
    running statistics are not touched. Evaluation: ordinary BatchNorm.
    """

    def __init__(self, channels: int, dims: int = 2) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm1d(channels)
        self.reduce = (0, 2, 3) if dims == 2 else (0,)
        self._sum_mean: torch.Tensor | None = None
        self._sum_var: torch.Tensor | None = None
        self._count = 0

    def _shape(self, x: torch.Tensor) -> list[int]:
        return [1, x.shape[1]] + [1] * (x.ndim - 2)

    def forward(self, x):
        if not self.training or self.exact:
            return self.bn(x)
        if self.phase == "spike":
            with torch.no_grad():
                var, mean = torch.var_mean(x, dim=self.reduce, unbiased=False)
                self._sum_mean = mean if self._count == 0 else self._sum_mean + mean
                self._sum_var = var if self._count == 0 else self._sum_var + var
                self._count += 1
            return self.bn(x)
        if self._count == 0:
            raise RuntimeError("the rate pass needs a spike pass first")
        shape = self._shape(x)
        spike_mean = (self._sum_mean / self._count).view(shape)
        spike_var = (self._sum_var / self._count).view(shape)
        rate_mean = x.mean(dim=self.reduce, keepdim=True)
        mean = spike_mean + (rate_mean - rate_mean.detach())
        rate_var = ((x - mean) ** 2).mean(dim=self.reduce, keepdim=True)
        var = spike_var + (rate_var - rate_var.detach())
        x_hat = (x - mean) * torch.rsqrt(var + self.bn.eps)
        return x_hat * self.bn.weight.view(shape) + self.bn.bias.view(shape)

    def reset_state(self) -> None:
        self._sum_mean, self._sum_var, self._count = None, None, 0

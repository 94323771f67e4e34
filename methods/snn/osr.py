"""Online Stabilization (Zhu et al., ICLR 2024): OTS threshold and OSR normalisation.

* OTS (online threshold stabilizer, no grad): at the first step
  ``ratio = (θ₀ − mean(H_1)) / std(H_1)`` over the whole layer tensor; afterwards
  ``θ_t = mean(H_t) + std(H_t)·ratio``. The step fires and resets with ``θ_t``. Where that has
  no finite value — a layer whose ``H_1`` is constant (``std(H_1) = 0``: a layer silent at step
  1 feeding a bias-free synapse) makes the ratio ±inf or NaN — ``θ_t`` is ``θ₀`` (the official
  code, ``modules/neurons.py`` ``adjust_th``, divides by zero there and computes NaN).
* OSR (online spiking renormalization, a BatchNorm replacement): per step the batch mean ``μ_t``
  and variance ``σ²_t`` are accumulated into the sequence statistics ``μ = mean_t μ_t`` and
  ``σ² = mean_t(σ²_t + μ_t²) − μ²``; the running statistics (momentum 0.9) are updated from the
  previous iteration's sequence statistics; the forward normalises with the running statistics
  (batch statistics when their inverse-std ratio exceeds the bound, 20); the backward is the
  batch-statistics BN backward with ``γ' = γ·σ_t/σ̂`` and ``∂γ += Σ dy·(μ_t − μ̂)/σ̂``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .functional import StepModule
from .neuron import Neuron
from .ranks import batch_means

BOUND = 20.0
MOMENTUM = 0.9


class OTSNeuron(StepModule):
    """A library neuron with OS's per-step threshold; membrane detached before every step."""

    # kept state (``register_memory``), declared for the type checker
    ratio: torch.Tensor | None
    thresholds: list[torch.Tensor]

    def __init__(self, inner: Neuron) -> None:
        super().__init__()
        self.inner = inner
        self.register_memory("ratio")  # (θ₀ − mean(H_1)) / std(H_1) of this sequence
        self.register_memory("thresholds", list)  # θ_t of every step of this sequence

    @torch.no_grad()
    def threshold_for(self, h: torch.Tensor) -> torch.Tensor:
        """θ_t for charged potentials ``h`` (sets the ratio at the first step); θ₀ where
        ``mean + std·ratio`` is not finite (``std(H_1) = 0``), a plain LIF threshold."""
        theta0 = self.inner.cfg.threshold
        mean, std = h.mean(), h.std()
        if self.ratio is None:
            self.ratio = (theta0 - mean) / std
        theta = mean + std * self.ratio
        return torch.where(torch.isfinite(theta), theta, theta0)  # on the device: no sync

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "m":
            raise RuntimeError("OS's threshold is computed step by step: use single-step mode")
        if not self.exact:
            self.inner.detach_state()
        v = self.inner.membrane()
        h = x.detach() if v is None else x.detach() + self.inner.cfg.decay * v.detach()
        theta = self.threshold_for(h)
        self.thresholds.append(theta)
        return self.inner(x, threshold=theta)


class _OSRFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
        mean_t: torch.Tensor, invstd_t: torch.Tensor, use_mean: torch.Tensor,
        use_invstd: torch.Tensor, run_mean: torch.Tensor, run_invstd: torch.Tensor,
        reduce: tuple[int, ...], synchronised: bool = False,
    ) -> torch.Tensor:
        shape = [1, x.shape[1]] + [1] * (x.ndim - 2)
        y = (x - use_mean.view(shape)) * (use_invstd * gamma).view(shape) + beta.view(shape)
        ctx.save_for_backward(x, gamma, mean_t, invstd_t, run_mean, run_invstd)
        ctx.reduce, ctx.synchronised = reduce, synchronised
        return y

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, gamma, mean_t, invstd_t, run_mean, run_invstd = ctx.saved_tensors
        reduce = ctx.reduce
        shape = [1, x.shape[1]] + [1] * (x.ndim - 2)
        x_hat = (x - mean_t.view(shape)) * invstd_t.view(shape)
        sum_dy = dy.sum(dim=reduce)
        sum_dy_xhat = (dy * x_hat).sum(dim=reduce)
        (mean_dy, mean_dy_xhat), _ = batch_means([sum_dy, sum_dy_xhat], dy, ctx.synchronised)
        gamma_eff = gamma * run_invstd / invstd_t  # γ' = γ·σ_t/σ̂
        grad_x = (gamma_eff * invstd_t).view(shape) * (
            dy - mean_dy.view(shape) - x_hat * mean_dy_xhat.view(shape)
        )
        grad_gamma = sum_dy_xhat + sum_dy * (mean_t - run_mean) * run_invstd
        return grad_x, grad_gamma, sum_dy, None, None, None, None, None, None, None, None


class OSRNorm(StepModule):
    """Online spiking renormalization; eval normalises with the running statistics."""

    # buffers and kept state, declared for the type checker
    running_mean: torch.Tensor
    running_var: torch.Tensor
    seq_sum_mean: torch.Tensor
    seq_sum_sq: torch.Tensor
    _new_sequence: bool

    def __init__(self, channels: int, dims: int = 2, eps: float = 1e-5,
                 bound: float = BOUND) -> None:
        super().__init__()
        self.bound = bound
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.eps = eps
        self.reduce = (0, 2, 3) if dims == 2 else (0,)
        self.synchronised = False
        # Σ μ_t and Σ (σ²_t + μ_t²) of the current sequence, in buffers (fixed addresses) so
        # that a CUDA-graph replay folds the statistics of the previous replay
        self.register_buffer("seq_sum_mean", torch.zeros(channels), persistent=False)
        self.register_buffer("seq_sum_sq", torch.zeros(channels), persistent=False)
        self._steps = 0  # steps in those sums (kept across sequences, like them)
        self.register_memory("_new_sequence", True)  # fold the sums before the next step

    @torch.no_grad()
    def _fold_previous_sequence(self) -> None:
        if self._steps == 0:
            return
        mean = self.seq_sum_mean / self._steps
        var = self.seq_sum_sq / self._steps - mean**2
        self.running_mean += (1 - MOMENTUM) * (mean - self.running_mean)
        self.running_var += (1 - MOMENTUM) * (var - self.running_var)
        self.seq_sum_mean.zero_()
        self.seq_sum_sq.zero_()
        self._steps = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = [1, x.shape[1]] + [1] * (x.ndim - 2)
        if not self.training:
            return (x - self.running_mean.view(shape)) * torch.rsqrt(
                self.running_var.view(shape) + self.eps
            ) * self.weight.view(shape) + self.bias.view(shape)
        if self._new_sequence:
            self._fold_previous_sequence()
            self._new_sequence = False
        with torch.no_grad():
            if self.synchronised:  # the global batch's
                (mean_t, mean_sq), _ = batch_means(
                    [x.sum(self.reduce), (x * x).sum(self.reduce)], x, True)
                var_t = mean_sq - mean_t * mean_t
            else:
                var_t, mean_t = torch.var_mean(x, dim=self.reduce, unbiased=False)
            self.seq_sum_mean += mean_t
            self.seq_sum_sq += var_t + mean_t**2
            self._steps += 1
            invstd_t = torch.rsqrt(var_t + self.eps)
            run_invstd = torch.rsqrt(self.running_var + self.eps)
            ratio = torch.maximum(run_invstd / invstd_t, invstd_t / run_invstd).max()
            use_running = ratio <= self.bound  # a device tensor: no host sync, graph-capturable
            use_mean = torch.where(use_running, self.running_mean, mean_t)
            use_invstd = torch.where(use_running, run_invstd, invstd_t)
        if self.exact:  # the gradient of exactly this forward
            if not bool(use_running):
                var_g, use_mean = torch.var_mean(x, dim=self.reduce, unbiased=False)
                use_invstd = torch.rsqrt(var_g + self.eps)
            return (x - use_mean.view(shape)) * (use_invstd * self.weight).view(shape) \
                + self.bias.view(shape)
        return _OSRFunction.apply(
            x, self.weight, self.bias, mean_t, invstd_t, use_mean, use_invstd,
            self.running_mean.clone(), run_invstd, self.reduce, self.synchronised,
        )

    def synchronise(self) -> None:
        """Normalise over every rank's batch (the recipe's ``sync_bn`` on several ranks): each
        step's statistics and the backward means are all-reduced, as the official code's
        synchronised OSR."""
        self.synchronised = True

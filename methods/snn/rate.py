"""Rate-based backpropagation (Yu et al., NeurIPS 2024): two passes per iteration.

Pass 1 (``phase='spike'``, no grad) runs all T steps; each spiking layer keeps the rate
``r = (1/T)·Σ s_t`` and the eligibility ``e = (1/T)·Σ σ'(H_t − θ)·κ_t`` with ``κ_1 = 1``,
``κ_{t+1} = 1 + κ_t·J_t`` (``J_t = ∂H_{t+1}/∂H_t``, see :func:`lif.temporal_jacobian`);
BatchNorm layers record the batch statistics of their inputs (single-step: the average of the
per-step statistics, or the last step's as rate-BP's official code does, ``BN_STATISTICS``).
Pass 2 (``phase='rate'``, with grad) runs the network once on the time-averaged input: a
spiking layer returns ``r.detach() + (c⊙e − (c⊙e).detach())`` (value: the true rate; gradient:
``dr/dc = e``) and BatchNorm takes its value from the pass-1 statistics while the gradient
flows through the rate tensor's own statistics. Nothing of the temporal graph is stored.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from .config import LIFConfig
from .functional import TwoPassModule
from .lif import temporal_jacobian
from .neuron import Neuron
from .ranks import batch_means, update_running
from .surrogate import add_surrogate_grad, surrogate_grad

BN_STATISTICS = ("mean", "last_step")
"""What a single-step spike pass hands BatchNorm's rate pass: ``mean``, the averages of the
per-step batch means and variances; ``last_step``, the last step's mean and variance + ε (ε is
added again when normalising), which is what Tab-ct/rate-based-backpropagation computes in step
mode ``s`` (``model/model_setting.py`` ``bn_forward_hook``)."""


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
        self.spikes = s.clone() if self.spikes is None else self.spikes.add_(s)  # step 0: None
        if self.constant_jacobian:  # κ_t is a number: e += κ_t·σ'_t in one fused pass
            kappa_t = cast(float, self.kappa)  # stays a number: 1 + κ·λ from κ_1 = 1.0
            self.elig = add_surrogate_grad(self.elig, h, cfg.threshold, cfg.surrogate,
                                           cfg.alpha, kappa_t)
            self.kappa = 1.0 + kappa_t * cfg.decay
        else:
            sg = surrogate_grad(h - cfg.threshold, cfg.surrogate, cfg.alpha)
            kappa = self.kappa
            term = sg * kappa
            self.elig = term if self.elig is None else self.elig.add_(term)  # step 0: None
            self.kappa = 1.0 + kappa * temporal_jacobian(h, s, sg, cfg)
        self.steps += 1

    def rate_and_eligibility(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.spikes is None or self.elig is None:  # no step yet
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


class _RateSubstitute(torch.autograd.Function):
    """Value: the spike rate ``r`` of pass 1; gradient: ``∂r/∂c = e`` (only ``e`` is saved)."""

    @staticmethod
    def forward(
        ctx: Any, current: torch.Tensor, rate: torch.Tensor, elig: torch.Tensor
    ) -> torch.Tensor:
        ctx.save_for_backward(elig)
        return rate.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (elig,) = ctx.saved_tensors
        return grad * elig, None, None


class _StraightThroughBN(torch.autograd.Function):
    """BatchNorm of the rate pass: the value normalises ``x`` with the spike-pass statistics
    (μ_s, σ²_s); the gradient is that of the same expression with the mean and variance
    replaced, straight-through, by ``x``'s own (mean μ_r; variance of ``x − m`` about the
    straight-through mean). With ``d = x − μ_s`` and ``r = (σ²_s + eps)^-½`` per channel:
    ``∂x = γ·r·(dy − mean(dy) − r²·mean(dy·d)·(d − mean(d)))``."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
        spike_mean: torch.Tensor, spike_var: torch.Tensor, eps: float, reduce: tuple[int, ...],
        synchronised: bool = False,
    ) -> torch.Tensor:
        shape = [1, x.shape[1]] + [1] * (x.ndim - 2)
        r = torch.rsqrt(spike_var + eps)
        d = x - spike_mean.view(shape)
        x_hat = d * r.view(shape)
        ctx.save_for_backward(d, r, weight)
        ctx.reduce, ctx.shape, ctx.synchronised = reduce, shape, synchronised
        return x_hat * weight.view(shape) + bias.view(shape)

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        d, r, weight = ctx.saved_tensors
        reduce, shape = ctx.reduce, ctx.shape
        rv = r.view(shape)
        sums = [dy.sum(dim=reduce), (dy * d).sum(dim=reduce), d.sum(dim=reduce)]
        means, _ = batch_means(sums, dy, ctx.synchronised)
        mean_dy, mean_dy_d, mean_d = (m.view(shape) for m in means)
        grad_x = (weight.view(shape) * rv) * (dy - mean_dy - rv**2 * mean_dy_d * (d - mean_d))
        grad_weight = sums[1] * r
        grad_bias = sums[0]
        return grad_x, grad_weight, grad_bias, None, None, None, None, None


class _StraightThroughBNNative(torch.autograd.Function):
    """:class:`_StraightThroughBN` through PyTorch's batch-norm kernels (the CUDA path): the
    value is inference BN with the spike-pass statistics; the gradient is the training BN
    backward about ``μ_s`` with inverse std ``r`` — which is the straight-through gradient
    except for ``γ·r³·mean(dy·d)·mean(d)`` per channel, added back here. Same mathematics,
    four or five kernels per layer instead of about fourteen."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
        spike_mean: torch.Tensor, spike_var: torch.Tensor, eps: float, reduce: tuple[int, ...],
    ) -> torch.Tensor:
        shape = [1, x.shape[1]] + [1] * (x.ndim - 2)
        y = torch.batch_norm(x, weight, bias, spike_mean, spike_var, False, 0.0, eps,
                             torch.backends.cudnn.enabled)
        mean_d = x.mean(dim=reduce) - spike_mean
        ctx.save_for_backward(x, weight, spike_mean, torch.rsqrt(spike_var + eps), mean_d)
        ctx.eps, ctx.shape, ctx.n = eps, shape, x.numel() // x.shape[1]
        return y

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight, spike_mean, r, mean_d = ctx.saved_tensors
        grad_x, grad_weight, grad_bias = torch.ops.aten.native_batch_norm_backward(
            dy, x, weight, None, None, spike_mean, r, True, ctx.eps, [True, True, True])
        # grad_weight = r·Σ dy·d, so r³·mean(dy·d) = r²·grad_weight / n
        grad_x = grad_x + (weight * r * r * grad_weight * mean_d / ctx.n).view(ctx.shape)
        return grad_x, grad_weight, grad_bias, None, None, None, None


class RateNeuron(TwoPassModule):
    """A library neuron made two-pass; plain spiking neuron in evaluation."""

    # kept state (``register_memory``), declared for the type checker
    acc: Eligibility | None
    rate: torch.Tensor | None
    elig: torch.Tensor | None

    def __init__(self, inner: Neuron) -> None:
        super().__init__()
        self.inner = inner
        self.register_memory("acc")  # Eligibility of a single-step spike pass
        self.register_memory("rate")  # r and e of the spike pass, read by the rate pass
        self.register_memory("elig")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.exact:
            return self.inner(x)
        if self.phase == "rate":
            if self.rate is None:
                if self.acc is None:
                    raise RuntimeError("the rate pass needs a spike pass first")
                self.rate, self.elig = self.acc.rate_and_eligibility()
            return _RateSubstitute.apply(x, self.rate, self.elig)
        with torch.no_grad():
            if self.step_mode == "m":  # all T steps at once, H never stored
                s = self.inner(x, eligibility=True)
                eligibility = self.inner.eligibility
                if eligibility is None:
                    raise RuntimeError("the neuron's spike pass left no eligibility")
                self.rate, self.elig = eligibility
                return s
            s = self.inner(x)
        if self.acc is None:
            self.acc = Eligibility(self.inner.cfg)
        if self.inner.h is None:
            raise RuntimeError("the neuron's step left no charge in .h")
        self.acc.update(self.inner.h, s)
        return s


class RateBatchNorm(TwoPassModule):
    """BatchNorm for rate-based BP.

    Spike pass: ordinary training BatchNorm (running statistics updated) that also records the
    batch mean and variance of its input — over T·B in multi-step mode; in single-step mode
    averaged over the per-step statistics (``stats='mean'``) or the last step's, its variance
    + ε (``stats='last_step'``, see :data:`BN_STATISTICS`). Rate pass: the normalisation
    *value* uses the recorded statistics, the *gradient* flows through the rate input's own
    statistics (straight-through); running statistics are not touched. Evaluation: ordinary
    BatchNorm.
    """

    # kept state (``register_memory``), declared for the type checker
    _sum_mean: torch.Tensor | None
    _sum_var: torch.Tensor | None
    _count: int

    def __init__(self, channels: int, dims: int = 2, stats: str = "mean") -> None:
        super().__init__()
        if stats not in BN_STATISTICS:
            raise ValueError(f"stats must be one of {BN_STATISTICS}, got {stats!r}")
        self.stats = stats
        self.bn = nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm1d(channels)
        self.reduce = (0, 2, 3) if dims == 2 else (0,)
        self.synchronised = False
        # Σ of the per-step batch means and variances of the spike pass, and their count
        # (``last_step``: the latest step's, count 1)
        self.register_memory("_sum_mean")
        self.register_memory("_sum_var")
        self.register_memory("_count", 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bn = self.bn
        if not self.training or self.exact:
            return bn(x)
        if self.phase == "spike":
            out, mean, var = self._spike_pass(x)
            if self.stats == "last_step" or self._sum_mean is None or self._sum_var is None:
                self._sum_mean, self._sum_var, self._count = mean, var, 1  # first or last step
            else:
                self._sum_mean, self._sum_var = self._sum_mean + mean, self._sum_var + var
                self._count += 1
            return out
        if self._sum_mean is None or self._sum_var is None:  # no step yet (count 0)
            raise RuntimeError("the rate pass needs a spike pass first")
        spike_mean, spike_var = self._sum_mean / self._count, self._sum_var / self._count
        if self.stats == "last_step":  # the official code's σ²_T + ε, normalised with + ε again
            spike_var = spike_var + bn.eps
        if self.synchronised:  # the global batch's means in the backward pass
            return _StraightThroughBN.apply(x, bn.weight, bn.bias, spike_mean, spike_var,
                                            bn.eps, self.reduce, True)
        function = _StraightThroughBNNative if x.is_cuda else _StraightThroughBN
        return function.apply(x, bn.weight, bn.bias, spike_mean, spike_var, bn.eps, self.reduce)

    def synchronise(self) -> None:
        """Normalise over every rank's batch (the recipe's ``sync_bn`` on several ranks): the
        spike pass's statistics and the rate pass's backward means are all-reduced."""
        self.synchronised = True

    def _spike_pass(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training BatchNorm of the spike pass (no grad): its output and the batch mean and
        (biased) variance it normalised with; the running statistics updated."""
        bn = self.bn
        if bn.num_batches_tracked is not None:  # always (as nn.BatchNorm checks)
            bn.num_batches_tracked.add_(1)
        if not self.synchronised:
            # the training BatchNorm itself returns the batch statistics it normalised with
            # (PyTorch picks its implementation, as nn.BatchNorm does: cuDNN on CUDA)
            out, mean, invstd, _, _ = torch.ops.aten._batch_norm_impl_index(
                x, bn.weight, bn.bias, bn.running_mean, bn.running_var, True, bn.momentum,
                bn.eps, torch.backends.cudnn.enabled,
            )
            return out, mean, invstd.pow(-2).sub_(bn.eps)
        (mean, mean_sq), count = batch_means(
            [x.sum(self.reduce), (x * x).sum(self.reduce)], x, True)
        var = mean_sq - mean * mean
        update_running(bn, mean, var * count / max(count - 1, 1))
        out = torch.batch_norm(x, bn.weight, bn.bias, mean, var, False, 0.0, bn.eps,
                               torch.backends.cudnn.enabled)
        return out, mean, var

"""FPTT: forward propagation through time (one optimizer step per time step, dynamic
regulariser around a running average of the weights)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from benches.cell import Cell

from .base import NULL_TIMER, Complexity, Method, Timer, forward_steps, register_method
from .snn.fptt import StepLoss, accumulate_gradient, fptt_train_step, optimizer_parameters
from .snn.functional import exact_mode, reset_states, set_step_mode
from .snn.layers import LayerFactory
from .snn.loss import step_loss
from .snn.online import OnlineNeuron

ALPHA = 0.1
"""FPTT's α: byin-cwi/sFPTT (the FPTT paper's code, commit a5a630a) has ``--alpha`` default .1
in every training script (fptt/fptt_img/train_gesture_dvs_snn.py, train_cifar_dvs_snn.py,
train_mnist_snn.py; fptt/fptt_mnist/train_mnist_snn_v2.py), the value its saved MNIST model
was trained with (fptt_light/models/...-alpha-0.1-beta-0.5-...)."""


class FPTTLayers(LayerFactory):
    """Plain synapses and BatchNorm, the library's ordinary LIF with its membrane detached
    before every training step (the state enters each step's graph as a constant)."""

    def neuron(self) -> nn.Module:
        return OnlineNeuron(self.library.neuron(self.lif))


@register_method
class FPTT(Method):
    """Per step t: ℓ_t = w_t·ℓ(o_t, y) from the detached state, one optimizer step on
    ℓ_t + α/2·Σ_i mean((W_i − W̄_i − g_i/(2α))²), then (t < T − 1) g = ∇ℓ_t at the new weights by
    a second forward of x_t and W̄ ← (W̄ + W)/2 − g/(2α); W̄ is kept across batches
    (spikingjelly's fptt_online_training). w_t = (t+1)/T (linear, the official code) or 1."""

    name = "fptt"
    description = "forward propagation through time: per-step optimizer steps, dynamic " \
        "regulariser around a running average of the weights"
    paper = "Yin, Corradi & Bohté, Accurate online training of dynamical spiking neural " \
        "networks through Forward Propagation Through Time, Nature Machine Intelligence 2023"
    paper_url = "https://arxiv.org/abs/2112.11231"
    # α's other values are the suite's choice of neighbours; weighting: w_t = (t+1)/T or 1
    parameters = {"alpha": (ALPHA, 0.05, 0.2, 0.5), "weighting": ("linear", "uniform")}
    complexity = Complexity(memory="L", backward="L·T", optimizer_steps="T")
    cuda_graph = True  # as ottt_o: no host sync; W̄ is updated in place (a replay sees it)
    forward_mode = "s"
    objective = "per_step"

    def __init__(self, cell: Cell) -> None:
        super().__init__(cell)
        self.alpha = float(self.params["alpha"])
        linear = self.params["weighting"] == "linear"
        self.weights = [(t + 1) / self.T if linear else 1.0 for t in range(self.T)]
        """w_t: the factor of step t's loss."""
        self.running: dict[str, torch.Tensor] = {}
        """W̄ by parameter name, made from the weights at the first training step."""

    @classmethod
    def supports(cls, cell: Cell) -> tuple[bool, str]:
        ok, reason = super().supports(cell)
        if not ok:
            return ok, reason
        alpha = cell.params.get("alpha", ALPHA)
        if not isinstance(alpha, (int, float)) or not alpha > 0:
            return False, f"fptt needs alpha > 0 (alpha={alpha!r})"
        if cell.params.get("weighting", "linear") not in cls.parameters["weighting"]:
            return False, f"fptt weighting is one of {cls.parameters['weighting']}"
        return True, ""

    def layers(self) -> LayerFactory:
        return FPTTLayers(self.library, self.lif, self.recipe.dropout)

    # -- W̄: state across batches ------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"running_average": dict(self.running)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.running = dict(state.get("running_average", {}))

    def _running(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
        """W̄ in the optimizer's parameter order: made from the current weights at the first
        step, or a loaded W̄ brought once to its parameter's device, dtype and layout."""
        names = {id(p): name for name, p in model.named_parameters()}
        out = []
        for p in optimizer_parameters(optimizer):
            name = names[id(p)]
            w_bar = self.running.get(name)
            if w_bar is None:
                w_bar = self.running[name] = p.detach().clone()
            elif w_bar.device != p.device or w_bar.dtype != p.dtype:
                w_bar = self.running[name] = torch.empty_like(p).copy_(w_bar)
            out.append(w_bar)
        return out

    # -- training ----------------------------------------------------------------------------
    def step_loss(self, out: torch.Tensor, y: torch.Tensor, t: int) -> torch.Tensor:
        """ℓ_t = w_t · ℓ(o_t, y), the recipe's step loss weighted."""
        return self.weights[t] * step_loss(out, y, self.recipe)

    def train_step(
        self, model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor,
        optimizer: torch.optim.Optimizer | None, timer: Timer = NULL_TIMER,
    ) -> torch.Tensor:
        """Gradients only (``optimizer=None``): Σ_t ∇ℓ_t/T at fixed W, as OTTT-O reads."""
        def loss_of(out: torch.Tensor, t: int) -> torch.Tensor:
            return self.step_loss(out, y, t)

        if optimizer is None:
            return accumulate_gradient(model, x_seq, loss_of, timer)
        running = self._running(model, optimizer)
        if self.cell.library == "spikingjelly":
            return self._spikingjelly_step(model, x_seq, loss_of, optimizer, running)
        return fptt_train_step(model, x_seq, loss_of, optimizer, running, self.alpha, timer)

    def _spikingjelly_step(
        self, model: nn.Module, x_seq: torch.Tensor,
        loss_of: StepLoss, optimizer: torch.optim.Optimizer, running: list[torch.Tensor],
    ) -> torch.Tensor:
        """spikingjelly's own ``fptt_online_training``; its new W̄ is copied into the kept
        tensors (in place: a captured step replays on the same memory)."""
        from spikingjelly.activation_based.learning.online_learning import fptt_online_training

        T = x_seq.shape[0]
        first: dict[int, torch.Tensor] = {}

        def f_loss_t(out: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
            t = int(step)  # a CPU index: no device sync
            loss = loss_of(out, t)
            if t not in first:  # the step's first forward (the second repeats it); a copy:
                first[t] = loss.detach().clone()  # spikingjelly adds R_t to ``loss`` in place
            return loss

        w_ra = list(running)
        set_step_mode(model, "s", T)
        reset_states(model)
        fptt_online_training(model, optimizer, x_seq, torch.arange(T), f_loss_t, self.alpha,
                             w_ra)
        with torch.no_grad():
            for kept, new in zip(running, w_ra, strict=True):
                kept.copy_(new)
        return torch.stack([first[t] for t in range(T)]).sum() / T

    def exact_gradient(
        self, model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor
    ) -> torch.Tensor:
        """The exact BPTT gradient of FPTT's objective Σ_t ℓ_t/T (w_t included)."""
        with exact_mode(model):
            out = list(forward_steps(model, x_seq))
            loss = torch.stack([self.step_loss(o, y, t) for t, o in enumerate(out)]).mean()
            loss.backward()
        return loss.detach()

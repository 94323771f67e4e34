"""Whole-model helpers: step mode, state reset, phase switching, spiking-layer lookup."""

from __future__ import annotations

from torch import nn


def set_step_mode(model: nn.Module, mode: str, timesteps: int) -> None:
    """Put every time-aware module in ``'m'`` (folded ``[T·B, ...]``) or ``'s'`` (per step)."""
    if mode not in ("m", "s"):
        raise ValueError(f"step mode must be 'm' or 's', got {mode!r}")
    for module in model.modules():
        if hasattr(module, "step_mode"):
            module.step_mode = mode
            module.T = timesteps


def reset_states(model: nn.Module) -> None:
    """Forget every kept state (membranes, traces, per-sequence statistics)."""
    for module in model.modules():
        reset = getattr(module, "reset_state", None)
        if callable(reset):
            reset()


def set_phase(model: nn.Module, phase: str) -> None:
    """Switch two-pass modules (rate-based methods) between their ``spike`` and ``rate`` pass."""
    for module in model.modules():
        if hasattr(module, "phase"):
            module.phase = phase

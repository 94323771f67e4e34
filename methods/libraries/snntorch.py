"""snntorch 1.0: ``snn.Leaky`` stepped in a Python loop (snntorch has no fused multi-step LIF).

Conventions found by ``tests/methods/test_library_parity.py`` and how they are handled:

* A **hard reset** is expressed exactly: ``reset_delay=True`` resets from the previous potential
  with a detached spike (exact for a detached reset), ``reset_delay=False`` immediately through
  the spike (exact for a kept reset); the suite's surrogate is passed as ``spike_grad`` so that
  the neuron fires on ``H ≥ θ`` like the reference.
* A **soft reset** cannot be expressed: ``Leaky`` subtracts θ after the leak
  (``U = βU + I − Sθ`` instead of ``β(U − Sθ) + I``, ``reset_delay=True``), or also subtracts
  a delayed reset while the potential stays ≥ θ (``reset_delay=False``). snntorch then runs its
  own closest configuration: ``reset_mechanism="subtract"`` as snntorch applies it, with
  snntorch's own sigmoid surrogate, which fires on ``U > θ``. The record says so
  (``env.library.semantics``) and carries the measured spike-train mismatch against the
  reference neuron (``metrics.neuron_spike_mismatch``).
"""

from __future__ import annotations

from typing import Any

import torch

from ..snn.config import LIFConfig
from ..snn.surrogate import Surrogate
from .base import Library, SpikingNeuron, register_library
from .capabilities import ALL, STEP_THRESHOLD


class SnnTorchLIF(SpikingNeuron):
    """Wraps ``snntorch.Leaky`` with ``reset_mechanism='zero'`` (hard reset)."""

    library = "snntorch"
    leaky: Any  # snntorch.Leaky (an nn.Module of an untyped library)
    # kept state (``register_memory``), declared for the type checker
    _started: bool
    _last_spike: torch.Tensor | None

    def __init__(self, cfg: LIFConfig) -> None:
        super().__init__(cfg)
        import snntorch
        from snntorch import surrogate

        own = cfg.reset == "soft"  # not expressible: snntorch's closest, as snntorch runs it
        self.own_semantics = own
        self.leaky = snntorch.Leaky(
            beta=cfg.decay,
            threshold=cfg.threshold,
            spike_grad=surrogate.sigmoid(slope=cfg.alpha) if own and cfg.surrogate == "sigmoid"
            else Surrogate(cfg.surrogate, cfg.alpha),
            reset_mechanism="subtract" if own else "zero",
            reset_delay=cfg.detach_reset,
        )
        # Leaky appends itself to a class-wide list (for its init_hidden helpers); drop that
        # reference so models built and discarded in one process can be freed.
        snntorch.SpikingNeuron.instances.remove(self.leaky)
        self.register_memory("_started", False)
        self.register_memory("_last_spike")

    def multi_step(self, x_seq: torch.Tensor) -> torch.Tensor:
        self.reset_state()
        out = torch.stack([self.single_step(x) for x in x_seq])
        self.reset_state()
        return out

    def single_step(
        self, x: torch.Tensor, threshold: torch.Tensor | float | None = None
    ) -> torch.Tensor:
        leaky = self.leaky
        leaky.reset_delay = self.cfg.detach_reset  # detached in exact mode
        if not self._started:
            leaky.mem = torch.zeros_like(x)
            self._started = True
        v_prev = self.membrane()
        assert v_prev is not None  # started above: the membrane is a tensor
        if threshold is None:
            spk, mem = leaky(x)
        else:
            default = leaky.threshold
            leaky.threshold = torch.as_tensor(threshold, dtype=x.dtype, device=x.device)
            try:
                spk, mem = leaky(x)
            finally:
                leaky.threshold = default
        # reset_delay=True returns the charged potential H_t; otherwise the reset one V_t.
        # With snntorch's own soft reset, mem is the potential it compares with θ.
        self.h = mem if self.cfg.detach_reset or self.own_semantics \
            else x + self.cfg.decay * v_prev
        self._last_spike = spk
        return spk

    def membrane(self) -> torch.Tensor | None:
        if not self._started:
            return None
        mem = self.leaky.mem
        if self.own_semantics:  # the reset is applied at the next step, from mem itself
            return mem
        if self.cfg.detach_reset and self._last_spike is not None:
            return mem * (1.0 - self._last_spike.detach())  # mem holds H_t; V_t = H_t(1 − s_t)
        return mem

    def reset_state(self) -> None:
        super().reset_state()
        self.leaky.mem = torch.zeros(0)

    def detach_state(self) -> None:
        super().detach_state()
        if self._started:
            self.leaky.mem = self.leaky.mem.detach()


@register_library
class SnnTorchLibrary(Library):
    name = "snntorch"
    description = ("snntorch 1.0 Leaky (hard reset exact; soft reset as snntorch applies it, "
                   "see docs/libraries.md)")
    distribution = "snntorch"
    capabilities = ALL - {STEP_THRESHOLD}
    lacks = {STEP_THRESHOLD: (
        "snntorch.Leaky decides step t−1's reset with step t's threshold (reset_delay), so a "
        "threshold chosen per step cannot be expressed")}

    def semantics(self, cfg: LIFConfig) -> str | None:
        if cfg.reset != "soft":
            return None
        how = ("subtracts θ at the next step, after the leak (reset_delay=True)"
               if cfg.detach_reset else
               "subtracts θ through the spike, and again while the potential stays ≥ θ "
               "(reset_delay=False)")
        fires = (f"fires on U > θ (snntorch's sigmoid surrogate, slope {cfg.alpha:g})"
                 if cfg.surrogate == "sigmoid" else
                 f"fires on U ≥ θ (the suite's {cfg.surrogate} surrogate)")
        return f"snntorch.Leaky's own soft reset: {fires}; {how}"

    def neuron(self, cfg: LIFConfig) -> SpikingNeuron:
        return SnnTorchLIF(cfg)

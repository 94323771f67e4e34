"""snntorch 1.0: ``snn.Leaky`` stepped in a Python loop (snntorch has no fused multi-step LIF).

Conventions found by ``tests/test_library_parity.py`` and how they are handled:

* ``Leaky`` fires on ``U > θ``; the suite (and spikingjelly) fire on ``H ≥ θ`` → we pass our
  surrogate callable as ``spike_grad`` (snntorch's documented way to choose a surrogate).
* ``reset_delay=True`` resets from the *previous* potential with a detached spike: exact for a
  hard reset with detached reset; for a soft reset it subtracts θ after the leak
  (``U = βU + I − Sθ`` instead of ``β(U − Sθ) + I``) → not expressible, skipped.
* ``reset_delay=False`` resets immediately through the (non-detached) spike: exact for a hard
  reset with the reset kept; for a soft reset it also subtracts a delayed reset when ``U ≥ θ``
  after reset (potential ≥ 2θ), which changes the spike train → skipped.
"""

from __future__ import annotations

import torch

from ..snn.config import LIFConfig
from ..snn.surrogate import Surrogate
from .base import Library, SpikingNeuron, register_library
from .capabilities import ALL, STEP_THRESHOLD


class SnnTorchLIF(SpikingNeuron):
    """Wraps ``snntorch.Leaky`` with ``reset_mechanism='zero'`` (hard reset)."""

    library = "snntorch"

    def __init__(self, cfg: LIFConfig) -> None:
        super().__init__(cfg)
        import snntorch

        self.leaky = snntorch.Leaky(
            beta=cfg.decay,
            threshold=cfg.threshold,
            spike_grad=Surrogate(cfg.surrogate, cfg.alpha),
            reset_mechanism="zero" if cfg.reset == "hard" else "subtract",
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

    def single_step(self, x, threshold=None):
        leaky = self.leaky
        leaky.reset_delay = self.cfg.detach_reset  # detached in exact mode
        if not self._started:
            leaky.mem = torch.zeros_like(x)
            self._started = True
        v_prev = self.membrane()
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
        self.h = mem if self.cfg.detach_reset else x + self.cfg.decay * v_prev
        self._last_spike = spk
        return spk

    def membrane(self):
        if not self._started:
            return None
        mem = self.leaky.mem
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
    description = "snntorch 1.0 Leaky (hard reset only; see the parity notes in README)"
    distribution = "snntorch"
    capabilities = ALL - {STEP_THRESHOLD}
    lacks = {STEP_THRESHOLD: (
        "snntorch.Leaky decides step t−1's reset with step t's threshold (reset_delay), so a "
        "threshold chosen per step cannot be expressed")}

    def supports(self, cfg: LIFConfig, backend: str, device: str) -> tuple[bool, str]:
        ok, reason = super().supports(cfg, backend, device)
        if not ok:
            return ok, reason
        if cfg.reset == "soft":
            how = "after the leak (reset_delay=True)" if cfg.detach_reset else (
                "again when the reset potential stays ≥ θ (reset_delay=False)"
            )
            return False, (
                "snntorch.Leaky cannot express the suite's soft reset: it subtracts θ "
                f"{how}, which changes the spike train"
            )
        return True, ""

    def neuron(self, cfg: LIFConfig) -> SpikingNeuron:
        return SnnTorchLIF(cfg)

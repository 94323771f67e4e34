"""The library axis: a :class:`Library` builds :class:`SpikingNeuron` layers with one interface.

Every layer takes folded input ``[T·B, ...]`` in multi-step mode (``step_mode='m'``, ``T`` set by
the method) and ``[B, ...]`` in single-step mode, where it keeps its membrane state between calls.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch import nn

from benches.registry import Registry

from ..snn.config import LIFConfig
from ..snn.functional import StepModule
from ..snn.lif import lif_sequence
from ..snn.rate import eligibility_of_sequence
from ..snn.trace import TraceSynapse
from ..snn.ws import ScaledWSConv2d, ScaledWSLinear
from . import capabilities


class SpikingNeuron(StepModule, ABC):
    """A LIF layer of some library behind one interface.

    Called as a module — ``neuron(x)``, or ``neuron(x, threshold=θ_t)`` for one step with its
    own threshold — so forward hooks see every call's spikes; the method wrappers call it so.
    ``multi_step`` runs T steps from a zero state with the library's own autograd;
    ``single_step`` advances the kept state by one step and records the charged potential ``h``.
    Kept state is declared with ``register_memory`` (see ``MemoryModule``); a library that keeps
    it in an object of its own extends ``reset_state`` and ``detach_state``.

    ``config`` holds the constants the neuron was built with; ``cfg`` those it runs with now:
    ``config`` itself, or with the reset spike detached while ``exact`` is set (``exact_mode``).
    """

    library: ClassVar[str] = ""
    # kept state (``register_memory``), declared for the type checker
    h: torch.Tensor | None
    eligibility: tuple[torch.Tensor, torch.Tensor] | None

    def __init__(self, cfg: LIFConfig) -> None:
        super().__init__()
        self.config = cfg
        self._exact_config = dataclasses.replace(cfg, detach_reset=True)
        self.register_memory("h")  # the charged potential H_t of the last single step
        self.register_memory("eligibility")  # (rate, eligibility) of the last spike pass

    @property
    def cfg(self) -> LIFConfig:
        """The constants of the next call (read by the library object at every call)."""
        return self._exact_config if self.exact else self.config

    def forward(
        self, x: torch.Tensor, threshold: torch.Tensor | float | None = None, *,
        eligibility: bool = False,
    ) -> torch.Tensor:
        """Spikes for folded ``[T·B, ...]`` input (``'m'``, from a zero state) or for one step
        ``[B, ...]`` (``'s'``, from the kept state; ``threshold`` replaces θ for this step).

        ``eligibility`` (``'m'`` only): rate-based BP's spike pass, without grad and without
        storing ``H``; leaves ``(rate, eligibility)`` in ``self.eligibility``."""
        if self.step_mode == "s":
            if eligibility:
                raise ValueError("eligibility=True is the multi-step spike pass; a single step "
                                 "leaves its charge in .h")
            return self.single_step(x, threshold)
        if threshold is not None:
            raise ValueError("a per-step threshold needs single-step mode")
        x_seq = x.reshape(self.T, -1, *x.shape[1:])
        if eligibility:
            s_seq, rate, elig = self.rate_pass(x_seq)
            self.eligibility = (rate, elig)
            return s_seq.flatten(0, 1)
        return self.multi_step(x_seq).flatten(0, 1)

    @abstractmethod
    def multi_step(self, x_seq: torch.Tensor) -> torch.Tensor:
        """Spikes ``[T, B, ...]`` for inputs ``[T, B, ...]`` starting from a zero state."""

    @abstractmethod
    def single_step(
        self, x: torch.Tensor, threshold: torch.Tensor | float | None = None
    ) -> torch.Tensor:
        """One step from the kept state; sets ``self.h`` to the charged potential ``H_t``."""

    @abstractmethod
    def membrane(self) -> torch.Tensor | None:
        """The post-reset membrane ``V_t`` after the last step (``None`` before any step)."""

    @torch.no_grad()
    def sequence(self, x_seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """No-grad run over ``[T, ...]``: spikes and charged potentials ``(s_seq, h_seq)``."""
        self.reset_state()
        spikes: list[torch.Tensor] = []
        charged: list[torch.Tensor] = []
        for x in x_seq:
            spikes.append(self.single_step(x))
            if self.h is None:
                raise RuntimeError(f"{type(self).__name__}.single_step left no charge in .h")
            charged.append(self.h)
        self.reset_state()
        return torch.stack(spikes), torch.stack(charged)

    @torch.no_grad()
    def rate_pass(self, x_seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The spike pass of rate-based BP over ``[T, ...]``: ``(s_seq, rate, eligibility)``
        (see :mod:`methods.snn.rate`)."""
        s_seq, h_seq = self.sequence(x_seq)
        return (s_seq, *eligibility_of_sequence(h_seq, s_seq, self.cfg))

    def extra_repr(self) -> str:
        c = self.cfg
        return (
            f"library={self.library}, tau={c.tau}, threshold={c.threshold}, reset={c.reset}, "
            f"detach_reset={c.detach_reset}, surrogate={c.surrogate}({c.alpha}), "
            f"step_mode={self.step_mode}"
        )


class Library(ABC):
    """A backend that supplies LIF neurons; declares what it can express honestly."""

    name: ClassVar[str]
    description: ClassVar[str]
    distribution: ClassVar[str | None] = None  # pip distribution whose version is recorded
    backends: ClassVar[tuple[str, ...]] = ("torch",)
    capabilities: ClassVar[frozenset[str]] = capabilities.ALL
    """What its neurons can do (names in :mod:`methods.libraries.capabilities`)."""
    lacks: ClassVar[dict[str, str]] = {}
    """For each capability it does not have: why (shown when a method needs it)."""

    def missing(self, needs: frozenset[str] | set[str]) -> str | None:
        """Why this library cannot give a method these ``needs`` (``None``: it can)."""
        absent = sorted(set(needs) - self.capabilities)
        if not absent:
            return None
        return "; ".join(f"library {self.name} has no {need}"
                         + (f" ({self.lacks[need]})" if need in self.lacks else "")
                         for need in absent)

    def semantics(self, cfg: LIFConfig) -> str | None:
        """``None`` when the neuron computes exactly the suite's LIF for ``cfg``; otherwise
        how it differs (the library then runs its own closest configuration)."""
        return None

    @torch.no_grad()
    def spike_mismatch(self, cfg: LIFConfig, steps: int = 16, neurons: int = 4096) -> float:
        """Fraction of spikes that differ from the reference neuron's on a standard input:
        currents uniform in [0, 2 θ), seed 0, ``steps × neurons``, float32 on the CPU."""
        gen = torch.Generator().manual_seed(0)
        x = torch.rand(steps, neurons, generator=gen) * 2.0 * cfg.threshold
        reference = lif_sequence(x, cfg)[0]
        ours = self.neuron(cfg).sequence(x)[0]
        return float((ours != reference).float().mean())

    def default_backend(self, device: str) -> str:
        """The backend a cell gets when its matrix names none."""
        return self.backends[0]

    def available(self) -> tuple[bool, str]:
        """Whether the library imports here, and why not."""
        if self.distribution is None:
            return True, ""
        try:
            importlib.import_module(self.distribution.replace("-", "_"))
        except Exception as exc:  # noqa: BLE001 - report any import failure
            return False, f"{self.distribution} does not import: {exc}"
        return True, ""

    def version(self) -> str | None:
        name = self.distribution or "torch"
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    def supports(self, cfg: LIFConfig, backend: str, device: str) -> tuple[bool, str]:
        """Whether this neuron configuration and backend can be expressed exactly (and the
        backend runs on ``device`` here)."""
        if backend not in self.backends:
            return False, f"library {self.name} has no backend {backend!r} (has {self.backends})"
        problem = self.backend_problem(backend, device)
        return (False, problem) if problem else (True, "")

    def backend_problem(self, backend: str, device: str) -> str | None:
        """Why ``backend`` cannot run on ``device`` on this machine (``None``: it can)."""
        return None

    def usable_backends(self, device: str) -> dict[str, str | None]:
        """Each backend → ``None`` if it runs on ``device`` here, else why not."""
        return {backend: self.backend_problem(backend, device) for backend in self.backends}

    def backend_env(self, backend: str) -> dict[str, str]:
        """Environment variables a cell process needs for ``backend`` (set before import)."""
        return {}

    def backend_in_use(self, backend: str, device: torch.device) -> str:
        """The implementation actually selected, for provenance."""
        return backend

    @abstractmethod
    def neuron(self, cfg: LIFConfig) -> SpikingNeuron:
        """A LIF layer with these constants."""

    def online_neuron(self, cfg: LIFConfig, kind: str) -> SpikingNeuron:
        """The neuron an online method steps through (``kind``: ``"ottt"`` or ``"sltt"``).

        By default the library's ordinary LIF, detached by the method before every step; a
        library with dedicated online nodes (spikingjelly) returns those instead.
        """
        return self.neuron(cfg)

    def trace_synapse(self, module: nn.Module) -> nn.Module:
        """A conv/linear that takes OTTT spike/trace pairs (weight gradient from the trace)."""
        return TraceSynapse(module)

    def weight_standardized(self, kind: str, *args: Any, **kwargs: Any) -> nn.Module:
        """Scaled weight-standardised ``conv`` or ``linear`` (OTTT's normaliser)."""
        return (ScaledWSConv2d if kind == "conv" else ScaledWSLinear)(*args, **kwargs)


LIBRARIES: Registry[type[Library]] = Registry(
    "library",
    "benches.libraries",
    builtins=(
        "methods.libraries.torch", "methods.libraries.spikingjelly", "methods.libraries.snntorch",
    ),
)
register_library = LIBRARIES.register
list_libraries = LIBRARIES.names


def get_library(name: str) -> Library:
    """The library backend registered under ``name`` (an instance)."""
    return LIBRARIES.get(name)()

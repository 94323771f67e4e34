"""Neuron constants shared by every library backend (notation: docs/methods.md, "What each method
computes")."""

from __future__ import annotations

from dataclasses import asdict, dataclass

RESETS = ("soft", "hard")
SURROGATES = ("sigmoid", "triangle", "rectangle")


@dataclass(frozen=True)
class LIFConfig:
    """LIF neuron: ``H_t = λ·V_{t-1} + I_t``, ``s_t = Θ(H_t − θ)``, soft or hard reset.

    ``tau`` gives ``λ = 1 − 1/τ`` (spikingjelly's LIFNode with ``decay_input=False``).
    ``detach_reset`` cuts the gradient through the spike used in the reset.
    ``alpha`` parameterises the surrogate (sigmoid α; triangle α; rectangle width a).
    """

    tau: float = 2.0
    threshold: float = 1.0
    reset: str = "soft"
    detach_reset: bool = True
    surrogate: str = "sigmoid"
    alpha: float = 4.0

    def __post_init__(self) -> None:
        if self.reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {self.reset!r}")
        if self.surrogate not in SURROGATES:
            raise ValueError(f"surrogate must be one of {SURROGATES}, got {self.surrogate!r}")
        if not self.tau > 1.0:
            raise ValueError(f"tau must be > 1 (λ = 1 − 1/τ in (0, 1)), got {self.tau}")
        if not self.threshold > 0:
            raise ValueError(f"threshold must be > 0, got {self.threshold}")

    @property
    def decay(self) -> float:
        """λ = 1 − 1/τ."""
        return 1.0 - 1.0 / self.tau

    def to_dict(self) -> dict:
        return asdict(self)

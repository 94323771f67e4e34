"""A cell: one point of a matrix (method × library × dataset × architecture × T × seed × recipe).

Plain data, no torch: methods and datasets may import this module (and ``benches.registry``),
never the runner or the site.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

DEVICES = ("cpu", "cuda")
PRECISIONS = ("fp32", "bf16", "fp64")
NUMERICS = ("native", "pinned")
"""How a CPU cell's kernels are chosen: ``native``, the widest instruction set the machine
has; ``pinned``, one level every x86-64 machine of the last decade has
(:mod:`benches.worker.numerics`), so that accuracy does not depend on the machine."""

THREADS_ENV = "BENCHES_CELL_THREADS"
"""torch threads for a cell that does not fix its own (set by executors that share a host)."""
DEFAULT_TIMEOUT_S = 1800.0
"""Seconds a cell may run when neither its matrix nor ``--timeout`` says otherwise."""
MEMORY_ENV = "BENCHES_CELL_MEMORY_LIMIT"
"""Bytes a cell process may map beyond what it holds when the cell starts (``--memory-limit``)."""
KEY_OMITS_DEFAULTS = {"precision": "fp32", "compile": False, "numerics": "native",
                      "gpus_per_cell": 1, "nodes": 1}
"""Fields added after schema version 1: at these values they stay out of the key, so records
written before them keep their names (and ``--resume`` still finds them)."""


@dataclass(frozen=True)
class Cell:
    """The full, normalised configuration of one run; its hash names the record."""

    method: str
    library: str
    dataset: str
    architecture: str
    timesteps: int
    seed: int
    recipe: dict[str, Any] = field(default_factory=dict, hash=False)
    params: dict[str, Any] = field(default_factory=dict, hash=False)
    backend: str = "torch"
    mode: str = "train"
    device: str = "cpu"
    threads: int | None = None
    precision: str = "fp32"
    """``fp32``, or ``bf16`` (autocast to bfloat16 around the training step)."""
    compile: bool = False
    """Run the model through ``torch.compile``."""
    numerics: str = "native"
    """One of :data:`NUMERICS` (the matrix pins CPU train cells unless told not to)."""
    gpus_per_cell: int = 1
    """torch.distributed ranks per node the cell trains with (on a CPU: processes, gloo)."""
    nodes: int = 1
    """Nodes the cell spans (several: started by Slurm's ``srun``, one rank per task)."""

    def __post_init__(self) -> None:
        if not isinstance(self.timesteps, int) or self.timesteps < 1:
            raise ValueError(f"timesteps must be a positive integer, got {self.timesteps!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be ≥ 1, got {self.threads}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not isinstance(self.compile, bool):
            raise ValueError(f"compile must be true or false, got {self.compile!r}")
        if self.numerics not in NUMERICS:
            raise ValueError(f"numerics must be one of {NUMERICS}, got {self.numerics!r}")
        for name in ("gpus_per_cell", "nodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    @property
    def world_size(self) -> int:
        """torch.distributed ranks in all: ``gpus_per_cell × nodes``."""
        return self.gpus_per_cell * self.nodes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cell:
        return cls(**data)

    def key(self) -> str:
        """Hash of the normalised configuration (16 hex digits): the record's file name."""
        data = {k: v for k, v in self.to_dict().items()
                if k not in KEY_OMITS_DEFAULTS or v != KEY_OMITS_DEFAULTS[k]}
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def label(self) -> str:
        """A short human-readable name for progress bars and logs."""
        extra = "".join(f" {k}={v}" for k, v in sorted(self.params.items()))
        if self.precision != "fp32":
            extra += f" {self.precision}"
        if self.compile:
            extra += " compiled"
        return (
            f"{self.mode}:{self.dataset}/{self.architecture} {self.method}{extra} "
            f"[{self.library}] T={self.timesteps} seed={self.seed}"
        )

"""The method adapter API and its registry.

A method is one class: it declares its name, paper, libraries, parameters and claimed complexity,
says whether it supports a cell (and why not), supplies the layer kinds an architecture is built
from, and owns the training step — its own temporal loop, backward passes and optimizer steps.

The smallest complete adapter is ``methods/bptt.py``; README ("Adding a method") shows one for
an outside package, registered through the ``benches.methods`` entry-point group.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from benches.cell import Cell
from benches.registry import Registry

from .libraries import Library, capabilities, get_library, list_libraries
from .paper_recipes import paper_setup, published_datasets
from .recipes import COMMON, Recipe
from .snn.config import LIFConfig
from .snn.functional import exact_mode, reset_states, set_step_mode
from .snn.layers import LayerFactory
from .snn.loss import sequence_loss, step_loss

Timer = Callable[[str], AbstractContextManager]


def _plain(doc: str) -> str:
    """A docstring as one paragraph of plain text (reST roles and literals unwrapped)."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", inspect.cleandoc(doc))
    return " ".join(text.replace("``", "").split())


def NULL_TIMER(phase: str) -> AbstractContextManager:  # noqa: N802 - used like a constant
    """A timer that measures nothing (methods accept any ``timer(phase)`` context factory)."""
    return contextlib.nullcontext()


class NoPaperSetup(ValueError):
    """The method published nothing on that dataset (it runs on the common track only)."""


@dataclass(frozen=True)
class Complexity:
    """Claimed cost per training iteration in L (layers), T (steps), K (sampled steps)."""

    memory: str  # activation memory: "L" or "L·T"
    backward: str  # backward time: "L", "L·K" or "L·T"
    optimizer_steps: str = "1"  # per batch: "1" or "T"

    @property
    def memory_exponent(self) -> int:
        """Expected exponent of activation memory in T."""
        return 1 if "T" in self.memory else 0

    @property
    def backward_exponent(self) -> int:
        """Expected exponent of backward time in T."""
        return 1 if "T" in self.backward else 0


class Method(ABC):
    """Base class of method adapters. Subclasses set the class attributes and ``train_step``."""

    name: ClassVar[str]
    description: ClassVar[str]
    paper: ClassVar[str]
    paper_url: ClassVar[str] = ""
    """Where the paper can be read (arXiv, OpenReview or DOI link)."""
    needs: ClassVar[frozenset[str]] = frozenset()
    """What it needs from a library's neuron beyond what ``forward_mode`` and
    ``multi_step_eval`` imply (names in :mod:`methods.libraries.capabilities`); any library
    that has them, built in or plugged in, runs the method."""
    parameters: ClassVar[dict[str, tuple]] = {}
    """benchopt-style grid: parameter → allowed/default values (the first is the default)."""
    complexity: ClassVar[Complexity] = Complexity("L·T", "L·T")
    forced: ClassVar[dict[str, Any]] = {}
    """Recipe values that define the method (e.g. ``detach_reset=False`` for bptt_reset)."""
    multi_step_eval: ClassVar[bool] = True
    """Evaluate with T folded into the batch; single-step methods evaluate step by step."""
    forward_mode: ClassVar[str] = "m"
    """Step mode of the training forward (``'m'``: T folded into the batch; ``'s'``: per step)."""
    objective: ClassVar[str] = "sequence"
    """What the method minimises: ``sequence`` (the recipe's loss of the whole output sequence)
    or ``per_step`` (Σ_t L_t/T, online methods)."""
    no_step_outputs: ClassVar[str] = ""
    """Empty when the loss is computed from every step's output ``o_t``; otherwise why not
    (e.g. rate-based BP back-propagates one time-averaged output). A loss that needs ``o_t``
    (``tet``) is refused with this reason."""
    cuda_graph: ClassVar[bool] = False
    """``train_step`` may be captured in a CUDA graph and replayed: no host sync, no host→device
    copy, shapes fixed by the input, and host-side choices only through :meth:`variants`.
    Off by default so an outside method runs eagerly until it says so."""
    unsupported: ClassVar[dict[str, str]] = {}
    """Execution settings this method cannot run with (``"bf16"``, ``"compile"``,
    ``"sync_bn"`` on several ranks) → why."""

    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        self.T = cell.timesteps
        self.recipe = self.recipe_of(cell)
        self.params = {**self.default_params(), **cell.params}
        self.library: Library = get_library(cell.library)
        self.lif: LIFConfig = self.recipe.lif()
        self.variant: Hashable | None = None
        """Set by a graph runner while it captures: the step takes this host-side choice
        instead of drawing one."""

    # -- declarations -----------------------------------------------------------------------
    @classmethod
    def neuron_needs(cls) -> frozenset[str]:
        """Every library capability the method uses."""
        needs = set(cls.needs)
        if cls.forward_mode == "m" or cls.multi_step_eval:
            needs.add(capabilities.MULTI_STEP)
        if cls.forward_mode == "s" or not cls.multi_step_eval:
            needs |= {capabilities.SINGLE_STEP, capabilities.DETACH_STATE}
        return frozenset(needs)

    @classmethod
    def libraries(cls) -> list[str]:
        """The registered libraries (plug-ins included) whose neurons cover its needs."""
        return [name for name in list_libraries()
                if get_library(name).missing(cls.neuron_needs()) is None]

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {k: v[0] for k, v in cls.parameters.items()}

    @classmethod
    def recipe_for(cls, track: str, dataset: str | None = None) -> Recipe:
        """The method's recipe on ``track``, forced values applied: ``common``, or ``paper``,
        the method's published setup on ``dataset`` (:mod:`methods.paper_recipes`); raises
        :class:`NoPaperSetup` where it has none."""
        if track == "common":
            recipe = COMMON
        else:
            setup = paper_setup(cls.name, dataset) if dataset else None
            if setup is None:
                raise NoPaperSetup(f"{cls.name} has no published setup on {dataset}: it runs "
                                   "on the common track only")
            recipe = setup.recipe()
        return recipe.updated(**cls.forced) if cls.forced else recipe

    @classmethod
    def recipe_of(cls, cell: Cell) -> Recipe:
        """The recipe ``cell`` trains with (the common one when the cell carries none)."""
        return Recipe.from_dict(cell.recipe) if cell.recipe else cls.recipe_for("common")

    @classmethod
    def about(cls) -> dict[str, Any]:
        """What a record says of this method, so a report needs nothing but the records."""
        return {
            "name": cls.name, "description": cls.description,
            "computes": _plain(cls.__dict__.get("__doc__") or ""), "paper": cls.paper,
            "paper_url": cls.paper_url, "libraries": cls.libraries(),
            "needs": sorted(cls.neuron_needs()),
            "complexity": {"memory": cls.complexity.memory, "backward": cls.complexity.backward,
                           "optimizer_steps": cls.complexity.optimizer_steps,
                           "memory_exponent": cls.complexity.memory_exponent,
                           "backward_exponent": cls.complexity.backward_exponent},
            "recipes": {"common": cls.recipe_for("common").to_dict()},
            "published": published_datasets(cls.name),
        }

    @classmethod
    def supports(cls, cell: Cell) -> tuple[bool, str]:
        """Whether this method can run ``cell`` honestly; the reason lands in the record."""
        library = get_library(cell.library)
        missing = library.missing(cls.neuron_needs())
        if missing:
            return False, f"{cls.name} cannot run on {cell.library}: {missing}"
        unknown = sorted(set(cell.params) - set(cls.parameters))
        if unknown:
            return False, f"{cls.name} has no parameter(s) {', '.join(unknown)}"
        recipe = cls.recipe_of(cell)
        for key, value in cls.forced.items():
            if getattr(recipe, key) != value:
                return False, f"{cls.name} requires {key}={value!r} (the recipe has " \
                    f"{getattr(recipe, key)!r})"
        if recipe.loss == "tet" and cls.no_step_outputs:
            return False, f"{cls.name} cannot train with the TET loss: {cls.no_step_outputs}"
        for setting, active in (("bf16", cell.precision == "bf16"), ("compile", cell.compile),
                                ("sync_bn", recipe.sync_bn and cell.world_size > 1)):
            if active and setting in cls.unsupported:
                return False, f"{cls.name} cannot run with {setting}: {cls.unsupported[setting]}"
        return library.supports(recipe.lif(), cell.backend, cell.device)

    # -- host-side choices (CUDA graphs capture one graph per variant) -----------------------
    def variants(self) -> list[Hashable]:
        """Every host-side choice a training step can make (e.g. sltt_k's K steps); a graph
        runner captures one graph per variant. ``[None]``: every step is the same."""
        return [None]

    def draw_variant(self) -> Hashable:
        """The next step's host-side choice, drawn as the eager step draws it."""
        return None

    # -- state carried across batches (saved in a train cell's checkpoints) ------------------
    def state_dict(self) -> dict[str, Any]:
        """What the method itself carries from one batch to the next (tensors and plain data,
        loadable with ``weights_only``; e.g. FPTT's running average of the weights). None by
        default: the model and optimizer hold everything else."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`state_dict` returned (nothing to do by default)."""
        return None

    # -- model ------------------------------------------------------------------------------
    def layers(self) -> LayerFactory:
        """The layer kinds this method's networks are made of."""
        return LayerFactory(self.library, self.lif, self.recipe.dropout)

    def build(self, in_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        """The cell's architecture built from this method's layers."""
        from .architectures import get_architecture
        from .architectures.init import initialize

        model = get_architecture(self.cell.architecture).build(self.layers(), in_shape,
                                                               num_classes)
        initialize(model, self.recipe.init)
        return model

    # -- training and inference ---------------------------------------------------------------
    @abstractmethod
    def train_step(
        self,
        model: nn.Module,
        x_seq: torch.Tensor,
        y: torch.Tensor,
        optimizer: torch.optim.Optimizer | None,
        timer: Timer = NULL_TIMER,
    ) -> torch.Tensor:
        """One training iteration on a batch ``x_seq: [T, B, ...]``; returns the detached loss.

        With ``optimizer=None`` gradients are only accumulated in ``.grad`` (no step, no zeroing),
        which is how gradient alignment reads a method's gradient.
        """

    def exact_gradient(
        self, model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor
    ) -> torch.Tensor:
        """Accumulate in ``.grad`` the exact BPTT gradient of this method's objective through
        its own forward (reset spike detached, as ``bptt``); returns the loss. The reference of
        gradient alignment: for ``bptt`` it is ``bptt``'s own gradient."""
        with exact_mode(model):
            if self.forward_mode == "m":
                out = forward_sequence(model, x_seq)
            else:
                out = torch.stack(list(forward_steps(model, x_seq)))
            if self.objective == "per_step":
                loss = torch.stack([step_loss(o, y, self.recipe) for o in out]).mean()
            else:
                loss = sequence_loss(out, y, self.recipe)
            loss.backward()
        return loss.detach()

    @torch.no_grad()
    def predict(self, model: nn.Module, x_seq: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, C]``: the output averaged over time (model in eval mode)."""
        if self.multi_step_eval:
            return forward_sequence(model, x_seq).mean(0)
        return torch.stack(list(forward_steps(model, x_seq))).mean(0)


def forward_sequence(model: nn.Module, x_seq: torch.Tensor) -> torch.Tensor:
    """Multi-step forward: ``[T, B, ...]`` → outputs ``[T, B, C]`` (T folded into the batch)."""
    T = x_seq.shape[0]
    set_step_mode(model, "m", T)
    reset_states(model)
    out = model(x_seq.flatten(0, 1))
    return out.reshape(T, -1, *out.shape[1:])


def forward_steps(model: nn.Module, x_seq: torch.Tensor) -> Iterator[torch.Tensor]:
    """Single-step forward: yields each step's output ``[B, C]`` (states kept between steps)."""
    set_step_mode(model, "s", x_seq.shape[0])
    reset_states(model)
    for x in x_seq:
        yield model(x)


def step_optimizer(optimizer: torch.optim.Optimizer | None, timer: Timer = NULL_TIMER) -> None:
    """Step and zero the optimizer (nothing when gradients are only being read)."""
    if optimizer is None:
        return
    with timer("optimizer"):
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


METHODS: Registry[type[Method]] = Registry(
    "method",
    "benches.methods",
    builtins=(
        "methods.bptt", "methods.bptt_reset", "methods.ottt_a", "methods.ottt_o", "methods.sltt",
        "methods.sltt_k", "methods.os", "methods.rate_m", "methods.rate_s",
        "methods.ndot_a", "methods.ndot_o", "methods.fptt", "methods.bptt_ckpt",
    ),
)
register_method = METHODS.register
list_methods = METHODS.names


def get_method(name: str) -> type[Method]:
    """The method class registered under ``name``."""
    return METHODS.get(name)

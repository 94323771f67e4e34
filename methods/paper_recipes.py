"""Each paper's own training setup, per dataset it published on, value by value with its source.

The data is ``methods/paper_recipes.toml``: one table per paper family (its methods, paper and
official code), ``FAMILY.all`` for the values every dataset shares, ``FAMILY.DATASET`` for one
dataset (overriding ``all``) and ``FAMILY.by_method.METHOD`` for what one method of the family
changes. Every value is ``{ value = …, source = "…" }`` or, where nothing published gives it,
``{ value = …, choice = "suite's choice: why" }``. Besides the :class:`~methods.recipes.Recipe`
keys a table gives ``rows`` (the published architecture and T points), ``params`` (method
parameters, e.g. sltt_k's K, ndot_o's reg_lambda), ``amp`` (the official run's mixed
precision: the cell's precision is bf16), ``published_methods`` (where not every method of
the family published) and ``world_size`` (the ranks the published run trained with: every
ImageNet setup gives it; information, a cell trains with its matrix's ``gpus_per_cell × nodes``
ranks). ``batch_size`` is the global batch (all ranks together). A method with no table for a
dataset has no paper setup there and runs on the common track.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any

from .recipes import PAPER, Recipe

RECIPE_KEYS = frozenset(f.name for f in fields(Recipe)) - {"track", "warmup_iters", "timed_iters"}
"""What a paper setup must give (the timing protocol is the suite's, not a paper's)."""
ONLY_FOR = {"osr_eps": ("os",), "osr_bound": ("os",), "rate_bn": ("rate_s",)}
"""Recipe keys only some methods read: a setup of another method need not give them."""
OPTIONAL = frozenset({"stages", "sync_bn", "drop_last", "reshuffle"})
"""Recipe keys a setup may leave out (no ``stages``: one stage; no ``sync_bn``: a run on one
GPU, or each rank normalising its own part; no ``drop_last``: every batch trained; no
``reshuffle``: a new order every epoch)."""
ONLY_WITH_LOSS = {"tet_lambda": "tet", "tet_phi": "tet"}
"""Recipe keys only one loss reads: a setup with another loss need not give them."""
EXTRA_KEYS = frozenset({"rows", "params", "amp", "published_methods", "world_size"})
"""Setup keys that are not recipe values (they shape the cell, not its training;
``world_size`` records the ranks of the published run)."""


@dataclass(frozen=True)
class Sourced:
    """A value with where it comes from; ``choice`` when the suite chose it (``why`` says why)."""

    value: Any
    source: str
    choice: bool = False

    def to_dict(self) -> dict[str, Any]:
        key = "choice" if self.choice else "source"
        return {"value": self.value, key: self.source}


@dataclass(frozen=True)
class Row:
    """A published (architecture, T) point."""

    architecture: str
    timesteps: int


@dataclass(frozen=True)
class PaperSetup:
    """One method's published setup on one dataset."""

    method: str
    dataset: str
    family: str
    paper: str
    code: str
    values: dict[str, Sourced]

    @property
    def rows(self) -> tuple[Row, ...]:
        return tuple(Row(r["architecture"], r["timesteps"]) for r in self.values["rows"].value)

    @property
    def params(self) -> dict[str, Any]:
        """Method parameters of the published runs (sltt_k's K), empty if none."""
        params = self.values.get("params")
        return dict(params.value) if params else {}

    @property
    def world_size(self) -> int | None:
        """The ranks (GPUs) the published run trained with, ``None`` where the setup gives none
        (every ImageNet setup does; elsewhere the official commands run one process)."""
        given = self.values.get("world_size")
        return int(given.value) if given else None

    @property
    def precision(self) -> str:
        """``bf16`` where the official run used mixed precision (the suite's autocast), else
        ``fp32``."""
        return "bf16" if self.values["amp"].value else "fp32"

    def recipe(self) -> Recipe:
        """The paper-track recipe of this setup."""
        values = {k: v.value for k, v in self.values.items() if k in RECIPE_KEYS}
        return PAPER.updated(**values)

    def to_dict(self) -> dict[str, Any]:
        """What a record and the site show: the family, paper, code, every value with its
        source, and the resolved recipe."""
        return {"method": self.method, "dataset": self.dataset, "family": self.family,
                "paper": self.paper, "code": self.code,
                "values": {k: v.to_dict() for k, v in sorted(self.values.items())},
                "recipe": self.recipe().to_dict()}


class PaperRecipesError(ValueError):
    """The recipe file is malformed (a key without a source, an unknown key, a gap)."""


def _sourced(family: str, table: str, key: str, item: Any) -> Sourced:
    where = f"paper_recipes.toml [{family}.{table}] {key}"
    if not isinstance(item, dict) or "value" not in item:
        raise PaperRecipesError(f"{where}: expected {{ value = …, source = … }}")
    extra = set(item) - {"value", "source", "choice"}
    if extra or ("source" in item) == ("choice" in item):
        raise PaperRecipesError(f"{where}: give exactly one of source and choice")
    if "source" in item:
        return Sourced(item["value"], str(item["source"]))
    return Sourced(item["value"], str(item["choice"]), choice=True)


def _values(family: str, table: str, data: dict[str, Any]) -> dict[str, Sourced]:
    unknown = sorted(set(data) - RECIPE_KEYS - EXTRA_KEYS)
    if unknown:
        raise PaperRecipesError(f"paper_recipes.toml [{family}.{table}]: unknown key(s) "
                                f"{', '.join(unknown)}")
    return {key: _sourced(family, table, key, item) for key, item in data.items()}


@functools.cache
def _load() -> dict[tuple[str, str], PaperSetup]:
    text = resources.files("methods").joinpath("paper_recipes.toml").read_text("utf-8")
    setups: dict[tuple[str, str], PaperSetup] = {}
    for family, spec in tomllib.loads(text).items():
        shared = _values(family, "all", spec.get("all", {}))
        by_method = {m: _values(family, f"by_method.{m}", v)
                     for m, v in spec.get("by_method", {}).items()}
        datasets = {k: v for k, v in spec.items() if isinstance(v, dict)
                    and k not in ("all", "by_method")}
        for dataset, table in datasets.items():
            own = _values(family, dataset, table)
            published = own.pop("published_methods", None)
            methods = published.value if published else spec["methods"]
            for method in methods:
                values = {**shared, **own, **by_method.get(method, {})}
                needed = _needed(method, values)
                missing = sorted(needed - set(values)) + \
                    [k for k in ("rows", "amp") if k not in values]
                if missing:
                    raise PaperRecipesError(f"paper_recipes.toml [{family}.{dataset}]: no "
                                            f"value for {', '.join(missing)} ({method})")
                _check_world_size(family, dataset, values)
                if "params" in values and method not in _PARAM_METHODS.get(family, ()):
                    values.pop("params")  # sltt_k's K, ndot_o's reg_lambda: not the others'
                setups[(method, dataset)] = PaperSetup(
                    method, dataset, family, spec["paper"], spec["code"], values)
    return setups


def _check_world_size(family: str, dataset: str, values: dict[str, Sourced]) -> None:
    """``world_size``, where given, is a positive int that splits the global batch."""
    given = values.get("world_size")
    if given is None:
        return
    ranks = given.value
    if not isinstance(ranks, int) or isinstance(ranks, bool) or ranks < 1:
        raise PaperRecipesError(f"paper_recipes.toml [{family}.{dataset}] world_size: expected "
                                f"a positive integer, got {ranks!r}")
    batch = values["batch_size"].value
    if batch % ranks:
        raise PaperRecipesError(f"paper_recipes.toml [{family}.{dataset}]: the global batch "
                                f"{batch} does not split over world_size {ranks}")


def _needed(method: str, values: dict[str, Sourced]) -> set[str]:
    """The recipe keys ``method``'s setup must give, given its ``values`` (its loss)."""
    loss = values["loss"].value if "loss" in values else None
    return {k for k in RECIPE_KEYS - OPTIONAL if method in ONLY_FOR.get(k, (method,))
            and ONLY_WITH_LOSS.get(k, loss) == loss}


_PARAM_METHODS = {"sltt": ("sltt_k",), "ndot": ("ndot_o",)}
"""Which methods of a family the family's ``params`` belong to."""


def paper_setup(method: str, dataset: str) -> PaperSetup | None:
    """``method``'s published setup on ``dataset``, or ``None`` where it has none."""
    return _load().get((method, dataset))


def published_datasets(method: str) -> dict[str, list[dict[str, Any]]]:
    """The datasets ``method`` has a published setup for, each with its (architecture, T)
    rows."""
    return {d: [{"architecture": r.architecture, "timesteps": r.timesteps} for r in s.rows]
            for (m, d), s in sorted(_load().items()) if m == method}


def all_setups() -> list[PaperSetup]:
    """Every (method, dataset) setup of the file."""
    return [s for _, s in sorted(_load().items())]

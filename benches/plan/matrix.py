"""Matrices: TOML files that expand into cells.

A matrix has a ``description``, optional ``timeout_s``, a ``[defaults]`` table and one or more
``[[grid]]`` tables. Each grid is the product of its axes (lists), on top of the defaults::

    description = "digits, every method"
    timeout_s = 900

    [defaults]
    libraries = ["torch"]
    seeds = [0, 1]

    [[grid]]
    methods = ["bptt", "rate_m"]
    datasets = ["digits"]          # architectures default to each dataset's own
    timesteps = [2, 4, 8]
    tracks = ["common"]            # recipe tracks: common and/or paper
    recipe = { epochs = 10 }       # overrides on top of track recipe and dataset defaults
    params = { k = [1, 2] }        # method parameters (grid), for methods that declare them

Axes: methods, libraries, backends, datasets, architectures, timesteps, seeds, tracks,
precision (fp32 | bf16), compile (false | true). A grid without ``architectures`` takes each
dataset's default architecture; one without ``timesteps`` takes the dataset's own T where it
fixes one (``digits_seq``: 8, one image row per step), else 4.
Scalars: mode (train | efficiency | alignment), device (cpu | cuda), threads, pin (true |
false: pinned CPU numerics, see ``benches.measure.numerics``; default true for train cells,
false for timing cells), gpus_per_cell and nodes (a cell trained as gpus_per_cell × nodes
torch.distributed ranks, each with ``batch_size / ranks`` of the recipe's global batch; on a
CPU the ranks are gloo processes), and
``rows = "published"`` (with ``tracks = ["paper"]``): each method runs, per dataset, the
architecture and T points of its own published setup (``methods/paper_recipes.toml``), with
its published method parameters and precision; ``architectures`` and ``timesteps``, if given,
filter those points. On the ``paper`` track a method with no published setup on a dataset
gets no cell there (it runs on the common track only).

``include = ["paper", "efficiency"]`` adds the cells of other matrices (packaged names or
paths), each keeping its own timeout; a matrix may then have no grid of its own. An
``[executor]`` table holds defaults for the executor flags (e.g. Slurm's ``partition``).
"""

from __future__ import annotations

import itertools
import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from benches.cell import DEFAULT_TIMEOUT_S, DEVICES, PRECISIONS, Cell
from benches.errors import UserError
from benches.worker.modes import list_modes
from datasets import Dataset, get_dataset, list_datasets
from methods import Method, get_method, list_methods
from methods.architectures import list_architectures
from methods.libraries import DEFAULT_LIBRARY, get_library, list_libraries
from methods.paper_recipes import PaperSetup, paper_setup
from methods.recipes import TRACKS, Recipe

AXES = ("methods", "libraries", "backends", "datasets", "architectures", "timesteps", "seeds",
        "tracks", "precision", "compile")
SCALARS = ("mode", "device", "threads", "rows", "pin", "gpus_per_cell", "nodes")
TABLES = ("recipe", "params")
TOP_LEVEL = ("description", "timeout_s", "defaults", "grid", "include", "executor")


@dataclass
class Matrix:
    name: str
    description: str
    timeout_s: float
    cells: list[Cell]
    source: str
    timeouts: dict[str, float] = field(default_factory=dict)
    """Cell key → timeout, for cells that came from an included matrix."""
    executor: dict[str, Any] = field(default_factory=dict)
    """The matrix's ``[executor]`` table (defaults for the executor flags)."""

    def timeout_for(self, cell: Cell) -> float:
        return self.timeouts.get(cell.key(), self.timeout_s)


def packaged_matrices() -> dict[str, str]:
    """Name → TOML text of the matrices shipped with the suite."""
    folder = resources.files("benches.plan") / "matrices"
    return {
        entry.name[: -len(".toml")]: entry.read_text()
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    }


NAMED_AXES = ("methods", "datasets", "libraries", "tracks")
AXIS_DEFAULTS = {"libraries": [DEFAULT_LIBRARY], "tracks": ["common"]}
"""What a grid that does not name a named axis has."""
"""Axes an override narrows (when the matrix names all its values) or else replaces."""


def load_matrix(name_or_path: str, overrides: dict[str, Any] | None = None,
                _including: tuple[str, ...] = ()) -> Matrix:
    """Load a packaged matrix by name or a user's matrix file by path, and expand it.

    ``overrides`` set axes in every grid, set scalars (``device``, ``threads``) or add recipe
    keys (``recipe``: dict). ``methods``, ``datasets`` and ``libraries`` narrow the matrix
    when it names every value given (each grid keeps the ones it has; a grid with none is
    left out), and else replace that axis in every grid (a plug-in method run through a
    packaged design). ``timesteps``, ``seeds``, ``precision`` and ``compile`` replace.
    """
    data, source, name = _read(name_or_path)
    if name in _including:
        raise UserError(f"matrix {source} includes itself (through {' → '.join(_including)})")
    overrides = dict(overrides or {})
    if not _including:
        overrides["narrow"] = _narrowed_axes(name_or_path, overrides)
    return expand(name, data, source, overrides, (*_including, name))


def _read(name_or_path: str) -> tuple[dict, str, str]:
    """(parsed TOML, source shown in errors, matrix name)."""
    shipped = packaged_matrices()
    if name_or_path in shipped:
        text, source, name = shipped[name_or_path], f"benches/matrices/{name_or_path}.toml", \
            name_or_path
    elif name_or_path.endswith(".toml") or os.sep in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise UserError(f"matrix file {name_or_path} does not exist")
        text, source, name = path.read_text(), str(path), path.stem
    else:
        raise UserError(
            f"unknown matrix {name_or_path!r} (known: {', '.join(sorted(shipped))}; "
            "or pass the path of a .toml file)"
        )
    try:
        return tomllib.loads(text), source, name
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"matrix {source} is not valid TOML: {exc}") from None


def _named_values(name_or_path: str, axis: str, seen: tuple[str, ...] = ()) -> set:
    """Every value a matrix and the ones it includes give ``axis`` (defaults included)."""
    data, _, name = _read(name_or_path)
    if name in seen or not isinstance(data, dict):
        return set()
    defaults = data.get("defaults", {}) if isinstance(data.get("defaults"), dict) else {}
    fallback = AXIS_DEFAULTS.get(axis, [])
    values: set = set()
    for grid in data.get("grid", []) if isinstance(data.get("grid"), list) else []:
        if isinstance(grid, dict):
            got = grid.get(axis, defaults.get(axis, fallback))
            values.update(got if isinstance(got, list) else [got])
    for other in data.get("include", []) if isinstance(data.get("include"), list) else []:
        values |= _named_values(str(other), axis, (*seen, name))
    return values


def _narrowed_axes(name_or_path: str, overrides: dict[str, Any]) -> dict[str, list]:
    """The named-axis overrides that narrow this matrix (it names all their values)."""
    return {axis: overrides[axis] for axis in NAMED_AXES
            if overrides.get(axis) is not None
            and set(overrides[axis]) <= _named_values(name_or_path, axis)}


def _check_keys(table: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)} "
                        f"(allowed: {', '.join(allowed)})")


def _as_list(value: Any, key: str, where: str) -> list:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise UserError(f"{where}: {key} is empty")
    seen: set[str] = set()
    for v in values:
        if repr(v) in seen:
            raise UserError(f"{where}: {key} lists {v!r} twice")
        seen.add(repr(v))
    return values


def _check_params(params: dict, methods: list[str], where: str) -> None:
    """Every parameter belongs to some method of the grid, with values that method declares."""
    for key, value in params.items():
        owners = [m for m in methods if key in get_method(m).parameters]
        if not owners:
            declared = sorted({f"{m}.{p}" for m in methods for p in get_method(m).parameters})
            raise UserError(f"{where}: params.{key} is not a parameter of "
                            f"{', '.join(methods)} (declared: {', '.join(declared) or 'none'})")
        for method in owners:
            allowed = get_method(method).parameters[key]
            for v in _as_list(value, f"params.{key}", where):
                if v not in allowed or isinstance(v, bool) != any(
                        isinstance(a, bool) for a in allowed):
                    raise UserError(f"{where}: params.{key} = {v!r} is not one of {method}'s "
                                    f"values {', '.join(map(repr, allowed))}")


def _check_names(values: list, known: list[str], kind: str, where: str) -> None:
    for value in values:
        if value not in known:
            raise UserError(f"{where}: unknown {kind} {value!r} (known: {', '.join(known)})")


def validate_timesteps(values: list, where: str) -> list[int]:
    for t in values:
        if isinstance(t, bool) or not isinstance(t, int) or t <= 0:
            raise UserError(f"{where}: timesteps must be positive integers, got {t!r}")
    return values


def expand(name: str, data: dict, source: str, overrides: dict[str, Any],
           including: tuple[str, ...] = ()) -> Matrix:
    """Cells of a parsed matrix (validated; duplicates removed, order kept)."""
    if not isinstance(data, dict):
        raise UserError(f"matrix {source}: expected a TOML table")
    _check_keys(data, TOP_LEVEL, f"matrix {source}")
    defaults = data.get("defaults", {})
    grids = data.get("grid", [])
    include = data.get("include", [])
    executor = data.get("executor", {})
    if not isinstance(include, list) or not all(isinstance(i, str) for i in include):
        raise UserError(f"matrix {source}: include must be a list of matrix names or paths")
    if not isinstance(executor, dict):
        raise UserError(f"matrix {source}: [executor] must be a table")
    if not isinstance(defaults, dict) or not isinstance(grids, list) or not (grids or include):
        raise UserError(f"matrix {source}: needs at least one [[grid]] table (or an include)")
    allowed = AXES + SCALARS + TABLES
    _check_keys(defaults, allowed, f"matrix {source} [defaults]")
    cells: dict[str, Cell] = {}
    timeouts: dict[str, float] = {}
    for other in include:
        part = load_matrix(other, overrides, including)
        for cell in part.cells:
            if cells.setdefault(cell.key(), cell) is cell:
                timeouts[cell.key()] = part.timeout_for(cell)
        executor = {**part.executor, **executor}
    for i, grid in enumerate(grids, 1):
        where = f"matrix {source} grid {i}"
        if not isinstance(grid, dict):
            raise UserError(f"{where}: expected a table")
        _check_keys(grid, allowed, where)
        spec = {**defaults, **grid}
        spec["recipe"] = {**defaults.get("recipe", {}), **grid.get("recipe", {}),
                          **overrides.get("recipe", {})}
        spec["params"] = {**defaults.get("params", {}), **grid.get("params", {})}
        if not _apply_overrides(spec, overrides):
            continue
        for cell in _grid_cells(spec, where):
            cells.setdefault(cell.key(), cell)
    timeout = data.get("timeout_s", DEFAULT_TIMEOUT_S)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise UserError(f"matrix {source}: timeout_s must be a positive number")
    return Matrix(name, str(data.get("description", "")), float(timeout), list(cells.values()),
                  source, timeouts, executor)


def _apply_overrides(spec: dict, overrides: dict[str, Any]) -> bool:
    """Set a grid's axes from the overrides; False when narrowing leaves the grid empty.

    Where the methods changed, parameters none of the remaining methods declares go (they
    belonged to the methods that left).
    """
    narrow = overrides.get("narrow", {})
    for axis, wanted in narrow.items():
        have = spec.get(axis, AXIS_DEFAULTS.get(axis, []))
        spec[axis] = [v for v in (have if isinstance(have, list) else [have]) if v in wanted]
        if not spec[axis]:
            return False
    for key in ("methods", "datasets", "libraries", "timesteps", "seeds", "device",
                "threads", "precision", "compile", "pin", "gpus_per_cell", "nodes", "tracks"):
        if key not in narrow and overrides.get(key) is not None:
            spec[key] = overrides[key]
    if overrides.get("methods") is not None:
        methods = [m for m in spec.get("methods", []) if m in list_methods()]
        spec["params"] = {k: v for k, v in spec["params"].items()
                          if any(k in get_method(m).parameters for m in methods)}
    return True


@dataclass
class Grid:
    """One ``[[grid]]`` table, validated: every axis a list, every name known."""

    methods: list[str]
    datasets: list[str]
    libraries: list[str]
    architectures: list[str] | None  # None: each dataset's default
    timesteps: list[int]
    seeds: list[int]
    tracks: list[str]
    mode: str
    device: str
    threads: int | None
    precisions: list[str]
    compiles: list[bool]
    backends: list[str] | None
    params: dict[str, Any]
    recipe: dict[str, Any]
    published: bool  # rows = "published"
    named: set[str]  # the keys the table gives (the rest are defaults)
    pin: bool  # pinned CPU numerics (default: for train cells)
    gpus_per_cell: int = 1  # ranks per node
    nodes: int = 1


def _positive(spec: dict, key: str, where: str) -> int:
    value = spec.get(key, 1)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UserError(f"{where}: {key} must be a positive integer, got {value!r}")
    return value


def _grid(spec: dict, where: str) -> Grid:
    """Validate a grid table (one clear line per problem)."""
    def names(key: str, default: list, known: list[str], kind: str) -> list:
        values = _as_list(spec.get(key, default), key, where)
        _check_names(values, known, kind, where)
        return values

    architectures = spec.get("architectures")
    if architectures is not None:
        architectures = names("architectures", [], list_architectures(), "architecture")
    seeds = _as_list(spec.get("seeds", [0]), "seeds", where)
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise UserError(f"{where}: seeds must be integers")
    threads = spec.get("threads")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise UserError(f"{where}: threads must be a positive integer")
    compiles = _as_list(spec.get("compile", [False]), "compile", where)
    if not all(isinstance(c, bool) for c in compiles):
        raise UserError(f"{where}: compile must be true or false (or a list of them)")
    pin = spec.get("pin", spec.get("mode", "train") == "train")
    if not isinstance(pin, bool):
        raise UserError(f"{where}: pin must be true or false, got {pin!r}")
    if not isinstance(spec["params"], dict) or not isinstance(spec["recipe"], dict):
        raise UserError(f"{where}: recipe and params must be tables")
    methods = names("methods", [], list_methods(), "method")
    _check_params(spec["params"], methods, where)
    grid = Grid(
        methods=methods, datasets=names("datasets", [], list_datasets(), "dataset"),
        libraries=names("libraries", [DEFAULT_LIBRARY], list_libraries(), "library"),
        architectures=architectures,
        timesteps=validate_timesteps(_as_list(spec.get("timesteps", [4]), "timesteps", where),
                                     where),
        seeds=seeds, tracks=names("tracks", ["common"], list(TRACKS), "track"),
        mode=names("mode", ["train"], list_modes(), "mode")[0],
        device=names("device", ["cpu"], list(DEVICES), "device")[0], threads=threads,
        precisions=names("precision", ["fp32"], list(PRECISIONS), "precision"),
        compiles=compiles, backends=spec.get("backends"), params=spec["params"],
        recipe=spec["recipe"], published=_published_rows(spec, where), named=set(spec),
        pin=pin, gpus_per_cell=_positive(spec, "gpus_per_cell", where),
        nodes=_positive(spec, "nodes", where))
    if grid.published and grid.tracks != ["paper"]:
        raise UserError(f"{where}: rows = \"published\" needs tracks = [\"paper\"]")
    return grid


def _published_rows(spec: dict, where: str) -> bool:
    published = spec.get("rows")
    if published not in (None, "published"):
        raise UserError(f"{where}: rows must be \"published\" (each method's published "
                        f"architecture and T points), got {published!r}")
    return published == "published"


def _grid_cells(spec: dict, where: str) -> list[Cell]:
    """The cells of one grid table, in the order of its axes."""
    grid = _grid(spec, where)
    cells: list[Cell] = []
    for dataset_name, method_name, library, seed, track in itertools.product(
        grid.datasets, grid.methods, grid.libraries, grid.seeds, grid.tracks
    ):
        setup = paper_setup(method_name, dataset_name) if track == "paper" else None
        if track == "paper" and setup is None:
            continue  # nothing published there: the method runs on the common track only
        cells += _point_cells(grid, dataset_name, method_name, library, seed, track, setup,
                              where)
    return cells


def _recipe(method: type[Method], dataset: Dataset, track: str, setup: PaperSetup | None,
            grid: Grid, where: str) -> Recipe:
    """The cell's recipe: the track's (with the dataset's defaults) or the published setup's,
    then the grid's own values."""
    try:
        if setup is None:
            recipe = method.recipe_for(track).updated(**dataset.recipe_defaults)
        else:
            recipe = method.recipe_for(track, dataset.name)
        return recipe.updated(**grid.recipe)
    except (ValueError, TypeError) as exc:
        raise UserError(f"{where}: bad recipe for {method.name}: {exc}") from None


def _points(grid: Grid, dataset: Dataset, setup: PaperSetup | None) -> list[tuple[str, int]]:
    """(architecture, T) pairs: the published ones (filtered by the grid), or the grid's (the
    dataset's own architecture and T where the grid names none)."""
    if grid.published and setup is not None:
        return [(r.architecture, r.timesteps) for r in setup.rows
                if (grid.architectures is None or r.architecture in grid.architectures)
                and ("timesteps" not in grid.named or r.timesteps in grid.timesteps)]
    own_T = [dataset.timesteps] if dataset.timesteps and "timesteps" not in grid.named else []
    return list(itertools.product(grid.architectures or [dataset.default_architecture],
                                  own_T or grid.timesteps))


def _point_cells(grid: Grid, dataset_name: str, method_name: str, library: str, seed: int,
                 track: str, setup: PaperSetup | None, where: str) -> list[Cell]:
    """The cells of one dataset × method × library × seed × track of a grid."""
    dataset, method = get_dataset(dataset_name), get_method(method_name)
    recipe = _recipe(method, dataset, track, setup, grid, where)
    own = {k: _as_list(v, k, where) for k, v in grid.params.items() if k in method.parameters}
    if setup is not None:
        own = {k: [v] for k, v in setup.params.items()} | own
    precisions = grid.precisions if "precision" in grid.named or setup is None \
        else [setup.precision]
    ranks = grid.gpus_per_cell * grid.nodes
    if recipe.batch_size % ranks:
        raise UserError(f"{where}: {method_name} on {dataset_name}: the global batch of "
                        f"{recipe.batch_size} does not split over {ranks} ranks (gpus_per_cell "
                        f"× nodes); choose a number of ranks that divides it")
    cells = []
    for (arch, T), backend, values, precision, compiled in itertools.product(
        _points(grid, dataset, setup),
        _as_list(grid.backends, "backends", where) if grid.backends else [None],
        itertools.product(*own.values()) if own else [()], precisions, grid.compiles,
    ):
        try:
            cells.append(Cell(
                method=method_name, library=library, dataset=dataset_name,
                architecture=arch, timesteps=T, seed=seed, recipe=recipe.to_dict(),
                params=dict(zip(own, values, strict=True)),
                backend=backend or _default_backend(library, grid.device), mode=grid.mode,
                device=grid.device, threads=grid.threads, precision=precision,
                compile=compiled,
                numerics="pinned" if grid.pin and grid.device == "cpu" else "native",
                gpus_per_cell=grid.gpus_per_cell, nodes=grid.nodes,
            ))
        except ValueError as exc:
            raise UserError(f"{where}: {exc}") from None
    return cells


def _default_backend(library: str, device: str) -> str:
    """The backend the library picks for ``device`` when the matrix names none (the library's
    name is checked before any cell is built)."""
    return get_library(library).default_backend(device)

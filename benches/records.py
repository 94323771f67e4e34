"""Records: one JSON file per cell, written atomically, named by the hash of the cell's config.

Schema (``schema_version`` 1)::

    {"schema_version": 1, "key": str, "status": "ok|failed|timeout|oom|diverged|skipped",
     "reason": str | null, "matrix": str | null,
     "cell": {"method", "library", "backend", "dataset", "architecture", "timesteps", "seed",
              "mode", "device", "threads", "params": {...}, "recipe": {...}},
     "metrics": {"test_top1": 0..1, "time_per_iter_s", "time_per_iter_iqr_s",
                 "peak_memory_bytes", ...},
     "env": {...}, "started_at": str, "duration_s": float, "traceback": str (failures only)}
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

from benches.atomic import write_atomically
from benches.cell import Cell

SCHEMA_VERSION = 1
STATUSES = ("ok", "failed", "timeout", "oom", "diverged", "skipped")
CRASHED = ("failed", "timeout", "oom")
"""Statuses of a cell that did not finish (a run with any of them exits 1)."""
BROKEN = (*CRASHED, "diverged")
"""Statuses of a cell with no usable result (``compare`` calls a change to one a regression)."""
REQUIRED_KEYS = ("schema_version", "key", "status", "reason", "cell", "metrics", "env")


class Record(TypedDict):
    """A cell's record as readers see it: read by :func:`read_record`, which applies
    :func:`upgrade`, so every key below is there (``None`` or empty where unknown)."""

    schema_version: int
    key: str
    status: str
    reason: str | None
    cell: dict[str, Any]
    """:meth:`benches.cell.Cell.to_dict`."""
    metrics: dict[str, Any]
    """Named in :mod:`benches.schema`; empty for a cell that did not run."""
    env: dict[str, Any]
    """The environment block (``measure.provenance.record_environment``); empty for a cell
    that did not run."""
    about: dict[str, Any]
    """``method`` and ``dataset``: their declarations (``{}`` if unknown); ``paper_setup``:
    the method's published setup on the dataset, or ``None``."""
    matrix: str | None
    started_at: str | None
    duration_s: float | None
    command: str | None
    traceback: NotRequired[str]
    diverged_at: NotRequired[dict[str, int]]
    stages: NotRequired[list[dict[str, Any]]]


ABOUT_DEFAULTS: dict[str, dict[str, Any]] = {
    "method": {"description": "", "computes": "", "paper": "", "paper_url": "", "libraries": [],
               "complexity": {"memory": "?", "backward": "?", "optimizer_steps": "?"},
               "recipes": {}, "published": {}},
    "dataset": {"description": ""},
}
"""What a method's or dataset's declaration holds when an older record lacks it."""


def upgrade(record: dict[str, Any]) -> Record:
    """Bring a record read from disk up to date, in place: the one place where what older
    versions (or a coordinator, for a cell that never started) did not write is filled in, so
    readers index records without guards."""
    for key in ("matrix", "started_at", "duration_s", "command"):
        record.setdefault(key, None)
    about = record.get("about") or {}
    for part, defaults in ABOUT_DEFAULTS.items():
        declared = about.get(part) or {}
        about[part] = {**defaults, **declared} if declared else {}
    about.setdefault("paper_setup", None)
    record["about"] = about
    if record["env"]:  # a cell that ran: its library block (older records: none)
        record["env"].setdefault("library", {})
        record["env"].setdefault("versions", {})
    record["cell"] = Cell.from_dict(record["cell"]).to_dict()  # fields added since: defaults
    return cast(Record, record)


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def make_record(
    cell: Cell,
    status: str,
    reason: str | None = None,
    metrics: dict[str, Any] | None = None,
    env: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A record dict for ``cell`` (validated)."""
    record = {
        "schema_version": SCHEMA_VERSION,
        "key": cell.key(),
        "status": status,
        "reason": reason,
        "cell": cell.to_dict(),
        "metrics": metrics or {},
        "env": env or {},
        **extra,
    }
    validate_record(record)
    return record


def validate_record(record: dict[str, Any]) -> None:
    """Raise ``ValueError`` if ``record`` does not follow the schema."""
    missing = [k for k in REQUIRED_KEYS if k not in record]
    if missing:
        raise ValueError(f"record lacks key(s): {', '.join(missing)}")
    if record["schema_version"] != SCHEMA_VERSION:
        raise ValueError(f"record schema_version {record['schema_version']} != {SCHEMA_VERSION}")
    if record["status"] not in STATUSES:
        raise ValueError(f"record status {record['status']!r} not in {STATUSES}")
    if record["status"] != "ok" and not record["reason"]:
        raise ValueError("a record that is not ok needs a reason")
    cell = Cell.from_dict(record["cell"])
    if cell.key() != record["key"]:
        raise ValueError("record key does not match the hash of its cell")
    top1 = record["metrics"].get("test_top1")
    if top1 is not None and not 0.0 <= top1 <= 1.0:
        raise ValueError(f"test_top1 must be in [0, 1], got {top1}")


def record_path(out_dir: str | os.PathLike, cell: Cell) -> Path:
    return Path(out_dir) / f"{cell.key()}.json"


def write_record(record: dict[str, Any], out_dir: str | os.PathLike) -> Path:
    """Write atomically: a temporary file in the same folder, then ``os.replace``."""
    record = _finite(record)
    validate_record(record)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{record['key']}.json"
    return write_atomically(
        path, lambda fh: json.dump(record, fh, indent=1, sort_keys=True,
                                   default=_json_default, allow_nan=False),
        prefix=f".{record['key']}.")


def _finite(value: Any) -> Any:
    """Replace NaN/inf (a diverged loss) by ``None`` so the file is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_record(path: str | os.PathLike) -> Record:
    """The record in ``path``, validated and upgraded (:func:`upgrade`)."""
    with open(path) as fh:
        record = json.load(fh)
    validate_record(record)
    return upgrade(record)


def load_records(out_dir: str | os.PathLike) -> tuple[list[Record], list[str]]:
    """All valid records under ``out_dir`` and a list of problems with the others."""
    records: list[Record] = []
    problems: list[str] = []
    for path in sorted(Path(out_dir).glob("*.json")):
        try:
            records.append(read_record(path))
        except (OSError, ValueError, TypeError) as exc:
            problems.append(f"{path.name}: {exc}")
    return records, problems


def has_ok_record(out_dir: str | os.PathLike, cell: Cell) -> bool:
    path = record_path(out_dir, cell)
    if not path.exists():
        return False
    try:
        return read_record(path)["status"] == "ok"
    except (OSError, ValueError, TypeError):
        return False

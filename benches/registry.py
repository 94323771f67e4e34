"""A small name → class registry with entry-point discovery (the timm/torchvision pattern).

Methods, datasets, architectures and libraries each keep one :class:`Registry`. Built-in entries
register when their module is imported; outside packages add entries through the entry-point
group given to the registry (``[project.entry-points."benches.methods"]`` in their pyproject).
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(LookupError):
    """A name that no registry entry has; the message lists the known names."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.kind, self.name, self.known = kind, name, sorted(known)
        super().__init__(f"unknown {kind} {name!r} (known: {', '.join(self.known) or 'none'})")

    def __str__(self) -> str:
        return self.args[0]


class Registry(Generic[T]):
    """Entries by name. ``builtins`` are modules imported on first use to register themselves."""

    def __init__(self, kind: str, group: str, builtins: Iterable[str] = ()) -> None:
        self.kind, self.group = kind, group
        self._builtins = tuple(builtins)
        self._entries: dict[str, T] = {}
        self._loaded = False
        self.load_errors: dict[str, str] = {}

    def register(self, obj: T | None = None, *, name: str | None = None) -> T | Callable[[T], T]:
        """Register ``obj`` under ``name`` (default: ``obj.name``); usable as a decorator."""

        def add(entry: T) -> T:
            key = name or getattr(entry, "name", None)
            if not key:
                raise ValueError(f"a {self.kind} needs a name to be registered")
            if key in self._entries and self._entries[key] is not entry:
                raise ValueError(f"{self.kind} {key!r} is already registered")
            self._entries[key] = entry
            return entry

        return add if obj is None else add(obj)

    def unregister(self, name: str) -> None:
        """Remove the entry called ``name`` (no error if there is none)."""
        self._entries.pop(name, None)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self._builtins:
            importlib.import_module(module)
        for ep in importlib.metadata.entry_points(group=self.group):
            try:
                entry = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the suite
                self.load_errors[ep.name] = f"{type(exc).__name__}: {exc}"
                continue
            if ep.name not in self._entries:
                self.register(entry, name=getattr(entry, "name", None) or ep.name)

    def get(self, name: str) -> T:
        """The entry called ``name``; :class:`UnknownNameError` if there is none."""
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._entries) from None

    def names(self, pattern: str | None = None) -> list[str]:
        """Registered names, sorted; only those matching ``pattern`` (shell wildcards:
        ``'sltt*'``, as timm's ``list_models``) when given."""
        self._load()
        return sorted(n for n in self._entries
                      if pattern is None or fnmatch.fnmatchcase(n, pattern))

    def expand(self, patterns: Iterable[str]) -> list[str]:
        """Names and wildcard patterns → the names they stand for, in order, each once (a plain
        name is kept as given); a pattern that matches nothing is an
        :class:`UnknownNameError`."""
        found: list[str] = []
        for pattern in patterns:
            matched = self.names(pattern) if any(c in pattern for c in "*?[") else [pattern]
            if not matched:
                raise UnknownNameError(self.kind, pattern, self._entries)
            found += [name for name in matched if name not in found]
        return found

    def items(self) -> list[tuple[str, T]]:
        self._load()
        return sorted(self._entries.items())

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

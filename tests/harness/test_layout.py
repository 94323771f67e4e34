"""The harness's floor plan holds: no import cycle among ``benches`` modules, no stage importing
one after it on the data path, and ``methods`` / ``datasets`` importing only the kernel.

Imports are read from the source (every ``import`` statement, also those inside functions), so a
lazy import that would close a cycle fails here too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {  # stage → stages it may import (besides itself)
    "kernel": set(),
    "measure": {"kernel"},
    "report": {"kernel"},
    "site": {"kernel", "report"},
    "plan": {"kernel", "worker"},  # the mode registry (benches.worker.modes)
    "worker": {"kernel", "measure"},
    "run": {"kernel", "measure", "worker", "plan"},
    "commands": {"kernel", "measure", "report", "site", "plan", "worker", "run"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, modules: set[str]) -> set[str]:
    """The modules among ``modules`` that ``path`` imports (relative imports resolved; ``from
    package import submodule`` is an import of the submodule, not of the package)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            subs = {f"{module}.{alias.name}" for alias in node.names} & modules
            found.update(subs)
            if len(subs) < len(node.names):  # some names come from the module itself
                found.add(module)
    return (found & modules) - {name}


def graph(package: str) -> dict[str, set[str]]:
    """Module of ``package`` → the modules of ``benches`` it imports."""
    benches = {module_name(p) for p in (ROOT / "benches").rglob("*.py")}
    return {module_name(p): imported(p, benches) for p in (ROOT / package).rglob("*.py")}


def stage(module: str) -> str:
    parts = module.split(".")
    if parts[1:] == ["__main__"]:
        return "commands"
    return parts[1] if len(parts) > 2 or module.replace(".", "/") + "/__init__.py" in {
        str(p.relative_to(ROOT)) for p in (ROOT / "benches").glob("*/__init__.py")} else "kernel"


def upward(edges: dict[str, set[str]]) -> list[str]:
    """The imports of one stage by a stage it may not import."""
    return [f"{m} ({stage(m)}) imports {d} ({stage(d)})" for m, deps in sorted(edges.items())
            for d in sorted(deps) if stage(d) != stage(m) and stage(d) not in ALLOWED[stage(m)]]


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == 1:
                return path + [node, dep]
            if dep not in state and (cycle := visit(dep, path + [node])):
                return cycle
        state[node] = 2
        return None

    for module in sorted(edges):
        if module not in state and (cycle := visit(module, [])):
            return cycle
    return None


def test_stages_import_only_earlier_stages():
    wrong = upward(graph("benches"))
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    cycle = find_cycle(graph("benches"))
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_methods_and_datasets_import_only_the_kernel():
    for package in ("methods", "datasets"):
        wrong = [f"{m} imports {d}" for m, deps in graph(package).items() for d in deps
                 if stage(d) != "kernel"]
        assert not wrong, "\n".join(wrong)


def test_the_checks_see_a_cycle_and_an_upward_import(tmp_path, monkeypatch):
    """The detectors themselves, on a made-up tree: a report module that imports the runner
    (upward) and two modules that import each other, one lazily (a cycle)."""
    report, run = tmp_path / "benches" / "report", tmp_path / "benches" / "run"
    for folder in (report, run):
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
    (run / "runner.py").write_text("")
    (report / "a.py").write_text("from benches.report import b\nfrom benches.run import runner\n")
    (report / "b.py").write_text("def f():\n    from . import a\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    edges = graph("benches")
    assert edges["benches.report.a"] == {"benches.report.b", "benches.run.runner"}
    assert upward(edges) == ["benches.report.a (report) imports benches.run.runner (run)"]
    assert find_cycle(edges) == ["benches.report.a", "benches.report.b", "benches.report.a"]


def test_the_parser_loads_no_heavy_package():
    """``benches --help`` must answer at once, even before the heavy dependencies import."""
    import subprocess
    import sys

    code = ("import sys; from benches.commands import build_parser; build_parser(); "
            "print(sorted({'torch', 'pandas', 'scipy', 'numpy'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "[]"

"""The documentation: README stays short and points into docs/; the MkDocs site builds strictly,
with a command-line reference that lists every command of the parser."""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"


def _hook():
    """docs/hooks/generate.py, the one place that imports the parser builder."""
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "hooks" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_is_at_most_15_kib():
    assert README.stat().st_size <= 15 * 1024


def test_readme_links_to_docs_that_exist():
    links = re.findall(r"\]\((docs/[^)#]+)", README.read_text())
    assert links, "README links to no docs page"
    for link in links:
        assert (REPO / link).is_file(), link
    assert "../shared" not in README.read_text()


def test_readme_leaderboard_tables_match_the_docs():
    """The accuracy tables README shows are the temporal-task page's, figure for figure."""
    readme, docs = README.read_text(), (DOCS / "datasets.md").read_text()
    tables = re.findall(r"(?:^\|.*\|\n)+", readme, re.M)
    accuracy = [t for t in tables if "±" in t]
    assert len(accuracy) == 2
    for table in accuracy:
        assert table in docs


def test_cli_reference_covers_every_command():
    hook = _hook()
    text = hook.cli_reference()
    parser = hook.build_parser()
    commands = hook.subcommands(parser)
    assert set(commands) >= {"run", "list", "show", "site", "compare"}
    for name, sub in commands.items():
        assert f"### `benches {name}`" in text
        section = text.split(f"### `benches {name}`", 1)[1].split("\n### ", 1)[0]
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for option in action.option_strings or [action.metavar or action.dest]:
                assert f"| `{option}" in section or f", {option}" in section, (name, option)


def test_mkdocs_build_strict(tmp_path: Path):
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[test]')")
    pytest.importorskip("material", reason="mkdocs-material is not installed")
    out = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "--config-file", str(REPO / "mkdocs.yml"), "--site-dir", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cli = (out / "cli.html").read_text()
    for name in _hook().subcommands(_hook().build_parser()):
        assert f'id="{name}"' in cli, name
        assert f"benches {name}" in cli, name
    records = (out / "records.html").read_text()
    assert "activation_bytes" in records and "Schema reference" in records
    assert (out / "index.html").is_file()
